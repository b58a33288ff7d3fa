import { writeFileSync } from 'node:fs';
import { atLeast, type Severity } from '../model/finding.js';
import type { ScanReport, ScanResult } from '../model/report.js';
import { loadWriter } from '../report/index.js';
import type { FormatName, WriteOptions } from '../report/types.js';
import { VERSION } from '../version.js';
import { EXIT } from './exit.js';
import { say } from './say.js';

/**
 * `--fail-on` counts failing findings, and the unknowns that mean part of a target could not be read at all (an
 * unreadable file or filesystem) — not a check's ordinary "cannot decide", which is reported but does not fail.
 */
const UNREAD =
  /^(hyperward\.unreadable|image\.filesystem-unreadable|image\.no-filesystem-found|image\.inspection-failed|appliance\.disk-unreadable)$/;

export function newReport(results: ScanResult[] = []): ScanReport {
  return { tool: { name: 'hyperward', version: VERSION }, createdAt: new Date().toISOString(), results };
}

export interface OutputOpts {
  format: FormatName;
  output?: string;
  failOn?: Severity;
  quiet?: boolean;
}

/**
 * Writes the report (stdout or `--output`) and returns the exit code: 2 when a target could not be read, 1 when a
 * failing (not waived) finding is at least `--fail-on`, else 0.
 */
export async function emit(report: ScanReport, o: OutputOpts, wo: WriteOptions = {}): Promise<number> {
  const writer = await loadWriter(o.format);
  const text = writer.write(report, wo);
  if (o.output) writeFileSync(o.output, text);
  else process.stdout.write(text);
  for (const r of report.results) {
    if (r.error && !o.quiet) say(`${r.error.message} [${r.error.code}]`);
  }
  if (report.results.some((r) => r.error)) return EXIT.usage;
  const failing = report.results.some((r) =>
    r.findings.some(
      (f) =>
        (f.status === 'fail' || (f.status === 'unknown' && UNREAD.test(f.checkId))) &&
        o.failOn &&
        atLeast(f.severity, o.failOn),
    ),
  );
  return failing ? EXIT.findings : EXIT.ok;
}
