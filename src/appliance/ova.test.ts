import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { expectError } from '../../test/helpers/errors.js';
import { byteEditsIn, onlyHyperwardErrors } from '../../test/helpers/fuzz.js';
import { xorshift32 } from '../../test/helpers/pattern.js';
import { Pki, streamOptimizedVmdk } from '../../test/helpers/ova.js';
import { run, tempDir } from '../../test/helpers/tmp.js';
import type { BlockDevice } from '../disk/types.js';
import { openExt4 } from '../fs/ext4.js';
import { Vfs } from '../fs/vfs.js';
import { newReadStats } from '../source/file.js';
import { APPLIANCE_CHECKS, applianceFindings } from './findings.js';
import { openOva, type Ova } from './ova.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures', 'ovf');
const MiB = 1024 * 1024;
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

function pseudoRandom(length: number, seed: number): Buffer {
  const next = xorshift32(seed);
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) out[i] = next() & 0xff;
  return out;
}

/** The source tree of the appliance's filesystem: what the disk read back must equal. */
const TREE: Record<string, Buffer | string> = {
  'etc/appliance-release': 'NAME="Example Appliance"\nVERSION="7.2.4"\n',
  'etc/empty': '',
  'opt/app/lib/blob.bin': pseudoRandom(3 * MiB + 123, 7),
  'opt/app/bin/tool': pseudoRandom(70_000, 11),
  'var/lib/deep/a/b/c/d/note.txt': 'deep\n',
};

interface PackageOptions {
  format?: 'ustar' | 'pax' | 'gnu';
  digest?: 'sha1' | 'sha256' | 'sha512';
  manifest?: boolean;
  /** Signing key and the certificates that go into the .cert file (signer first). */
  sign?: { key: string; certs: string[] };
  diskName?: string;
  /** The image file to ship as the disk (default: the streamOptimized VMDK). */
  disk?: string;
  /** Split the disk into chunks of this many bytes (`ovf:chunkSize`). */
  chunk?: number;
  /** Rewrite the manifest after it was signed. */
  afterSigning?: (mf: string) => string;
  /** Members to append with `tar -r` after the package is written. */
  append?: string[];
}

describe('OVA appliances built with real tools', () => {
  const t = tempDir('hw-ova-');
  const pki = new Pki(t.dir);
  const tree = join(t.dir, 'tree');
  const ext4 = join(t.dir, 'ext4.img');
  const vmdk = join(t.dir, 'disk.vmdk');
  let root: { key: string; cert: string };
  let inter: { key: string; cert: string };
  let signer: { key: string; cert: string };
  let selfSigned: { key: string; cert: string };
  let expired: { key: string; cert: string };
  const template = readFileSync(join(FIXTURES, 'jeos-centos6-VM_OVF10.ovf'), 'utf8');

  before(() => {
    for (const [p, data] of Object.entries(TREE)) {
      mkdirSync(dirname(join(tree, p)), { recursive: true });
      writeFileSync(join(tree, p), data);
    }
    symlinkSync('../etc/appliance-release', join(tree, 'opt/release-link'));
    run('mkfs.ext4', ['-q', '-F', '-d', tree, '-L', 'appliance', ext4, '24M']);
    streamOptimizedVmdk(ext4, vmdk);
    root = pki.selfSigned('Example Root CA', true);
    inter = pki.issue('Example Issuing CA', root, '20200101000000Z', '20991231000000Z');
    signer = pki.issue('Example Networks Code Signing', inter, '20200101000000Z', '20991231000000Z');
    selfSigned = pki.selfSigned('Self Signed Vendor');
    expired = pki.issue('Expired Signer', inter, '20200101000000Z', '20210101000000Z');
  });
  after(() => t.cleanup());

  /** Writes the package files, its manifest (digests from openssl) and certificate, and tars them. */
  function buildOva(name: string, o: PackageOptions = {}): string {
    const dir = join(t.dir, name);
    mkdirSync(dir);
    const diskName = o.diskName ?? 'disk1.vmdk';
    copyFileSync(o.disk ?? vmdk, join(dir, diskName));
    const diskSize = statSync(join(dir, diskName)).size;
    writeFileSync(join(dir, 'custom.iso'), pseudoRandom(40_000, 3));
    // The real JeOS descriptor, pointed at this package's disk.
    const ovf = template
      .replace(
        'ovf:href="system.vmdk" ovf:size="54191104"',
        `ovf:href="${diskName}" ovf:size="${diskSize}"${o.chunk !== undefined ? ` ovf:chunkSize="${o.chunk}"` : ''}`,
      )
      .replace('ovf:capacity="2048"', 'ovf:capacity="24"');
    writeFileSync(join(dir, 'app.ovf'), ovf);
    let diskFiles = [diskName];
    if (o.chunk !== undefined) {
      run('split', ['-b', String(o.chunk), '-d', '-a', '9', diskName, `${diskName}.`], { cwd: dir });
      rmSync(join(dir, diskName));
      diskFiles = readdirSync(dir)
        .filter((f) => f.startsWith(`${diskName}.`))
        .sort();
    }
    const members = ['app.ovf'];
    const payload = ['app.ovf', ...diskFiles, 'custom.iso'];
    if (o.manifest !== false) {
      const alg = o.digest ?? 'sha256';
      const lines = payload.map((f) => {
        const hex = run('openssl', ['dgst', `-${alg}`, '-r', f], { cwd: dir }).split(' ')[0];
        return `${alg.toUpperCase()}(${f})= ${hex}\n`;
      });
      writeFileSync(join(dir, 'app.mf'), lines.join(''));
      members.push('app.mf');
      if (o.sign !== undefined) {
        run('openssl', ['dgst', '-sha256', '-sign', o.sign.key, '-out', 'sig.bin', 'app.mf'], { cwd: dir });
        const sig = readFileSync(join(dir, 'sig.bin')).toString('hex');
        rmSync(join(dir, 'sig.bin'));
        const certs = o.sign.certs.map((c) => readFileSync(c, 'utf8')).join('');
        writeFileSync(join(dir, 'app.cert'), `SHA256(app.mf)= ${sig}\n${certs}`);
        members.push('app.cert');
      }
      if (o.afterSigning !== undefined) {
        writeFileSync(join(dir, 'app.mf'), o.afterSigning(readFileSync(join(dir, 'app.mf'), 'utf8')));
      }
    }
    members.push(...diskFiles, 'custom.iso');
    const ova = join(t.dir, `${name}.ova`);
    run('tar', [`--format=${o.format ?? 'ustar'}`, '-cf', ova, '-C', dir, ...members]);
    for (const extra of o.append ?? [])
      run('tar', [`--format=${o.format ?? 'ustar'}`, '-rf', ova, '-C', dir, extra]);
    return ova;
  }

  const statusOf = (ova: Ova): Record<string, string> => {
    return Object.fromEntries(applianceFindings(ova).map((f) => [f.checkId, f.status]));
  };

  /** Reads the whole device and compares it with the ext4 image it was made from; then every file of the tree. */
  function checkDisk(dev: BlockDevice): void {
    const raw = readFileSync(ext4);
    assert.equal(dev.size, raw.length);
    for (let off = 0; off < raw.length; off += 4 * MiB) {
      const n = Math.min(4 * MiB, raw.length - off);
      assert.ok(dev.read(off, n).equals(raw.subarray(off, off + n)), `bytes at ${off}`);
    }
    const vfs = new Vfs(openExt4(dev));
    for (const [p, data] of Object.entries(TREE)) {
      assert.equal(sha256(vfs.readFile('/' + p)), sha256(Buffer.from(data)), p);
    }
    assert.equal(vfs.readlink('/opt/release-link'), '../etc/appliance-release');
    assert.equal(vfs.readFile('/opt/release-link').toString(), TREE['etc/appliance-release']);
  }

  it('ustar OVA, SHA-256 manifest, signed through a CA chain: everything verifies and the disk reads back', () => {
    const path = buildOva('good', { sign: { key: signer.key, certs: [signer.cert, inter.cert, root.cert] } });
    const stats = newReadStats();
    const ova = openOva(path, { trustedRoots: [readFileSync(root.cert, 'utf8')], stats });
    assert.equal(ova.kind, 'ova');
    assert.equal(ova.descriptor, 'app.ovf');
    assert.deepEqual(
      ova.problems.filter((p) => p.level === 'error'),
      [],
    );
    assert.deepEqual(
      ova.files.map((f) => f.name),
      ['app.ovf', 'app.mf', 'app.cert', 'disk1.vmdk', 'custom.iso'],
    );
    // Every digest checked equals what openssl computed when the package was made.
    assert.deepEqual(
      ova.manifest!.entries.map((e) => [e.file, e.status]),
      [
        ['app.ovf', 'ok'],
        ['disk1.vmdk', 'ok'],
        ['custom.iso', 'ok'],
      ],
    );
    assert.deepEqual(ova.manifest!.uncovered, []);
    assert.equal(ova.signature!.status, 'valid');
    assert.equal(ova.signature!.chain.trusted, true);
    assert.equal(ova.signature!.chain.root, 'CN=Example Root CA');
    const s = statusOf(ova);
    for (const id of Object.values(APPLIANCE_CHECKS)) assert.equal(s[id], 'pass', id);
    // The envelope came through the archive unchanged.
    assert.equal(ova.envelope!.products[0]!.product, 'CentOS 6 JeOS - Minimal');
    assert.equal(ova.envelope!.disks[0]!.capacityBytes, 24 * MiB);
    // Hashing read the archive once, in bounded chunks; nothing was written anywhere.
    assert.ok(stats.bytesRead >= statSync(path).size - 10 * 1024);
    const dev = ova.openDisk('system');
    try {
      assert.equal(dev.format, 'vmdk');
      assert.equal(dev.info.subformat, 'streamOptimized');
      assert.match(dev.name, /good\.ova!disk1\.vmdk/);
      checkDisk(dev);
    } finally {
      dev.close();
    }
    // Default trust store: Node's bundled roots do not include the test root.
    const untrusted = openOva(path);
    assert.equal(untrusted.signature!.chain.trusted, false);
    assert.equal(statusOf(untrusted)[APPLIANCE_CHECKS.certUntrusted], 'fail');
  });

  it('pax OVA with a disk name longer than ustar allows', () => {
    const diskName = 'appliance-' + 'x'.repeat(120) + '-disk1.vmdk';
    const path = buildOva('pax', { format: 'pax', diskName });
    const ova = openOva(path);
    assert.ok(ova.files.some((f) => f.name === diskName));
    assert.ok(ova.manifest!.entries.every((e) => e.status === 'ok'));
    const dev = ova.openDisk('system');
    try {
      checkDisk(dev);
    } finally {
      dev.close();
    }
  });

  it('a chunked disk (split into ovf:chunkSize pieces) reads as one', () => {
    const path = buildOva('chunked', { format: 'gnu', chunk: 128 * 1024 });
    const ova = openOva(path);
    const d = ova.disks[0]!;
    assert.ok(d.parts.length > 1);
    assert.equal(d.unreadable, undefined);
    assert.ok(ova.manifest!.entries.every((e) => e.status === 'ok'));
    const dev = ova.openDisk('system');
    try {
      checkDisk(dev);
    } finally {
      dev.close();
    }
  });

  it('a qcow2 or raw disk inside the archive is told by its magic', () => {
    const qcow = join(t.dir, 'disk.qcow2');
    run('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', ext4, qcow]);
    for (const [name, disk, format] of [
      ['q', qcow, 'qcow2'],
      ['r', ext4, 'raw'],
    ] as const) {
      const ova = openOva(buildOva(name, { disk }));
      const dev = ova.openDisk('system');
      try {
        assert.equal(dev.format, format);
        checkDisk(dev);
      } finally {
        dev.close();
      }
    }
  });

  it('a damaged disk member: the manifest mismatch names it, with the digest openssl computes of the member', () => {
    const path = buildOva('corrupt', { sign: { key: signer.key, certs: [signer.cert, inter.cert] } });
    const raw = readFileSync(path);
    const ova0 = openOva(path);
    const disk = ova0.files.find((f) => f.name === 'disk1.vmdk')!;
    const at = disk.ranges![0]!.offset + 200_000;
    raw[at] = raw[at]! ^ 0xff;
    writeFileSync(path, raw);
    const ova = openOva(path);
    const e = ova.manifest!.entries.find((x) => x.file === 'disk1.vmdk')!;
    assert.equal(e.status, 'mismatch');
    const extracted = spawnSync('tar', ['-xOf', path, 'disk1.vmdk'], { maxBuffer: 64 * MiB });
    assert.equal(e.actual, sha256(extracted.stdout));
    const findings = applianceFindings(ova);
    const mm = findings.find((f) => f.checkId === APPLIANCE_CHECKS.manifestMismatch)!;
    assert.equal(mm.status, 'fail');
    assert.equal(mm.severity, 'high');
    assert.equal(mm.evidence?.key, 'disk1.vmdk');
    assert.equal(mm.evidence?.line, 2);
    assert.match(mm.evidence?.value ?? '', new RegExp(`actual ${e.actual}`));
    // The manifest itself is intact, so the signature still verifies.
    assert.equal(statusOf(ova)[APPLIANCE_CHECKS.signatureInvalid], 'pass');
  });

  it('a manifest changed after signing: the signature is invalid', () => {
    const path = buildOva('resigned', {
      sign: { key: signer.key, certs: [signer.cert] },
      // Same entries, another order: the digests all still match, but the signed bytes changed.
      afterSigning: (mf) => mf.trimEnd().split('\n').reverse().join('\n') + '\n',
    });
    const ova = openOva(path);
    assert.ok(ova.manifest!.entries.every((e) => e.status === 'ok'));
    assert.equal(ova.signature!.status, 'invalid');
    const s = statusOf(ova);
    assert.equal(s[APPLIANCE_CHECKS.signatureInvalid], 'fail');
    assert.equal(s[APPLIANCE_CHECKS.manifestMismatch], 'pass');
  });

  it('unsigned with SHA-1; no manifest at all', () => {
    const weak = openOva(buildOva('sha1', { digest: 'sha1' }));
    const s = statusOf(weak);
    assert.equal(s[APPLIANCE_CHECKS.manifestWeakDigest], 'fail');
    assert.equal(s[APPLIANCE_CHECKS.unsigned], 'fail');
    assert.equal(s[APPLIANCE_CHECKS.manifestMismatch], 'pass');
    assert.equal(s[APPLIANCE_CHECKS.signatureInvalid], undefined);
    const strong = statusOf(openOva(buildOva('sha512', { digest: 'sha512' })));
    assert.equal(strong[APPLIANCE_CHECKS.manifestWeakDigest], 'pass');
    const bare = statusOf(openOva(buildOva('bare', { manifest: false })));
    assert.equal(bare[APPLIANCE_CHECKS.manifestMissing], 'fail');
    assert.equal(bare[APPLIANCE_CHECKS.manifestMismatch], undefined);
    assert.equal(bare[APPLIANCE_CHECKS.unsigned], 'fail');
  });

  it('self-signed and expired signing certificates', () => {
    const self = openOva(buildOva('self', { sign: { key: selfSigned.key, certs: [selfSigned.cert] } }));
    const s1 = statusOf(self);
    assert.equal(s1[APPLIANCE_CHECKS.signatureInvalid], 'pass');
    assert.equal(s1[APPLIANCE_CHECKS.certSelfSigned], 'fail');
    assert.equal(s1[APPLIANCE_CHECKS.certExpired], 'pass');
    const old = openOva(
      buildOva('expired', { sign: { key: expired.key, certs: [expired.cert, inter.cert, root.cert] } }),
      {
        trustedRoots: [readFileSync(root.cert, 'utf8')],
      },
    );
    const s2 = statusOf(old);
    assert.equal(s2[APPLIANCE_CHECKS.signatureInvalid], 'pass');
    assert.equal(s2[APPLIANCE_CHECKS.certExpired], 'fail');
    assert.equal(s2[APPLIANCE_CHECKS.certSelfSigned], 'pass');
    assert.match(
      applianceFindings(old).find((f) => f.checkId === APPLIANCE_CHECKS.certExpired)!.message,
      /2021-01-01/,
    );
    // Judged in mid-2020 the signer is current, but the root made today is not valid yet: still a failure, for it.
    const then = openOva(join(t.dir, 'expired.ova'), { now: new Date('2020-07-01T00:00:00Z') });
    assert.equal(then.signature!.certificates[0]!.expired, false);
    const f = applianceFindings(then).find((x) => x.checkId === APPLIANCE_CHECKS.certExpired)!;
    assert.equal(f.status, 'fail');
    assert.match(f.message, /certificate CN=Example Root CA of the chain is not valid before/);
  });

  it('an unpacked package: a directory or its .ovf, disk opened as a plain image', () => {
    const path = buildOva('unpack', { sign: { key: selfSigned.key, certs: [selfSigned.cert] } });
    const dir = join(t.dir, 'unpacked');
    mkdirSync(dir);
    run('tar', ['-xf', path, '-C', dir]);
    for (const target of [dir, join(dir, 'app.ovf')]) {
      const ova = openOva(target);
      assert.equal(ova.kind, 'ovf');
      assert.deepEqual(
        ova.manifest!.entries.map((e) => e.status),
        ['ok', 'ok', 'ok'],
      );
      assert.equal(ova.signature!.status, 'valid');
      const dev = ova.openDisk('system');
      try {
        checkDisk(dev);
      } finally {
        dev.close();
      }
    }
    // A manifest entry that climbs out of the package is not followed.
    writeFileSync(join(dir, 'app.mf'), `SHA256(../ext4.img)= ${'00'.repeat(32)}\n`);
    const ova = openOva(dir);
    assert.equal(ova.manifest!.entries[0]!.status, 'missing');
    writeFileSync(join(dir, 'second.ovf'), '<Envelope/>');
    expectError(() => openOva(dir), 'E_USAGE', /2 \.ovf descriptors/);
  });

  it('archive problems: a duplicated member, a symlink member, a referenced file missing', () => {
    const path = buildOva('dup', { append: ['custom.iso'] });
    const dirOf = join(t.dir, 'dup');
    symlinkSync('app.ovf', join(dirOf, 'link.ovf.bak'));
    run('tar', ['--format=ustar', '-rf', path, '-C', dirOf, 'link.ovf.bak']);
    const ova = openOva(path);
    const messages = ova.problems.map((p) => p.message).join('\n');
    assert.match(messages, /"custom.iso" appears more than once/);
    assert.match(messages, /is a symlink, not a regular file/);
    assert.equal(statusOf(ova)[APPLIANCE_CHECKS.packageDamaged], 'fail');

    // The disk named by the descriptor is not in the archive.
    const dir = join(t.dir, 'missing');
    mkdirSync(dir);
    writeFileSync(join(dir, 'app.ovf'), template);
    const missing = join(t.dir, 'missing.ova');
    run('tar', ['--format=ustar', '-cf', missing, '-C', dir, 'app.ovf']);
    const m = openOva(missing);
    assert.match(
      m.problems.map((p) => p.message).join('\n'),
      /"system.vmdk" \(id system.vmdk_id\) is referenced but not in the package/,
    );
    expectError(() => m.openDisk('system'), 'E_UNSUPPORTED_FORMAT', /not in the package/);
    expectError(() => m.openDisk('nope'), 'E_NOT_FOUND');
  });

  it('a VMDK inside the archive may not reach files outside it', () => {
    const dir = join(t.dir, 'flat');
    mkdirSync(dir);
    run('qemu-img', [
      'convert',
      '-f',
      'raw',
      '-O',
      'vmdk',
      '-o',
      'subformat=monolithicFlat',
      ext4,
      join(dir, 'disk1.vmdk'),
    ]);
    const path = buildOva('flatpkg', { disk: join(dir, 'disk1.vmdk') });
    // The flat extent sits beside the archive, where a careless reader would find it.
    copyFileSync(join(dir, 'disk1-flat.vmdk'), join(t.dir, 'disk1-flat.vmdk'));
    const ova = openOva(path);
    expectError(() => ova.openDisk('system'), 'E_BACKING_REFUSED', /inside an appliance archive/);
  });

  it('refuses what is not an appliance', () => {
    const junk = join(t.dir, 'junk.bin');
    writeFileSync(junk, pseudoRandom(4096, 5));
    expectError(() => openOva(junk), 'E_UNSUPPORTED_FORMAT', /neither an OVA/);
    const noOvf = join(t.dir, 'no-ovf.tar');
    run('tar', ['--format=ustar', '-cf', noOvf, '-C', tree, 'etc']);
    expectError(() => openOva(noOvf), 'E_UNSUPPORTED_FORMAT', /no \.ovf descriptor/);
    expectError(() => openOva(join(t.dir, 'absent.ova')), 'E_NOT_FOUND');
    // A descriptor that is not XML is a problem of the package, not a crash.
    const badDir = join(t.dir, 'bad-ovf');
    mkdirSync(badDir);
    writeFileSync(join(badDir, 'x.ovf'), '<Envelope><unclosed></Envelope>');
    const bad = openOva(join(badDir, 'x.ovf'));
    assert.equal(bad.envelopeError?.code, 'E_UNSUPPORTED_FORMAT');
    assert.equal(statusOf(bad)[APPLIANCE_CHECKS.packageDamaged], 'fail');
  });

  it('mutated archives never crash opening, verifying or reporting', () => {
    // A small package (raw 64 KiB disk) so each run is cheap.
    const small = join(t.dir, 'small.img');
    writeFileSync(small, pseudoRandom(64 * 1024, 9));
    const path = buildOva('fuzz', { disk: small, sign: { key: selfSigned.key, certs: [selfSigned.cert] } });
    const raw = readFileSync(path);
    const target = join(t.dir, 'fuzzed.ova');
    fc.assert(
      fc.property(
        byteEditsIn(0, Math.min(raw.length, 16 * 1024), 12),
        fc.nat({ max: raw.length }),
        (edits, cut) => {
          const b = Buffer.from(raw.subarray(0, Math.max(cut, 512)));
          for (const [off, v] of edits) if (off < b.length) b[off] = v;
          writeFileSync(target, b);
          onlyHyperwardErrors(() => {
            const ova = openOva(target);
            applianceFindings(ova);
            for (const d of ova.disks) {
              onlyHyperwardErrors(() => {
                const dev = ova.openDisk(d.disk.diskId);
                try {
                  dev.read(0, Math.min(dev.size, 4096));
                } finally {
                  dev.close();
                }
              });
            }
          });
        },
      ),
      { numRuns: 150 },
    );
  });
});
