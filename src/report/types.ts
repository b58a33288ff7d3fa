import type { ScanReport } from '../model/report.js';

/** One output format. Every writer renders the same report; the CLI picks one by name. */
export interface Writer {
  readonly format: string;
  /** File extension for `--output` defaults and docs. */
  readonly extension: string;
  write(report: ScanReport, opts?: WriteOptions): string;
  /**
   * The same text as `write`, handed to `out` in pieces (`json-text.ts`), for output too large to hold as one
   * string. Writers of JSON documents have it; the CLI prefers it.
   */
  stream?(report: ScanReport, opts: WriteOptions, out: (piece: string) => void): void;
}

/** What a writer may use beyond the report itself. */
export interface WriteOptions {
  /** Why a check matters (its catalogue rationale); findings do not carry it. */
  rationale?: (checkId: string) => string | undefined;
}

export const FORMATS = ['table', 'json', 'cyclonedx', 'spdx', 'sarif', 'ocsf', 'junit', 'html'] as const;
export type FormatName = (typeof FORMATS)[number];
