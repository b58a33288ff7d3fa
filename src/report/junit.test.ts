import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import fc from 'fast-check';
import { assessmentReport, HOSTILE } from '../../test/helpers/assessment.js';
import { tempDir } from '../../test/helpers/tmp.js';
import type { ScanReport } from '../model/report.js';
import { loadWriter } from './index.js';
import { toJUnit, xmlAttr, xmlText } from './junit.js';
import { vulnerabilityReport } from './testdata/vulnerability-report.js';

/** Any string, and strings made of the characters that matter to XML, so generated strings hit them often. */
const anyString = fc.oneof(
  fc.string({ unit: 'binary' }),
  fc.string({
    unit: fc.constantFrom(
      '<',
      '>',
      '"',
      "'",
      '&',
      ']',
      '\t',
      '\n',
      '\r',
      '\u0000',
      '\u0007',
      '\ud800',
      '\udc00',
      '\uffff',
      '😀',
    ),
  }),
);

/* eslint-disable no-control-regex */
/** Characters XML 1.0 cannot carry, not even as character references. */
const NOT_XML =
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
/* eslint-enable no-control-regex */

const tmp = tempDir('hyperward-junit-');
after(() => tmp.cleanup());

/** What an XML 1.0 document can carry of a string: characters XML forbids are written as visible escapes. */
function carried(s: string): string {
  return s.replace(new RegExp(NOT_XML.source, 'g'), (c) => `\\u{${c.charCodeAt(0).toString(16)}}`);
}

/** Parses with Python's expat (an independent XML parser) and returns every testcase's attributes and child. */
function pythonTestcases(
  xml: string,
): Array<{ classname: string; name: string; child: string; message: string }> {
  const file = join(tmp.dir, `r${Math.random().toString(36).slice(2)}.xml`);
  writeFileSync(file, xml);
  const out = execFileSync(
    'python3',
    [
      '-c',
      `import json,sys,xml.dom.minidom as m
d=m.parse(sys.argv[1])
r=[]
for t in d.getElementsByTagName('testcase'):
    kids=[k for k in t.childNodes if k.nodeType==1]
    r.append({'classname':t.getAttribute('classname'),'name':t.getAttribute('name'),'child':kids[0].tagName if kids else '','message':kids[0].getAttribute('message') if kids else ''})
print(json.dumps(r))`,
      file,
    ],
    { encoding: 'utf8' },
  );
  return JSON.parse(out) as Array<{ classname: string; name: string; child: string; message: string }>;
}

function xmllint(xml: string): void {
  const file = join(tmp.dir, 'lint.xml');
  writeFileSync(file, xml);
  const r = spawnSync('xmllint', ['--noout', file], { encoding: 'utf8' });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') return; // python's parser above still checks
  assert.equal(r.status, 0, r.stderr);
}

function expected(report: ScanReport) {
  return report.results.flatMap((r) => [
    ...(r.error
      ? [
          {
            classname: 'hyperward.target',
            name: carried(r.target),
            child: 'error',
            message: carried(r.error.message),
          },
        ]
      : []),
    ...r.findings.map((f) => ({
      classname: carried(f.checkId),
      name: carried(f.resource.id),
      child: { fail: 'failure', unknown: 'skipped', waived: 'skipped', suppressed: 'skipped', pass: '' }[
        f.status
      ],
      message:
        f.status === 'fail'
          ? carried(f.message)
          : f.status === 'unknown'
            ? carried(`unknown: ${f.message}`)
            : f.status === 'waived'
              ? carried(
                  `waived: ${f.waiver!.justification} (owner ${f.waiver!.owner}, expires ${f.waiver!.expires})`,
                )
              : '',
    })),
  ]);
}

test('JUnit XML is well-formed and every string survives a real XML parser, hostile ones included', async () => {
  for (const report of [assessmentReport(), assessmentReport({ hostile: HOSTILE })]) {
    const xml = (await loadWriter('junit')).write(report);
    assert.equal(XMLValidator.validate(xml), true);
    xmllint(xml);
    assert.deepEqual(pythonTestcases(xml), expected(report));
  }
});

test('one testsuite per target with tests, failures, errors and skipped counted from the findings', () => {
  const report = assessmentReport();
  const xml = toJUnit(report);
  const doc = new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: '',
    isArray: (n) => n === 'testsuite' || n === 'testcase',
  }).parse(xml) as {
    testsuites: {
      tests: string;
      failures: string;
      errors: string;
      skipped: string;
      testsuite: Array<{
        name: string;
        tests: string;
        failures: string;
        errors: string;
        skipped: string;
        testcase?: unknown[];
      }>;
    };
  };
  const suites = doc.testsuites.testsuite;
  assert.equal(suites.length, report.results.length);
  let tests = 0;
  let failures = 0;
  let skipped = 0;
  let errors = 0;
  report.results.forEach((r, i) => {
    const s = suites[i]!;
    const count = (st: string) => r.findings.filter((f) => f.status === st).length;
    assert.equal(s.name, r.target);
    assert.equal(Number(s.tests), r.findings.length + (r.error ? 1 : 0));
    assert.equal(Number(s.failures), count('fail'));
    assert.equal(Number(s.skipped), count('unknown') + count('waived'));
    assert.equal(Number(s.errors), r.error ? 1 : 0);
    assert.equal((s.testcase ?? []).length, Number(s.tests));
    tests += Number(s.tests);
    failures += Number(s.failures);
    skipped += Number(s.skipped);
    errors += Number(s.errors);
  });
  assert.deepEqual(
    [doc.testsuites.tests, doc.testsuites.failures, doc.testsuites.skipped, doc.testsuites.errors].map(
      Number,
    ),
    [tests, failures, skipped, errors],
  );
  assert.ok(failures > 0 && skipped > 0 && errors > 0);
});

test('escaping: any string as attribute or text keeps the document well-formed', () => {
  fc.assert(
    fc.property(anyString, anyString, (a, t) => {
      const xml = `<?xml version="1.0" encoding="UTF-8"?>\n<r a="${xmlAttr(a)}" b='${xmlAttr(a)}'>${xmlText(t)}</r>`;
      assert.equal(XMLValidator.validate(xml), true, xml);
      assert.doesNotMatch(xmlText(t), /]]>/);
      for (const out of [xmlAttr(a), xmlText(t)]) {
        assert.doesNotMatch(out, NOT_XML);
      }
    }),
    { numRuns: 300 },
  );
});

test('vulnerabilities: one testcase each (classname = target + package), failures with versions, VEX as skipped', async () => {
  for (const report of [vulnerabilityReport(), vulnerabilityReport({ hostile: HOSTILE })]) {
    const xml = (await loadWriter('junit')).write(report);
    assert.equal(XMLValidator.validate(xml), true);
    xmllint(xml);
    const cases = pythonTestcases(xml);
    const expectedCases = report.results.flatMap((r) =>
      r.findings.map((f) => {
        const v = f.vulnerability;
        if (!v) return { classname: carried(f.checkId), name: carried(f.resource.id), child: 'failure' };
        return {
          classname: carried(`${r.target} ${v.package.name}`),
          name: carried(v.id),
          child: f.status === 'suppressed' ? 'skipped' : 'failure',
        };
      }),
    );
    assert.deepEqual(
      cases.map(({ classname, name, child }) => ({ classname, name, child })),
      expectedCases,
    );
    for (const [i, f] of report.results.flatMap((r) => r.findings).entries()) {
      const v = f.vulnerability;
      if (!v) continue;
      const msg = cases[i]!.message;
      if (f.status === 'suppressed') {
        assert.ok(msg.startsWith('suppressed: '), msg);
        assert.ok(msg.includes(carried(v.vex!.justification!)), msg);
        assert.ok(msg.includes(carried(v.vex!.statement!)), msg);
      } else {
        assert.ok(msg.includes(carried(v.installedVersion)), msg);
        assert.ok(
          v.fixedVersion ? msg.includes(v.fixedVersion) : /no fix yet|will not be fixed/.test(msg),
          msg,
        );
      }
    }
  }
  const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse(
    toJUnit(vulnerabilityReport()),
  ) as { testsuites: { tests: string; failures: string; skipped: string } };
  // Six findings: five failing (four vulnerabilities and the configuration check), one suppressed.
  assert.deepEqual(
    [doc.testsuites.tests, doc.testsuites.failures, doc.testsuites.skipped].map(Number),
    [6, 5, 1],
  );
});
