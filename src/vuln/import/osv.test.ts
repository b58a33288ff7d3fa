import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { isHyperwardError } from '../../errors.js';
import { onlyHyperwardErrors } from '../../../test/helpers/fuzz.js';
import { normalizeEcosystem } from '../ecosystem.js';
import { MAX_DETAILS } from '../types.js';
import { normalizeRating, parseOsvRecord } from './osv.js';

const FIXTURES = new URL('../../../fixtures/advisories/osv/', import.meta.url).pathname;

/** Every real OSV record under fixtures/advisories/osv, parsed with plain JSON.parse (the independent reading). */
function fixtureRecords(): Array<{ file: string; json: Record<string, unknown> }> {
  const out: Array<{ file: string; json: Record<string, unknown> }> = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.json')) out.push({ file: p, json: JSON.parse(readFileSync(p, 'utf8')) });
    }
  };
  try {
    walk(FIXTURES);
  } catch {
    // no fixtures yet
  }
  return out;
}

/** A minimal record around one affected entry, as the schema's examples write them. */
function record(affected: unknown[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { id: 'DSA-0000-1', modified: '2024-01-02T03:04:05Z', affected, ...extra };
}

function debianEntry(ranges: unknown, versions?: unknown): Record<string, unknown> {
  const e: Record<string, unknown> = { package: { ecosystem: 'Debian:12', name: 'openssl' }, ranges };
  if (versions !== undefined) e.versions = versions;
  return e;
}

test("the schema's range examples keep their events in order: unfixed, fixed, multiple ranges, last_affected", () => {
  const cases: Array<{ events: unknown[]; expect: unknown[] }> = [
    { events: [{ introduced: '0' }], expect: [{ introduced: '0' }] },
    { events: [{ introduced: '0' }, { fixed: '1.0.2' }], expect: [{ introduced: '0' }, { fixed: '1.0.2' }] },
    {
      events: [{ introduced: '1.0.0' }, { fixed: '1.0.2' }, { introduced: '3.0.0' }, { fixed: '3.2.5' }],
      expect: [{ introduced: '1.0.0' }, { fixed: '1.0.2' }, { introduced: '3.0.0' }, { fixed: '3.2.5' }],
    },
    {
      events: [{ introduced: '0' }, { last_affected: '2.1.214' }],
      expect: [{ introduced: '0' }, { last_affected: '2.1.214' }],
    },
  ];
  for (const c of cases) {
    const { advisory, issues } = parseOsvRecord(
      record([debianEntry([{ type: 'ECOSYSTEM', events: c.events }])]),
      'x',
    );
    assert.deepEqual(issues, []);
    assert.deepEqual(advisory?.affected[0]?.ranges, [c.expect]);
  }
});

test('only ECOSYSTEM ranges are kept; GIT and SEMVER ranges and limit events are dropped', () => {
  const { advisory } = parseOsvRecord(
    record([
      debianEntry([
        { type: 'GIT', repo: 'https://example.org/r.git', events: [{ introduced: 'abc' }, { fixed: 'def' }] },
        { type: 'SEMVER', events: [{ introduced: '0' }, { fixed: '1.0.0' }] },
        { type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '3.0.11-1~deb12u1' }, { limit: '*' }] },
      ]),
    ]),
    'x',
  );
  assert.deepEqual(advisory?.affected[0]?.ranges, [[{ introduced: '0' }, { fixed: '3.0.11-1~deb12u1' }]]);
});

test('the schema\'s rule "one type per event" and "at least one introduced" drop the entry, not the record', () => {
  for (const events of [
    [{ introduced: '1.0.0', fixed: '1.0.2' }],
    [{ fixed: '1.0.2' }],
    [{ introduced: '0' }, { broken: '1' }],
  ]) {
    const r = parseOsvRecord(
      record([
        debianEntry([{ type: 'ECOSYSTEM', events }]),
        {
          package: { ecosystem: 'Debian:11', name: 'openssl' },
          ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }] }],
        },
      ]),
      'rec.json',
    );
    assert.equal(r.advisory?.affected.length, 1);
    assert.equal(r.advisory?.affected[0]?.distro, 'debian:11');
    assert.equal(r.issues.length, 1);
    assert.match(r.issues[0]!.message, /dropped/);
    assert.equal(r.issues[0]!.file, 'rec.json');
  }
});

test('an absurd version string drops its entry with an issue; the record keeps what is left', () => {
  const absurd = ['1.0 ; rm -rf /', 'x'.repeat(100_000), '\u001b[31mred', '', 'a:b:c-'];
  for (const v of absurd) {
    const r = parseOsvRecord(
      record([
        debianEntry([{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: v }] }]),
        debianEntry([{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '1.1.1n-0+deb11u5' }] }]),
      ]),
      'x',
    );
    assert.equal(r.advisory?.affected.length, 1, JSON.stringify(v.slice(0, 20)));
    assert.equal(r.issues.length, 1);
    assert.ok(r.issues[0]!.message.length < 400, 'the absurd string is not echoed whole');
  }
  // Listed versions are checked too; RPM and apk by their own rules.
  const rpm = parseOsvRecord(
    record([
      { package: { ecosystem: 'Rocky Linux:9', name: 'bash' }, versions: ['5.1.8-6.el9_1', 'bad version'] },
    ]),
    'x',
  );
  assert.equal(rpm.advisory, undefined);
  assert.equal(
    rpm.ignored,
    undefined,
    'a record whose known entries were all dropped is reported, not "ignored"',
  );
  assert.equal(rpm.issues.length, 1);
  const apk = parseOsvRecord(
    record([
      {
        package: { ecosystem: 'Alpine:v3.19', name: 'openssl' },
        ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '3.1.4-r1' }] }],
      },
    ]),
    'x',
  );
  assert.deepEqual(apk.advisory?.affected[0]?.distro, 'alpine:3.19');
  assert.equal(apk.advisory?.affected[0]?.scheme, 'apk');
});

test('records about other ecosystems are ignored; mixed records keep only the distributions', () => {
  const npm = parseOsvRecord(
    record([
      {
        package: { ecosystem: 'npm', name: 'lodash' },
        ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }] }],
      },
    ]),
    'x',
  );
  assert.deepEqual(npm, { ignored: true, issues: [] });
  assert.deepEqual(parseOsvRecord(record([]), 'x'), { ignored: true, issues: [] });
  const mixed = parseOsvRecord(
    record([
      { package: { ecosystem: 'PyPI', name: 'x' }, versions: ['1.0'] },
      { package: { ecosystem: 'Debian:13', name: 'x' }, versions: ['1.0-1'] },
    ]),
    'x',
  );
  assert.deepEqual(
    mixed.advisory?.affected.map((a) => a.ecosystem),
    ['Debian:13'],
  );
});

test('fields: id and modified are required, timestamps checked, text cleaned and capped, aliases kept', () => {
  for (const bad of [
    null,
    [],
    'x',
    { modified: '2024-01-01T00:00:00Z' },
    { id: 'X-1' },
    { id: 'X 1', modified: '2024-01-01T00:00:00Z' },
    { id: 'X-1', modified: 'yesterday' },
    { id: 'X-1', modified: '2024-01-01T00:00:00Z', affected: {} },
    { id: 'X-1', modified: '2024-01-01T00:00:00Z', aliases: 'CVE-1' },
    { id: 'X-1', modified: '2024-01-01T00:00:00Z', summary: 7 },
  ]) {
    assert.throws(
      () => parseOsvRecord(bad, 'bad.json'),
      (e: unknown) => isHyperwardError(e) && e.code === 'E_CONFIG_SYNTAX' && e.message.includes('bad.json'),
      JSON.stringify(bad),
    );
  }
  assert.throws(
    () =>
      parseOsvRecord(record([], { aliases: Array.from({ length: 5000 }, (_, i) => `CVE-2024-${i}`) }), 'x'),
    (e: unknown) => isHyperwardError(e) && e.code === 'E_LIMIT',
  );
  const { advisory } = parseOsvRecord(
    record([debianEntry([{ type: 'ECOSYSTEM', events: [{ introduced: '0' }] }])], {
      summary: 'evil \u001b]0;title\u0007 summary',
      details: 'd'.repeat(MAX_DETAILS * 3),
      aliases: ['CVE-2024-1', 'CVE-2024-1', 'not an id', 'DSA-0000-1'],
      upstream: ['CVE-2024-2'],
      related: ['CVE-2024-3', 'CVE-2024-2'],
      references: [
        { type: 'ADVISORY', url: 'https://www.debian.org/security/dsa-0000' },
        { type: 'WEB', url: 'javascript:alert(1)' },
        { type: 'WEB', url: 42 },
      ],
      published: '2024-01-01T00:00:00Z',
    }),
    'x',
  );
  assert.ok(advisory);
  assert.equal(advisory.key, 'osv:DSA-0000-1');
  assert.equal(advisory.summary, 'evil ]0;title summary');
  assert.equal(advisory.details?.length, MAX_DETAILS);
  assert.deepEqual(advisory.aliases, ['CVE-2024-1']);
  assert.deepEqual(advisory.upstream, ['CVE-2024-2']);
  assert.deepEqual(advisory.related, ['CVE-2024-3', 'CVE-2024-2']);
  assert.deepEqual(advisory.references, [
    { type: 'ADVISORY', url: 'https://www.debian.org/security/dsa-0000' },
  ]);
  assert.equal(advisory.published, '2024-01-01T00:00:00Z');
});

test('withdrawn records are kept and flagged, even with nothing left to match', () => {
  const r = parseOsvRecord(
    { id: 'GHSA-xxxx', modified: '2024-01-01T00:00:00Z', withdrawn: '2024-02-01T00:00:00Z' },
    'x',
  );
  assert.equal(r.advisory?.withdrawn, '2024-02-01T00:00:00Z');
  assert.deepEqual(r.advisory?.affected, []);
});

test('severity: CVSS v2/v3/v4 vectors kept once each, Ubuntu priority and Red Hat ratings as the distro rating', () => {
  const { advisory } = parseOsvRecord(
    record(
      [
        {
          package: {
            ecosystem: 'Red Hat:enterprise_linux:9::appstream',
            name: 'nodejs',
            purl: 'pkg:rpm/redhat/nodejs?arch=x86_64&rpmmod=nodejs:18:9020020230905123456:abcdef12',
          },
          ranges: [
            {
              type: 'ECOSYSTEM',
              events: [{ introduced: '0' }, { fixed: '1:18.17.1-1.module+el9.2.0+19753+58118bb0' }],
            },
          ],
          severity: [
            { type: 'CVSS_V4', score: 'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N' },
          ],
        },
      ],
      {
        id: 'RHSA-2023:5360',
        summary: 'Important: nodejs:18 security update',
        severity: [
          { type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:C/C:H/I:N/A:N' },
          { type: 'CVSS_V2', score: 'AV:L/AC:M/Au:N/C:N/I:P/A:C' },
          { type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:C/C:H/I:N/A:N' },
          { type: 'Ubuntu', score: 'Medium' },
          { type: 'CVSS_V3', score: 'CVSS:3.1/AV:N <script>' },
        ],
      },
    ),
    'x',
  );
  assert.ok(advisory);
  assert.deepEqual(
    advisory.severity.map((s) => s.type),
    ['CVSS_V3', 'CVSS_V2', 'CVSS_V4'],
  );
  // The Ubuntu severity type and the Red Hat summary prefix both rate the record; the higher wins.
  assert.equal(advisory.distroSeverity, 'important');
  const a = advisory.affected[0]!;
  assert.equal(a.distro, 'rhel:9');
  assert.equal(a.scheme, 'rpm');
  assert.equal(a.module, 'nodejs:18');
  assert.deepEqual(a.arches, ['x86_64']);
});

test('ecosystem_specific architecture and module restrictions; Debian urgency per package', () => {
  const { advisory } = parseOsvRecord(
    record([
      {
        package: { ecosystem: 'AlmaLinux:8', name: 'kernel' },
        ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '4.18.0-513.5.1.el8_9' }] }],
        ecosystem_specific: {
          arches: ['x86_64', 'aarch64', 'noarch', 'x86_64'],
          module: 'container-tools:rhel8',
        },
      },
      {
        package: { ecosystem: 'Debian:12', name: 'openssl', purl: 'pkg:deb/debian/openssl?arch=source' },
        ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }] }],
        ecosystem_specific: { urgency: 'medium**' },
      },
    ]),
    'x',
  );
  const [alma, deb] = advisory!.affected;
  assert.deepEqual(alma?.arches, ['x86_64', 'aarch64']);
  assert.equal(alma?.module, 'container-tools:rhel8');
  assert.equal(deb?.arches, undefined, 'arch=source is no restriction');
  assert.equal(deb?.distroSeverity, 'medium');
});

test('RPM records naming a source package get an entry per binary listed in ecosystem_specific.binaries', () => {
  // The schema: SUSE / openSUSE name the source RPM and list its binaries in ecosystem_specific.binaries.
  const { advisory } = parseOsvRecord(
    record([
      {
        package: {
          ecosystem: 'SUSE:Linux Enterprise Server 15 SP5',
          name: 'openssl-3',
          purl: 'pkg:rpm/suse/openssl-3',
        },
        ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '3.0.8-150500.5.20.1' }] }],
        ecosystem_specific: {
          binaries: [{ libopenssl3: '3.0.8-150500.5.20.1', 'openssl-3': '3.0.8-150500.5.20.1' }],
        },
      },
      {
        package: { ecosystem: 'openSUSE:Leap 15.5', name: 'curl' },
        ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '8.0.1-150400.5.41.1' }] }],
        ecosystem_specific: { binaries: ['libcurl4', 'curl', 'bad name'] },
      },
      {
        package: { ecosystem: 'Ubuntu:22.04:LTS', name: 'glibc' },
        ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '2.35-0ubuntu3.4' }] }],
        ecosystem_specific: { binaries: [{ binary_name: 'libc6', binary_version: '2.35-0ubuntu3.4' }] },
      },
    ]),
    'x',
  );
  assert.deepEqual(
    advisory!.affected.map((a) => `${a.distro} ${a.package} ${JSON.stringify(a.ranges)}`),
    [
      'sles:15.5 openssl-3 [[{"introduced":"0"},{"fixed":"3.0.8-150500.5.20.1"}]]',
      'sles:15.5 libopenssl3 [[{"introduced":"0"},{"fixed":"3.0.8-150500.5.20.1"}]]',
      'opensuse-leap:15.5 curl [[{"introduced":"0"},{"fixed":"8.0.1-150400.5.41.1"}]]',
      'opensuse-leap:15.5 libcurl4 [[{"introduced":"0"},{"fixed":"8.0.1-150400.5.41.1"}]]',
      // Debian-family feeds are matched by source package: no binary entries.
      'ubuntu:22.04 glibc [[{"introduced":"0"},{"fixed":"2.35-0ubuntu3.4"}]]',
    ],
  );
});

test('rating words: the tracker\'s stars go, "not yet assigned" is none', () => {
  assert.equal(normalizeRating('low*'), 'low');
  assert.equal(normalizeRating('Important'), 'important');
  assert.equal(normalizeRating('not yet assigned'), undefined);
  assert.equal(normalizeRating('<script>'), undefined);
  assert.equal(normalizeRating(3), undefined);
});

test('real records (fixtures/advisories/osv): entries, fixed versions and ratings as the files say', () => {
  const records = fixtureRecords();
  assert.ok(records.length >= 3, 'the Ubuntu fixtures are present');
  for (const { file, json } of records) {
    const r = parseOsvRecord(json, file);
    assert.deepEqual(r.issues, [], file);
    const raw = (json.affected as Array<Record<string, any>>) ?? []; // eslint-disable-line @typescript-eslint/no-explicit-any
    const known = raw.filter((a) => normalizeEcosystem(a.package?.ecosystem ?? '') !== undefined);
    if (known.length === 0 && typeof json.withdrawn === 'string') {
      // Kept, so that a re-import replaces the record it withdraws; the matcher skips it.
      assert.equal(r.advisory?.withdrawn, json.withdrawn, file);
      continue;
    }
    if (known.length === 0) {
      assert.equal(r.ignored, true, file);
      continue;
    }
    const adv = r.advisory!;
    assert.equal(adv.id, json.id);
    assert.equal(adv.modified, json.modified);
    // Each entry of the file is there, in order (RPM binaries may follow their source package's entry).
    let at = 0;
    known.forEach((a) => {
      while (at < adv.affected.length && adv.affected[at]!.package !== a.package.name) at++;
      const got = adv.affected[at++];
      assert.ok(got, `${file}: ${a.package.ecosystem} ${a.package.name}`);
      assert.equal(got.ecosystem, a.package.ecosystem);
      const fixedIn = (a.ranges ?? [])
        .filter((x: { type: string }) => x.type === 'ECOSYSTEM')
        .flatMap((x: { events: Array<Record<string, string>> }) =>
          x.events.map((e) => e.fixed).filter(Boolean),
        );
      assert.deepEqual(
        got.ranges.flat().flatMap((e) => ('fixed' in e ? [e.fixed] : [])),
        fixedIn,
      );
      assert.deepEqual(got.versions, a.versions ?? []);
      const prio = a.ecosystem_specific?.ubuntu_priority;
      if (typeof prio === 'string') assert.equal(got.distroSeverity, prio.toLowerCase());
    });
    assert.ok(adv.affected.every((g) => known.some((a) => a.package.ecosystem === g.ecosystem)));
    // Every CVSS vector of the file is kept.
    const vectors = new Set<string>();
    JSON.stringify(json, (k, v) => {
      if (v && typeof v === 'object' && /^CVSS_V[234]$/.test(v.type) && typeof v.score === 'string')
        vectors.add(v.score);
      return v;
    });
    assert.deepEqual(new Set(adv.severity.map((s) => s.vector)), vectors, file);
  }
});

test('the UBUNTU-CVE fixture names its CVE as an alias; the USN points at its CVEs through upstream', () => {
  const cve = fixtureRecords().find((r) => r.json.id === 'UBUNTU-CVE-2023-22809');
  const usn = fixtureRecords().find((r) => r.json.id === 'USN-5811-1');
  assert.ok(cve && usn);
  assert.deepEqual(parseOsvRecord(cve.json, cve.file).advisory?.aliases, ['CVE-2023-22809']);
  const u = parseOsvRecord(usn.json, usn.file).advisory!;
  assert.deepEqual(u.upstream, usn.json.upstream);
  // The notice's own rating: its CVEs' Ubuntu priorities in database_specific.cves_map.
  assert.equal(u.affected[0]?.distroSeverity, 'medium');
});

test('property: any JSON value is an advisory, ignored, or a HyperwardError — never a crash', () => {
  fc.assert(
    fc.property(fc.jsonValue({ maxDepth: 6 }), (v) =>
      onlyHyperwardErrors(() => void parseOsvRecord(v, 'fuzz.json')),
    ),
    { numRuns: 500 },
  );
  // Values shaped like records, with every field of a random type.
  const any = fc.jsonValue({ maxDepth: 3 });
  const shaped = fc.record(
    {
      id: fc.oneof(fc.constant('OSV-1'), any),
      modified: fc.oneof(fc.constant('2024-01-01T00:00:00Z'), any),
      aliases: any,
      severity: fc.oneof(
        any,
        fc.array(fc.record({ type: fc.constantFrom('CVSS_V3', 'Ubuntu', 'X'), score: any })),
      ),
      affected: fc.oneof(
        any,
        fc.array(
          fc.record(
            {
              package: fc.oneof(
                any,
                fc.record({
                  ecosystem: fc.constantFrom(
                    'Debian:12',
                    'Ubuntu:22.04:LTS',
                    'Alpine:v3.19',
                    'Rocky Linux:9',
                    'npm',
                  ),
                  name: any,
                  purl: any,
                }),
              ),
              ranges: fc.oneof(
                any,
                fc.array(
                  fc.record({
                    type: fc.constantFrom('ECOSYSTEM', 'GIT'),
                    events: fc.oneof(
                      any,
                      fc.array(fc.dictionary(fc.constantFrom('introduced', 'fixed', 'limit', 'x'), any)),
                    ),
                  }),
                ),
              ),
              versions: any,
              ecosystem_specific: any,
              database_specific: any,
            },
            { requiredKeys: [] },
          ),
        ),
      ),
    },
    { requiredKeys: [] },
  );
  fc.assert(
    fc.property(shaped, (v) => onlyHyperwardErrors(() => void parseOsvRecord(v, 'fuzz.json'))),
    { numRuns: 1000 },
  );
});

/** Replaces the value at a random path of `v` (chosen by `pick`) with `replacement`. */
function mutate(v: unknown, pick: number[], replacement: unknown): unknown {
  if (pick.length === 0 || v === null || typeof v !== 'object') return replacement;
  const keys = Object.keys(v as object);
  if (keys.length === 0) return replacement;
  const k = keys[pick[0]! % keys.length]!;
  const copy: Record<string, unknown> | unknown[] = Array.isArray(v)
    ? [...v]
    : { ...(v as Record<string, unknown>) };
  (copy as Record<string, unknown>)[k] = mutate(
    (v as Record<string, unknown>)[k],
    pick.slice(1),
    replacement,
  );
  return copy;
}

test('property: mutated real records never crash the parser', () => {
  const records = fixtureRecords();
  assert.ok(records.length > 0);
  fc.assert(
    fc.property(
      fc.nat({ max: records.length - 1 }),
      fc.array(fc.array(fc.nat(), { maxLength: 8 }), { minLength: 1, maxLength: 4 }),
      fc.array(fc.jsonValue({ maxDepth: 3 }), { minLength: 4, maxLength: 4 }),
      (i, paths, values) => {
        let v: unknown = records[i]!.json;
        paths.forEach((p, j) => (v = mutate(v, p, values[j])));
        onlyHyperwardErrors(() => void parseOsvRecord(v, 'mutated.json'));
      },
    ),
    { numRuns: 500 },
  );
});
