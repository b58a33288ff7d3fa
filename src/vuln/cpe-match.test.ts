import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { tempDir } from '../../test/helpers/tmp.js';
import { cpeCandidates } from '../appliance/cpe.js';
import { fingerprint } from '../model/finding.js';
import {
  compareDottedVersions,
  entryApplies,
  matchCpes,
  MAX_VERSION_LENGTH,
  parseCpe23,
  type CpeMatchEntry,
} from './cpe-match.js';
import { AdvisoryDb } from './db/store.js';
import { nvdRecords, parseNvdCve } from './import/nvd.js';
import { detectKind, importAdvisories } from './import/run.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
/** A real NVD record (fixtures/advisories/README.md): Apache Tomcat Realm timing, CVE-2016-0762. */
const CVE_0762 = join(REPO, 'fixtures', 'advisories', 'nvd', 'CVE-2016-0762.json');

const tomcat = (version: string): string => `cpe:2.3:a:apache:tomcat:${version}:*:*:*:*:*:*:*`;

describe('compareDottedVersions', () => {
  it('orders versions as the module documents', () => {
    const lt: Array<[string, string]> = [
      ['8.0.36', '8.0.37'],
      ['8.0.9', '8.0.10'],
      ['8.0', '8.0.1'],
      ['8.0.0rc1', '8.0.0'],
      ['1.0.rc1', '1.0.0'],
      ['7.0u3', '7.0.1'],
      ['2.4.58-r1', '2.4.58-r2'],
      ['9.0.0.M9', '9.0.0.M10'],
      ['1.0a', '1.0b'],
      ['99999999999999999999998', '99999999999999999999999'],
      // Letters after a release are post-releases: OpenSSL, OpenSSH, updates, revisions, service packs.
      ['1.0.2', '1.0.2k'],
      ['1.0.2k', '1.0.2u'],
      ['0.9.8', '0.9.8a'],
      ['7.4', '7.4p1'],
      ['7.0', '7.0u3'],
      ['2.0', '2.0-sp1'],
      // Pre-releases come before their release, whatever they are spelled.
      ['1.0a1', '1.0'],
      ['2.0-beta', '2.0'],
      ['2.0-beta', '2.0-sp1'],
      ['9.0.0.M9', '9.0.0'],
      ['1.0a1', '1.0a'],
    ];
    for (const [a, b] of lt) {
      assert.equal(compareDottedVersions(a, b), -1, `${a} < ${b}`);
      assert.equal(compareDottedVersions(b, a), 1, `${b} > ${a}`);
    }
    for (const [a, b] of [
      ['8.0', '8.0.0'],
      ['8.0.036', '8.0.36'],
      ['1.0-RC1', '1.0.rc1'],
      ['v1.2', 'V1.2'],
    ] as const) {
      assert.equal(compareDottedVersions(a, b), 0, `${a} = ${b}`);
    }
    for (const bad of ['', '...', '1.'.repeat(40), 'x'.repeat(MAX_VERSION_LENGTH + 1)]) {
      assert.equal(compareDottedVersions(bad, '1.0'), undefined, JSON.stringify(bad));
    }
  });

  it('is a total preorder on what it compares, and never throws (fast-check)', () => {
    const v = fc.oneof(
      fc
        .array(fc.oneof(fc.nat({ max: 30 }).map(String), fc.constantFrom('rc', 'M', 'a', 'beta', 'u')), {
          minLength: 1,
          maxLength: 6,
        })
        .chain((parts) => fc.constantFrom('.', '-', '_', '').map((sep) => parts.join(sep))),
      fc.string({ maxLength: 40 }),
    );
    fc.assert(
      fc.property(v, v, v, (a, b, c) => {
        const ab = compareDottedVersions(a, b);
        const ba = compareDottedVersions(b, a);
        if (ab === undefined) {
          assert.equal(ba, undefined);
          return;
        }
        assert.equal(ab, -ba! || 0);
        assert.equal(compareDottedVersions(a, a), 0);
        const bc = compareDottedVersions(b, c);
        const ac = compareDottedVersions(a, c);
        if (ab <= 0 && bc !== undefined && bc <= 0 && ac !== undefined)
          assert.ok(ac <= 0, `${a} ≤ ${b} ≤ ${c}`);
      }),
      { numRuns: 3000 },
    );
  });
});

describe('parseCpe23', () => {
  it('splits on unescaped colons and keeps escapes', () => {
    assert.deepEqual(parseCpe23('cpe:2.3:a:apache:tomcat:9.0.0:milestone1:*:*:*:*:*:*'), {
      part: 'a',
      vendor: 'apache',
      product: 'tomcat',
      version: '9.0.0',
      update: 'milestone1',
      edition: '*',
      language: '*',
      swEdition: '*',
      targetSw: '*',
      targetHw: '*',
      other: '*',
    });
    assert.equal(parseCpe23('cpe:2.3:a:x\\:y:Z\\!:1\\.0:*:*:*:*:*:*:*')?.vendor, 'x\\:y');
    assert.equal(parseCpe23('cpe:2.3:a:x\\:y:Z\\!:1\\.0:*:*:*:*:*:*:*')?.product, 'z\\!');
    for (const bad of [
      'cpe:/a:apache:tomcat:8.0',
      'cpe:2.3:a:apache:tomcat:8.0:*:*:*:*:*:*',
      'cpe:2.3:a:apache:tomcat:8.0:*:*:*:*:*:*:*:*',
      'cpe:2.3:x:apache:tomcat:8.0:*:*:*:*:*:*:*',
      'cpe:2.3:a:apache:tomcat:8.0:*:*:*:*:*:*:\\',
      'cpe:2.3:a:apache:tom cat:8.0:*:*:*:*:*:*:*',
      'cpe:2.3:a::tomcat:8.0:*:*:*:*:*:*:*',
      `cpe:2.3:a:apache:${'x'.repeat(2000)}:8.0:*:*:*:*:*:*:*`,
    ]) {
      assert.equal(parseCpe23(bad), undefined, bad);
    }
  });

  it('never throws, and whatever it accepts has eleven bound attributes (fast-check)', () => {
    const piece = fc.oneof(
      fc.constantFrom('*', '-', 'a', 'tomcat', '8.0', '\\:', '\\\\', ':'),
      fc.string({ maxLength: 6 }),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 14 }), (ps) => {
        const s = `cpe:2.3:${ps.join(':')}`;
        const n = parseCpe23(s);
        if (n) for (const v of Object.values(n)) assert.ok(v.length > 0 && !/(^|[^\\]):/.test(v));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('entryApplies', () => {
  const range = (b: Partial<CpeMatchEntry>): CpeMatchEntry => ({
    criteria: tomcat('*'),
    part: 'a',
    vendor: 'apache',
    product: 'tomcat',
    version: '*',
    update: '*',
    ...b,
  });
  it('bounds are inclusive or exclusive as named; specific versions compare equal; NA and updates never match', () => {
    const e = range({ versionStartIncluding: '8.0', versionEndExcluding: '8.0.39' });
    assert.equal(entryApplies(e, '8.0.0'), true);
    assert.equal(entryApplies(e, '8.0.38'), true);
    assert.equal(entryApplies(e, '8.0.39'), false);
    assert.equal(entryApplies(e, '7.0.99'), false);
    assert.equal(entryApplies(range({ versionStartExcluding: '8.0.1' }), '8.0.1'), false);
    assert.equal(entryApplies(range({ versionEndIncluding: '8.0.36' }), '8.0.36'), true);
    assert.equal(entryApplies(range({}), '1.2.3'), true);
    assert.equal(entryApplies(range({ version: '8.0.36' }), '8.0.036'), true);
    assert.equal(entryApplies(range({ version: '-' }), '8.0.36'), false);
    assert.equal(entryApplies(range({ version: '9.0.0', update: 'milestone1' }), '9.0.0'), false);
    assert.equal(entryApplies(range({ versionEndExcluding: '...' }), '8.0'), 'incomparable');
  });
});

describe('NVD records: import and CPE matching (real record CVE-2016-0762)', () => {
  const text = readFileSync(CVE_0762, 'utf8');
  const cve = JSON.parse(text) as Record<string, unknown>;

  it('is told apart from OSV, in both layouts, and parsed to what matching needs', () => {
    assert.equal(detectKind(cve), 'nvd');
    const response = { resultsPerPage: 1, format: 'NVD_CVE', version: '2.0', vulnerabilities: [{ cve }] };
    assert.equal(detectKind(response), 'nvd');
    assert.equal(detectKind({ id: 'CVE-2016-0762', modified: '2024-01-01T00:00:00Z' }), 'osv');
    const issues: unknown[] = [];
    const rec = parseNvdCve(cve, CVE_0762, issues);
    assert.deepEqual(issues, []);
    assert.equal(rec.key, 'nvd:CVE-2016-0762');
    assert.equal(rec.modified, '2026-05-13T00:24:29.033');
    assert.match(rec.description ?? '', /^The Realm implementations in Apache Tomcat/);
    assert.deepEqual(
      rec.severity.map((s) => s.vector),
      ['CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N', 'AV:N/AC:M/Au:N/C:P/I:N/A:N'],
    );
    // Every vulnerable cpeMatch of every configuration: 13 Tomcat, 1 Ubuntu, 1 Debian, 13 Red Hat, 3 NetApp, 2 Oracle.
    assert.equal(rec.matches.length, 33);
    assert.equal(rec.references.length, 24, 'each URL once (the record lists each under two sources)');
    assert.deepEqual(nvdRecords(response, 'r.json', issues), [rec]);
  });

  it('db import stores it; an appliance running Tomcat 8.0.36 is affected, 8.0.37 is not', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const feeds = join(dir, 'CVE-2016', 'CVE-2016-07xx');
      mkdirSync(feeds, { recursive: true });
      writeFileSync(join(feeds, 'CVE-2016-0762.json'), text);
      const path = join(dir, 'adv.db');
      const s = await importAdvisories(path, [join(dir, 'CVE-2016')]);
      assert.deepEqual([s.added, s.issues.length], [1, 0]);
      assert.deepEqual(
        s.sources.map((x) => x.kind),
        ['nvd'],
      );
      // The same record as an API response: unchanged.
      const api = join(dir, 'api.json');
      writeFileSync(api, JSON.stringify({ format: 'NVD_CVE', version: '2.0', vulnerabilities: [{ cve }] }));
      const again = await importAdvisories(path, [api]);
      assert.deepEqual([again.added, again.updated, again.unchanged], [0, 0, 1]);

      const db = AdvisoryDb.open(path, { readonly: true });
      try {
        assert.equal(db.info().counts.nvd, 1);
        // What an OVF ProductSection for a Bitnami Tomcat 8.0.36 stack would give (fixtures/ovf's Bitnami
        // descriptor has none: its product and version are only in its file name).
        const candidates = cpeCandidates({
          product: 'Apache Tomcat',
          vendor: 'Apache Software Foundation',
          version: '8.0.36',
        });
        assert.ok(candidates.some((c) => c.cpe === tomcat('8.0.36')));
        const r = matchCpes(db, candidates, { target: 'tomcat.ova' });
        assert.deepEqual(r.notes, []);
        assert.equal(r.findings.length, 1);
        const f = r.findings[0]!;
        assert.equal(f.checkId, 'CVE-2016-0762');
        assert.equal(f.resource.id, tomcat('8.0.36'));
        assert.equal(f.id, fingerprint('CVE-2016-0762', 'appliance', `tomcat.ova/${tomcat('8.0.36')}`));
        assert.equal(f.severity, 'medium');
        assert.equal(f.cpe.severitySource, 'cvss');
        assert.equal(f.cpe.versionEndIncluding, '8.0.36');
        assert.equal(f.cpe.versionStartIncluding, '8.0');
        assert.equal(f.cpe.fixedVersion, undefined);
        assert.equal(f.cpe.confidence, candidates.find((c) => c.cpe === tomcat('8.0.36'))!.confidence);
        assert.equal(f.references?.[0]?.url, 'https://nvd.nist.gov/vuln/detail/CVE-2016-0762');

        const at = (v: string): string[] =>
          matchCpes(db, [{ cpe: tomcat(v) }]).findings.map((x) => x.checkId);
        // The record's ranges: 6.0.0–6.0.45, 7.0.0–7.0.70, 8.0–8.0.36, 8.5.0–8.5.4 (inclusive), 9.0.0 milestones.
        for (const v of ['6.0.0', '6.0.45', '7.0.70', '8.0', '8.0.0', '8.0.36', '8.5.0', '8.5.4'])
          assert.deepEqual(at(v), ['CVE-2016-0762'], v);
        for (const v of ['5.5.36', '6.0.46', '7.0.71', '8.0.37', '8.5.5', '9.0.0', '9.0.1', '10.1.0'])
          assert.deepEqual(at(v), [], v);
        // Other products of the record, by their own vendor and product only.
        assert.deepEqual(
          matchCpes(db, [
            { cpe: 'cpe:2.3:a:oracle:tekelec_platform_distribution:7.5:*:*:*:*:*:*:*' },
          ]).findings.map((x) => x.checkId),
          ['CVE-2016-0762'],
        );
        assert.deepEqual(
          matchCpes(db, [{ cpe: 'cpe:2.3:a:apache:httpd:8.0.36:*:*:*:*:*:*:*' }]).findings,
          [],
        );
        // NA: NetApp products listed without versions are not matched to a versioned candidate.
        assert.deepEqual(
          matchCpes(db, [{ cpe: 'cpe:2.3:a:netapp:oncommand_shift:1.0:*:*:*:*:*:*:*' }]).findings,
          [],
        );
        // Unusable candidates are notes.
        const bad = matchCpes(db, [{ cpe: 'not a cpe' }, { cpe: tomcat('*') }]);
        assert.deepEqual(bad.findings, []);
        assert.equal(bad.notes.length, 2);
      } finally {
        db.close();
      }
    } finally {
      cleanup();
    }
  });

  it('hostile records never throw anything but HyperwardError issues, and keep their bounds (fast-check)', () => {
    const anyJson = fc.jsonValue({ maxDepth: 4 });
    const cpeMatch = fc.record({
      vulnerable: fc.oneof(fc.constant(true), anyJson),
      criteria: fc.oneof(
        fc.constantFrom(tomcat('*'), tomcat('8.0'), 'cpe:2.3:a:*:*:*:*:*:*:*:*:*:*'),
        anyJson,
      ),
      versionEndExcluding: fc.oneof(fc.constant(undefined), fc.string({ maxLength: 200 }), anyJson),
    });
    const record = fc.record({
      id: fc.oneof(fc.constant('CVE-2024-0001'), anyJson),
      lastModified: fc.oneof(fc.constant('2024-01-01T00:00:00'), anyJson),
      descriptions: fc.oneof(fc.constant([{ lang: 'en', value: 'x\u0000y' }]), anyJson),
      metrics: fc.oneof(
        fc.constant({ cvssMetricV31: [{ cvssData: { vectorString: 'CVSS:3.1/AV:N' } }] }),
        anyJson,
      ),
      references: fc.oneof(
        fc.array(fc.record({ url: fc.oneof(fc.webUrl(), anyJson) }), { maxLength: 5 }),
        anyJson,
      ),
      configurations: fc.oneof(
        fc.array(
          fc.record({
            nodes: fc.array(fc.record({ cpeMatch: fc.array(cpeMatch, { maxLength: 4 }) }), { maxLength: 3 }),
          }),
          {
            maxLength: 3,
          },
        ),
        anyJson,
      ),
    });
    fc.assert(
      fc.property(record, (r) => {
        const issues: Array<{ file: string }> = [];
        for (const rec of nvdRecords(
          { format: 'NVD_CVE', vulnerabilities: [{ cve: r }] },
          'f.json',
          issues,
        )) {
          assert.ok(rec.description === undefined || !rec.description.includes('\u0000'));
          for (const m of rec.matches) {
            assert.ok(parseCpe23(m.criteria));
            assert.ok((m.versionEndExcluding ?? '').length <= MAX_VERSION_LENGTH);
          }
        }
        for (const i of issues) assert.equal(i.file, 'f.json');
      }),
      { numRuns: 500 },
    );
  });
});
