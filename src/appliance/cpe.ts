/**
 * CPE 2.3 candidates for a virtual appliance, from what its OVF ProductSection says (product, vendor, version,
 * full version), so advisories keyed on CPE can be matched even when the appliance's OS is closed and no package
 * database can be read.
 *
 * Names are normalised the way NVD names vendors and products: lower case, runs of blanks to `_`, corporate
 * suffixes (`Inc.`, `, Inc`, `Corporation`, `Ltd`...) dropped, a product's leading vendor name dropped
 * (`VMware vCenter Server` by `VMware, Inc.` → `vmware:vcenter_server`). Values are then bound as a CPE 2.3
 * formatted string (NISTIR 7695 §6.2): letters, digits, `_`, `-` and `.` stay as they are, every other printable
 * character is escaped with a backslash, and what is not printable ASCII is transliterated or dropped. These are
 * candidates, not facts: each says how it was derived and how much to trust it.
 */
import type { OvfEnvelope, OvfProduct } from './ovf.js';

/** What a ProductSection (or any other source) says about a product. */
export interface ProductIdentity {
  product?: string;
  vendor?: string;
  version?: string;
  fullVersion?: string;
}

export interface CpeCandidate {
  /** `cpe:2.3:a:<vendor>:<product>:<version>:*:*:*:*:*:*:*` */
  cpe: string;
  /** The bound (escaped) vendor, product and version as they appear in `cpe`. */
  vendor: string;
  product: string;
  version: string;
  /** `high`: vendor and product as normalised, the stated version; lower for each heuristic step taken. */
  confidence: 'high' | 'medium' | 'low';
  /** How it was derived, for the report (`Version`, `FullVersion`, `version in FullVersion`, `vendor prefix kept`...). */
  basis: string;
}

/** Longest bound value kept; NVD's longest names are well under this. */
const MAX_VALUE = 128;
/** Most candidates for one product. */
const MAX_CANDIDATES = 16;

/** Corporate suffixes NVD leaves out of vendor names, longest first so `Co., Ltd.` goes before `Ltd.`. */
const SUFFIXES: readonly string[] = [
  'co., ltd.',
  'co., ltd',
  'co.,ltd.',
  'co. ltd.',
  'pty ltd',
  'pty. ltd.',
  'incorporated',
  'corporation',
  'limited',
  'company',
  'gmbh',
  'corp.',
  'corp',
  'inc.',
  'inc',
  'ltd.',
  'ltd',
  'llc',
  'l.l.c.',
  'plc',
  'co.',
];

/**
 * Escapes one value for a CPE 2.3 formatted string. Alphanumerics, `_`, `-` and `.` are kept; any other printable
 * ASCII character is quoted with `\` (`*` and `?` too: here they are literal, not wildcards). Characters outside
 * printable ASCII must be removed first. A value of exactly `-` reads as NA in a CPE name and a literal one cannot be written:
 * callers leave such values out.
 */
export function escapeCpeValue(value: string): string {
  let out = '';
  for (const ch of value) {
    if (/[A-Za-z0-9_.-]/.test(ch)) out += ch;
    else if (ch >= '!' && ch <= '~') out += '\\' + ch;
    // Anything else cannot appear in a CPE name; normalisation has removed it already.
  }
  return out;
}

/** Folds to printable ASCII: accents dropped by compatibility decomposition, the rest removed. */
function toAscii(s: string): string {
  return (
    s
      .normalize('NFKD')
      // Combining marks left by the decomposition.
      .replace(/[\u0300-\u036f]/g, '')
      // Any other non-ASCII or control character.
      .replace(/[^\x20-\x7e]/g, '')
  );
}

/** Lower case, printable ASCII, blank runs to one `_`, trimmed of `_` and stray punctuation at the ends. */
function normaliseWords(s: string): string {
  return toAscii(s.replace(/\s+/g, ' '))
    .toLowerCase()
    .trim()
    .replace(/\s+/g, '_')
    .replace(/^[_,;:]+|[_,;:]+$/g, '');
}

/**
 * A vendor name as NVD spells vendors: lower case, blanks to `_`, corporate suffixes (`Inc.`, `, Inc`,
 * `Corporation`, `Ltd`, `LLC`, `GmbH`...) removed, unescaped. Returns '' when nothing is left.
 *
 * @example normaliseVendor('VMware, Inc.') // 'vmware'
 */
export function normaliseVendor(vendor: string): string {
  let v = toAscii(vendor.replace(/\s+/g, ' ')).toLowerCase().trim().replace(/\s+/g, ' ');
  // Strip suffixes repeatedly: `Foo Systems Co., Ltd.`, `Bar Corp. Inc.`
  for (let round = 0; round < 4; round++) {
    const before = v;
    for (const suffix of SUFFIXES) {
      if (v.length > suffix.length && v.endsWith(suffix)) {
        const rest = v.slice(0, v.length - suffix.length);
        // Only a whole word: `Zinc` is not `Z` + `inc`.
        if (/[\s,]$/.test(rest)) {
          v = rest.replace(/[\s,]+$/, '');
          break;
        }
      }
    }
    if (v === before) break;
  }
  return normaliseWords(v);
}

/** A product name as NVD spells products: lower case, blanks to `_`, unescaped. */
export function normaliseProduct(product: string): string {
  return normaliseWords(product);
}

/** A version as it goes into a CPE: trimmed, lower case, blanks to `_`, unescaped. */
export function normaliseVersion(version: string): string {
  return normaliseWords(version);
}

/** True when the text reads as a version (`8.0.2`, `1.0-1234`, `7.0u3`), not as prose. */
function looksLikeVersion(v: string): boolean {
  return /^v?[0-9][0-9A-Za-z.+~_-]{0,63}$/.test(v);
}

/** Version-like tokens inside a longer string (`ApplicationDirector 5.0.0.0 Build 862123` → `5.0.0.0`). */
function versionTokens(s: string): string[] {
  const out: string[] = [];
  for (const m of s.matchAll(/(?:^|[^0-9A-Za-z.])v?([0-9]+(?:\.[0-9A-Za-z]+)+)/g)) {
    if (out.length >= 4) break;
    out.push(m[1]!);
  }
  return out;
}

/** Binds the three values into a CPE 2.3 application name with every other attribute ANY. */
export function formatCpe23(vendor: string, product: string, version: string): string {
  return `cpe:2.3:a:${vendor}:${product}:${version}:*:*:*:*:*:*:*`;
}

/**
 * CPE 2.3 candidates for one product, most likely first, without duplicates. Nothing is returned without a
 * product name. Several versions are tried when Version and FullVersion differ (and a version-looking token inside
 * a descriptive FullVersion); several names when the product starts with the vendor's name or the vendor has
 * several words; the version is ANY (`*`) only when none is known.
 *
 * @example
 * cpeCandidates({ product: 'VMware vCenter Server', vendor: 'VMware, Inc.', version: '8.0.2' })[0].cpe
 * // 'cpe:2.3:a:vmware:vcenter_server:8.0.2:*:*:*:*:*:*:*'
 */
export function cpeCandidates(id: ProductIdentity): CpeCandidate[] {
  const product = id.product === undefined ? '' : normaliseProduct(id.product);
  if (product === '') return [];
  const vendorFull = id.vendor === undefined ? '' : normaliseVendor(id.vendor);

  // Names: [vendor, product, confidence step, basis]
  const names: Array<[string, string, number, string]> = [];
  if (vendorFull !== '') {
    const prefix = vendorFull + '_';
    if (product.startsWith(prefix) && product.length > prefix.length) {
      names.push([vendorFull, product.slice(prefix.length), 0, 'vendor name dropped from the product']);
      names.push([vendorFull, product, 1, 'vendor name kept in the product']);
    } else {
      names.push([vendorFull, product, 0, 'vendor and product']);
    }
    const firstWord = vendorFull.split('_')[0]!;
    if (firstWord !== vendorFull && firstWord.length >= 2) {
      const p = product.startsWith(firstWord + '_') ? product.slice(firstWord.length + 1) : product;
      names.push([firstWord, p, 1, "the vendor's first word"]);
    }
  } else {
    // No vendor: NVD often names a one-product vendor after the product.
    const firstWord = product.split('_')[0]!;
    names.push([product, product, 2, 'no vendor: the product as vendor']);
    if (firstWord !== product)
      names.push([firstWord, product, 2, "no vendor: the product's first word as vendor"]);
  }

  // Versions: [version, confidence step, basis]
  const versions: Array<[string, number, string]> = [];
  const addVersion = (v: string | undefined, step: number, basis: string): void => {
    if (v === undefined) return;
    const n = normaliseVersion(v);
    if (n === '' || versions.some(([x]) => x === n)) return;
    versions.push([n, step, basis]);
  };
  const version = id.version?.trim();
  const full = id.fullVersion?.trim();
  if (version !== undefined && version !== '') {
    addVersion(version, looksLikeVersion(version) ? 0 : 1, 'Version');
    for (const t of versionTokens(version)) addVersion(t, 1, 'version in Version');
  }
  if (full !== undefined && full !== '') {
    if (looksLikeVersion(full)) addVersion(full, 0, 'FullVersion');
    for (const t of versionTokens(full)) addVersion(t, 1, 'version in FullVersion');
  }
  if (versions.length === 0) versions.push(['*', 2, 'no version: any']);

  const out: CpeCandidate[] = [];
  const seen = new Set<string>();
  for (const [ver, vStep, vBasis] of versions) {
    for (const [vendor, prod, nStep, nBasis] of names) {
      // Cut before escaping, so a cut never splits an escape.
      const v = escapeCpeValue(vendor.slice(0, MAX_VALUE));
      const p = escapeCpeValue(prod.slice(0, MAX_VALUE));
      const e = ver === '*' ? '*' : escapeCpeValue(ver.slice(0, MAX_VALUE));
      // Empty, or a lone `-` (which would read as NA), names nothing.
      if (v === '' || p === '' || e === '' || v === '-' || p === '-' || e === '-') continue;
      const cpe = formatCpe23(v, p, e);
      if (seen.has(cpe)) continue;
      seen.add(cpe);
      const step = vStep + nStep;
      out.push({
        cpe,
        vendor: v,
        product: p,
        version: e,
        confidence: step === 0 ? 'high' : step === 1 ? 'medium' : 'low',
        basis: `${nBasis}; ${vBasis}`,
      });
    }
  }
  const rank = { high: 0, medium: 1, low: 2 } as const;
  // Stable: within a confidence level, the order above (stated version first, plainest name first) stays.
  return out.sort((a, b) => rank[a.confidence] - rank[b.confidence]).slice(0, MAX_CANDIDATES);
}

/** Candidates for one ProductSection, with the section it came from. */
export interface ApplianceCpe {
  section: OvfProduct;
  candidates: CpeCandidate[];
}

/**
 * CPE candidates for every ProductSection of an envelope that names a product (sections that only carry
 * deployment properties are passed over).
 */
export function applianceCpeCandidates(env: OvfEnvelope): ApplianceCpe[] {
  const out: ApplianceCpe[] = [];
  for (const p of env.products) {
    if (p.product === undefined) continue;
    const id: ProductIdentity = { product: p.product };
    if (p.vendor !== undefined) id.vendor = p.vendor;
    if (p.version !== undefined) id.version = p.version;
    if (p.fullVersion !== undefined) id.fullVersion = p.fullVersion;
    const candidates = cpeCandidates(id);
    if (candidates.length > 0) out.push({ section: p, candidates });
  }
  return out;
}
