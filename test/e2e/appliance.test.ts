/**
 * End to end: virtual appliances made with real tools and scanned by the CLI. The OS disk is the fixture builder's
 * Debian image (gpt.raw) converted by `qemu-img convert -O vmdk -o subformat=streamOptimized`; the descriptor is
 * written by test/helpers/ova.ts; manifests come from `sha256sum`/`sha1sum`/`sha512sum`, signatures and
 * certificates (CA-issued, self-signed, expired) from `openssl`; archives from GNU `tar --format=ustar`, descriptor
 * first. The oracle for the packages is `dpkg-query` over the tree the image was made from.
 */
import assert from 'node:assert/strict';
import {
  copyFileSync,
  linkSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { Spec, Validation } from '@cyclonedx/cyclonedx-library';
import type { ScanReport, ScanResult } from '../../src/model/report.js';
import { fixtureImage, loadFixtureManifest } from '../fixtures/build.js';
import { hyperward } from '../helpers/cli.js';
import {
  ovfDescriptor,
  packOva,
  Pki,
  streamOptimizedVmdk,
  type KeyPair,
  type OvfSpec,
} from '../helpers/ova.js';
import { run, tempDir } from '../helpers/tmp.js';

const manifest = loadFixtureManifest();
const image = fixtureImage(manifest, 'gpt.raw');
const tree = manifest.trees[image.tree]!;
const MiB = 1024 * 1024;

/** dpkg-query's view of the image's packages, one `name version arch source source-version` a line. */
const oracle = readFileSync(tree.packagesFile, 'utf8')
  .split('\n')
  .filter((l) => l !== '')
  .sort();

function packagesOf(r: ScanResult): string[] {
  return r.packages.map((p) => [p.name, p.version, p.arch, p.sourceName, p.sourceVersion].join('\t')).sort();
}

function scanJson(...args: string[]): { code: number; stderr: string; report: ScanReport } {
  const r = hyperward(['scan', 'image', '--format', 'json', '--quiet', '--no-vulns', '--no-cache', ...args]);
  return { code: r.code, stderr: r.stderr, report: JSON.parse(r.stdout.toString()) as ScanReport };
}

function statusOf(r: ScanResult, checkId: string): string | undefined {
  return r.findings.find((f) => f.checkId === checkId)?.status;
}

/** Every file under `dir` with its size and modification time, to show a scan wrote nothing there. */
function listing(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      const st = statSync(p);
      out.push(`${p}\t${st.size}\t${st.mtimeMs}`);
      if (e.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out.sort();
}

describe('scan image on OVA appliances', () => {
  const t = tempDir('hw-e2e-ova-');
  const work = join(t.dir, 'work');
  const out = join(t.dir, 'appliances');
  let osDisk = '';
  let dataDisk = '';
  let ca: KeyPair;
  let signer: KeyPair;
  let selfSigned: KeyPair;
  let expired: KeyPair;
  const ovas: Record<string, string> = {};
  let goodDir = '';

  /** A package directory: the descriptor and hard links to the disks (a copy for one that is tampered with). */
  function packageDir(name: string, withData: boolean): { dir: string; files: string[] } {
    const dir = join(out, name);
    mkdirSync(dir, { recursive: true });
    const disks: OvfSpec['disks'] = [];
    linkSync(osDisk, join(dir, 'system.vmdk'));
    disks.push({
      id: 'system',
      href: 'system.vmdk',
      size: statSync(osDisk).size,
      capacity: image.virtualSize,
    });
    if (withData) {
      linkSync(dataDisk, join(dir, 'data.vmdk'));
      disks.push({ id: 'data', href: 'data.vmdk', size: statSync(dataDisk).size, capacity: 8 * MiB });
    }
    writeFileSync(
      join(dir, 'gateway.ovf'),
      ovfDescriptor({
        systemId: 'gateway',
        systemName: 'Example Gateway',
        product: 'Example Gateway',
        vendor: 'Example Networks, Inc.',
        version: '7.2.4',
        fullVersion: '7.2.4 build 1234',
        productUrl: 'https://gateway.example.com/',
        vendorUrl: 'https://example.com/',
        osType: 'debian12_64Guest',
        cpus: 2,
        memoryMiB: 4096,
        networks: ['VM Network', 'Management'],
        disks,
      }),
    );
    return { dir, files: ['gateway.ovf', ...disks.map((d) => d.href)] };
  }

  before(() => {
    mkdirSync(work);
    mkdirSync(out);
    osDisk = join(work, 'system.vmdk');
    streamOptimizedVmdk(image.path, osDisk);
    const data = join(work, 'data-tree');
    mkdirSync(join(data, 'log'), { recursive: true });
    writeFileSync(join(data, 'log', 'gateway.log'), 'started\n');
    run('mkfs.ext4', ['-q', '-F', '-d', data, '-L', 'data', join(work, 'data.raw'), '8M']);
    dataDisk = join(work, 'data.vmdk');
    streamOptimizedVmdk(join(work, 'data.raw'), dataDisk);
    const pki = new Pki(work);
    ca = pki.selfSigned('Example Root CA', true);
    signer = pki.issue('Example Networks Code Signing', ca, '20200101000000Z', '20991231000000Z');
    selfSigned = pki.selfSigned('Example Self Signed');
    expired = pki.issue('Example Expired Signer', ca, '20200101000000Z', '20210101000000Z');

    const good = packageDir('good', true);
    goodDir = good.dir;
    ovas.good = packOva(good.dir, 'good', good.files, {
      sign: { key: signer.key, certs: [signer.cert, ca.cert] },
    });
    const sha1 = packageDir('sha1', false);
    ovas.sha1 = packOva(sha1.dir, 'sha1', sha1.files, { digest: 'sha1' });
    const self = packageDir('self', false);
    ovas.self = packOva(self.dir, 'self', self.files, {
      digest: 'sha512',
      sign: { key: selfSigned.key, certs: [selfSigned.cert] },
    });
    const exp = packageDir('expired', false);
    ovas.expired = packOva(exp.dir, 'expired', exp.files, {
      sign: { key: expired.key, certs: [expired.cert, ca.cert] },
    });
    const tampered = packageDir('tampered', false);
    ovas.tampered = packOva(tampered.dir, 'tampered', tampered.files, {
      sign: { key: signer.key, certs: [signer.cert, ca.cert] },
      beforeTar: (dir) => {
        // After the manifest was written and signed: one byte of the VMDK's embedded descriptor changes (a
        // comment, so the disk still reads).
        const p = join(dir, 'system.vmdk');
        const buf = readFileSync(p);
        const at = buf.indexOf('# The Disk Data Base');
        assert.ok(at > 0);
        buf[at + 6] = 'd'.charCodeAt(0);
        writeFileSync(join(dir, 'system.tmp'), buf);
        run('mv', ['system.tmp', 'system.vmdk'], { cwd: dir });
      },
    });
    // Damaged: the good archive cut in the middle of its first disk.
    ovas.damaged = join(out, 'damaged.ova');
    writeFileSync(ovas.damaged, readFileSync(ovas.good).subarray(0, 40 * MiB));
  });
  after(() => t.cleanup());

  it('a signed OVA: the appliance, its disks, the OS and every package dpkg-query lists; nothing written', () => {
    const before = listing(t.dir);
    const { code, stderr, report } = scanJson(ovas.good!);
    assert.equal(code, 0, stderr);
    assert.deepEqual(listing(t.dir), before, 'the scan wrote nothing: no file changed, none appeared');
    const r = report.results[0]!;
    assert.equal(r.error, undefined);
    assert.equal(r.target, ovas.good);
    assert.deepEqual(packagesOf(r), oracle);
    assert.equal(r.os?.id, tree.osRelease.ID);
    assert.equal(r.os?.versionId, tree.osRelease.VERSION_ID);
    assert.equal(r.hostname, tree.hostname);
    const a = r.appliance!;
    assert.equal(a.kind, 'ova');
    assert.equal(a.descriptor, 'gateway.ovf');
    assert.deepEqual(
      [a.product, a.vendor, a.version, a.fullVersion, a.productUrl],
      [
        'Example Gateway',
        'Example Networks, Inc.',
        '7.2.4',
        '7.2.4 build 1234',
        'https://gateway.example.com/',
      ],
    );
    assert.equal(a.systems[0]!.cpus, 2);
    assert.equal(a.systems[0]!.memoryBytes, 4096 * MiB);
    assert.deepEqual(
      a.systems[0]!.nics.map((n) => n.network),
      ['VM Network', 'Management'],
    );
    assert.deepEqual(
      a.disks.map((d) => [
        d.diskId,
        d.image?.format,
        d.image?.subformat,
        d.image?.virtualSize,
        d.root === true,
      ]),
      [
        ['system', 'vmdk', 'streamOptimized', image.virtualSize, true],
        ['data', 'vmdk', 'streamOptimized', 8 * MiB, false],
      ],
    );
    assert.equal(r.image?.partitionScheme, image.scheme);
    assert.equal(r.image?.filesystems.find((f) => f.root)?.uuid, image.fsUuid);
    assert.equal(a.manifest.status, 'verified');
    assert.deepEqual(a.manifest.algorithms, ['SHA256']);
    assert.equal(a.signature.status, 'valid');
    assert.equal(a.signature.chain[0]!.subject, 'CN=Example Networks Code Signing');
    assert.equal(a.signature.expired, false);
    // The CA is not among Node's trusted roots: signed by a CA, not self-signed, but untrusted.
    assert.equal(statusOf(r, 'appliance.signature-invalid'), 'pass');
    assert.equal(statusOf(r, 'appliance.cert-self-signed'), 'pass');
    assert.equal(statusOf(r, 'appliance.cert-expired'), 'pass');
    assert.equal(statusOf(r, 'appliance.cert-untrusted'), 'fail');
    assert.equal(statusOf(r, 'appliance.manifest-mismatch'), 'pass');
    assert.equal(statusOf(r, 'appliance.manifest-weak-digest'), 'pass');
    assert.equal(a.cpes[0]?.cpe, 'cpe:2.3:a:example_networks:example_gateway:7.2.4:*:*:*:*:*:*:*');
    assert.equal(a.cpes[0]?.confidence, 'high');
  });

  it('--trusted-roots: a signer chained to a CA the user trusts is trusted; a file without certificates is refused', () => {
    const trusted = scanJson('--trusted-roots', ca.cert, ovas.good!);
    assert.equal(trusted.code, 0, trusted.stderr);
    const r = trusted.report.results[0]!;
    assert.equal(statusOf(r, 'appliance.cert-untrusted'), 'pass');
    assert.equal(r.appliance?.signature.status, 'valid');
    const notPem = join(work, 'not-a-cert.pem');
    writeFileSync(notPem, 'hello\n');
    const bad = hyperward(['scan', 'image', '--no-vulns', '--trusted-roots', notPem, ovas.good!]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /not-a-cert\.pem: no PEM certificate/);
  });

  it('CycloneDX: the appliance is the metadata component with its CPE; OS and packages as for any image', async () => {
    const r = hyperward([
      'scan',
      'image',
      '--format',
      'cyclonedx',
      '--quiet',
      '--no-vulns',
      '--no-cache',
      ovas.good!,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const text = r.stdout.toString();
    assert.equal(await new Validation.JsonStrictValidator(Spec.Version.v1dot6).validate(text), null);
    const bom = JSON.parse(text) as {
      metadata: {
        component: {
          type: string;
          name: string;
          version?: string;
          cpe?: string;
          supplier?: { name?: string };
        };
      };
      components: Array<{ type: string; name: string; purl?: string }>;
    };
    const c = bom.metadata.component;
    assert.equal(c.type, 'application');
    assert.equal(c.name, 'Example Gateway');
    assert.equal(c.version, '7.2.4');
    assert.equal(c.cpe, 'cpe:2.3:a:example_networks:example_gateway:7.2.4:*:*:*:*:*:*:*');
    assert.equal(c.supplier?.name, 'Example Networks, Inc.');
    assert.ok(bom.components.some((x) => x.type === 'operating-system' && x.name === tree.osRelease.ID));
    assert.equal(bom.components.filter((x) => x.type === 'library').length, oracle.length);
  });

  it('a closed appliance (no readable OS) is matched by its product CPE against real NVD records', async () => {
    const db = join(work, 'nvd.db');
    const nvd = fileURLToPath(new URL('../../fixtures/advisories/nvd/CVE-2016-0762.json', import.meta.url));
    const imp = hyperward(['db', 'import', '--db', db, nvd]);
    assert.equal(imp.code, 0, imp.stderr);
    /** An appliance of one data disk (no OS on it) whose ProductSection names Apache Tomcat `version`. */
    const tomcat = (version: string): string => {
      const dir = join(out, `tomcat-${version}`);
      mkdirSync(dir, { recursive: true });
      linkSync(dataDisk, join(dir, 'data.vmdk'));
      writeFileSync(
        join(dir, 'tomcat.ovf'),
        ovfDescriptor({
          systemId: 'tomcat',
          systemName: 'Tomcat appliance',
          product: 'Apache Tomcat',
          vendor: 'Apache Software Foundation',
          version,
          osType: 'otherLinux64Guest',
          cpus: 1,
          memoryMiB: 1024,
          networks: ['VM Network'],
          disks: [{ id: 'data', href: 'data.vmdk', size: statSync(dataDisk).size, capacity: 8 * MiB }],
        }),
      );
      return packOva(dir, `tomcat-${version}`, ['tomcat.ovf', 'data.vmdk']);
    };
    const scanVulns = (ova: string): ScanReport =>
      JSON.parse(
        hyperward([
          'scan',
          'image',
          '--format',
          'json',
          '-q',
          '--no-cache',
          '--db',
          db,
          ova,
        ]).stdout.toString(),
      ) as ScanReport;
    const ova836 = tomcat('8.0.36');
    const affected = { report: scanVulns(ova836) };
    const r = affected.report.results[0]!;
    assert.equal(r.packages.length, 0, 'no OS inventory to match');
    const hits = r.findings.filter((f) => f.vulnerability?.package.ecosystem === 'cpe');
    assert.deepEqual(
      hits.map((f) => [f.checkId, f.resource.type, f.vulnerability!.installedVersion]),
      [['CVE-2016-0762', 'appliance', '8.0.36']],
    );
    assert.match(hits[0]!.vulnerability!.package.cpe ?? '', /^cpe:2\.3:a:apache[^:]*:tomcat:8\.0\.36:/);
    // A damaged archive (cut inside its disk) is an error, but the descriptor named the product: still matched.
    const cut = join(out, 'tomcat-cut.ova');
    copyFileSync(ova836, cut);
    truncateSync(cut, Math.floor(statSync(cut).size / 2));
    const damaged = scanVulns(cut).results[0]!;
    assert.equal(damaged.error?.code, 'E_IMAGE_CORRUPT');
    assert.deepEqual(
      damaged.findings.filter((f) => f.vulnerability !== undefined).map((f) => f.checkId),
      ['CVE-2016-0762'],
    );
    const fixed = { report: scanVulns(tomcat('8.0.37')) };
    assert.deepEqual(
      fixed.report.results[0]!.findings.filter((f) => f.vulnerability !== undefined),
      [],
      '8.0.37 is outside every range of the record',
    );
    // CycloneDX: the vulnerability affects the appliance, the metadata component.
    const cdx = hyperward(['scan', 'image', '--format', 'cyclonedx', '-q', '--no-cache', '--db', db, ova836]);
    const text = cdx.stdout.toString();
    assert.equal(await new Validation.JsonStrictValidator(Spec.Version.v1dot6).validate(text), null);
    const bom = JSON.parse(text) as {
      metadata: { component: { 'bom-ref': string } };
      vulnerabilities: Array<{ id: string; affects: Array<{ ref: string }> }>;
    };
    assert.deepEqual(
      bom.vulnerabilities.map((v) => [v.id, v.affects.map((a) => a.ref)]),
      [['CVE-2016-0762', [bom.metadata.component['bom-ref']]]],
    );
  });

  it('table: product, version and integrity in brief', () => {
    const r = hyperward(['scan', 'image', '--quiet', '--no-vulns', '--no-cache', ovas.good!]);
    assert.equal(r.code, 0, r.stderr);
    const text = r.stdout.toString();
    assert.match(text, /^Appliance: +Example Gateway 7\.2\.4 \(Example Networks, Inc\.\)$/m);
    assert.match(
      text,
      /^Integrity: +manifest verified \(SHA256\); signed by CN=Example Networks Code Signing \(untrusted chain\)$/m,
    );
    assert.match(text, /^Disks: +system \(OS\), data \(8\.0 MiB\)$/m);
  });

  it('a disk changed after signing fails the manifest, and --fail-on high says so', () => {
    const { code, report } = scanJson('--fail-on', 'high', ovas.tampered!);
    assert.equal(code, 1);
    const r = report.results[0]!;
    const f = r.findings.find((x) => x.checkId === 'appliance.manifest-mismatch')!;
    assert.equal(f.status, 'fail');
    assert.equal(f.severity, 'high');
    assert.equal(f.evidence?.key, 'system.vmdk');
    assert.deepEqual(r.appliance!.manifest.failed, [{ file: 'system.vmdk', status: 'mismatch' }]);
    // The signature covers the manifest, which was not changed: it still verifies.
    assert.equal(r.appliance!.signature.status, 'valid');
    // The disk is scanned all the same.
    assert.deepEqual(packagesOf(r), oracle);
  });

  it('SHA-1 manifest is weak, no certificate is unsigned, self-signed and expired signers are flagged', () => {
    const { code, report } = scanJson(ovas.sha1!, ovas.self!, ovas.expired!);
    assert.equal(code, 0);
    const [sha1, self, exp] = report.results;
    assert.equal(statusOf(sha1!, 'appliance.manifest-weak-digest'), 'fail');
    assert.equal(sha1!.appliance!.manifest.weak, true);
    assert.equal(statusOf(sha1!, 'appliance.unsigned'), 'fail');
    assert.equal(sha1!.appliance!.signature.status, 'unsigned');

    assert.equal(self!.appliance!.signature.status, 'valid');
    assert.deepEqual(self!.appliance!.manifest.algorithms, ['SHA512']);
    assert.equal(statusOf(self!, 'appliance.manifest-weak-digest'), 'pass');
    assert.equal(statusOf(self!, 'appliance.cert-self-signed'), 'fail');
    assert.equal(self!.appliance!.signature.chain[0]!.selfSigned, true);

    assert.equal(statusOf(exp!, 'appliance.cert-expired'), 'fail');
    assert.match(
      exp!.findings.find((f) => f.checkId === 'appliance.cert-expired')!.message,
      /expired on 2021-01-01/,
    );
    assert.equal(exp!.appliance!.signature.expired, true);
    for (const r of [sha1!, self!, exp!]) assert.deepEqual(packagesOf(r), oracle);
  });

  it('the same verdicts from the scan cache: certificate expiry is judged again, not cached', () => {
    const cache = tempDir('hw-e2e-ova-cache-');
    try {
      const db = join(cache.dir, 'cache.db');
      const scan = (): ScanResult => {
        const r = hyperward([
          'scan',
          'image',
          '--format',
          'json',
          '--quiet',
          '--no-vulns',
          '--cache',
          db,
          ovas.expired!,
        ]);
        assert.equal(r.code, 0, r.stderr);
        return (JSON.parse(r.stdout.toString()) as ScanReport).results[0]!;
      };
      const first = scan();
      const second = scan();
      for (const r of [first, second]) {
        assert.equal(r.findings.filter((f) => f.checkId === 'appliance.cert-expired').length, 1);
        assert.equal(statusOf(r, 'appliance.cert-expired'), 'fail');
      }
      assert.deepEqual(second.appliance, first.appliance);
    } finally {
      cache.cleanup();
    }
  });

  it('a damaged archive: a clear error naming file and offset, exit 2, the other images still scanned', () => {
    const other = fixtureImage(manifest, 'whole.qcow2');
    const res = hyperward([
      'scan',
      'image',
      '--format',
      'json',
      '--no-vulns',
      '--no-cache',
      ovas.damaged!,
      other.path,
      ovas.sha1!,
    ]);
    const { stderr } = res;
    const report = JSON.parse(res.stdout.toString()) as ScanReport;
    assert.equal(res.code, 2);
    const [bad, img, ova] = report.results;
    assert.equal(bad!.error?.code, 'E_IMAGE_CORRUPT');
    const where = `${ovas.damaged}: tar archive: offset `;
    assert.ok(bad!.error!.message.startsWith(where), bad!.error!.message);
    assert.match(
      bad!.error!.message,
      /runs past the end of the archive; 2 of 2 disk\(s\) could not be read$/,
    );
    assert.ok(stderr.includes(`hyperward: ${where}`), stderr);
    // What could be read of it is still reported.
    assert.equal(bad!.appliance?.product, 'Example Gateway');
    assert.equal(statusOf(bad!, 'appliance.package-damaged'), 'fail');
    assert.equal(img!.error, undefined);
    assert.deepEqual(packagesOf(img!), oracle);
    assert.equal(ova!.error, undefined);
    assert.deepEqual(packagesOf(ova!), oracle);
  });

  it('an unpacked package: the .ovf descriptor is told by its content and its disks read beside it', () => {
    const { code, report } = scanJson(join(goodDir, 'gateway.ovf'));
    assert.equal(code, 0);
    const r = report.results[0]!;
    assert.equal(r.appliance?.kind, 'ovf');
    assert.equal(r.appliance?.manifest.status, 'verified');
    assert.deepEqual(packagesOf(r), oracle);
    // The directory as an image library: one appliance; its disks, manifest and certificate are parts of it.
    const lib = scanJson(goodDir);
    assert.equal(lib.code, 0, lib.stderr);
    assert.deepEqual(
      lib.report.results.map((x) => [x.target, x.appliance?.kind]),
      [[join(goodDir, 'gateway.ovf'), 'ovf']],
    );
    assert.deepEqual(
      lib.report.library!.skipped.map((x) => x.reason),
      Array(4).fill(`part of ${join(goodDir, 'gateway.ovf')}`),
    );
  });

  it('image ls and image cat read inside the OVA, from the disk holding the OS', () => {
    const cat = hyperward(['image', 'cat', '--quiet', ovas.good!, '/etc/hostname']);
    assert.equal(cat.code, 0, cat.stderr);
    assert.equal(cat.stdout.toString(), `${tree.hostname}\n`);
    const ls = hyperward(['image', 'ls', ovas.good!, '/etc']);
    assert.equal(ls.code, 0, ls.stderr);
    assert.ok(ls.stdout.toString().split('\n').includes('os-release'));
  });
});
