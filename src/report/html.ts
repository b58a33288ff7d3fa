/**
 * A single self-contained HTML report: inline CSS, no script, no external resource (a Content-Security-Policy
 * forbids loading any), readable offline and printable. A summary by severity and by platform, then each target
 * with its findings (evidence, remediation, references, waiver), its vulnerabilities (counts per severity, then
 * one row each: package, installed and fixed version, status, the VEX statement of a suppressed one) and, for
 * images, its packages. Every string from the report is HTML-escaped; only absolute http(s) URLs become links.
 */
import { SEVERITIES, type Finding, type FindingStatus, type Severity } from '../model/finding.js';
import type { ScanReport, ScanResult } from '../model/report.js';
import {
  STATUSES,
  applianceIntegrity,
  applianceTitle,
  compareFindings,
  countByStatus,
  describeEvidence,
  findingsOf,
  httpUrl,
  isOpen,
  referenceLabel,
  type StatusCounts,
  visible,
} from './common.js';
import { humanSize } from './table.js';
import type { Writer } from './types.js';
import {
  advisoryDbText,
  compareVulnerabilities,
  countVulnerabilities,
  fixText,
  isVulnerability,
  vexReason,
  vulnerabilitySummary,
  vulnUrl,
  type VulnerabilityFinding,
} from './vulnerability.js';

/**
 * Escapes text for HTML element content and double- or single-quoted attribute values; control characters HTML
 * cannot carry become visible `\\u{…}` escapes.
 */
export function escapeHtml(s: string): string {
  return visible(s)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

const e = escapeHtml;

export interface HtmlOptions {
  /** Why a check matters (its catalogue rationale), shown with each finding. Findings do not carry it. */
  rationale?: (checkId: string) => string | undefined;
}

const STATUS_LABEL: Readonly<Record<FindingStatus, string>> = {
  fail: 'Fail',
  unknown: 'Unknown',
  waived: 'Waived',
  suppressed: 'Suppressed',
  pass: 'Pass',
};

const CSS = `
:root{--fg:#1d2330;--muted:#5b6474;--bg:#f6f7f9;--card:#fff;--line:#dde1e7;
--critical:#7a0916;--high:#c62828;--medium:#e0700b;--low:#1565c0;--info:#546e7a;
--fail:#c62828;--unknown:#b26a00;--waived:#5e5ca8;--suppressed:#607d8b;--pass:#2e7d32}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Liberation Sans",Arial,sans-serif;color:var(--fg);background:var(--bg)}
header{background:#1d2330;color:#fff;padding:18px 28px}
header h1{margin:0;font-size:22px}
header p{margin:4px 0 0;color:#c8cedb}
main{padding:20px 28px;max-width:1280px}
h2{font-size:18px;margin:26px 0 10px}
h3{font-size:15px;margin:18px 0 8px}
section.target{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:4px 18px 14px;margin:18px 0}
.cards{display:flex;gap:12px;flex-wrap:wrap;margin:8px 0}
.card{background:var(--card);border:1px solid var(--line);border-left-width:6px;border-radius:6px;padding:10px 16px;min-width:130px}
.card b{display:block;font-size:24px}
.card.fail{border-left-color:var(--fail)}.card.unknown{border-left-color:var(--unknown)}
.card.waived{border-left-color:var(--waived)}.card.suppressed{border-left-color:var(--suppressed)}
.card.pass{border-left-color:var(--pass)}.card.error{border-left-color:#000}
table{border-collapse:collapse;background:var(--card);margin:6px 0}
th,td{border:1px solid var(--line);padding:4px 10px;text-align:left;vertical-align:top}
th{background:#eef0f4}
td.n{text-align:right;font-variant-numeric:tabular-nums}
td.zero{color:#9aa1ad}
.badge{display:inline-block;border-radius:3px;padding:0 6px;font-size:12px;font-weight:600;color:#fff;white-space:nowrap}
.sev-critical{background:var(--critical)}.sev-high{background:var(--high)}.sev-medium{background:var(--medium)}
.sev-low{background:var(--low)}.sev-info{background:var(--info)}
.st-fail{background:var(--fail)}.st-unknown{background:var(--unknown)}.st-waived{background:var(--waived)}
.st-suppressed{background:var(--suppressed)}.st-pass{background:var(--pass)}
tr.suppressed td{color:var(--muted)}
table.vulns td:nth-child(2){white-space:nowrap}
details.finding{border:1px solid var(--line);border-radius:6px;margin:6px 0;background:#fff}
details.finding>summary{cursor:pointer;padding:6px 10px;list-style-position:inside}
details.finding>summary code{font-weight:600}
details.finding .body{padding:4px 14px 10px;border-top:1px solid var(--line)}
dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 14px;margin:6px 0}
dt{color:var(--muted);font-weight:600}
dd{margin:0;overflow-wrap:anywhere}
code{font-family:ui-monospace,"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:12.5px;background:#f0f2f5;border-radius:3px;padding:0 3px;overflow-wrap:anywhere}
.error{border:1px solid #e0b4b4;background:#fff4f4;border-radius:6px;padding:8px 12px}
.muted{color:var(--muted)}
ul.refs{margin:0;padding-left:18px}
@media print{details.finding{break-inside:avoid}details>summary{list-style:none}}
`;

function sevBadge(s: Severity): string {
  return `<span class="badge sev-${s}">${e(s.toUpperCase())}</span>`;
}
function statusBadge(s: FindingStatus): string {
  return `<span class="badge st-${s}">${e(STATUS_LABEL[s])}</span>`;
}
function num(n: number): string {
  return `<td class="n${n === 0 ? ' zero' : ''}">${n}</td>`;
}

function countsTable(label: string, rows: Array<[string, StatusCounts]>): string {
  const head = `<tr><th>${e(label)}</th>${STATUSES.map((s) => `<th>${e(STATUS_LABEL[s])}</th>`).join('')}<th>Total</th></tr>`;
  const body = rows
    .map(
      ([name, c]) =>
        `<tr><th scope="row">${name}</th>${STATUSES.map((s) => num(c[s])).join('')}${num(c.total)}</tr>`,
    )
    .join('\n');
  return `<table>\n${head}\n${body}\n</table>`;
}

function summary(report: ScanReport): string {
  const all = findingsOf(report);
  const total = countByStatus(all.map((x) => x.finding));
  const unreadable = report.results.filter((r) => r.error).length;
  const cards = [
    ...STATUSES.map((s) => `<div class="card ${s}"><b>${total[s]}</b>${e(STATUS_LABEL[s])}</div>`),
    `<div class="card error"><b>${unreadable}</b>Unreadable targets</div>`,
  ].join('');
  const bySeverity = SEVERITIES.map((s): [string, StatusCounts] => [
    sevBadge(s),
    countByStatus(all.filter((x) => x.finding.severity === s).map((x) => x.finding)),
  ]);
  const platforms = [...new Set(all.map((x) => platformOf(x.finding, x.result)))].sort();
  const byPlatform = platforms.map((p): [string, StatusCounts] => [
    e(p),
    countByStatus(all.filter((x) => platformOf(x.finding, x.result) === p).map((x) => x.finding)),
  ]);
  return [
    '<section id="summary">',
    '<h2>Summary</h2>',
    `<div class="cards">${cards}</div>`,
    '<h3>By severity</h3>',
    countsTable('Severity', bySeverity),
    '<h3>By platform</h3>',
    byPlatform.length > 0 ? countsTable('Platform', byPlatform) : '<p class="muted">No findings.</p>',
    ...vulnerabilityCounts(all.map((x) => x.finding).filter(isVulnerability), 'Vulnerabilities'),
    '</section>',
  ].join('\n');
}

/**
 * The summary line and the counts per severity (by status) of vulnerability findings, under a heading; nothing
 * when there are none.
 */
function vulnerabilityCounts(vulns: VulnerabilityFinding[], heading: string): string[] {
  if (vulns.length === 0) return [];
  const bySeverity = SEVERITIES.map((s): [string, StatusCounts] => [
    sevBadge(s),
    countByStatus(vulns.filter((f) => f.severity === s)),
  ]);
  return [
    `<h3>${e(heading)}</h3>`,
    `<p class="vuln-summary">${e(vulnerabilitySummary(countVulnerabilities(vulns)))}</p>`,
    countsTable('Severity', bySeverity),
  ];
}

/** One row per vulnerability of a target, most severe first; a suppressed one shows its VEX statement. */
function vulnerabilityRows(vulns: VulnerabilityFinding[]): string {
  const rows = vulns
    .filter((f) => f.status !== 'pass')
    .sort(compareVulnerabilities)
    .map((f) => {
      const v = f.vulnerability;
      const url = vulnUrl(f);
      const id = url ? `<a href="${e(url)}" rel="noopener noreferrer">${e(v.id)}</a>` : e(v.id);
      const fixed =
        v.fixedVersion !== undefined && v.fixedVersion !== ''
          ? `<code>${e(v.fixedVersion)}</code>`
          : `<span class="muted">${e(fixText(v))}</span>`;
      let status = statusBadge(f.status);
      if (f.status === 'suppressed' && v.vex) status += ` ${e(vexReason(v.vex))}`;
      else if (f.status === 'waived' && f.waiver) status += ` ${e(f.waiver.justification)}`;
      const cvss = v.cvss.map((c) => `${c.version}: ${c.baseScore}`).join(', ');
      return `<tr class="vuln ${e(f.status)}"><td>${sevBadge(f.severity)}</td><td>${id}</td><td>${e(v.package.name)}</td><td><code>${e(v.installedVersion)}</code></td><td>${fixed}</td><td>${e(cvss)}</td><td>${status}</td><td>${e(f.title)}</td></tr>`;
    });
  return [
    '<table class="vulns">',
    '<tr><th>Severity</th><th>Vulnerability</th><th>Package</th><th>Installed</th><th>Fixed</th><th>CVSS</th><th>Status</th><th>Title</th></tr>',
    ...rows,
    '</table>',
  ].join('\n');
}

function platformOf(f: Finding, r: ScanResult): string {
  return f.platform ?? r.kind;
}

function findingBody(f: Finding, opts: HtmlOptions): string {
  const rows: string[] = [];
  const dd = (k: string, v: string) => rows.push(`<dt>${e(k)}</dt><dd>${v}</dd>`);
  dd('Message', e(f.message));
  const rationale = opts.rationale?.(f.checkId);
  if (rationale) dd('Why it matters', e(rationale));
  const ev = describeEvidence(f);
  if (ev.length > 0) dd('Evidence', ev.map((x) => `<code>${e(x)}</code>`).join('<br>'));
  if (f.remediation) dd('Remediation', e(f.remediation));
  const refs = f.references ?? [];
  if (refs.length > 0) {
    const items = refs.map((r) => {
      const url = httpUrl(r.url);
      const label = e(referenceLabel(r));
      return `<li>${url ? `<a href="${e(url)}" rel="noopener noreferrer">${label}</a>` : label}</li>`;
    });
    dd('References', `<ul class="refs">${items.join('')}</ul>`);
  }
  if (f.waiver) {
    const w = f.waiver;
    dd(
      w.expired ? 'Expired waiver' : 'Waiver',
      `${e(w.justification)} <span class="muted">(owner ${e(w.owner)}, ${w.expired ? 'expired' : 'expires'} ${e(w.expires)}, resource ${e(w.resource)})</span>`,
    );
  }
  dd('Resource', `${e(f.resource.type)} <code>${e(f.resource.id)}</code>`);
  if (f.platform) dd('Platform', e(f.platform));
  dd('Finding id', `<code>${e(f.id)}</code>`);
  return `<div class="body"><dl>${rows.join('')}</dl></div>`;
}

function findingBlock(f: Finding, opts: HtmlOptions): string {
  const head = `${sevBadge(f.severity)} ${statusBadge(f.status)} <code>${e(f.checkId)}</code> · ${e(f.resource.id)} — ${e(f.title)}`;
  return `<details class="finding"${isOpen(f) ? ' open' : ''}><summary>${head}</summary>${findingBody(f, opts)}</details>`;
}

function packagesTable(r: ScanResult): string {
  const rows = r.packages.map(
    (p) =>
      `<tr><td>${e(p.name)}</td><td>${e(p.version)}</td><td>${e(p.arch)}</td><td>${
        p.sourceName === p.name && p.sourceVersion === p.version
          ? ''
          : e(`${p.sourceName} ${p.sourceVersion}`)
      }</td></tr>`,
  );
  return [
    `<details><summary>Packages (${r.packages.length})</summary>`,
    '<table><tr><th>Name</th><th>Version</th><th>Arch</th><th>Source</th></tr>',
    ...rows,
    '</table></details>',
  ].join('\n');
}

function targetSection(r: ScanResult, i: number, opts: HtmlOptions): string {
  const out: string[] = [`<section class="target" id="target-${i}">`];
  out.push(`<h2>${e(r.target)} <span class="muted">(${e(r.kind)})</span></h2>`);
  const facts: string[] = [];
  const a = r.appliance;
  if (a) {
    facts.push(`Appliance: ${e(applianceTitle(a))}`);
    facts.push(`Integrity: ${e(applianceIntegrity(a))}`);
    if (a.cpes[0])
      facts.push(`CPE: <code>${e(a.cpes[0].cpe)}</code> (${e(a.cpes[0].confidence)} confidence)`);
  }
  if (r.image) {
    const img = r.image;
    facts.push(
      `Image: ${e([img.format, img.subformat].filter(Boolean).join(' '))}, ${e(humanSize(img.virtualSize))}`,
    );
  }
  if (r.os)
    facts.push(
      `OS: ${e(r.os.prettyName ?? [r.os.name ?? r.os.id, r.os.versionId].filter(Boolean).join(' '))}`,
    );
  if (r.hostname) facts.push(`Host name: ${e(r.hostname)}`);
  if (facts.length > 0) out.push(`<p>${facts.join(' · ')}</p>`);
  if (r.error)
    out.push(
      `<p class="error"><b>Could not be read:</b> ${e(r.error.message)} <code>${e(r.error.code)}</code></p>`,
    );
  const checks = r.findings.filter((f) => !isVulnerability(f));
  const vulns = r.findings.filter(isVulnerability);
  const c = countByStatus(checks);
  const sorted = [...checks].sort(compareFindings);
  out.push(
    `<h3>Findings <span class="muted">(${c.fail} fail, ${c.unknown} unknown, ${c.waived} waived, ${c.suppressed} suppressed, ${c.pass} pass)</span></h3>`,
  );
  const attention = sorted.filter((f) => f.status !== 'pass');
  const passed = sorted.filter((f) => f.status === 'pass');
  if (checks.length === 0)
    out.push(`<p class="muted">No ${vulns.length > 0 ? 'configuration ' : ''}findings for this target.</p>`);
  for (const f of attention) out.push(findingBlock(f, opts));
  if (passed.length > 0) {
    out.push(`<details><summary>${passed.length} passed check${passed.length === 1 ? '' : 's'}</summary>`);
    for (const f of passed) out.push(findingBlock(f, opts));
    out.push('</details>');
  }
  if (vulns.length > 0) {
    out.push(`<section class="vulnerabilities" id="target-${i}-vulnerabilities">`);
    out.push(...vulnerabilityCounts(vulns, 'Vulnerabilities'));
    out.push(vulnerabilityRows(vulns));
    out.push('</section>');
  }
  if (r.packages.length > 0) out.push(packagesTable(r));
  out.push('</section>');
  return out.join('\n');
}

/** Renders a report as one HTML document. */
export function toHtml(report: ScanReport, opts: HtmlOptions = {}): string {
  const n = findingsOf(report).length;
  const title = `Hyperward report: ${report.results.length} target${report.results.length === 1 ? '' : 's'}`;
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'">`,
    '<meta name="referrer" content="no-referrer">',
    `<title>${e(title)}</title>`,
    `<style>${CSS}</style>`,
    '</head>',
    '<body>',
    '<header>',
    `<h1>${e(title)}</h1>`,
    `<p>${e(report.tool.name)} ${e(report.tool.version)} · ${e(report.createdAt)} · ${n} finding${n === 1 ? '' : 's'}</p>`,
    ...(report.advisoryDb ? [`<p class="advisory-db">${e(advisoryDbText(report.advisoryDb))}</p>`] : []),
    '</header>',
    '<main>',
    summary(report),
    ...report.results.map((r, i) => targetSection(r, i, opts)),
    '</main>',
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

/** A single-file HTML report that works offline. */
export const htmlWriter: Writer = {
  format: 'html',
  extension: 'html',
  write: (report, opts) => toHtml(report, opts),
};
