import type { FormatName, Writer } from './types.js';

/** Loads only the writer asked for, so the CLI pays for no other format at start-up. */
export async function loadWriter(format: FormatName): Promise<Writer> {
  switch (format) {
    case 'table':
      return (await import('./table.js')).tableWriter;
    case 'json':
      return (await import('./json.js')).jsonWriter;
    case 'cyclonedx':
      return (await import('./cyclonedx.js')).cyclonedxWriter;
    case 'spdx':
      return (await import('./spdx.js')).spdxWriter;
    case 'sarif':
      return (await import('./sarif.js')).sarifWriter;
    case 'ocsf':
      return (await import('./ocsf.js')).ocsfWriter;
    case 'junit':
      return (await import('./junit.js')).junitWriter;
    case 'html':
      return (await import('./html.js')).htmlWriter;
  }
}
