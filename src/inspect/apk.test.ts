/**
 * Alpine `installed` databases from Trivy's and syft's test suites (fixtures/apk/installed-SOURCES.md), checked
 * against those projects' own expected results, plus malformed and hostile input.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { onlyHyperwardErrors } from '../../test/helpers/fuzz.js';
import { tempDir } from '../../test/helpers/tmp.js';
import { DirRoot } from '../source/dir.js';
import {
  parseApkChecksum,
  parseApkInstalled,
  parseApkInstalledRecords,
  readApk,
  readApkDatabase,
} from './apk.js';

const FIXTURES = join(import.meta.dirname, '../../fixtures/apk');
const fixture = (name: string): string => readFileSync(join(FIXTURES, name), 'utf8');

// Trivy pkg/fanal/analyzer/pkg/apk/apk_test.go (commit 0273cafc): ID, SrcName, SrcVersion, Maintainer, Arch and
// Digest of every package of testdata/apk; the package without a version is not one of them.
const TRIVY: Array<[string, string, string, string, string, string]> = [
  [
    'musl',
    '1.1.14-r10',
    'musl',
    'Timo Teräs <timo.teras@iki.fi>',
    'x86_64',
    'd68b402f35f57750f49156b0cb4e886a2ad35d2d',
  ],
  [
    'busybox',
    '1.24.2-r9',
    'busybox',
    'Natanael Copa <ncopa@alpinelinux.org>',
    'x86_64',
    'ca124719267cd0bedc2f4cb850a286ac13f0ad44',
  ],
  [
    'alpine-baselayout',
    '3.0.3-r0',
    'alpine-baselayout',
    'Natanael Copa <ncopa@alpinelinux.org>',
    'x86_64',
    'a214896150411d72dd1fafdb32d1c6c4855cccfa',
  ],
  [
    'alpine-keys',
    '1.1-r0',
    'alpine-keys',
    'Natanael Copa <ncopa@alpinelinux.org>',
    'x86_64',
    '4def7ffaee6aeba700c1d62570326f75cbb8fa25',
  ],
  [
    'zlib',
    '1.2.8-r2',
    'zlib',
    'Natanael Copa <ncopa@alpinelinux.org>',
    'x86_64',
    'efd04d34d40aa8eb331480127364c27a8ba760ef',
  ],
  [
    'libcrypto1.0',
    '1.0.2h-r1',
    'openssl',
    'Timo Teras <timo.teras@iki.fi>',
    'x86_64',
    '65c860ff8f103b664f40ba849a3f5a51c69c8beb',
  ],
  [
    'libssl1.0',
    '1.0.2h-r1',
    'openssl',
    'Timo Teras <timo.teras@iki.fi>',
    'x86_64',
    '7120f337e93b2b4c44e0f5f31a15b60dc678ca14',
  ],
  [
    'apk-tools',
    '2.6.7-r0',
    'apk-tools',
    'Natanael Copa <ncopa@alpinelinux.org>',
    'x86_64',
    '0990c0acd62b4175818c3a4cc60ed11f14e23bd8',
  ],
  [
    'scanelf',
    '1.1.6-r0',
    'pax-utils',
    'Natanael Copa <ncopa@alpinelinux.org>',
    'x86_64',
    'f9bab817c5ad93e92a6218bc0f7596b657c02d90',
  ],
  [
    'musl-utils',
    '1.1.14-r10',
    'musl',
    'Timo Teräs <timo.teras@iki.fi>',
    'x86_64',
    '608aa1dd39eff7bc6615d3e5e33383750f8f5ecc',
  ],
  [
    'libc-utils',
    '0.7-r0',
    'libc-dev',
    'Natanael Copa <ncopa@alpinelinux.org>',
    'x86_64',
    '9055bc7afd76cf2672198042f72fc4a5ed4fa961',
  ],
  [
    'pkgconf',
    '1.6.0-r0',
    'pkgconf',
    'William Pitcock <nenolod@dereferenced.org>',
    'x86_64',
    'e6242ac29589c8a84a4b179b491ea7c29fce66a9',
  ],
  [
    'sqlite-libs',
    '3.26.0-r3',
    'sqlite',
    'Carlo Landmeter <clandmeter@gmail.com>',
    'x86_64',
    '1464946c3a5f0dd5a67ca1af930fc17af7a74474',
  ],
  [
    'test',
    '2.9.11_pre20061021-r2',
    'test-parent',
    'Carlo Landmeter <clandmeter@gmail.com>',
    'x86_64',
    'f0bf315ec54828188910e4a665c00bc48bdbdd7d',
  ],
  [
    'ada-libs',
    '2.7.4-r0',
    'ada',
    'Jakub Jirutka <jakub@jirutka.cz>',
    'x86_64',
    '593154f80c440685448e0f52479725d7bc9b678d',
  ],
];

// Trivy's InstalledFiles of the same packages (relative paths), in database order.
const TRIVY_FILES: Record<string, string[]> = {
  musl: ['lib/libc.musl-x86_64.so.1', 'lib/ld-musl-x86_64.so.1'],
  busybox: ['bin/busybox', 'bin/sh', 'etc/securetty', 'etc/udhcpd.conf', 'etc/logrotate.d/acpid'],
  'alpine-keys': [
    'etc/apk/keys/alpine-devel@lists.alpinelinux.org-4d07755e.rsa.pub',
    'etc/apk/keys/alpine-devel@lists.alpinelinux.org-524d27bb.rsa.pub',
    'etc/apk/keys/alpine-devel@lists.alpinelinux.org-5243ef4b.rsa.pub',
    'etc/apk/keys/alpine-devel@lists.alpinelinux.org-5261cecb.rsa.pub',
    'etc/apk/keys/alpine-devel@lists.alpinelinux.org-4a6a0840.rsa.pub',
  ],
  'libssl1.0': ['lib/libssl.so.1.0.0', 'usr/lib/libssl.so.1.0.0'],
  'libc-utils': [],
  test: [
    'usr/lib/libsqlite3.so',
    'usr/lib/pkgconfig/sqlite3.pc',
    'usr/include/sqlite3ext.h',
    'usr/include/sqlite3.h',
  ],
};

// syft syft/pkg/cataloger/alpine/parse_apk_db_test.go (commit 095208d7), testdata/base: every directory and file
// with owner, permissions and digest where the database records them.
const SYFT_BASE = `/dev
/dev/pts
/dev/shm
/etc
/etc/fstab Q11Q7hNe8QpDS531guqCdrXBzoA/o=
/etc/group Q1oJ16xWudgKOrXIEquEDzlF2Lsm4=
/etc/hostname Q16nVwYVXP/tChvUPdukVD2ifXOmc=
/etc/hosts Q1BD6zJKZTRWyqGnPi4tSfd3krsMU=
/etc/inittab Q1TsthbhW7QzWRe1E/NKwTOuD4pHc=
/etc/modules Q1toogjUipHGcMgECgPJX64SwUT1M=
/etc/motd Q1XmduVVNURHQ27TvYp1Lr5TMtFcA=
/etc/mtab 0 0 777 Q1kiljhXXH1LlQroHsEJIkPZg2eiw=
/etc/passwd Q1TchuuLUfur0izvfZQZxgN/LJhB8=
/etc/profile Q1KpFb8kl5LvwXWlY3e58FNsjrI34=
/etc/protocols Q13FqXUnvuOpMDrH/6rehxuYAEE34=
/etc/services Q1C6HJNgQvLWqt5VY+n7MZJ1rsDuY=
/etc/shadow 0 42 640 Q1ltrPIAW2zHeDiajsex2Bdmq3uqA=
/etc/shells Q1ojm2YdpCJ6B/apGDaZ/Sdb2xJkA=
/etc/sysctl.conf Q14upz3tfnNxZkIEsUhWn7Xoiw96g=
/etc/apk
/etc/conf.d
/etc/crontabs
/etc/crontabs/root 0 0 600 Q1vfk1apUWI4yLJGhhNRd0kJixfvY=
/etc/init.d
/etc/modprobe.d
/etc/modprobe.d/aliases.conf Q1WUbh6TBYNVK7e4Y+uUvLs/7viqk=
/etc/modprobe.d/blacklist.conf Q1xxYGU6S6TLQvb7ervPrWWwAWqMg=
/etc/modprobe.d/i386.conf Q1pnay/njn6ol9cCssL7KiZZ8etlc=
/etc/modprobe.d/kms.conf Q1ynbLn3GYDpvajba/ldp1niayeog=
/etc/modules-load.d
/etc/network
/etc/network/if-down.d
/etc/network/if-post-down.d
/etc/network/if-pre-up.d
/etc/network/if-up.d
/etc/opt
/etc/periodic
/etc/periodic/15min
/etc/periodic/daily
/etc/periodic/hourly
/etc/periodic/monthly
/etc/periodic/weekly
/etc/profile.d
/etc/profile.d/color_prompt Q10wL23GuSCVfumMRgakabUI6EsSk=
/etc/profile.d/locale Q1R4bIEpnKxxOSrlnZy9AoawqZ5DU=
/etc/sysctl.d
/home
/lib
/lib/firmware
/lib/mdev
/lib/modules-load.d
/lib/sysctl.d
/lib/sysctl.d/00-alpine.conf Q1HpElzW1xEgmKfERtTy7oommnq6c=
/media
/media/cdrom
/media/floppy
/media/usb
/mnt
/opt
/proc
/root 0 0 700
/run
/sbin
/sbin/mkmntdirs 0 0 755 Q1YeuSmC7iDbEWrusPzA/zUQF6YSg=
/srv
/sys
/tmp 0 0 1777
/usr
/usr/lib
/usr/lib/modules-load.d
/usr/local
/usr/local/bin
/usr/local/lib
/usr/local/share
/usr/sbin
/usr/share
/usr/share/man
/usr/share/misc
/var
/var/run 0 0 777 Q11/SNZz/8cK2dSKK+cJpVrZIuF4Q=
/var/cache
/var/cache/misc
/var/empty 0 0 555
/var/lib
/var/lib/misc
/var/local
/var/lock
/var/lock/subsys
/var/log
/var/mail
/var/opt
/var/spool
/var/spool/mail 0 0 777 Q1dzbdazYZA2nTzSIG3YyNw7d4Juc=
/var/spool/cron
/var/spool/cron/crontabs 0 0 777 Q1OFZt+ZMp7j0Gny0rqSKuWJyqYmA=
/var/tmp 0 0 1777`;

describe('apk installed database', () => {
  it("Trivy's test database, as Trivy expects it", () => {
    const text = fixture('installed-trivy');
    const { records, problems } = parseApkInstalledRecords(text, '/lib/apk/db/installed');
    assert.deepEqual(
      records.map((r) => [r.name, r.version, r.origin, r.maintainer, r.arch, r.checksum?.hex]),
      TRIVY,
    );
    for (const r of records) assert.equal(r.checksum?.algorithm, 'sha1');
    // The record without a version is reported, with its line.
    assert.equal(problems.length, 1);
    assert.equal(problems[0]!.location.line, 23);
    assert.match(problems[0]!.message, /without version/);
    for (const [name, files] of Object.entries(TRIVY_FILES)) {
      const r = records.find((x) => x.name === name)!;
      assert.deepEqual(
        r.files.filter((f) => f.type === 'file').map((f) => f.path.slice(1)),
        files,
        name,
      );
    }
    const pkgs = parseApkInstalled(text, '/lib/apk/db/installed');
    assert.deepEqual(
      pkgs.map((p) => [p.ecosystem, p.name, p.version, p.sourceName, p.sourceVersion, p.arch]),
      TRIVY.map(([n, v, src, , arch]) => ['apk', n, v, src, v, arch]),
    );
    assert.equal(pkgs[0]!.installedSize, 556); // I:569344 bytes
    assert.equal(pkgs[0]!.source, '/lib/apk/db/installed');
  });

  it("syft's test databases, files as syft expects them", () => {
    const [base] = parseApkInstalledRecords(fixture('installed-syft-base'), 'base').records;
    const got = base!.files.map((f) =>
      [f.path, f.uid, f.gid, f.mode?.toString(8), f.digest?.raw].filter((x) => x !== undefined).join(' '),
    );
    assert.deepEqual(got, SYFT_BASE.split('\n'));
    assert.equal(base!.installedSize, 409600);
    assert.equal(base!.size, 19917);
    assert.equal(base!.commit, 'e1c51734fa96fa4bac92e9f14a474324c67916fc');
    assert.equal(base!.checksum?.raw, 'Q1myMNfd7u5v5UTgNHeq1e31qTjZU=');
    assert.equal(base!.files.find((f) => f.path === '/etc/shadow')!.type, 'file');
    assert.equal(base!.files.find((f) => f.path === '/var/spool')!.type, 'dir');

    const [single] = parseApkInstalledRecords(fixture('installed-syft-single'), 'single').records;
    assert.deepEqual(
      [
        single!.name,
        single!.version,
        single!.origin,
        single!.arch,
        single!.installedSize,
        single!.size,
        single!.maintainer,
      ],
      ['musl-utils', '1.1.24-r2', 'musl', 'x86_64', 151552, 37944, 'Timo Teräs <timo.teras@iki.fi>'],
    );
    assert.deepEqual(
      single!.files.map((f) => [f.path, f.digest?.raw ?? '', f.mode?.toString(8) ?? '']),
      [
        ['/sbin', '', ''],
        ['/sbin/ldconfig', 'Q1Kja2+POZKxEkUOZqwSjC6kmaED4=', '755'],
        ['/usr', '', ''],
        ['/usr/bin', '', ''],
        ['/usr/bin/iconv', 'Q1CVmFbdY+Hv6/jAHl1gec2Kbx1EY=', '755'],
        ['/usr/bin/ldd', 'Q1yFAhGggmL7ERgbIA7KQxyTzf3ks=', '755'],
        ['/usr/bin/getconf', 'Q1dAdYK8M/INibRQF5B3Rw7cmNDDA=', '755'],
        ['/usr/bin/getent', 'Q1eR2Dz/WylabgbWMTkd2+hGmEya4=', '755'],
      ],
    );
  });

  it('decodes checksums as apk-tools does', () => {
    // Base64 and hex spellings of the same SHA-1; a SHA-256; MD5 of apk-tools 1; SHA-256-160 when flagged.
    const sha1 = parseApkChecksum('Q1Kja2+POZKxEkUOZqwSjC6kmaED4=')!;
    assert.equal(sha1.algorithm, 'sha1');
    assert.deepEqual(parseApkChecksum(`X1${sha1.hex}`)?.hex, sha1.hex);
    const sha256 = Buffer.alloc(32, 7);
    assert.deepEqual(parseApkChecksum(`Q2${sha256.toString('base64')}`)?.algorithm, 'sha256');
    assert.deepEqual(parseApkChecksum(`Q1${sha256.toString('base64')}`)?.algorithm, 'sha256');
    assert.equal(parseApkChecksum('38870ede8700535d7382ff66a46fcc2f')?.algorithm, 'md5');
    assert.equal(parseApkChecksum('Q1Kja2+POZKxEkUOZqwSjC6kmaED4=', true)?.algorithm, 'sha256-160');
    for (const bad of ['', 'Q', 'Q3abcd', 'Q1!!!!', 'X1abc', 'Q2Kja2+POZKxEkUOZqwSjC6kmaED4=', 'zz']) {
      assert.equal(parseApkChecksum(bad), undefined, bad);
    }
    const flagged = parseApkInstalledRecords(
      'P:a\nV:1\nf:S\nF:bin\nR:a\nZ:Q1Kja2+POZKxEkUOZqwSjC6kmaED4=\n',
      'x',
    );
    assert.equal(flagged.records[0]!.files[1]!.digest?.algorithm, 'sha256-160');
  });

  it('reports malformed lines and goes on', () => {
    const text = [
      'P:a',
      'V:1',
      'R:orphan', // no directory yet
      'a:0:0:755', // no file yet
      'F:etc',
      'M:x:y:z',
      'R:f',
      'Z:not-a-checksum',
      'I:lots',
      'garbage line',
      'R:with/slash',
      '',
      'P:b',
      'V:2-r0',
      'o:bsrc',
      '',
    ].join('\r\n');
    const { records, problems } = parseApkInstalledRecords(text, 'db');
    assert.deepEqual(
      records.map((r) => [r.name, r.version, r.files.map((f) => f.path)]),
      [
        ['a', '1', ['/etc', '/etc/f']],
        ['b', '2-r0', []],
      ],
    );
    assert.deepEqual(
      problems.map((p) => p.location.line),
      [3, 4, 6, 8, 9, 10, 11],
    );
    assert.equal(parseApkInstalled(text, 'db')[1]!.sourceName, 'bsrc');
  });

  it('survives arbitrary and hostile text (property)', () => {
    const line = fc.oneof(
      fc.constantFrom(
        'P:a',
        'V:1',
        'F:',
        'F:/',
        'R:x',
        'a:0:0:7777',
        'M:4294967295:1:777:Q1',
        'Z:Q1',
        'f:S',
        '',
        'C:X2',
      ),
      fc.string({ maxLength: 40 }),
      fc
        .tuple(
          fc.constantFrom('P', 'V', 'F', 'R', 'a', 'M', 'Z', 'I', 'C', 'o'),
          fc.string({ maxLength: 30 }),
        )
        .map(([k, v]) => `${k}:${v}`),
    );
    fc.assert(
      fc.property(fc.array(line, { maxLength: 60 }), (lines) =>
        onlyHyperwardErrors(() => {
          const r = parseApkInstalledRecords(lines.join('\n'), 'db');
          assert.ok(r.records.length <= lines.length);
        }),
      ),
      { numRuns: 300 },
    );
  });
});

describe('apk database in a root', () => {
  let tmp: { dir: string; cleanup: () => void };
  before(() => {
    tmp = tempDir('hyperward-apk-');
  });
  after(() => tmp.cleanup());

  it('reads /lib/apk/db/installed, then the apk-tools 3 location', () => {
    const v2 = join(tmp.dir, 'v2');
    mkdirSync(join(v2, 'lib/apk/db'), { recursive: true });
    writeFileSync(join(v2, 'lib/apk/db/installed'), fixture('installed-syft-single'));
    assert.deepEqual(
      readApk(new DirRoot(v2))!.map((p) => p.name),
      ['musl-utils'],
    );
    const v3 = join(tmp.dir, 'v3');
    mkdirSync(join(v3, 'usr/lib/apk/db'), { recursive: true });
    writeFileSync(join(v3, 'usr/lib/apk/db/installed'), fixture('installed-syft-base'));
    assert.equal(readApkDatabase(new DirRoot(v3))!.path, '/usr/lib/apk/db/installed');
    assert.equal(readApk(new DirRoot(tmp.dir)), undefined);
  });
});
