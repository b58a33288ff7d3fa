import { writeJson } from './json-text.js';
import type { Writer } from './types.js';

/** The report as it is in memory: the library's own model, stable field names. */
export const jsonWriter: Writer = {
  format: 'json',
  extension: 'json',
  write: (report) => JSON.stringify(report, null, 2) + '\n',
  stream: (report, _opts, out) => {
    writeJson(report, out);
    out('\n');
  },
};
