import type { ScanReport, ScanResult } from '../model/report.js';
import { applianceIntegrity, applianceTitle, countByStatus } from './common.js';
import type { Writer } from './types.js';
import {
  advisoryDbText,
  compareVulnerabilities,
  countVulnerabilities,
  isVulnerability,
  vexReason,
  vulnerabilitySummary,
  type VulnerabilityFinding,
} from './vulnerability.js';

/** One table cell: control characters (line breaks, escapes from a hostile report) become spaces. */
function cell(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ');
}

/**
 * The status of a vulnerability for the table: `FAIL`, `WAIVED`..., and for a suppressed one the VEX statement's
 * status and justification.
 */
function vulnStatus(f: VulnerabilityFinding): string {
  const vex = f.vulnerability.vex;
  if (f.status === 'suppressed') return vex ? `SUPPRESSED: ${cell(vexReason(vex))}` : 'SUPPRESSED';
  return f.status.toUpperCase();
}

/**
 * The vulnerabilities of one target, most severe first (then by id), and the summary line: how many, per
 * severity, how many have a fix, how many a VEX statement suppressed. Passing findings are not listed.
 */
export function vulnerabilityTable(findings: readonly VulnerabilityFinding[]): string[] {
  const shown = findings.filter((f) => f.status !== 'pass').sort(compareVulnerabilities);
  const out = [
    '',
    'Vulnerabilities',
    '---------------',
    vulnerabilitySummary(countVulnerabilities(findings)),
  ];
  if (shown.length === 0) return out;
  out.push(
    columns([
      ['SEVERITY', 'ID', 'PACKAGE', 'INSTALLED', 'FIXED', 'STATUS'],
      ...shown.map((f) => {
        const v = f.vulnerability;
        const fixed =
          v.fixedVersion !== undefined && v.fixedVersion !== ''
            ? v.fixedVersion
            : v.fixState === 'wont-fix'
              ? "won't fix"
              : 'no fix yet';
        return [
          f.severity.toUpperCase(),
          cell(v.id),
          cell(v.package.name),
          cell(v.installedVersion),
          cell(fixed),
          vulnStatus(f),
        ];
      }),
    ]),
  );
  return out;
}

/** Aligns rows into columns separated by two spaces; the first row is the header. */
export function columns(rows: string[][]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows
    .map((row) =>
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export function humanSize(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

function section(r: ScanResult): string {
  const out: string[] = [];
  const img = r.image;
  const a = r.appliance;
  const kind = a ? `${a.kind.toUpperCase()} appliance; ` : '';
  const head = img
    ? `${r.target} (${kind}${[img.format, img.subformat].filter(Boolean).join(' ')}, ${humanSize(img.virtualSize)}, ${img.partitionScheme === 'none' ? 'no partition table' : img.partitionScheme})`
    : a
      ? `${r.target} (${a.kind.toUpperCase()} appliance)`
      : r.target;
  out.push(cell(head), '='.repeat(Math.min(head.length, 100)));
  if (r.error) {
    out.push(cell(`error: ${r.error.message} [${r.error.code}]`));
    if (!a) return out.join('\n');
  }
  const facts: string[][] = [];
  if (a) {
    facts.push(['Appliance', cell(applianceTitle(a))]);
    facts.push(['Integrity', cell(applianceIntegrity(a))]);
    const best = a.cpes[0];
    if (best) {
      const more = a.cpes.length > 1 ? `, ${a.cpes.length - 1} more candidate(s)` : '';
      facts.push(['CPE', `${cell(best.cpe)} (${best.confidence} confidence${more})`]);
    }
    if (a.disks.length > 0) {
      const disks = a.disks.map((d) => {
        const what = d.root ? 'OS' : d.error ? 'unreadable' : d.image ? humanSize(d.image.virtualSize) : '';
        return `${d.diskId}${what ? ` (${what})` : ''}`;
      });
      facts.push(['Disks', cell(disks.join(', '))]);
    }
  }
  if (r.os)
    facts.push(['OS', r.os.prettyName ?? [r.os.name ?? r.os.id, r.os.versionId].filter(Boolean).join(' ')]);
  if (r.hostname) facts.push(['Hostname', r.hostname]);
  for (const fs of img?.filesystems ?? []) {
    const where = fs.partition === 0 ? 'disk' : `part ${fs.partition}`;
    const bits = [
      fs.type,
      fs.mountpoint ? `at ${fs.mountpoint}` : '',
      fs.uuid ? `uuid ${fs.uuid}` : '',
      fs.note ?? '',
    ];
    facts.push([`Filesystem (${where})`, bits.filter(Boolean).join(', ')]);
  }
  if (r.kind === 'image' || r.packages.length > 0) facts.push(['Packages', String(r.packages.length)]);
  out.push(columns(facts.map(([k, v]) => [`${k}:`, v!])));
  if (r.packages.length > 0) {
    out.push('');
    out.push(
      columns([
        ['NAME', 'VERSION', 'ARCH', 'SOURCE'],
        ...r.packages.map((p) => [
          p.name,
          p.version,
          p.arch,
          p.sourceName === p.name && p.sourceVersion === p.version
            ? ''
            : `${p.sourceName} ${p.sourceVersion}`,
        ]),
      ]),
    );
  }
  const checks = r.findings.filter((f) => !isVulnerability(f));
  const vulns = r.findings.filter(isVulnerability);
  if (checks.length > 0) {
    const shown = checks.filter((f) => f.status !== 'pass');
    const c = countByStatus(checks);
    out.push(
      '',
      `Findings: ${c.fail} failed, ${c.unknown} unknown, ${c.waived} waived, ${c.suppressed} suppressed, ${c.pass} passed`,
    );
    if (shown.length > 0) {
      out.push(
        columns([
          ['STATUS', 'SEVERITY', 'CHECK', 'RESOURCE', 'MESSAGE'],
          ...shown.map((f) => [
            f.status.toUpperCase(),
            f.severity.toUpperCase(),
            f.checkId,
            f.resource.id,
            cell(f.message),
          ]),
        ]),
      );
    }
  }
  if (vulns.length > 0) out.push(...vulnerabilityTable(vulns));
  return out.join('\n');
}

/**
 * The report summary a scan of several targets (an image library) opens with: one line per target with its OS,
 * packages, vulnerabilities by severity (critical/high/medium/low) and failing findings, then what the library
 * scan left out.
 */
export function reportSummary(report: ScanReport): string | undefined {
  if (report.results.length < 2 && report.library === undefined) return undefined;
  const rows = [['TARGET', 'OS', 'PACKAGES', 'VULNERABILITIES (C/H/M/L)', 'FAILING', 'NOTE']];
  const checked = report.advisoryDb?.present === true;
  for (const r of report.results) {
    const vulns = countVulnerabilities(r.findings.filter(isVulnerability));
    const b = vulns.bySeverity;
    const failing = r.findings.filter((f) => f.status === 'fail' && !isVulnerability(f)).length;
    rows.push([
      cell(r.target),
      cell(r.os?.prettyName ?? (r.os ? `${r.os.id} ${r.os.versionId ?? ''}`.trim() : '-')),
      r.error ? '-' : String(r.packages.length),
      r.error
        ? '-'
        : checked
          ? `${vulns.total} (${b.critical}/${b.high}/${b.medium}/${b.low})`
          : 'not checked',
      r.error ? '-' : String(failing),
      r.error ? cell(`unreadable: ${r.error.code}`) : r.appliance ? 'appliance' : '',
    ]);
  }
  const out = ['Report Summary', '==============', columns(rows)];
  const l = report.library;
  if (l) {
    out.push(
      '',
      `${l.images} images: ${l.inspected} read, ${l.cached} unchanged (from the scan cache), ${l.failed} unreadable; ` +
        `${l.skipped.length} other files left out`,
    );
    for (const f of l.skipped.slice(0, 20)) out.push(`  ${cell(f.path)}: ${cell(f.reason)}`);
    if (l.skipped.length > 20) out.push(`  … and ${l.skipped.length - 20} more (all in the JSON report)`);
  }
  return out.join('\n');
}

/** Human-readable summary for a terminal. */
export const tableWriter: Writer = {
  format: 'table',
  extension: 'txt',
  write: (report: ScanReport) => {
    const summary = reportSummary(report);
    return (
      [
        ...(summary !== undefined ? [summary] : []),
        ...report.results.map(section),
        ...(report.advisoryDb ? [advisoryDbText(report.advisoryDb)] : []),
      ].join('\n\n') + '\n'
    );
  },
};
