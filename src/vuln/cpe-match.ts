/**
 * Matching products named by CPE 2.3 (an appliance's `applianceCpeCandidates`) against NVD CVE records imported
 * with `db import` (`import/nvd.ts`). Pure functions over their inputs, plus `matchCpes`, which reads the advisory
 * database.
 *
 * How an NVD `cpeMatch` entry (only `vulnerable: true` ones are stored) applies to a candidate
 * `cpe:2.3:a:VENDOR:PRODUCT:VERSION:*:…`:
 * - vendor and product must be equal (the bound, escaped forms, compared case-insensitively), and the part too
 *   (`a`, `o`, `h`);
 * - the criteria's version `*` (ANY) with `versionStart…`/`versionEnd…` bounds: the candidate's version must lie
 *   within them by the order below; `*` without bounds: every version is affected;
 * - a specific criteria version: the candidate's version must equal it by the same order;
 * - `-` (NA: the product has no versions): never matches a versioned candidate;
 * - a criteria naming a specific `update` (`9.0.0:milestone1`): matches no candidate, whose update is unknown
 *   (assuming a release where the record names a pre-release would report every 9.0.0 as affected);
 * - the other attributes (edition, language, target software...) are not compared: candidates leave them ANY.
 * Configurations are read as the union of their vulnerable matches: an `AND` node's platform condition ("Tomcat
 * running on Windows") is not checked, so a match may be reported where the platform differs (never the
 * reverse). A candidate whose version is `*` (unknown) is not matched at all.
 *
 * The version order (`compareDottedVersions`), generic because NVD versions follow no one scheme: a version is
 * cut into runs of digits and runs of letters, everything else separating them (`8.0.36` → 8 0 36, `7.0u3` → 7 0
 * u 3, `2.4.58-r1` → 2 4 58 r 1). A word is a pre-release (`alpha`, `beta`, `rc`, `pre`, `preview`, `dev`,
 * `milestone`, `snapshot`, `ea`, `cr`, and `a`/`b`/`c`/`m` followed by a number) or else a post-release (OpenSSL's
 * `1.0.2k`, OpenSSH's `7.4p1`, `u3`, `r1`, `sp1`). Runs are compared in order: two numbers by value (any length,
 * leading zeros ignored), a pre-release word before a post-release one, two words of a kind case-insensitively by
 * code point, and a word before a number (`1.0.rc1` < `1.0.0`). When one version runs out, a number left on the
 * other makes it the greater unless it and all after it are zeros (`8.0` = `8.0.0` < `8.0.1`), a pre-release word
 * left makes it the smaller (`8.0.0rc1` < `8.0.0`) and a post-release word the greater (`1.0.2k` > `1.0.2`). Versions longer
 * than `MAX_VERSION_LENGTH` or with more than `MAX_VERSION_RUNS` runs are not compared (the entry is skipped and
 * reported).
 */
import type { CvssScore, Finding, Reference, Severity } from '../model/finding.js';
import { fingerprint } from '../model/finding.js';
import { preferredScore, scoreVector } from './cvss.js';
import type { AdvisoryReference, SeverityVector } from './types.js';

/** Longest version compared. */
export const MAX_VERSION_LENGTH = 128;
/** Most digit or letter runs in a compared version. */
export const MAX_VERSION_RUNS = 32;
/** Longest CPE 2.3 formatted string parsed. */
export const MAX_CPE_LENGTH = 1024;
/** Candidates per `matchCpes` call, and stored entries read per (vendor, product). */
export const MAX_CANDIDATES = 256;
export const MAX_ENTRIES_PER_PRODUCT = 100_000;
/** Most notes one `matchCpes` call returns. */
const MAX_NOTES = 200;

/** The attributes of a CPE 2.3 formatted string, still bound (escaped) as written. */
export interface CpeName {
  part: string;
  vendor: string;
  product: string;
  version: string;
  update: string;
  edition: string;
  language: string;
  swEdition: string;
  targetSw: string;
  targetHw: string;
  other: string;
}

/**
 * Parses a CPE 2.3 formatted string (`cpe:2.3:a:apache:tomcat:8.0.36:*:*:*:*:*:*:*`): eleven attributes after the
 * prefix, split on colons that are not escaped by a backslash. Values stay bound (escapes kept), lower-cased.
 * @returns undefined for anything else (wrong prefix or count, a trailing lone backslash, longer than
 * `MAX_CPE_LENGTH`, a character outside printable ASCII).
 */
export function parseCpe23(s: string): CpeName | undefined {
  if (typeof s !== 'string' || s.length > MAX_CPE_LENGTH || !s.startsWith('cpe:2.3:')) return undefined;
  if (!/^[\x21-\x7e]+$/.test(s)) return undefined;
  const parts: string[] = [];
  let cur = '';
  for (let i = 8; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\') {
      if (i + 1 >= s.length) return undefined;
      cur += c + s[i + 1]!;
      i++;
    } else if (c === ':') {
      parts.push(cur);
      cur = '';
      if (parts.length > 11) return undefined;
    } else cur += c;
  }
  parts.push(cur);
  if (parts.length !== 11 || parts.some((p) => p === '')) return undefined;
  const [part, vendor, product, version, update, edition, language, swEdition, targetSw, targetHw, other] =
    parts.map((p) => p.toLowerCase()) as [
      string,
      string,
      string,
      string,
      string,
      string,
      string,
      string,
      string,
      string,
      string,
    ];
  if (part !== 'a' && part !== 'o' && part !== 'h' && part !== '*') return undefined;
  return { part, vendor, product, version, update, edition, language, swEdition, targetSw, targetHw, other };
}

/**
 * A version cut into runs: numbers as digit strings without leading zeros, words lower-cased and told apart as
 * pre-releases (before the version they follow) or post-releases (after it).
 */
type Runs = Array<{ num: boolean; text: string; pre?: boolean }>;

/** Words that mark a pre-release wherever they stand. */
const PRE_WORDS = /^(?:alpha|beta|rc|pre|preview|dev|milestone|snapshot|ea|cr)$/;
/** Single letters that mark a pre-release when a number follows (`1.0a1`, `2.0b2`, `9.0m3`, `3.0c1`). */
const PRE_LETTERS = /^[abcm]$/;

function runsOf(v: string): Runs | undefined {
  if (typeof v !== 'string' || v.length === 0 || v.length > MAX_VERSION_LENGTH) return undefined;
  const out: Runs = [];
  const re = /(\d+)|([A-Za-z]+)/g;
  for (let m = re.exec(v); m !== null; m = re.exec(v)) {
    if (out.length >= MAX_VERSION_RUNS) return undefined;
    if (m[1] !== undefined) out.push({ num: true, text: m[1].replace(/^0+(?=\d)/, '') });
    else out.push({ num: false, text: m[2]!.toLowerCase() });
  }
  // Any other word is a post-release: OpenSSL's `1.0.2k`, OpenSSH's `7.4p1`, `7.0u3`, `2.4.58-r1`, `sp1`.
  out.forEach((r, i) => {
    if (!r.num) r.pre = PRE_WORDS.test(r.text) || (PRE_LETTERS.test(r.text) && out[i + 1]?.num === true);
  });
  return out.length > 0 ? out : undefined;
}

function compareNum(a: string, b: string): number {
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Whether `v` is a version `compareDottedVersions` can order (at least one digit or letter, within the bounds). */
export function isComparableVersion(v: string): boolean {
  return runsOf(v) !== undefined;
}

/**
 * Orders two versions by the generic order of the module comment: -1, 0 or 1; undefined when either cannot be
 * compared (empty, too long, too many runs, no digit or letter).
 *
 * @example compareDottedVersions('8.0', '8.0.0') // 0
 * @example compareDottedVersions('8.0.0rc1', '8.0.0') // -1
 */
export function compareDottedVersions(a: string, b: string): -1 | 0 | 1 | undefined {
  const x = runsOf(a);
  const y = runsOf(b);
  if (x === undefined || y === undefined) return undefined;
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) {
    const p = x[i]!;
    const q = y[i]!;
    if (p.num !== q.num) return p.num ? 1 : -1;
    if (!p.num && p.pre !== q.pre) return p.pre ? -1 : 1;
    const c = p.num ? compareNum(p.text, q.text) : p.text < q.text ? -1 : p.text > q.text ? 1 : 0;
    if (c !== 0) return c < 0 ? -1 : 1;
  }
  const rest = (r: Runs, sign: 1 | -1): -1 | 0 | 1 => {
    for (let i = n; i < r.length; i++) {
      const t = r[i]!;
      // A pre-release word left over makes its version the smaller, a post-release word the greater.
      if (!t.num) return t.pre === true ? (sign === 1 ? -1 : 1) : sign;
      if (t.text !== '0') return sign;
    }
    return 0;
  };
  if (x.length > n) return rest(x, 1);
  if (y.length > n) return rest(y, -1);
  return 0;
}

/** One vulnerable `cpeMatch` entry of an NVD record, as stored. */
export interface CpeMatchEntry {
  /** The criteria as written (`cpe:2.3:a:apache:tomcat:*:*:*:*:*:*:*:*`). */
  criteria: string;
  part: string;
  vendor: string;
  product: string;
  /** The criteria's version: `*` (ANY, bounds may apply), `-` (NA) or a specific version. */
  version: string;
  /** The criteria's update: `*`, `-` or a specific one (`milestone1`, `update3`). */
  update: string;
  versionStartIncluding?: string;
  versionStartExcluding?: string;
  versionEndIncluding?: string;
  versionEndExcluding?: string;
}

/** One NVD CVE record as stored: what a finding says, and its vulnerable CPE matches. */
export interface CveRecord {
  /** `nvd:CVE-…` */
  key: string;
  id: string;
  published?: string;
  /** `lastModified`: drives incremental re-import. */
  modified: string;
  /** `vulnStatus` (`Analyzed`, `Modified`, `Rejected`...). */
  status?: string;
  /** The English description, capped. */
  description?: string;
  severity: SeverityVector[];
  references: AdvisoryReference[];
  matches: CpeMatchEntry[];
}

/** What a candidate must carry: its CPE string (the part, vendor, product and version are read from it). */
export interface CpeCandidateLike {
  cpe: string;
  confidence?: string;
  basis?: string;
}

/** Whether `entry` applies to version `version` of the same product (see the module comment), or why not. */
export function entryApplies(entry: CpeMatchEntry, version: string): boolean | 'incomparable' {
  if (entry.update !== '*' && entry.update !== '-') return false;
  if (entry.version === '-') return false;
  if (entry.version !== '*') {
    if (entry.version.toLowerCase() === version.toLowerCase()) return true;
    const c = compareDottedVersions(unescape(entry.version), unescape(version));
    return c === undefined ? 'incomparable' : c === 0;
  }
  const v = unescape(version);
  const bound = (b: string | undefined, ok: (c: number) => boolean): boolean | 'incomparable' => {
    if (b === undefined) return true;
    const c = compareDottedVersions(v, b);
    return c === undefined ? 'incomparable' : ok(c);
  };
  const checks = [
    bound(entry.versionStartIncluding, (c) => c >= 0),
    bound(entry.versionStartExcluding, (c) => c > 0),
    bound(entry.versionEndIncluding, (c) => c <= 0),
    bound(entry.versionEndExcluding, (c) => c < 0),
  ];
  if (checks.includes(false)) return false;
  return checks.includes('incomparable') ? 'incomparable' : true;
}

/** A bound CPE value without its escapes (`8.0\.1` → `8.0.1`). */
function unescape(v: string): string {
  return v.replace(/\\(.)/g, '$1');
}

/** What `matchCpes` found for one candidate and one CVE. */
export interface CpeFinding extends Finding {
  cpe: {
    /** The candidate that matched, and how it was derived. */
    candidate: string;
    confidence?: string;
    basis?: string;
    /** The NVD criteria that matched, with its version bounds. */
    criteria: string;
    versionStartIncluding?: string;
    versionStartExcluding?: string;
    versionEndIncluding?: string;
    versionEndExcluding?: string;
    /** `versionEndExcluding` when the record gives one: the first version outside the range. */
    fixedVersion?: string;
    cvss: CvssScore[];
    severitySource: 'cvss' | 'none';
    published?: string;
    modified: string;
  };
}

export interface CpeMatchResult {
  findings: CpeFinding[];
  /** Candidates that could not be used, entries whose versions could not be compared. */
  notes: string[];
}

/** The finding for one (candidate, record, entry); `score` scores a CVSS vector. */
export function cpeFinding(
  cand: CpeCandidateLike,
  version: string,
  rec: CveRecord,
  entry: CpeMatchEntry,
  score: (vector: string) => CvssScore | undefined,
  target?: string,
): CpeFinding {
  const cvss: CvssScore[] = [];
  for (const s of rec.severity) {
    const c = score(s.vector);
    if (c && !cvss.some((x) => x.vector === c.vector)) cvss.push(c);
  }
  const best = preferredScore(cvss);
  const severity: Severity = best ? best.severity : 'medium';
  const fixed = entry.versionEndExcluding;
  const references: Reference[] = [
    { type: 'cve', id: rec.id, url: `https://nvd.nist.gov/vuln/detail/${rec.id}` },
  ];
  for (const r of rec.references) {
    if (references.length >= 20) break;
    if (references.some((x) => x.url === r.url)) continue;
    references.push({ type: 'url', id: r.url, url: r.url });
  }
  const summary = rec.description ? `: ${rec.description.replace(/\s+/g, ' ').slice(0, 200)}` : '';
  const finding: CpeFinding = {
    id: fingerprint(rec.id, 'appliance', target !== undefined ? `${target}/${cand.cpe}` : cand.cpe),
    checkId: rec.id,
    severity,
    status: 'fail',
    title: `${rec.id} in ${cand.cpe}`,
    message:
      `${cand.cpe} is affected by ${rec.id} (NVD ${entry.criteria}${boundsText(entry)})${summary}` +
      (fixed !== undefined ? `. Fixed in ${fixed}.` : '. No fixed version named.'),
    resource: { type: 'appliance', id: cand.cpe },
    evidence: { key: 'cpe', value: cand.cpe },
    references,
    cpe: {
      candidate: cand.cpe,
      criteria: entry.criteria,
      cvss,
      severitySource: best ? 'cvss' : 'none',
      modified: rec.modified,
    },
  };
  if (fixed !== undefined) finding.remediation = `Upgrade to ${fixed} or later (version ${version} found)`;
  // The common vulnerability view every writer reads: the product stands where an OS package would.
  const product = parseCpe23(cand.cpe);
  const productName = product ? unescape(product.product) : cand.cpe;
  finding.vulnerability = {
    id: rec.id,
    aliases: [],
    advisories: [{ id: rec.id, origin: 'nvd', ecosystem: 'cpe' }],
    package: {
      name: productName,
      version,
      arch: '',
      ecosystem: 'cpe',
      sourceName: productName,
      sourceVersion: version,
      purl: '',
      cpe: cand.cpe,
    },
    matchedName: product ? `${unescape(product.vendor)}:${productName}` : cand.cpe,
    installedVersion: version,
    fixState: fixed !== undefined ? 'fixed' : 'not-fixed',
    cvss,
    severitySource: best ? 'cvss' : 'none',
    modified: rec.modified,
  };
  if (fixed !== undefined) finding.vulnerability.fixedVersion = fixed;
  if (rec.published !== undefined) finding.vulnerability.published = rec.published;
  const c = finding.cpe;
  if (cand.confidence !== undefined) c.confidence = cand.confidence;
  if (cand.basis !== undefined) c.basis = cand.basis;
  for (const k of [
    'versionStartIncluding',
    'versionStartExcluding',
    'versionEndIncluding',
    'versionEndExcluding',
  ] as const) {
    const b = entry[k];
    if (b !== undefined) c[k] = b;
  }
  if (fixed !== undefined) c.fixedVersion = fixed;
  if (rec.published !== undefined) c.published = rec.published;
  return finding;
}

function boundsText(e: CpeMatchEntry): string {
  const parts: string[] = [];
  if (e.versionStartIncluding !== undefined) parts.push(`from ${e.versionStartIncluding}`);
  if (e.versionStartExcluding !== undefined) parts.push(`after ${e.versionStartExcluding}`);
  if (e.versionEndIncluding !== undefined) parts.push(`through ${e.versionEndIncluding}`);
  if (e.versionEndExcluding !== undefined) parts.push(`before ${e.versionEndExcluding}`);
  return parts.length > 0 ? ` ${parts.join(' ')}` : '';
}

/** What `matchCpes` asks the database: the stored records naming one (vendor, product). */
export interface CpeIndex {
  cpeLookup(vendor: string, product: string): Array<{ record: CveRecord; entry: CpeMatchEntry }>;
}

/**
 * Matches CPE candidates (most likely first, as `applianceCpeCandidates` gives them) against the NVD records in
 * the database. One finding per (CVE, candidate): the first entry of the record that applies. Withdrawn
 * (`Rejected`) records are skipped. Never throws for bad input: unusable candidates and entries become notes.
 *
 * @example
 * const [{ candidates }] = applianceCpeCandidates(envelope);
 * const { findings } = matchCpes(db, candidates, { target: 'appliance.ova' });
 */
export function matchCpes(
  db: CpeIndex,
  candidates: readonly CpeCandidateLike[],
  opts: { target?: string; score?: (vector: string) => CvssScore | undefined } = {},
): CpeMatchResult {
  const findings: CpeFinding[] = [];
  const notes: string[] = [];
  // At most MAX_NOTES, counted as they come: a hostile record set cannot grow the list without bound.
  let dropped = 0;
  const note = (n: string): void => {
    if (notes.length < MAX_NOTES) notes.push(n);
    else dropped++;
  };
  const seen = new Set<string>();
  const score = opts.score ?? defaultScore();
  if (candidates.length > MAX_CANDIDATES) {
    note(`only the first ${MAX_CANDIDATES} of ${candidates.length} CPE candidates matched`);
  }
  for (const cand of candidates.slice(0, MAX_CANDIDATES)) {
    const name = parseCpe23(cand.cpe);
    if (!name) {
      note(`'${String(cand.cpe).slice(0, 120)}' is not a CPE 2.3 formatted string; not matched`);
      continue;
    }
    if (name.version === '*' || name.version === '-') {
      note(`${cand.cpe}: no version, not matched`);
      continue;
    }
    for (const { record, entry } of db.cpeLookup(name.vendor, name.product)) {
      if (record.status === 'Rejected') continue;
      if (name.part !== '*' && entry.part !== '*' && entry.part !== name.part) continue;
      const ok = entryApplies(entry, name.version);
      if (ok === 'incomparable') {
        note(`${record.id} (${entry.criteria}): versions cannot be compared with ${name.version}`);
        continue;
      }
      if (!ok) continue;
      const k = `${record.id}\0${cand.cpe}`;
      if (seen.has(k)) continue;
      seen.add(k);
      findings.push(cpeFinding(cand, unescape(name.version), record, entry, score, opts.target));
    }
  }
  if (dropped > 0) notes.push(`${dropped} more notes left out`);
  return { findings, notes };
}

/** `scoreVector` memoised for one call. */
function defaultScore(): (vector: string) => CvssScore | undefined {
  const cache = new Map<string, CvssScore | undefined>();
  return (v) => {
    if (!cache.has(v)) cache.set(v, scoreVector(v));
    return cache.get(v);
  };
}
