import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import cvss from 'ae-cvss-calculator';
import { allFindings, assessmentReport, HOSTILE } from '../../test/helpers/assessment.js';
import { loadWriter } from './index.js';
import {
  OCSF_VERSION,
  toOcsf,
  type OcsfComplianceFinding,
  type OcsfEvent,
  type OcsfVulnerabilityFinding,
} from './ocsf.js';
import { vulnerabilityReport } from './testdata/vulnerability-report.js';

interface AttrSpec {
  requirement: 'required' | 'recommended' | 'optional';
  type: string;
  is_array?: boolean;
  object_type?: string;
  profile?: string;
  enum?: Record<string, string>;
  deprecated_since?: string;
}
interface ObjSpec {
  attributes: Record<string, AttrSpec>;
  constraints?: { at_least_one?: string[] };
}
interface Facts {
  version: string;
  class: ObjSpec & { uid: number; category_uid: number; caption: string };
  objects: Record<string, ObjSpec>;
}

/** OCSF 1.3.0 facts for the Compliance Finding class, from the schema export (fixtures/schemas/README.md). */
const FACTS = JSON.parse(
  readFileSync(new URL('../../fixtures/schemas/ocsf-1.3.0-compliance-finding.json', import.meta.url), 'utf8'),
) as Facts;

/** Profiles the events declare (none): attributes required only by a profile do not apply. */
const APPLIED_PROFILES = new Set<string>();

function typeOk(t: string, v: unknown): boolean {
  switch (t) {
    case 'integer_t':
    case 'long_t':
    case 'timestamp_t':
      return typeof v === 'number' && Number.isSafeInteger(v);
    case 'string_t':
      return typeof v === 'string';
    case 'float_t':
      return typeof v === 'number' && Number.isFinite(v);
    case 'boolean_t':
      return typeof v === 'boolean';
    case 'url_t':
      return typeof v === 'string' && URL.canParse(v);
    case 'object_t':
      return typeof v === 'object' && v !== null && !Array.isArray(v);
    case 'json_t':
      return true;
    default:
      return false;
  }
}

/** Checks an object against its OCSF definition and recurses into the objects the fixture defines. */
function check(spec: ObjSpec, value: Record<string, unknown>, path: string, facts: Facts = FACTS): void {
  for (const [name, a] of Object.entries(spec.attributes)) {
    const applies = a.profile === undefined || APPLIED_PROFILES.has(a.profile);
    if (a.requirement === 'required' && applies) assert.ok(name in value, `${path}.${name} is required`);
  }
  for (const [name, v] of Object.entries(value)) {
    const a = spec.attributes[name];
    assert.ok(a, `${path}.${name} is not an attribute of OCSF ${facts.version}`);
    assert.equal(a.deprecated_since, undefined, `${path}.${name} is deprecated`);
    const items = a.is_array ? v : [v];
    assert.ok(Array.isArray(items), `${path}.${name} must be an array`);
    for (const [i, item] of items.entries()) {
      const where = a.is_array ? `${path}.${name}[${i}]` : `${path}.${name}`;
      assert.ok(typeOk(a.type, item), `${where}: ${JSON.stringify(item)} is not ${a.type}`);
      if (a.enum) assert.ok(String(item) in a.enum, `${where}: ${String(item)} is not in the enum`);
      const sub = a.object_type ? facts.objects[a.object_type] : undefined;
      if (sub) check(sub, item as Record<string, unknown>, where, facts);
    }
  }
  if (spec.constraints?.at_least_one) {
    assert.ok(
      spec.constraints.at_least_one.some((n) => value[n] !== undefined),
      `${path}: needs one of ${spec.constraints.at_least_one.join(', ')}`,
    );
  }
}

test('the OCSF facts are the 1.3.0 Compliance Finding class and the writer says 1.3.0', () => {
  assert.equal(FACTS.version, '1.3.0');
  assert.equal(OCSF_VERSION, FACTS.version);
  assert.equal(FACTS.class.uid, 2003);
  const required = Object.entries(FACTS.class.attributes)
    .filter(([, a]) => a.requirement === 'required' && a.profile === undefined)
    .map(([n]) => n)
    .sort();
  assert.deepEqual(required, [
    'activity_id',
    'category_uid',
    'class_uid',
    'compliance',
    'finding_info',
    'metadata',
    'severity_id',
    'time',
    'type_uid',
  ]);
});

test('every event is a valid OCSF 1.3.0 Compliance Finding: required attributes, types, enums', async () => {
  for (const report of [assessmentReport(), assessmentReport({ hostile: HOSTILE })]) {
    const text = (await loadWriter('ocsf')).write(report);
    const events = JSON.parse(text) as Array<Record<string, unknown>>;
    assert.ok(Array.isArray(events));
    assert.equal(events.length, allFindings(report).length + report.results.filter((r) => r.error).length);
    events.forEach((ev, i) => {
      check(FACTS.class, ev, `events[${i}]`);
      const c = FACTS.class.attributes;
      assert.equal(ev.class_uid, FACTS.class.uid);
      assert.equal(ev.category_uid, FACTS.class.category_uid);
      assert.equal(ev.type_uid, (ev.class_uid as number) * 100 + (ev.activity_id as number));
      // Names are the captions of their ids.
      assert.equal(ev.class_name, c.class_uid!.enum![String(ev.class_uid)]);
      assert.equal(ev.category_name, c.category_uid!.enum![String(ev.category_uid)]);
      assert.equal(ev.activity_name, c.activity_id!.enum![String(ev.activity_id)]);
      assert.equal(ev.type_name, c.type_uid!.enum![String(ev.type_uid)]);
      assert.equal(ev.severity, c.severity_id!.enum![String(ev.severity_id)]);
      assert.equal(ev.status, c.status_id!.enum![String(ev.status_id)]);
      const comp = ev.compliance as { status_id: number; status: string; standards: string[] };
      const compEnum = FACTS.objects.compliance!.attributes.status_id!.enum!;
      if (comp.status_id !== 99) assert.equal(comp.status, compEnum[String(comp.status_id)]);
      assert.ok(comp.standards.length > 0);
      assert.equal((ev.metadata as { version: string }).version, '1.3.0');
      assert.equal(ev.time, Date.parse(report.createdAt));
    });
  }
});

/** The event as a Compliance Finding; fails when it is of another class. */
function asCompliance(ev: OcsfEvent | undefined): OcsfComplianceFinding {
  assert.equal(ev?.class_uid, 2003);
  return ev as OcsfComplianceFinding;
}

test('statuses, severities, standards and ids map from the findings', () => {
  const report = assessmentReport();
  const events = toOcsf(report).map(asCompliance);
  const findings = allFindings(report);
  findings.forEach((f, i) => {
    const ev = events[i]!;
    assert.equal(ev.finding_info.uid, f.id);
    assert.equal(ev.finding_info.title, f.title);
    assert.equal(ev.compliance.control, f.checkId);
    assert.equal(ev.severity.toLowerCase().replace('informational', 'info'), f.severity);
    const compliance = {
      fail: 'Fail',
      unknown: 'Warning',
      pass: 'Pass',
      waived: 'Waived',
      suppressed: 'Suppressed',
    }[f.status];
    assert.equal(ev.compliance.status, compliance);
    const workflow = {
      fail: 'New',
      unknown: 'New',
      pass: 'Resolved',
      waived: 'Suppressed',
      suppressed: 'Suppressed',
    }[f.status];
    assert.equal(ev.status, workflow);
    assert.deepEqual(ev.resources, [
      {
        uid: f.resource.id,
        name: f.resource.id,
        type: f.resource.type,
        labels: [
          `target:${report.results.find((r) => r.findings.includes(f))!.target}`,
          ...(f.platform ? [`platform:${f.platform}`] : []),
        ],
      },
    ]);
    const std = new Set(ev.compliance.standards);
    for (const ref of f.references ?? []) {
      if (ref.type === 'nist-800-125a') assert.ok(std.has('NIST SP 800-125A Rev. 1'));
      if (ref.type === 'disa-stig') assert.ok(std.has('DISA STIG'));
      if (ref.type === 'vmware-scg') assert.ok(std.has('VMware SCG 8'));
    }
    if (!f.references?.length) assert.deepEqual(ev.compliance.standards, ['Hyperward']);
    if (f.remediation) assert.equal(ev.remediation!.desc, f.remediation);
    if (f.evidence) assert.deepEqual(ev.unmapped.hyperward.evidence, f.evidence);
  });
  const targetEvents = events.slice(findings.length);
  assert.equal(targetEvents.length, 1);
  assert.equal(targetEvents[0]!.compliance.status, 'Warning');
  assert.match(targetEvents[0]!.message, /E_IMAGE_CORRUPT/);
});

/**
 * OCSF 1.3.0 facts for the Vulnerability Finding class and the objects only it uses (`vulnerability`, `cve`, `cvss`,
 * `affected_package`), transcribed from the same schema export (testdata/README.md); the objects both classes
 * share (`finding_info`, `metadata`, `product`, `remediation`, `resource_details`) come from the fixture above.
 */
const VULN_FACTS_OWN = JSON.parse(
  readFileSync(new URL('./testdata/ocsf-1.3.0-vulnerability-finding.json', import.meta.url), 'utf8'),
) as Facts;
const VULN_FACTS: Facts = { ...VULN_FACTS_OWN, objects: { ...FACTS.objects, ...VULN_FACTS_OWN.objects } };

test('the Vulnerability Finding facts are OCSF 1.3.0 class 2002 with its required attributes', () => {
  assert.equal(VULN_FACTS.version, '1.3.0');
  assert.equal(VULN_FACTS.class.uid, 2002);
  const required = Object.entries(VULN_FACTS.class.attributes)
    .filter(([, a]) => a.requirement === 'required' && a.profile === undefined)
    .map(([n]) => n)
    .sort();
  assert.deepEqual(required, [
    'activity_id',
    'category_uid',
    'class_uid',
    'finding_info',
    'metadata',
    'severity_id',
    'time',
    'type_uid',
    'vulnerabilities',
  ]);
  for (const o of ['vulnerability', 'cve', 'cvss', 'affected_package', 'finding_info', 'remediation'])
    assert.ok(VULN_FACTS.objects[o], o);
});

test('vulnerability findings are valid OCSF 1.3.0 Vulnerability Findings; configuration findings stay Compliance', async () => {
  for (const report of [vulnerabilityReport(), vulnerabilityReport({ hostile: HOSTILE })]) {
    const events = JSON.parse((await loadWriter('ocsf')).write(report)) as Array<Record<string, unknown>>;
    const findings = report.results.flatMap((r) => r.findings);
    assert.equal(events.length, findings.length);
    events.forEach((ev, i) => {
      const facts = findings[i]!.vulnerability ? VULN_FACTS : FACTS;
      check(facts.class, ev, `events[${i}]`, facts);
      const c = facts.class.attributes;
      assert.equal(ev.class_uid, facts.class.uid);
      assert.equal(ev.type_uid, (ev.class_uid as number) * 100 + (ev.activity_id as number));
      assert.equal(ev.class_name, c.class_uid!.enum![String(ev.class_uid)]);
      assert.equal(ev.type_name, c.type_uid!.enum![String(ev.type_uid)]);
      assert.equal(ev.status, c.status_id!.enum![String(ev.status_id)]);
      assert.equal(ev.severity, c.severity_id!.enum![String(ev.severity_id)]);
    });
  }
});

test('vulnerability events: CVE, CVSS scores, the affected package with epoch and release, fix, VEX status', () => {
  const report = vulnerabilityReport();
  const events = toOcsf(report);
  const vulnEvents = events.filter((e): e is OcsfVulnerabilityFinding => e.class_uid === 2002);
  assert.equal(vulnEvents.length, 5);
  assert.ok(vulnEvents.every((e) => e.type_uid === 200201));
  const of = (id: string, target: string) =>
    vulnEvents.find((e) => e.vulnerabilities[0]!.cve.uid === id && e.unmapped.hyperward.target === target)!;
  const image = report.results[0]!.target;
  const ssl = of('CVE-2024-5535', image).vulnerabilities[0]!;
  assert.deepEqual(
    ssl.cve.cvss!.map((c) => [c.version, c.base_score, c.vector_string]),
    [
      [
        '3.1',
        Number(new cvss.Cvss3P1('CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:H').calculateScores().base),
        'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:H',
      ],
      [
        '4.0',
        Number(
          new cvss.Cvss4P0(
            'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:N/VA:H/SC:N/SI:N/SA:N',
          ).calculateScores().base,
        ),
        'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:N/VA:H/SC:N/SI:N/SA:N',
      ],
    ],
  );
  assert.deepEqual(ssl.affected_packages, [
    {
      name: 'libssl3',
      version: '3.0.11',
      release: '1~deb12u2',
      fixed_in_version: '3.0.15-1~deb12u1',
      purl: report.results[0]!.findings[0]!.vulnerability!.package.purl,
      architecture: 'amd64',
      package_manager: 'dpkg',
      type: 'Operating System',
      type_id: 2,
    },
  ]);
  assert.equal(ssl.is_fix_available, true);
  assert.equal(ssl.remediation?.desc, 'Upgrade libssl3 to 3.0.15-1~deb12u1');
  assert.deepEqual(ssl.related_vulnerabilities, ['DSA-5000-1', 'GHSA-4vq4-pq6g-x7w5']);
  assert.ok(ssl.references!.includes('https://nvd.nist.gov/vuln/detail/CVE-2024-5535'));
  assert.equal(ssl.cve.created_time, Date.parse('2024-06-27T11:15:24Z'));
  // bsdutils 1:2.38.1-5+deb12u3: epoch 1, upstream version 2.38.1, Debian revision 5+deb12u3.
  const bsd = of('CVE-2022-0563', image).vulnerabilities[0]!;
  assert.deepEqual(
    [bsd.affected_packages[0]!.epoch, bsd.affected_packages[0]!.version, bsd.affected_packages[0]!.release],
    [1, '2.38.1', '5+deb12u3'],
  );
  assert.equal(bsd.is_fix_available, false);
  assert.equal(bsd.affected_packages[0]!.fixed_in_version, undefined);
  assert.equal(bsd.severity, 'low', "the distribution's own rating");
  assert.equal(of('CVE-2023-50495', image).vulnerabilities[0]!.remediation, undefined);
  const glibc = of('CVE-2024-2961', image);
  assert.equal(glibc.status_id, 3);
  assert.equal(glibc.status, 'Suppressed');
  assert.match(glibc.status_detail, /vulnerable_code_not_in_execute_path/);
  assert.equal(of('CVE-2024-5535', 'ssh://root@kvm1.example.org').status_id, 1);
  const compliance = events.filter((e) => e.class_uid === 2003);
  assert.deepEqual(
    compliance.map((e) => e.finding_info.types[0]),
    ['kvm.host.vnc-listen'],
  );
});
