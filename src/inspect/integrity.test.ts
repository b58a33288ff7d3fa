/**
 * Tamper evidence against the package managers' own verifiers:
 * - dpkg: a copy of the real debootstrap fixture tree (real md5sums, conffiles, .list files) with a binary, a
 *   library, a conffile and a plain data file changed, a binary and a conffile deleted, a file kept off the
 *   disk by a path filter, a file turned into a directory, and a local diversion — turned into an ext4 image
 *   and compared with what `dpkg --root COPY --verify` prints for the same tree;
 * - RPM: packages built with rpmbuild, installed by rpm 4.18 into a root, then modified, against `rpm --root
 *   R -V`;
 * - apk: the real `installed` database of alpine-baselayout (fixtures/apk/installed-syft-base), whose
 *   checksums of a few files and symlinks can be reproduced from their known contents, plus a record
 *   GENERATED here for files this test creates (its checksums computed with sha1sum/sha256sum, not by the
 *   code under test). Property tests for the md5sums, conffiles and diversions parsers and for the ELF
 *   sniffing.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import {
  appendFileSync,
  copyFileSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  lstatSync,
  rmSync,
  symlinkSync,
  writeFileSync,
  writeSync,
  closeSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { loadFixtureManifest } from '../../test/fixtures/build.js';
import { onlyHyperwardErrors } from '../../test/helpers/fuzz.js';
import { run, tempDir } from '../../test/helpers/tmp.js';
import { mountImage, type MountedImage } from '../scan/image.js';
import {
  classifyFile,
  elfKind,
  integrityFindings,
  integritySeverity,
  parseConffiles,
  parseDiversions,
  parseMd5sums,
  verifyPackagedFiles,
  type IntegrityIssue,
  type IntegrityReport,
} from './integrity.js';

const REPO = join(import.meta.dirname, '..', '..');

/**
 * An ext4 filesystem made from `tree` (whole disk, no partition table), opened the way `scan image` opens it.
 */
function imageOf(tree: string, raw: string): MountedImage {
  const bytes = Number(run('du', ['-sb', tree]).split('\t')[0]);
  const size = Math.max(32 * 1024 * 1024, Math.ceil((bytes * 1.6) / 4096) * 4096 + 64 * 1024 * 1024);
  run('truncate', ['-s', String(size), raw]);
  run('mkfs.ext4', ['-q', '-F', '-d', tree, raw]);
  return mountImage(raw);
}

/** `changed`/`missing` plus whether the tool marks the file as configuration, as one comparable string. */
const key = (status: string, config: boolean, path: string): string =>
  `${status} ${config ? 'c' : '-'} ${path}`;
const ours = (r: IntegrityReport): string[] =>
  r.issues
    .filter((i) => i.status !== 'unreadable')
    .map((i) => key(i.status, i.class === 'config', i.path))
    .sort();

/** `dpkg --verify` lines: `missing   c /etc/x` or `??5?????? c /etc/x` (Debian's format). */
function dpkgVerify(root: string): string[] {
  const r = spawnSync('dpkg', ['--root', root, '--verify'], { encoding: 'utf8' });
  const out: string[] = [];
  for (const line of r.stdout.split('\n')) {
    if (line === '') continue;
    const m = /^(missing {2}|[?.0-9A-Za-z]{9}) (c| ) (\/.*)$/.exec(line);
    assert.ok(m, `unexpected dpkg --verify line ${JSON.stringify(line)}`);
    const status = m[1] === 'missing  ' ? 'missing' : m[1]![2] === '5' ? 'changed' : 'other';
    out.push(key(status, m[2] === 'c', m[3]!));
  }
  return out.sort();
}

function checkReportShape(r: IntegrityReport, progress: Array<[number, number]>): void {
  // Progress ran from 1 to the total, one call per file.
  assert.equal(progress.length, r.filesChecked);
  assert.deepEqual(progress.at(-1), [r.filesChecked, r.filesChecked]);
  assert.ok(progress.every(([d, t], i) => d === i + 1 && t === r.filesChecked));
  // Counts agree with the issues.
  let checked = 0;
  for (const [cls, c] of Object.entries(r.counts)) {
    checked += c.checked;
    for (const st of ['changed', 'missing', 'unreadable'] as const) {
      assert.equal(c[st], r.issues.filter((i) => i.class === cls && i.status === st).length, `${cls} ${st}`);
    }
  }
  assert.equal(checked, r.filesChecked);
  assert.equal(
    r.databases.reduce((n, d) => n + d.files, 0),
    r.filesChecked,
  );
}

const byPath = (r: IntegrityReport, path: string): IntegrityIssue[] =>
  r.issues.filter((i) => i.path === path);

describe('dpkg: the real Debian fixture tree, against dpkg --verify', () => {
  let tmp: { dir: string; cleanup: () => void };
  let root = '';
  let m: MountedImage;
  let report: IntegrityReport;
  let dpkgSaw: string[] = [];
  const progress: Array<[number, number]> = [];
  const info = (): string => join(root, 'var/lib/dpkg/info');

  before(() => {
    tmp = tempDir('hyperward-integrity-dpkg-');
    const fixture = loadFixtureManifest().trees['base']!.root;
    root = join(tmp.dir, 'root');
    run('cp', ['-a', fixture, root]);
    // The pristine copy verifies clean with dpkg itself.
    assert.deepEqual(dpkgVerify(root), []);

    appendFileSync(join(root, 'usr/bin/ls'), 'tampered\n'); // packaged as /bin/ls (merged /usr)
    const lib = join(root, 'usr/lib/x86_64-linux-gnu/libacl.so.1.1.2301');
    const fd = openSync(lib, 'r+');
    writeSync(fd, Buffer.from([0x90]), 0, 1, 4000);
    closeSync(fd);
    appendFileSync(join(root, 'etc/issue'), 'local banner\n');
    appendFileSync(join(root, 'usr/share/base-files/dot.bashrc'), '# edited\n');
    rmSync(join(root, 'etc/deluser.conf'));
    rmSync(join(root, 'usr/bin/whoami'));
    // A file a path-exclude filter kept off the disk: gone from .list and from the disk. Neither tool reports
    // it.
    const list = join(info(), 'coreutils.list');
    writeFileSync(
      list,
      readFileSync(list, 'utf8')
        .split('\n')
        .filter((l) => l !== '/usr/bin/id')
        .join('\n'),
    );
    rmSync(join(root, 'usr/bin/id'));
    // A local diversion: /bin/cat moved to /bin/cat.orig and replaced; then the moved original is modified.
    run('dpkg-divert', [
      '--root',
      root,
      '--local',
      '--rename',
      '--divert',
      '/bin/cat.orig',
      '--add',
      '/bin/cat',
    ]);
    writeFileSync(join(root, 'usr/bin/cat'), '#!/bin/sh\nexec busybox cat "$@"\n', { mode: 0o755 });
    appendFileSync(join(root, 'usr/bin/cat.orig'), '\n');
    dpkgSaw = dpkgVerify(root);
    // Last, a packaged file replaced by a directory: dpkg --verify stops at it with an error (checked below),
    // so its report is taken before.
    rmSync(join(root, 'usr/share/base-files/motd'));
    mkdirSync(join(root, 'usr/share/base-files/motd'));

    m = imageOf(root, join(tmp.dir, 'disk.raw'));
    report = verifyPackagedFiles(m.root!, { onProgress: (d, t) => progress.push([d, t]) });
  });
  after(() => {
    m?.close();
    tmp.cleanup();
  });

  it('reports what dpkg --verify reports, plus the diverted file it skips and one it cannot read', () => {
    const want = dpkgSaw;
    // dpkg --verify looks up a diverted file's hash under the diverted name and finds none, so it checks
    // neither /bin/cat nor /bin/cat.orig; Hyperward checks the package's file where the diversion put it (as
    // debsums).
    assert.ok(!want.some((l) => l.includes('/bin/cat')));
    // A packaged file that is now a directory stops dpkg --verify with an error naming it.
    const r = spawnSync('dpkg', ['--root', root, '--verify'], { encoding: 'utf8' });
    assert.equal(r.status, 2);
    assert.match(
      r.stderr,
      /cannot compute MD5 digest for file '[^']*\/usr\/share\/base-files\/motd'.*Is a directory/,
    );
    assert.deepEqual(
      ours(report),
      [
        ...want,
        key('changed', false, '/bin/cat.orig'),
        key('changed', false, '/usr/share/base-files/motd'),
      ].sort(),
    );
    // And that is exactly what this test changed.
    assert.deepEqual(
      ours(report),
      [
        key('changed', false, '/bin/cat.orig'),
        key('changed', false, '/bin/ls'),
        key('changed', false, '/usr/lib/x86_64-linux-gnu/libacl.so.1.1.2301'),
        key('changed', false, '/usr/share/base-files/dot.bashrc'),
        key('changed', false, '/usr/share/base-files/motd'),
        key('changed', true, '/etc/issue'),
        key('missing', false, '/usr/bin/whoami'),
        key('missing', true, '/etc/deluser.conf'),
      ].sort(),
    );
    assert.equal(report.issues.filter((i) => i.status === 'unreadable').length, 0);
    assert.deepEqual(report.problems, []);
  });

  it('classes, digests and packages of each issue', () => {
    const one = (p: string): IntegrityIssue => {
      const l = byPath(report, p);
      assert.equal(l.length, 1, p);
      return l[0]!;
    };
    const md5 = (p: string): string =>
      execFileSync('md5sum', [join(root, p)], { encoding: 'utf8' }).slice(0, 32);
    const recorded = (pkg: string, rel: string): string => {
      const line = readFileSync(join(info(), `${pkg}.md5sums`), 'utf8')
        .split('\n')
        .find((l) => l.endsWith(`  ${rel}`));
      return line!.slice(0, 32);
    };
    const ls = one('/bin/ls');
    assert.deepEqual(
      [ls.package, ls.manager, ls.class, ls.key, ls.expected, ls.actual],
      ['coreutils', 'dpkg', 'binary', 'md5', recorded('coreutils', 'bin/ls'), md5('usr/bin/ls')],
    );
    const lib = one('/usr/lib/x86_64-linux-gnu/libacl.so.1.1.2301');
    assert.deepEqual([lib.package, lib.class], ['libacl1', 'library']);
    assert.equal(lib.actual, md5('usr/lib/x86_64-linux-gnu/libacl.so.1.1.2301'));
    const issue = one('/etc/issue');
    assert.deepEqual([issue.package, issue.class], ['base-files', 'config']);
    // The conffile hash comes from the status file's Conffiles field.
    const status = readFileSync(join(root, 'var/lib/dpkg/status'), 'utf8');
    assert.equal(issue.expected, /^ \/etc\/issue ([0-9a-f]{32})$/m.exec(status)![1]);
    assert.equal(one('/usr/share/base-files/dot.bashrc').class, 'other');
    const motd = one('/usr/share/base-files/motd');
    assert.deepEqual([motd.key, motd.actual], ['type', 'dir']);
    assert.deepEqual([one('/usr/bin/whoami').class, one('/etc/deluser.conf').class], ['binary', 'config']);
    assert.equal(one('/bin/cat.orig').expected, recorded('coreutils', 'bin/cat'));
  });

  it('counts every packaged file dpkg would verify', () => {
    checkReportShape(report, progress);
    // Independently: md5sums lines whose path is in the package's .list, plus every live conffile
    // (dpkg-query).
    let files = 0;
    for (const f of readdirSync(info()).filter((n) => n.endsWith('.md5sums'))) {
      const listed = new Set(readFileSync(join(info(), f.replace(/md5sums$/, 'list')), 'utf8').split('\n'));
      for (const l of readFileSync(join(info(), f), 'utf8').split('\n')) {
        if (l.length > 34 && listed.has('/' + l.slice(34))) files++;
      }
    }
    const conffiles = run('dpkg-query', [
      '--admindir',
      join(root, 'var/lib/dpkg'),
      '-W',
      '-f',
      '${Conffiles}\n',
    ])
      .split('\n')
      .filter((l) => l.startsWith(' /') && !/ obsolete$/.test(l)).length;
    assert.equal(report.counts.config.checked, conffiles);
    assert.equal(report.filesChecked, files + conffiles);
    assert.equal(report.databases.length, 1);
    assert.deepEqual(
      [report.databases[0]!.path, report.databases[0]!.packages],
      ['/var/lib/dpkg/status', loadFixtureManifest().trees['base']!.packageCount],
    );
    assert.ok(report.bytesRead > 50 * 1024 * 1024, `read ${report.bytesRead}`);
  });

  it('files over the size limit are unreadable, not silently passed', () => {
    const limit = 2 * 1024 * 1024;
    const r = verifyPackagedFiles(m.root!, { maxFileBytes: limit });
    // Regular files named in the .list files (the final component not followed: symlinks have no md5sum) and
    // larger than the limit. The diverted /bin/cat is checked at /bin/cat.orig, which is small.
    const big = new Set<string>();
    for (const f of readdirSync(info()).filter((n) => n.endsWith('.md5sums'))) {
      const listed = readFileSync(join(info(), f.replace(/md5sums$/, 'list')), 'utf8').split('\n');
      for (const p of listed) {
        if (p === '') continue;
        const st = lstatSync(join(root, p), { throwIfNoEntry: false });
        if (st?.isFile() && st.size > limit) big.add(p);
      }
    }
    assert.ok(big.size > 0);
    const unreadable = r.issues.filter((i) => i.status === 'unreadable');
    assert.deepEqual(unreadable.map((i) => i.path).sort(), [...big].sort());
    assert.ok(unreadable.every((i) => /limit/.test(i.detail ?? '')));
  });

  it('findings: one per binary, library or other file; one per package for its configuration files', () => {
    const target = 'disk.raw';
    const fs = integrityFindings(report, target);
    const by = (p: string) => fs.filter((f) => f.resource.id === p);
    const ls = by('/bin/ls');
    assert.equal(ls.length, 1);
    assert.deepEqual(
      [ls[0]!.checkId, ls[0]!.severity, ls[0]!.status, ls[0]!.resource.type, ls[0]!.evidence?.key],
      ['image.file-modified', 'high', 'fail', 'file', 'md5'],
    );
    assert.equal(ls[0]!.evidence?.value, byPath(report, '/bin/ls')[0]!.actual);
    assert.equal(by('/usr/lib/x86_64-linux-gnu/libacl.so.1.1.2301')[0]!.severity, 'high');
    assert.deepEqual(
      [by('/usr/bin/whoami')[0]!.checkId, by('/usr/bin/whoami')[0]!.severity],
      ['image.file-missing', 'medium'],
    );
    assert.equal(by('/usr/share/base-files/dot.bashrc')[0]!.severity, 'medium');
    // Configuration: grouped by package, info.
    const cfg = fs.filter((f) => f.resource.type === 'package');
    assert.deepEqual(cfg.map((f) => [f.resource.id, f.checkId, f.severity]).sort(), [
      ['dpkg:adduser', 'image.file-missing', 'info'],
      ['dpkg:base-files', 'image.file-modified', 'info'],
    ]);
    assert.match(cfg.find((f) => f.resource.id === 'dpkg:base-files')!.message, /\/etc\/issue/);
    // Stable and distinct fingerprints.
    const again = integrityFindings(verifyPackagedFiles(m.root!), target);
    assert.deepEqual(
      again.map((f) => f.id),
      fs.map((f) => f.id),
    );
    assert.equal(new Set(fs.map((f) => f.id)).size, fs.length);
    assert.notDeepEqual(
      integrityFindings(report, 'other.raw').map((f) => f.id),
      fs.map((f) => f.id),
    );
  });
});

describe('RPM: packages installed by rpm 4.18, against rpm -V', () => {
  let tmp: { dir: string; cleanup: () => void };
  let root = '';
  let m: MountedImage;

  const rpmV = (): string[] => {
    const r = spawnSync('rpm', ['--root', root, '--dbpath', '/var/lib/rpm', '-V', '--nodeps', '-a'], {
      encoding: 'utf8',
    });
    const out: string[] = [];
    for (const line of r.stdout.split('\n')) {
      if (line === '') continue;
      const mm = /^(missing {2}|[.?SM5DLUGTP]{9}) {1,2}([cdglr ]) (\/.*)$/.exec(line);
      assert.ok(mm, `unexpected rpm -V line ${JSON.stringify(line)}`);
      // Hyperward compares content, link targets and file types: rpm's 5 (digest) and L (link) columns.
      const flags = mm[1]!;
      const status = flags.startsWith('missing') ? 'missing' : /5|L/.test(flags) ? 'changed' : undefined;
      if (status) out.push(key(status, mm[2] === 'c', mm[3]!));
    }
    return out.sort();
  };

  before(() => {
    tmp = tempDir('hyperward-integrity-rpm-');
    const top = join(tmp.dir, 'build');
    root = join(tmp.dir, 'root');
    mkdirSync(join(top, 'SPECS'), { recursive: true });
    mkdirSync(root);
    const common = `BuildArch: noarch
AutoReqProv: no
License: MIT
%define _binaries_in_noarch_packages_terminate_build 0
%define debug_package %{nil}
%global __os_install_post %{nil}
`;
    const specs: Record<string, string> = {
      'hw-tamper': `Name: hw-tamper
Version: 1.0
Release: 1
Summary: tamper
${common}%description
tamper
%install
mkdir -p %{buildroot}/usr/bin %{buildroot}/usr/lib64 %{buildroot}/etc/hw %{buildroot}/usr/share/hw %{buildroot}/var/log
cp /usr/bin/true %{buildroot}/usr/bin/hw-true
cp /usr/bin/false %{buildroot}/usr/bin/hw-false
cp ${'/usr/lib/x86_64-linux-gnu/libacl.so.1'} %{buildroot}/usr/lib64/libhw.so.1
echo conf > %{buildroot}/etc/hw/hw.conf
echo opt > %{buildroot}/etc/hw/optional.conf
echo state > %{buildroot}/usr/share/hw/state.dat
echo data > %{buildroot}/usr/share/hw/data.txt
echo keep > %{buildroot}/usr/share/hw/keep.txt
: > %{buildroot}/usr/share/hw/empty
ln -s hw-true %{buildroot}/usr/bin/hw-link
%files
/usr/bin/hw-true
/usr/bin/hw-false
/usr/bin/hw-link
/usr/lib64/libhw.so.1
%config(noreplace) /etc/hw/hw.conf
%config(missingok) /etc/hw/optional.conf
%verify(not md5 size mtime) /usr/share/hw/state.dat
/usr/share/hw/data.txt
/usr/share/hw/keep.txt
/usr/share/hw/empty
%dir /usr/share/hw
%ghost /var/log/hw.log
`,
      // MD5 file digests, as rpm before 4.6 wrote them.
      'hw-old': `Name: hw-old
Version: 0.1
Release: 7
Summary: old
${common}%define _binary_filedigest_algorithm 1
%description
old
%install
mkdir -p %{buildroot}/opt/old
echo old > %{buildroot}/opt/old/file
echo same > %{buildroot}/opt/old/same
%files
/opt/old
`,
    };
    for (const [name, spec] of Object.entries(specs)) {
      writeFileSync(join(top, 'SPECS', `${name}.spec`), spec);
      run('rpmbuild', ['--define', `_topdir ${top}`, '-bb', join(top, 'SPECS', `${name}.spec`)]);
    }
    const rpms = run('find', [join(top, 'RPMS'), '-name', '*.rpm'])
      .trim()
      .split('\n');
    run('rpm', ['--root', root, '--dbpath', '/var/lib/rpm', '--initdb']);
    run('rpm', [
      '-i',
      '--nodeps',
      '--ignoreos',
      '--ignorearch',
      '--root',
      root,
      '--dbpath',
      '/var/lib/rpm',
      ...rpms,
    ]);
    assert.deepEqual(rpmV(), []);

    appendFileSync(join(root, 'usr/bin/hw-true'), 'x');
    const fd = openSync(join(root, 'usr/lib64/libhw.so.1'), 'r+');
    writeSync(fd, Buffer.from('Z'), 0, 1, 200);
    closeSync(fd);
    appendFileSync(join(root, 'etc/hw/hw.conf'), 'more\n');
    rmSync(join(root, 'etc/hw/optional.conf')); // %missingok: rpm -V is silent about it
    writeFileSync(join(root, 'usr/share/hw/state.dat'), 'STATE\n'); // %verify(not md5 size mtime)
    rmSync(join(root, 'usr/share/hw/data.txt'));
    rmSync(join(root, 'usr/bin/hw-link'));
    symlinkSync('hw-false', join(root, 'usr/bin/hw-link'));
    rmSync(join(root, 'usr/share/hw/keep.txt'));
    symlinkSync('data.txt', join(root, 'usr/share/hw/keep.txt'));
    appendFileSync(join(root, 'opt/old/file'), 'tampered\n');
    m = imageOf(root, join(tmp.dir, 'disk.raw'));
  });
  after(() => {
    m?.close();
    tmp.cleanup();
  });

  it('reports what rpm -V reports as digest, link and missing changes', () => {
    const progress: Array<[number, number]> = [];
    const r = verifyPackagedFiles(m.root!, { onProgress: (d, t) => progress.push([d, t]) });
    assert.deepEqual(ours(r), rpmV());
    assert.deepEqual(
      ours(r),
      [
        key('changed', false, '/opt/old/file'),
        key('changed', false, '/usr/bin/hw-link'),
        key('changed', false, '/usr/bin/hw-true'),
        key('changed', false, '/usr/lib64/libhw.so.1'),
        key('changed', false, '/usr/share/hw/keep.txt'),
        key('changed', true, '/etc/hw/hw.conf'),
        key('missing', false, '/usr/share/hw/data.txt'),
      ].sort(),
    );
    checkReportShape(r, progress);
    assert.deepEqual(
      r.databases.map((d) => [d.manager, d.path, d.packages]),
      [['rpm', '/var/lib/rpm/rpmdb.sqlite', 2]],
    );
    // Files checked: everything but the ghost and the directories (rpm -qa --qf lists them with their modes).
    const listing = run('rpm', [
      '--root',
      root,
      '--dbpath',
      '/var/lib/rpm',
      '-qa',
      '--qf',
      '[%{FILEMODES:perms} %{FILEFLAGS}\\n]',
    ]);
    const expectFiles = listing
      .trim()
      .split('\n')
      .filter((l) => /^[-l]/.test(l) && (Number(l.split(' ')[1]) & 64) === 0).length;
    assert.equal(r.filesChecked, expectFiles);

    const get = (p: string): IntegrityIssue => byPath(r, p)[0]!;
    const sha256 = (p: string): string =>
      execFileSync('sha256sum', [join(root, p)], { encoding: 'utf8' }).slice(0, 64);
    assert.deepEqual(
      [get('/usr/bin/hw-true').class, get('/usr/bin/hw-true').key, get('/usr/bin/hw-true').actual],
      ['binary', 'sha256', sha256('usr/bin/hw-true')],
    );
    assert.equal(get('/usr/lib64/libhw.so.1').class, 'library');
    assert.deepEqual(
      [get('/usr/bin/hw-link').key, get('/usr/bin/hw-link').expected, get('/usr/bin/hw-link').actual],
      ['link-target', 'hw-true', 'hw-false'],
    );
    assert.deepEqual(
      [get('/usr/share/hw/keep.txt').key, get('/usr/share/hw/keep.txt').actual],
      ['type', 'symlink'],
    );
    const old = get('/opt/old/file');
    assert.deepEqual(
      [old.key, old.actual, old.package, old.version],
      [
        'md5',
        execFileSync('md5sum', [join(root, 'opt/old/file')], { encoding: 'utf8' }).slice(0, 32),
        'hw-old',
        '0.1-7.noarch',
      ],
    );
    const fs = integrityFindings(r, 'rpm.raw');
    assert.deepEqual(
      fs
        .filter((f) => f.severity === 'high')
        .map((f) => f.resource.id)
        .sort(),
      ['/usr/bin/hw-link', '/usr/bin/hw-true', '/usr/lib64/libhw.so.1'],
    );
    assert.deepEqual(
      fs.filter((f) => f.resource.type === 'package').map((f) => f.resource.id),
      ['rpm:hw-tamper'],
    );
  });
});

describe('apk: a real alpine-baselayout record and a generated one', () => {
  let tmp: { dir: string; cleanup: () => void };
  let m: MountedImage;
  let root = '';
  const realDb = readFileSync(join(REPO, 'fixtures/apk/installed-syft-base'), 'utf8');
  const b64 = (hex: string): string => Buffer.from(hex, 'hex').toString('base64');
  const tool = (cmd: string, file: string): string =>
    execFileSync(cmd, [file], { encoding: 'utf8' }).split(' ')[0]!;

  before(() => {
    tmp = tempDir('hyperward-integrity-apk-');
    root = join(tmp.dir, 'root');
    const at = (p: string): string => {
      mkdirSync(join(root, p, '..'), { recursive: true });
      return join(root, p);
    };
    // Files of the real record whose content is known (their checksums in the real database match these).
    writeFileSync(at('etc/hostname'), 'localhost\n');
    // /etc/shells with /bin/bash added.
    writeFileSync(at('etc/shells'), '# valid login shells\n/bin/sh\n/bin/ash\n/bin/bash\n');
    symlinkSync('/proc/mounts', at('etc/mtab'));
    symlinkSync('/run', at('var/run'));
    symlinkSync('/etc/crontabs', at('var/spool/cron/crontabs'));
    symlinkSync('/var/mail-elsewhere', at('var/spool/mail')); // the record says /var/mail
    // GENERATED: a package whose checksums this test computes with coreutils from files it writes.
    copyFileSync('/usr/bin/true', at('usr/bin/hw-tool'));
    copyFileSync('/usr/lib/x86_64-linux-gnu/libacl.so.1', at('usr/lib/libhw.so.1'));
    writeFileSync(at('usr/share/hw/notes.txt'), 'notes\n');
    writeFileSync(at('etc/hw.conf'), 'a=1\n');
    const q1 = b64(tool('sha1sum', at('usr/bin/hw-tool')));
    const q2 = b64(tool('sha256sum', at('usr/lib/libhw.so.1')));
    const x1 = tool('sha1sum', at('usr/share/hw/notes.txt'));
    const conf = b64(tool('sha1sum', at('etc/hw.conf')));
    const generated = [
      'P:hw-generated',
      'V:1.0-r0',
      'A:x86_64',
      'F:usr/bin',
      'R:hw-tool',
      'a:0:0:755',
      `Z:Q1${q1}`,
      'F:usr/lib',
      'R:libhw.so.1',
      `Z:Q2${q2}`,
      'F:usr/share/hw',
      'R:notes.txt',
      `Z:X1${x1}`,
      'F:etc',
      'R:hw.conf',
      `Z:Q1${conf}`,
      '',
    ].join('\n');
    writeFileSync(at('lib/apk/db/installed'), realDb.trimEnd() + '\n\n' + generated);
    // Then some of the generated package's files are tampered with.
    const fd = openSync(join(root, 'usr/lib/libhw.so.1'), 'r+');
    writeSync(fd, Buffer.from('Q'), 0, 1, 300);
    closeSync(fd);
    appendFileSync(join(root, 'usr/share/hw/notes.txt'), 'more\n');
    appendFileSync(join(root, 'etc/hw.conf'), 'b=2\n');
    m = imageOf(root, join(tmp.dir, 'disk.raw'));
  });
  after(() => {
    m?.close();
    tmp.cleanup();
  });

  it('reports the files that differ from their checksums and the ones that are absent', () => {
    const r = verifyPackagedFiles(m.root!);
    // Every file of the real record (F: directory + R: name), read from the database text.
    const realFiles: string[] = [];
    let dir = '';
    for (const line of realDb.split('\n')) {
      if (line.startsWith('F:')) dir = line.slice(2);
      if (line.startsWith('R:')) realFiles.push(`/${dir}/${line.slice(2)}`);
    }
    const present = new Set([
      '/etc/hostname',
      '/etc/shells',
      '/etc/mtab',
      '/var/run',
      '/var/spool/cron/crontabs',
      '/var/spool/mail',
    ]);
    const missing = realFiles.filter((p) => !present.has(p));
    assert.equal(missing.length, realFiles.length - present.size);
    const want = [
      ...missing.map((p) => key('missing', p.startsWith('/etc/'), p)),
      key('changed', true, '/etc/shells'),
      key('changed', false, '/var/spool/mail'),
      key('changed', false, '/usr/lib/libhw.so.1'),
      key('changed', false, '/usr/share/hw/notes.txt'),
      key('changed', true, '/etc/hw.conf'),
    ].sort();
    assert.deepEqual(ours(r), want);
    assert.equal(r.filesChecked, realFiles.length + 4);
    const get = (p: string): IntegrityIssue => byPath(r, p)[0]!;
    // The symlink's checksum is that of its target text.
    const mail = get('/var/spool/mail');
    assert.equal(mail.key, 'sha1');
    assert.equal(
      mail.actual,
      execFileSync('sha1sum', { input: '/var/mail-elsewhere', encoding: 'utf8' }).slice(0, 40),
    );
    assert.deepEqual(
      [get('/usr/lib/libhw.so.1').key, get('/usr/lib/libhw.so.1').class],
      ['sha256', 'library'],
    );
    assert.equal(get('/usr/lib/libhw.so.1').actual, tool('sha256sum', join(root, 'usr/lib/libhw.so.1')));
    assert.equal(get('/sbin/mkmntdirs').class, 'binary');
    assert.equal(get('/usr/share/hw/notes.txt').class, 'other');
    assert.deepEqual(
      r.databases.map((d) => [d.manager, d.packages]),
      [['apk', 2]],
    );
    assert.equal(
      integrityFindings(r, 'alpine.raw').find((f) => f.resource.id === '/usr/lib/libhw.so.1')?.severity,
      'high',
    );
  });
});

describe('metadata parsers and file classes', () => {
  const relPath = fc
    .array(fc.stringMatching(/^[A-Za-z0-9._+ -]{1,12}$/), { minLength: 1, maxLength: 5 })
    .map((parts) => parts.join('/'))
    .filter((p) => !p.startsWith('./') && !p.startsWith('/') && p !== '.' && !p.startsWith(' '));

  it('md5sums: what is written is read back, and nothing crashes it', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.stringMatching(/^[0-9a-f]{32}$/), relPath), { maxLength: 20 }),
        (rows) => {
          const text = rows.map(([h, p]) => `${h}  ${p}\n`).join('');
          const r = parseMd5sums(text, 'x.md5sums');
          assert.deepEqual(r.problems, []);
          assert.deepEqual(
            r.entries.map((e) => [e.md5, e.path]),
            rows.map(([h, p]) => [h, `/${p}`]),
          );
        },
      ),
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 400 }), (s) => {
        const r = parseMd5sums(s, 'x.md5sums');
        for (const e of r.entries) {
          assert.match(e.md5, /^[0-9a-f]{32}$/);
          assert.ok(e.path.startsWith('/') && e.path.length > 1);
        }
      }),
    );
    const bad = parseMd5sums(
      'nothex  a\n0123456789abcdef0123456789abcdef  ok\n' + 'f'.repeat(32) + '  ' + 'x'.repeat(9000),
      'm',
    );
    assert.deepEqual(
      bad.entries.map((e) => e.path),
      ['/ok'],
    );
    assert.deepEqual(
      bad.problems.map((p) => [p.code, p.location.line]),
      [
        ['E_FS_CORRUPT', 1],
        ['E_LIMIT', 3],
      ],
    );
  });

  it('conffiles and diversions', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(relPath, fc.stringMatching(/^[0-9a-f]{32}$/), fc.boolean()), { maxLength: 10 }),
        (rows) => {
          const v = '\n' + rows.map(([p, h, o]) => ` /${p} ${h}${o ? ' obsolete' : ''}`).join('\n');
          assert.deepEqual(
            parseConffiles(v).map((c) => [c.path, c.md5, c.obsolete]),
            rows.map(([p, h, o]) => [`/${p.trimEnd()}`, h, o]),
          );
        },
      ),
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (s) => onlyHyperwardErrors(() => parseConffiles(s))),
    );
    assert.deepEqual(parseDiversions('/bin/sh\n/bin/sh.distrib\ndash\n/a\n/b\n:\n'), [
      { from: '/bin/sh', to: '/bin/sh.distrib', by: 'dash' },
      { from: '/a', to: '/b', by: ':' },
    ]);
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (s) => onlyHyperwardErrors(() => parseDiversions(s))),
    );
  });

  it('ELF kinds of real files, and arbitrary bytes never crash the sniffing', () => {
    const head = (p: string): Buffer => readFileSync(p).subarray(0, 4096);
    assert.equal(elfKind(head('/usr/bin/true')), 'executable'); // PIE: ET_DYN with an interpreter
    assert.equal(elfKind(head('/usr/lib/x86_64-linux-gnu/libacl.so.1')), 'shared');
    assert.equal(elfKind(Buffer.from('#!/bin/sh\n')), undefined);
    assert.equal(classifyFile('/usr/libexec/x', false), 'binary');
    assert.equal(classifyFile('/opt/app/tool', false, head('/usr/bin/true')), 'binary');
    assert.equal(
      classifyFile('/opt/app/plugin', false, head('/usr/lib/x86_64-linux-gnu/libacl.so.1')),
      'library',
    );
    assert.equal(
      classifyFile('/usr/lib/python3/dist-packages/x.cpython-311-x86_64-linux-gnu.so', false),
      'library',
    );
    assert.equal(classifyFile('/usr/bin/tool', true), 'config');
    assert.equal(classifyFile('/usr/share/doc/x/README', false), 'other');
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 200 }), fc.nat({ max: 3 }), (bytes, t) => {
        const b = Buffer.from(bytes);
        if (b.length >= 20) {
          b.writeUInt32BE(0x7f454c46, 0);
          b.writeUInt16LE(t, 16);
        }
        elfKind(b);
      }),
    );
  });

  it('severity by class and status', () => {
    assert.equal(integritySeverity('changed', 'binary'), 'high');
    assert.equal(integritySeverity('changed', 'library'), 'high');
    assert.equal(integritySeverity('missing', 'binary'), 'medium');
    assert.equal(integritySeverity('changed', 'config'), 'info');
    assert.equal(integritySeverity('unreadable', 'library'), 'low');
  });
});
