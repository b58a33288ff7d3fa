/** CSV records through csv-parse, with caps and errors as `HyperwardError`. Pure over its input. */
import { CsvError } from 'csv-parse';
import { parse } from 'csv-parse/sync';
import { HyperwardError } from '../../errors.js';

/** One CSV record and the 1-based line it starts on. */
export interface CsvRecord {
  fields: string[];
  line: number;
}

export interface CsvOptions {
  /** Layer named in errors, e.g. `SCG catalogue CSV`. */
  layer: string;
  /** Most records returned; more is E_LIMIT. */
  maxRecords: number;
  /** Largest single record in characters; more is E_LIMIT. */
  maxRecordChars: number;
  /** First line to read (1-based), e.g. 2 to skip PowerShell's `#TYPE` line. */
  fromLine?: number;
  delimiter?: string;
  /** Allow records with fewer or more fields than the first. */
  relaxColumnCount?: boolean;
}

/**
 * Parses CSV text (a leading byte-order mark is dropped; quoted fields may span lines). Malformed quoting
 * becomes E_UNSUPPORTED_FORMAT naming the file and line; caps become E_LIMIT.
 */
export function parseCsv(text: string, file: string, opts: CsvOptions): CsvRecord[] {
  let rows: Array<{ record: string[]; info: { lines: number } }>;
  try {
    rows = parse(text, {
      bom: true,
      info: true,
      skip_empty_lines: true,
      relax_column_count: opts.relaxColumnCount ?? false,
      max_record_size: opts.maxRecordChars,
      from_line: opts.fromLine ?? 1,
      delimiter: opts.delimiter ?? ',',
      to: opts.maxRecords + 1,
    }) as unknown as Array<{ record: string[]; info: { lines: number } }>;
  } catch (e) {
    if (e instanceof CsvError) {
      const line = typeof e['lines'] === 'number' ? (e['lines'] as number) : undefined;
      const code = e.code === 'CSV_MAX_RECORD_SIZE' ? 'E_LIMIT' : 'E_UNSUPPORTED_FORMAT';
      throw new HyperwardError(
        code,
        `malformed CSV: ${e.message}`,
        { file, layer: line !== undefined ? `${opts.layer} line ${line}` : opts.layer },
        { cause: e },
      );
    }
    throw new HyperwardError('E_UNSUPPORTED_FORMAT', `CSV could not be parsed: ${String(e)}`, {
      file,
      layer: opts.layer,
    });
  }
  if (rows.length > opts.maxRecords) {
    throw new HyperwardError('E_LIMIT', `more than ${opts.maxRecords} CSV records`, {
      file,
      layer: opts.layer,
    });
  }
  // csv-parse reports the line a record ends on; a quoted field may span lines.
  const breaks = (fields: string[]): number => fields.reduce((n, f) => n + (f.match(/\n/g)?.length ?? 0), 0);
  return rows.map((r) => ({ fields: r.record, line: Math.max(1, r.info.lines - breaks(r.record)) }));
}
