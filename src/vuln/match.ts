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
 */
import { fingerprint, SEVERITIES } from '../model/finding.js';
import type { CvssScore, Finding, Reference, VulnerabilityInfo } from '../model/finding.js';
import type { Package, PackageEcosystem, SystemInventory } from '../model/inventory.js';
import { packageUrl } from '../report/purl.js';
import { scoreVector } from './cvss.js';
import { distroKeysFor } from './ecosystem.js';
import { evaluateChecked, isValidVersion, type RangeOutcome } from './range.js';
import { decideSeverity, distroRating, ratingSource, type SeverityDecision } from './severity.js';
import type { AdvisoryIndex, AdvisoryRecord, AffectedPackage } from './types.js';
import { compareVersions } from './version/index.js';

/** Notes beyond this many are counted, not kept. */
export const MAX_NOTES = 200;
/** References per finding. */
export const MAX_REFERENCES = 20;
const MAX_URL = 2048;
const MAX_SUMMARY = 200;

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

/** What the matcher needs of one advisory, worked out once per call. */
interface Facts {
  adv: AdvisoryRecord;
  vulnIds: string[];
  /** Scored when the advisory first affects something. */
  cvss: CvssScore[] | undefined;
}

/** One entry that says something about one installed (name, version). */
interface Evaluated {
  entry: AffectedPackage;
  advisoryKey: string;
  outcome: RangeOutcome;
  /** Whose rating the entry carries (`ratingSource` of its distro). */
  source: string;
  /** Resolved when needed; null for a withdrawn or missing advisory. */
  facts?: Facts | null;
}

/** Everything said about one installed (name, version). */
interface Evaluation {
  list: Evaluated[];
  /** Some entry says the version is affected. */
  anyAffected: boolean;
  /** Some entry is restricted to architectures: results differ by architecture. */
  archRestricted: boolean;
}

const CVE = /^CVE-\d{4}-\d{4,}$/;
const EMBEDDED_CVE = /^[A-Z][A-Z0-9]*-(CVE-\d{4}-\d{4,})$/;

/** The CVE an id names: itself, or the one a feed's restatement embeds (`UBUNTU-CVE-2024-1` → `CVE-2024-1`). */
function cveOf(id: string): string | undefined {
  return CVE.test(id) ? id : EMBEDDED_CVE.exec(id)?.[1];
}

/**
 * The vulnerabilities one record is about (see the module comment): the record's own CVE; else the CVEs among its
 * `aliases` and `upstream` ids (a USN lists its `UBUNTU-CVE-…` records as upstream); else, for records written
 * before OSV had `upstream`, the CVEs among `related`; else the CVE its id embeds; else its own id.
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

function oneLine(s: string, max: number): string {
  const t = s.replace(/\s+/g, ' ').trim();
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
}

/**
 * Matches every package of an inventory against the advisories of its OS release.
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

  // Per-call caches: an advisory is examined once, a vector scored once, an installed version checked once, and a
  // (name, version) evaluated once however many binary packages share that source.
  const factsCache = new Map<string, Facts | null>();
  const vectorCache = new Map<string, CvssScore | null>();
  const evalCache = new Map<string, Evaluation>();
  const validCache = new Map<string, boolean>();

  const factsOf = (key: string): Facts | undefined => {
    const cached = factsCache.get(key);
    if (cached !== undefined) return cached ?? undefined;
    const adv = index.advisory(key);
    const facts = adv && !adv.withdrawn ? { adv, vulnIds: vulnerabilityIds(adv), cvss: undefined } : null;
    factsCache.set(key, facts);
    return facts ?? undefined;
  };

  const cvssOf = (facts: Facts): CvssScore[] => {
    if (facts.cvss) return facts.cvss;
    const cvss: CvssScore[] = [];
    for (const s of facts.adv.severity) {
      let score = vectorCache.get(s.vector);
      if (score === undefined) {
        score = scoreVector(s.vector) ?? null;
        vectorCache.set(s.vector, score);
        if (score === null) {
          note(`${facts.adv.id}: invalid CVSS vector '${oneLine(String(s.vector), 120)}' skipped`);
        }
      }
      if (score && !cvss.some((c) => c.vector === score!.vector)) cvss.push(score);
    }
    facts.cvss = cvss;
    return cvss;
  };

  // Problems with a record are reported with the record's id; the advisory is fetched only when there is one.
  let currentKey = '';
  let currentEntry: AffectedPackage | undefined;
  const report = (problem: string): void => {
    if (!currentEntry) return;
    const id = index.advisory(currentKey)?.id ?? currentKey;
    note(`${id} (${currentEntry.ecosystem} ${currentEntry.package}): ${problem}`);
  };

  // Each (name, version) is evaluated once, however many binary packages share that source. Entries that say
  // nothing about the version are dropped at once; advisories are fetched only for what is left, and only when
  // some entry affects the version.
  const NONE: Evaluation = { list: [], anyAffected: false, archRestricted: false };
  const evaluate = (scheme: PackageEcosystem, name: string, version: string): Evaluation => {
    const ck = `${scheme}\0${name}\0${version}`;
    const cached = evalCache.get(ck);
    if (cached) return cached;
    let ev = NONE;
    for (const key of keys) {
      const source = ratingSource(key);
      for (const hit of index.lookup(key, name)) {
        const entry = hit.affected;
        // The index answers for this (distro, name); an entry of another version scheme cannot be compared.
        if (entry.scheme !== scheme) continue;
        currentKey = hit.advisoryKey;
        currentEntry = entry;
        const outcome = evaluateChecked(scheme, version, entry, report);
        if (outcome.state === 'unaffected') continue;
        if (ev === NONE) ev = { list: [], anyAffected: false, archRestricted: false };
        ev.list.push({ entry, advisoryKey: hit.advisoryKey, outcome, source });
        if (outcome.state === 'affected') ev.anyAffected = true;
        if (Array.isArray(entry.arches) && entry.arches.length > 0) ev.archRestricted = true;
      }
    }
    currentEntry = undefined;
    evalCache.set(ck, ev);
    return ev;
  };

  const factsFor = (e: Evaluated): Facts | undefined => {
    if (e.facts === undefined) e.facts = factsOf(e.advisoryKey) ?? null;
    return e.facts ?? undefined;
  };

  // Merged vulnerabilities per (name, version, architecture class when it matters, modularity): shared by every
  // binary package of one source, so the merging is done once.
  const mergedCache = new Map<string, Merged[]>();
  const seen = new Set<string>();
  for (const pkg of inv.packages) {
    const scheme = pkg.ecosystem;
    const name = bySource ? pkg.sourceName || pkg.name : pkg.name;
    const version = bySource ? pkg.sourceVersion || pkg.version : pkg.version;
    let valid = validCache.get(`${scheme}\0${version}`);
    if (valid === undefined) {
      valid = isValidVersion(scheme, version);
      validCache.set(`${scheme}\0${version}`, valid);
    }
    if (!valid) {
      note(
        `${oneLine(String(pkg.name), 80)}: installed version '${oneLine(String(version), 80)}' is not a valid ${scheme} version; not matched`,
      );
      continue;
    }
    const evaluation = evaluate(scheme, name, version);
    if (!evaluation.anyAffected) continue;

    const arch = normalizeArch(typeof pkg.arch === 'string' ? pkg.arch : '');
    const modular = scheme === 'rpm' && isModularRelease(pkg.version);
    const mk = `${scheme}\0${name}\0${version}\0${evaluation.archRestricted ? arch : '*'}\0${modular ? 1 : 0}`;
    let merged = mergedCache.get(mk);
    if (!merged) {
      const applies = (e: Evaluated): boolean =>
        archFits(e.entry.arches, arch) && (scheme !== 'rpm' || Boolean(e.entry.module) === modular);
      // Only vulnerabilities some applicable entry says are present need merging.
      // Only vulnerabilities some applicable entry says are present need merging; entries that say the version is
      // fixed matter only for those without any fix on offer (a fixed record beats an unfixed one).
      const groups = new Map<string, Evaluated[]>();
      let unfixed = false;
      for (const e of evaluation.list) {
        if (e.outcome.state !== 'affected' || !applies(e)) continue;
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
          if (e.outcome.state !== 'fixed' || !applies(e)) continue;
          const facts = factsFor(e);
          if (facts) for (const id of facts.vulnIds) groups.get(id)?.push(e);
        }
      }
      merged = [];
      for (const vulnId of [...groups.keys()].sort()) {
        const m = mergeGroup(vulnId, groups.get(vulnId)!, scheme, cvssOf);
        if (m) merged.push(m);
      }
      mergedCache.set(mk, merged);
    }
    if (merged.length === 0) continue;

    let purl: string;
    try {
      purl = packageUrl(pkg, inv.os);
    } catch {
      purl = '';
    }
    for (const m of merged) {
      const f = buildFinding(m, pkg, name, version, purl, opts);
      if (!seen.has(f.id)) {
        seen.add(f.id);
        findings.push(f);
      }
    }
  }
  if (dropped > 0) notes.push(`… and ${dropped} more notes`);
  return { findings, notes };
}

/** The highest of some versions of one scheme. */
function highest(scheme: PackageEcosystem, versions: readonly string[]): string | undefined {
  let best: string | undefined;
  for (const v of versions) {
    try {
      if (best === undefined || compareVersions(scheme, v, best) > 0) best = v;
    } catch {
      // Versions here were validated when the entry was prepared.
    }
  }
  return best;
}

/** What the records say about one vulnerability of one installed (name, version): everything but the package. */
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
  /** ` (DSA-…, USN-…)` and `: summary`, ready for the message. */
  idsText: string;
  summaryText: string;
}

/**
 * Merges the entries that name one vulnerability (see the module comment), or undefined when together they say
 * the installed version is not affected.
 */
function mergeGroup(
  vulnId: string,
  group: readonly Evaluated[],
  scheme: PackageEcosystem,
  cvssOf: (facts: Facts) => CvssScore[],
): Merged | undefined {
  const affected = group.filter((e) => e.outcome.state === 'affected');
  if (affected.length === 0) return undefined;
  const fixes: string[] = [];
  for (const e of affected) if (e.outcome.fixed !== undefined) fixes.push(e.outcome.fixed);
  if (fixes.length === 0 && group.some((e) => e.outcome.state === 'fixed')) return undefined;
  const fixedVersion = highest(scheme, fixes);
  const fixState: VulnerabilityInfo['fixState'] =
    fixedVersion !== undefined ? 'fixed' : affected.some((e) => e.entry.wontFix) ? 'wont-fix' : 'not-fixed';

  // Records in order of first appearance; one advisory per (record, ecosystem).
  const records: AdvisoryRecord[] = [];
  const advisories: VulnerabilityInfo['advisories'] = [];
  const cvss: CvssScore[] = [];
  for (const e of affected) {
    const adv = e.facts!.adv;
    if (!records.includes(adv)) records.push(adv);
    if (!advisories.some((a) => a.id === adv.id && a.ecosystem === e.entry.ecosystem)) {
      advisories.push({ id: adv.id, origin: adv.origin, ecosystem: e.entry.ecosystem });
    }
    for (const c of cvssOf(e.facts!)) if (!cvss.some((x) => x.vector === c.vector)) cvss.push(c);
  }

  // A CVE is an alias only of itself: the other CVEs of a multi-CVE advisory get findings of their own.
  const aliases: string[] = [];
  const addAlias = (id: unknown): void => {
    if (typeof id !== 'string' || id === vulnId || CVE.test(id) || aliases.includes(id)) return;
    aliases.push(id);
  };
  for (const adv of records) {
    addAlias(adv.id);
    for (const a of adv.aliases) addAlias(a);
    for (const u of adv.upstream) addAlias(u);
    for (const r of adv.related) addAlias(r);
  }

  // Distro ratings: single-vulnerability records before multi-CVE advisories, per-package before per-record,
  // the highest first within a tier.
  const candidates: Array<{ tier: number; rank: number; source: string; rating: string }> = [];
  for (const e of affected) {
    const single = e.facts!.vulnIds.length === 1 ? 0 : 2;
    const push = (rating: string | undefined, tier: number): void => {
      if (typeof rating !== 'string' || rating.trim() === '') return;
      const sev = distroRating(rating);
      const rank = sev ? SEVERITIES.length - SEVERITIES.indexOf(sev) : 0;
      candidates.push({ tier, rank, source: e.source, rating });
    };
    push(e.entry.distroSeverity, single);
    push(e.facts!.adv.distroSeverity, single + 1);
  }
  candidates.sort((a, b) => a.tier - b.tier || b.rank - a.rank);
  const decision = decideSeverity(candidates, cvss);
  const shownRating =
    decision.distro ??
    (candidates[0] ? { source: candidates[0].source, rating: candidates[0].rating } : undefined);

  let published: string | undefined;
  let modified: string | undefined;
  for (const adv of records) {
    if (adv.published && (published === undefined || adv.published < published)) published = adv.published;
    if (adv.modified && (modified === undefined || adv.modified > modified)) modified = adv.modified;
  }

  const ids = advisories.map((a) => a.id).filter((id, i, all) => id !== vulnId && all.indexOf(id) === i);
  const summary = records.find((r) => typeof r.summary === 'string' && r.summary.trim() !== '')?.summary;
  return {
    vulnId,
    fixedVersion,
    fixState,
    advisories,
    aliases,
    cvss,
    decision,
    shownRating,
    published,
    modified,
    references: referencesFor(vulnId, records),
    idsText: ids.length > 0 ? ` (${ids.slice(0, 5).join(', ')}${ids.length > 5 ? ', …' : ''})` : '',
    summaryText: summary ? `: ${oneLine(summary, MAX_SUMMARY)}` : '',
  };
}

/** The finding for one merged vulnerability of one package. Arrays are copied: findings share nothing. */
function buildFinding(
  m: Merged,
  pkg: Package,
  matchedName: string,
  installed: string,
  purl: string,
  opts: MatchOptions,
): Finding {
  const info: VulnerabilityInfo = {
    id: m.vulnId,
    aliases: m.aliases.slice(),
    advisories: m.advisories.map((a) => ({ ...a })),
    package: {
      name: pkg.name,
      version: pkg.version,
      arch: pkg.arch,
      ecosystem: pkg.ecosystem,
      sourceName: pkg.sourceName,
      sourceVersion: pkg.sourceVersion,
      purl,
    },
    matchedName,
    installedVersion: installed,
    fixState: m.fixState,
    cvss: m.cvss.map((c) => ({ ...c })),
    severitySource: m.decision.source,
  };
  if (m.fixedVersion !== undefined) info.fixedVersion = m.fixedVersion;
  if (m.shownRating) info.distroSeverity = { ...m.shownRating };
  if (m.published) info.published = m.published;
  if (m.modified) info.modified = m.modified;

  const source =
    matchedName !== pkg.name || installed !== pkg.version ? ` (source ${matchedName} ${installed})` : '';
  const outcome =
    m.fixState === 'fixed'
      ? `. Fixed in ${m.fixedVersion}.`
      : m.fixState === 'wont-fix'
        ? '. No fix yet: the distribution does not plan to fix it.'
        : '. No fix yet.';
  const resourceKey = `${pkg.name}:${pkg.arch}`;
  const finding: Finding = {
    id: fingerprint(
      m.vulnId,
      'package',
      opts.target !== undefined ? `${opts.target}/${resourceKey}` : resourceKey,
    ),
    checkId: m.vulnId,
    severity: m.decision.severity,
    status: 'fail',
    title: `${m.vulnId} in ${pkg.name} ${pkg.version}`,
    message: `${pkg.name} ${pkg.version}${source} is affected by ${m.vulnId}${m.idsText}${m.summaryText}${outcome}`,
    resource: { type: 'package', id: `${pkg.name}@${pkg.version}` },
    evidence: { file: pkg.source, key: pkg.name, value: pkg.version },
    references: m.references.map((r) => ({ ...r })),
    vulnerability: info,
  };
  if (m.fixedVersion !== undefined) finding.remediation = `Upgrade ${pkg.name} to ${m.fixedVersion} or later`;
  return finding;
}

/** The finding's references: the CVE, each matched advisory, then the records' links; deduplicated and capped. */
function referencesFor(vulnId: string, records: readonly AdvisoryRecord[]): Reference[] {
  const out: Reference[] = [];
  const urls = new Set<string>();
  const usable = (u: unknown): u is string =>
    typeof u === 'string' && u.length <= MAX_URL && /^https?:\/\//i.test(u);
  if (CVE.test(vulnId)) {
    const url = `https://nvd.nist.gov/vuln/detail/${vulnId}`;
    out.push({ type: 'cve', id: vulnId, url });
    urls.add(url);
  }
  for (const adv of records) {
    if (out.length >= MAX_REFERENCES) break;
    if (adv.id === vulnId || out.some((r) => r.type === 'advisory' && r.id === adv.id)) continue;
    const ref: Reference = { type: 'advisory', id: adv.id };
    const url = adv.references.find((r) => r.type === 'ADVISORY' && usable(r.url))?.url;
    if (url !== undefined) {
      ref.url = url;
      urls.add(url);
    }
    out.push(ref);
  }
  for (const adv of records) {
    for (const r of adv.references) {
      if (out.length >= MAX_REFERENCES) return out;
      if (!usable(r.url) || urls.has(r.url)) continue;
      urls.add(r.url);
      out.push({ type: 'url', id: r.url, url: r.url });
    }
  }
  return out;
}
