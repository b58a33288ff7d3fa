import { closeSync, openSync, writeFileSync, writeSync } from 'node:fs';
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

/** Characters handed on at once by `batched`: the pieces of a streamed report are a few KiB each. */
const BATCH = 1 << 18;

/** Pieces joined into strings of about `BATCH` characters before they are handed to `sink`. */
function batched(sink: (text: string) => void): { add: (piece: string) => void; flush: () => void } {
  let parts: string[] = [];
  let size = 0;
  const flush = (): void => {
    if (parts.length === 0) return;
    sink(parts.length === 1 ? parts[0]! : parts.join(''));
    parts = [];
    size = 0;
  };
  return {
    add: (piece) => {
      parts.push(piece);
      size += piece.length;
      if (size >= BATCH) flush();
    },
    flush,
  };
}

/**
 * Writes texts to `path`, created or truncated when the first text comes (so a writer that fails before it says
 * anything leaves the file as it was), each text encoded into one buffer that is reused: a batch of `BATCH` UTF-16
 * code units is at most 3 bytes a unit in UTF-8.
 */
class FileSink {
  private fd: number | undefined;
  private scratch: Buffer | undefined;

  constructor(private readonly path: string) {}

  readonly write = (text: string): void => {
    const fd = (this.fd ??= openSync(this.path, 'w'));
    const room = 3 * text.length;
    const buf =
      room <= 6 * BATCH ? (this.scratch ??= Buffer.allocUnsafe(6 * BATCH)) : Buffer.allocUnsafe(room);
    const n = buf.write(text);
    for (let done = 0; done < n;) done += writeSync(fd, buf, done, n - done);
  };

  /** Creates the file if no text came (an empty output is still the output). */
  finish(): void {
    this.fd ??= openSync(this.path, 'w');
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

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
  if (writer.stream) {
    // In pieces: a large report is never one string (`json-text.ts`).
    const file = o.output !== undefined ? new FileSink(o.output) : undefined;
    try {
      const batch = batched(file ? file.write : (text) => void process.stdout.write(text));
      writer.stream(report, wo, batch.add);
      batch.flush();
      file?.finish();
    } finally {
      file?.close();
    }
  } else {
    const text = writer.write(report, wo);
    if (o.output) writeFileSync(o.output, text);
    else process.stdout.write(text);
  }
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
