/**
 * End to end: a real Debian disk image (debootstrap, see test/fixtures/build.ts) scanned against advisories whose
 * affected ranges straddle the versions installed in it — epochs, `~`, last_affected, explicit versions, other
 * releases, other distributions, the Debian tracker format, two records of one CVE. The expected verdicts come
 * from `dpkg --compare-versions` and `dpkg-query` over the tree the image was made from, never from Hyperward.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Spec, Validation } from '@cyclonedx/cyclonedx-library';
import type { Finding } from '../../src/model/finding.js';
import type { ScanReport } from '../../src/model/report.js';
import { fixtureImage, loadFixtureManifest } from '../fixtures/build.js';
import { hyperward } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const manifest = loadFixtureManifest();
const img = fixtureImage(manifest, 'gpt-v3.qcow2');
const tree = manifest.trees[img.tree]!;

interface Installed {
  name: string;
  version: string;
  arch: string;
  source: string;
  sourceVersion: string;
}

/** dpkg-query's view of the tree: name, version, arch, source, source version. */
const installed: Installed[] = readFileSync(tree.packagesFile, 'utf8')
  .split('\n')
  .filter((l) => l !== '')
  .map((l) => {
    const [name, version, arch, source, sourceVersion] = l.split('\t') as [
      string,
      string,
      string,
      string,
      string,
    ];
    return { name, version, arch, source, sourceVersion };
  });

/** The oracle: dpkg's own ordering. */
function dpkgLt(a: string, b: string): boolean {
  return spawnSync('dpkg', ['--compare-versions', a, 'lt', b]).status === 0;
}

/** Source packages with one binary at the source's version, so a source-keyed record has one clear target. */
const sources = [...new Map(installed.map((p) => [p.source, p])).values()].sort((a, b) =>
  a.source < b.source ? -1 : 1,
);

function osv(
  id: string,
  pkg: string,
  ranges: Array<Record<string, string>>,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    schema_version: '1.6.0',
    id,
    modified: '2026-01-01T00:00:00Z',
    published: '2025-12-01T00:00:00Z',
    aliases: id.startsWith('CVE-') ? [] : [`CVE-2099-${id.replace(/\D/g, '').slice(-4).padStart(4, '0')}`],
    summary: `test advisory ${id}`,
    affected: [
      {
        package: { ecosystem: 'Debian:12', name: pkg },
        ranges: ranges.length > 0 ? [{ type: 'ECOSYSTEM', events: ranges }] : [],
        ...(extra.versions ? { versions: extra.versions } : {}),
      },
    ],
    ...(extra.ecosystem
      ? {
          affected: [
            {
              package: { ecosystem: extra.ecosystem, name: pkg },
              ranges: [{ type: 'ECOSYSTEM', events: ranges }],
            },
          ],
        }
      : {}),
    ...(extra.severity ? { severity: extra.severity } : {}),
  };
}

/** Splits a Debian version into epoch and the rest. */
function epochOf(v: string): { epoch: number; rest: string } {
  const m = /^(\d+):(.*)$/.exec(v);
  return m ? { epoch: Number(m[1]), rest: m[2]! } : { epoch: 0, rest: v };
}

interface Case {
  id: string;
  source: string;
  installed: string;
  record: Record<string, unknown>;
  /** Whether dpkg says the installed version is inside the range; computed below, not by Hyperward. */
  affected: boolean;
  fixed?: string;
}

const cases: Case[] = [];
function add(id: string, p: Installed, record: Record<string, unknown>, affected: boolean, fixed?: string) {
  cases.push({
    id,
    source: p.source,
    installed: p.sourceVersion,
    record,
    affected,
    ...(fixed ? { fixed } : {}),
  });
}

let dir = '';
let cleanup = () => {};
let dbPath = '';

before(() => {
  ({ dir, cleanup } = tempDir('hyperward-vulns-'));
  assert.ok(sources.length >= 12, 'the fixture tree holds enough source packages');
  const pick = (i: number) => sources[(i * 7) % sources.length]!;
  const osvDir = join(dir, 'osv');
  mkdirSync(osvDir);

  // 1. Fixed in a later revision: affected, with that fix.
  {
    const p = pick(0);
    const fixed = `${p.sourceVersion}+hw1`;
    add(
      'HW-TEST-0001',
      p,
      osv('HW-TEST-0001', p.source, [{ introduced: '0' }, { fixed }]),
      dpkgLt(p.sourceVersion, fixed),
      fixed,
    );
  }
  // 2. Fixed in a `~` pre-release of the installed version: the installed one is newer, not affected.
  {
    const p = pick(1);
    const fixed = `${p.sourceVersion}~pre1`;
    add(
      'HW-TEST-0002',
      p,
      osv('HW-TEST-0002', p.source, [{ introduced: '0' }, { fixed }]),
      dpkgLt(p.sourceVersion, fixed),
      fixed,
    );
  }
  // 3. Fixed under a higher epoch: any version of a lower epoch is older, so affected.
  {
    const p = pick(2);
    const { epoch, rest } = epochOf(p.sourceVersion);
    const fixed = `${epoch + 1}:${rest}`;
    add(
      'HW-TEST-0003',
      p,
      osv('HW-TEST-0003', p.source, [{ introduced: '0' }, { fixed }]),
      dpkgLt(p.sourceVersion, fixed),
      fixed,
    );
  }
  // 4. No fix yet.
  {
    const p = pick(3);
    add('HW-TEST-0004', p, osv('HW-TEST-0004', p.source, [{ introduced: '0' }]), true);
  }
  // 5. last_affected = the installed version: affected; 6. last_affected below it (a `~` of it): not.
  {
    const p = pick(4);
    add(
      'HW-TEST-0005',
      p,
      osv('HW-TEST-0005', p.source, [{ introduced: '0' }, { last_affected: p.sourceVersion }]),
      true,
    );
    const q = pick(5);
    const last = `${q.sourceVersion}~`;
    add(
      'HW-TEST-0006',
      q,
      osv('HW-TEST-0006', q.source, [{ introduced: '0' }, { last_affected: last }]),
      !dpkgLt(last, q.sourceVersion),
    );
  }
  // 7. Introduced only after the installed version: not affected.
  {
    const p = pick(6);
    const intro = `${p.sourceVersion}+hw2`;
    add(
      'HW-TEST-0007',
      p,
      osv('HW-TEST-0007', p.source, [{ introduced: intro }]),
      !dpkgLt(p.sourceVersion, intro),
    );
  }
  // 8. Listed by exact version.
  {
    const p = pick(7);
    add('HW-TEST-0008', p, osv('HW-TEST-0008', p.source, [], { versions: [p.sourceVersion] }), true);
  }
  // 9. Another Debian release, 10. another distribution: never for this image.
  {
    const p = pick(8);
    add(
      'HW-TEST-0009',
      p,
      osv('HW-TEST-0009', p.source, [{ introduced: '0' }], { ecosystem: 'Debian:11' }),
      false,
    );
    const q = pick(9);
    add(
      'HW-TEST-0010',
      q,
      osv('HW-TEST-0010', q.source, [{ introduced: '0' }], { ecosystem: 'Ubuntu:22.04:LTS' }),
      false,
    );
  }
  // 11 + 12. Two records of one CVE: a DSA fixed in X and a DEBIAN-CVE record fixed in a later Y; one finding,
  // with the higher fix.
  {
    const p = pick(10);
    const x = `${p.sourceVersion}+hw1`;
    const y = `${p.sourceVersion}+hw3`;
    const dsa = osv('DSA-9901-1', p.source, [{ introduced: '0' }, { fixed: x }]);
    dsa.aliases = ['CVE-2099-9901'];
    const deb = osv('DEBIAN-CVE-2099-9901', p.source, [{ introduced: '0' }, { fixed: y }]);
    deb.aliases = ['CVE-2099-9901'];
    deb.severity = [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' }];
    cases.push({
      id: 'CVE-2099-9901',
      source: p.source,
      installed: p.sourceVersion,
      record: dsa,
      affected: true,
      fixed: y,
    });
    writeFileSync(join(osvDir, 'DEBIAN-CVE-2099-9901.json'), JSON.stringify(deb));
  }
  for (const c of cases) writeFileSync(join(osvDir, `${String(c.record.id)}.json`), JSON.stringify(c.record));

  // The Debian security tracker format: an open CVE (affected, no fix) and a `fixed_version: 0` (never affected).
  {
    const p = pick(11);
    const q = pick(12);
    const tracker = {
      [p.source]: {
        'CVE-2099-7001': {
          description: 'open in bookworm',
          scope: 'remote',
          releases: {
            bookworm: { status: 'open', repositories: { bookworm: p.sourceVersion }, urgency: 'high' },
          },
        },
      },
      [q.source]: {
        'CVE-2099-7002': {
          description: 'bookworm never had the code',
          scope: 'local',
          releases: {
            bookworm: {
              status: 'resolved',
              repositories: { bookworm: q.sourceVersion },
              fixed_version: '0',
              urgency: 'low',
            },
          },
        },
      },
    };
    writeFileSync(join(dir, 'tracker.json'), JSON.stringify(tracker));
    cases.push({
      id: 'CVE-2099-7001',
      source: p.source,
      installed: p.sourceVersion,
      record: {},
      affected: true,
    });
    cases.push({
      id: 'CVE-2099-7002',
      source: q.source,
      installed: q.sourceVersion,
      record: {},
      affected: false,
    });
  }

  dbPath = join(dir, 'adv.db');
  const imp = hyperward(['db', 'import', '--db', dbPath, '--quiet', osvDir, join(dir, 'tracker.json')]);
  assert.equal(imp.code, 0, imp.stderr);
});

after(() => cleanup());

function scan(args: string[]): { code: number; rep: ScanReport; stderr: string } {
  const r = hyperward(['scan', 'image', '--format', 'json', '--quiet', '--db', dbPath, ...args, img.path]);
  return { code: r.code, rep: JSON.parse(r.stdout.toString()) as ScanReport, stderr: r.stderr };
}

function vulnFindings(rep: ScanReport): Finding[] {
  return rep.results[0]!.findings.filter((f) => f.vulnerability !== undefined);
}

/** The vulnerability id a case reports under: its CVE. */
function cveOf(c: Case): string {
  if (c.id.startsWith('CVE-')) return c.id;
  return (c.record.aliases as string[])[0]!;
}

test('scan image reports exactly the advisories dpkg says the installed versions fall in', () => {
  const { code, rep } = scan([]);
  assert.equal(code, 0);
  assert.equal(rep.advisoryDb?.present, true);
  const found = vulnFindings(rep);
  // Per (vulnerability, source package): the expected set from dpkg.
  const expected = cases.filter((c) => c.affected).map((c) => `${cveOf(c)} ${c.source}`);
  const got = [...new Set(found.map((f) => `${f.checkId} ${f.vulnerability!.matchedName}`))];
  assert.deepEqual(got.sort(), [...new Set(expected)].sort());
  // Every binary package built from an affected source is reported, and nothing else.
  for (const c of cases.filter((x) => x.affected)) {
    const binaries = installed.filter((p) => p.source === c.source).map((p) => p.name);
    const reported = found.filter((f) => f.checkId === cveOf(c)).map((f) => f.vulnerability!.package.name);
    assert.deepEqual(reported.sort(), binaries.sort(), `${c.id}: binaries of ${c.source}`);
  }
});

test('fixed versions, "no fix yet", merged records and severities are reported as the records say', () => {
  const found = vulnFindings(scan([]).rep);
  for (const c of cases.filter((x) => x.affected)) {
    const f = found.find((x) => x.checkId === cveOf(c))!;
    assert.equal(f.vulnerability!.installedVersion, c.installed, c.id);
    assert.equal(f.vulnerability!.fixedVersion, c.fixed, c.id);
    assert.equal(f.vulnerability!.fixState, c.fixed ? 'fixed' : 'not-fixed', c.id);
    assert.equal(f.status, 'fail');
  }
  const merged = found.find((f) => f.checkId === 'CVE-2099-9901')!;
  assert.deepEqual(merged.vulnerability!.advisories.map((a) => a.id).sort(), [
    'DEBIAN-CVE-2099-9901',
    'DSA-9901-1',
  ]);
  // The CVSS 3.1 vector of the DEBIAN-CVE record: 9.8 (FIRST's calculator), critical.
  assert.equal(merged.vulnerability!.cvss[0]?.baseScore, 9.8);
  assert.equal(merged.severity, 'critical');
  // The tracker's own urgency rates the open CVE.
  const open = found.find((f) => f.checkId === 'CVE-2099-7001')!;
  assert.equal(open.severity, 'high');
  assert.equal(open.vulnerability!.severitySource, 'distro');
});

test('--fail-on fails the run on vulnerabilities; --no-vulns does not look', () => {
  assert.equal(scan(['--fail-on', 'critical']).code, 1);
  const none = scan(['--no-vulns']);
  assert.equal(none.code, 0);
  assert.deepEqual(vulnFindings(none.rep), []);
  assert.equal(none.rep.advisoryDb, undefined);
});

test('an OpenVEX not_affected statement suppresses the finding and keeps the justification', () => {
  const c = cases.find((x) => x.id === 'HW-TEST-0004')!;
  const binary = installed.find((p) => p.source === c.source)!.name;
  const vex = {
    '@context': 'https://openvex.dev/ns/v0.2.0',
    '@id': 'https://example.org/vex/hyperward-test',
    author: 'Hyperward tests',
    timestamp: '2026-11-01T00:00:00Z',
    version: 1,
    statements: [
      {
        vulnerability: { name: cveOf(c) },
        products: [{ '@id': `pkg:deb/debian/${binary}` }],
        status: 'not_affected',
        justification: 'vulnerable_code_not_in_execute_path',
        impact_statement: 'the affected function is never called on these VMs',
      },
    ],
  };
  const vexPath = join(dir, 'test.openvex.json');
  writeFileSync(vexPath, JSON.stringify(vex));
  const found = vulnFindings(scan(['--vex', vexPath]).rep);
  const f = found.find((x) => x.checkId === cveOf(c) && x.vulnerability!.package.name === binary)!;
  assert.equal(f.status, 'suppressed');
  assert.equal(f.vulnerability!.vex?.justification, 'vulnerable_code_not_in_execute_path');
  assert.match(f.vulnerability!.vex?.statement ?? '', /never called/);
  // The other findings stay open.
  assert.ok(found.filter((x) => x.status === 'fail').length > 0);
});

test('CycloneDX output is valid 1.6 and its vulnerabilities affect components of the BOM', async () => {
  const r = hyperward(['scan', 'image', '--format', 'cyclonedx', '--quiet', '--db', dbPath, img.path]);
  assert.equal(r.code, 0, r.stderr);
  const text = r.stdout.toString();
  assert.equal(await new Validation.JsonStrictValidator(Spec.Version.v1dot6).validate(text), null);
  const bom = JSON.parse(text) as {
    components: Array<{ 'bom-ref': string; name: string }>;
    vulnerabilities: Array<{ id: string; affects: Array<{ ref: string }> }>;
  };
  const refs = new Set(bom.components.map((c) => c['bom-ref']));
  const expected = new Set(cases.filter((c) => c.affected).map(cveOf));
  assert.deepEqual(new Set(bom.vulnerabilities.map((v) => v.id)), expected);
  for (const v of bom.vulnerabilities) {
    assert.ok(v.affects.length > 0);
    for (const a of v.affects) assert.ok(refs.has(a.ref), `${v.id} affects ${a.ref}, a component of the BOM`);
  }
});

test('scan sbom on the image own CycloneDX finds what scan image finds', () => {
  const bomPath = join(dir, 'image.cdx.json');
  assert.equal(
    hyperward(['scan', 'image', '--format', 'cyclonedx', '--no-vulns', '-o', bomPath, '--quiet', img.path])
      .code,
    0,
  );
  const r = hyperward(['scan', 'sbom', '--format', 'json', '--quiet', '--db', dbPath, bomPath]);
  assert.equal(r.code, 0, r.stderr);
  const fromSbom = vulnFindings(JSON.parse(r.stdout.toString()) as ScanReport);
  const fromImage = vulnFindings(scan([]).rep);
  const key = (f: Finding) =>
    `${f.checkId} ${f.vulnerability!.package.name} ${f.vulnerability!.fixedVersion ?? '-'}`;
  assert.deepEqual(fromSbom.map(key).sort(), fromImage.map(key).sort());
});

test('db info reports the import; an old database is warned about; scan sbom without a database fails', () => {
  const info = hyperward(['db', 'info', '--db', dbPath, '--format', 'json']);
  assert.equal(info.code, 0, info.stderr);
  const j = JSON.parse(info.stdout.toString()) as { lastImport: string };
  assert.ok(Math.abs(Date.now() - Date.parse(j.lastImport)) < 10 * 60_000);
  const stale = hyperward([
    'scan',
    'image',
    '--format',
    'json',
    '--db',
    dbPath,
    '--db-max-age',
    '0',
    img.path,
  ]);
  assert.match(stale.stderr, /last imported .* days ago/);
  assert.equal((JSON.parse(stale.stdout.toString()) as ScanReport).advisoryDb?.stale, true);
  const fresh = hyperward(['scan', 'image', '--format', 'json', '--db', dbPath, img.path]);
  assert.doesNotMatch(fresh.stderr, /days ago/);
  const noDb = hyperward(['scan', 'sbom', '--db', join(dir, 'absent.db'), join(dir, 'image.cdx.json')]);
  assert.equal(noDb.code, 2);
  assert.match(noDb.stderr, /no advisory database/);
});

test('scan host on the same disk image reports the same vulnerabilities as scan image', () => {
  const r = hyperward(['scan', 'host', '--format', 'json', '--quiet', '--db', dbPath, `image:${img.path}`]);
  assert.equal(r.code, 0, r.stderr);
  const fromHost = vulnFindings(JSON.parse(r.stdout.toString()) as ScanReport);
  const fromImage = vulnFindings(scan([]).rep);
  const key = (f: Finding) =>
    `${f.checkId} ${f.vulnerability!.package.name} ${f.vulnerability!.fixedVersion ?? '-'}`;
  assert.ok(fromHost.length > 0);
  assert.deepEqual(fromHost.map(key).sort(), fromImage.map(key).sort());
});
