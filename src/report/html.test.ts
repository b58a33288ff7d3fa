import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { allFindings, assessmentReport, HOSTILE } from '../../test/helpers/assessment.js';
import { SEVERITIES } from '../model/finding.js';
import type { ScanReport } from '../model/report.js';
import { escapeHtml, toHtml } from './html.js';
import { loadWriter } from './index.js';
import { applianceReport } from './testdata/appliance-report.js';
import { vulnerabilityReport } from './testdata/vulnerability-report.js';

/** Characters that matter to HTML and XML, so generated strings hit them often. */
const SPECIALS = fc.constantFrom(
  '<',
  '>',
  '"',
  "'",
  '&',
  ';',
  '#',
  'a',
  ' ',
  '\u0000',
  '\u0007',
  '\ud800',
  '\udc00',
  '\uffff',
  '😀',
);

/* eslint-disable no-control-regex */
/** What HTML cannot carry: C0 controls but tab, LF and CR; lone surrogates. */
const UNREPRESENTABLE =
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
/* eslint-enable no-control-regex */

const ALLOWED_TAGS = new Set(
  'html head meta title style body header h1 h2 h3 p main section div b table tr th td span details summary code dl dt dd br ul li a'.split(
    ' ',
  ),
);

interface Tag {
  name: string;
  attrs: Map<string, string>;
}

/**
 * The tags of a document this writer made. Text and attribute values never hold a raw `<` or `>` (they are
 * escaped), so outside the one `<style>` block every `<` starts a real tag.
 */
function tags(html: string): Tag[] {
  const style = /<style>[\s\S]*?<\/style>/g;
  assert.equal(html.match(style)?.length, 1, 'exactly one inline style block');
  const body = html.replace(style, '<style></style>');
  const out: Tag[] = [];
  for (const m of body.matchAll(/<(?!!DOCTYPE)\/?([a-zA-Z][a-zA-Z0-9]*)([^>]*)>/g)) {
    const attrs = new Map<string, string>();
    const rest = m[2]!;
    for (const a of rest.matchAll(/\s([a-zA-Z-]+)(?:="([^"]*)")?/g))
      attrs.set(a[1]!.toLowerCase(), a[2] ?? '');
    // Nothing but attributes may stand in a tag: a stray quote would mean an attribute value broke out.
    assert.equal(rest.replace(/\s([a-zA-Z-]+)(?:="([^"]*)")?/g, '').trim(), '', `junk in tag ${m[0]}`);
    out.push({ name: m[1]!.toLowerCase(), attrs });
  }
  return out;
}

function unescape(s: string): string {
  return s
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&');
}

function assertSelfContained(html: string): void {
  assert.match(html, /^<!DOCTYPE html>/);
  assert.match(
    html,
    /<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline';/,
  );
  assert.doesNotMatch(html, /<script|<link|<img|<iframe|<object|<embed|@import|url\(/i);
  for (const t of tags(html)) {
    assert.ok(ALLOWED_TAGS.has(t.name), `unexpected tag <${t.name}>`);
    for (const [k, v] of t.attrs) {
      assert.ok(!k.startsWith('on'), `event handler ${k} on <${t.name}>`);
      assert.notEqual(k, 'src');
      if (k === 'href') assert.match(unescape(v), /^https?:\/\//, `only http(s) links: ${v}`);
    }
  }
}

test('the HTML report is one self-contained file: no script, no external resource, only http(s) links', async () => {
  const html = (await loadWriter('html')).write(assessmentReport());
  assertSelfContained(html);
});

test('hostile strings are escaped everywhere and javascript: URLs are never links', () => {
  const report = assessmentReport({ hostile: HOSTILE });
  const f = report.results[0]!.findings[0]!;
  f.references = [
    ...(f.references ?? []),
    { type: 'url', id: `javascript:alert(1)`, url: 'javascript:alert(1)' },
  ];
  f.remediation = `${HOSTILE} remediation`;
  const html = toHtml(report, { rationale: () => `${HOSTILE} rationale` });
  assertSelfContained(html);
  assert.ok(!html.includes('<script>alert'), 'markup from the report is never emitted raw');
  const shown = escapeHtml(HOSTILE);
  assert.ok(html.includes(`${shown} remediation`));
  assert.ok(html.includes(`${shown} rationale`));
  assert.ok(html.includes(escapeHtml('javascript:alert(1)')), 'the unsafe reference is shown as text');
  // The only characters changed on the way are the ones HTML cannot carry (NUL, C0 controls, lone surrogates).
  assert.ok(
    unescape(shown).startsWith('<script>alert("x")</script>&amp;"\'`]]><!--\\u{0}\\u{7}\\u{1b}[31m\\u{d800}'),
  );
  assert.doesNotMatch(html, UNREPRESENTABLE);
});

test('escapeHtml leaves no markup-significant character and no unrepresentable one', () => {
  fc.assert(
    fc.property(fc.oneof(fc.string({ unit: 'binary' }), fc.string({ unit: SPECIALS })), (s) => {
      const out = escapeHtml(s);
      assert.doesNotMatch(out, /[<>"']/);
      assert.doesNotMatch(out, /&(?!amp;|lt;|gt;|quot;|#39;)/);
      assert.doesNotMatch(out, UNREPRESENTABLE);
    }),
    { numRuns: 300 },
  );
});

test('summary counts by status, severity and platform match the findings', () => {
  const report = assessmentReport();
  const html = toHtml(report);
  const findings = allFindings(report);
  const card = (cls: string) => Number(new RegExp(`<div class="card ${cls}"><b>(\\d+)</b>`).exec(html)?.[1]);
  for (const st of ['fail', 'unknown', 'waived', 'suppressed', 'pass'] as const) {
    assert.equal(card(st), findings.filter((f) => f.status === st).length, st);
  }
  assert.equal(card('error'), report.results.filter((r) => r.error).length);
  for (const sev of SEVERITIES) {
    const row = new RegExp(
      `<tr><th scope="row"><span class="badge sev-${sev}">[A-Z]+</span></th>((?:<td[^>]*>\\d+</td>){6})</tr>`,
    ).exec(html);
    assert.ok(row, sev);
    const cells = [...row[1]!.matchAll(/>(\d+)</g)].map((m) => Number(m[1]));
    const of = findings.filter((f) => f.severity === sev);
    assert.deepEqual(cells, [
      of.filter((f) => f.status === 'fail').length,
      of.filter((f) => f.status === 'unknown').length,
      of.filter((f) => f.status === 'waived').length,
      of.filter((f) => f.status === 'suppressed').length,
      of.filter((f) => f.status === 'pass').length,
      of.length,
    ]);
  }
  const vmware = /<tr><th scope="row">vmware<\/th>((?:<td[^>]*>\d+<\/td>){6})<\/tr>/.exec(html);
  assert.ok(vmware);
  assert.equal(
    Number([...vmware[1]!.matchAll(/>(\d+)</g)].at(-1)![1]),
    findings.filter((f) => f.platform === 'vmware').length,
  );
});

test('each target: its findings with evidence, remediation, references and waiver; packages for images', () => {
  const report = assessmentReport();
  const html = toHtml(report);
  const sections = html.split('<section class="target"').slice(1);
  assert.equal(sections.length, report.results.length);
  report.results.forEach((r, i) => {
    const s = sections[i]!;
    assert.ok(s.includes(escapeHtml(r.target)));
    assert.equal((s.match(/<details class="finding"/g) ?? []).length, r.findings.length);
    for (const f of r.findings) {
      assert.ok(s.includes(`<code>${escapeHtml(f.id)}</code>`), f.id);
      if (f.evidence?.line !== undefined)
        assert.ok(s.includes(escapeHtml(`${f.evidence.file}:${f.evidence.line}`)));
      if (f.remediation) assert.ok(s.includes(escapeHtml(f.remediation)));
      if (f.waiver) assert.ok(s.includes(escapeHtml(f.waiver.justification)));
      for (const ref of f.references ?? [])
        if (ref.url) assert.ok(s.includes(`href="${escapeHtml(ref.url)}"`));
    }
    if (r.error) assert.ok(s.includes(escapeHtml(r.error.message)) && s.includes('class="error"'));
    for (const p of r.packages)
      assert.ok(s.includes(`<td>${escapeHtml(p.name)}</td><td>${escapeHtml(p.version)}</td>`));
    if (r.packages.length > 0) assert.ok(s.includes(`Packages (${r.packages.length})`));
  });
  // Open findings are expanded, passes and waivers folded away.
  const openCount = allFindings(report).filter((f) => f.status === 'fail' || f.status === 'unknown').length;
  assert.equal((html.match(/<details class="finding" open>/g) ?? []).length, openCount);
});

test('an empty report renders', () => {
  const empty: ScanReport = {
    tool: { name: 'hyperward', version: '0.1.0' },
    createdAt: '2026-11-26T12:00:00.000Z',
    results: [],
  };
  const html = toHtml(empty);
  assertSelfContained(html);
  assert.match(html, /No findings\./);
});

test('vulnerabilities: a section per target with counts per severity and one row each, suppressed ones with VEX', () => {
  const report = vulnerabilityReport();
  const html = toHtml(report);
  assertSelfContained(html);
  assertSelfContained(toHtml(vulnerabilityReport({ hostile: HOSTILE })));
  const card = (cls: string) => Number(new RegExp(`<div class="card ${cls}"><b>(\\d+)</b>`).exec(html)?.[1]);
  assert.equal(card('suppressed'), 1);
  assert.equal(card('fail'), 5);
  const sections = html.split('<section class="target"').slice(1);
  report.results.forEach((r, i) => {
    const s = sections[i]!;
    const vulns = r.findings.filter((f) => f.vulnerability && f.status !== 'pass');
    const rows = [...s.matchAll(/<tr class="vuln ([a-z]+)">(.*?)<\/tr>/g)];
    assert.equal(rows.length, vulns.length);
    // Most severe first.
    const order = ['critical', 'high', 'medium', 'low', 'info'];
    const sevs = rows.map((m) => /badge sev-([a-z]+)/.exec(m[2]!)![1]!);
    assert.deepEqual(
      sevs,
      [...sevs].sort((a, b) => order.indexOf(a) - order.indexOf(b)),
    );
    for (const f of vulns) {
      const v = f.vulnerability!;
      const row = rows.find((m) => m[2]!.includes(`>${escapeHtml(v.id)}</a>`))!;
      assert.ok(row, v.id);
      assert.ok(row[2]!.includes(`<td>${escapeHtml(v.package.name)}</td>`));
      assert.ok(row[2]!.includes(`<code>${escapeHtml(v.installedVersion)}</code>`));
      if (v.fixedVersion) assert.ok(row[2]!.includes(`<code>${escapeHtml(v.fixedVersion)}</code>`));
      else assert.match(row[2]!, /no fix yet|will not be fixed/);
      if (f.status === 'suppressed') {
        assert.equal(row[1], 'suppressed');
        assert.ok(row[2]!.includes('<span class="badge st-suppressed">Suppressed</span>'));
        assert.ok(row[2]!.includes(escapeHtml(v.vex!.statement!)));
        assert.ok(row[2]!.includes(escapeHtml(v.vex!.justification!)));
      }
    }
    // The configuration findings are findings; the vulnerabilities are not repeated among them.
    const checks = r.findings.filter((f) => !f.vulnerability);
    assert.equal((s.match(/<details class="finding"/g) ?? []).length, checks.length);
  });
  assert.ok(
    sections[0]!.includes(
      '3 vulnerabilities (1 critical, 0 high, 1 medium, 1 low, 0 info), 1 fixable, 1 suppressed',
    ),
  );
});

test('an appliance: product, integrity and best CPE in its target section, hostile ones escaped', () => {
  const html = toHtml(applianceReport());
  assertSelfContained(html);
  assert.ok(html.includes('Appliance: Example Gateway 7.2.4 (Example Networks, Inc.)'));
  assert.ok(html.includes('Integrity: manifest verified (SHA256); signed by CN=Example (self-signed)'));
  assert.ok(
    html.includes('CPE: <code>cpe:2.3:a:example_networks:example_gateway:7.2.4:*:*:*:*:*:*:*</code> (high'),
  );
  const hostile = toHtml(applianceReport({ hostile: HOSTILE }));
  assertSelfContained(hostile);
  assert.ok(!hostile.includes('<script>alert'));
  assert.ok(hostile.includes(`Appliance: Example Gateway${escapeHtml(HOSTILE)}`));
  assert.doesNotMatch(hostile, UNREPRESENTABLE);
});
