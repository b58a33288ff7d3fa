import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { isHyperwardError } from '../errors.js';
import { compareVersions } from '../vuln/version/index.js';
import { parseSbom, readSbom, SBOM_LIMITS, type SbomInventory } from './read.js';
import { onlyHyperwardErrors } from '../../test/helpers/fuzz.js';
import { tempDir } from '../../test/helpers/tmp.js';

// Expected values below were read by hand from the fixture documents (see fixtures/sbom/README.md).
const FIX = join(import.meta.dirname, '../../fixtures/sbom');
const fx = (name: string): string => join(FIX, name);

function only(invs: SbomInventory[]): SbomInventory {
  assert.equal(invs.length, 1, `one inventory expected, got ${invs.length}`);
  return invs[0]!;
}

function pkg(inv: SbomInventory, name: string): SbomInventory['packages'][number] {
  const p = inv.packages.find((x) => x.name === name);
  assert.ok(p, `package ${name} not found among ${inv.packages.map((x) => x.name).join(', ')}`);
  return p;
}

function throwsCode(fn: () => unknown, code: string): void {
  assert.throws(fn, (e: unknown) => isHyperwardError(e) && e.code === code);
}

test('Trivy CycloneDX 1.5, CentOS 7: OS component, epoch qualifier folded, Trivy Src* properties', () => {
  const path = fx('trivy-centos7.cdx.json');
  const inv = only(readSbom(path));
  assert.equal(inv.format, 'cyclonedx');
  assert.equal(inv.specVersion, '1.5');
  assert.equal(inv.target, 'integration/testdata/fixtures/images/centos-7.tar.gz');
  assert.equal(inv.os?.id, 'centos');
  assert.equal(inv.os?.versionId, '7.6.1810');
  assert.equal(inv.os?.family, 'rhel');
  assert.equal(inv.packages.length, 2);
  // purl pkg:rpm/centos/openssl-libs@1.0.2k-16.el7?arch=x86_64&epoch=1; SrcName openssl, SrcVersion 1.0.2k,
  // SrcRelease 16.el7, SrcEpoch 1.
  const ssl = pkg(inv, 'openssl-libs');
  assert.deepEqual(ssl, {
    ecosystem: 'rpm',
    name: 'openssl-libs',
    version: '1:1.0.2k-16.el7',
    arch: 'x86_64',
    sourceName: 'openssl',
    sourceVersion: '1:1.0.2k-16.el7',
    source: path,
  });
  // The epoch makes this newer than any epoch-0 build, and older than the fix Trivy reports (1:1.0.2k-19.el7).
  assert.equal(compareVersions('rpm', ssl.version, '1.0.2k-99.el7'), 1);
  assert.equal(compareVersions('rpm', ssl.version, '1:1.0.2k-19.el7'), -1);
  const bash = pkg(inv, 'bash');
  assert.equal(bash.version, '4.2.46-31.el7');
  assert.equal(bash.sourceName, 'bash');
  assert.equal(bash.sourceVersion, '4.2.46-31.el7');
  assert.deepEqual(inv.notes, []);
});

test('Trivy SPDX 2.2, CentOS 7: OS by SPDXRef-OperatingSystem ID, purl version wins over versionInfo', () => {
  const inv = only(readSbom(fx('trivy-centos7.spdx.json')));
  assert.equal(inv.format, 'spdx');
  assert.equal(inv.specVersion, 'SPDX-2.2');
  assert.equal(inv.os?.id, 'centos');
  assert.equal(inv.os?.versionId, '7.6.1810');
  const ssl = pkg(inv, 'openssl-libs');
  assert.equal(ssl.version, '1:1.0.2k-16.el7'); // the purl's, not versionInfo "1:1.0.2k-19.el7"
  // sourceInfo: "built package from: openssl-libs 1:1.0.2k-16.el7"
  assert.equal(ssl.sourceName, 'openssl-libs');
  assert.equal(ssl.sourceVersion, '1:1.0.2k-16.el7');
  assert.ok(inv.notes.some((n) => n.includes('SPDX-2.2')));
  assert.ok(inv.notes.some((n) => n.includes('1 component(s) without a package URL'))); // the container image
});

test('Trivy CycloneDX 1.5, Alpine 3.16 with other ecosystems: only apk kept, the rest counted', () => {
  const inv = only(readSbom(fx('trivy-alpine316-mixed.cdx.json')));
  assert.equal(inv.target, 'maven-test-project');
  assert.equal(inv.os?.id, 'alpine');
  assert.equal(inv.os?.versionId, '3.16.0');
  assert.equal(inv.os?.family, 'alpine');
  assert.deepEqual(
    inv.packages.map((p) => [p.ecosystem, p.name, p.version, p.sourceName, p.sourceVersion]),
    [['apk', 'musl', '1.2.3-r0', 'musl', '1.2.3-r0']],
  );
  // 2 maven, 1 npm, 2 composer, 1 golang purls; 3 `application` components without a purl.
  assert.ok(
    inv.notes.includes(
      'ignored 6 component(s) that are not deb/rpm/apk packages: composer 2, golang 1, maven 2, npm 1',
    ),
  );
  assert.ok(inv.notes.includes('ignored 3 component(s) without a package URL'));
});

test('Trivy 0.58.0 SPDX 2.3, Alpine 3.15.11: OPERATING-SYSTEM package, sourceInfo as source package', () => {
  const inv = only(readSbom(fx('trivy-alpine315.spdx.json')));
  assert.equal(inv.specVersion, 'SPDX-2.3');
  assert.equal(inv.target, 'alpine:3.15');
  assert.equal(inv.os?.id, 'alpine');
  assert.equal(inv.os?.versionId, '3.15.11');
  assert.equal(inv.packages.length, 6);
  const ssl = pkg(inv, 'libssl1.1');
  assert.equal(ssl.version, '1.1.1w-r1');
  assert.equal(ssl.arch, 'x86_64');
  assert.equal(ssl.sourceName, 'openssl');
  assert.equal(ssl.sourceVersion, '1.1.1w-r1');
  assert.equal(pkg(inv, 'ssl_client').sourceName, 'busybox');
});

test('syft 0.58.0 CycloneDX 1.4, distroless Debian 11: OS from the distro qualifier alone', () => {
  const inv = only(readSbom(fx('syft-distroless-debian11.cdx.json')));
  assert.equal(inv.specVersion, '1.4');
  assert.equal(inv.target, 'gcr.io/distroless/static');
  assert.equal(inv.os?.id, 'debian');
  assert.equal(inv.os?.versionId, '11');
  assert.equal(inv.os?.family, 'debian');
  assert.deepEqual(
    inv.packages.map((p) => [p.ecosystem, p.name, p.version, p.arch]),
    [
      ['deb', 'base-files', '11.1+deb11u5', 'amd64'],
      ['deb', 'netbase', '6.3', 'all'],
      ['deb', 'tzdata', '2021a-1+deb11u6', 'all'],
    ],
  );
  assert.equal(pkg(inv, 'tzdata').sourceName, 'tzdata');
});

test('syft 0.58.0 CycloneDX 1.4, Alpine 3.16.2: old pkg:alpine type, upstream qualifier, syft OS component', () => {
  const inv = only(readSbom(fx('syft-alpine316.cdx.json')));
  assert.equal(inv.os?.id, 'alpine');
  assert.equal(inv.os?.versionId, '3.16.2');
  assert.deepEqual(
    inv.packages.map((p) => [p.ecosystem, p.name, p.version, p.arch, p.sourceName]),
    [
      ['apk', 'alpine-baselayout', '3.2.0-r22', 'x86_64', 'alpine-baselayout'],
      ['apk', 'busybox', '1.35.0-r17', 'x86_64', 'busybox'],
      ['apk', 'zlib', '1.2.12-r3', 'x86_64', 'zlib'],
    ],
  );
  assert.ok(inv.notes.some((n) => n.includes('old type `alpine`')));
});

test('SPDX 2.3 with two OPERATING_SYSTEM packages: one inventory each, packages by CONTAINS', () => {
  const invs = readSbom(fx('tanzu-debian12-two-os.spdx.json'));
  assert.equal(invs.length, 2);
  const [a, b] = invs as [SbomInventory, SbomInventory];
  assert.equal(a.os?.id, 'debian');
  assert.equal(a.os?.version, '12.0');
  assert.equal(a.os?.versionId, '12');
  assert.deepEqual(
    a.packages.map((p) => [p.name, p.version, p.sourceName]),
    [['libedit2', '3.1-20221030-2', 'libedit']],
  );
  assert.equal(b.os?.version, '12.5');
  assert.deepEqual(
    b.packages.map((p) => [p.name, p.version, p.arch, p.sourceName, p.sourceVersion]),
    [
      ['libmd0', '1.0.4-2', 'arm64', 'libmd', '1.0.4-2'],
      // purl libmount1@2.38.1-5%2Bdeb12u1; "built package from: util-linux 2.38.1-5+deb12u1"
      ['libmount1', '2.38.1-5+deb12u1', 'arm64', 'util-linux', '2.38.1-5+deb12u1'],
    ],
  );
});

test('osv-scalibr CycloneDX 1.6 (Alpine, bare distro) and SPDX 2.3 (Ubuntu codename, epoch in version)', () => {
  const alpine = only(readSbom(fx('scalibr-alpine-zlib.cdx.json')));
  assert.equal(alpine.specVersion, '1.6');
  assert.equal(alpine.os?.id, 'alpine');
  assert.equal(alpine.os?.versionId, '3.22.0');
  assert.deepEqual(
    alpine.packages.map((p) => [p.name, p.version, p.arch]),
    [['zlib', '1.2.12-r1', 'x86_64']],
  );
  const ubuntu = only(readSbom(fx('scalibr-ubuntu-focal.spdx.json')));
  assert.equal(ubuntu.os?.id, 'ubuntu');
  assert.equal(ubuntu.os?.versionCodename, 'focal');
  assert.equal(ubuntu.os?.versionId, '20.04');
  assert.equal(ubuntu.os?.family, 'debian');
  // pkg:deb/ubuntu/pcre3@2%3A8.39-12ubuntu0.1
  assert.deepEqual(
    ubuntu.packages.map((p) => [p.name, p.version, p.arch]),
    [['pcre3', '2:8.39-12ubuntu0.1', 'amd64']],
  );
});

/** A minimal CycloneDX document around the given component purls. */
function cdx(purls: string[]): string {
  return JSON.stringify({
    bomFormat: 'CycloneDX',
    specVersion: '1.5',
    version: 1,
    components: purls.map((p, i) => ({ type: 'library', name: `c${i}`, purl: p })),
  });
}

test('syft purl forms: RPM upstream source file, deb upstream name@version, rpm epoch qualifier', () => {
  // Purls as syft writes them, quoted from syft output in third-party material: Dependency-Track's docs
  // (audit-libs, syft rpm-db-cataloger), a python test labelled syft_debian_source_version (libc6), and a Go
  // test of syft-style RHEL purls (openssl-libs).
  const invs = parseSbom(
    cdx([
      'pkg:rpm/centos/audit-libs@3.0-0.17.20191104git1c2f876.el8?arch=x86_64&upstream=audit-3.0-0.17.20191104git1c2f876.el8.src.rpm&distro=centos-8',
      'pkg:deb/debian/libc6@2.36-9+b1?upstream=glibc%402.36-9&distro=debian-12',
      'pkg:rpm/redhat/openssl-libs@3.0.7-27.el9?arch=x86_64&distro=rhel-9.4&epoch=1&upstream=openssl-3.0.7-27.el9.src.rpm',
    ]),
    'syft-purls.cdx.json',
  );
  const byOs = new Map(invs.map((i) => [`${i.os?.id}:${i.os?.versionId}`, i]));
  assert.deepEqual([...byOs.keys()].sort(), ['centos:8', 'debian:12', 'rhel:9.4']);
  const audit = byOs.get('centos:8')!.packages[0]!;
  assert.equal(audit.sourceName, 'audit');
  assert.equal(audit.sourceVersion, '3.0-0.17.20191104git1c2f876.el8');
  const libc = byOs.get('debian:12')!.packages[0]!;
  assert.deepEqual([libc.version, libc.sourceName, libc.sourceVersion], ['2.36-9+b1', 'glibc', '2.36-9']);
  const rhel = byOs.get('rhel:9.4')!;
  assert.equal(rhel.os?.family, 'rhel');
  const ssl = rhel.packages[0]!;
  assert.deepEqual(
    [ssl.version, ssl.sourceName, ssl.sourceVersion],
    ['1:3.0.7-27.el9', 'openssl', '1:3.0.7-27.el9'],
  );
});

test('a malformed purl is noted and skipped; the rest is read', () => {
  const text = readFileSync(fx('syft-distroless-debian11.cdx.json'), 'utf8').replace(
    '"purl": "pkg:deb/debian/netbase@6.3?arch=all\\u0026distro=debian-11"',
    '"purl": "pkg:deb/debian/netbase@6.3?arch=%zz"',
  );
  const inv = only(parseSbom(text, 'edited.json'));
  assert.deepEqual(
    inv.packages.map((p) => p.name),
    ['base-files', 'tzdata'],
  );
  assert.ok(
    inv.notes.some((n) => n.startsWith('malformed package URL "pkg:deb/debian/netbase@6.3?arch=%zz"')),
  );
});

test('no OS packages at all: one inventory without an OS, and notes saying why', () => {
  const inv = only(parseSbom(cdx(['pkg:npm/left-pad@1.3.0']), 'npm.cdx.json'));
  assert.equal(inv.os, undefined);
  assert.deepEqual(inv.packages, []);
  assert.ok(inv.notes.some((n) => n.includes('npm 1')));
});

test('format errors: not JSON, neither CycloneDX nor SPDX, missing file', () => {
  throwsCode(() => parseSbom('{"bomFormat": ', 'x.json'), 'E_CONFIG_SYNTAX');
  throwsCode(() => parseSbom('{"hello": 1}', 'x.json'), 'E_UNSUPPORTED_FORMAT');
  throwsCode(() => parseSbom('[1, 2]', 'x.json'), 'E_UNSUPPORTED_FORMAT');
  throwsCode(() => readSbom(fx('does-not-exist.json')), 'E_NOT_FOUND');
});

test('limits: file size, component count, JSON depth, component nesting', () => {
  throwsCode(() => readSbom(fx('syft-alpine316.cdx.json'), { ...SBOM_LIMITS, maxBytes: 1000 }), 'E_LIMIT');
  // 3 library components and the operating-system component: 4 > 3.
  throwsCode(() => readSbom(fx('syft-alpine316.cdx.json'), { ...SBOM_LIMITS, maxComponents: 3 }), 'E_LIMIT');
  throwsCode(() => parseSbom('['.repeat(300) + ']'.repeat(300), 'deep.json'), 'E_LIMIT');
  // Components nested 10 deep, the innermost a deb package: beyond a nesting cap of 5 it is skipped with a note.
  let c: Record<string, unknown> = {
    type: 'library',
    name: 'inner',
    purl: 'pkg:deb/debian/inner@1.0-1?distro=debian-12',
  };
  for (let i = 0; i < 10; i++) c = { type: 'library', name: `level${i}`, components: [c] };
  const text = JSON.stringify({ bomFormat: 'CycloneDX', specVersion: '1.6', components: [c] });
  const shallow = only(parseSbom(text, 'nested.json', { ...SBOM_LIMITS, maxNesting: 5 }));
  assert.deepEqual(shallow.packages, []);
  assert.ok(shallow.notes.some((n) => n.includes('nested deeper than 5')));
  const deep = only(parseSbom(text, 'nested.json'));
  assert.deepEqual(
    deep.packages.map((p) => p.name),
    ['inner'],
  );
});

test('readSbom reads a file the same as parseSbom reads its text', () => {
  const { dir, cleanup } = tempDir();
  try {
    const p = join(dir, 'bom.json');
    const text = readFileSync(fx('trivy-centos7.cdx.json'), 'utf8');
    writeFileSync(p, '\uFEFF' + text);
    assert.deepEqual(
      readSbom(p).map((i) => i.packages.map((x) => x.version)),
      parseSbom(text, p).map((i) => i.packages.map((x) => x.version)),
    );
  } finally {
    cleanup();
  }
});

test('fuzz: random JSON and edited real documents never crash the reader', () => {
  const real = ['trivy-centos7.cdx.json', 'tanzu-debian12-two-os.spdx.json', 'syft-alpine316.cdx.json'].map(
    (f) => readFileSync(fx(f), 'utf8'),
  );
  fc.assert(
    fc.property(fc.jsonValue({ maxDepth: 6 }), (v) => {
      onlyHyperwardErrors(() => parseSbom(JSON.stringify(v), 'fuzz.json'));
    }),
    { numRuns: 300 },
  );
  const component = fc.record(
    {
      type: fc.oneof(fc.constant('operating-system'), fc.constant('library'), fc.string()),
      name: fc.oneof(fc.string(), fc.jsonValue({ maxDepth: 1 })),
      version: fc.oneof(fc.string(), fc.integer()),
      'bom-ref': fc.string(),
      purl: fc.oneof(
        fc.string(),
        fc
          .tuple(fc.constantFrom('deb', 'rpm', 'apk', 'alpine', 'npm'), fc.string(), fc.string(), fc.string())
          .map(([t, n, v, q]) => `pkg:${t}/ns/${n}@${v}?${q}`),
      ),
      properties: fc.array(
        fc.record({
          name: fc.constantFrom(
            'aquasecurity:trivy:SrcName',
            'aquasecurity:trivy:SrcEpoch',
            'syft:distro:id',
          ),
          value: fc.string(),
        }),
      ),
    },
    { requiredKeys: [] },
  );
  fc.assert(
    fc.property(
      fc.array(component, { maxLength: 8 }),
      fc.array(fc.record({ ref: fc.string(), dependsOn: fc.array(fc.string()) }, { requiredKeys: [] })),
      (components, dependencies) => {
        const text = JSON.stringify({ bomFormat: 'CycloneDX', specVersion: '1.5', components, dependencies });
        onlyHyperwardErrors(() => parseSbom(text, 'fuzz.cdx.json'));
      },
    ),
    { numRuns: 300 },
  );
  fc.assert(
    fc.property(
      fc.constantFrom(...real),
      fc.array(fc.tuple(fc.nat(), fc.string({ maxLength: 3 })), { minLength: 1, maxLength: 8 }),
      (text, edits) => {
        let t = text;
        for (const [at, s] of edits) {
          const i = at % t.length;
          t = t.slice(0, i) + s + t.slice(i + 1);
        }
        onlyHyperwardErrors(() => parseSbom(t, 'edited.json'));
      },
    ),
    { numRuns: 400 },
  );
});
