import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { allFindings, assessmentReport, HOSTILE } from '../../test/helpers/assessment.js';
import { loadWriter } from './index.js';
import { OCSF_VERSION, toOcsf } from './ocsf.js';

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
function check(spec: ObjSpec, value: Record<string, unknown>, path: string): void {
  for (const [name, a] of Object.entries(spec.attributes)) {
    const applies = a.profile === undefined || APPLIED_PROFILES.has(a.profile);
    if (a.requirement === 'required' && applies) assert.ok(name in value, `${path}.${name} is required`);
  }
  for (const [name, v] of Object.entries(value)) {
    const a = spec.attributes[name];
    assert.ok(a, `${path}.${name} is not an attribute of OCSF ${FACTS.version}`);
    assert.equal(a.deprecated_since, undefined, `${path}.${name} is deprecated`);
    const items = a.is_array ? v : [v];
    assert.ok(Array.isArray(items), `${path}.${name} must be an array`);
    for (const [i, item] of items.entries()) {
      const where = a.is_array ? `${path}.${name}[${i}]` : `${path}.${name}`;
      assert.ok(typeOk(a.type, item), `${where}: ${JSON.stringify(item)} is not ${a.type}`);
      if (a.enum) assert.ok(String(item) in a.enum, `${where}: ${String(item)} is not in the enum`);
      const sub = a.object_type ? FACTS.objects[a.object_type] : undefined;
      if (sub) check(sub, item as Record<string, unknown>, where);
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

test('statuses, severities, standards and ids map from the findings', () => {
  const report = assessmentReport();
  const events = toOcsf(report);
  const findings = allFindings(report);
  findings.forEach((f, i) => {
    const ev = events[i]!;
    assert.equal(ev.finding_info.uid, f.id);
    assert.equal(ev.finding_info.title, f.title);
    assert.equal(ev.compliance.control, f.checkId);
    assert.equal(ev.severity.toLowerCase().replace('informational', 'info'), f.severity);
    const compliance = { fail: 'Fail', unknown: 'Warning', pass: 'Pass', waived: 'Waived' }[f.status];
    assert.equal(ev.compliance.status, compliance);
    const workflow = { fail: 'New', unknown: 'New', pass: 'Resolved', waived: 'Suppressed' }[f.status];
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
