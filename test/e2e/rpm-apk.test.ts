/**
 * End to end on disk images of RPM and Alpine systems: a Rocky Linux 9 root whose packages were built with
 * rpmbuild and installed by the real rpm (SQLite database), and an Alpine root holding a real `installed` database
 * (fixtures/apk/installed-trivy). Both become ext4 in a qcow2 image; `scan image` must list exactly what rpm and the
 * apk database list, and match advisories by binary package (RPM) and origin (Alpine) with rpm's own ordering as
 * the oracle for the RPM verdicts.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Finding } from '../../src/model/finding.js';
import type { ScanReport } from '../../src/model/report.js';
import { hyperward } from '../helpers/cli.js';
import { run, tempDir } from '../helpers/tmp.js';

let dir = '';
let cleanup = () => {};

/** An ext4 filesystem made from `root`, in a GPT-less qcow2 image. */
function imageOf(root: string, name: string): string {
  const raw = join(dir, `${name}.raw`);
  run('truncate', ['-s', '64M', raw]);
  run('mkfs.ext4', ['-q', '-F', '-d', root, raw]);
  const qcow = join(dir, `${name}.qcow2`);
  run('qemu-img', ['convert', '-O', 'qcow2', raw, qcow]);
  return qcow;
}

function scan(img: string, args: string[]): ScanReport {
  const r = hyperward(['scan', 'image', '--format', 'json', '--quiet', ...args, img]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout.toString()) as ScanReport;
}

const vulns = (rep: ScanReport): Finding[] => rep.results[0]!.findings.filter((f) => f.vulnerability);

/** rpm's own comparison: -1, 0 or 1. */
function rpmVercmp(a: string, b: string): number {
  return Number(run('rpm', ['--eval', `%{lua: print(rpm.vercmp("${a}", "${b}"))}`]).trim());
}

let rpmRoot = '';
let rockyImage = '';
let alpineImage = '';

before(() => {
  ({ dir, cleanup } = tempDir('hyperward-rpm-apk-'));
  // Rocky Linux 9: two source packages, one with an epoch, a `~` version and a subpackage.
  const top = join(dir, 'rpmbuild');
  mkdirSync(join(top, 'SPECS'), { recursive: true });
  const specs: Record<string, string> = {
    'hw-suite': `Name: hw-suite
Epoch: 3
Version: 1.2~rc1
Release: 4.el9
Summary: suite
License: MIT
BuildArch: noarch
%description
suite
%package -n hw-alpha
Summary: alpha
%description -n hw-alpha
alpha
%install
mkdir -p %{buildroot}/usr/share/hw
echo suite > %{buildroot}/usr/share/hw/suite.txt
echo alpha > %{buildroot}/usr/share/hw/alpha.txt
%files
/usr/share/hw/suite.txt
%files -n hw-alpha
/usr/share/hw/alpha.txt
`,
    'hw-beta': `Name: hw-beta
Version: 2.0^git1
Release: 1.el9
Summary: beta
License: MIT
BuildArch: noarch
%description
beta
%files
`,
  };
  for (const [name, spec] of Object.entries(specs)) {
    writeFileSync(join(top, 'SPECS', `${name}.spec`), spec);
    run('rpmbuild', ['--define', `_topdir ${top}`, '-bb', join(top, 'SPECS', `${name}.spec`)]);
  }
  const rpms = run('find', [join(top, 'RPMS'), '-name', '*.rpm'])
    .trim()
    .split('\n');
  rpmRoot = join(dir, 'rocky');
  mkdirSync(join(rpmRoot, 'etc'), { recursive: true });
  run('rpm', ['--root', rpmRoot, '--dbpath', '/var/lib/rpm', '--initdb']);
  run('rpm', [
    '-i',
    '--nodeps',
    '--ignoreos',
    '--ignorearch',
    '--root',
    rpmRoot,
    '--dbpath',
    '/var/lib/rpm',
    ...rpms,
  ]);
  writeFileSync(
    join(rpmRoot, 'etc', 'os-release'),
    'NAME="Rocky Linux"\nVERSION="9.3 (Blue Onyx)"\nID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.3"\nPRETTY_NAME="Rocky Linux 9.3 (Blue Onyx)"\n',
  );
  rockyImage = imageOf(rpmRoot, 'rocky');

  // Alpine: the real installed database of an Alpine 3.4 image (fixtures/apk/installed-SOURCES.md).
  const alpine = join(dir, 'alpine');
  mkdirSync(join(alpine, 'lib', 'apk', 'db'), { recursive: true });
  mkdirSync(join(alpine, 'etc'));
  copyFileSync(
    new URL('../../fixtures/apk/installed-trivy', import.meta.url),
    join(alpine, 'lib', 'apk', 'db', 'installed'),
  );
  writeFileSync(
    join(alpine, 'etc', 'os-release'),
    'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.4.6\nPRETTY_NAME="Alpine Linux v3.4"\n',
  );
  alpineImage = imageOf(alpine, 'alpine');
});

after(() => cleanup());

test('scan image lists exactly the packages rpm lists in the image root', () => {
  const want = run('rpm', [
    '--root',
    rpmRoot,
    '--dbpath',
    '/var/lib/rpm',
    '-qa',
    '--qf',
    '%{NAME}\\t%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\\t%{ARCH}\\t%{SOURCERPM}\\n',
  ])
    .trim()
    .split('\n')
    .sort();
  const rep = scan(rockyImage, ['--no-vulns']);
  const r = rep.results[0]!;
  assert.equal(r.os?.id, 'rocky');
  const got = r.packages
    .map((p) => {
      assert.equal(p.ecosystem, 'rpm');
      return `${p.name}\t${p.version}\t${p.arch}\t${p.sourceName}-${p.sourceVersion.replace(/^\d+:/, '')}.src.rpm`;
    })
    .sort();
  assert.deepEqual(got, want);
});

test('RPM advisories match by binary package with rpm ordering (epochs, ~, ^)', () => {
  // hw-alpha 3:1.2~rc1-4.el9 and hw-beta 2.0^git1-1.el9 are installed; each record's verdict comes from rpm.
  const cases = [
    { id: 'RLSA-2099:0001', cve: 'CVE-2099-1001', pkg: 'hw-alpha', fixed: '3:1.2-1.el9' },
    { id: 'RLSA-2099:0002', cve: 'CVE-2099-1002', pkg: 'hw-alpha', fixed: '3:1.2~beta1-9.el9' },
    { id: 'RLSA-2099:0003', cve: 'CVE-2099-1003', pkg: 'hw-beta', fixed: '2.0^git2-1.el9' },
    { id: 'RLSA-2099:0004', cve: 'CVE-2099-1004', pkg: 'hw-beta', fixed: '2.0-1.el9' },
    // Keyed by the SOURCE name: RPM distributions key advisories by binary, so this never matches.
    { id: 'RLSA-2099:0005', cve: 'CVE-2099-1005', pkg: 'hw-suite-src-only', fixed: '9:9-9.el9' },
  ];
  const installed: Record<string, string> = { 'hw-alpha': '3:1.2~rc1-4.el9', 'hw-beta': '0:2.0^git1-1.el9' };
  const advDir = join(dir, 'rocky-osv');
  mkdirSync(advDir, { recursive: true });
  for (const c of cases) {
    writeFileSync(
      join(advDir, `${c.id.replace(':', '_')}.json`),
      JSON.stringify({
        id: c.id,
        modified: '2026-01-01T00:00:00Z',
        related: [c.cve],
        summary: `Important: ${c.pkg} security update`,
        affected: [
          {
            package: { ecosystem: 'Rocky Linux:9', name: c.pkg },
            ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: c.fixed }] }],
          },
        ],
      }),
    );
  }
  const db = join(dir, 'rocky.db');
  assert.equal(hyperward(['db', 'import', '--quiet', '--db', db, advDir]).code, 0);
  const want = cases
    .filter((c) => installed[c.pkg] !== undefined && rpmVercmp(installed[c.pkg]!, c.fixed) < 0)
    .map((c) => `${c.cve} ${c.pkg} ${c.fixed}`)
    .sort();
  assert.ok(want.length >= 2, 'the cases straddle the installed versions');
  const got = vulns(scan(rockyImage, ['--db', db]))
    .map((f) => `${f.checkId} ${f.vulnerability!.package.name} ${f.vulnerability!.fixedVersion}`)
    .sort();
  assert.deepEqual(got, want);
});

test('scan image lists the apk database of an Alpine image and matches Alpine secdb fixes by origin', () => {
  const text = readFileSync(new URL('../../fixtures/apk/installed-trivy', import.meta.url), 'utf8');
  const want = text
    .split('\n\n')
    .filter((s) => s.includes('\nP:') || s.startsWith('P:'))
    // The file holds one record without a version (Trivy's test of a damaged entry): skipped and reported.
    .filter((s) => /^V:/m.test(s))
    .map((s) => {
      const f = (k: string) => new RegExp(`^${k}:(.*)$`, 'm').exec(s)?.[1];
      return `${f('P')} ${f('V')} ${f('o')}`;
    })
    .sort();
  const r = scan(alpineImage, ['--no-vulns']).results[0]!;
  assert.equal(r.os?.id, 'alpine');
  assert.deepEqual(r.packages.map((p) => `${p.name} ${p.version} ${p.sourceName}`).sort(), want);
  const damaged = r.findings.filter((f) => f.checkId === 'image.inspection-failed');
  assert.equal(damaged.length, 1);
  // It names the file, the layer and the line the record starts on.
  const line = text.split('\n').indexOf('P:invalidPackageWithoutAVersion') + 1;
  assert.match(damaged[0]!.message, new RegExp(`^/lib/apk/db/installed: .*: line ${line}: `));
  // apk records no install times: the installed database's own modification time, read from the image, says
  // when packages last changed (it was written into the image today).
  const stale = r.findings.find((f) => f.checkId === 'image.packages-stale')!;
  assert.equal(stale.status, 'pass', stale.message);
  assert.equal(stale.evidence?.file, '/lib/apk/db/installed');

  // musl 1.1.14-r10 is installed (origin musl): fixed in r11 → affected; fixed in r9 → not.
  const secdb = {
    distroversion: 'v3.4',
    reponame: 'main',
    archs: ['x86_64'],
    packages: [
      {
        pkg: { name: 'musl', secfixes: { '1.1.14-r11': ['CVE-2099-2001'], '1.1.14-r9': ['CVE-2099-2002'] } },
      },
    ],
  };
  const secdbPath = join(dir, 'v3.4-main.json');
  writeFileSync(secdbPath, JSON.stringify(secdb));
  const db = join(dir, 'alpine.db');
  assert.equal(hyperward(['db', 'import', '--quiet', '--db', db, secdbPath]).code, 0);
  const got = vulns(scan(alpineImage, ['--db', db]));
  const muslBinaries = r.packages.filter((p) => p.sourceName === 'musl').map((p) => p.name);
  assert.ok(muslBinaries.length > 0);
  assert.deepEqual(
    got.map((f) => `${f.checkId} ${f.vulnerability!.package.name}`).sort(),
    muslBinaries.map((n) => `CVE-2099-2001 ${n}`).sort(),
  );
});
