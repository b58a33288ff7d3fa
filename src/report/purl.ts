import { PackageURL } from 'packageurl-js';
import type { OsInfo, Package } from '../model/inventory.js';

/** The purl namespace of a distribution: `debian`, `ubuntu`, `alpine`, `redhat`... */
function namespace(os: OsInfo | undefined, pkg: Package): string {
  if (os?.id) return os.id === 'rhel' ? 'redhat' : os.id;
  return pkg.ecosystem === 'deb' ? 'debian' : pkg.ecosystem === 'apk' ? 'alpine' : 'unknown';
}

/**
 * The package URL of an installed OS package, as Trivy and syft write it:
 * `pkg:deb/debian/openssl@3.0.15-1~deb12u1?arch=amd64&distro=debian-12`.
 */
export function packageUrl(pkg: Package, os: OsInfo | undefined): string {
  // Names come from a scanned image: a lone UTF-16 surrogate would make URI encoding throw.
  const clean = (s: string): string =>
    s.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
  pkg = {
    ...pkg,
    name: clean(pkg.name),
    version: clean(pkg.version),
    arch: clean(pkg.arch),
    sourceName: clean(pkg.sourceName),
    sourceVersion: clean(pkg.sourceVersion),
  };
  const qualifiers: Record<string, string> = {};
  if (pkg.arch) qualifiers.arch = pkg.arch;
  if (os?.versionId) qualifiers.distro = `${os.id}-${os.versionId}`;
  if (pkg.sourceName !== pkg.name || pkg.sourceVersion !== pkg.version) {
    qualifiers.upstream =
      pkg.sourceVersion !== pkg.version ? `${pkg.sourceName}@${pkg.sourceVersion}` : pkg.sourceName;
  }
  return new PackageURL(
    pkg.ecosystem,
    namespace(os, pkg),
    pkg.name,
    pkg.version,
    qualifiers,
    undefined,
  ).toString();
}
