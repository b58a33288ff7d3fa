/**
 * From records to inventory packages: source RPM names split as rpm itself names the source package it built,
 * and `gpg-pubkey` entries (imported signing keys) left out of the inventory while rpm lists them.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { run, tempDir } from '../../../test/helpers/tmp.js';
import { DirRoot } from '../../source/dir.js';
import { readRpmDatabase, rpmPackages } from './index.js';
import { parseSourceRpm, rpmEvr } from './package.js';

/** ASCII armor (RFC 4880 §6) around an OpenPGP key, the form `rpmkeys --import` takes. */
function armor(binary: Buffer): string {
  let crc = 0xb704ce;
  for (const byte of binary) {
    crc ^= byte << 16;
    for (let i = 0; i < 8; i++) {
      crc <<= 1;
      if (crc & 0x1000000) crc ^= 0x1864cfb;
    }
  }
  const sum = Buffer.from([(crc >> 16) & 0xff, (crc >> 8) & 0xff, crc & 0xff]).toString('base64');
  const body = binary
    .toString('base64')
    .match(/.{1,64}/g)!
    .join('\n');
  return `-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n${body}\n=${sum}\n-----END PGP PUBLIC KEY BLOCK-----\n`;
}

describe('rpm records to inventory packages', () => {
  let tmp: { dir: string; cleanup: () => void };
  before(() => {
    tmp = tempDir('hyperward-rpmpkg-');
  });
  after(() => tmp.cleanup());

  it('splits source RPM file names as rpm names the source package', () => {
    const top = join(tmp.dir, 'top');
    mkdirSync(join(top, 'SPECS'), { recursive: true });
    const nvrs: Array<[string, string, string]> = [
      ['python3-foo-bar', '1.2.3~rc1^post', '4.el9_2.1'],
      ['libstdc++-devel', '12.2.1+git416', '150000.1.5.1'],
      ['a', '0', '0'],
      ['x-1-2', '3.4', '5'],
    ];
    for (const [n, v, r] of nvrs) {
      const spec = join(top, 'SPECS', `${n}.spec`);
      writeFileSync(
        spec,
        `Name: ${n}\nVersion: ${v}\nRelease: ${r}\nSummary: s\nLicense: MIT\n%description\nd\n%files\n`,
      );
      run('rpmbuild', ['--define', `_topdir ${top}`, '-bs', spec]);
    }
    const files = readdirSync(join(top, 'SRPMS')).sort();
    assert.equal(files.length, nvrs.length);
    for (const f of files) {
      const [name, version, release] = execFileSync(
        'rpm',
        ['-qp', '--nosignature', '--qf', '%{NAME}\\t%{VERSION}\\t%{RELEASE}', join(top, 'SRPMS', f)],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
      ).split('\t');
      assert.deepEqual(parseSourceRpm(f), { name, version, release }, f);
    }
    for (const bad of ['foo.src.rpm', 'foo-1.src.rpm', 'foo-1-2.rpm', '-1-2.src.rpm', '']) {
      assert.equal(parseSourceRpm(bad), undefined, bad);
    }
    assert.equal(rpmEvr(undefined, '1', '2'), '1-2');
    assert.equal(rpmEvr(0, '1', '2'), '0:1-2');
  });

  it('keeps gpg-pubkey entries in the records and out of the inventory', () => {
    const root = join(tmp.dir, 'root');
    mkdirSync(root);
    const key = armor(readFileSync('/usr/share/keyrings/debian-archive-bookworm-stable.gpg'));
    writeFileSync(join(tmp.dir, 'key.asc'), key);
    run('rpm', ['--root', root, '--dbpath', '/var/lib/rpm', '--initdb']);
    run('rpmkeys', ['--root', root, '--dbpath', '/var/lib/rpm', '--import', join(tmp.dir, 'key.asc')]);
    const listed = execFileSync(
      'rpm',
      ['--root', root, '--dbpath', '/var/lib/rpm', '-qa', '--qf', '%{NAME}-%{VERSION}-%{RELEASE}\\n'],
      {
        encoding: 'utf8',
      },
    ).trim();
    const db = readRpmDatabase(new DirRoot(root))!;
    assert.deepEqual(
      db.packages.map((p) => `${p.name}-${p.version}-${p.release}`),
      [listed],
    );
    assert.equal(db.packages[0]!.arch, '');
    assert.deepEqual(rpmPackages(db), []);
  });
});
