import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Spec, Validation } from '@cyclonedx/cyclonedx-library';
import cvss from 'ae-cvss-calculator';
import { HOSTILE } from '../../test/helpers/assessment.js';
import type { ScanReport } from '../model/report.js';
import { loadWriter } from './index.js';
import { packageUrl } from './purl.js';
import { applianceReport } from './testdata/appliance-report.js';
import { vulnerabilityReport } from './testdata/vulnerability-report.js';
import { FORMATS } from './types.js';

const REPORT: ScanReport = {
  tool: { name: 'hyperward', version: '0.1.0' },
  createdAt: '2026-11-26T12:00:00.000Z',
  results: [
    {
      target: 'vm.qcow2',
      kind: 'image',
      image: {
        format: 'qcow2',
        subformat: 'v3',
        virtualSize: 1 << 30,
        files: ['vm.qcow2'],
        partitionScheme: 'gpt',
        partitions: [],
        filesystems: [{ partition: 1, type: 'ext4', mountpoint: '/', root: true }],
      },
      os: {
        id: 'debian',
        idLike: [],
        versionId: '12',
        prettyName: 'Debian GNU/Linux 12 (bookworm)',
        family: 'debian',
        source: '/etc/os-release',
      },
      hostname: 'vm1',
      packages: [
        {
          ecosystem: 'deb',
          name: 'libssl3',
          version: '3.0.15-1~deb12u1',
          arch: 'amd64',
          sourceName: 'openssl',
          sourceVersion: '3.0.15-1~deb12u1',
          source: 's',
        },
        {
          ecosystem: 'deb',
          name: 'bsdutils',
          version: '1:2.38.1-5+deb12u3',
          arch: 'amd64',
          sourceName: 'util-linux',
          sourceVersion: '2.38.1-5',
          source: 's',
        },
        {
          ecosystem: 'deb',
          name: 'tzdata',
          version: '2024a-0+deb12u1',
          arch: 'all',
          sourceName: 'tzdata',
          sourceVersion: '2024a-0+deb12u1',
          source: 's',
        },
      ],
      findings: [],
    },
  ],
};

test('purl: Debian packages as Trivy and syft write them', () => {
  const [ssl, bsd, tz] = REPORT.results[0]!.packages;
  const os = REPORT.results[0]!.os;
  assert.equal(
    packageUrl(ssl!, os),
    'pkg:deb/debian/libssl3@3.0.15-1~deb12u1?arch=amd64&distro=debian-12&upstream=openssl',
  );
  assert.equal(
    packageUrl(bsd!, os),
    'pkg:deb/debian/bsdutils@1:2.38.1-5+deb12u3?arch=amd64&distro=debian-12&upstream=util-linux%402.38.1-5',
  );
  assert.equal(packageUrl(tz!, os), 'pkg:deb/debian/tzdata@2024a-0+deb12u1?arch=all&distro=debian-12');
});

test('CycloneDX output is valid CycloneDX 1.6 (official schema) and lists every package', async () => {
  const text = (await loadWriter('cyclonedx')).write(REPORT);
  const errors = await new Validation.JsonStrictValidator(Spec.Version.v1dot6).validate(text);
  assert.equal(errors, null, JSON.stringify(errors));
  const bom = JSON.parse(text) as {
    specVersion: string;
    components: Array<{ type: string; purl?: string; name: string }>;
  };
  assert.equal(bom.specVersion, '1.6');
  const libs = bom.components.filter((c) => c.type === 'library').map((c) => c.purl);
  assert.equal(libs.length, 3);
  assert.ok(libs.includes(packageUrl(REPORT.results[0]!.packages[0]!, REPORT.results[0]!.os)));
  assert.ok(bom.components.some((c) => c.type === 'operating-system' && c.name === 'debian'));
});

test('SPDX output: 2.3 document whose packages and relationships all resolve', async () => {
  const doc = JSON.parse((await loadWriter('spdx')).write(REPORT)) as {
    spdxVersion: string;
    packages: Array<{ SPDXID: string; name: string; externalRefs?: Array<{ referenceLocator: string }> }>;
    relationships: Array<{ spdxElementId: string; relatedSpdxElement: string }>;
  };
  assert.equal(doc.spdxVersion, 'SPDX-2.3');
  const ids = new Set(doc.packages.map((p) => p.SPDXID));
  assert.equal(ids.size, doc.packages.length, 'SPDX ids are unique');
  for (const id of ids) assert.match(id, /^SPDXRef-[A-Za-z0-9.-]+$/);
  for (const r of doc.relationships) {
    assert.ok(r.spdxElementId === 'SPDXRef-DOCUMENT' || ids.has(r.spdxElementId));
    assert.ok(ids.has(r.relatedSpdxElement));
  }
  assert.equal(
    doc.packages.filter((p) => p.externalRefs?.[0]?.referenceLocator.startsWith('pkg:deb/')).length,
    3,
  );
});

test('every format renders a report with an unreadable target', async () => {
  const bad: ScanReport = {
    ...REPORT,
    results: [
      {
        target: 'x.vmdk',
        kind: 'image',
        error: { code: 'E_IMAGE_CORRUPT', message: 'boom' },
        packages: [],
        findings: [],
      },
    ],
  };
  for (const f of FORMATS) {
    const text = (await loadWriter(f)).write(bad);
    assert.ok(text.length > 0, f);
  }
  assert.match((await loadWriter('table')).write(bad), /boom/);
});

test('purl: hostile package names with lone surrogates do not crash the writers', () => {
  const os = REPORT.results[0]!.os;
  const pkg = { ...REPORT.results[0]!.packages[0]!, name: 'bad\uD800name', version: '1\uDC00' };
  assert.equal(
    packageUrl(pkg, os),
    'pkg:deb/debian/bad%EF%BF%BDname@1%EF%BF%BD?arch=amd64&distro=debian-12&upstream=openssl%403.0.15-1%7Edeb12u1',
  );
});

/** A CVSS base score computed from its vector by the calculator, independently of the report's own numbers. */
function baseScore(version: string, vector: string): number {
  const calc =
    version === '2.0'
      ? new cvss.Cvss2(vector)
      : version === '3.0'
        ? new cvss.Cvss3P0(vector)
        : version === '3.1'
          ? new cvss.Cvss3P1(vector)
          : new cvss.Cvss4P0(vector);
  return Number(calc.calculateScores().base);
}

interface CdxVuln {
  'bom-ref': string;
  id: string;
  source?: { name?: string; url?: string };
  references?: Array<{ id: string; source: { name?: string; url?: string } }>;
  ratings?: Array<{
    method?: string;
    score?: number;
    vector?: string;
    severity?: string;
    source?: { name?: string };
  }>;
  description?: string;
  recommendation?: string;
  published?: string;
  updated?: string;
  analysis?: { state?: string; justification?: string; detail?: string };
  affects: Array<{ ref: string; versions?: Array<{ version: string; status?: string }> }>;
}
interface CdxBom {
  components: Array<{ 'bom-ref': string; type: string; name: string; purl?: string; version?: string }>;
  vulnerabilities?: CdxVuln[];
}

test('CycloneDX with vulnerabilities is valid CycloneDX 1.6 (official schema), hostile strings included', async () => {
  const writer = await loadWriter('cyclonedx');
  const validator = new Validation.JsonStrictValidator(Spec.Version.v1dot6);
  for (const report of [vulnerabilityReport(), vulnerabilityReport({ hostile: HOSTILE })]) {
    const text = writer.write(report);
    assert.equal(await validator.validate(text), null);
    const bom = JSON.parse(text) as CdxBom;
    const refs = new Set(bom.components.map((c) => c['bom-ref']));
    for (const v of bom.vulnerabilities ?? []) for (const a of v.affects) assert.ok(refs.has(a.ref), a.ref);
  }
  // The validator does check the vulnerabilities: an unknown rating method is refused.
  const bom = JSON.parse(writer.write(vulnerabilityReport())) as CdxBom;
  bom.vulnerabilities![0]!.ratings![0]!.method = 'CVSSv5';
  assert.notEqual(await validator.validate(JSON.stringify(bom)), null);
});

test('CycloneDX vulnerabilities: one per id, affects the component of the package in each target, ratings, VEX', async () => {
  const report = vulnerabilityReport();
  const bom = JSON.parse((await loadWriter('cyclonedx')).write(report)) as CdxBom;
  const vulns = new Map((bom.vulnerabilities ?? []).map((v) => [v.id, v]));
  const inputIds = new Set(
    report.results.flatMap((r) => r.findings.filter((f) => f.vulnerability).map((f) => f.vulnerability!.id)),
  );
  assert.deepEqual(new Set(vulns.keys()), inputIds);
  assert.equal(bom.vulnerabilities!.length, inputIds.size, 'one entry per vulnerability id');
  const component = (ref: string) => bom.components.find((c) => c['bom-ref'] === ref)!;

  // CVE-2024-5535 is on libssl3 in both targets: two affects, each the component of that target.
  const ssl = vulns.get('CVE-2024-5535')!;
  const sslPkg = report.results[0]!.packages.find((p) => p.name === 'libssl3')!;
  assert.deepEqual(
    ssl.affects.map((a) => a.ref).sort(),
    [0, 1].map((i) => `${packageUrl(sslPkg, report.results[i]!.os)}#${i}`),
  );
  for (const a of ssl.affects) {
    assert.equal(component(a.ref).purl, packageUrl(sslPkg, report.results[0]!.os));
    assert.deepEqual(a.versions, [{ version: '3.0.11-1~deb12u2', status: 'affected' }]);
  }
  assert.deepEqual(ssl.ratings!.map((r) => [r.method, r.score, r.severity]).sort(), [
    ['CVSSv31', baseScore('3.1', 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:H'), 'critical'],
    ['CVSSv4', baseScore('4.0', 'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:N/VA:H/SC:N/SI:N/SA:N'), 'high'],
  ]);
  assert.deepEqual(ssl.source, {
    name: 'Debian Security Tracker',
    url: 'https://security-tracker.debian.org/tracker/CVE-2024-5535',
  });
  assert.deepEqual(
    ssl.references!.map((r) => [r.id, r.source.url]),
    [
      ['DSA-5000-1', 'https://security-tracker.debian.org/tracker/DSA-5000-1'],
      ['GHSA-4vq4-pq6g-x7w5', 'https://github.com/advisories/GHSA-4vq4-pq6g-x7w5'],
    ],
  );
  assert.equal(ssl.recommendation, 'Upgrade libssl3 to 3.0.15-1~deb12u1');
  assert.equal(ssl.published, '2024-06-27T11:15:24.000Z');
  assert.equal(ssl.updated, '2024-08-01T13:59:00.000Z');
  assert.equal(ssl.analysis, undefined);

  // No fix yet: no recommendation; the distro's rating as method `other` with its source.
  const ncurses = vulns.get('CVE-2023-50495')!;
  assert.equal(ncurses.recommendation, undefined);
  assert.ok(ncurses.ratings!.some((r) => r.method === 'other' && r.source?.name === 'debian'));
  const utilLinux = vulns.get('CVE-2022-0563')!;
  assert.deepEqual(
    utilLinux
      .ratings!.filter((r) => r.method !== 'other')
      .map((r) => [r.method, r.score])
      .sort(),
    [
      ['CVSSv2', baseScore('2.0', 'AV:L/AC:M/Au:N/C:P/I:N/A:N')],
      ['CVSSv31', baseScore('3.1', 'CVSS:3.1/AV:L/AC:H/PR:L/UI:N/S:U/C:H/I:N/A:N')],
    ],
  );

  // Suppressed by VEX: analysis not_affected, the OpenVEX justification in CycloneDX's terms, the statement.
  const glibc = vulns.get('CVE-2024-2961')!;
  assert.equal(glibc.analysis?.state, 'not_affected');
  assert.equal(glibc.analysis?.justification, 'code_not_reachable');
  assert.match(glibc.analysis!.detail!, /ISO-2022-CN-EXT/);
  assert.match(glibc.analysis!.detail!, /vex\/vm1\.openvex\.json/);
  assert.deepEqual(glibc.affects[0]!.versions, [{ version: '2.36-9+deb12u4', status: 'unaffected' }]);
});

test('CycloneDX: a vulnerable package the inventory does not list still has a component to point at', async () => {
  const report = vulnerabilityReport();
  report.results[1]!.packages = [];
  const text = (await loadWriter('cyclonedx')).write(report);
  assert.equal(await new Validation.JsonStrictValidator(Spec.Version.v1dot6).validate(text), null);
  const bom = JSON.parse(text) as CdxBom;
  const ssl = bom.vulnerabilities!.find((v) => v.id === 'CVE-2024-5535')!;
  const host = ssl.affects.find((a) => a.ref.endsWith('#1'))!;
  const c = bom.components.find((x) => x['bom-ref'] === host.ref)!;
  assert.equal(c.name, 'libssl3');
  assert.equal(c.version, '3.0.11-1~deb12u2');
});

/** SPDX 2.3 Annex F.2: the reference types of the SECURITY category; advisory, fix and url take a URL. */
const SPDX_SECURITY_TYPES = new Set(['cpe22Type', 'cpe23Type', 'advisory', 'fix', 'url', 'swid']);
/** SPDX 2.3 JSON schema, `externalRefs` items: these properties and no others. */
const SPDX_EXTERNAL_REF_KEYS = new Set(['referenceCategory', 'referenceType', 'referenceLocator', 'comment']);

test('SPDX: each vulnerable package has SECURITY advisory references (Annex F), suppressed ones say so', async () => {
  const report = vulnerabilityReport();
  for (const r of [report, vulnerabilityReport({ hostile: HOSTILE })]) {
    const doc = JSON.parse((await loadWriter('spdx')).write(r)) as {
      packages: Array<{ SPDXID: string; name: string; externalRefs?: Array<Record<string, string>> }>;
      relationships: Array<{ spdxElementId: string; relatedSpdxElement: string }>;
    };
    const ids = new Set(doc.packages.map((p) => p.SPDXID));
    assert.equal(ids.size, doc.packages.length);
    for (const rel of doc.relationships) assert.ok(ids.has(rel.relatedSpdxElement));
    for (const p of doc.packages) {
      for (const ref of p.externalRefs ?? []) {
        for (const k of Object.keys(ref)) assert.ok(SPDX_EXTERNAL_REF_KEYS.has(k), k);
        assert.ok(['SECURITY', 'PACKAGE-MANAGER'].includes(ref.referenceCategory!));
        if (ref.referenceCategory === 'SECURITY') {
          assert.ok(SPDX_SECURITY_TYPES.has(ref.referenceType!));
          if (['advisory', 'fix', 'url'].includes(ref.referenceType!))
            assert.match(new URL(ref.referenceLocator!).protocol, /^https?:$/);
        }
      }
    }
  }
  const doc = JSON.parse((await loadWriter('spdx')).write(report)) as {
    packages: Array<{ SPDXID: string; name: string; externalRefs?: Array<Record<string, string>> }>;
  };
  const advisories = (name: string, target: number) =>
    doc.packages
      .filter((p) => p.name === name && p.SPDXID.startsWith(`SPDXRef-Package-${target}-`))
      .flatMap((p) => p.externalRefs ?? [])
      .filter((x) => x.referenceCategory === 'SECURITY');
  for (const t of [0, 1]) {
    const ssl = advisories('libssl3', t);
    // Annex F.2.3's own example locator form: https://nvd.nist.gov/vuln/detail/CVE-2020-28498.
    assert.ok(
      ssl.some(
        (x) =>
          x.referenceType === 'advisory' &&
          x.referenceLocator === 'https://nvd.nist.gov/vuln/detail/CVE-2024-5535',
      ),
    );
    assert.ok(
      ssl.every((x) => x.comment!.includes('3.0.11-1~deb12u2') && x.comment!.includes('3.0.15-1~deb12u1')),
    );
  }
  const glibc = advisories('libc6', 0);
  assert.ok(glibc.length > 0 && glibc.every((x) => /suppressed, VEX not_affected/.test(x.comment!)));
  assert.equal(advisories('libc6', 1).length, 0, 'the host has libc6 but no finding on it');
  assert.equal(advisories('tzdata', 0).length, 0);
});

test('table: a Vulnerabilities section per target after the checks, most severe first, with the summary line', async () => {
  const text = (await loadWriter('table')).write(vulnerabilityReport());
  const [image, host] = text.split('\n\nssh://');
  const rows = (section: string) => {
    const lines = section!.split('\n');
    const head = lines.findIndex((l) => l.startsWith('SEVERITY  ID'));
    return lines.slice(head + 1).filter((l) => /^[A-Z]+ {2}/.test(l));
  };
  assert.match(
    image!,
    /\nVulnerabilities\n-+\n3 vulnerabilities \(1 critical, 0 high, 1 medium, 1 low, 0 info\), 1 fixable, 1 suppressed\n/,
  );
  assert.deepEqual(
    rows(image!).map((l) => l.split(/\s{2,}/).slice(0, 5)),
    [
      ['CRITICAL', 'CVE-2024-5535', 'libssl3', '3.0.11-1~deb12u2', '3.0.15-1~deb12u1'],
      ['HIGH', 'CVE-2024-2961', 'libc6', '2.36-9+deb12u4', '2.36-9+deb12u7'],
      ['MEDIUM', 'CVE-2023-50495', 'libtinfo6', '6.4-4', 'no fix yet'],
      ['LOW', 'CVE-2022-0563', 'bsdutils', '1:2.38.1-5+deb12u3', "won't fix"],
    ],
  );
  assert.match(rows(image!)[1]!, /SUPPRESSED: not_affected \(vulnerable_code_not_in_execute_path\)/);
  // The host: its configuration finding first, then its vulnerabilities.
  assert.ok(host!.indexOf('Findings: 1 failed') < host!.indexOf('Vulnerabilities'));
  assert.match(
    host!,
    /1 vulnerability \(1 critical, 0 high, 0 medium, 0 low, 0 info\), 1 fixable, 0 suppressed/,
  );
  assert.doesNotMatch(
    host!.slice(0, host!.indexOf('Vulnerabilities')),
    /CVE-2024-5535/,
    'vulnerabilities are not listed among the configuration findings',
  );
});

test('every format renders vulnerability reports, hostile ones too', async () => {
  for (const report of [vulnerabilityReport(), vulnerabilityReport({ hostile: HOSTILE })]) {
    for (const f of FORMATS) {
      const text = (await loadWriter(f)).write(report);
      assert.ok(text.endsWith('\n'), f);
      if (['json', 'cyclonedx', 'spdx', 'sarif', 'ocsf'].includes(f)) JSON.parse(text);
    }
  }
  const json = JSON.parse((await loadWriter('json')).write(vulnerabilityReport())) as ScanReport;
  assert.deepEqual(
    json,
    vulnerabilityReport(),
    'JSON keeps the findings with their vulnerability as they are',
  );
});

interface CdxComponent {
  'bom-ref': string;
  type: string;
  name: string;
  version?: string;
  cpe?: string;
  purl?: string;
  supplier?: { name?: string; url?: string[] };
  externalReferences?: Array<{ type: string; url: string }>;
  properties?: Array<{ name: string; value: string }>;
}

test('CycloneDX: an appliance is the metadata component (application, product, version, CPE, supplier), valid 1.6', async () => {
  const writer = await loadWriter('cyclonedx');
  const validator = new Validation.JsonStrictValidator(Spec.Version.v1dot6);
  const report = applianceReport();
  const text = writer.write(report);
  assert.equal(await validator.validate(text), null);
  const bom = JSON.parse(text) as {
    metadata: { component: CdxComponent };
    components: CdxComponent[];
    dependencies: Array<{ ref: string; dependsOn?: string[] }>;
  };
  const a = report.results[0]!.appliance!;
  const c = bom.metadata.component;
  assert.equal(c.type, 'application');
  assert.equal(c.name, a.product);
  assert.equal(c.version, a.version);
  assert.equal(c.cpe, a.cpes[0]!.cpe);
  assert.deepEqual(c.supplier, { name: a.vendor, url: [a.vendorUrl] });
  assert.deepEqual(c.externalReferences, [{ type: 'website', url: a.productUrl }]);
  const props = (name: string) => (c.properties ?? []).filter((p) => p.name === name).map((p) => p.value);
  assert.deepEqual(props('hyperward:target'), [report.results[0]!.target]);
  assert.deepEqual(props('hyperward:appliance:cpe:high'), [a.cpes[0]!.cpe]);
  assert.deepEqual(props('hyperward:appliance:cpe:medium'), [a.cpes[1]!.cpe]);
  assert.deepEqual(props('hyperward:appliance:signature'), ['valid']);
  assert.match(
    props('hyperward:appliance:integrity')[0]!,
    /manifest verified \(SHA256\); signed by CN=Example \(self-signed\)/,
  );
  assert.deepEqual(props('hyperward:appliance:disk'), [
    'data data.vmdk 16777216',
    'disk1 disk1.vmdk 402653184 os',
  ]);
  // The OS and its packages hang under the appliance as they do under an image.
  const os = bom.components.find((x) => x.type === 'operating-system')!;
  assert.equal(os.name, 'debian');
  assert.ok(bom.dependencies.find((d) => d.ref === c['bom-ref'])!.dependsOn!.includes(os['bom-ref']));
  const libs = bom.components.filter((x) => x.type === 'library').map((x) => x.name);
  assert.deepEqual(libs.sort(), ['libssl3', 'tzdata']);
});

test('CycloneDX: hostile appliance strings stay valid (bad URLs and CPEs left out, text kept)', async () => {
  const validator = new Validation.JsonStrictValidator(Spec.Version.v1dot6);
  const report = applianceReport({ hostile: HOSTILE });
  const text = (await loadWriter('cyclonedx')).write(report);
  assert.equal(await validator.validate(text), null);
  const c = (JSON.parse(text) as { metadata: { component: CdxComponent } }).metadata.component;
  const a = report.results[0]!.appliance!;
  assert.equal(c.cpe, a.cpes[0]!.cpe, 'an escaped CPE is well-formed and kept');
  assert.equal(c.externalReferences, undefined, 'a javascript: product URL is not a website');
  assert.deepEqual(c.supplier, { name: a.vendor }, 'an unparsable vendor URL is left out');
  assert.ok(
    c.properties!.some((p) => p.name === 'hyperward:appliance:cpe:low' && p.value === a.cpes[1]!.cpe),
  );
});

test('SPDX: an appliance is an APPLICATION package with its CPE candidates as cpe23Type references', async () => {
  const report = applianceReport();
  const doc = JSON.parse((await loadWriter('spdx')).write(report)) as {
    packages: Array<{
      SPDXID: string;
      name: string;
      versionInfo?: string;
      supplier?: string;
      homepage?: string;
      packageFileName?: string;
      primaryPackagePurpose?: string;
      comment?: string;
      externalRefs?: Array<Record<string, string>>;
    }>;
    relationships: Array<{ spdxElementId: string; relationshipType: string; relatedSpdxElement: string }>;
  };
  const a = report.results[0]!.appliance!;
  const top = doc.packages.find((p) => p.SPDXID === 'SPDXRef-Target-0')!;
  assert.equal(top.name, a.product);
  assert.equal(top.versionInfo, a.version);
  assert.equal(top.primaryPackagePurpose, 'APPLICATION');
  assert.equal(top.supplier, `Organization: ${a.vendor}`);
  assert.equal(top.homepage, a.productUrl);
  assert.equal(top.packageFileName, report.results[0]!.target);
  assert.match(top.comment!, /OVA appliance .*manifest verified/);
  assert.deepEqual(
    top.externalRefs!.map((r) => [r.referenceCategory, r.referenceType, r.referenceLocator]),
    a.cpes.map((c) => ['SECURITY', 'cpe23Type', c.cpe]),
  );
  assert.ok(
    doc.relationships.some(
      (r) => r.spdxElementId === 'SPDXRef-Target-0' && r.relatedSpdxElement === 'SPDXRef-OperatingSystem-0',
    ),
  );
  assert.equal(doc.packages.filter((p) => p.primaryPackagePurpose === 'LIBRARY').length, 2);
  // Hostile: no javascript: homepage.
  const hostile = JSON.parse((await loadWriter('spdx')).write(applianceReport({ hostile: HOSTILE }))) as {
    packages: Array<{ SPDXID: string; homepage?: string }>;
  };
  assert.equal(hostile.packages.find((p) => p.SPDXID === 'SPDXRef-Target-0')!.homepage, undefined);
});

test('table: an appliance shows its product, integrity, best CPE and disks briefly', async () => {
  const text = (await loadWriter('table')).write(applianceReport());
  const lines = text.split('\n');
  assert.match(lines[0]!, /gateway\.ova \(OVA appliance; vmdk streamOptimized, 384 MiB, gpt\)$/);
  const fact = (k: string) => lines.find((l) => l.startsWith(`${k}:`))?.replace(/^[^:]+:\s+/, '');
  assert.equal(fact('Appliance'), 'Example Gateway 7.2.4 (Example Networks, Inc.)');
  assert.equal(fact('Integrity'), 'manifest verified (SHA256); signed by CN=Example (self-signed)');
  assert.equal(
    fact('CPE'),
    'cpe:2.3:a:example_networks:example_gateway:7.2.4:*:*:*:*:*:*:* (high confidence, 1 more candidate(s))',
  );
  assert.equal(fact('Disks'), 'disk1 (OS), data (unreadable)');
  assert.equal(fact('OS'), 'Debian GNU/Linux 12 (bookworm)');
  // Hostile text cannot reach the terminal as control characters.
  const hostile = (await loadWriter('table')).write(applianceReport({ hostile: HOSTILE }));
  const factLines = hostile.split('\n').filter((l) => /^(Appliance|Integrity|CPE|Disks):/.test(l));
  assert.equal(factLines.length, 4);
  // eslint-disable-next-line no-control-regex
  for (const l of factLines) assert.doesNotMatch(l, /[\u0000-\u001f\u007f]/);
});

test('every format renders appliance reports, hostile ones too; JSON keeps the appliance as it is', async () => {
  for (const report of [applianceReport(), applianceReport({ hostile: HOSTILE })]) {
    for (const f of FORMATS) {
      const text = (await loadWriter(f)).write(report);
      assert.ok(text.endsWith('\n'), f);
      if (['json', 'cyclonedx', 'spdx', 'sarif', 'ocsf'].includes(f)) JSON.parse(text);
    }
  }
  const json = JSON.parse((await loadWriter('json')).write(applianceReport())) as ScanReport;
  assert.deepEqual(json, applianceReport());
});
