import type { Writer } from './types.js';

/** The report as it is in memory: the library's own model, stable field names. */
export const jsonWriter: Writer = {
  format: 'json',
  extension: 'json',
  write: (report) => JSON.stringify(report, null, 2) + '\n',
};
