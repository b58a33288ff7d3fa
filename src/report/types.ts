import type { ScanReport } from '../model/report.js';

/** One output format. Every writer renders the same report; the CLI picks one by name. */
export interface Writer {
  readonly format: string;
  /** File extension for `--output` defaults and docs. */
  readonly extension: string;
  write(report: ScanReport): string;
}

export const FORMATS = ['table', 'json', 'cyclonedx', 'spdx'] as const;
export type FormatName = (typeof FORMATS)[number];
