/**
 * Merging what the records say about one vulnerability of one installed (name, version) into what its finding
 * reports (see `match.ts` for the rules): the fix, the fix state, the severity, advisories, aliases, scores and
 * references. Used by the matcher at match time and by the verdicts (`verdict.ts`) at import time, so both say
 * exactly the same.
 */
import { SEVERITIES } from '../model/finding.js';
import type { CvssScore, Reference, VulnerabilityInfo } from '../model/finding.js';
import type { PackageEcosystem } from '../model/inventory.js';
import { isCve, MAX_REFERENCES } from './facts.js';
import type { EntryView, PackedRow } from './packed.js';
import type { RangeOutcome } from './range.js';
import { decideSeverity, distroRating, type SeverityDecision } from './severity.js';
import type { MatchFacts } from './types.js';
import { compareVersions } from './version/index.js';

/** One entry that says something about one installed (name, version). */
export interface Evaluated {
  entry: EntryView;
  /** The advisory's key ('' for an entry of a packed row: its facts come from the row). */
  advisoryKey: string;
  /** For an entry of a packed row: the row and where its advisory's facts are in it. */
  row?: PackedRow;
  ref?: number;
  outcome: RangeOutcome;
  /** Whose rating the entry carries (`ratingSource` of its distro). */
  source: string;
  /** Resolved when needed; null for a withdrawn or missing advisory. */
  facts?: MatchFacts | null;
}

/** A distro rating as a candidate for a finding's severity (see `mergeGroup`), or nothing for a blank one. */
export function pushRating(
  out: RatingCandidate[] | undefined,
  rating: string | undefined,
  tier: number,
  source: string,
): RatingCandidate[] | undefined {
  if (typeof rating !== 'string' || rating.trim() === '') return out;
  const sev = distroRating(rating);
  const rank = sev ? SEVERITIES.length - SEVERITIES.indexOf(sev) : 0;
  const c = { tier, rank, source, rating };
  if (out === undefined) return [c];
  out.push(c);
  return out;
}

/**
 * What the records say about one vulnerability of one installed (name, version): everything but the package. The
 * arrays and objects here go into every finding built from it as they are (frozen: see `buildFinding`), and so do
 * the strings that finish its title, message and remediation.
 */
export interface Merged {
  vulnId: string;
  fixedVersion: string | undefined;
  fixState: VulnerabilityInfo['fixState'];
  advisories: VulnerabilityInfo['advisories'];
  aliases: string[];
  cvss: CvssScore[];
  decision: SeverityDecision;
  shownRating: { source: string; rating: string } | undefined;
  published: string | undefined;
  modified: string | undefined;
  references: Reference[];
  /** `VULN in `: the title, before the package. */
  titleHead: string;
  /** ` is affected by VULN (DSA-…, USN-…): summary. Fixed in 1.2-3.`: the message, after the package. */
  messageTail: string;
  /** `1.2-3 or later`: the remediation, after the package name; undefined without a fix. */
  remedyTail: string | undefined;
  /** `VULN\0package\0`: the fingerprint's input, before the resource key. */
  fingerprintHead: string;
}

/** An empty list to read. */
const NONE_YET: readonly never[] = Object.freeze([]);

/** `list` with `x` added at its end unless it is there already; a new list of one when there is no list yet. */
function addUnique<T>(list: T[] | undefined, x: T): T[] {
  if (list === undefined) return [x];
  if (!list.includes(x)) list.push(x);
  return list;
}

/** A distro rating a finding's severity may come from (see `mergeGroup`). */
interface RatingCandidate {
  tier: number;
  rank: number;
  source: string;
  rating: string;
}

/**
 * Merges the entries that name one vulnerability (see the module comment), or undefined when together they say
 * the installed version is not affected.
 */
export function mergeGroup(
  vulnId: string,
  group: readonly Evaluated[],
  scheme: PackageEcosystem,
  cvssOf: (facts: MatchFacts) => CvssScore[],
): Merged | undefined {
  // The highest fix of the affected entries (the first of equals); a fixed record beats records without a fix.
  let fixedVersion: string | undefined;
  let anyAffected = false;
  let anyFixed = false;
  let wontFix = false;
  for (const e of group) {
    const o = e.outcome;
    if (o.state === 'fixed') anyFixed = true;
    if (o.state !== 'affected') continue;
    anyAffected = true;
    if (e.entry.wontFix) wontFix = true;
    if (o.fixed === undefined) continue;
    if (fixedVersion === undefined) fixedVersion = o.fixed;
    else {
      try {
        if (compareVersions(scheme, o.fixed, fixedVersion) > 0) fixedVersion = o.fixed;
      } catch {
        // Versions here were validated when the entry was prepared.
      }
    }
  }
  if (!anyAffected || (fixedVersion === undefined && anyFixed)) return undefined;
  const fixState: VulnerabilityInfo['fixState'] =
    fixedVersion !== undefined ? 'fixed' : wontFix ? 'wont-fix' : 'not-fixed';

  // Records in order of first appearance; one advisory per (record, ecosystem). Distro ratings: single-vulnerability
  // records before multi-CVE advisories, per-package before per-record, the highest first within a tier. Lists start
  // as a list of one (most vulnerabilities come from one record; a list grown by `push` holds room for 16).
  let records: MatchFacts[] | undefined;
  let advisories: VulnerabilityInfo['advisories'] | undefined;
  let cvss: CvssScore[] | undefined;
  let candidates: RatingCandidate[] | undefined;
  for (const e of group) {
    if (e.outcome.state !== 'affected') continue;
    const adv = e.facts!;
    records = addUnique(records, adv);
    const ecosystem = e.entry.ecosystem;
    let known = false;
    if (advisories)
      for (const a of advisories) if (a.id === adv.id && a.ecosystem === ecosystem) known = true;
    if (!known) {
      advisories = addUnique(advisories, Object.freeze({ id: adv.id, origin: adv.origin, ecosystem }));
    }
    for (const c of cvssOf(adv)) {
      let seen = false;
      if (cvss) for (const x of cvss) if (x.vector === c.vector) seen = true;
      if (!seen) cvss = addUnique(cvss, c);
    }
    const single = adv.vulnIds.length === 1 ? 0 : 2;
    candidates = pushRating(candidates, e.entry.distroSeverity, single, e.source);
    candidates = pushRating(candidates, adv.distroSeverity, single + 1, e.source);
  }
  if (candidates && candidates.length > 1) candidates.sort((a, b) => a.tier - b.tier || b.rank - a.rank);
  const decision = decideSeverity(candidates ?? NONE_YET, cvss ?? NONE_YET);
  const first = candidates?.[0];
  // The decision's own rating object is made for it; a first candidate's is copied out.
  const shownRating = decision.distro ?? (first ? { source: first.source, rating: first.rating } : undefined);

  // A CVE is an alias only of itself: the other CVEs of a multi-CVE advisory get findings of their own.
  let aliases: string[] | undefined;
  let published: string | undefined;
  let modified: string | undefined;
  let summary: string | undefined;
  for (const adv of records!) {
    for (const id of adv.aliasIds) if (id !== vulnId) aliases = addUnique(aliases, id);
    if (adv.published && (published === undefined || adv.published < published)) published = adv.published;
    if (adv.modified && (modified === undefined || adv.modified > modified)) modified = adv.modified;
    if (summary === undefined) summary = adv.summary;
  }

  let ids: string[] | undefined;
  for (const a of advisories!) if (a.id !== vulnId) ids = addUnique(ids, a.id);
  ids ??= [];
  const idsText = ids.length > 0 ? ` (${ids.slice(0, 5).join(', ')}${ids.length > 5 ? ', …' : ''})` : '';
  const outcomeText =
    fixState === 'fixed'
      ? `. Fixed in ${fixedVersion}.`
      : fixState === 'wont-fix'
        ? '. No fix yet: the distribution does not plan to fix it.'
        : '. No fix yet.';
  // The scores are the facts' own objects, which live as long as this call: frozen where they are.
  if (cvss) for (const c of cvss) Object.freeze(c);
  return {
    vulnId,
    fixedVersion,
    fixState,
    advisories: Object.freeze(advisories!) as Merged['advisories'],
    aliases: Object.freeze(aliases ?? []) as string[],
    cvss: Object.freeze(cvss ?? []) as CvssScore[],
    decision,
    shownRating: shownRating && Object.freeze(shownRating),
    published,
    modified,
    references: referencesFor(vulnId, records!),
    titleHead: `${vulnId} in `,
    messageTail: ` is affected by ${vulnId}${idsText}${summary ? `: ${summary}` : ''}${outcomeText}`,
    remedyTail: fixedVersion !== undefined ? `${fixedVersion} or later` : undefined,
    fingerprintHead: `${vulnId}\0package\0`,
  };
}

/**
 * The finding's references: the CVE, each matched advisory, then the records' links; deduplicated and capped.
 * Frozen, with each reference: every finding of the merged vulnerability shares them.
 */
export function referencesFor(vulnId: string, records: readonly MatchFacts[]): Reference[] {
  return Object.freeze(collectReferences(vulnId, records).map((r) => Object.freeze(r))) as Reference[];
}

function collectReferences(vulnId: string, records: readonly MatchFacts[]): Reference[] {
  const out: Reference[] = [];
  if (isCve(vulnId)) out.push({ type: 'cve', id: vulnId, url: `https://nvd.nist.gov/vuln/detail/${vulnId}` });
  for (const adv of records) {
    if (out.length >= MAX_REFERENCES) break;
    if (adv.id === vulnId) continue;
    let known = false;
    for (const r of out) if (r.type === 'advisory' && r.id === adv.id) known = true;
    if (known) continue;
    const ref: Reference = { type: 'advisory', id: adv.id };
    if (adv.advisoryUrl !== undefined) ref.url = adv.advisoryUrl;
    out.push(ref);
  }
  for (const adv of records) {
    for (const url of adv.urls) {
      if (out.length >= MAX_REFERENCES) return out;
      // Every link taken is the `url` of a reference in `out`: at most `MAX_REFERENCES` to look through.
      let taken = false;
      for (const r of out) if (r.url === url) taken = true;
      if (!taken) out.push({ type: 'url', id: url, url });
    }
  }
  return out;
}
