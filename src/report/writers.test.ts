import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Spec, Validation } from '@cyclonedx/cyclonedx-library';
import type { ScanReport } from '../model/report.js';
import { loadWriter } from './index.js';
import { packageUrl } from './purl.js';
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
