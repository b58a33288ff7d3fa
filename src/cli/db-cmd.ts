/**
 * `hyperward db import` and `hyperward db info`: the faces of the advisory database. They parse nothing of their
 * own; they call `importAdvisories` and `AdvisoryDb.info` and print.
 */
import { isHyperwardError } from '../errors.js';
import { columns } from '../report/table.js';
import { AdvisoryDb, type AdvisoryDbInfo } from '../vuln/db/store.js';
import { importAdvisories } from '../vuln/import/run.js';
import type { ImportIssue, ImportSummary } from '../vuln/types.js';
import { EXIT } from './exit.js';
import { say } from './say.js';

/** Issues printed on stderr after an import; the rest are counted (all are in `--format json`). */
const SHOWN_ISSUES = 20;

/** Text from files and feeds, safe to print on a terminal: control characters shown as `?`. */
function printable(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
}

/** `printable` line by line, keeping the line breaks. */
function printableLines(text: string): string {
  return text.split('\n').map(printable).join('\n');
}

function issueLine(i: ImportIssue): string {
  return printable(`${i.file}${i.record ? ` [${i.record}]` : ''}: ${i.message}`);
}

function fail(e: unknown): number {
  if (!isHyperwardError(e)) throw e;
  say(`${e.message} [${e.code}]`);
  return e.code === 'E_INTERNAL' ? EXIT.internal : EXIT.usage;
}

/** A one-line progress counter on stderr, only on a terminal. */
function progressLine(quiet: boolean): { update(files: number, records: number): void; done(): void } {
  const on = !quiet && process.stderr.isTTY === true;
  let last = 0;
  return {
    update(files, records) {
      const now = Date.now();
      if (!on || now - last < 100) return;
      last = now;
      process.stderr.write(`\rimporting: ${files} files, ${records} advisories`);
    },
    done() {
      if (on) process.stderr.write(`\r${' '.repeat(Math.max(0, (process.stderr.columns ?? 80) - 1))}\r`);
    },
  };
}

function importTable(s: ImportSummary, db: string): string {
  const lines = [
    `Database: ${db}`,
    `Added ${s.added}, updated ${s.updated}, unchanged ${s.unchanged}; ignored ${s.ignored} (no known distribution); ${s.issues.length} ${s.issues.length === 1 ? 'issue' : 'issues'}`,
  ];
  if (s.sources.length > 0) {
    lines.push(
      '',
      columns([['KIND', 'RECORDS', 'SOURCE'], ...s.sources.map((x) => [x.kind, String(x.records), x.path])]),
    );
  }
  return printableLines(lines.join('\n')) + '\n';
}

/**
 * `db import PATH…`: loads advisories and prints a summary (table or JSON) on stdout. Per-record issues do not
 * fail the import: their count and the first ones go to stderr.
 * @returns 0 when the import committed; 2 without paths, for a path that does not exist, or when the database
 * cannot be opened or written (it is then left as it was).
 */
export async function runDbImport(
  paths: string[],
  o: { db?: string; quiet?: boolean; format?: 'table' | 'json' },
): Promise<number> {
  const db = o.db ?? AdvisoryDb.defaultPath();
  const progress = progressLine(o.quiet === true);
  let summary: ImportSummary;
  try {
    summary = await importAdvisories(db, paths, { onProgress: (p) => progress.update(p.files, p.records) });
  } catch (e) {
    progress.done();
    return fail(e);
  }
  progress.done();
  if (o.format === 'json') process.stdout.write(JSON.stringify({ database: db, ...summary }, null, 2) + '\n');
  else process.stdout.write(importTable(summary, db));
  if (summary.issues.length > 0) {
    const n = summary.issues.length;
    const head = summary.issues.slice(0, SHOWN_ISSUES).map((i) => `  ${issueLine(i)}\n`);
    process.stderr.write(
      `hyperward: ${n} ${n === 1 ? 'issue' : 'issues'} (records or files skipped, the rest imported):\n${head.join('')}` +
        (n > SHOWN_ISSUES ? `  … and ${n - SHOWN_ISSUES} more (all of them with --format json)\n` : ''),
    );
  }
  return EXIT.ok;
}

/** Whole days (one decimal) from `iso` to `now`. */
function ageDays(iso: string, now: number): number {
  return Math.round(((now - Date.parse(iso)) / 86_400_000) * 10) / 10;
}

const VERDICT_STATES: Record<AdvisoryDbInfo['verdicts']['state'], string> = {
  current: 'current',
  missing: 'missing: matching is slower until the next `hyperward db import` writes it',
  stale: 'out of date: matching is slower until the next `hyperward db import` writes it',
};

function infoTable(i: AdvisoryDbInfo, now: number): string {
  const last =
    i.lastImport === undefined ? 'never' : `${i.lastImport} (${ageDays(i.lastImport, now)} days ago)`;
  const origins = Object.entries(i.counts)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
  const lines = [
    columns([
      ['Database', i.path],
      ['Schema', String(i.schemaVersion)],
      ['Last import', last],
      ['Advisories', `${i.advisories} (${origins}); ${i.withdrawn} withdrawn`],
      ['Affected entries', String(i.affectedRows)],
      ['Verdicts', `${i.verdicts.path} (${VERDICT_STATES[i.verdicts.state]})`],
    ]),
    '',
    'Sources',
    i.sources.length === 0
      ? '  none'
      : columns([
          ['  KIND', 'RECORDS', 'IMPORTED', 'AGE (DAYS)', 'PATH'],
          ...i.sources.map((s) => [
            '  ' + s.kind,
            String(s.records),
            s.importedAt,
            String(ageDays(s.importedAt, now)),
            s.path,
          ]),
        ]),
    '',
    'Distributions',
    i.distros.length === 0
      ? '  none'
      : columns([
          ['  DISTRO', 'ADVISORIES'],
          ...i.distros.map((d) => ['  ' + d.distro, String(d.advisories)]),
        ]),
  ];
  return printableLines(lines.join('\n')) + '\n';
}

/**
 * `db info`: the database's path, schema, last import and its age, sources, and counts per feed and per
 * distribution release.
 * @returns 0, or 2 when there is no database or it cannot be read.
 */
export function runDbInfo(o: { db?: string; format?: 'table' | 'json' }): number {
  const path = o.db ?? AdvisoryDb.defaultPath();
  let info: AdvisoryDbInfo;
  try {
    const db = AdvisoryDb.open(path, { readonly: true });
    try {
      info = db.info();
    } finally {
      db.close();
    }
  } catch (e) {
    return fail(e);
  }
  const now = Date.now();
  if (o.format === 'json') {
    const age = info.lastImport === undefined ? undefined : ageDays(info.lastImport, now);
    process.stdout.write(JSON.stringify({ ...info, ageDays: age }, null, 2) + '\n');
  } else {
    process.stdout.write(infoTable(info, now));
  }
  return EXIT.ok;
}
