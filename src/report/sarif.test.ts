import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import cvss from 'ae-cvss-calculator';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import fc from 'fast-check';
import { allFindings, assessmentReport, HOSTILE } from '../../test/helpers/assessment.js';
import type { ScanReport } from '../model/report.js';
import { loadWriter } from './index.js';
import { vulnerabilityReport } from './testdata/vulnerability-report.js';
import {
  FINGERPRINT_KEY,
  helpUri,
  SECURITY_SEVERITY,
  targetBaseId,
  toSarif,
  toUri,
  type SarifLog,
  type SarifResult,
} from './sarif.js';

const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

/** The official OASIS schema (draft-04) loaded into Ajv's draft-07 mode: `id` is `$id` there. */
function officialValidator() {
  const schema = JSON.parse(
    readFileSync(new URL('../../fixtures/schemas/sarif-schema-2.1.0.json', import.meta.url), 'utf8'),
  ) as Record<string, unknown>;
  assert.equal(schema.$schema, 'http://json-schema.org/draft-04/schema#');
  const { $schema: _draft, id, ...rest } = schema;
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  return { validate: ajv.compile({ $id: String(id), ...rest }), ajv };
}
const { validate, ajv } = officialValidator();

function assertValid(text: string): SarifLog {
  const log = JSON.parse(text) as SarifLog;
  const ok = validate(log);
  assert.ok(ok, JSON.stringify(validate.errors?.slice(0, 5), null, 2));
  return log;
}

test('the schema validator rejects what the SARIF schema forbids (it is really checking)', () => {
  const good = toSarif(assessmentReport());
  assert.ok(validate(good));
  const bad1 = structuredClone(good) as unknown as {
    runs: Array<{ results: Array<Record<string, unknown>> }>;
  };
  bad1.runs[0]!.results[0]!.kind = 'failed';
  assert.equal(validate(bad1), false);
  const bad2 = structuredClone(good) as unknown as {
    runs: Array<{ results: Array<Record<string, unknown>> }>;
  };
  bad2.runs[0]!.results[0]!.locations = [{ physicalLocation: { region: { startLine: 0 } } }];
  assert.equal(validate(bad2), false);
  const bad3 = structuredClone(good) as unknown as { version: string };
  bad3.version = '2.0.0';
  assert.equal(validate(bad3), false);
  const bad4 = structuredClone(good);
  bad4.runs[0]!.tool.driver.rules[0]!.helpUri = 'no scheme here';
  assert.equal(validate(bad4), false, 'formats (uri) are checked too');
});

test('SARIF is valid against the official 2.1.0 schema, for normal, hostile and empty reports', async () => {
  const writer = await loadWriter('sarif');
  assertValid(writer.write(assessmentReport()));
  assertValid(writer.write(assessmentReport({ hostile: HOSTILE })));
  const empty: ScanReport = {
    tool: { name: 'hyperward', version: '0.1.0' },
    createdAt: 'not a date',
    results: [],
  };
  const log = assertValid(writer.write(empty));
  assert.deepEqual(log.runs[0]!.results, []);
  assert.deepEqual(log.runs[0]!.tool.driver.rules, []);
});

test('one rule per check that produced a finding, with GitHub security-severity and references', () => {
  const report = assessmentReport();
  const log = toSarif(report, {
    rationale: (id) => (id === 'vm-8.vmrc-lock' ? 'Unlocked consoles leak.' : undefined),
  });
  const run = log.runs[0]!;
  const findings = allFindings(report);
  const checkIds = [...new Set(findings.map((f) => f.checkId))].sort();
  assert.deepEqual(
    run.tool.driver.rules.map((r) => r.id),
    checkIds,
  );
  for (const rule of run.tool.driver.rules) {
    const f = findings.find((x) => x.checkId === rule.id)!;
    assert.equal(rule.shortDescription.text, f.title);
    assert.equal(rule.properties['security-severity'], SECURITY_SEVERITY[f.severity]);
    const sev = Number(rule.properties['security-severity'] ?? 'NaN');
    if (f.severity === 'critical') assert.ok(sev >= 9.0);
    if (f.severity === 'high') assert.ok(sev >= 7.0 && sev < 9.0);
    if (f.severity === 'medium') assert.ok(sev >= 4.0 && sev < 7.0);
    if (f.severity === 'low') assert.ok(sev > 0 && sev < 4.0);
    if (f.remediation) assert.ok(rule.help.text.startsWith(f.remediation));
    for (const ref of f.references ?? []) {
      if (ref.type === 'vmware-scg') assert.ok(rule.properties.tags.includes(`VMware SCG 8 ${ref.id}`));
      if (ref.type === 'nist-800-125a')
        assert.ok(rule.properties.tags.includes(`NIST SP 800-125A Rev. 1 ${ref.id}`));
    }
    const url = f.references?.find((r) => r.url?.startsWith('https://'))?.url;
    assert.equal(rule.helpUri, url);
  }
  assert.equal(
    run.tool.driver.rules.find((r) => r.id === 'vm-8.vmrc-lock')!.fullDescription.text,
    'Unlocked consoles leak.',
  );
  assert.equal(run.tool.driver.name, 'hyperward');
  assert.equal(run.tool.driver.version, report.tool.version);
});

/** The SARIF result of a finding (passing findings have none unless asked for). */
function resultFor(
  results: readonly SarifResult[],
  f: { id: string; checkId: string },
): SarifResult | undefined {
  return results.find((x) => x.partialFingerprints[FINGERPRINT_KEY] === f.id && x.ruleId === f.checkId);
}

test('every finding that did not pass is a result: kind, level, suppression and fingerprint follow its status', () => {
  const report = assessmentReport();
  const findings = allFindings(report);
  const statuses = new Set(findings.map((f) => f.status));
  assert.deepEqual(
    [...statuses].sort(),
    ['fail', 'pass', 'unknown', 'waived'],
    'the fixture covers every status',
  );
  assert.ok(
    findings.some((f) => f.waiver?.expired),
    'the fixture has an expired waiver',
  );
  const passing = findings.filter((f) => f.status === 'pass');
  for (const includePassing of [false, true]) {
    const run = toSarif(report, { includePassing }).runs[0]!;
    const expected = includePassing ? findings : findings.filter((f) => f.status !== 'pass');
    assert.equal(run.results.length, expected.length);
    assert.equal(run.properties.passed, passing.length, 'passes are counted either way');
    assert.equal(run.properties.passingResults, includePassing ? 'included' : 'omitted');
    expected.forEach((f, i) => {
      const r = run.results[i]!;
      assert.equal(r.ruleId, f.checkId);
      assert.equal(run.tool.driver.rules[r.ruleIndex]!.id, f.checkId);
      assert.equal(r.partialFingerprints[FINGERPRINT_KEY], f.id);
      assert.equal(r.message.text, f.message);
      const expectKind = {
        fail: 'fail',
        waived: 'fail',
        suppressed: 'fail',
        unknown: 'review',
        pass: 'pass',
      }[f.status];
      assert.equal(r.kind, expectKind, `${f.checkId} ${f.status}`);
      if (r.kind === 'fail') {
        assert.equal(
          r.level,
          { critical: 'error', high: 'error', medium: 'warning', low: 'note', info: 'note' }[f.severity],
        );
      } else {
        assert.equal(r.level, 'none');
      }
      if (f.status === 'waived') {
        assert.equal(r.suppressions?.length, 1);
        assert.equal(r.suppressions![0]!.kind, 'external');
        assert.equal(r.suppressions![0]!.status, 'accepted');
        assert.equal(r.suppressions![0]!.justification, f.waiver!.justification);
      } else if (f.waiver?.expired) {
        assert.equal(r.suppressions![0]!.status, 'rejected', 'an expired waiver suppresses nothing');
      } else {
        assert.equal(r.suppressions, undefined);
      }
    });
  }
});

test('passing findings are left out by default, through the writer too', async () => {
  const report = assessmentReport();
  const passing = allFindings(report).filter((f) => f.status === 'pass');
  assert.ok(passing.length > 0);
  const log = assertValid((await loadWriter('sarif')).write(report));
  const run = log.runs[0]!;
  assert.ok(run.results.every((r) => r.kind !== 'pass'));
  for (const f of passing) assert.equal(resultFor(run.results, f), undefined, f.checkId);
  assert.equal(run.properties.passed, passing.length);
  assertValid(JSON.stringify(toSarif(report, { includePassing: true })));
});

test('locations: the evidence file and line, relative paths stay relative, the resource as a logical location', () => {
  const report = assessmentReport();
  const run = toSarif(report, { includePassing: true }).runs[0]!;
  report.results.forEach((res, i) => {
    for (const f of res.findings) {
      const r = resultFor(run.results, f)!;
      const loc = r.locations[0]!;
      assert.equal(loc.logicalLocations![0]!.name, f.resource.id);
      const { uri, uriBaseId } = loc.physicalLocation!.artifactLocation;
      const file = f.evidence?.file ?? res.target;
      if (res.kind === 'host' && f.evidence?.file !== undefined && !file.includes('://')) {
        // A host's file is not a file of the scanning machine: relative to the target's root.
        assert.equal(uriBaseId, targetBaseId(i));
        assert.doesNotMatch(uri, /^[a-z]+:|^\//i, 'relative to the target root, never file:// here');
        assert.equal(decodeURIComponent(uri), file.replace(/^\/+/, ''));
      } else if (file.startsWith('/')) {
        assert.equal(uriBaseId, undefined);
        assert.equal(fileURLToPath(uri), file);
      } else if (!file.includes('://')) {
        assert.equal(uriBaseId, undefined);
        assert.doesNotMatch(uri, /^[a-z]+:/i, 'a relative path stays a relative reference');
        assert.equal(decodeURIComponent(uri), file);
      }
      if (f.evidence?.line !== undefined)
        assert.equal(loc.physicalLocation!.region!.startLine, f.evidence.line);
      else assert.equal(loc.physicalLocation!.region, undefined);
    }
  });
  // The fixture's host has an absolute evidence path (/vmfs/...): it is made relative, not a file:// URI.
  const hostIndex = report.results.findIndex((x) => x.kind === 'host');
  assert.ok(
    run.results.some(
      (r) =>
        r.locations[0]!.physicalLocation?.artifactLocation.uriBaseId === targetBaseId(hostIndex) &&
        r.locations[0]!.physicalLocation.artifactLocation.uri.startsWith('vmfs/volumes/'),
    ),
  );
  assert.deepEqual(Object.keys(run.originalUriBaseIds ?? {}), [targetBaseId(hostIndex)]);
  const base = run.originalUriBaseIds![targetBaseId(hostIndex)]!;
  assert.equal(base.uri, undefined, 'a host read over SSH has no URI on the scanning machine');
  assert.ok(base.description.text.includes(report.results[hostIndex]!.target));
});

test('host targets: /etc/libvirt/qemu.conf of an SSH host, a directory root and a disk image, each under its own base', () => {
  const evidence = '/etc/libvirt/qemu.conf';
  const hostOf = (target: string): ScanReport['results'][number] => ({
    target,
    kind: 'host',
    packages: [],
    findings: [
      {
        id: `f-${target}`,
        checkId: 'kvm.host.example',
        title: 'An example',
        severity: 'high',
        status: 'fail',
        platform: 'kvm',
        resource: { type: 'host', id: 'host' },
        message: 'vnc_listen is 0.0.0.0',
        evidence: { file: evidence, line: 12, key: 'vnc_listen', value: '0.0.0.0' },
      },
    ],
  });
  const report: ScanReport = {
    tool: { name: 'hyperward', version: '0.1.0' },
    createdAt: '2026-11-26T12:00:00.000Z',
    results: [
      hostOf('ssh://root@kvm1.example.org'),
      hostOf('root:/srv/kvm 2 root'),
      hostOf('image:/var/lib/images/hv3.qcow2'),
      hostOf('root:relative/tree'),
      {
        ...hostOf('/srv/configs/web.xml'),
        kind: 'config',
        findings: hostOf('x').findings.map((f) => ({
          ...f,
          id: 'cfg',
          evidence: { ...f.evidence!, file: '/srv/configs/web.xml' },
        })),
      },
    ],
  };
  const log = assertValid(JSON.stringify(toSarif(report)));
  const run = log.runs[0]!;
  assert.equal(run.results.length, 5);
  for (let i = 0; i < 4; i++) {
    const a = run.results[i]!.locations[0]!.physicalLocation!.artifactLocation;
    assert.deepEqual(a, { uri: 'etc/libvirt/qemu.conf', uriBaseId: `TARGET${i}` });
    assert.equal(run.results[i]!.locations[0]!.physicalLocation!.region!.startLine, 12);
  }
  const bases = run.originalUriBaseIds!;
  assert.deepEqual(Object.keys(bases), ['TARGET0', 'TARGET1', 'TARGET2', 'TARGET3']);
  assert.equal(bases.TARGET0!.uri, undefined);
  assert.match(bases.TARGET0!.description.text, /ssh:\/\/root@kvm1\.example\.org/);
  // Only a local directory root is a real place on the scanning machine; its URI ends with a slash.
  assert.equal(bases.TARGET1!.uri, 'file:///srv/kvm%202%20root/');
  assert.equal(
    fileURLToPath(new URL('etc/libvirt/qemu.conf', bases.TARGET1!.uri)),
    `/srv/kvm 2 root${evidence}`,
  );
  assert.match(bases.TARGET1!.description.text, /\/srv\/kvm 2 root/);
  assert.equal(bases.TARGET2!.uri, undefined);
  assert.match(bases.TARGET2!.description.text, /disk image \/var\/lib\/images\/hv3\.qcow2/);
  assert.equal(bases.TARGET3!.uri, undefined, 'a relative root has no absolute URI to give');
  // A config file target is a local file: an absolute file:// URI, as before.
  assert.deepEqual(run.results[4]!.locations[0]!.physicalLocation!.artifactLocation, {
    uri: 'file:///srv/configs/web.xml',
  });
});

test('a target that could not be read is a tool execution notification', () => {
  const report = assessmentReport();
  const inv = toSarif(report).runs[0]!.invocations[0]!;
  const broken = report.results.filter((r) => r.error);
  assert.equal(inv.toolExecutionNotifications.length, broken.length);
  assert.ok(broken.length > 0);
  assert.match(inv.toolExecutionNotifications[0]!.message.text, new RegExp(broken[0]!.error!.code));
  assert.equal(inv.endTimeUtc, report.createdAt);
});

test('toUri gives a valid uri-reference for any string and never throws', () => {
  const isUriRef = ajv.compile({ type: 'string', format: 'uri-reference' });
  fc.assert(
    fc.property(fc.oneof(fc.string({ unit: 'binary' }), fc.webPath(), fc.webUrl()), (s) => {
      const u = toUri(s);
      assert.ok(isUriRef(u), `${JSON.stringify(s)} -> ${JSON.stringify(u)}`);
    }),
    { numRuns: 500 },
  );
  assert.equal(toUri('etc/libvirt/qemu.conf'), 'etc/libvirt/qemu.conf');
  assert.equal(toUri('/vmfs/volumes/ds 1/a#b.vmx'), 'file:///vmfs/volumes/ds%201/a%23b.vmx');
  assert.equal(toUri('C:\\VMs\\web.vmx'), 'file:///C:/VMs/web.vmx');
  assert.equal(toUri('a:b/c'), 'a%3Ab/c', 'a colon in the first segment must not read as a scheme');
  assert.equal(toUri('vsphere://vc.example.org'), 'vsphere://vc.example.org');
});

test('vulnerabilities: valid SARIF, one rule per id rated by its highest CVSS score, package locations, VEX', () => {
  assertValid(JSON.stringify(toSarif(vulnerabilityReport({ hostile: HOSTILE }))));
  const report = vulnerabilityReport();
  const log = assertValid(JSON.stringify(toSarif(report)));
  const run = log.runs[0]!;
  const vulnFindings = report.results.flatMap((r) => r.findings.filter((f) => f.vulnerability));
  const byId = new Map<string, typeof vulnFindings>();
  for (const f of vulnFindings) byId.set(f.checkId, [...(byId.get(f.checkId) ?? []), f]);
  for (const [id, findings] of byId) {
    const rules = run.tool.driver.rules.filter((r) => r.id === id);
    assert.equal(rules.length, 1, `one rule for ${id}`);
    const rule = rules[0]!;
    assert.deepEqual(rule.properties.tags, ['security', 'vulnerability']);
    // The highest base score, computed from the vectors by the calculator, not read back from the report.
    const best = Math.max(
      ...findings.flatMap((f) =>
        f.vulnerability!.cvss.map((c) => {
          const calc =
            c.version === '2.0'
              ? new cvss.Cvss2(c.vector)
              : c.version === '3.1'
                ? new cvss.Cvss3P1(c.vector)
                : c.version === '3.0'
                  ? new cvss.Cvss3P0(c.vector)
                  : new cvss.Cvss4P0(c.vector);
          return Number(calc.calculateScores().base);
        }),
      ),
    );
    assert.equal(rule.properties['security-severity'], best.toFixed(1), id);
    assert.equal(rule.helpUri, findings[0]!.references![0]!.url);
  }
  assert.equal(
    run.tool.driver.rules.find((r) => r.id === 'CVE-2024-5535')!.properties['security-severity'],
    '9.1',
  );

  const image = run.results.filter((r) => r.properties.target === report.results[0]!.target);
  for (const [i, r] of report.results.entries()) {
    for (const f of r.findings.filter((x) => x.vulnerability)) {
      const res = run.results.find((x) => x.ruleId === f.checkId && x.properties.target === r.target)!;
      const v = f.vulnerability!;
      // The package database, inside the target, and the package as a logical location.
      assert.deepEqual(res.locations[0]!.physicalLocation!.artifactLocation, {
        uri: 'var/lib/dpkg/status',
        uriBaseId: targetBaseId(i),
      });
      assert.deepEqual(res.locations[0]!.logicalLocations![0]!.name, v.package.name);
      assert.equal(res.locations[0]!.logicalLocations![0]!.kind, 'package');
      assert.ok(res.message.text.includes(v.installedVersion), res.message.text);
      if (v.fixedVersion) assert.ok(res.message.text.includes(v.fixedVersion), res.message.text);
      else assert.match(res.message.text, /no fix yet|will not be fixed/);
      if (f.status === 'suppressed') {
        assert.equal(res.kind, 'fail');
        assert.equal(res.suppressions?.length, 1);
        assert.equal(res.suppressions![0]!.kind, 'external');
        assert.equal(res.suppressions![0]!.status, 'accepted');
        assert.ok(res.suppressions![0]!.justification.includes(v.vex!.statement!));
        assert.ok(res.suppressions![0]!.justification.includes(v.vex!.justification!));
      } else {
        assert.equal(res.suppressions, undefined);
      }
    }
  }
  assert.equal(image.length, 4);
  // Both targets have a base: a host as before, and now the image whose package database the results point into.
  assert.deepEqual(Object.keys(run.originalUriBaseIds ?? {}).sort(), [targetBaseId(0), targetBaseId(1)]);
  assert.match(
    run.originalUriBaseIds![targetBaseId(0)]!.description.text,
    /inside the disk image images\/vm1\.qcow2/,
  );
  assert.equal(run.originalUriBaseIds![targetBaseId(0)]!.uri, undefined);
});

test('helpUri gives a valid RFC 3986 uri for any http(s) URL, and nothing for other strings', () => {
  const isUri = ajv.compile({ type: 'string', format: 'uri' });
  fc.assert(
    fc.property(
      fc.oneof(
        fc.webUrl({ withQueryParameters: true, withFragments: true }),
        fc.string({ unit: 'binary' }).map((s) => `https://security-tracker.debian.org/tracker/${s}`),
        fc.string({ unit: 'binary' }),
      ),
      (s) => {
        const u = helpUri(s);
        if (u === undefined) return;
        assert.ok(isUri(u), `${JSON.stringify(s)} -> ${JSON.stringify(u)}`);
        assert.equal(new URL(u).origin, new URL(s).origin);
      },
    ),
    { numRuns: 500 },
  );
  assert.equal(helpUri('javascript:alert(1)'), undefined);
  assert.equal(helpUri('https://example.org/a]b|c'), 'https://example.org/a%5Db%7Cc');
});
