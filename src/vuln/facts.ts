/**
 * What the matcher needs of one advisory, derived once from the record: the vulnerabilities it names, its CVSS
 * vectors already scored, the ids that can become aliases, the one-line summary and the links a finding can carry.
 * The advisory database computes these at import time and stores them beside the record (so a scan reads a few
 * hundred bytes per advisory instead of the whole body, and scores no vector); an in-memory index computes them
 * on demand with the same function. Pure functions, no I/O.
 *
 * Everything here is what `match.ts` documents, moved ahead of time; the output of matching does not depend on
 * whether the facts were stored or derived. Bump `FACTS_VERSION` with any change to what `matchFactsOf` derives
 * (the database stores the version and re-derives from the full record when it differs).
 */
import type { CvssScore } from '../model/finding.js';
import { keepShape } from '../shapes.js';
import { scoreVector } from './cvss.js';
import type { AdvisoryOrigin, AdvisoryRecord, MatchFacts } from './types.js';

export type { MatchFacts } from './types.js';

/** The version of the derivation below; stored in the database's `meta` as `facts_version`. */
export const FACTS_VERSION = 1;

/** References per finding. */
export const MAX_REFERENCES = 20;
/** Longest URL a finding links to. */
export const MAX_URL = 2048;
/** Longest summary a finding's message quotes. */
export const MAX_SUMMARY = 200;
/**
 * Usable links kept per advisory. Each distinct link a finding's reference walk reads from a record is either
 * already among the finding's references or added to them, and a finding holds at most `MAX_REFERENCES`: no link
 * past a record's `MAX_REFERENCES`-th distinct usable one can ever show. Twice that is kept, as a margin.
 */
export const MAX_FACT_URLS = 2 * MAX_REFERENCES;

const CVE = /^CVE-\d{4}-\d{4,}$/;
const EMBEDDED_CVE = /^[A-Z][A-Z0-9]*-(CVE-\d{4}-\d{4,})$/;

/** Whether `id` is a CVE id (`CVE-2024-1234`). */
export function isCve(id: string): boolean {
  return CVE.test(id);
}

/** The CVE an id names: itself, or the one a feed's restatement embeds (`UBUNTU-CVE-2024-1` → `CVE-2024-1`). */
function cveOf(id: string): string | undefined {
  return CVE.test(id) ? id : EMBEDDED_CVE.exec(id)?.[1];
}

/**
 * The vulnerabilities one record is about: the record's own CVE; else the CVEs among its `aliases` and `upstream`
 * ids (a USN lists its `UBUNTU-CVE-…` records as upstream); else, for records written before OSV had `upstream`,
 * the CVEs among `related`; else the CVE its id embeds; else its own id.
 */
export function vulnerabilityIds(
  adv: Pick<AdvisoryRecord, 'id' | 'aliases'> & Partial<Pick<AdvisoryRecord, 'upstream' | 'related'>>,
): string[] {
  if (CVE.test(adv.id)) return [adv.id];
  const out: string[] = [];
  const take = (ids: readonly string[] | undefined, embedded: boolean): void => {
    for (const a of ids ?? []) {
      const c = embedded ? cveOf(a) : CVE.test(a) ? a : undefined;
      if (c !== undefined && !out.includes(c)) out.push(c);
    }
  };
  take(adv.aliases, false);
  take(adv.upstream, true);
  if (out.length === 0) take(adv.related, false);
  if (out.length > 0) return out;
  const m = EMBEDDED_CVE.exec(adv.id);
  return [m ? m[1]! : adv.id];
}

/** `s` with white space runs made one space, trimmed, and cut to `max` characters (an ellipsis marking a cut). */
export function oneLine(s: string, max: number): string {
  const t = s.replace(/\s+/g, ' ').trim();
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
}

/** A link a finding may carry: http(s), at most `MAX_URL` long. */
export function usableUrl(u: unknown): u is string {
  return typeof u === 'string' && u.length <= MAX_URL && /^https?:\/\//i.test(u);
}

/**
 * Derives the matcher's facts from one record. `scores` may memoise `scoreVector` across records (an import
 * scores the same vector many times).
 *
 * @example
 * const facts = matchFactsOf(db.advisory('osv:DSA-5532-1')!);
 */
export function matchFactsOf(
  adv: AdvisoryRecord,
  scores: (vector: string) => CvssScore | undefined = scoreVector,
): MatchFacts {
  const cvss: CvssScore[] = [];
  const badVectors: string[] = [];
  for (const s of adv.severity) {
    const score = scores(s.vector);
    if (score === undefined) {
      if (!badVectors.includes(s.vector)) badVectors.push(s.vector);
    } else if (!cvss.some((c) => c.vector === score.vector)) cvss.push(score);
  }
  const aliasIds: string[] = [];
  const alias = (id: unknown): void => {
    if (typeof id === 'string' && !CVE.test(id) && !aliasIds.includes(id)) aliasIds.push(id);
  };
  alias(adv.id);
  for (const a of adv.aliases) alias(a);
  for (const u of adv.upstream) alias(u);
  for (const r of adv.related) alias(r);
  const urls: string[] = [];
  let advisoryUrl: string | undefined;
  for (const r of adv.references) {
    if (!usableUrl(r.url)) continue;
    if (advisoryUrl === undefined && r.type === 'ADVISORY') advisoryUrl = r.url;
    if (urls.length < MAX_FACT_URLS && !urls.includes(r.url)) urls.push(r.url);
    else if (advisoryUrl !== undefined && urls.length >= MAX_FACT_URLS) break;
  }
  return factsObject(
    adv.key,
    adv.id,
    adv.origin,
    adv.withdrawn !== undefined,
    vulnerabilityIds(adv),
    cvss,
    badVectors,
    adv.distroSeverity,
    aliasIds,
    adv.published,
    adv.modified,
    typeof adv.summary === 'string' && adv.summary.trim() !== ''
      ? oneLine(adv.summary, MAX_SUMMARY)
      : undefined,
    advisoryUrl,
    urls,
  );
}

/**
 * Facts as one object, the optional fields present only when defined (after the others, in this order: the stored
 * JSON and everything built from facts see the same keys in the same order, whether derived here or read from a
 * packed row). Objects that gain properties after they are made go through map transitions, which V8 holds weakly:
 * one sample of each combination of the optional fields is kept alive below (see `shapes.ts`).
 */
export function factsObject(
  key: string,
  id: string,
  origin: AdvisoryOrigin,
  withdrawn: boolean,
  vulnIds: string[],
  cvss: CvssScore[],
  badVectors: string[],
  distroSeverity: string | undefined,
  aliasIds: string[],
  published: string | undefined,
  modified: string,
  summary: string | undefined,
  advisoryUrl: string | undefined,
  urls: string[],
): MatchFacts {
  const facts: MatchFacts = {
    key,
    id,
    origin,
    withdrawn,
    vulnIds,
    cvss,
    badVectors,
    aliasIds,
    modified,
    urls,
  };
  if (distroSeverity !== undefined) facts.distroSeverity = distroSeverity;
  if (published !== undefined) facts.published = published;
  if (summary !== undefined) facts.summary = summary;
  if (advisoryUrl !== undefined) facts.advisoryUrl = advisoryUrl;
  return facts;
}

export const isStringArray = (v: unknown): v is string[] =>
  Array.isArray(v) && v.every((x) => typeof x === 'string');
const optionalString = (v: unknown): boolean => v === undefined || typeof v === 'string';

/**
 * Whether `v` has the shape of `MatchFacts` (the key aside): facts read back as JSON from a database file, which may
 * be damaged or written by something else, are checked before the matcher walks their lists.
 */
export function hasFactsShape(v: unknown): v is MatchFacts {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const f = v as Record<string, unknown>;
  return (
    typeof f.id === 'string' &&
    typeof f.origin === 'string' &&
    (f.withdrawn === undefined || typeof f.withdrawn === 'boolean') &&
    isStringArray(f.vulnIds) &&
    Array.isArray(f.cvss) &&
    f.cvss.every(
      (c: unknown) =>
        typeof c === 'object' &&
        c !== null &&
        typeof (c as CvssScore).vector === 'string' &&
        typeof (c as CvssScore).version === 'string' &&
        typeof (c as CvssScore).baseScore === 'number' &&
        typeof (c as CvssScore).severity === 'string',
    ) &&
    isStringArray(f.badVectors) &&
    isStringArray(f.aliasIds) &&
    isStringArray(f.urls) &&
    typeof f.modified === 'string' &&
    optionalString(f.distroSeverity) &&
    optionalString(f.published) &&
    optionalString(f.summary) &&
    optionalString(f.advisoryUrl)
  );
}

// Facts are made for every advisory a match reads: one sample of each combination of the optional fields (see
// `factsObject`).
for (let optional = 0; optional < 16; optional++) {
  const some = (bit: number): string | undefined => (optional & bit ? 'x' : undefined);
  keepShape(factsObject('', '', 'osv', false, [], [], [], some(1), [], some(2), '', some(4), some(8), []));
}
