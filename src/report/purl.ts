/**
 * Package URLs (purl) of installed OS packages, encoded here rather than through a general purl library: a scan
 * writes one per vulnerable package, thousands per report, and the three types it needs (`deb`, `rpm`, `apk`)
 * take a few rules. The output is the canonical form `packageurl-js` gives (its property test checks every
 * component against it):
 * - namespace: slashes at the ends and repeated ones dropped, lower-cased; percent-encoded except `:` and `/`;
 * - name: white space at the ends trimmed, lower-cased for `deb` and `apk` (not `rpm`); percent-encoded;
 *   required;
 * - version: trimmed; percent-encoded except `:` and `+`; left out when empty;
 * - qualifiers: values trimmed, empty ones left out, keys in order; values encoded as
 *   `application/x-www-form-urlencoded` with a space written `%20`.
 *
 * "Percent-encoded" is `encodeURIComponent`: UTF-8, upper-case hex, `A-Z a-z 0-9 - _ . ! ~ * ' ( )` left as they
 * are. Pure functions, no I/O.
 */
import type { OsInfo, Package } from '../model/inventory.js';

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
const SURROGATE = /[\uD800-\uDFFF]/;

/** Names come from a scanned image: a lone UTF-16 surrogate would make URI encoding throw. */
function clean(s: string): string {
  return SURROGATE.test(s) ? s.replace(LONE_SURROGATE, '\uFFFD') : s;
}

/**
 * Strings that the encodings below leave as they are, tested first (a purl is written for every vulnerable
 * package): what `encodeURIComponent` leaves alone, with `:` and `+` for a version, and only `A-Z a-z 0-9 * - . _`
 * for a qualifier value.
 */
const PLAIN_NAME = /^[\w.!~*'()-]*$/;
const PLAIN_VERSION = /^[\w.!~*'():+-]*$/;
const PLAIN_QUALIFIER = /^[\w.*-]*$/;

/** The purl namespace of a distribution: `debian`, `ubuntu`, `alpine`, `redhat`... */
function namespace(os: OsInfo | undefined, pkg: Package): string {
  if (os?.id) return os.id === 'rhel' ? 'redhat' : os.id;
  return pkg.ecosystem === 'deb' ? 'debian' : pkg.ecosystem === 'apk' ? 'alpine' : 'unknown';
}

/** A path-like component with its leading, trailing and repeated slashes dropped (`/a//b/` → `a/b`). */
function collapseSlashes(s: string): string {
  if (!s.includes('/')) return s;
  return s
    .split('/')
    .filter((seg) => seg !== '')
    .join('/');
}

/** `encodeURIComponent` with some characters put back (`:` in a namespace or version, `/`, `+`). */
function encodeExcept(s: string, keep: RegExp): string {
  return encodeURIComponent(s).replace(keep, (m) => String.fromCharCode(parseInt(m.slice(1), 16)));
}

const KEEP_NAMESPACE = /%3A|%2F/g;
const KEEP_VERSION = /%3A|%2B/g;
/** What `encodeURIComponent` leaves alone but the form encoding of a qualifier value does not. */
const FORM_EXTRA = /[!'()~]/g;

/** A qualifier value: form-encoded (only `A-Z a-z 0-9 * - . _` left), a space as `%20`. */
function encodeQualifier(s: string): string {
  if (PLAIN_QUALIFIER.test(s)) return s;
  return encodeURIComponent(s).replace(FORM_EXTRA, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/**
 * The package URL of an installed OS package, as Trivy and syft write it:
 * `pkg:deb/debian/openssl@3.0.15-1~deb12u1?arch=amd64&distro=debian-12`.
 * @throws Error when the package has no name (blank once trimmed): a purl requires one.
 *
 * @example
 * packageUrl({ ecosystem: 'deb', name: 'bash', version: '5.2.15-2+b2', arch: 'amd64', sourceName: 'bash',
 *   sourceVersion: '5.2.15-2', source: '/var/lib/dpkg/status' }, { id: 'debian', versionId: '12' });
 * // 'pkg:deb/debian/bash@5.2.15-2%2Bb2?arch=amd64&distro=debian-12&upstream=bash%405.2.15-2'
 */
export function packageUrl(pkg: Package, os: OsInfo | undefined): string {
  const type = pkg.ecosystem;
  const name = clean(pkg.name);
  const version = clean(pkg.version);
  const arch = clean(pkg.arch);
  const sourceName = clean(pkg.sourceName);
  const sourceVersion = clean(pkg.sourceVersion);

  let n = name.trim();
  if (n === '') throw new Error('a package URL requires a name');
  if (type !== 'rpm') n = n.toLowerCase();
  const ns = collapseSlashes(clean(namespace(os, pkg))).toLowerCase();
  let out = `pkg:${type}/${ns !== '' ? `${encodeExcept(ns, KEEP_NAMESPACE)}/` : ''}${PLAIN_NAME.test(n) ? n : encodeURIComponent(n)}`;
  const v = version.trim();
  if (v !== '') out += `@${PLAIN_VERSION.test(v) ? v : encodeExcept(v, KEEP_VERSION)}`;

  // Keys in sorted order: arch, distro, upstream.
  const qualifiers: string[] = [];
  const add = (key: string, value: string): void => {
    const t = value.trim();
    if (t !== '') qualifiers.push(`${key}=${encodeQualifier(t)}`);
  };
  if (arch) add('arch', arch);
  if (os?.versionId) add('distro', clean(`${os.id}-${os.versionId}`));
  if (sourceName !== name || sourceVersion !== version) {
    add('upstream', sourceVersion !== version ? `${sourceName}@${sourceVersion}` : sourceName);
  }
  if (qualifiers.length > 0) out += `?${qualifiers.join('&')}`;
  return out;
}
