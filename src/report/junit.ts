/**
 * JUnit XML for CI dashboards: one `testsuite` per target, one `testcase` per finding (classname = check id,
 * name = resource id). A failing check is a `failure` (type = severity); an undecided check and a waived finding
 * are `skipped` with the reason; a pass is a plain testcase; a target that could not be read is an `error`.
 * A vulnerability finding is a testcase of its own too (classname = target and package, name = vulnerability id):
 * a `failure` with the installed and fixed versions, or `skipped` with the VEX statement when one suppresses it.
 */
import type { Finding } from '../model/finding.js';
import type { ScanReport, ScanResult } from '../model/report.js';
import { countByStatus, describeEvidence, referenceLabel, visible } from './common.js';
import type { Writer } from './types.js';
import {
  fixText,
  isVulnerability,
  versionsText,
  vexReason,
  vulnReferences,
  type VulnerabilityFinding,
} from './vulnerability.js';

/** Escapes text content. `>` is escaped too, so `]]>` never appears. */
export function xmlText(s: string): string {
  return visible(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Escapes an attribute value (double-quoted); tabs and line breaks survive attribute normalisation. */
export function xmlAttr(s: string): string {
  return xmlText(s)
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;')
    .replace(/\t/g, '&#9;')
    .replace(/\n/g, '&#10;')
    .replace(/\r/g, '&#13;');
}

function attrs(a: Record<string, string | number>): string {
  return Object.entries(a)
    .map(([k, v]) => ` ${k}="${xmlAttr(String(v))}"`)
    .join('');
}

function vulnerabilityDetails(f: VulnerabilityFinding): string[] {
  const v = f.vulnerability;
  const lines = [
    `package: ${v.package.name} ${v.installedVersion} (${v.package.arch}, source ${v.package.sourceName} ${v.package.sourceVersion})`,
    `installed: ${v.installedVersion}`,
    `fixed: ${fixText(v)}`,
    `purl: ${v.package.purl}`,
  ];
  for (const c of v.cvss) lines.push(`cvss ${c.version}: ${c.baseScore} ${c.severity} ${c.vector}`);
  if (v.distroSeverity) lines.push(`${v.distroSeverity.source} rating: ${v.distroSeverity.rating}`);
  for (const r of vulnReferences(v)) lines.push(`alias: ${r.id}${r.source.url ? ` ${r.source.url}` : ''}`);
  if (v.vex) lines.push(`vex: ${vexReason(v.vex)}`);
  return lines;
}

function details(f: Finding): string {
  const lines = [
    f.message,
    '',
    `check: ${f.checkId} (${f.severity})`,
    `resource: ${f.resource.type} ${f.resource.id}`,
  ];
  if (isVulnerability(f)) lines.push(...vulnerabilityDetails(f));
  if (f.platform) lines.push(`platform: ${f.platform}`);
  for (const e of describeEvidence(f)) lines.push(`evidence: ${e}`);
  if (f.remediation) lines.push(`remediation: ${f.remediation}`);
  for (const r of f.references ?? [])
    lines.push(`reference: ${referenceLabel(r)}${r.url && r.url !== r.id ? ` ${r.url}` : ''}`);
  if (f.waiver?.expired)
    lines.push(`waiver expired ${f.waiver.expires}: ${f.waiver.justification} (owner ${f.waiver.owner})`);
  lines.push(`finding id: ${f.id}`);
  return lines.join('\n');
}

/** The testcase of a vulnerability finding: classname = target + package, name = the vulnerability id. */
function vulnerabilityTestcase(f: VulnerabilityFinding, r: ScanResult, ind: string): string {
  const v = f.vulnerability;
  const head = `${ind}<testcase${attrs({ classname: `${r.target} ${v.package.name}`, name: v.id, time: 0 })}`;
  const body = (tag: string, a: Record<string, string>) =>
    `${head}>\n${ind}  <${tag}${attrs(a)}>${xmlText(details(f))}</${tag}>\n${ind}</testcase>`;
  const summary = `${v.id}: ${versionsText(v)}`;
  switch (f.status) {
    case 'pass':
      return `${head}/>`;
    case 'fail':
      return body('failure', { message: summary, type: f.severity });
    case 'unknown':
      return body('skipped', { message: `unknown: ${summary}` });
    case 'waived': {
      const w = f.waiver;
      return body('skipped', {
        message: w ? `waived: ${w.justification} (owner ${w.owner}, expires ${w.expires})` : 'waived',
      });
    }
    case 'suppressed':
      return body('skipped', { message: `suppressed: ${v.vex ? vexReason(v.vex) : 'by a VEX statement'}` });
  }
}

function testcase(f: Finding, r: ScanResult, ind: string): string {
  if (isVulnerability(f)) return vulnerabilityTestcase(f, r, ind);
  const head = `${ind}<testcase${attrs({ classname: f.checkId, name: f.resource.id, time: 0 })}`;
  switch (f.status) {
    case 'pass':
      return `${head}/>`;
    case 'fail':
      return `${head}>\n${ind}  <failure${attrs({ message: f.message || f.title, type: f.severity })}>${xmlText(details(f))}</failure>\n${ind}</testcase>`;
    case 'unknown':
      return `${head}>\n${ind}  <skipped${attrs({ message: `unknown: ${f.message}` })}>${xmlText(details(f))}</skipped>\n${ind}</testcase>`;
    case 'waived': {
      const w = f.waiver;
      const why = w ? `waived: ${w.justification} (owner ${w.owner}, expires ${w.expires})` : 'waived';
      return `${head}>\n${ind}  <skipped${attrs({ message: why })}>${xmlText(details(f))}</skipped>\n${ind}</testcase>`;
    }
    case 'suppressed': {
      const vex = f.vulnerability?.vex;
      const why = `suppressed: ${vex ? vexReason(vex) : 'by a VEX statement'}`;
      return `${head}>\n${ind}  <skipped${attrs({ message: why })}>${xmlText(details(f))}</skipped>\n${ind}</testcase>`;
    }
  }
}

function timestamp(createdAt: string): string | undefined {
  const t = Date.parse(createdAt);
  // JUnit's schema wants an xs:dateTime without a zone designator; the report time is UTC.
  return Number.isFinite(t) ? new Date(t).toISOString().slice(0, 19) : undefined;
}

function suite(
  r: ScanResult,
  id: number,
  ts: string | undefined,
): { xml: string; tests: number; failures: number; errors: number; skipped: number } {
  const c = countByStatus(r.findings);
  const errors = r.error ? 1 : 0;
  const tests = c.total + errors;
  const skipped = c.unknown + c.waived + c.suppressed;
  const lines = [
    `  <testsuite${attrs({
      name: r.target,
      id,
      tests,
      failures: c.fail,
      errors,
      skipped,
      time: 0,
      ...(ts ? { timestamp: ts } : {}),
    })}>`,
    `    <properties>`,
    `      <property${attrs({ name: 'kind', value: r.kind })}/>`,
    `      <property${attrs({ name: 'packages', value: r.packages.length })}/>`,
    `    </properties>`,
  ];
  if (r.error) {
    lines.push(
      `    <testcase${attrs({ classname: 'hyperward.target', name: r.target, time: 0 })}>`,
      `      <error${attrs({ message: r.error.message, type: r.error.code })}>${xmlText(`${r.error.message} [${r.error.code}]`)}</error>`,
      `    </testcase>`,
    );
  }
  for (const f of r.findings) lines.push(testcase(f, r, '    '));
  lines.push(`  </testsuite>`);
  return { xml: lines.join('\n'), tests, failures: c.fail, errors, skipped };
}

/** Renders a report as a JUnit XML document. */
export function toJUnit(report: ScanReport): string {
  const ts = timestamp(report.createdAt);
  const suites = report.results.map((r, i) => suite(r, i, ts));
  const sum = (k: 'tests' | 'failures' | 'errors' | 'skipped') => suites.reduce((n, s) => n + s[k], 0);
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites${attrs({
      name: `${report.tool.name} ${report.tool.version}`,
      tests: sum('tests'),
      failures: sum('failures'),
      errors: sum('errors'),
      skipped: sum('skipped'),
      time: 0,
      ...(ts ? { timestamp: ts } : {}),
    })}>`,
    ...suites.map((s) => s.xml),
    '</testsuites>',
    '',
  ].join('\n');
}

/** JUnit XML: CI systems (Jenkins, GitLab, GitHub test reporters) show failing checks as failed tests. */
export const junitWriter: Writer = {
  format: 'junit',
  extension: 'junit.xml',
  write: toJUnit,
};
