import assert from 'node:assert/strict';
import {
  copyFileSync,
  mkdirSync,
  readFileSync,
  realpathSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { applyEdits, byteEditsIn } from '../../test/helpers/fuzz.js';
import {
  ovfDescriptor,
  packOva,
  Pki,
  streamOptimizedVmdk,
  type KeyPair,
  type OvfSpec,
} from '../../test/helpers/ova.js';
import { run, tempDir } from '../../test/helpers/tmp.js';
import { parseDpkgStatus } from '../inspect/dpkg.js';
import { applianceKind, isOvfEnvelope } from './appliance.js';
import { imageComponents, inspectImage, judgeImage, mountImage, scanImage } from './image.js';

const SAMPLE = fileURLToPath(new URL('../../fixtures/sample/root/', import.meta.url));
const SAMPLE_PACKAGES = parseDpkgStatus(readFileSync(join(SAMPLE, 'var/lib/dpkg/status'), 'utf8'), 'status')
  .map((p) => `${p.name} ${p.version}`)
  .sort();
const MiB = 1024 * 1024;

describe('isOvfEnvelope', () => {
  const NS1 = 'http://schemas.dmtf.org/ovf/envelope/1';
  const NS2 = 'http://schemas.dmtf.org/ovf/envelope/2';

  it('tells an OVF Envelope root, prefixed or not, after a prolog, comments and a byte order mark', () => {
    for (const text of [
      `<Envelope xmlns="${NS1}"><References/></Envelope>`,
      `\uFEFF<?xml version="1.0" encoding="UTF-8"?>\n<!-- made by ovftool -->\n<ovf:Envelope xmlns:ovf="${NS1}" xmlns="${NS1}">`,
      `<?xml version="1.0"?><?xml-stylesheet href="x"?>\n\n<ovf:Envelope\n  xmlns:vmw="urn:x"\n  xmlns:ovf='${NS2}'>`,
      `<Envelope xmlns:rasd="urn:r" xmlns="${NS2}/">`,
    ]) {
      assert.equal(isOvfEnvelope(text), true, text);
    }
  });

  it('refuses other roots, other namespaces and a namespace bound to another prefix', () => {
    for (const text of [
      `<domain type="kvm"><name>vm</name></domain>`,
      `<Envelope xmlns="http://schemas.xmlsoap.org/soap/envelope/">`,
      `<ovf:Envelope xmlns="${NS1}">`,
      `<Envelope xmlns:ovf="${NS1}">`,
      `<!-- <Envelope xmlns="${NS1}"> --><root/>`,
      `text <Envelope xmlns="${NS1}">`,
      `<EnvelopeX xmlns="${NS1}">`,
      '',
    ]) {
      assert.equal(isOvfEnvelope(text), false, text);
    }
  });

  it('never throws and needs the OVF namespace on the root (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 400 }), fc.string({ maxLength: 40 }), (junk, prefix) => {
        const a = isOvfEnvelope(junk);
        const b = isOvfEnvelope(`<${prefix}:Envelope xmlns:${prefix}="${NS1}">${junk}`);
        assert.equal(typeof a, 'boolean');
        if (/^[A-Za-z_][\w.-]*$/.test(prefix)) assert.equal(b, true);
        if (!junk.includes(NS1.slice(7)) && !junk.includes(NS2.slice(7))) assert.equal(a, false);
      }),
      { numRuns: 300 },
    );
  });
});

describe('appliances in scan image, built with real tools', () => {
  const t = tempDir('hw-scan-ova-');
  const pki = new Pki(t.dir);
  let ca: KeyPair;
  let signer: KeyPair;
  let expired: KeyPair;
  /** The sample Debian tree on ext4, as a streamOptimized VMDK; and a data disk with no OS. */
  let osDisk = '';
  let dataDisk = '';

  before(() => {
    const osRaw = join(t.dir, 'os.raw');
    run('mkfs.ext4', ['-q', '-F', '-d', SAMPLE, '-L', 'root', osRaw, '16M']);
    osDisk = join(t.dir, 'os.vmdk');
    streamOptimizedVmdk(osRaw, osDisk);
    const data = join(t.dir, 'data-tree');
    mkdirSync(join(data, 'logs'), { recursive: true });
    writeFileSync(join(data, 'logs', 'boot.log'), 'booted\n');
    const dataRaw = join(t.dir, 'data.raw');
    run('mkfs.ext4', ['-q', '-F', '-d', data, '-L', 'data', dataRaw, '8M']);
    dataDisk = join(t.dir, 'data.vmdk');
    streamOptimizedVmdk(dataRaw, dataDisk);
    ca = pki.selfSigned('Example Root CA', true);
    signer = pki.issue('Example Networks Code Signing', ca, '20200101000000Z', '20991231000000Z');
    expired = pki.issue('Example Expired Signer', ca, '20200101000000Z', '20210101000000Z');
  });
  after(() => t.cleanup());

  let n = 0;
  /** A package directory with the descriptor and the disks (data disk first when `dataFirst`). */
  function packageDir(o: { dataFirst?: boolean; withData?: boolean; product?: Partial<OvfSpec> } = {}): {
    dir: string;
    files: string[];
  } {
    const dir = join(t.dir, `pkg${n++}`);
    mkdirSync(dir);
    const disks: OvfSpec['disks'] = [];
    const add = (id: string, src: string, href: string, capacity: number): void => {
      copyFileSync(src, join(dir, href));
      disks.push({ id, href, size: statSync(join(dir, href)).size, capacity });
    };
    if (o.withData !== false && o.dataFirst) add('data', dataDisk, 'data.vmdk', 8 * MiB);
    add('system', osDisk, 'system.vmdk', 16 * MiB);
    if (o.withData !== false && !o.dataFirst) add('data', dataDisk, 'data.vmdk', 8 * MiB);
    const spec: OvfSpec = {
      systemId: 'gw',
      systemName: 'gateway',
      product: 'Example Gateway',
      vendor: 'Example Networks, Inc.',
      version: '7.2.4',
      fullVersion: '7.2.4 build 1234',
      productUrl: 'https://example.com/gateway',
      vendorUrl: 'https://example.com/',
      osType: 'debian12_64Guest',
      cpus: 2,
      memoryMiB: 2048,
      networks: ['VM Network', 'Management'],
      disks,
      ...o.product,
    };
    writeFileSync(join(dir, 'gateway.ovf'), ovfDescriptor(spec));
    return { dir, files: ['gateway.ovf', ...disks.map((d) => d.href)] };
  }

  it('an OVA with two disks: one result, the OS and packages from the disk that holds them, facts of both', () => {
    const { dir, files } = packageDir({ dataFirst: true });
    const ova = packOva(dir, 'two-disks', files, {
      sign: { key: signer.key, certs: [signer.cert, ca.cert] },
    });
    assert.equal(applianceKind(ova), 'ova');
    const r = scanImage(ova, { trustedRoots: [readFileSync(ca.cert, 'utf8')] });
    assert.equal(r.error, undefined);
    assert.equal(r.target, ova);
    assert.equal(r.os?.id, 'debian');
    assert.equal(r.hostname, 'hyperward-sample');
    assert.deepEqual(r.packages.map((p) => `${p.name} ${p.version}`).sort(), SAMPLE_PACKAGES);
    const a = r.appliance!;
    assert.equal(a.kind, 'ova');
    assert.equal(a.descriptor, 'gateway.ovf');
    assert.equal(a.ovfVersion, '1.x');
    assert.deepEqual(
      [a.product, a.vendor, a.version, a.fullVersion, a.productUrl, a.vendorUrl],
      [
        'Example Gateway',
        'Example Networks, Inc.',
        '7.2.4',
        '7.2.4 build 1234',
        'https://example.com/gateway',
        'https://example.com/',
      ],
    );
    assert.deepEqual(a.systems, [
      {
        id: 'gw',
        name: 'gateway',
        osType: 'debian12_64Guest',
        osId: 96,
        cpus: 2,
        memoryBytes: 2048 * MiB,
        nics: [
          { name: 'Network adapter 1', network: 'VM Network', adapterType: 'VmxNet3' },
          { name: 'Network adapter 2', network: 'Management', adapterType: 'VmxNet3' },
        ],
        disks: [
          { diskId: 'data', capacityBytes: 8 * MiB },
          { diskId: 'system', capacityBytes: 16 * MiB },
        ],
      },
    ]);
    assert.deepEqual(
      a.networks.map((x) => x.name),
      ['VM Network', 'Management'],
    );
    // Both disks read; the second holds the OS and is the result's image.
    assert.deepEqual(
      a.disks.map((d) => [
        d.diskId,
        d.file,
        d.image?.format,
        d.image?.subformat,
        d.image?.virtualSize,
        d.root,
      ]),
      [
        ['data', 'data.vmdk', 'vmdk', 'streamOptimized', 8 * MiB, undefined],
        ['system', 'system.vmdk', 'vmdk', 'streamOptimized', 16 * MiB, true],
      ],
    );
    assert.equal(r.image, a.disks[1]!.image);
    assert.equal(a.disks[0]!.image!.filesystems[0]!.label, 'data');
    assert.deepEqual(r.image!.files, [`${ova}!system.vmdk`]);
    // Integrity: verified, signed through the CA given as trusted, current.
    assert.deepEqual(a.manifest, {
      status: 'verified',
      name: 'gateway.mf',
      algorithms: ['SHA256'],
      weak: false,
      entries: 3,
      failed: [],
      uncovered: [],
    });
    assert.equal(a.signature.status, 'valid');
    // The chain stops at the certificate a trusted root issued.
    assert.deepEqual(
      a.signature.chain.map((c) => [c.subject, c.issuer, c.selfSigned]),
      [['CN=Example Networks Code Signing', 'CN=Example Root CA', false]],
    );
    assert.equal(a.signature.trusted, true);
    assert.equal(a.signature.trustedRoot, 'CN=Example Root CA');
    assert.equal(a.signature.expired, false);
    const status = Object.fromEntries(
      r.findings.filter((f) => f.checkId.startsWith('appliance.')).map((f) => [f.checkId, f.status]),
    );
    for (const id of [
      'appliance.package-damaged',
      'appliance.manifest-missing',
      'appliance.manifest-mismatch',
      'appliance.manifest-incomplete',
      'appliance.manifest-weak-digest',
      'appliance.unsigned',
      'appliance.signature-invalid',
      'appliance.cert-expired',
      'appliance.cert-self-signed',
      'appliance.cert-untrusted',
    ])
      assert.equal(status[id], 'pass', id);
    assert.equal(r.findings.filter((f) => f.checkId === 'appliance.cert-expired').length, 1);
    assert.equal(a.cpes[0]!.cpe, 'cpe:2.3:a:example_networks:example_gateway:7.2.4:*:*:*:*:*:*:*');
    assert.equal(a.cpes[0]!.confidence, 'high');
    // The same directory unpacked: the descriptor is told by its content and reads the disks beside it.
    assert.equal(applianceKind(join(dir, 'gateway.ovf')), 'ovf');
    // Its disks, manifest and certificate are parts of it, not images of their own (for `scan image DIR`).
    assert.deepEqual(
      imageComponents(join(dir, 'gateway.ovf')).sort(),
      ['data.vmdk', 'gateway.cert', 'gateway.mf', 'gateway.ovf', 'system.vmdk'].map((f) =>
        realpathSync(join(dir, f)),
      ),
    );
    assert.deepEqual(imageComponents(ova), [ova]);
    const unpacked = scanImage(join(dir, 'gateway.ovf'));
    assert.equal(unpacked.appliance?.kind, 'ovf');
    assert.deepEqual(unpacked.packages.map((p) => `${p.name} ${p.version}`).sort(), SAMPLE_PACKAGES);
  });

  it('certificate validity is judged at the moment of judging, not when the appliance was read', () => {
    const { dir, files } = packageDir({ withData: false });
    // The signer alone (the CA, made today, would not be valid in 2020).
    const ova = packOva(dir, 'expired', files, { sign: { key: expired.key, certs: [expired.cert] } });
    const inspected = inspectImage(ova);
    assert.equal(inspected.result.findings.filter((f) => f.checkId === 'appliance.cert-expired').length, 0);
    const copy = structuredClone(inspected);
    const during = judgeImage(inspected, { now: new Date('2020-06-01T00:00:00Z') });
    const cert = during.findings.find((f) => f.checkId === 'appliance.cert-expired')!;
    assert.equal(cert.status, 'pass');
    assert.equal(during.appliance!.signature.expired, false);
    const later = judgeImage(copy, { now: new Date('2024-06-01T00:00:00Z') });
    const stale = later.findings.find((f) => f.checkId === 'appliance.cert-expired')!;
    assert.equal(stale.status, 'fail');
    assert.match(stale.message, /expired on 2021-01-01/);
    assert.equal(stale.id, cert.id, 'the same fingerprint either way');
    assert.equal(later.appliance!.signature.expired, true);
  });

  it('SHA-1 manifest, no signature: weak and unsigned are reported; a tampered disk fails the manifest', () => {
    const { dir, files } = packageDir({ withData: false });
    const ova = packOva(dir, 'sha1', files, {
      digest: 'sha1',
      beforeTar: (d) => {
        // Change one byte of the VMDK's embedded descriptor text: the disk still reads, the digest differs.
        const p = join(d, 'system.vmdk');
        const buf = readFileSync(p);
        const at = buf.indexOf('# The Disk Data Base');
        assert.ok(at > 0);
        buf[at + 2] = 't'.charCodeAt(0);
        writeFileSync(p, buf);
      },
    });
    const r = scanImage(ova);
    const by = (id: string) => r.findings.find((f) => f.checkId === id)!;
    assert.equal(by('appliance.manifest-weak-digest').status, 'fail');
    assert.equal(by('appliance.unsigned').status, 'fail');
    assert.equal(by('appliance.manifest-mismatch').status, 'fail');
    assert.equal(by('appliance.manifest-mismatch').evidence?.key, 'system.vmdk');
    assert.deepEqual(r.appliance!.manifest.failed, [{ file: 'system.vmdk', status: 'mismatch' }]);
    assert.equal(r.appliance!.manifest.status, 'failed');
    assert.equal(r.appliance!.manifest.weak, true);
    assert.equal(r.appliance!.signature.status, 'unsigned');
    assert.equal(r.findings.filter((f) => f.checkId === 'appliance.cert-expired').length, 0);
    // Still scanned like any image.
    assert.equal(r.packages.length, SAMPLE_PACKAGES.length);
  });

  it('a second disk with an OS of its own is reported, not inventoried', () => {
    const dir = join(t.dir, 'two-os');
    mkdirSync(dir);
    copyFileSync(osDisk, join(dir, 'a.vmdk'));
    copyFileSync(osDisk, join(dir, 'b.vmdk'));
    const size = statSync(osDisk).size;
    writeFileSync(
      join(dir, 'two.ovf'),
      ovfDescriptor({
        systemId: 'two',
        systemName: 'two',
        osType: 'otherLinux64Guest',
        cpus: 1,
        memoryMiB: 512,
        networks: [],
        disks: [
          { id: 'a', href: 'a.vmdk', size, capacity: 16 * MiB },
          { id: 'b', href: 'b.vmdk', size, capacity: 16 * MiB },
        ],
      }),
    );
    const r = scanImage(packOva(dir, 'two-os', ['two.ovf', 'a.vmdk', 'b.vmdk']));
    assert.equal(r.error, undefined);
    assert.equal(r.packages.length, SAMPLE_PACKAGES.length, 'one inventory, not two');
    const [a, b] = r.appliance!.disks;
    assert.equal(a!.root, true);
    assert.equal(b!.root, undefined);
    assert.equal(a!.image!.filesystems[0]!.root, true);
    assert.equal(b!.image!.filesystems[0]!.root, undefined);
    assert.equal(b!.image!.filesystems[0]!.mountpoint, '/');
    const extra = r.findings.filter((f) => f.checkId === 'appliance.additional-os');
    assert.deepEqual(
      extra.map((f) => f.message),
      ['disk b holds an OS root too; only the OS of disk a was inventoried'],
    );
    // No product named: no CPE, and the descriptor stands in for it.
    assert.equal(r.appliance!.product, undefined);
    assert.deepEqual(r.appliance!.cpes, []);
  });

  it('a disk with nothing readable on it is named, the other disks scanned as usual', () => {
    const dir = join(t.dir, 'with-blank');
    mkdirSync(dir);
    copyFileSync(osDisk, join(dir, 'a.vmdk'));
    const blankRaw = join(t.dir, 'blank.raw');
    writeFileSync(blankRaw, Buffer.alloc(4 * MiB));
    streamOptimizedVmdk(blankRaw, join(dir, 'b.vmdk'));
    writeFileSync(
      join(dir, 'blank.ovf'),
      ovfDescriptor({
        systemId: 'blank',
        systemName: 'blank',
        osType: 'otherLinux64Guest',
        cpus: 1,
        memoryMiB: 512,
        networks: [],
        disks: [
          { id: 'a', href: 'a.vmdk', size: statSync(join(dir, 'a.vmdk')).size, capacity: 16 * MiB },
          { id: 'b', href: 'b.vmdk', size: statSync(join(dir, 'b.vmdk')).size, capacity: 4 * MiB },
        ],
      }),
    );
    const ova = packOva(dir, 'with-blank', ['blank.ovf', 'a.vmdk', 'b.vmdk']);
    const r = scanImage(ova);
    assert.equal(r.error, undefined);
    assert.equal(r.packages.length, SAMPLE_PACKAGES.length);
    const none = r.findings.filter((f) => f.checkId === 'image.no-filesystem-found');
    assert.deepEqual(
      none.map((f) => f.resource.id),
      [`${ova}!b.vmdk#disk`],
    );
  });

  it('mountImage on an appliance mounts the disk holding the OS, or the one named', () => {
    const { dir, files } = packageDir({ dataFirst: true });
    const ova = packOva(dir, 'mount', files, { digest: 'none' });
    const m = mountImage(ova);
    try {
      assert.equal(m.dev.name, `${ova}!system.vmdk`);
      assert.equal(m.root?.tryReadFile('/etc/hostname')?.toString(), 'hyperward-sample\n');
    } finally {
      m.close();
    }
    const d = mountImage(ova, { disk: 'data' });
    try {
      assert.equal(d.root, undefined);
      assert.equal(d.volumes[0]!.vfs!.readFile('/logs/boot.log').toString(), 'booted\n');
    } finally {
      d.close();
    }
    assert.throws(
      () => mountImage(ova, { disk: 'nope' }),
      /no disk "nope" in the appliance \(disks: data, system\)/,
    );
  });

  it('a damaged archive is an unreadable target naming the file and the offset, with what could be read', () => {
    const { dir, files } = packageDir({ withData: false });
    const ova = packOva(dir, 'cut', files);
    const size = statSync(ova).size;
    truncateSync(ova, size - 100_000);
    const r = scanImage(ova);
    assert.equal(r.error?.code, 'E_IMAGE_CORRUPT');
    assert.match(
      r.error!.message,
      new RegExp(
        `^${ova.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: tar archive: offset \\d+ \\(0x[0-9a-f]+\\): the appliance archive is damaged: member data .* runs past the end of the archive; 1 of 1 disk\\(s\\) could not be read$`,
      ),
    );
    assert.equal(r.appliance?.product, 'Example Gateway');
    assert.equal(r.findings.find((f) => f.checkId === 'appliance.package-damaged')?.status, 'fail');
    assert.equal(r.findings.find((f) => f.checkId === 'appliance.disk-unreadable')?.status, 'unknown');
    // Cut inside the descriptor: no descriptor at all, and still the offset.
    truncateSync(ova, 1000);
    const early = scanImage(ova);
    assert.equal(early.error?.code, 'E_IMAGE_CORRUPT');
    assert.match(
      early.error!.message,
      /tar archive: offset 0 \(0x0\): the archive is damaged before any \.ovf descriptor/,
    );
  });

  it('an archive cut on a member boundary, losing a disk, is damaged at its end', () => {
    const { dir, files } = packageDir({ withData: false });
    const ova = packOva(dir, 'boundary', files);
    // GNU tar's own listing says where each member's header is.
    const listing = run('tar', ['-tRf', ova]);
    const block = Number(/^block (\d+): system\.vmdk$/m.exec(listing)![1]);
    truncateSync(ova, block * 512);
    const r = scanImage(ova);
    assert.equal(r.error?.code, 'E_IMAGE_CORRUPT');
    assert.match(
      r.error!.message,
      new RegExp(`tar archive: offset ${block * 512} .*no end-of-archive marker.*1 of 1 disk`),
    );
    assert.equal(r.appliance!.disks[0]!.error?.code, 'E_UNSUPPORTED_FORMAT');
  });

  it('a tar archive without a descriptor is not an appliance, and says so', () => {
    const dir = join(t.dir, 'plain-tar');
    mkdirSync(dir);
    writeFileSync(join(dir, 'notes.txt'), 'hello\n');
    const tar = join(t.dir, 'plain.tar');
    run('tar', ['--format=ustar', '-cf', tar, '-C', dir, 'notes.txt']);
    const r = scanImage(tar);
    assert.equal(r.error?.code, 'E_UNSUPPORTED_FORMAT');
    assert.match(r.error!.message, /holds no \.ovf descriptor: not an OVA/);
  });

  it('an image is no appliance: raw disks, qcow2 and XML that is not OVF stay as they were', () => {
    assert.equal(applianceKind(osDisk), undefined);
    const xml = join(t.dir, 'domain.xml');
    writeFileSync(xml, '<?xml version="1.0"?>\n<domain type="kvm"><name>vm</name></domain>\n');
    assert.equal(applianceKind(xml), undefined);
    assert.equal(applianceKind(join(t.dir, 'missing.ova')), undefined);
    assert.equal(applianceKind(t.dir), undefined);
    const r = scanImage(osDisk);
    assert.equal(r.appliance, undefined);
    assert.equal(r.packages.length, SAMPLE_PACKAGES.length);
  });

  it('byte edits in the archive headers, descriptor and manifest never crash a scan (property)', () => {
    const { dir, files } = packageDir({ withData: false });
    const ova = packOva(dir, 'fuzz', files, { sign: { key: signer.key, certs: [signer.cert, ca.cert] } });
    const raw = readFileSync(ova);
    const mutated = join(t.dir, 'mutated.ova');
    fc.assert(
      fc.property(byteEditsIn(0, Math.min(raw.length, 24 * 1024), 12), (edits) => {
        writeFileSync(mutated, applyEdits(raw, edits));
        const r = scanImage(mutated);
        // Whatever the damage, a result comes back; an unreadable package says why.
        assert.equal(r.target, mutated);
        if (r.error) assert.match(r.error.code, /^E_[A-Z_]+$/);
      }),
      { numRuns: 40 },
    );
  });
});

test('a damaged archive is reported by scanImage without throwing', () => {
  const t = tempDir('hw-scan-ova-empty-');
  try {
    // A tar header that checks out, then nothing: the member it announces runs past the end.
    const p = join(t.dir, 'x.ova');
    writeFileSync(join(t.dir, 'a.ovf'), 'x'.repeat(2000));
    run('tar', ['--format=ustar', '-cf', p, '-C', t.dir, 'a.ovf']);
    truncateSync(p, 1024);
    const r = scanImage(p);
    assert.equal(r.error?.code, 'E_IMAGE_CORRUPT');
    assert.match(r.error!.message, /offset 0 \(0x0\).*runs past the end of the archive/);
  } finally {
    t.cleanup();
  }
});
