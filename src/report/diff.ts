/**
 * `hyperward diff OLD.json NEW.json`: compares two JSON reports by stable finding id. A finding is open when it
 * failed or its check could not decide (`unknown`); `new` lists findings open now that were not open before,
 * `fixed` those open before that now pass, are waived, are suppressed by a VEX statement or are gone from a target
 * that was assessed again,
 * `unchanged` those open in both, `notAssessed` those whose target is missing from, or unreadable in, NEW.
 */
import { HyperwardError } from '../errors.js';
import type { Finding } from '../model/finding.js';
import type { ScanReport } from '../model/report.js';
import { STATUSES, compareFindings, isOpen } from './common.js';
import { columns } from './table.js';

export interface ReportDiff {
  /** Open in NEW, not open in OLD (absent, passing, waived or suppressed there). The NEW finding. */
  new: Finding[];
  /** Open in OLD, and passing, waived, suppressed or absent in NEW. The OLD finding: what was wrong. */
  fixed: Finding[];
  /** Open in both. The NEW finding. */
  unchanged: Finding[];
  /**
   * Open in OLD and absent from NEW because their target was not assessed there (missing from NEW, or it could
   * not be read): not fixed, only not looked at. The OLD finding.
   */
  notAssessed: Finding[];
}

/** One finding per id; when a report holds an id twice, the open one wins so nothing open is hidden. */
function byId(report: ScanReport): Map<string, Finding> {
  const m = new Map<string, Finding>();
  for (const r of report.results) {
    for (const f of r.findings) {
      const prev = m.get(f.id);
      if (!prev || (!isOpen(prev) && isOpen(f))) m.set(f.id, f);
    }
  }
  return m;
}

/** Compares two reports by finding id. Each list is sorted by status, severity, check and resource. */
export function diffReports(oldReport: ScanReport, newReport: ScanReport): ReportDiff {
  const before = byId(oldReport);
  const after = byId(newReport);
  const out: ReportDiff = { new: [], fixed: [], unchanged: [], notAssessed: [] };
  const assessed = new Set(newReport.results.filter((r) => r.error === undefined).map((r) => r.target));
  const targetOf = new Map<string, string>();
  for (const r of oldReport.results) for (const f of r.findings) targetOf.set(f.id, r.target);
  for (const [id, f] of after) {
    if (!isOpen(f)) continue;
    const was = before.get(id);
    if (was && isOpen(was)) out.unchanged.push(f);
    else out.new.push(f);
  }
  for (const [id, f] of before) {
    if (!isOpen(f)) continue;
    const now = after.get(id);
    if (!now && !assessed.has(targetOf.get(id) ?? '')) out.notAssessed.push(f);
    else if (!now || !isOpen(now)) out.fixed.push(f);
  }
  out.notAssessed.sort(compareFindings);
  out.new.sort(compareFindings);
  out.fixed.sort(compareFindings);
  out.unchanged.sort(compareFindings);
  return out;
}

/**
 * Checks that parsed JSON has the shape of a Hyperward JSON report, enough for `diffReports`: results with
 * findings that carry an id, a status, a severity, a check id and a resource. `file` names the input in errors.
 */
export function parseReport(json: unknown, file: string): ScanReport {
  const bad = (why: string) =>
    new HyperwardError('E_USAGE', `not a Hyperward JSON report (${why}); write one with --format json`, {
      file,
    });
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw bad('not a JSON object');
  const results = (json as { results?: unknown }).results;
  if (!Array.isArray(results)) throw bad('no "results" array');
  results.forEach((r: unknown, i) => {
    if (typeof r !== 'object' || r === null) throw bad(`results[${i}] is not an object`);
    const findings = (r as { findings?: unknown }).findings;
    if (!Array.isArray(findings)) throw bad(`results[${i}] has no "findings" array`);
    findings.forEach((f: unknown, j) => {
      const x = f as Partial<Record<keyof Finding, unknown>> | null;
      const ok =
        typeof x === 'object' &&
        x !== null &&
        typeof x.id === 'string' &&
        typeof x.checkId === 'string' &&
        typeof x.severity === 'string' &&
        ['critical', 'high', 'medium', 'low', 'info'].includes(x.severity) &&
        typeof x.status === 'string' &&
        (STATUSES as readonly string[]).includes(x.status) &&
        typeof x.resource === 'object' &&
        x.resource !== null &&
        typeof (x.resource as { id?: unknown }).id === 'string';
      if (!ok) throw bad(`results[${i}].findings[${j}] is not a finding`);
    });
  });
  return json as ScanReport;
}

export type DiffFormat = 'table' | 'json';

/** Renders a diff for the terminal (`table`) or for tools (`json`, with counts in `summary`). */
export function renderDiff(diff: ReportDiff, format: DiffFormat): string {
  const summary = {
    new: diff.new.length,
    fixed: diff.fixed.length,
    unchanged: diff.unchanged.length,
    notAssessed: diff.notAssessed.length,
  };
  if (format === 'json') return JSON.stringify({ summary, ...diff }, null, 2) + '\n';
  const out: string[] = [];
  const section = (name: string, list: Finding[]) => {
    out.push(`${name} (${list.length})`);
    if (list.length === 0) {
      out.push('  none', '');
      return;
    }
    out.push(
      columns([
        ['SEVERITY', 'STATUS', 'CHECK', 'RESOURCE', 'MESSAGE'],
        ...list.map((f) => [
          f.severity.toUpperCase(),
          f.status,
          f.checkId,
          f.resource.id,
          oneLine(f.message),
        ]),
      ]),
      '',
    );
  };
  section('New', diff.new);
  section('Fixed', diff.fixed);
  section('Unchanged', diff.unchanged);
  if (diff.notAssessed.length > 0)
    section('Not assessed in the new report (target missing or unreadable)', diff.notAssessed);
  out.push(
    `${summary.new} new, ${summary.fixed} fixed, ${summary.unchanged} unchanged` +
      (summary.notAssessed > 0 ? `, ${summary.notAssessed} not assessed` : ''),
  );
  return out.join('\n') + '\n';
}

function oneLine(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f]+/g, ' ');
}
