import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { run, tempDir } from '../../test/helpers/tmp.js';
import { fingerprint } from '../model/finding.js';
import type { Finding } from '../model/finding.js';
import type { OsInfo, Package, SystemInventory } from '../model/inventory.js';
import { parseDpkgStatus } from '../inspect/dpkg.js';
import { detectOs } from '../inspect/os-release.js';
import { packageUrl } from '../report/purl.js';
import { isModularRelease, matchInventory, normalizeArch, vulnerabilityIds } from './match.js';
import { parseOsvRecord } from './import/osv.js';
import { MemoryAdvisoryIndex } from './memory-index.js';
import type { Advisory, AffectedPackage, RangeEvent } from './types.js';

const DEBIAN_12: OsInfo = {
  id: 'debian',
  idLike: [],
  versionId: '12',
  family: 'debian',
  source: '/etc/os-release',
};
const RHEL_9: OsInfo = {
  id: 'rhel',
  idLike: ['fedora'],
  versionId: '9.4',
  family: 'rhel',
  source: '/etc/os-release',
};

function deb(
  name: string,
  version: string,
  arch = 'amd64',
  sourceName = name,
  sourceVersion = version,
): Package {
  return { ecosystem: 'deb', name, version, arch, sourceName, sourceVersion, source: '/var/lib/dpkg/status' };
}

function rpm(name: string, evr: string, arch = 'x86_64'): Package {
  return {
    ecosystem: 'rpm',
    name,
    version: evr,
    arch,
    sourceName: name,
    sourceVersion: evr,
    source: 'rpmdb',
  };
}

function affected(
  distro: string,
  pkg: string,
  ranges: RangeEvent[][],
  extra: Partial<AffectedPackage> = {},
): AffectedPackage {
  const scheme = distro.startsWith('rhel') ? 'rpm' : distro.startsWith('alpine') ? 'apk' : 'deb';
  const ecosystem =
    distro === 'debian:12'
      ? 'Debian:12'
      : distro === 'rhel:9'
        ? 'Red Hat:enterprise_linux:9::appstream'
        : distro;
  return { ecosystem, distro, scheme, package: pkg, ranges, versions: [], ...extra };
}

function advisory(id: string, aff: AffectedPackage[], extra: Partial<Advisory> = {}): Advisory {
  return {
    key: `osv:${id}`,
    id,
    origin: 'osv',
    aliases: [],
    upstream: [],
    related: [],
    modified: '2024-01-01T00:00:00Z',
    severity: [],
    references: [],
    affected: aff,
    ...extra,
  };
}

const fixedIn = (v: string): RangeEvent[][] => [[{ introduced: '0' }, { fixed: v }]];
const unfixed: RangeEvent[][] = [[{ introduced: '0' }]];

function match(
  inv: SystemInventory,
  advs: Advisory[],
  target?: string,
): { findings: Finding[]; notes: string[] } {
  return matchInventory(inv, new MemoryAdvisoryIndex(advs), target === undefined ? {} : { target });
}

const ids = (fs: Finding[]): string[] => fs.map((f) => `${f.checkId} ${f.resource.id}`).sort();

describe('vulnerability ids of a record', () => {
  it('its CVE id; else each CVE alias; else an embedded CVE; else its own id', () => {
    assert.deepEqual(vulnerabilityIds({ id: 'CVE-2024-0001', aliases: ['GHSA-x'] }), ['CVE-2024-0001']);
    assert.deepEqual(
      vulnerabilityIds({ id: 'RHSA-2024:1', aliases: ['CVE-2024-0001', 'CVE-2024-0002', 'CVE-2024-0001'] }),
      ['CVE-2024-0001', 'CVE-2024-0002'],
    );
    assert.deepEqual(vulnerabilityIds({ id: 'DEBIAN-CVE-2024-12345', aliases: [] }), ['CVE-2024-12345']);
    assert.deepEqual(vulnerabilityIds({ id: 'DSA-5532-1', aliases: [] }), ['DSA-5532-1']);
  });

  it('a USN names its CVEs through the UBUNTU-CVE records it lists as upstream (real records)', () => {
    // fixtures/advisories/osv/ubuntu/USN-6409-1.json: "upstream": ["UBUNTU-CVE-2023-4527", "UBUNTU-CVE-2023-4911"]
    assert.deepEqual(
      vulnerabilityIds({
        id: 'USN-6409-1',
        aliases: [],
        upstream: ['UBUNTU-CVE-2023-4527', 'UBUNTU-CVE-2023-4911'],
        related: [],
      }),
      ['CVE-2023-4527', 'CVE-2023-4911'],
    );
    // Records from before OSV had `upstream` name their CVEs under `related`; aliases and upstream come first.
    assert.deepEqual(vulnerabilityIds({ id: 'ALSA-2024:1', aliases: [], related: ['CVE-2024-0009'] }), [
      'CVE-2024-0009',
    ]);
    assert.deepEqual(
      vulnerabilityIds({ id: 'X-1', aliases: ['CVE-2024-0001'], related: ['CVE-2024-0009'] }),
      ['CVE-2024-0001'],
    );
  });
});

describe('real Ubuntu records: a USN and the UBUNTU-CVE record of one of its CVEs', () => {
  // fixtures/advisories/osv/ubuntu: USN-5811-1 (sudo, fixed in 1.9.9-1ubuntu2.2 on 22.04, upstream
  // UBUNTU-CVE-2022-33070 and UBUNTU-CVE-2023-22809) and UBUNTU-CVE-2023-22809 (same fix on 22.04).
  const load = (name: string): Advisory => {
    const path = new URL(`../../fixtures/advisories/osv/ubuntu/${name}.json`, import.meta.url);
    const r = parseOsvRecord(JSON.parse(readFileSync(path, 'utf8')), name);
    assert.ok(r.advisory, name);
    return r.advisory;
  };
  const index = new MemoryAdvisoryIndex([load('USN-5811-1'), load('UBUNTU-CVE-2023-22809')]);
  const ubuntu = (version: string): SystemInventory => ({
    os: { id: 'ubuntu', idLike: ['debian'], versionId: '22.04', family: 'debian', source: '/etc/os-release' },
    packages: [
      {
        ecosystem: 'deb',
        name: 'sudo',
        version,
        arch: 'amd64',
        sourceName: 'sudo',
        sourceVersion: version,
        source: '/var/lib/dpkg/status',
      },
    ],
  });

  it('reports each CVE once, the shared one with both records, and nothing once the fix is installed', () => {
    const { findings } = matchInventory(ubuntu('1.9.9-1ubuntu2.1'), index);
    assert.deepEqual(findings.map((f) => f.checkId).sort(), ['CVE-2022-33070', 'CVE-2023-22809']);
    const shared = findings.find((f) => f.checkId === 'CVE-2023-22809')!;
    assert.deepEqual(shared.vulnerability!.advisories.map((a) => a.id).sort(), [
      'UBUNTU-CVE-2023-22809',
      'USN-5811-1',
    ]);
    assert.equal(shared.vulnerability!.fixedVersion, '1.9.9-1ubuntu2.2');
    assert.deepEqual(matchInventory(ubuntu('1.9.9-1ubuntu2.2'), index).findings, []);
  });
});

describe('a real AlmaLinux module advisory (ALSA-2023:3822, virt:rhel)', () => {
  // fixtures/advisories/osv/almalinux/ALSA-2023_3822.json: libvirt on AlmaLinux:8 fixed in
  // 8.0.0-19.2.module_el8.8.0+3585+76b9c397.alma; the CVE is named under `related`; the summary says Moderate.
  const path = new URL('../../fixtures/advisories/osv/almalinux/ALSA-2023_3822.json', import.meta.url);
  const parsed = parseOsvRecord(JSON.parse(readFileSync(path, 'utf8')), 'ALSA-2023_3822.json');
  const index = new MemoryAdvisoryIndex([parsed.advisory!]);
  const alma = (version: string): SystemInventory => ({
    os: { id: 'almalinux', idLike: ['rhel'], versionId: '8.8', family: 'rhel', source: '/etc/os-release' },
    packages: [
      {
        ecosystem: 'rpm',
        name: 'libvirt',
        version,
        arch: 'x86_64',
        sourceName: 'libvirt',
        sourceVersion: version,
        source: '/var/lib/rpm/rpmdb.sqlite',
      },
    ],
  });

  it('matches an older module build of the package, with the CVE from related and the distro rating', () => {
    const { findings } = matchInventory(alma('8.0.0-19.1.module_el8.8.0+3500+0123abcd.alma'), index);
    assert.deepEqual(
      findings.map((f) => f.checkId),
      ['CVE-2023-2700'],
    );
    assert.equal(findings[0]!.vulnerability!.fixedVersion, '8.0.0-19.2.module_el8.8.0+3585+76b9c397.alma');
    assert.equal(findings[0]!.severity, 'medium');
  });

  it('leaves a build that is not from a module, and the fixed module build, alone', () => {
    assert.deepEqual(matchInventory(alma('8.0.0-1.el8'), index).findings, []);
    assert.deepEqual(
      matchInventory(alma('8.0.0-19.2.module_el8.8.0+3585+76b9c397.alma'), index).findings,
      [],
    );
  });
});

describe('merging records that name the same CVE', () => {
  const inv: SystemInventory = { os: RHEL_9, packages: [rpm('openssl-libs', '1:3.0.7-24.el9')] };

  it('an RHSA naming three CVEs gives three findings; a CVE record for one of them merges, highest fix wins', () => {
    const rhsa = advisory('RHSA-2024:0001', [affected('rhel:9', 'openssl-libs', fixedIn('1:3.0.7-25.el9'))], {
      aliases: ['CVE-2024-0001', 'CVE-2024-0002', 'CVE-2024-0003'],
      distroSeverity: 'Important',
      references: [{ type: 'ADVISORY', url: 'https://access.redhat.com/errata/RHSA-2024:0001' }],
    });
    // A record of the CVE itself (as OSV's per-CVE records and the Debian tracker give them), fixed later.
    const cveRecord = advisory(
      'CVE-2024-0001',
      [affected('rhel:9', 'openssl-libs', fixedIn('1:3.0.7-27.el9'))],
      { aliases: ['GHSA-aaaa-bbbb-cccc'], distroSeverity: 'Low' },
    );
    const other = advisory(
      'RHSA-2024:0009',
      [affected('rhel:9', 'openssl-libs', fixedIn('1:3.0.7-26.el9'))],
      {
        aliases: ['CVE-2024-0001'],
      },
    );
    const { findings } = match(inv, [rhsa, cveRecord, other]);
    assert.deepEqual(ids(findings), [
      'CVE-2024-0001 openssl-libs@1:3.0.7-24.el9',
      'CVE-2024-0002 openssl-libs@1:3.0.7-24.el9',
      'CVE-2024-0003 openssl-libs@1:3.0.7-24.el9',
    ]);
    const one = findings.find((f) => f.checkId === 'CVE-2024-0001')!;
    assert.equal(one.vulnerability?.fixedVersion, '1:3.0.7-27.el9');
    assert.equal(one.vulnerability?.fixState, 'fixed');
    // Other CVEs of the RHSA are not aliases of this one: they have findings of their own.
    assert.deepEqual(one.vulnerability?.aliases, ['RHSA-2024:0001', 'GHSA-aaaa-bbbb-cccc', 'RHSA-2024:0009']);
    assert.deepEqual(
      one.vulnerability?.advisories.map((a) => a.id),
      ['RHSA-2024:0001', 'CVE-2024-0001', 'RHSA-2024:0009'],
    );
    // The CVE record is about CVE-2024-0001 alone; RHSA-2024:0001's rating covers three CVEs: the specific wins.
    assert.equal(one.severity, 'low');
    assert.deepEqual(one.vulnerability?.distroSeverity, { source: 'redhat', rating: 'Low' });
    assert.equal(one.remediation, 'Upgrade openssl-libs to 1:3.0.7-27.el9 or later');
    const two = findings.find((f) => f.checkId === 'CVE-2024-0002')!;
    assert.equal(two.vulnerability?.fixedVersion, '1:3.0.7-25.el9');
    assert.deepEqual(two.vulnerability?.aliases, ['RHSA-2024:0001']);
    assert.equal(two.severity, 'high');
    assert.deepEqual(
      two.references?.map((r) => [r.type, r.id, r.url]),
      [
        ['cve', 'CVE-2024-0002', 'https://nvd.nist.gov/vuln/detail/CVE-2024-0002'],
        ['advisory', 'RHSA-2024:0001', 'https://access.redhat.com/errata/RHSA-2024:0001'],
      ],
    );
  });

  it('a record fixed at or below the installed version beats an unfixed one', () => {
    const unfixedRec = advisory('CVE-2024-0001', [affected('rhel:9', 'openssl-libs', unfixed)]);
    const fixedRec = advisory(
      'RHSA-2024:0001',
      [affected('rhel:9', 'openssl-libs', fixedIn('1:3.0.7-20.el9'))],
      {
        aliases: ['CVE-2024-0001'],
      },
    );
    assert.deepEqual(match(inv, [unfixedRec, fixedRec]).findings, []);
    // Without the fixed record the unfixed one stands.
    const alone = match(inv, [unfixedRec]).findings;
    assert.equal(alone.length, 1);
    assert.equal(alone[0]!.vulnerability?.fixState, 'not-fixed');
    assert.equal(alone[0]!.remediation, undefined);
    assert.match(alone[0]!.message, /No fix yet\.$/);
  });

  it('one record with a fix and one without: the fix is reported', () => {
    const unfixedRec = advisory('CVE-2024-0001', [affected('rhel:9', 'openssl-libs', unfixed)]);
    const fixedRec = advisory(
      'RHSA-2024:0001',
      [affected('rhel:9', 'openssl-libs', fixedIn('1:3.0.7-30.el9'))],
      {
        aliases: ['CVE-2024-0001'],
      },
    );
    const [f] = match(inv, [unfixedRec, fixedRec]).findings;
    assert.equal(f?.vulnerability?.fixedVersion, '1:3.0.7-30.el9');
    assert.equal(f?.vulnerability?.fixState, 'fixed');
  });

  it("won't fix, withdrawn records, records about other versions", () => {
    const wont = advisory('CVE-2024-0005', [affected('rhel:9', 'openssl-libs', unfixed, { wontFix: true })]);
    const withdrawn = advisory('CVE-2024-0006', [affected('rhel:9', 'openssl-libs', unfixed)], {
      withdrawn: '2024-02-01T00:00:00Z',
    });
    const older = advisory('CVE-2024-0007', [affected('rhel:9', 'openssl-libs', fixedIn('1:3.0.1-1.el9'))]);
    const { findings } = match(inv, [wont, withdrawn, older]);
    assert.deepEqual(ids(findings), ['CVE-2024-0005 openssl-libs@1:3.0.7-24.el9']);
    assert.equal(findings[0]!.vulnerability?.fixState, 'wont-fix');
  });
});

describe('applicability: source vs binary, architectures, modules', () => {
  it('Debian matches by source name and compares the source version (binNMU does not hide a fix)', () => {
    const inv: SystemInventory = {
      os: DEBIAN_12,
      packages: [
        deb('libssl3', '3.0.11-1~deb12u1', 'amd64', 'openssl', '3.0.11-1~deb12u1'),
        deb('libfoo1', '1.0-1+b1', 'amd64', 'foo', '1.0-1'),
      ],
    };
    const bySource = advisory('DSA-5532-1', [affected('debian:12', 'openssl', fixedIn('3.0.11-1~deb12u2'))], {
      aliases: ['CVE-2023-5363'],
    });
    const byBinary = advisory('DSA-0000-1', [affected('debian:12', 'libssl3', fixedIn('9.9'))], {
      aliases: ['CVE-2023-0001'],
    });
    const binNmu = advisory('DSA-0001-1', [affected('debian:12', 'foo', fixedIn('1.0-1'))], {
      aliases: ['CVE-2023-0002'],
    });
    const { findings } = match(inv, [bySource, byBinary, binNmu]);
    assert.deepEqual(ids(findings), ['CVE-2023-5363 libssl3@3.0.11-1~deb12u1']);
    const f = findings[0]!;
    assert.equal(f.vulnerability?.matchedName, 'openssl');
    assert.equal(f.vulnerability?.installedVersion, '3.0.11-1~deb12u1');
    assert.equal(f.title, 'CVE-2023-5363 in libssl3 3.0.11-1~deb12u1');
    assert.match(
      f.message,
      /^libssl3 3\.0\.11-1~deb12u1 \(source openssl 3\.0\.11-1~deb12u1\) is affected by CVE-2023-5363 \(DSA-5532-1\)\. Fixed in 3\.0\.11-1~deb12u2\.$/,
    );
  });

  it('Alpine matches by origin (source) package with apk ordering', () => {
    const os: OsInfo = {
      id: 'alpine',
      idLike: [],
      versionId: '3.19.1',
      family: 'alpine',
      source: '/etc/os-release',
    };
    const pkg: Package = {
      ecosystem: 'apk',
      name: 'libcrypto3',
      version: '3.1.4-r5',
      arch: 'x86_64',
      sourceName: 'openssl',
      sourceVersion: '3.1.4-r5',
      source: '/lib/apk/db/installed',
    };
    const fixed = advisory('CVE-2024-0727', [affected('alpine:3.19', 'openssl', fixedIn('3.1.4-r6'))], {
      origin: 'alpine-secdb',
    });
    const older = advisory('CVE-2023-6129', [affected('alpine:3.19', 'openssl', fixedIn('3.1.4-r3'))], {
      origin: 'alpine-secdb',
    });
    const [f, ...rest] = match({ os, packages: [pkg] }, [fixed, older]).findings;
    assert.equal(rest.length, 0);
    assert.equal(f?.checkId, 'CVE-2024-0727');
    assert.deepEqual(f?.vulnerability?.advisories, [
      { id: 'CVE-2024-0727', origin: 'alpine-secdb', ecosystem: 'alpine:3.19' },
    ]);
  });

  it('RPM matches by binary name and EVR', () => {
    const inv: SystemInventory = {
      os: RHEL_9,
      packages: [{ ...rpm('openssl-libs', '1:3.0.7-24.el9'), sourceName: 'openssl' }],
    };
    const bin = advisory('CVE-2024-0001', [affected('rhel:9', 'openssl-libs', fixedIn('1:3.0.7-25.el9'))]);
    const src = advisory('CVE-2024-0002', [affected('rhel:9', 'openssl', fixedIn('1:3.0.7-25.el9'))]);
    assert.deepEqual(ids(match(inv, [bin, src]).findings), ['CVE-2024-0001 openssl-libs@1:3.0.7-24.el9']);
  });

  it('architecture restrictions, with amd64/x86_64, arm64/aarch64, i386/i686 and all/noarch', () => {
    const inv: SystemInventory = {
      os: DEBIAN_12,
      packages: [
        deb('a', '1.0-1', 'amd64'),
        deb('b', '1.0-1', 'arm64'),
        deb('c', '1.0-1', 'i386'),
        deb('d', '1.0-1', 'all'),
        deb('e', '1.0-1', 'armhf'),
      ],
    };
    const advs = ['a', 'b', 'c', 'd', 'e'].map((n, i) =>
      advisory(`CVE-2024-${1000 + i}`, [affected('debian:12', n, unfixed, { arches: ['x86_64', 'i686'] })]),
    );
    assert.deepEqual(ids(match(inv, advs).findings), [
      'CVE-2024-1000 a@1.0-1',
      'CVE-2024-1002 c@1.0-1',
      'CVE-2024-1003 d@1.0-1',
    ]);
    assert.equal(normalizeArch('aarch64'), normalizeArch('arm64'));
    const arm = advisory('CVE-2024-2000', [affected('debian:12', 'b', unfixed, { arches: ['aarch64'] })]);
    assert.equal(match(inv, [arm]).findings.length, 1);
  });

  it('module streams: modular packages only match module entries, and the other way round', () => {
    const modular = rpm('python36', '3.6.8-51.module+el8.9.0+20978+8fc5c3e2');
    const plain = rpm('python3', '3.6.8-51.el8');
    assert.equal(isModularRelease(modular.version), true);
    assert.equal(isModularRelease('1.0-1.module_el8.4.0+2187+8dd8b1e8'), true);
    assert.equal(isModularRelease(plain.version), false);
    const os: OsInfo = { ...RHEL_9, versionId: '8.9' };
    const dist = 'rhel:8';
    const withModule = (pkg: string, id: string): Advisory =>
      advisory(id, [{ ...affected(dist, pkg, unfixed), scheme: 'rpm', module: 'python36:3.6' }]);
    const noModule = (pkg: string, id: string): Advisory =>
      advisory(id, [{ ...affected(dist, pkg, unfixed), scheme: 'rpm' }]);
    const { findings } = match({ os, packages: [modular, plain] }, [
      withModule('python36', 'CVE-2024-0001'),
      noModule('python36', 'CVE-2024-0002'),
      withModule('python3', 'CVE-2024-0003'),
      noModule('python3', 'CVE-2024-0004'),
    ]);
    assert.deepEqual(ids(findings), [
      'CVE-2024-0001 python36@3.6.8-51.module+el8.9.0+20978+8fc5c3e2',
      'CVE-2024-0004 python3@3.6.8-51.el8',
    ]);
  });

  it('an OS without advisory data is a note, not an error', () => {
    const r = match({ os: { ...DEBIAN_12, id: 'gentoo' }, packages: [deb('a', '1')] }, []);
    assert.deepEqual(r.findings, []);
    assert.equal(r.notes.length, 1);
  });
});

describe('the finding', () => {
  const pkg = deb('libssl3', '3.0.11-1~deb12u1', 'amd64', 'openssl', '3.0.11-1~deb12u1');
  const inv: SystemInventory = { os: DEBIAN_12, packages: [pkg] };
  const rec = advisory('DSA-5532-1', [affected('debian:12', 'openssl', fixedIn('3.0.11-1~deb12u2'))], {
    aliases: ['CVE-2023-5363'],
    related: ['DEBIAN-CVE-2023-5363'],
    summary: 'openssl - security update\nmultiple issues',
    published: '2023-10-24T00:00:00Z',
    modified: '2023-10-25T00:00:00Z',
    severity: [{ type: 'CVSS_V3', vector: 'CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H' }],
    references: [
      { type: 'ADVISORY', url: 'https://www.debian.org/security/2023/dsa-5532' },
      { type: 'WEB', url: 'https://www.openssl.org/news/secadv/20231024.txt' },
      { type: 'WEB', url: 'https://www.openssl.org/news/secadv/20231024.txt' },
      { type: 'WEB', url: 'javascript:alert(1)' },
    ],
  });

  it('carries the fields the report needs', () => {
    const [f] = match(inv, [rec]).findings;
    assert.ok(f);
    assert.equal(f.id, fingerprint('CVE-2023-5363', 'package', 'libssl3:amd64'));
    assert.equal(f.checkId, 'CVE-2023-5363');
    assert.equal(f.status, 'fail');
    assert.equal(f.platform, undefined);
    assert.deepEqual(f.resource, { type: 'package', id: 'libssl3@3.0.11-1~deb12u1' });
    assert.deepEqual(f.evidence, { file: '/var/lib/dpkg/status', key: 'libssl3', value: '3.0.11-1~deb12u1' });
    // No distro rating: CVSS 3.1 8.1 (the vector Red Hat published for CVE-2024-6387) → high.
    assert.equal(f.severity, 'high');
    assert.equal(f.vulnerability?.severitySource, 'cvss');
    assert.deepEqual(
      f.vulnerability?.cvss.map((c) => c.baseScore),
      [8.1],
    );
    assert.deepEqual(f.vulnerability?.aliases, ['DSA-5532-1', 'DEBIAN-CVE-2023-5363']);
    assert.equal(f.vulnerability?.package.purl, packageUrl(pkg, DEBIAN_12));
    assert.equal(f.vulnerability?.published, '2023-10-24T00:00:00Z');
    assert.deepEqual(
      f.references?.map((r) => r.type),
      ['cve', 'advisory', 'url'],
    );
    assert.match(f.message, /: openssl - security update multiple issues\. Fixed in/);
  });

  it('the fingerprint ignores the version (diffs across upgrades) and includes the target when given', () => {
    const upgraded = match({ os: DEBIAN_12, packages: [{ ...pkg, version: '3.0.11-1~deb12u1+b1' }] }, [
      rec,
    ]).findings;
    const before = match(inv, [rec]).findings;
    assert.equal(upgraded[0]!.id, before[0]!.id);
    const targeted = match(inv, [rec], 'vm1.qcow2').findings;
    assert.equal(targeted[0]!.id, fingerprint('CVE-2023-5363', 'package', 'vm1.qcow2/libssl3:amd64'));
  });

  it('finding ids are the fingerprint of model/finding.ts for any name, architecture and target (fast-check)', () => {
    const text = fc.string({ unit: 'binary', maxLength: 24 });
    fc.assert(
      fc.property(text, text, fc.option(text), (name, arch, target) => {
        const p = deb(name, '3.0.11-1~deb12u1', arch, 'openssl');
        const r = matchInventory(
          { os: DEBIAN_12, packages: [p] },
          new MemoryAdvisoryIndex([rec]),
          target === null ? {} : { target },
        );
        const resource = `${target === null ? '' : `${target}/`}${name}:${arch}`;
        assert.equal(r.findings.length, 1);
        assert.equal(r.findings[0]!.id, fingerprint('CVE-2023-5363', 'package', resource));
      }),
      { numRuns: 300 },
    );
  });

  it('findings of one source share their frozen parts: a change to one throws instead of reaching the other', () => {
    const crypto = deb('libcrypto3', '3.0.11-1~deb12u1', 'amd64', 'openssl', '3.0.11-1~deb12u1');
    const [a, b] = match({ os: DEBIAN_12, packages: [pkg, crypto] }, [rec]).findings;
    assert.ok(a && b);
    assert.equal(a.references, b.references);
    assert.equal(a.vulnerability!.cvss, b.vulnerability!.cvss);
    assert.notEqual(a.vulnerability!.package, b.vulnerability!.package);
    assert.equal(b.vulnerability!.package.name, 'libcrypto3');
    assert.throws(() => a.references!.push({ type: 'url', id: 'x', url: 'https://x.example/' }), TypeError);
    assert.throws(() => {
      a.references![0]!.id = 'changed';
    }, TypeError);
    assert.throws(() => {
      a.vulnerability!.cvss[0]!.baseScore = 0;
    }, TypeError);
    assert.throws(() => {
      a.evidence!.value = 'changed';
    }, TypeError);
    assert.equal(b.references!.length, 3);
    assert.equal(b.references![0]!.id, 'CVE-2023-5363');
    // The finding object itself is each one's own.
    a.status = 'pass';
    assert.equal(b.status, 'fail');
  });

  it('references are capped', () => {
    const many = {
      ...rec,
      references: Array.from({ length: 50 }, (_, i) => ({ type: 'WEB', url: `https://example.org/${i}` })),
    };
    assert.equal(match(inv, [many]).findings[0]!.references!.length, 20);
  });

  it('bad records and versions become notes; matching goes on', () => {
    const bad = advisory(
      'DSA-9999-1',
      [
        affected('debian:12', 'openssl', [
          [{ introduced: '0' }, { fixed: '1:' }],
          [{ introduced: '0' }, { fixed: '3.0.11-1~deb12u3' }],
        ]),
      ],
      {
        aliases: ['CVE-2023-9999'],
        severity: [{ type: 'CVSS_V3', vector: 'CVSS:3.1/AV:N' }],
      },
    );
    const r = match({ os: DEBIAN_12, packages: [pkg, deb('broken', 'not a version')] }, [bad, rec]);
    assert.deepEqual(ids(r.findings), [
      'CVE-2023-5363 libssl3@3.0.11-1~deb12u1',
      'CVE-2023-9999 libssl3@3.0.11-1~deb12u1',
    ]);
    // The bad range is skipped, the good one used; the bad vector is skipped: no CVSS, no rating, medium assumed.
    const bad9999 = r.findings.find((f) => f.checkId === 'CVE-2023-9999')!;
    assert.equal(bad9999.vulnerability?.fixedVersion, '3.0.11-1~deb12u3');
    assert.deepEqual(bad9999.vulnerability?.cvss, []);
    assert.equal(bad9999.severity, 'medium');
    assert.equal(bad9999.vulnerability?.severitySource, 'none');
    assert.equal(r.notes.length, 3, r.notes.join('\n'));
    assert.ok(
      r.notes.some((n) =>
        /DSA-9999-1 \(Debian:12 openssl\): ranges\[0\]: events\[1\]: invalid deb version/.test(n),
      ),
    );
    assert.ok(r.notes.some((n) => /invalid CVSS vector/.test(n)));
    assert.ok(r.notes.some((n) => /broken: installed version 'not a version'/.test(n)));
  });

  it('random inventories and advisories never throw (fast-check)', () => {
    const version = fc.oneof(
      fc.string({ maxLength: 12 }),
      fc.constantFrom('1.0-1', '1:1.0', '0', '1.0~rc1', '2.0^a-1'),
    );
    const events = fc.array(
      fc.oneof(
        version.map((v) => ({ introduced: v })),
        version.map((v) => ({ fixed: v })),
        version.map((v) => ({ last_affected: v })),
      ),
      { maxLength: 4 },
    );
    const name = fc.constantFrom('a', 'b', 'c');
    fc.assert(
      fc.property(
        fc.constantFrom(DEBIAN_12, RHEL_9),
        fc.array(fc.tuple(name, version, fc.constantFrom('amd64', 'all', 'x86_64', '')), { maxLength: 5 }),
        fc.array(
          fc.tuple(
            fc.constantFrom('CVE-2024-0001', 'RHSA-1', 'DSA-1', 'DEBIAN-CVE-2024-0002'),
            fc.array(fc.constantFrom('CVE-2024-0001', 'CVE-2024-0003', 'GHSA-1'), { maxLength: 3 }),
            name,
            fc.array(events, { maxLength: 2 }),
            fc.array(version, { maxLength: 2 }),
            fc.option(fc.constantFrom('high', 'Important', 'x', 'not yet assigned')),
            fc.option(fc.array(fc.constantFrom('x86_64', 'arm64'), { maxLength: 2 })),
            fc.boolean(),
          ),
          { maxLength: 6 },
        ),
        (os, pkgs, recs) => {
          const rpmOs = os.id === 'rhel';
          const distro = rpmOs ? 'rhel:9' : 'debian:12';
          const packages = pkgs.map(([n, v, a]) => (rpmOs ? rpm(n, v, a) : deb(n, v, a)));
          const advs = recs.map(([id, aliases, n, ranges, versions, sev, arches, wontFix], i) => {
            const aff = affected(distro, n, ranges as RangeEvent[][], { versions, wontFix });
            if (sev !== null) aff.distroSeverity = sev;
            if (arches !== null) aff.arches = arches;
            return advisory(id, [aff], { key: `k${i}`, aliases });
          });
          const r = match({ os, packages }, advs);
          for (const f of r.findings) {
            assert.equal(f.status, 'fail');
            assert.ok(f.vulnerability);
          }
        },
      ),
      { numRuns: 1500 },
    );
  });
});

describe("this machine's dpkg database against straddling advisories", () => {
  const scratch = tempDir('hyperward-match-');
  after(() => scratch.cleanup());

  /** `dpkg --compare-versions A lt B` for many pairs in one shell (versions from a real dpkg status). */
  function dpkgLt(pairs: ReadonlyArray<readonly [string, string]>): boolean[] {
    const file = join(scratch.dir, 'lt.sh');
    const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
    writeFileSync(
      file,
      pairs.map(([a, b]) => `dpkg --compare-versions ${q(a)} lt ${q(b)} && echo 1 || echo 0`).join('\n'),
    );
    const out = run('sh', [file]).split('\n').filter(Boolean);
    assert.equal(out.length, pairs.length);
    return out.map((l) => l === '1');
  }

  it('finds exactly the (CVE, package) pairs dpkg says are below the fix', () => {
    const packages = parseDpkgStatus(readFileSync('/var/lib/dpkg/status', 'utf8'), '/var/lib/dpkg/status');
    const os = detectOs({
      tryReadFile: (p: string) => {
        try {
          return readFileSync(p);
        } catch {
          return undefined;
        }
      },
    });
    assert.ok(os && os.id === 'debian', 'this test runs on Debian');
    assert.ok(packages.length > 100);

    // One set of records per source package, each fix derived from the installed source version:
    //  - above it (`+hw1` appended), below it (`~hw1` appended), the version itself;
    //  - with an epoch: the same upstream without the epoch (+hw1), which dpkg sorts lower;
    //  - with a `~` backport suffix: the version cut at its last `~`, which dpkg sorts higher.
    const sources = new Map<string, string>();
    for (const p of packages) sources.set(p.sourceName, p.sourceVersion);
    const advs: Advisory[] = [];
    const derived: Array<{ cve: string; source: string; installed: string; fix: string }> = [];
    let n = 0;
    for (const [source, v] of sources) {
      const fixes = [`${v}+hw1`, `${v}~hw1`, v];
      const colon = v.indexOf(':');
      if (colon > 0) fixes.push(`${v.slice(colon + 1)}+hw1`);
      const tilde = v.lastIndexOf('~');
      if (tilde > 0 && v.lastIndexOf('-') < tilde) fixes.push(v.slice(0, tilde));
      for (const fix of fixes) {
        const cve = `CVE-2099-${String(10000 + n++)}`;
        derived.push({ cve, source, installed: v, fix });
        advs.push(
          advisory(`DSA-${n}-1`, [affected(`debian:${os.versionId ?? '12'}`, source, fixedIn(fix))], {
            aliases: [cve],
          }),
        );
      }
    }
    const below = dpkgLt(derived.map((d) => [d.installed, d.fix] as const));
    const expected = new Set<string>();
    const fixOf = new Map<string, string>();
    derived.forEach((d, k) => {
      if (!below[k]) return;
      fixOf.set(d.cve, d.fix);
      for (const p of packages)
        if (p.sourceName === d.source) expected.add(`${d.cve} ${p.name}@${p.version}:${p.arch}`);
    });
    // The derivations really straddle: some fixes above, some below, epochs and tildes among them.
    assert.ok(expected.size > 100 && below.some((b) => !b));
    assert.ok(derived.some((d, k) => d.installed.includes(':') && !below[k] && !d.fix.includes(':')));
    assert.ok(derived.some((d, k) => d.installed.includes('~') && below[k] && !d.fix.includes('~')));

    const { findings, notes } = matchInventory({ os, packages }, new MemoryAdvisoryIndex(advs));
    assert.deepEqual(notes, []);
    const got = new Set(
      findings.map((f) => `${f.checkId} ${f.resource.id}:${f.vulnerability!.package.arch}`),
    );
    assert.deepEqual([...got].sort(), [...expected].sort());
    for (const f of findings) assert.equal(f.vulnerability?.fixedVersion, fixOf.get(f.checkId));
  });
});
