/**
 * JUnit XML for CI dashboards: one `testsuite` per target, one `testcase` per finding (classname = check id,
 * name = resource id). A failing check is a `failure` (type = severity); an undecided check and a waived finding
 * are `skipped` with the reason; a pass is a plain testcase; a target that could not be read is an `error`.
 */
import type { Finding } from '../model/finding.js';
import type { ScanReport, ScanResult } from '../model/report.js';
import { countByStatus, describeEvidence, referenceLabel, visible } from './common.js';
import type { Writer } from './types.js';

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

function details(f: Finding): string {
  const lines = [
    f.message,
    '',
    `check: ${f.checkId} (${f.severity})`,
    `resource: ${f.resource.type} ${f.resource.id}`,
  ];
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

function testcase(f: Finding, ind: string): string {
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
  const skipped = c.unknown + c.waived;
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
  for (const f of r.findings) lines.push(testcase(f, '    '));
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
