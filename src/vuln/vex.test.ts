import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { isHyperwardError } from '../errors.js';
import { fingerprint, type Finding } from '../model/finding.js';
import type { OsFamily, OsInfo, Package } from '../model/inventory.js';
import { packageUrl } from '../report/purl.js';
import { readSbom } from '../sbom/read.js';
import {
  applyVex,
  loadVex,
  parseProduct,
  parseVex,
  productMatches,
  VEX_LIMITS,
  type VexProduct,
} from './vex.js';
import { onlyHyperwardErrors } from '../../test/helpers/fuzz.js';

// Expected values below were read by hand from the fixture documents (see fixtures/vex/README.md).
const VEX = join(import.meta.dirname, '../../fixtures/vex');
const SBOM = join(import.meta.dirname, '../../fixtures/sbom');
const vx = (name: string): string => join(VEX, name);

function os(id: string, versionId: string, family: OsFamily): OsInfo {
  return { id, idLike: [], versionId, family, source: 'test' };
}

function deb(name: string, version: string, arch = 'amd64'): Package {
  return { ecosystem: 'deb', name, version, arch, sourceName: name, sourceVersion: version, source: 'test' };
}

/** A vulnerability finding for `pkg` on `system`, its purl written by Hyperward's own purl writer. */
function finding(vulnId: string, pkg: Package, system: OsInfo | undefined, aliases: string[] = []): Finding {
  const purl = packageUrl(pkg, system);
  return {
    id: fingerprint(vulnId, 'package', purl),
    checkId: vulnId,
    severity: 'high',
    status: 'fail',
    title: `${vulnId} in ${pkg.name}`,
    message: `${pkg.name} ${pkg.version} is vulnerable`,
    resource: { type: 'package', id: purl },
    vulnerability: {
      id: vulnId,
      aliases,
      advisories: [],
      package: { ...pkg, purl },
      matchedName: pkg.sourceName,
      installedVersion: pkg.version,
      fixState: 'not-fixed',
      cvss: [],
      severitySource: 'none',
    },
  };
}

function product(purl: string): VexProduct {
  const p = parseProduct(purl);
  assert.notEqual(typeof p, 'string', `${purl}: ${String(p)}`);
  return p as VexProduct;
}

test('OpenVEX 0.2.0 (Trivy docs): statement read, Debian finding suppressed, other versions untouched', () => {
  const path = vx('trivy-docs-debian11.openvex.json');
  const doc = loadVex(path);
  assert.equal(doc.format, 'openvex');
  assert.equal(doc.statements.length, 1);
  const st = doc.statements[0]!;
  assert.equal(st.vulnerability, 'CVE-2019-8457');
  assert.equal(st.status, 'not_affected');
  assert.equal(st.justification, 'vulnerable_code_not_in_execute_path');
  assert.equal(st.timestamp, Date.parse('2023-08-29T19:07:16.853479631-06:00')); // the document's timestamp
  assert.deepEqual(
    st.products.map((p) => p.purl),
    ['pkg:deb/debian/libdb5.3@5.3.28+dfsg1-0.8'],
  );

  const debian11 = os('debian', '11', 'debian');
  const hit = finding('CVE-2019-8457', deb('libdb5.3', '5.3.28+dfsg1-0.8'), debian11);
  const otherVersion = finding('CVE-2019-8457', deb('libdb5.3', '5.3.28+dfsg1-0.9'), debian11);
  const otherCve = finding('CVE-2019-9999', deb('libdb5.3', '5.3.28+dfsg1-0.8'), debian11);
  const viaAlias = finding('DEBIAN-CVE-2019-8457', deb('libdb5.3', '5.3.28+dfsg1-0.8'), debian11, [
    'cve-2019-8457',
  ]);
  const noVuln: Finding = { ...hit, vulnerability: undefined, status: 'fail' };
  const input = [hit, otherVersion, otherCve, viaAlias, noVuln];
  const out = applyVex(input, [doc]);
  assert.equal(out[0]!.status, 'suppressed');
  assert.deepEqual(out[0]!.vulnerability?.vex, {
    status: 'not_affected',
    justification: 'vulnerable_code_not_in_execute_path',
    document: path,
  });
  assert.equal(out[1], otherVersion);
  assert.equal(out[2], otherCve);
  assert.equal(out[3]!.status, 'suppressed');
  assert.equal(out[4], noVuln);
  assert.equal(hit.status, 'fail', 'the input is not changed');
  assert.equal(hit.vulnerability?.vex, undefined);
});

test('OpenVEX subcomponents with arch and distro qualifiers (grype): affected keeps the finding failing', () => {
  const doc = loadVex(vx('grype-affected.openvex.json'));
  const st = doc.statements[0]!;
  assert.equal(st.status, 'affected');
  // The product is the image; its subcomponent is the package.
  assert.deepEqual(
    st.products.map((p) => p.purl),
    ['pkg:apk/alpine/libvncserver@0.9.9?arch=x86_64&distro=alpine-3.12.0'],
  );
  const apk = (arch: string): Package => ({
    ecosystem: 'apk',
    name: 'libvncserver',
    version: '0.9.9',
    arch,
    sourceName: 'libvncserver',
    sourceVersion: '0.9.9',
    source: 'test',
  });
  const [same, otherArch, minorRelease, otherRelease] = applyVex(
    [
      finding('CVE-2024-0000', apk('x86_64'), os('alpine', '3.12.0', 'alpine')),
      finding('CVE-2024-0000', apk('aarch64'), os('alpine', '3.12.0', 'alpine')),
      finding('CVE-2024-0000', apk('x86_64'), os('alpine', '3.12', 'alpine')),
      finding('CVE-2024-0000', apk('x86_64'), os('alpine', '3.13.0', 'alpine')),
    ],
    [doc],
  );
  assert.equal(same!.status, 'fail');
  assert.equal(same!.vulnerability?.vex?.status, 'affected');
  assert.equal(otherArch!.vulnerability?.vex, undefined, 'arch=x86_64 in the VEX purl must match');
  assert.equal(
    minorRelease!.vulnerability?.vex?.status,
    'affected',
    'distro alpine-3.12 matches alpine-3.12.0',
  );
  assert.equal(otherRelease!.vulnerability?.vex, undefined);
});

test('several statements: the latest wins (Trivy openvex-multiple: document time beats an earlier statement)', () => {
  const doc = loadVex(vx('trivy-openvex-multiple.json'));
  assert.deepEqual(
    doc.statements.map((s) => [s.status, s.timestamp]),
    [
      ['affected', Date.parse('2023-01-15T01:02:03.853479631-06:00')],
      ['not_affected', Date.parse('2023-01-16T19:07:16.853479631-06:00')],
    ],
  );
  const maven: Finding = {
    ...finding('CVE-2021-44228', deb('x', '1'), undefined),
  };
  maven.vulnerability = {
    ...maven.vulnerability!,
    package: {
      ...maven.vulnerability!.package,
      purl: 'pkg:maven/org.springframework.boot/spring-boot@2.6.0',
    },
  };
  const [out] = applyVex([maven], [doc]);
  assert.equal(out!.status, 'suppressed');
  assert.equal(out!.vulnerability?.vex?.status, 'not_affected');
  // Reversed load order does not change it: time decides first.
  const reversed: typeof doc = { ...doc, statements: [...doc.statements].reverse() };
  assert.equal(applyVex([maven], [reversed])[0]!.vulnerability?.vex?.status, 'not_affected');
});

test('the OpenVEX draft shape (string vulnerability and products) is read', () => {
  const doc = loadVex(vx('trivy-openvex-legacy.json'));
  assert.deepEqual(
    doc.statements.map((s) => [s.vulnerability, s.status, s.products.map((p) => p.purl)]),
    [['CVE-2021-44228', 'not_affected', ['pkg:maven/org.springframework.boot/spring-boot@2.6.0']]],
  );
});

test('under_investigation (vexctl) is kept on the finding, which stays failing', () => {
  const doc = loadVex(vx('vexctl-v020-1.vex.json'));
  assert.equal(doc.statements[0]!.timestamp, Date.parse('2022-12-22T16:36:43-05:00'));
  const bash: Package = {
    ecosystem: 'apk',
    name: 'bash',
    version: '1.0.0',
    arch: 'x86_64',
    sourceName: 'bash',
    sourceVersion: '1.0.0',
    source: 'test',
  };
  const [out] = applyVex([finding('CVE-9876-54321', bash, os('wolfi', '20230201', 'unknown'))], [doc]);
  assert.equal(out!.status, 'fail');
  assert.deepEqual(out!.vulnerability?.vex, {
    status: 'under_investigation',
    document: vx('vexctl-v020-1.vex.json'),
  });
});

test('CycloneDX VEX with BOM-links (Trivy): Ubuntu libstdc++6 suppressed', () => {
  const doc = loadVex(vx('trivy-bomlink.cdx.json'));
  assert.equal(doc.format, 'cyclonedx');
  assert.deepEqual(
    doc.statements.map((s) => [
      s.vulnerability,
      s.status,
      s.justification,
      s.products.map((p) => [p.type, p.namespace, p.name, p.version]),
    ]),
    [
      [
        'CVE-2018-7489',
        'not_affected',
        'code_not_reachable',
        [['maven', 'com.fasterxml.jackson.core', 'jackson-databind', '2.8.0']],
      ],
      [
        'CVE-2022-27943',
        'not_affected',
        undefined,
        [['deb', 'ubuntu', 'libstdc++6', '12.3.0-1ubuntu1~22.04']],
      ],
    ],
  );
  const f = finding(
    'CVE-2022-27943',
    deb('libstdc++6', '12.3.0-1ubuntu1~22.04'),
    os('ubuntu', '22.04', 'debian'),
  );
  const [out] = applyVex([f], [doc]);
  assert.equal(out!.status, 'suppressed');
  assert.deepEqual(out!.vulnerability?.vex, {
    status: 'not_affected',
    document: vx('trivy-bomlink.cdx.json'),
  });
});

test('CycloneDX VEX whose refs name no package (CISA case 1, grype exploitable): read, noted, applies to nothing', () => {
  const cisa = loadVex(vx('cisa-case1-not_affected.cdx.json'));
  assert.equal(cisa.statements.length, 1);
  assert.equal(cisa.statements[0]!.justification, 'code_not_present');
  assert.equal(
    cisa.statements[0]!.statement,
    'This version of Product ABC is not affected by the vulnerability. Class with vulnerable code was removed before shipping.',
  );
  assert.deepEqual(cisa.statements[0]!.products, []);
  assert.ok(cisa.notes.some((n) => n.includes('"product-ABC"')));
  const grype = loadVex(vx('grype-affected.cdx.json'));
  assert.equal(grype.statements[0]!.status, 'affected');
  const f = finding('CVE-2021-44228', deb('liblog4j2-java', '2.17.1-1'), os('debian', '12', 'debian'));
  assert.equal(applyVex([f], [cisa, grype])[0], f);
});

test('BOM with embedded VEX: affects bom-refs resolve through the document components to their purls', () => {
  // The real syft SBOM, with a vulnerabilities array added naming two of its components by bom-ref.
  const bom = JSON.parse(readFileSync(join(SBOM, 'syft-distroless-debian11.cdx.json'), 'utf8')) as {
    components: Array<{ 'bom-ref': string; purl: string; name: string }>;
    vulnerabilities?: unknown;
  };
  const tz = bom.components.find((c) => c.name === 'tzdata')!;
  const base = bom.components.find((c) => c.name === 'base-files')!;
  bom.vulnerabilities = [
    {
      id: 'CVE-2000-0001',
      analysis: { state: 'resolved', detail: 'rebuilt' },
      affects: [{ ref: tz['bom-ref'] }],
    },
    {
      id: 'CVE-2000-0002',
      analysis: { state: 'false_positive' },
      affects: [{ ref: `urn:cdx:6a44e622-2983-4566-bf90-f87b6103ebaf/1#${base['bom-ref']}` }],
    },
    { id: 'CVE-2000-0003', analysis: { state: 'in_triage' }, affects: [{ ref: tz['bom-ref'] }] },
  ];
  const doc = parseVex(JSON.stringify(bom), 'embedded.cdx.json');
  assert.deepEqual(
    doc.statements.map((s) => [s.status, s.justification, s.products.map((p) => p.purl)]),
    [
      ['fixed', undefined, [tz.purl]],
      ['not_affected', 'false_positive', [base.purl]],
      ['under_investigation', undefined, [tz.purl]],
    ],
  );
  // Findings on the packages read from that same SBOM, their purls written by Hyperward.
  const inv = readSbom(join(SBOM, 'syft-distroless-debian11.cdx.json'))[0]!;
  const pk = (n: string): Package => inv.packages.find((p) => p.name === n)!;
  const out = applyVex(
    [
      finding('CVE-2000-0001', pk('tzdata'), inv.os),
      finding('CVE-2000-0002', pk('base-files'), inv.os),
      finding('CVE-2000-0003', pk('tzdata'), inv.os),
    ],
    [doc],
  );
  assert.deepEqual(
    out.map((f) => [f.status, f.vulnerability?.vex?.status, f.vulnerability?.vex?.statement]),
    [
      ['suppressed', 'fixed', 'rebuilt'],
      ['suppressed', 'not_affected', undefined],
      ['fail', 'under_investigation', undefined],
    ],
  );
});

test('epochs: a Trivy purl with ?epoch=1 matches the package Hyperward read from the same SBOM', () => {
  const inv = readSbom(join(SBOM, 'trivy-centos7.cdx.json'))[0]!;
  const ssl = inv.packages.find((p) => p.name === 'openssl-libs')!;
  const ours = product(packageUrl(ssl, inv.os));
  // The purl exactly as the Trivy SBOM wrote it.
  const trivy = product(
    'pkg:rpm/centos/openssl-libs@1.0.2k-16.el7?arch=x86_64&epoch=1&distro=centos-7.6.1810',
  );
  assert.equal(trivy.version, '1:1.0.2k-16.el7');
  assert.ok(productMatches(trivy, ours));
  assert.ok(
    !productMatches(product('pkg:rpm/centos/openssl-libs@1.0.2k-16.el7?arch=x86_64'), ours),
    'epoch 0 ≠ 1',
  );
  assert.ok(productMatches(product('pkg:rpm/centos/openssl-libs'), ours), 'no version: every version');
  assert.ok(
    productMatches(
      product('pkg:rpm/centos/openssl-libs@0:1.0-1'),
      product('pkg:rpm/centos/openssl-libs@1.0-1'),
    ),
  );
  assert.ok(!productMatches(product('pkg:rpm/redhat/openssl-libs'), ours), 'namespace must match');
});

test('errors: not JSON, not VEX, too many statements, missing file', () => {
  const code = (fn: () => unknown, c: string): void =>
    assert.throws(fn, (e: unknown) => isHyperwardError(e) && e.code === c);
  code(() => parseVex('{', 'x.json'), 'E_CONFIG_SYNTAX');
  code(() => parseVex('{"statements": []}', 'x.json'), 'E_UNSUPPORTED_FORMAT');
  code(() => parseVex('"openvex"', 'x.json'), 'E_UNSUPPORTED_FORMAT');
  code(() => loadVex(vx('nope.json')), 'E_NOT_FOUND');
  code(() => loadVex(vx('trivy-openvex-multiple.json'), { ...VEX_LIMITS, maxStatements: 1 }), 'E_LIMIT');
  code(() => loadVex(vx('trivy-openvex-multiple.json'), { ...VEX_LIMITS, maxBytes: 100 }), 'E_LIMIT');
});

test('fuzz: random JSON and VEX-shaped documents never crash loadVex beyond HyperwardError', () => {
  fc.assert(
    fc.property(fc.jsonValue({ maxDepth: 6 }), (v) => {
      onlyHyperwardErrors(() => parseVex(JSON.stringify(v), 'fuzz.json'));
    }),
    { numRuns: 300 },
  );
  const purl = fc.oneof(
    fc.string(),
    fc
      .tuple(fc.constantFrom('deb', 'rpm', 'apk', 'maven'), fc.string(), fc.string(), fc.string())
      .map(([t, n, v, q]) => `pkg:${t}/ns/${n}@${v}?${q}`),
  );
  const anything = fc.jsonValue({ maxDepth: 2 });
  const openvex = fc.record({
    '@context': fc.constant('https://openvex.dev/ns/v0.2.0'),
    timestamp: fc.oneof(fc.string(), anything),
    statements: fc.array(
      fc.record(
        {
          vulnerability: fc.oneof(
            fc.string(),
            fc.record({ name: fc.oneof(fc.string(), anything), aliases: fc.array(anything) }),
            anything,
          ),
          products: fc.array(
            fc.oneof(
              purl,
              fc.record(
                {
                  '@id': purl,
                  subcomponents: fc.array(fc.oneof(purl, fc.record({ '@id': purl }), anything)),
                },
                { requiredKeys: [] },
              ),
              anything,
            ),
          ),
          status: fc.oneof(
            fc.constantFrom('not_affected', 'affected', 'fixed', 'under_investigation'),
            anything,
          ),
          timestamp: fc.oneof(
            fc.string(),
            fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
          ),
        },
        { requiredKeys: [] },
      ),
    ),
  });
  const cdx = fc.record({
    bomFormat: fc.constant('CycloneDX'),
    components: fc.array(
      fc.record({ 'bom-ref': fc.string(), purl, components: anything }, { requiredKeys: [] }),
    ),
    vulnerabilities: fc.array(
      fc.record(
        {
          id: fc.oneof(fc.string(), anything),
          analysis: fc.record(
            {
              state: fc.oneof(
                fc.constantFrom('not_affected', 'resolved', 'exploitable', 'in_triage', 'false_positive'),
                anything,
              ),
            },
            { requiredKeys: [] },
          ),
          affects: fc.array(
            fc.oneof(
              fc.record({
                ref: fc.oneof(
                  purl,
                  fc.string().map((s) => `urn:cdx:x/1#${s}`),
                ),
              }),
              anything,
            ),
          ),
        },
        { requiredKeys: [] },
      ),
    ),
  });
  const someFinding = finding(
    'CVE-2019-8457',
    deb('libdb5.3', '5.3.28+dfsg1-0.8'),
    os('debian', '11', 'debian'),
  );
  fc.assert(
    fc.property(fc.oneof(openvex, cdx), (d) => {
      onlyHyperwardErrors(() => {
        const doc = parseVex(JSON.stringify(d), 'fuzz-vex.json');
        applyVex([someFinding], [doc]);
      });
    }),
    { numRuns: 400 },
  );
});
