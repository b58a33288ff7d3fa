/**
 * Merging what the records say about one vulnerability of one installed (name, version) into what its finding
 * reports (see `match.ts` for the rules): the fix, the fix state, the severity, advisories, aliases, scores and
 * references. Used by the matcher at match time and by the verdicts (`verdict.ts`) at import time, so both say
 * exactly the same. Then the finding itself, for one installed package (`buildFinding`).
 *
 * Thousands of the objects made here are made and dropped by every match. Those whose maps V8 reaches through a
 * transition (class instances, frozen objects, objects given a property after they are made) keep a sample alive
 * (see `shapes.ts`, and the end of this file), so that the optimised code checking for those maps outlives garbage
 * collections.
 */
import { hash } from 'node:crypto';
import { SEVERITIES } from '../model/finding.js';
import type { CvssScore, Finding, Reference, VulnerabilityInfo } from '../model/finding.js';
import type { Package, PackageEcosystem } from '../model/inventory.js';
import { keepShape } from '../shapes.js';
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
 * the strings that finish its title, message and remediation. A class with every field from the start (see
 * `shapes.ts`).
 */
export class Merged {
  constructor(
    readonly vulnId: string,
    readonly fixedVersion: string | undefined,
    readonly fixState: VulnerabilityInfo['fixState'],
    readonly advisories: VulnerabilityInfo['advisories'],
    readonly aliases: string[],
    readonly cvss: CvssScore[],
    readonly decision: SeverityDecision,
    readonly shownRating: { source: string; rating: string } | undefined,
    readonly published: string | undefined,
    readonly modified: string | undefined,
    readonly references: Reference[],
    /** `VULN in `: the title, before the package. */
    readonly titleHead: string,
    /** ` is affected by VULN (DSA-…, USN-…): summary. Fixed in 1.2-3.`: the message, after the package. */
    readonly messageTail: string,
    /** `1.2-3 or later`: the remediation, after the package name; undefined without a fix. */
    readonly remedyTail: string | undefined,
    /** `VULN\0package\0`: the fingerprint's input, before the resource key. */
    readonly fingerprintHead: string,
  ) {}
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

/** One of a merged vulnerability's advisories, frozen (every finding of it shares it). */
function advisoryOf(id: string, origin: string, ecosystem: string): VulnerabilityInfo['advisories'][number] {
  return Object.freeze({ id, origin, ecosystem });
}

/**
 * Merges the entries that name one vulnerability (see the module comment), or undefined when together they say
 * the installed version is not affected. `badVectors` is told of each record with vectors that do not score (in
 * `badVectors` of its facts), before its scores are used; it is not called for the others (a function made per
 * match and called for every record would end up in optimised code that each garbage collection throws away).
 */
export function mergeGroup(
  vulnId: string,
  group: readonly Evaluated[],
  scheme: PackageEcosystem,
  badVectors: (facts: MatchFacts) => unknown,
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
    if (!known) advisories = addUnique(advisories, advisoryOf(adv.id, adv.origin, ecosystem));
    if (adv.badVectors.length > 0) badVectors(adv);
    for (const c of adv.cvss) {
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
  return new Merged(
    vulnId,
    fixedVersion,
    fixState,
    Object.freeze(advisories!) as Merged['advisories'],
    Object.freeze(aliases ?? []) as string[],
    Object.freeze(cvss ?? []) as CvssScore[],
    decision,
    shownRating && Object.freeze(shownRating),
    published,
    modified,
    referencesFor(vulnId, records!),
    `${vulnId} in `,
    ` is affected by ${vulnId}${idsText}${summary ? `: ${summary}` : ''}${outcomeText}`,
    fixedVersion !== undefined ? `${fixedVersion} or later` : undefined,
    `${vulnId}\0package\0`,
  );
}

/**
 * The finding's references: the CVE, each matched advisory, then the records' links; deduplicated and capped.
 * Frozen, with each reference: every finding of the merged vulnerability shares them.
 */
export function referencesFor(vulnId: string, records: readonly MatchFacts[]): Reference[] {
  const out = collectReferences(vulnId, records);
  for (const r of out) Object.freeze(r);
  return Object.freeze(out) as Reference[];
}

/** A reference with a link. */
function linked(type: string, id: string, url: string): Reference {
  return { type, id, url };
}

/** A reference without a link (made in one piece, not given its `url` later: see `shapes.ts`). */
function unlinked(type: string, id: string): Reference {
  return { type, id };
}

function collectReferences(vulnId: string, records: readonly MatchFacts[]): Reference[] {
  const out: Reference[] = [];
  if (isCve(vulnId)) out.push(linked('cve', vulnId, `https://nvd.nist.gov/vuln/detail/${vulnId}`));
  for (const adv of records) {
    if (out.length >= MAX_REFERENCES) break;
    if (adv.id === vulnId) continue;
    let known = false;
    for (const r of out) if (r.type === 'advisory' && r.id === adv.id) known = true;
    if (known) continue;
    out.push(
      adv.advisoryUrl !== undefined
        ? linked('advisory', adv.id, adv.advisoryUrl)
        : unlinked('advisory', adv.id),
    );
  }
  for (const adv of records) {
    for (const url of adv.urls) {
      if (out.length >= MAX_REFERENCES) return out;
      // Every link taken is the `url` of a reference in `out`: at most `MAX_REFERENCES` to look through.
      let taken = false;
      for (const r of out) if (r.url === url) taken = true;
      if (!taken) out.push(linked('url', url, url));
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Findings.

/**
 * What every finding of one installed package shares, worked out once per package: the package as matched
 * (`matchedName` and `installed`: the source or binary name and version the advisories key on), its package URL,
 * and the fingerprint's prefix (`TARGET/`, or '').
 */
export class PerPackage {
  /** The finding's `vulnerability.package`, `resource` and `evidence`: one frozen object each per package. */
  readonly vulnPackage: VulnerabilityInfo['package'];
  readonly resource: Finding['resource'];
  readonly evidence: NonNullable<Finding['evidence']>;
  /** `TARGET/name:arch`: the resource part of the fingerprint. */
  readonly resourceKey: string;
  /** `name version`: the title, after the vulnerability. */
  readonly head: string;
  /** `name version`, and ` (source name version)` when they differ: the message, before the vulnerability. */
  readonly messageHead: string;
  /** `Upgrade name to `: the remediation, before the fix. */
  readonly remedyHead: string;

  constructor(
    readonly pkg: Package,
    readonly matchedName: string,
    readonly installed: string,
    purl: string,
    prefix: string,
  ) {
    const head = `${pkg.name} ${pkg.version}`;
    this.vulnPackage = Object.freeze({
      name: pkg.name,
      version: pkg.version,
      arch: pkg.arch,
      ecosystem: pkg.ecosystem,
      sourceName: pkg.sourceName,
      sourceVersion: pkg.sourceVersion,
      purl,
    });
    this.resource = Object.freeze({ type: 'package', id: `${pkg.name}@${pkg.version}` });
    this.evidence = Object.freeze({ file: pkg.source, key: pkg.name, value: pkg.version });
    this.resourceKey = `${prefix}${pkg.name}:${pkg.arch}`;
    this.head = head;
    this.messageHead =
      matchedName !== pkg.name || installed !== pkg.version
        ? `${head} (source ${matchedName} ${installed})`
        : head;
    this.remedyHead = `Upgrade ${pkg.name} to `;
  }
}

/**
 * The finding for one merged vulnerability of one package. What it shares with other findings (the merged
 * vulnerability's aliases, advisories, scores and references; the package's description, resource and evidence)
 * is frozen and shared rather than copied for each: thousands of findings, each with up to `MAX_REFERENCES`
 * references, were most of a match's allocations. A caller that wants to change a finding copies it first (as
 * `applyVex` does). The optional fields come last, in a fixed order, when they are set: a sample of each
 * combination is kept below.
 */
export function buildFinding(m: Merged, p: PerPackage): Finding {
  const info: VulnerabilityInfo = {
    id: m.vulnId,
    aliases: m.aliases,
    advisories: m.advisories,
    package: p.vulnPackage,
    matchedName: p.matchedName,
    installedVersion: p.installed,
    fixState: m.fixState,
    cvss: m.cvss,
    severitySource: m.decision.source,
  };
  if (m.fixedVersion !== undefined) info.fixedVersion = m.fixedVersion;
  if (m.shownRating) info.distroSeverity = m.shownRating;
  if (m.published) info.published = m.published;
  if (m.modified) info.modified = m.modified;

  const finding: Finding = {
    // The same as `fingerprint(checkId, 'package', resource)` of `model/finding.ts`, with the one-shot `crypto.hash`
    // (a hasher object per finding costs twice as much, and there are thousands of findings).
    id: hash('sha256', m.fingerprintHead + p.resourceKey, 'hex').slice(0, 16),
    checkId: m.vulnId,
    severity: m.decision.severity,
    status: 'fail',
    title: m.titleHead + p.head,
    message: p.messageHead + m.messageTail,
    resource: p.resource,
    evidence: p.evidence,
    references: m.references,
    vulnerability: info,
  };
  if (m.remedyTail !== undefined) finding.remediation = p.remedyHead + m.remedyTail;
  return finding;
}

// ---------------------------------------------------------------------------------------------------------------
// The samples kept (see `shapes.ts` and the module comment): one object of each map the hot path reaches through a
// transition. A frozen object has a map of its own; an array frozen empty has that of one frozen with elements.
keepShape(advisoryOf('', 'osv', ''));
const FROZEN_NONE = keepShape(Object.freeze([])) as never[];
// `shownRating`: `decideSeverity`'s rating or a copy of a candidate's, frozen; both literals `{ source, rating }`.
const FROZEN_RATING = keepShape(Object.freeze({ source: '', rating: '' }));
keepShape(Object.freeze(linked('cve', '', '')));
keepShape(Object.freeze(unlinked('advisory', '')));
{
  const pkg: Package = {
    ecosystem: 'deb',
    name: 'p',
    version: '1',
    arch: 'all',
    sourceName: 'p',
    sourceVersion: '1',
    source: '',
  };
  const p = keepShape(new PerPackage(pkg, 'p', '1', '', ''));
  const decision = decideSeverity(NONE_YET, NONE_YET);
  // Every combination of the finding's optional fields (`buildFinding`), and one `Merged`.
  for (let optional = 0; optional < 32; optional++) {
    const some = (bit: number): string | undefined => (optional & bit ? 'x' : undefined);
    const m = new Merged(
      'CVE-0000-0000',
      some(1),
      'not-fixed',
      FROZEN_NONE,
      FROZEN_NONE,
      FROZEN_NONE,
      decision,
      optional & 2 ? FROZEN_RATING : undefined,
      some(4),
      some(8),
      FROZEN_NONE,
      '',
      '',
      some(16),
      '',
    );
    keepShape(buildFinding(m, p));
    if (optional === 0) keepShape(m);
  }
}
