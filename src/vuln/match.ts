/**
 * The vulnerability matcher: installed packages against an advisory index, one finding per vulnerability and
 * package. Pure over its inputs (the index is read, nothing else); all caches live for one call and its
 * `findings()`, which reads the index again (the packed rows of what matched).
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
 *
 * Matching and building the findings are two steps (`matchPackages`, then its `findings()`; `matchInventory` does
 * both). Where the index has verdicts (`verdict.ts`: everything above worked out at import time for every position
 * an installed version can take among the versions a package's advisories name), the first step is a binary search
 * and a look at a few intervals per package, and the second merges again, from the packed row, only what matched.
 */
import type { CvssScore, Finding } from '../model/finding.js';
import type { Package, PackageEcosystem, SystemInventory } from '../model/inventory.js';
import { packageUrl } from '../report/purl.js';
import { scoreVector } from './cvss.js';
import { distroKeysFor } from './ecosystem.js';
import { matchFactsOf, oneLine } from './facts.js';
import { evaluateChecked, isValidVersion } from './range.js';
import { prepareVersion, type PreparedVersion } from './version/index.js';
import { HyperwardError } from '../errors.js';
import { keepShape } from '../shapes.js';
import { buildFinding, mergeGroup, PerPackage, type Evaluated, type Merged } from './merge.js';
import type { RangeOutcome } from './range.js';
import type { Verdict, VerdictHit, VerdictRow } from './verdict.js';
import { ratingSource } from './severity.js';
import type { PackedRow } from './packed.js';
import type { AdvisoryIndex, AffectedHit, AffectedPackage, DistroKey, MatchFacts } from './types.js';

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

/**
 * One installed package as the matcher keys it, and what was found out about it in the first pass. A class with
 * every field from the start: objects that gain properties later change maps, and optimised code checking for a
 * map that a garbage collection drops is thrown away (V8: "weak objects"), which cost a warm match several ms.
 */
class Item {
  /** Undefined: the installed version is invalid, not matched. */
  evaluation: Evaluation | undefined = undefined;
  /** Notes to give, in order, when the second pass reaches this package (as a one-pass matcher would). */
  notes: string[] | undefined = undefined;
  /** The installed version is not valid in its scheme: not matched. */
  invalid = false;
  /** The installed version taken apart for comparisons (null: not valid). */
  prepared: PreparedVersion | null = null;
  /** The row of verdicts of its name, and those that hold for the installed version (none: undefined). */
  row: VerdictRow | undefined = undefined;
  hits: VerdictHit[] | undefined = undefined;

  constructor(
    readonly pkg: Package,
    readonly scheme: PackageEcosystem,
    /** Source or binary name, as the distro keys its advisories. */
    readonly name: string,
    readonly version: string,
  ) {}
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
 * Matches every package of an inventory against the advisories of its OS release and builds the findings
 * (`matchPackages`, then its `findings()`).
 *
 * @example
 * const { findings, notes } = matchInventory(inventory, new MemoryAdvisoryIndex(advisories), { target: 'vm.qcow2' });
 */
export function matchInventory(
  inv: SystemInventory,
  index: AdvisoryIndex,
  opts: MatchOptions = {},
): MatchResult {
  const m = matchPackages(inv, index, opts);
  return { findings: m.findings(), notes: m.notes };
}

/**
 * What matching concludes about one installed package: its vulnerabilities, each with the fix, the fix state and
 * the severity — the findings before they are written out. The verdicts may be shared by the binary packages of
 * one source: do not change them.
 */
export interface PackageMatch {
  package: Package;
  vulnerabilities: readonly Verdict[];
}

/** The vulnerabilities of an inventory's packages (`matchPackages`). */
export interface PackageMatches {
  /**
   * The packages with vulnerabilities, in inventory order, each vulnerability once per (package name, architecture),
   * in the order of the vulnerability ids: one finding each.
   */
  matches: PackageMatch[];
  /** What could not be used: bad records, invalid installed versions, an OS without advisory data. */
  notes: string[];
  /**
   * The findings of `matches`, in the same order (package by package): titles, messages, advisories, aliases, scores and references
   * read from the database now (once; the same array on every call).
   */
  findings(): Finding[];
}

/**
 * Matches every package of an inventory against the advisories of its OS release: which vulnerabilities affect
 * which packages, with the fix, the fix state and the severity. Building the findings' text and references is left
 * to `findings()`, as a scanner fills in the details after detection.
 *
 * Where the index has verdicts for a package (`verdictRows`, worked out at import time: `verdict.ts`), matching it
 * is placing its version among the versions the advisories name and reading which intervals hold. Otherwise two
 * passes: the first evaluates every installed (name, version) against the entries of its package, fetched for the
 * whole inventory at once when the index can (`matchRows`, `lookupMany`); the advisories that affect something
 * are then fetched in one batch (`matchFacts`); the second merges, package by package, and gives the notes in
 * the order a one-pass matcher would. The findings are the same either way.
 */
export function matchPackages(
  inv: SystemInventory,
  index: AdvisoryIndex,
  opts: MatchOptions = {},
): PackageMatches {
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
  const none = (): PackageMatches => ({ matches: [], notes, findings: () => [] });

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
    return none();
  }
  const sources = keys.map(ratingSource);

  // Per-call caches: an installed version checked once, a (name, version) evaluated once however many binary
  // packages share that source, an advisory's facts resolved once.
  const evalCache = new Map<string, Evaluation>();
  const factsCache = new Map<string, MatchFacts | null>();

  const items: Item[] = [];
  for (const pkg of inv.packages) {
    const scheme = pkg.ecosystem;
    const name = bySource ? pkg.sourceName || pkg.name : pkg.name;
    const version = bySource ? pkg.sourceVersion || pkg.version : pkg.version;
    items.push(new Item(pkg, scheme, name, version));
  }
  for (const item of items) {
    // Taken apart per package, not looked up in a map by version: taking a version apart costs less than the
    // map's hashing of it, and few packages share one.
    const p = (item.prepared = preparedIfValid(item.scheme, item.version));
    if (p === null) {
      item.notes = [
        `${oneLine(String(item.pkg.name), 80)}: installed version '${oneLine(String(item.version), 80)}' is not a valid ${item.scheme} version; not matched`,
      ];
      item.invalid = true;
    }
  }

  // The verdicts, where the index has them: one release only (several would merge across releases).
  const verdicts =
    keys.length === 1 && index.verdictRows ? index.verdictRows(keys[0]!, namesOf(items)) : undefined;
  const slow: Item[] = [];
  for (const item of items) {
    if (item.invalid) continue;
    if (verdicts === undefined) {
      slow.push(item);
      continue;
    }
    const vrow = verdicts.get(item.name);
    if (vrow === undefined) continue; // nothing about this name
    if (
      !vrow.usable ||
      vrow.scheme !== item.scheme ||
      (item.scheme === 'rpm' && isModularRelease(item.pkg.version))
    ) {
      slow.push(item);
      continue;
    }
    const hits = vrow.match(item.prepared!);
    if (hits.length > 0) {
      item.row = vrow;
      item.hits = hits;
    }
  }

  // First pass of the packages without verdicts: every package's entries fetched and evaluated.
  const packed = slow.length > 0 ? packedRows(index, keys, slow) : undefined;
  const bulk = packed || slow.length === 0 ? undefined : bulkHits(index, keys, slow);

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
  for (const item of slow) {
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
  // shared by every binary package of one source, so the merging is done once. Matches are unique by (vulnerability,
  // resource key): the vulnerabilities merged for one package are distinct, so only a resource key met before (two
  // packages of one name and architecture) can repeat.
  const matches: PackageMatch[] = [];
  const refs: MatchRef[] = [];
  // The first package with matches of each name; for a name met again, the vulnerabilities taken per
  // `name:arch` (two packages of one name are rare: the common case costs one map access per package).
  const firstOfName = new Map<string, Package>();
  let taken: Map<string, Set<string>> | undefined;
  const prefix = opts.target !== undefined ? `${opts.target}/` : '';
  for (const item of items) {
    if (item.notes) for (const n of item.notes) note(n);
    const { pkg } = item;
    const hits = item.hits;
    let merged = hits ? undefined : mergedOf(item, factsFor, cvssOf);
    let vulnerabilities: readonly Verdict[] = hits ?? merged?.map(verdictOf) ?? NO_VERDICTS;
    if (vulnerabilities.length === 0) continue;
    if (firstOfName.get(pkg.name) === undefined) firstOfName.set(pkg.name, pkg);
    else {
      taken ??= new Map();
      const key = `${pkg.name}:${pkg.arch}`;
      let already = taken.get(key);
      if (already === undefined) {
        // The first time this name comes back: what was taken for it so far, per architecture.
        for (const m of matches) {
          if (m.package.name !== pkg.name) continue;
          const k = `${m.package.name}:${m.package.arch}`;
          let set = taken.get(k);
          if (set === undefined) taken.set(k, (set = new Set()));
          for (const v of m.vulnerabilities) set.add(v.vulnId);
        }
        already = taken.get(key);
        if (already === undefined) taken.set(key, (already = new Set()));
      }
      const keep = vulnerabilities.map((v) => !already!.has(v.vulnId));
      for (const v of vulnerabilities) already.add(v.vulnId);
      vulnerabilities = vulnerabilities.filter((_, i) => keep[i]);
      if (merged) merged = merged.filter((_, i) => keep[i]);
      if (vulnerabilities.length === 0) continue;
    }
    matches.push(new Matched(pkg, vulnerabilities));
    refs.push(new MatchRef(item, merged, item.row));
  }
  if (dropped > 0) notes.push(`… and ${dropped} more notes`);

  let built: Finding[] | undefined;
  const findings = (): Finding[] =>
    (built ??= buildFindings(matches, refs, index, keys, sources[0]!, prefix, inv, cvssOf));
  return { matches, notes, findings };
}

const NO_VERDICTS: readonly Verdict[] = Object.freeze([]);

/** A package's matches (a class: see `Item`). */
class Matched implements PackageMatch {
  readonly package: Package;
  readonly vulnerabilities: readonly Verdict[];

  constructor(pkg: Package, vulnerabilities: readonly Verdict[]) {
    this.package = pkg;
    this.vulnerabilities = vulnerabilities;
  }
}

/** How a package's matches are turned into findings: its merged vulnerabilities, or the row of its verdicts. */
class MatchRef {
  constructor(
    readonly item: Item,
    readonly merged: Merged[] | undefined,
    readonly row: VerdictRow | undefined,
  ) {}
}

function verdictOf(m: Merged): Verdict {
  return {
    vulnId: m.vulnId,
    fixState: m.fixState,
    fixedVersion: m.fixedVersion,
    severity: m.decision.severity,
  };
}

/**
 * The installed version taken apart for comparisons, or null when it is not valid in its scheme (`isValidVersion`;
 * a Debian version is checked by taking it apart).
 */
function preparedIfValid(scheme: PackageEcosystem, version: string): PreparedVersion | null {
  if (scheme !== 'deb' && !isValidVersion(scheme, version)) return null;
  try {
    return prepareVersion(scheme, version);
  } catch {
    return null;
  }
}

/** The distinct names the items are keyed by. */
function namesOf(items: readonly Item[]): string[] {
  const names = new Set<string>();
  for (const i of items) names.add(i.name);
  return [...names];
}

/** The merged vulnerabilities of an item evaluated entry by entry (the second pass), or undefined for none. */
function mergedOf(
  item: Item,
  factsFor: (e: Evaluated) => MatchFacts | undefined,
  cvssOf: (facts: MatchFacts) => CvssScore[],
): Merged[] | undefined {
  const evaluation = item.evaluation;
  if (!evaluation?.anyAffected) return undefined;
  const { pkg, scheme } = item;
  const arch = normalizeArch(typeof pkg.arch === 'string' ? pkg.arch : '');
  const modular = scheme === 'rpm' && isModularRelease(pkg.version);
  const mk = `${evaluation.archRestricted ? arch : '*'}${modular ? '\0m' : ''}`;
  evaluation.merged ??= new Map();
  let merged = evaluation.merged.get(mk);
  if (merged) return merged;
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
  return merged;
}

/**
 * The findings of the matches, in order. A match from a verdict is merged again from its packed row (read now, in
 * one query for all of them) by the entries the verdict names, with the same `mergeGroup` the builder used.
 */
function buildFindings(
  matches: readonly PackageMatch[],
  refs: readonly MatchRef[],
  index: AdvisoryIndex,
  keys: readonly DistroKey[],
  source: string,
  prefix: string,
  inv: SystemInventory,
  cvssOf: (facts: MatchFacts) => CvssScore[],
): Finding[] {
  let rows: Map<string, PackedRow> | undefined;
  const wanted = new Set<string>();
  let generation: string | undefined;
  for (const r of refs) {
    if (!r.row) continue;
    wanted.add(r.item.name);
    generation = r.row.generation || undefined;
  }
  if (wanted.size > 0) {
    rows = index.matchRows?.(keys[0]!, [...wanted], generation);
    if (rows === undefined) {
      throw new HyperwardError(
        'E_IO',
        `the advisory database has verdicts for ${keys[0]} but no packed rows to build findings from: run \`hyperward db import\` again`,
        { layer: 'advisory verdicts' },
      );
    }
  }
  const remerged = new Map<VerdictRow, Map<number, Merged>>();
  const resolve = (r: MatchRef, v: VerdictHit): Merged => {
    const vrow = r.row!;
    let byM = remerged.get(vrow);
    if (!byM) remerged.set(vrow, (byM = new Map()));
    const known = byM.get(v.m);
    if (known) return known;
    const prow = rows!.get(r.item.name);
    const group: Evaluated[] = [];
    if (prow) {
      for (const e of vrow.entries(v)) {
        const { view, facts: ref } = prow.entryAt(e.entry);
        const facts = prow.facts(ref);
        if (facts === null) break;
        const outcome: RangeOutcome =
          e.state === 'fixed'
            ? { state: 'fixed' }
            : e.fixed === undefined
              ? { state: 'affected' }
              : { state: 'affected', fixed: e.fixed };
        group.push({ entry: view, advisoryKey: '', outcome, source, row: prow, ref, facts });
      }
    }
    const out = group.length > 0 ? mergeGroup(v.vulnId, group, vrow.scheme, cvssOf) : undefined;
    if (
      !out ||
      out.fixState !== v.fixState ||
      out.fixedVersion !== v.fixedVersion ||
      out.decision.severity !== v.severity
    ) {
      throw new HyperwardError(
        'E_IO',
        `the advisory database's verdicts for ${keys[0]} ${r.item.name} do not agree with its packed rows (a verdict file that is not the database's own?): run \`hyperward db import\` to write it again`,
        { layer: 'advisory verdicts' },
      );
    }
    byM.set(v.m, out);
    return out;
  };

  const findings: Finding[] = [];
  matches.forEach((match, k) => {
    const r = refs[k]!;
    const { pkg } = r.item;
    let purl: string;
    try {
      purl = packageUrl(pkg, inv.os);
    } catch {
      purl = '';
    }
    const per = new PerPackage(pkg, r.item.name, r.item.version, purl, prefix);
    match.vulnerabilities.forEach((v, i) =>
      findings.push(buildFinding(r.merged ? r.merged[i]! : resolve(r, v as VerdictHit), per)),
    );
  });
  return findings;
}

const NO_HITS: readonly AffectedHit[] = Object.freeze([]);

/** Whether an entry applies to a package of (normalised) architecture `arch` and modularity `modular`. */
function applies(e: Evaluated, scheme: PackageEcosystem, arch: string, modular: boolean): boolean {
  return archFits(e.entry.arches, arch) && (scheme !== 'rpm' || Boolean(e.entry.module) === modular);
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

// Made for every package matched: see `shapes.ts`.
const SAMPLE_ITEM = keepShape(new Item({} as Package, 'deb', '', ''));
keepShape(new Matched(SAMPLE_ITEM.pkg, NO_VERDICTS));
keepShape(new MatchRef(SAMPLE_ITEM, undefined, undefined));
