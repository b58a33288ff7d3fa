import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { PackageURL } from 'packageurl-js';
import type { OsInfo, Package, PackageEcosystem } from '../model/inventory.js';
import { packageUrl } from './purl.js';

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

function os(id: string, versionId?: string): OsInfo {
  const o: OsInfo = { id, idLike: [], family: 'unknown', source: '/etc/os-release' };
  if (versionId !== undefined) o.versionId = versionId;
  return o;
}

function pkg(
  ecosystem: PackageEcosystem,
  name: string,
  version: string,
  arch: string,
  sourceName = name,
  sourceVersion = version,
): Package {
  return { ecosystem, name, version, arch, sourceName, sourceVersion, source: '/var/lib/dpkg/status' };
}

/**
 * The oracle: the same purl built by packageurl-js, the library this encoder replaced (lone surrogates made U+FFFD
 * first, as before, since `encodeURIComponent` throws on them).
 */
function oracle(p: Package, o: OsInfo | undefined): string {
  const c = (s: string): string => s.replace(LONE_SURROGATE, '\uFFFD');
  const q = { ...p, name: c(p.name), version: c(p.version), arch: c(p.arch) };
  const sourceName = c(p.sourceName);
  const sourceVersion = c(p.sourceVersion);
  const qualifiers: Record<string, string> = {};
  if (q.arch) qualifiers.arch = q.arch;
  if (o?.versionId) qualifiers.distro = `${o.id}-${o.versionId}`;
  if (sourceName !== q.name || sourceVersion !== q.version) {
    qualifiers.upstream = sourceVersion !== q.version ? `${sourceName}@${sourceVersion}` : sourceName;
  }
  const ns = o?.id
    ? o.id === 'rhel'
      ? 'redhat'
      : c(o.id)
    : q.ecosystem === 'deb'
      ? 'debian'
      : q.ecosystem === 'apk'
        ? 'alpine'
        : 'unknown';
  return new PackageURL(q.ecosystem, ns, q.name, q.version, qualifiers, undefined).toString();
}

/** The encoder's answer, or the fact that it threw. */
function attempt(f: () => string): string {
  try {
    return f();
  } catch {
    return '<throws>';
  }
}

describe('packageUrl', () => {
  it('writes the purls Trivy and syft write for real packages', () => {
    assert.equal(
      packageUrl(pkg('deb', 'openssl', '3.0.15-1~deb12u1', 'amd64'), os('debian', '12')),
      'pkg:deb/debian/openssl@3.0.15-1~deb12u1?arch=amd64&distro=debian-12',
    );
    // binNMU: the source version differs; an epoch keeps its colon.
    assert.equal(
      packageUrl(pkg('deb', 'bash', '5.2.15-2+b2', 'amd64', 'bash', '5.2.15-2'), os('debian', '12')),
      'pkg:deb/debian/bash@5.2.15-2+b2?arch=amd64&distro=debian-12&upstream=bash%405.2.15-2',
    );
    assert.equal(
      packageUrl(pkg('deb', 'libc6', '2.36-9+deb12u4', 'amd64', 'glibc'), os('debian', '12')),
      'pkg:deb/debian/libc6@2.36-9+deb12u4?arch=amd64&distro=debian-12&upstream=glibc',
    );
    assert.equal(
      packageUrl(pkg('rpm', 'NetworkManager', '1:1.46.0-19.el9_4', 'x86_64'), os('rhel', '9.4')),
      'pkg:rpm/redhat/NetworkManager@1:1.46.0-19.el9_4?arch=x86_64&distro=rhel-9.4',
    );
    assert.equal(
      packageUrl(pkg('apk', 'Busybox', '1.36.1-r15', 'x86_64'), undefined),
      'pkg:apk/alpine/busybox@1.36.1-r15?arch=x86_64',
    );
  });

  it('encodes what the purl specification asks, and needs a name', () => {
    assert.equal(
      packageUrl(pkg('deb', ' g++ ', ' 1:2 3~a ', " a(b)'!~* "), os('/Debian//x/', '12')),
      'pkg:deb/debian/x/g%2B%2B@1:2%203~a?arch=a%28b%29%27%21%7E*&distro=%2FDebian%2F%2Fx%2F-12',
    );
    assert.equal(packageUrl(pkg('rpm', 'x', '', ' '), os('', '1')), 'pkg:rpm/unknown/x?distro=-1');
    assert.throws(() => packageUrl(pkg('deb', ' \t', '1', 'all'), os('debian', '12')));
    // A lone surrogate is written as U+FFFD, not thrown on.
    assert.equal(
      packageUrl(pkg('deb', 'a\uD800', '1', ''), os('debian\uDC00')),
      'pkg:deb/debian%EF%BF%BD/a%EF%BF%BD@1',
    );
  });

  it('gives what packageurl-js gives for any package and OS (fast-check)', () => {
    // Characters the encodings treat differently: reserved, unreserved, white space, non-ASCII, surrogates.
    const ch = fc.constantFrom(
      ..."aZ09-._~!*'()+:/@?#&=%; \t\n\u00a0\u2028\ufeffÄßİ€\uD83D\uDE00\uD800\uDC00".split(''),
    );
    const text = fc.oneof(
      fc.string({ unit: ch, maxLength: 12 }),
      fc.string({ maxLength: 12 }),
      fc.string({ unit: 'binary', maxLength: 8 }),
      fc.constantFrom('openssl', 'libc6', '1:2.36-9+deb12u4', 'amd64', 'all', ''),
    );
    const osArb = fc.option(
      fc.record({
        id: fc.oneof(text, fc.constantFrom('debian', 'rhel', 'alpine', '')),
        versionId: fc.option(text, { nil: undefined }),
      }),
      { nil: undefined },
    );
    fc.assert(
      fc.property(
        fc.constantFrom<PackageEcosystem>('deb', 'rpm', 'apk'),
        text,
        text,
        text,
        fc.option(text, { nil: undefined }),
        fc.option(text, { nil: undefined }),
        osArb,
        (eco, name, version, arch, sourceName, sourceVersion, o) => {
          const p = pkg(eco, name, version, arch, sourceName ?? name, sourceVersion ?? version);
          const info = o === undefined ? undefined : os(o.id, o.versionId);
          assert.equal(
            attempt(() => packageUrl(p, info)),
            attempt(() => oracle(p, info)),
          );
        },
      ),
      { numRuns: 3000 },
    );
  });
});
