/**
 * RPM databases of every backend read by Hyperward and compared with what the real `rpm` reads from them:
 * packages built with rpmbuild and installed into a root by rpm 4.18 (SQLite), the real CBL-Mariner 2.0 SQLite
 * database, the real EL8 Berkeley DB and Berkeley DB files written by Berkeley DB's own `db_load` in both byte
 * orders (read by rpm's `bdb_ro` backend), an SQLite database with uncheckpointed WAL frames, and the real SLES
 * 15 NDB database against the `rpm -qa` listing recorded with it (go-rpmdb's test case).
 *
 * Real databases: fixtures/rpmdb/README.md.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { run, tempDir } from '../../../test/helpers/tmp.js';
import { DirRoot } from '../../source/dir.js';
import { HyperwardError } from '../../errors.js';
import {
  detectRpmBackend,
  parseRpmDatabase,
  readRpmDatabase,
  readRpmDb,
  rpmPackages,
  type RpmDatabase,
} from './index.js';

const FIXTURES = join(import.meta.dirname, '../../../fixtures/rpmdb');

/** What rpm prints for one package and its files. */
interface OraclePackage {
  name: string;
  epoch: string;
  version: string;
  release: string;
  arch: string;
  sourceRpm: string;
  installTime: string;
  size: string;
  license: string;
  vendor: string;
  packager: string;
  digestAlgo: string;
  sigmd5: string;
  evr: string;
  files: string[][];
}

const QF =
  'PKG\\t%{NAME}\\t%{EPOCH}\\t%{VERSION}\\t%{RELEASE}\\t%{ARCH}\\t%{SOURCERPM}\\t%{INSTALLTIME}\\t%{LONGSIZE}' +
  '\\t%{LICENSE}\\t%{VENDOR}\\t%{PACKAGER}\\t%{FILEDIGESTALGO}\\t%{SIGMD5}\\t%{EVR}\\n' +
  '[FILE\\t%{FILENAMES}\\t%{FILEDIGESTS}\\t%{FILEMODES}\\t%{LONGFILESIZES}\\t%{FILEFLAGS}\\t%{FILELINKTOS}' +
  '\\t%{FILEUSERNAME}\\t%{FILEGROUPNAME}\\t%{FILEMTIMES}\\t%{FILESTATES}\\n]';

/** `rpm -qa` on a database directory (never a fixture: rpm creates files beside the database). */
function rpmQuery(args: string[]): OraclePackage[] {
  const out = execFileSync('rpm', [...args, '-qa', '--qf', QF], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
    maxBuffer: 256 * 1024 * 1024,
  });
  const pkgs: OraclePackage[] = [];
  for (const line of out.split('\n')) {
    const f = line.split('\t');
    if (f[0] === 'PKG') {
      const [, name, epoch, version, release, arch, sourceRpm, installTime, size, license, vendor, packager] =
        f;
      pkgs.push({
        name: name!,
        epoch: epoch!,
        version: version!,
        release: release!,
        arch: arch!,
        sourceRpm: sourceRpm!,
        installTime: installTime!,
        size: size!,
        license: license!,
        vendor: vendor!,
        packager: packager!,
        digestAlgo: f[12]!,
        sigmd5: f[13]!,
        evr: f[14]!,
        files: [],
      });
    } else if (f[0] === 'FILE') {
      pkgs.at(-1)!.files.push(f.slice(1));
    }
  }
  return pkgs;
}

const none = (v: string | number | undefined): string => (v === undefined || v === '' ? '(none)' : String(v));

/** Hyperward's records in rpm's output shape. */
function asOracle(db: RpmDatabase): OraclePackage[] {
  const inventory = new Map(rpmPackages(db).map((p) => [p.name + '\0' + p.arch, p]));
  return db.packages.map((r) => ({
    name: r.name,
    epoch: none(r.epoch),
    version: r.version,
    release: r.release,
    arch: none(r.arch),
    sourceRpm: none(r.sourceRpm),
    installTime: none(r.installTime),
    size: none(r.size),
    license: none(r.license),
    vendor: none(r.vendor),
    packager: none(r.packager),
    digestAlgo: String(r.digestAlgorithmId),
    sigmd5: none(r.sigmd5),
    evr:
      inventory.get(r.name + '\0' + r.arch)?.version ??
      `${r.epoch !== undefined ? `${r.epoch}:` : ''}${r.version}-${r.release}`,
    files: r.files.map((x) => [
      x.path,
      x.digest,
      String(x.mode),
      String(x.size),
      String(x.flags),
      x.linkTo ?? '',
      x.user ?? '(none)',
      x.group ?? '(none)',
      String(x.mtime),
      String(x.state),
    ]),
  }));
}

/** Compares package by package, so a failure names the package. */
function assertSame(got: OraclePackage[], want: OraclePackage[]): void {
  const key = (p: OraclePackage): string => `${p.name}-${p.evr}.${p.arch}`;
  assert.deepEqual(got.map(key).sort(), want.map(key).sort(), 'package set');
  const byKey = new Map(got.map((p) => [key(p), p]));
  for (const w of want) {
    const g = byKey.get(key(w))!;
    // rpm prints (none) for FILEDIGESTALGO when the tag is absent; Hyperward then reports md5 (1), as rpm assumes.
    const digestAlgo = w.digestAlgo === '(none)' ? g.digestAlgo : w.digestAlgo;
    assert.deepEqual({ ...g, files: g.files.length }, { ...w, digestAlgo, files: w.files.length }, key(w));
    assert.deepEqual(g.files, w.files, `${key(w)} files`);
  }
}

describe('rpm databases compared with rpm 4.18', () => {
  let tmp: { dir: string; cleanup: () => void };
  before(() => {
    tmp = tempDir('hyperward-rpmdb-');
  });
  after(() => tmp.cleanup());

  it('packages built with rpmbuild and installed by rpm into a root (SQLite)', () => {
    const top = join(tmp.dir, 'build');
    const root = join(tmp.dir, 'root');
    mkdirSync(join(top, 'SPECS'), { recursive: true });
    mkdirSync(root);
    const specs: Record<string, string> = {
      // Source package hw-suite with an epoch and a tilde version, and a subpackage with another name.
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
mkdir -p %{buildroot}/etc/hw %{buildroot}/usr/bin %{buildroot}/usr/share/hw
echo conf > %{buildroot}/etc/hw/alpha.conf
printf '#!/bin/sh\\necho hi\\n' > %{buildroot}/usr/bin/hw-alpha
ln -s hw-alpha %{buildroot}/usr/bin/hw-alpha-link
echo suite > %{buildroot}/usr/share/hw/suite.txt
%files
/usr/share/hw/suite.txt
%files -n hw-alpha
%dir /etc/hw
%config(noreplace) /etc/hw/alpha.conf
%attr(0755,root,root) /usr/bin/hw-alpha
/usr/bin/hw-alpha-link
`,
      // Caret version, ghosts, docs, odd modes, nested directories, a large and an empty file.
      'hw-beta': `Name: hw-beta
Version: 2.0^git1
Release: 1
Summary: beta
License: GPL-2.0-only
Vendor: Hyperward Test
Packager: Test Packager <test@example.org>
BuildArch: noarch
%description
beta
%install
mkdir -p %{buildroot}/etc/beta/conf.d %{buildroot}/usr/lib/beta/a/b/c %{buildroot}/usr/share/doc/hw-beta %{buildroot}/var/log
head -c 300000 /dev/urandom > %{buildroot}/usr/lib/beta/a/b/c/big.bin
: > %{buildroot}/usr/lib/beta/empty
echo x > '%{buildroot}/usr/lib/beta/with space'
echo main > %{buildroot}/etc/beta/main.conf
echo d > %{buildroot}/etc/beta/conf.d/10-d.conf
echo readme > %{buildroot}/usr/share/doc/hw-beta/README
echo secret > %{buildroot}/usr/lib/beta/secret
for i in $(seq 1 40); do echo $i > %{buildroot}/usr/lib/beta/a/f$i; done
%files
%config /etc/beta/main.conf
%config(missingok) /etc/beta/conf.d/10-d.conf
%ghost /var/log/hw-beta.log
%doc /usr/share/doc/hw-beta/README
%attr(4755,root,root) /usr/lib/beta/a/b/c/big.bin
%attr(0600,root,root) /usr/lib/beta/secret
/usr/lib/beta/empty
"/usr/lib/beta/with space"
/usr/lib/beta/a
`,
      // An explicit zero epoch (rpm prints it) and no files.
      'hw-gamma': `Name: hw-gamma
Epoch: 0
Version: 1
Release: 1
Summary: gamma
License: MIT
BuildArch: noarch
%description
gamma
%files
`,
      // MD5 file digests, as old rpm versions wrote them.
      'hw-delta': `Name: hw-delta
Version: 0.1
Release: 7
Summary: delta
License: MIT
BuildArch: noarch
%define _binary_filedigest_algorithm 1
%description
delta
%install
mkdir -p %{buildroot}/opt/delta
echo delta > %{buildroot}/opt/delta/file
%files
/opt/delta
`,
    };
    for (const [name, spec] of Object.entries(specs)) {
      writeFileSync(join(top, 'SPECS', `${name}.spec`), spec);
      run('rpmbuild', ['--define', `_topdir ${top}`, '-bb', join(top, 'SPECS', `${name}.spec`)]);
    }
    const rpms = run('find', [join(top, 'RPMS'), '-name', '*.rpm'])
      .trim()
      .split('\n')
      .sort();
    assert.equal(rpms.length, 5);
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

    const db = readRpmDatabase(new DirRoot(root))!;
    assert.equal(db.path, '/var/lib/rpm/rpmdb.sqlite');
    assert.equal(db.backend, 'sqlite');
    assert.deepEqual(db.problems, []);
    const want = rpmQuery(['--root', root, '--dbpath', '/var/lib/rpm']);
    assertSame(asOracle(db), want);

    // The inventory view: [E:]V-R as rpm's EVR, the source package from the spec that built it.
    const pkgs = readRpmDb(new DirRoot(root))!;
    const byName = new Map(pkgs.map((p) => [p.name, p]));
    const evr = new Map(want.map((p) => [p.name, p.evr]));
    for (const p of pkgs) assert.equal(p.version, evr.get(p.name), p.name);
    assert.deepEqual(pkgs.map((p) => [p.name, p.sourceName, p.sourceVersion, p.arch]).sort(), [
      ['hw-alpha', 'hw-suite', '3:1.2~rc1-4.el9', 'noarch'],
      ['hw-beta', 'hw-beta', '2.0^git1-1', 'noarch'],
      ['hw-delta', 'hw-delta', '0.1-7', 'noarch'],
      ['hw-gamma', 'hw-gamma', '0:1-1', 'noarch'],
      ['hw-suite', 'hw-suite', '3:1.2~rc1-4.el9', 'noarch'],
    ]);
    assert.equal(byName.get('hw-beta')!.maintainer, 'Test Packager <test@example.org>');
    assert.equal(byName.get('hw-beta')!.ecosystem, 'rpm');

    // What the spec file says about each file, seen in the records.
    const beta = db.packages.find((r) => r.name === 'hw-beta')!;
    const file = (p: string) => beta.files.find((f) => f.path === p)!;
    assert.equal(file('/etc/beta/main.conf').config, true);
    assert.equal(file('/usr/lib/beta/secret').config, false);
    assert.equal(file('/var/log/hw-beta.log').ghost, true);
    assert.equal(file('/usr/lib/beta/a/b/c/big.bin').mode, 0o104755);
    assert.equal(file('/usr/lib/beta/a/b/c/big.bin').size, 300000);
    const sha = execFileSync('sha256sum', [join(root, 'usr/lib/beta/a/b/c/big.bin')], { encoding: 'utf8' });
    assert.equal(file('/usr/lib/beta/a/b/c/big.bin').digest, sha.split(' ')[0]);
    assert.equal(beta.digestAlgorithm, 'sha256');
    const delta = db.packages.find((r) => r.name === 'hw-delta')!;
    assert.equal(delta.digestAlgorithm, 'md5');
    const md5 = execFileSync('md5sum', [join(root, 'opt/delta/file')], { encoding: 'utf8' });
    assert.equal(delta.files.find((f) => f.path === '/opt/delta/file')!.digest, md5.split(' ')[0]);
  });

  it('the real CBL-Mariner 2.0 rpmdb.sqlite', () => {
    const dir = join(tmp.dir, 'mariner');
    mkdirSync(dir);
    copyFileSync(join(FIXTURES, 'mariner2-rpmdb.sqlite'), join(dir, 'rpmdb.sqlite'));
    const buf = readFileSync(join(FIXTURES, 'mariner2-rpmdb.sqlite'));
    const db = parseRpmDatabase(buf, 'mariner2-rpmdb.sqlite');
    assert.deepEqual(db.problems, []);
    assert.equal(db.packages.length, 129);
    assertSame(asOracle(db), rpmQuery(['--dbpath', dir]));
  });

  it('the real EL8 Berkeley DB Packages, read by rpm bdb_ro', () => {
    const dir = join(tmp.dir, 'el8');
    mkdirSync(dir);
    copyFileSync(join(FIXTURES, 'el8-libuuid-Packages'), join(dir, 'Packages'));
    const db = parseRpmDatabase(readFileSync(join(FIXTURES, 'el8-libuuid-Packages')), 'Packages');
    assert.equal(db.backend, 'bdb');
    assert.deepEqual(db.problems, []);
    const want = rpmQuery(['--dbpath', dir, '--define', '_db_backend bdb_ro']);
    assert.equal(want.length, 1);
    assertSame(asOracle(db), want);
  });

  // Berkeley DB files written by Berkeley DB itself (db_load) from real rpm header blobs: both byte orders, page
  // sizes from 512 bytes (most headers on overflow chains) to 64 KiB, and enough records for many buckets.
  for (const [lorder, pageSize] of [
    [1234, 512],
    [4321, 512],
    [1234, 4096],
    [4321, 8192],
    [1234, 65536],
  ] as const) {
    it(`a db_load hash database, byte order ${lorder}, pages of ${pageSize}`, () => {
      const dir = join(tmp.dir, `bdb-${lorder}-${pageSize}`);
      mkdirSync(dir);
      const image = readFileSync(join(FIXTURES, 'mariner2-rpmdb.sqlite'));
      image[18] = image[19] = 1; // WAL mode cannot be opened in memory
      const src = new Database(image, { readonly: true });
      const rows = src.prepare('SELECT hnum, blob FROM Packages ORDER BY hnum').all() as Array<{
        hnum: number;
        blob: Buffer;
      }>;
      src.close();
      const key = (n: number): string => {
        const b = Buffer.alloc(4);
        if (lorder === 1234) b.writeUInt32LE(n);
        else b.writeUInt32BE(n);
        return b.toString('hex');
      };
      const lines = ['VERSION=3', 'format=bytevalue', 'type=hash', `db_pagesize=${pageSize}`, 'HEADER=END'];
      lines.push(` ${key(0)}`, ` ${key(rows.length + 1)}`); // rpm's next-instance record
      for (const r of rows) lines.push(` ${key(r.hnum)}`, ` ${r.blob.toString('hex')}`);
      lines.push('DATA=END', '');
      writeFileSync(join(dir, 'dump.txt'), lines.join('\n'));
      run('db5.3_load', ['-c', `db_lorder=${lorder}`, '-f', join(dir, 'dump.txt'), join(dir, 'Packages')]);
      const buf = readFileSync(join(dir, 'Packages'));
      const db = parseRpmDatabase(buf, 'Packages');
      assert.equal(db.backend, 'bdb');
      assert.deepEqual(db.problems, []);
      assert.equal(db.packages.length, rows.length);
      assertSame(asOracle(db), rpmQuery(['--dbpath', dir, '--define', '_db_backend bdb_ro']));
    });
  }

  it('an SQLite database with committed frames still in its WAL', () => {
    const dir = join(tmp.dir, 'wal');
    const live = join(dir, 'live');
    const snap = join(dir, 'snap');
    mkdirSync(live, { recursive: true });
    mkdirSync(snap);
    copyFileSync(join(FIXTURES, 'mariner2-rpmdb.sqlite'), join(live, 'rpmdb.sqlite'));
    // A writer that never checkpoints: the changes live only in rpmdb.sqlite-wal, as on a crashed system.
    const w = new Database(join(live, 'rpmdb.sqlite'));
    w.pragma('journal_mode = WAL');
    w.pragma('wal_autocheckpoint = 0');
    w.pragma('foreign_keys = OFF');
    w.prepare('DELETE FROM Packages WHERE hnum IN (SELECT hnum FROM Packages ORDER BY hnum LIMIT 5)').run();
    w.prepare(
      'UPDATE Packages SET blob = (SELECT blob FROM Packages ORDER BY hnum DESC LIMIT 1) WHERE hnum = 40',
    ).run();
    const db0 = readFileSync(join(live, 'rpmdb.sqlite'));
    const wal = readFileSync(join(live, 'rpmdb.sqlite-wal'));
    w.close();
    assert.ok(wal.length > 0);
    const noWal = parseRpmDatabase(db0, 'rpmdb.sqlite');
    const withWal = parseRpmDatabase(db0, 'rpmdb.sqlite', { wal });
    assert.deepEqual(withWal.problems, []);
    assert.equal(noWal.packages.length, 129);
    assert.equal(withWal.packages.length, 124);
    // rpm (through SQLite) recovers the same WAL from a copy of the two files.
    writeFileSync(join(snap, 'rpmdb.sqlite'), db0);
    writeFileSync(join(snap, 'rpmdb.sqlite-wal'), wal);
    assertSame(asOracle(withWal), rpmQuery(['--dbpath', snap]));
    // A WAL of another database is not applied.
    const foreign = Buffer.from(wal);
    foreign.writeUInt32BE((foreign.readUInt32BE(16) ^ 1) >>> 0, 16); // salt, covered by the header checksum
    const ignored = parseRpmDatabase(db0, 'rpmdb.sqlite', { wal: foreign });
    assert.equal(ignored.packages.length, 129);
    assert.equal(ignored.problems.length, 1);
  });

  it('the real SLES 15 NDB Packages.db, as rpm listed it', () => {
    const db = parseRpmDatabase(readFileSync(join(FIXTURES, 'sle15-Packages.db')), 'Packages.db');
    assert.equal(db.backend, 'ndb');
    assert.deepEqual(db.problems, []);
    // Recorded with the database by go-rpmdb from `rpm -qa` on the image (EPOCH (none) printed as 0).
    const want = readFileSync(join(FIXTURES, 'sle15-expected.tsv'), 'utf8')
      .split('\n')
      .filter((l) => l !== '' && !l.startsWith('#'))
      .map((l) => l.split('\t'));
    const got = db.packages.map((p) => [
      String(p.epoch ?? 0),
      p.name,
      p.version,
      p.release,
      p.arch,
      p.sourceRpm ?? '',
      String(p.size),
      p.license ?? '',
      p.vendor ?? '',
    ]);
    assert.deepEqual(got, want);
    for (const p of db.packages) {
      assert.equal(p.digestAlgorithm, 'sha256');
      for (const f of p.files) {
        if ((f.mode & 0o170000) === 0o100000 && !f.ghost) assert.match(f.digest, /^[0-9a-f]{64}$/, f.path);
      }
    }
  });
});

describe('finding the database in a root', () => {
  let tmp: { dir: string; cleanup: () => void };
  before(() => {
    tmp = tempDir('hyperward-rpmroot-');
  });
  after(() => tmp.cleanup());

  it('uses the usual paths, the backend told by content', () => {
    const cases: Array<[string, string, string]> = [
      ['sle15-Packages.db', 'usr/lib/sysimage/rpm/Packages.db', 'ndb'],
      ['el8-libuuid-Packages', 'var/lib/rpm/Packages', 'bdb'],
      ['mariner2-rpmdb.sqlite', 'var/lib/rpm/rpmdb.sqlite', 'sqlite'],
    ];
    for (const [fixture, path, backend] of cases) {
      const root = join(tmp.dir, backend);
      mkdirSync(join(root, path, '..'), { recursive: true });
      copyFileSync(join(FIXTURES, fixture), join(root, path));
      const db = readRpmDatabase(new DirRoot(root))!;
      assert.equal(db.path, `/${path}`);
      assert.equal(db.backend, backend);
      assert.ok(db.packages.length > 0);
      assert.equal(readRpmDb(new DirRoot(root))!.length, db.packages.length);
    }
    assert.equal(detectRpmBackend(Buffer.from('not a database at all, not at all')), undefined);
  });

  it('no database: undefined; an unreadable one: reported, and the next path tried', () => {
    const empty = join(tmp.dir, 'empty');
    mkdirSync(join(empty, 'var/lib/rpm'), { recursive: true });
    assert.equal(readRpmDb(new DirRoot(empty)), undefined);

    const broken = join(tmp.dir, 'broken');
    mkdirSync(join(broken, 'var/lib/rpm'), { recursive: true });
    writeFileSync(join(broken, 'var/lib/rpm/rpmdb.sqlite'), Buffer.alloc(8192, 0x41));
    const db = readRpmDatabase(new DirRoot(broken))!;
    assert.equal(db.packages.length, 0);
    assert.equal(db.problems.length, 1);
    assert.throws(() => readRpmDb(new DirRoot(broken)), HyperwardError);

    copyFileSync(join(FIXTURES, 'el8-libuuid-Packages'), join(broken, 'var/lib/rpm/Packages'));
    const next = readRpmDatabase(new DirRoot(broken))!;
    assert.equal(next.backend, 'bdb');
    assert.equal(next.packages.length, 1);
    assert.equal(next.problems.length, 1);
    assert.equal(next.problems[0]!.location.file, '/var/lib/rpm/rpmdb.sqlite');
  });
});
