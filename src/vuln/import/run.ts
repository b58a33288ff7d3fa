/**
 * `db import` as a library call: reads every named input (files, directories, zip archives), tells each
 * document's kind by its content, turns it into advisories and stores them, all in one transaction of the
 * advisory database — so an import that fails or is killed leaves the previous contents as they were.
 *
 * Documents are read and stored one at a time (a directory of 200,000 OSV files never sits in memory); the one
 * exception is a Debian tracker dump, which is a single JSON document. Problems with one file or one record are
 * issues in the summary, and the import goes on.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { HyperwardError, isHyperwardError } from '../../errors.js';
import { isJsonObject, parseJsonGuarded } from '../../json-guard.js';
import { AdvisoryDb, type ImportTransaction, verdictFilePath } from '../db/store.js';
import type { CveRecord } from '../cpe-match.js';
import type { Advisory, AdvisoryOrigin, ImportIssue, ImportSummary } from '../types.js';
import { alpineSecdbAdvisories, looksLikeAlpineSecdb } from './alpine-secdb.js';
import { debianTrackerAdvisories, looksLikeDebianTracker } from './debian-tracker.js';
import { looksLikeNvdCve, looksLikeNvdResponse, nvdRecords } from './nvd.js';
import { type IssueSink, looksLikeOsvRecord, parseOsvRecord } from './osv.js';
import { DEFAULT_SOURCE_LIMITS, readInput, type SourceDocument, type SourceLimits } from './sources.js';

/** Issues kept in a summary; past that they are counted in one last issue. */
export const MAX_ISSUES = 10_000;

/** Progress of an import, reported after each document and every 1,000 records. */
export interface ImportProgress {
  /** The document being read. */
  file: string;
  /** Documents read so far. */
  files: number;
  /** Advisories stored (added, updated or unchanged) so far. */
  records: number;
}

export interface ImportOptions {
  onProgress?: (p: ImportProgress) => void;
  /** The time of the import (stamped on sources, and as `modified` of feeds without dates). */
  now?: Date;
  /** Caps on what the inputs may make the importer read. */
  limits?: Partial<SourceLimits>;
  /** SQLite page cache for the import, in KiB (default 128 MiB). */
  cacheKiB?: number;
}

/** The kinds of document the importer tells apart by content. */
export type DocumentKind = 'osv' | 'osv-list' | 'debian-tracker' | 'alpine-secdb' | 'nvd';

/**
 * The kind of one parsed JSON document: an OSV record (an object with `id` and `modified`), a list of them, an
 * Alpine secdb file (`packages` and `distroversion`), a Debian tracker dump (package → issue → releases), or NVD
 * CVE JSON 2.0 (an API response or yearly feed with `vulnerabilities[].cve`, or one `cve` object: a CVE `id` with
 * `lastModified`).
 */
export function detectKind(v: unknown): DocumentKind | undefined {
  if (Array.isArray(v)) return v.length === 0 || looksLikeOsvRecord(v[0]) ? 'osv-list' : undefined;
  if (looksLikeNvdCve(v) || looksLikeNvdResponse(v)) return 'nvd';
  if (looksLikeOsvRecord(v)) return 'osv';
  if (looksLikeAlpineSecdb(v)) return 'alpine-secdb';
  if (looksLikeDebianTracker(v)) return 'debian-tracker';
  return undefined;
}

/** A HyperwardError's message without the `file: ` prefix the issue already carries. */
function issueMessage(e: HyperwardError, file: string): string {
  return e.message.startsWith(`${file}: `) ? e.message.slice(file.length + 2) : e.message;
}

/** Collects issues up to `MAX_ISSUES`, then counts. */
class IssueLog implements IssueSink {
  readonly list: ImportIssue[] = [];
  private dropped = 0;

  push(i: ImportIssue): void {
    if (this.list.length < MAX_ISSUES) this.list.push(i);
    else this.dropped++;
  }

  /** The kept issues, and one more that counts those not kept. */
  finish(): ImportIssue[] {
    if (this.dropped > 0) this.list.push({ file: '-', message: `${this.dropped} more issues not listed` });
    return this.list;
  }
}

/**
 * Imports advisories from `inputs` into the database at `dbPath` (created when missing).
 *
 * Re-importing is idempotent and incremental: a record whose content is unchanged is counted `unchanged`; a
 * changed one with a `modified` time not older than the stored one replaces it (`updated`).
 *
 * @throws HyperwardError `E_USAGE` without inputs, `E_NOT_FOUND` for an input that does not exist (checked before
 * the database is touched), `E_IO` for a database that cannot be opened or written; the database is then left as
 * it was.
 *
 * @example
 * const s = await importAdvisories('advisories.db', ['Debian.zip', 'debian-tracker.json']);
 * console.log(s.added, s.updated, s.unchanged, s.issues.length);
 */
export async function importAdvisories(
  dbPath: string,
  inputs: readonly string[],
  opts: ImportOptions = {},
): Promise<ImportSummary> {
  if (inputs.length === 0)
    throw new HyperwardError('E_USAGE', 'nothing to import: name files, directories or zip archives');
  const limits: SourceLimits = { ...DEFAULT_SOURCE_LIMITS, ...opts.limits };
  const now = (opts.now ?? new Date()).toISOString();
  for (const input of inputs) {
    if (!existsSync(input))
      throw new HyperwardError('E_NOT_FOUND', 'no such file or directory', { file: input });
  }

  const issues = new IssueLog();
  const summary: ImportSummary = { sources: [], added: 0, updated: 0, unchanged: 0, ignored: 0, issues: [] };
  const db = AdvisoryDb.open(dbPath);
  let tx: ImportTransaction | undefined;
  try {
    tx = db.beginImport(now, opts.cacheKiB === undefined ? {} : { cacheKiB: opts.cacheKiB });
    let files = 0;
    let records = 0;
    for (const input of inputs) {
      const perKind = new Map<AdvisoryOrigin, number>();
      const store = (adv: Advisory): void => {
        const outcome = tx!.put(adv);
        summary[outcome]++;
        perKind.set(adv.origin, (perKind.get(adv.origin) ?? 0) + 1);
        if (++records % 1000 === 0) opts.onProgress?.({ file: input, files, records });
      };
      const storeCve = (rec: CveRecord): void => {
        const outcome = tx!.putCve(rec);
        summary[outcome]++;
        perKind.set('nvd', (perKind.get('nvd') ?? 0) + 1);
        if (++records % 1000 === 0) opts.onProgress?.({ file: input, files, records });
      };
      for await (const doc of readInput(input, issues, limits)) {
        files++;
        importDocument(doc, now, issues, store, () => summary.ignored++, storeCve);
        opts.onProgress?.({ file: doc.name, files, records });
      }
      for (const [kind, n] of perKind) {
        const path = resolve(input);
        tx.source(path, kind, n);
        summary.sources.push({ path, kind, records: n });
      }
    }
    const problem = tx.commit();
    if (problem !== undefined) issues.push({ file: verdictFilePath(dbPath), message: problem });
  } catch (e) {
    tx?.rollback();
    throw e;
  } finally {
    db.close();
  }
  summary.issues = issues.finish();
  return summary;
}

/** Parses one document, tells its kind and stores its advisories; problems go to `issues`. */
function importDocument(
  doc: SourceDocument,
  now: string,
  issues: IssueSink,
  store: (a: Advisory) => void,
  ignored: () => void,
  storeCve: (r: CveRecord) => void,
): void {
  const file = doc.name;
  let value: unknown;
  try {
    value = parseJsonGuarded(doc.text, { file });
  } catch (e) {
    if (!isHyperwardError(e)) throw e;
    issues.push({ file, message: issueMessage(e, file) });
    return;
  }
  doc.text = ''; // the parsed value is all that is needed now
  const osv = (v: unknown, record: string): void => {
    try {
      const r = parseOsvRecord(v, file);
      for (const i of r.issues) issues.push(i);
      if (r.advisory) store(r.advisory);
      else if (r.ignored) ignored();
    } catch (e) {
      if (!isHyperwardError(e)) throw e;
      const id = isJsonObject(v) && typeof v.id === 'string' ? v.id.slice(0, 256) : record;
      issues.push({ file, record: id, message: issueMessage(e, file) });
    }
  };
  switch (detectKind(value)) {
    case 'osv':
      osv(value, '');
      return;
    case 'osv-list':
      (value as unknown[]).forEach((v, i) => osv(v, `[${i}]`));
      return;
    case 'alpine-secdb':
      for (const a of alpineSecdbAdvisories(value as Record<string, unknown>, file, now, issues)) store(a);
      return;
    case 'debian-tracker':
      for (const a of debianTrackerAdvisories(value as Record<string, unknown>, file, now, issues)) store(a);
      return;
    case 'nvd':
      for (const r of nvdRecords(value, file, issues)) storeCve(r);
      return;
    default:
      issues.push({
        file,
        message:
          'not an OSV record, a list of them, a Debian tracker dump, an Alpine secdb file or NVD CVE JSON 2.0',
      });
  }
}
