/**
 * The vulnerability matcher: installed packages against an advisory index, one finding per vulnerability and
 * package. Pure over its inputs (the index is read, nothing else); all caches live for one call.
 *
 * How a package is matched:
 * - The distro keys come from the inventory's OS (`distroKeysFor`). Debian, Ubuntu and Alpine key advisories by
 *   source package: the package's source name is looked up and its SOURCE version compared (a binNMU `+b1` does
 *   not hide a fix). The RPM distributions key by binary package: the binary name and its EVR are used.
 * - An entry restricted to architectures applies only when the package's architecture is among them, spellings
 *   normalised (`amd64` = `x86_64`, `arm64` = `aarch64`, `i386`..`i686`, `ppc64el` = `ppc64le`); `noarch`/`all`
 *   packages (and entries listing them) always fit, and a package of unknown architecture fits everything.
 * - RPM module streams: an RPM whose release contains `.module+` or `.module_` (`…module+el8.9.0+…`) is modular.
 *   A module-restricted entry applies only to modular packages and an unrestricted entry only to non-modular
 *   ones. Which stream a package came from is not written in its release, so only presence/absence of a module is
 *   matched, not the stream name: a modular package can be matched by another stream's entry of the same name.
 * - Each entry is evaluated by the OSV algorithm (`range.ts`); records with unusable versions are reported in
 *   `notes` and skipped, never thrown.
 *
 * How findings are formed:
 * - The vulnerability id is the record's CVE: its id if it is one, else every CVE among its aliases (an RHSA naming
 *   three CVEs yields three findings), else a CVE embedded in a per-CVE id (`DEBIAN-CVE-2024-1234`,
 *   `UBUNTU-CVE-…`), else the record's own id.
 * - Records naming the same vulnerability for the same package merge: ids and aliases unioned, the highest fixed
 *   version reported. A record that says the installed version is fixed (a `fixed` event at or below it) beats
 *   records that know no fix: the vulnerability is not reported unless some affected record has a fix to offer.
 *   No fix anywhere and a "will not fix" from the distro: `wont-fix`. Withdrawn records are ignored.
 * - Severity: the distro's rating (records about that one CVE first, then advisories covering several; the
 *   highest within each), else CVSS (4.0 over 3.x over 2.0), else `medium` marked `none` (see `severity.ts`).
 *
 * What is read of an advisory is its `MatchFacts` (`facts.ts`): stored by the database at import time, derived
 * from the record for an index without them. Findings are the same either way.
 */
import { hash } from 'node:crypto';
import { SEVERITIES } from '../model/finding.js';
import type { CvssScore, Finding, Reference, VulnerabilityInfo } from '../model/finding.js';
import type { Package, PackageEcosystem, SystemInventory } from '../model/inventory.js';
import { packageUrl } from '../report/purl.js';
import { scoreVector } from './cvss.js';
import { distroKeysFor } from './ecosystem.js';
import { isCve, matchFactsOf, MAX_REFERENCES, oneLine } from './facts.js';
import { evaluateChecked, isValidVersion, type RangeOutcome } from './range.js';
import { decideSeverity, distroRating, ratingSource, type SeverityDecision } from './severity.js';
import type { EntryView, PackedRow } from './packed.js';
import type { AdvisoryIndex, AffectedHit, AffectedPackage, DistroKey, MatchFacts } from './types.js';
import { compareVersions } from './version/index.js';

export { MAX_REFERENCES, vulnerabilityIds } from './facts.js';

/** Notes beyond this many are counted, not kept. */
export const MAX_NOTES = 200;

export interface MatchOptions {
  /**
   * The scanned target (image path, host name). When given it is part of each finding's fingerprint, as other
   * analyzers include theirs, so the same package on two targets gives two findings in one store.
   */
  target?: string;
}

export interface MatchResult {
  findings: Finding[];
  /** What could not be used: bad records, invalid installed versions, an OS without advisory data. */
  notes: string[];
}

/** One entry that says something about one installed (name, version). */
interface Evaluated {
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

/** Everything said about one installed (name, version). */
interface Evaluation {
  list: Evaluated[];
  /** Some entry says the version is affected. */
  anyAffected: boolean;
  /** Some entry is restricted to architectures: results differ by architecture. */
  archRestricted: boolean;
  /** The merged vulnerabilities, by architecture (when restricted) and modularity (second pass). */
  merged?: Map<string, Merged[]>;
}

/** One installed package as the matcher keys it, and what was found out about it in the first pass. */
interface Item {
  pkg: Package;
  scheme: PackageEcosystem;
  /** Source or binary name, as the distro keys its advisories. */
  name: string;
  version: string;
  /** Undefined: the installed version is invalid, not matched. */
  evaluation?: Evaluation;
  /** Notes to give, in order, when the second pass reaches this package (as a one-pass matcher would). */
  notes?: string[];
}

/** One architecture spelling per architecture; `noarch` for architecture-independent packages. */
export function normalizeArch(arch: string): string {
  const a = arch.trim().toLowerCase();
  switch (a) {
    case 'amd64':
    case 'x86_64':
    case 'x86-64':
      return 'x86_64';
    case 'arm64':
    case 'aarch64':
      return 'aarch64';
    case 'i386':
    case 'i486':
    case 'i586':
    case 'i686':
    case 'x86':
      return 'i686';
    case 'ppc64el':
    case 'ppc64le':
      return 'ppc64le';
    case 'all':
    case 'noarch':
    case 'any':
      return 'noarch';
    default:
      return a;
  }
}

/** Whether an entry restricted to `arches` applies to a package of (normalised) architecture `arch`. */
function archFits(arches: readonly string[] | undefined, arch: string): boolean {
  if (!arches || arches.length === 0 || arch === '' || arch === 'noarch') return true;
  for (const a of arches) {
    const n = normalizeArch(a);
    if (n === arch || n === 'noarch') return true;
  }
  return false;
}

/** Whether an RPM EVR's release marks a module build (`.module+el8.9.0+…`, `.module_el8…`). */
export function isModularRelease(evr: string): boolean {
  const hyphen = evr.lastIndexOf('-');
  if (hyphen < 0) return false;
  return /\.module[+_]/.test(evr.slice(hyphen + 1));
}

/**
 * Matches every package of an inventory against the advisories of its OS release.
 *
 * Two passes: the first evaluates every installed (name, version) against the entries of its package, fetched for
 * the whole inventory at once when the index can (`lookupMany`); the advisories that affect something are then
 * fetched in one batch (`matchFacts`); the second pass merges and builds the findings, package by package, and
 * gives the notes in the order a one-pass matcher would.
 *
 * @example
 * const { findings, notes } = matchInventory(inventory, new MemoryAdvisoryIndex(advisories), { target: 'vm.qcow2' });
 */
export function matchInventory(
  inv: SystemInventory,
  index: AdvisoryIndex,
  opts: MatchOptions = {},
): MatchResult {
  const findings: Finding[] = [];
  const notes: string[] = [];
  const noteSet = new Set<string>();
  let dropped = 0;
  const note = (text: string): void => {
    if (noteSet.has(text)) return;
    if (notes.length >= MAX_NOTES) {
      dropped++;
      return;
    }
    noteSet.add(text);
    notes.push(text);
  };

  const { keys, bySource } = distroKeysFor(inv.os);
  if (keys.length === 0) {
    if (inv.packages.length > 0) {
      const os = inv.os
        ? (inv.os.prettyName ?? `${inv.os.id} ${inv.os.versionId ?? ''}`.trim())
        : 'unknown OS';
      note(
        `no advisory data applies to ${os}: ${inv.packages.length} packages not checked for vulnerabilities`,
      );
    }
    return { findings, notes };
  }
  const sources = keys.map(ratingSource);

  // Per-call caches: an installed version checked once, a (name, version) evaluated once however many binary
  // packages share that source, an advisory's facts resolved once.
  const evalCache = new Map<string, Evaluation>();
  const validCache = new Map<PackageEcosystem, Map<string, boolean>>();
  const factsCache = new Map<string, MatchFacts | null>();

  // First pass: every package keyed, its version checked, and the entries of its name fetched and evaluated.
  const items: Item[] = [];
  for (const pkg of inv.packages) {
    const scheme = pkg.ecosystem;
    const name = bySource ? pkg.sourceName || pkg.name : pkg.name;
    const version = bySource ? pkg.sourceVersion || pkg.version : pkg.version;
    items.push({ pkg, scheme, name, version });
  }
  const packed = packedRows(index, keys, items);
  const bulk = packed ? undefined : bulkHits(index, keys, items);

  // Problems with a record are reported with the record's id; the advisory is fetched only when there is one.
  let currentKey = '';
  let currentEntry: AffectedPackage | undefined;
  let pending: string[] | undefined;
  const report = (problem: string): void => {
    if (!currentEntry) return;
    const id = index.advisory(currentKey)?.id ?? currentKey;
    (pending ??= []).push(`${id} (${currentEntry.ecosystem} ${currentEntry.package}): ${problem}`);
  };

  // Entries that say nothing about the version are dropped at once.
  const NONE: Evaluation = { list: [], anyAffected: false, archRestricted: false };
  const evaluate = (scheme: PackageEcosystem, name: string, version: string): Evaluation => {
    const ck = `${scheme}\0${name}\0${version}`;
    const cached = evalCache.get(ck);
    if (cached) return cached;
    let ev = NONE;
    for (let k = 0; k < keys.length; k++) {
      const source = sources[k]!;
      if (packed) {
        const row = packed[k]!.get(name);
        row?.evaluate(
          scheme,
          version,
          (outcome, entry, ref) => {
            if (ev === NONE) ev = { list: [], anyAffected: false, archRestricted: false };
            ev.list.push({ entry, advisoryKey: '', outcome, source, row, ref, facts: undefined });
            if (outcome.state === 'affected') ev.anyAffected = true;
            if (Array.isArray(entry.arches) && entry.arches.length > 0) ev.archRestricted = true;
          },
          (entry, advisoryKey) => {
            currentKey = advisoryKey;
            currentEntry = entry;
            return evaluateChecked(scheme, version, entry, report);
          },
        );
        continue;
      }
      const hits = bulk ? (bulk[k]!.get(name) ?? NO_HITS) : index.lookup(keys[k]!, name);
      for (const hit of hits) {
        const entry = hit.affected;
        // The index answers for this (distro, name); an entry of another version scheme cannot be compared.
        if (entry.scheme !== scheme) continue;
        currentKey = hit.advisoryKey;
        currentEntry = entry;
        const outcome = evaluateChecked(scheme, version, entry, report);
        if (outcome.state === 'unaffected') continue;
        if (ev === NONE) ev = { list: [], anyAffected: false, archRestricted: false };
        ev.list.push({
          entry,
          advisoryKey: hit.advisoryKey,
          outcome,
          source,
          row: undefined,
          ref: undefined,
          facts: undefined,
        });
        if (outcome.state === 'affected') ev.anyAffected = true;
        if (Array.isArray(entry.arches) && entry.arches.length > 0) ev.archRestricted = true;
      }
    }
    currentEntry = undefined;
    evalCache.set(ck, ev);
    return ev;
  };

  // The advisories the second pass may need: those of entries that say "affected", and those that say "fixed"
  // where some entry of the same package knows no fix (a fixed record beats an unfixed one).
  const wanted = new Set<string>();
  for (const item of items) {
    let validity = validCache.get(item.scheme);
    if (validity === undefined) validCache.set(item.scheme, (validity = new Map()));
    let valid = validity.get(item.version);
    if (valid === undefined) validity.set(item.version, (valid = isValidVersion(item.scheme, item.version)));
    if (!valid) {
      item.notes = [
        `${oneLine(String(item.pkg.name), 80)}: installed version '${oneLine(String(item.version), 80)}' is not a valid ${item.scheme} version; not matched`,
      ];
      continue;
    }
    const seen = evalCache.size;
    pending = undefined;
    const ev = evaluate(item.scheme, item.name, item.version);
    if (pending !== undefined && evalCache.size > seen) item.notes = pending;
    item.evaluation = ev;
    if (packed || !ev.anyAffected || evalCache.size === seen) continue;
    let unfixed = false;
    for (const e of ev.list) {
      if (e.outcome.state !== 'affected') continue;
      wanted.add(e.advisoryKey);
      if (e.outcome.fixed === undefined) unfixed = true;
    }
    if (unfixed) for (const e of ev.list) if (e.outcome.state === 'fixed') wanted.add(e.advisoryKey);
  }

  // The facts of those advisories: one batch from an index that stores them, else derived from each record.
  const score = memoScore();
  const stored = index.matchFacts && wanted.size > 0 ? index.matchFacts([...wanted]) : undefined;
  const factsOf = (key: string): MatchFacts | undefined => {
    let facts = factsCache.get(key);
    if (facts === undefined) {
      if (stored) facts = stored.get(key) ?? null;
      else {
        const adv = index.advisory(key);
        facts = adv ? matchFactsOf(adv, score) : null;
      }
      if (facts?.withdrawn) facts = null;
      factsCache.set(key, facts);
    }
    return facts ?? undefined;
  };
  const factsFor = (e: Evaluated): MatchFacts | undefined => {
    if (e.facts === undefined) {
      if (e.row) {
        // One object per advisory of a row (the row keeps them).
        const facts = e.row.facts(e.ref!);
        e.facts = facts?.withdrawn ? null : facts;
      } else e.facts = factsOf(e.advisoryKey) ?? null;
    }
    return e.facts ?? undefined;
  };
  // A vector that does not score is reported once per call, with the first record that has it.
  const badNoted = new Set<string>();
  const cvssOf = (facts: MatchFacts): CvssScore[] => {
    for (const v of facts.badVectors) {
      if (badNoted.has(v)) continue;
      badNoted.add(v);
      note(`${facts.id}: invalid CVSS vector '${oneLine(String(v), 120)}' skipped`);
    }
    return facts.cvss;
  };

  // Second pass. Merged vulnerabilities per (name, version, architecture class when it matters, modularity):
  // shared by every binary package of one source, so the merging is done once.
  // Findings are unique by fingerprint, that is by (vulnerability, resource key): the vulnerabilities merged for one
  // package are distinct, so only a resource key met before (two packages of one name and architecture) can repeat.
  const seen = new Map<string, Merged[] | Set<string>>();
  const prefix = opts.target !== undefined ? `${opts.target}/` : '';
  for (const item of items) {
    if (item.notes) for (const n of item.notes) note(n);
    const evaluation = item.evaluation;
    if (!evaluation?.anyAffected) continue;
    const { pkg, scheme, name, version } = item;

    const arch = normalizeArch(typeof pkg.arch === 'string' ? pkg.arch : '');
    const modular = scheme === 'rpm' && isModularRelease(pkg.version);
    const mk = `${evaluation.archRestricted ? arch : '*'}${modular ? '\0m' : ''}`;
    evaluation.merged ??= new Map();
    let merged = evaluation.merged.get(mk);
    if (!merged) {
      // Only vulnerabilities some applicable entry says are present need merging; entries that say the version is
      // fixed matter only for those without any fix on offer (a fixed record beats an unfixed one).
      const groups = new Map<string, Evaluated[]>();
      let unfixed = false;
      for (const e of evaluation.list) {
        if (e.outcome.state !== 'affected' || !applies(e, scheme, arch, modular)) continue;
        const facts = factsFor(e);
        if (!facts) continue;
        if (e.outcome.fixed === undefined) unfixed = true;
        for (const id of facts.vulnIds) {
          let g = groups.get(id);
          if (!g) groups.set(id, (g = []));
          g.push(e);
        }
      }
      if (unfixed) {
        for (const e of evaluation.list) {
          if (e.outcome.state !== 'fixed' || !applies(e, scheme, arch, modular)) continue;
          const facts = factsFor(e);
          if (facts) for (const id of facts.vulnIds) groups.get(id)?.push(e);
        }
      }
      merged = [];
      for (const vulnId of [...groups.keys()].sort()) {
        const m = mergeGroup(vulnId, groups.get(vulnId)!, scheme, cvssOf);
        if (m) merged.push(m);
      }
      evaluation.merged.set(mk, merged);
    }
    if (merged.length === 0) continue;

    let purl: string;
    try {
      purl = packageUrl(pkg, inv.os);
    } catch {
      purl = '';
    }
    const per = perPackage(pkg, name, version, purl, prefix);
    let before = seen.get(per.resourceKey);
    if (before === undefined) {
      seen.set(per.resourceKey, merged);
      for (const m of merged) findings.push(buildFinding(m, per));
      continue;
    }
    if (Array.isArray(before)) seen.set(per.resourceKey, (before = new Set(before.map((m) => m.vulnId))));
    for (const m of merged) {
      if (before.has(m.vulnId)) continue;
      before.add(m.vulnId);
      findings.push(buildFinding(m, per));
    }
  }
  if (dropped > 0) notes.push(`… and ${dropped} more notes`);
  return { findings, notes };
}

const NO_HITS: readonly AffectedHit[] = Object.freeze([]);

/** Whether an entry applies to a package of (normalised) architecture `arch` and modularity `modular`. */
function applies(e: Evaluated, scheme: PackageEcosystem, arch: string, modular: boolean): boolean {
  return archFits(e.entry.arches, arch) && (scheme !== 'rpm' || Boolean(e.entry.module) === modular);
}

/** A distro rating as a candidate for a finding's severity (see `mergeGroup`), or nothing for a blank one. */
function pushRating(
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
 * The hits of every package name for each distro key, from `lookupMany` when the index has it (one query per
 * key), else undefined (the matcher then asks `lookup` name by name).
 */
function bulkHits(
  index: AdvisoryIndex,
  keys: readonly DistroKey[],
  items: readonly Item[],
): Array<Map<string, AffectedHit[]>> | undefined {
  if (!index.lookupMany) return undefined;
  const names = [...new Set(items.map((i) => i.name))];
  return keys.map((k) => index.lookupMany!(k, names));
}

/**
 * The packed rows of every package name for each distro key, from `matchRows` when the index has it and can give
 * them for every key, else undefined (the matcher then reads hits).
 */
function packedRows(
  index: AdvisoryIndex,
  keys: readonly DistroKey[],
  items: readonly Item[],
): Array<Map<string, PackedRow>> | undefined {
  if (!index.matchRows) return undefined;
  const names = [...new Set(items.map((i) => i.name))];
  const out: Array<Map<string, PackedRow>> = [];
  for (const k of keys) {
    const rows = index.matchRows(k, names);
    if (!rows) return undefined;
    out.push(rows);
  }
  return out;
}

/** `scoreVector` memoised for one call. */
function memoScore(): (vector: string) => CvssScore | undefined {
  const cache = new Map<string, CvssScore | null>();
  return (vector) => {
    let s = cache.get(vector);
    if (s === undefined) cache.set(vector, (s = scoreVector(vector) ?? null));
    return s ?? undefined;
  };
}

/**
 * What the records say about one vulnerability of one installed (name, version): everything but the package. The
 * arrays and objects here go into every finding built from it as they are (frozen: see `buildFinding`), and so do
 * the strings that finish its title, message and remediation.
 */
interface Merged {
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
function mergeGroup(
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

/** What every finding of one installed package shares, worked out once per package. */
interface PerPackage {
  pkg: Package;
  matchedName: string;
  installed: string;
  /** The finding's `vulnerability.package`, `resource` and `evidence`: one frozen object each per package. */
  vulnPackage: VulnerabilityInfo['package'];
  resource: Finding['resource'];
  evidence: NonNullable<Finding['evidence']>;
  /** `TARGET/name:arch`: the resource part of the fingerprint. */
  resourceKey: string;
  /** `name version`: the title, after the vulnerability. */
  head: string;
  /** `name version`, and ` (source name version)` when they differ: the message, before the vulnerability. */
  messageHead: string;
  /** `Upgrade name to `: the remediation, before the fix. */
  remedyHead: string;
}

function perPackage(
  pkg: Package,
  matchedName: string,
  installed: string,
  purl: string,
  prefix: string,
): PerPackage {
  const head = `${pkg.name} ${pkg.version}`;
  return {
    pkg,
    matchedName,
    installed,
    vulnPackage: Object.freeze({
      name: pkg.name,
      version: pkg.version,
      arch: pkg.arch,
      ecosystem: pkg.ecosystem,
      sourceName: pkg.sourceName,
      sourceVersion: pkg.sourceVersion,
      purl,
    }),
    resource: Object.freeze({ type: 'package', id: `${pkg.name}@${pkg.version}` }),
    evidence: Object.freeze({ file: pkg.source, key: pkg.name, value: pkg.version }),
    resourceKey: `${prefix}${pkg.name}:${pkg.arch}`,
    head,
    messageHead:
      matchedName !== pkg.name || installed !== pkg.version
        ? `${head} (source ${matchedName} ${installed})`
        : head,
    remedyHead: `Upgrade ${pkg.name} to `,
  };
}

/**
 * The finding for one merged vulnerability of one package. What it shares with other findings (the merged
 * vulnerability's aliases, advisories, scores and references; the package's description, resource and evidence)
 * is frozen and shared rather than copied for each: thousands of findings, each with up to `MAX_REFERENCES`
 * references, were most of a match's allocations. A caller that wants to change a finding copies it first (as
 * `applyVex` does).
 */
function buildFinding(m: Merged, p: PerPackage): Finding {
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

/**
 * The finding's references: the CVE, each matched advisory, then the records' links; deduplicated and capped.
 * Frozen, with each reference: every finding of the merged vulnerability shares them.
 */
function referencesFor(vulnId: string, records: readonly MatchFacts[]): Reference[] {
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
