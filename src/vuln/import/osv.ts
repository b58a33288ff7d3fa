/**
 * OSV records (https://ossf.github.io/osv-schema/) to `Advisory`, for the distributions the matcher knows
 * (Debian, Ubuntu, Alpine, Red Hat, AlmaLinux, Rocky Linux, SUSE, openSUSE). Pure: no I/O.
 *
 * Every record is hostile until checked: the shape is verified field by field, arrays and strings are capped,
 * version strings must be ones the distribution's own tool accepts, and text loses control characters (a summary
 * printed on a terminal must not carry escape sequences). A record that breaks the rules as a whole throws; an
 * affected entry that breaks them (an absurd version string, a range with no `introduced`) is reported and
 * dropped while the rest of the record is kept.
 *
 * Also home of the few record-hygiene helpers the Debian tracker and Alpine secdb importers share.
 */
import { HyperwardError } from '../../errors.js';
import { isJsonObject } from '../../json-guard.js';
import type { PackageEcosystem } from '../../model/inventory.js';
import { normalizeEcosystem } from '../ecosystem.js';
import {
  MAX_DETAILS,
  type Advisory,
  type AdvisoryReference,
  type AffectedPackage,
  type ImportIssue,
  type RangeEvent,
  type SeverityVector,
} from '../types.js';
import { isValidApk, isValidDeb, parseRpm } from '../version/index.js';

/** Caps on one OSV record: far above any real record, low enough that a hostile one cannot exhaust memory. */
export const OSV_LIMITS = {
  idLength: 256,
  nameLength: 256,
  timestampLength: 64,
  summaryLength: 1024,
  affected: 20_000,
  ranges: 64,
  events: 1024,
  versions: 50_000,
  aliases: 1024,
  related: 4096,
  references: 4096,
  severity: 64,
  urlLength: 2048,
  vectorLength: 256,
  arches: 64,
  binaries: 1024,
  /** Affected entries one record may expand to (RPM binaries listed per source package). */
  entries: 100_000,
} as const;

/** What `parseOsvRecord` makes of one record. */
export interface OsvParseResult {
  /** The advisory, when the record names at least one package of a known distribution (or is withdrawn). */
  advisory?: Advisory;
  /** True when the record is well formed but concerns no distribution this tool matches (npm, PyPI, Go...). */
  ignored?: boolean;
  /** Affected entries that were dropped, each with why; the record itself was kept. */
  issues: ImportIssue[];
}

// ---------------------------------------------------------------------------------------------------------------
// Shared record hygiene.

/** Where the importers report problems: an `ImportIssue[]`, or anything else with `push`. */
export interface IssueSink {
  push(issue: ImportIssue): unknown;
}

/** C0 and C1 control characters other than tab and newline (and carriage return, which is dropped too). */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

/** Text without control characters (terminal escapes, NULs), at most `max` characters. */
export function cleanText(s: string, max: number): string {
  const t = s.replace(CONTROL, '').trim();
  return t.length > max ? t.slice(0, max) : t;
}

/** An identifier or package name: printable ASCII without spaces, of sane length. */
export function isPlainToken(s: unknown, max = OSV_LIMITS.idLength): s is string {
  return typeof s === 'string' && s.length > 0 && s.length <= max && /^[\x21-\x7e]+$/.test(s);
}

/** Whether `v` is a version string the scheme's own tool accepts (`0` stands for "before everything"). */
export function isValidVersion(scheme: PackageEcosystem, v: string): boolean {
  switch (scheme) {
    case 'deb':
      // dpkg only warns about characters outside Debian policy's set; a feed that uses them is not trusted.
      return /^[A-Za-z0-9.+~:-]+$/.test(v) && isValidDeb(v);
    case 'apk':
      return isValidApk(v);
    case 'rpm':
      // rpm takes almost any byte; keep to what real EVRs use so an escape sequence or a space never passes.
      if (!/^[\w.+~^:-]+$/.test(v)) return false;
      try {
        parseRpm(v);
        return true;
      } catch {
        return false;
      }
  }
}

/** An ISO 8601 / RFC 3339 timestamp that `Date.parse` reads. */
export function isTimestamp(s: unknown): s is string {
  return (
    typeof s === 'string' &&
    s.length >= 4 &&
    s.length <= OSV_LIMITS.timestampLength &&
    !Number.isNaN(Date.parse(s))
  );
}

/**
 * Normalizes a distribution's own rating (Debian urgency `medium**`, Red Hat `Important`, Ubuntu priority):
 * lowercase, without the tracker's `*` marks; undefined for "none given".
 */
export function normalizeRating(s: unknown): string | undefined {
  if (typeof s !== 'string') return undefined;
  const t = cleanText(s, 64).replace(/\*+$/, '').trim().toLowerCase();
  if (t === '' || t === 'not yet assigned' || t === 'unknown' || t === 'none' || t === 'n/a')
    return undefined;
  return /^[a-z][a-z -]*$/.test(t) ? t : undefined;
}

/** An `http(s)` URL of sane length, or undefined: other schemes (`javascript:`...) never reach a report. */
export function cleanUrl(u: unknown): string | undefined {
  if (typeof u !== 'string' || u.length > OSV_LIMITS.urlLength) return undefined;
  // eslint-disable-next-line no-control-regex
  if (!/^https?:\/\/[^\s\u0000-\u001f\u007f]+$/i.test(u)) return undefined;
  return u;
}

function malformed(file: string, record: string | undefined, message: string): HyperwardError {
  return new HyperwardError('E_CONFIG_SYNTAX', record ? `${record}: ${message}` : message, {
    file,
    layer: 'OSV record',
  });
}

function tooMany(file: string, record: string, what: string, max: number): HyperwardError {
  return new HyperwardError('E_LIMIT', `${record}: more than ${max} ${what}`, { file, layer: 'OSV record' });
}

// ---------------------------------------------------------------------------------------------------------------
// Ratings.

/** Ubuntu priorities, Red Hat severities and Debian urgencies, least to most severe, for "the highest of". */
const RATING_RANK: Readonly<Record<string, number>> = {
  unimportant: 0,
  negligible: 0,
  low: 1,
  moderate: 2,
  medium: 2,
  important: 3,
  high: 3,
  critical: 4,
};

function higherRating(a: string | undefined, b: string | undefined): string | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return (RATING_RANK[b] ?? -1) > (RATING_RANK[a] ?? -1) ? b : a;
}

/** The rating carried by a `severity[]` array of type `Ubuntu` (the only non-CVSS type the schema defines). */
function ubuntuRating(sev: unknown): string | undefined {
  if (!Array.isArray(sev)) return undefined;
  let best: string | undefined;
  for (const s of sev.slice(0, OSV_LIMITS.severity)) {
    if (isJsonObject(s) && s.type === 'Ubuntu') best = higherRating(best, normalizeRating(s.score));
  }
  return best;
}

/** The rating a `database_specific` / `ecosystem_specific` object gives, under the names the feeds use. */
function ratingIn(o: unknown): string | undefined {
  if (!isJsonObject(o)) return undefined;
  let r: string | undefined;
  for (const k of ['ubuntu_priority', 'priority', 'urgency', 'severity'])
    r = higherRating(r, normalizeRating(o[k]));
  // Ubuntu USNs: database_specific.cves_map.cves[].severity[] holds each CVE's priority.
  const map = o.cves_map;
  if (isJsonObject(map) && Array.isArray(map.cves)) {
    for (const c of map.cves.slice(0, OSV_LIMITS.related))
      if (isJsonObject(c)) r = higherRating(r, ubuntuRating(c.severity));
  }
  return r;
}

/** Red Hat, AlmaLinux and Rocky summaries start with the rating: `Important: openssl security update`. */
function summaryRating(summary: string | undefined): string | undefined {
  const m = summary === undefined ? null : /^(Low|Moderate|Important|Critical):\s/.exec(summary);
  return m ? m[1]!.toLowerCase() : undefined;
}

/** CVSS vectors of a `severity[]` array (types `CVSS_V2` / `CVSS_V3` / `CVSS_V4`), added to `out` once each. */
function collectVectors(sev: unknown, out: SeverityVector[]): void {
  if (!Array.isArray(sev)) return;
  for (const s of sev.slice(0, OSV_LIMITS.severity)) {
    if (out.length >= OSV_LIMITS.severity) return; // keeps the de-duplication below cheap
    if (!isJsonObject(s)) continue;
    const type = s.type;
    if (type !== 'CVSS_V2' && type !== 'CVSS_V3' && type !== 'CVSS_V4') continue;
    const vector = s.score;
    if (typeof vector !== 'string' || vector.length > OSV_LIMITS.vectorLength) continue;
    if (!/^[A-Za-z0-9.:/]+$/.test(vector)) continue;
    if (!out.some((v) => v.type === type && v.vector === vector)) out.push({ type, vector });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// purl qualifiers, architecture and module restrictions.

/**
 * Qualifiers of a package URL (`?arch=x86_64&rpmmod=nodejs:18:…`), read leniently: real feeds write
 * `?arch=src?distro=trusty` too. Never throws.
 */
function purlQualifiers(purl: unknown): Map<string, string> {
  const out = new Map<string, string>();
  if (typeof purl !== 'string' || purl.length > OSV_LIMITS.urlLength) return out;
  const q = purl.indexOf('?');
  if (q < 0) return out;
  for (const part of purl.slice(q + 1).split(/[?&#]/)) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    let v = part.slice(eq + 1);
    try {
      v = decodeURIComponent(v);
    } catch {
      continue;
    }
    out.set(part.slice(0, eq).toLowerCase(), v);
  }
  return out;
}

/** Architectures that are not restrictions: source packages and architecture-independent ones. */
const NOT_AN_ARCH = new Set(['src', 'source', 'noarch', 'all', 'any', 'nosrc']);

function archList(v: unknown): string[] | undefined {
  const list = typeof v === 'string' ? v.split(/[\s,]+/) : Array.isArray(v) ? v : undefined;
  if (list === undefined) return undefined;
  const out: string[] = [];
  for (const a of list.slice(0, OSV_LIMITS.arches)) {
    if (typeof a !== 'string' || !/^[\w.-]{1,32}$/.test(a) || NOT_AN_ARCH.has(a)) continue;
    if (!out.includes(a)) out.push(a);
  }
  return out.length > 0 ? out : undefined;
}

/** `nodejs:18` from `nodejs:18`, `nodejs:18:8090020231025135545:a75119d5` or similar; undefined otherwise. */
/** `AffectedPackage.module` of an entry whose module is known only from its versions' releases. */
export const MODULE_UNNAMED = '*';

/** Whether any version an entry names is a module build (its release holds `.module+` or `.module_`). */
function modularBuild(ranges: readonly RangeEvent[][], versions: readonly string[]): boolean {
  const modular = (v: string): boolean => /-[^-]*\.module[+_]/.test(v);
  return (
    versions.some(modular) ||
    ranges.some((r) =>
      r.some((e) => modular('introduced' in e ? e.introduced : 'fixed' in e ? e.fixed : e.last_affected)),
    )
  );
}

function moduleStream(v: unknown): string | undefined {
  if (typeof v !== 'string') return undefined;
  const m = /^([\w.+-]{1,128}):([\w.+-]{1,64})(?::|$)/.exec(v);
  return m ? `${m[1]}:${m[2]}` : undefined;
}

/**
 * Binary package names of an `ecosystem_specific.binaries` value, in the spellings feeds use: `["a", "b"]`,
 * `[{"binary_name": "a"}]` (Ubuntu), `[{"a": "1.0-1", "b": "1.0-1"}]` (SUSE) or `{"a": "1.0-1"}`.
 */
function binaryNames(v: unknown): string[] {
  const out: string[] = [];
  const add = (n: unknown): void => {
    if (out.length < OSV_LIMITS.binaries && isPlainToken(n, OSV_LIMITS.nameLength) && !out.includes(n))
      out.push(n);
  };
  const items = Array.isArray(v) ? v.slice(0, OSV_LIMITS.binaries) : isJsonObject(v) ? [v] : [];
  for (const item of items) {
    if (typeof item === 'string') add(item);
    else if (isJsonObject(item)) {
      if ('binary_name' in item) add(item.binary_name);
      else for (const k of Object.keys(item).slice(0, OSV_LIMITS.binaries)) add(k);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Fields.

function optionalString(
  rec: Record<string, unknown>,
  key: string,
  file: string,
  id: string,
  max: number,
): string | undefined {
  const v = rec[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw malformed(file, id, `"${key}" is not a string`);
  const t = cleanText(v, max);
  return t === '' ? undefined : t;
}

function optionalTimestamp(
  rec: Record<string, unknown>,
  key: string,
  file: string,
  id: string,
): string | undefined {
  const v = rec[key];
  if (v === undefined || v === null) return undefined;
  if (!isTimestamp(v)) throw malformed(file, id, `"${key}" is not a timestamp`);
  return v;
}

/** A list of ids (`aliases`, `upstream`, `related`): strings, each a plain token; others are dropped. */
function idList(rec: Record<string, unknown>, key: string, file: string, id: string, max: number): string[] {
  const v = rec[key];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw malformed(file, id, `"${key}" is not an array`);
  if (v.length > max) throw tooMany(file, id, `"${key}" entries`, max);
  const out: string[] = [];
  for (const x of v) if (isPlainToken(x) && x !== id && !out.includes(x)) out.push(x);
  return out;
}

function references(rec: Record<string, unknown>, file: string, id: string): AdvisoryReference[] {
  const v = rec.references;
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw malformed(file, id, '"references" is not an array');
  if (v.length > OSV_LIMITS.references) throw tooMany(file, id, 'references', OSV_LIMITS.references);
  const out: AdvisoryReference[] = [];
  for (const r of v) {
    if (!isJsonObject(r)) continue;
    const url = cleanUrl(r.url);
    if (url === undefined) continue;
    const type = typeof r.type === 'string' && /^[A-Z_]{1,32}$/.test(r.type) ? r.type : 'WEB';
    if (!out.some((o) => o.url === url)) out.push({ type, url });
  }
  return out;
}

/** Why an affected entry was dropped (reported), or the entry's ranges and versions. */
type EntryVersions = { ranges: RangeEvent[][]; versions: string[] } | { error: string };

function entryVersions(a: Record<string, unknown>, scheme: PackageEcosystem): EntryVersions {
  const ranges: RangeEvent[][] = [];
  const rawRanges = a.ranges ?? [];
  if (!Array.isArray(rawRanges)) return { error: '"ranges" is not an array' };
  if (rawRanges.length > OSV_LIMITS.ranges) return { error: `more than ${OSV_LIMITS.ranges} ranges` };
  for (const r of rawRanges) {
    if (!isJsonObject(r)) return { error: 'a range is not an object' };
    if (r.type !== 'ECOSYSTEM') continue; // GIT / SEMVER ranges say nothing about distribution packages
    if (!Array.isArray(r.events)) return { error: 'a range has no "events" array' };
    if (r.events.length > OSV_LIMITS.events)
      return { error: `a range has more than ${OSV_LIMITS.events} events` };
    const events: RangeEvent[] = [];
    let introduced = false;
    for (const e of r.events) {
      if (!isJsonObject(e)) return { error: 'an event is not an object' };
      const keys = Object.keys(e);
      if (keys.length !== 1) return { error: `an event has ${keys.length} fields instead of one` };
      const kind = keys[0]!;
      const v = e[kind];
      if (typeof v !== 'string') return { error: `event "${kind}" is not a string` };
      if (kind === 'limit') continue; // meaningless for linear version orders
      if (kind !== 'introduced' && kind !== 'fixed' && kind !== 'last_affected') {
        return { error: `unknown event "${cleanText(kind, 32)}"` };
      }
      if (!(kind === 'introduced' && v === '0') && !isValidVersion(scheme, v)) {
        return {
          error: `"${kind}" version ${JSON.stringify(cleanText(v, 80))} is not a valid ${scheme} version`,
        };
      }
      if (kind === 'introduced') {
        introduced = true;
        events.push({ introduced: v });
      } else if (kind === 'fixed') events.push({ fixed: v });
      else events.push({ last_affected: v });
    }
    if (!introduced) return { error: 'a range has no "introduced" event' };
    ranges.push(events);
  }
  const rawVersions = a.versions ?? [];
  if (!Array.isArray(rawVersions)) return { error: '"versions" is not an array' };
  if (rawVersions.length > OSV_LIMITS.versions) return { error: `more than ${OSV_LIMITS.versions} versions` };
  const versions: string[] = [];
  for (const v of rawVersions) {
    if (typeof v !== 'string' || !isValidVersion(scheme, v)) {
      return {
        error: `listed version ${JSON.stringify(cleanText(String(v), 80))} is not a valid ${scheme} version`,
      };
    }
    versions.push(v);
  }
  return { ranges, versions };
}

// ---------------------------------------------------------------------------------------------------------------

/**
 * Turns one parsed OSV record into an `Advisory` (key `osv:<id>`).
 *
 * Keeps only `affected` entries whose ecosystem `normalizeEcosystem` places, and of those only `ECOSYSTEM`
 * ranges; `upstream` and `related` ids are kept apart (the matcher reads CVEs from `upstream`). For ids of the form `<FEED>-CVE-YYYY-N`
 * (`UBUNTU-CVE-…`, `DEBIAN-CVE-…`), which restate one CVE, the CVE id is added to `aliases`. The distribution's
 * own rating is read where the feeds put it: Ubuntu's `ubuntu_priority` and `Ubuntu` severity entries, Debian's
 * `urgency`, `database_specific.severity`, and the `Important:` prefix of Red Hat-style summaries.
 * `ecosystem_specific` (or purl) architecture and module restrictions become `arches` and `module`. RPM
 * distributions are matched by binary package, so the binaries an entry lists in `ecosystem_specific.binaries`
 * (SUSE, openSUSE) each get a copy of the entry.
 *
 * @param value One JSON value as parsed (`parseJsonGuarded`).
 * @param file Where it came from, for messages.
 * @returns The advisory, or `ignored` for a record about other ecosystems; dropped entries in `issues`.
 * @throws HyperwardError `E_CONFIG_SYNTAX` for a malformed record, `E_LIMIT` for one over the caps.
 *
 * @example
 * const { advisory } = parseOsvRecord(JSON.parse(text), 'DSA-5532-1.json');
 */
export function parseOsvRecord(value: unknown, file: string): OsvParseResult {
  if (!isJsonObject(value)) throw malformed(file, undefined, 'an OSV record is a JSON object');
  const id = value.id;
  if (!isPlainToken(id)) throw malformed(file, undefined, '"id" is missing or not a plain identifier');
  if (!isTimestamp(value.modified)) throw malformed(file, id, '"modified" is missing or not a timestamp');
  const modified = value.modified;
  const issues: ImportIssue[] = [];

  const summary = optionalString(value, 'summary', file, id, OSV_LIMITS.summaryLength);
  const details = optionalString(value, 'details', file, id, MAX_DETAILS);
  const published = optionalTimestamp(value, 'published', file, id);
  const withdrawn = optionalTimestamp(value, 'withdrawn', file, id);
  const aliases = idList(value, 'aliases', file, id, OSV_LIMITS.aliases);
  const upstream = idList(value, 'upstream', file, id, OSV_LIMITS.related);
  const related = idList(value, 'related', file, id, OSV_LIMITS.related);
  const restated = /^[A-Z]+-(CVE-\d{4}-\d{4,})$/.exec(id)?.[1];
  if (restated !== undefined && !aliases.includes(restated)) aliases.push(restated);
  if (value.severity !== undefined && value.severity !== null && !Array.isArray(value.severity)) {
    throw malformed(file, id, '"severity" is not an array');
  }
  if (Array.isArray(value.severity) && value.severity.length > OSV_LIMITS.severity) {
    throw tooMany(file, id, 'severity entries', OSV_LIMITS.severity);
  }
  const severity: SeverityVector[] = [];
  collectVectors(value.severity, severity);
  let recordRating = higherRating(ubuntuRating(value.severity), ratingIn(value.database_specific));
  recordRating = higherRating(recordRating, summaryRating(summary));
  const refs = references(value, file, id);

  const rawAffected = value.affected ?? [];
  if (!Array.isArray(rawAffected)) throw malformed(file, id, '"affected" is not an array');
  if (rawAffected.length > OSV_LIMITS.affected)
    throw tooMany(file, id, 'affected entries', OSV_LIMITS.affected);
  const affected: AffectedPackage[] = [];
  for (let i = 0; i < rawAffected.length; i++) {
    const a = rawAffected[i];
    const where = `${id} affected[${i}]`;
    // OSV allows an entry without `package` when it only gives GIT ranges (a commit range of a repository): it
    // is about no distribution package, so it is not an issue, just nothing to keep.
    if (isJsonObject(a) && a.package === undefined && Array.isArray(a.ranges)) continue;
    if (!isJsonObject(a) || !isJsonObject(a.package)) {
      issues.push({
        file,
        record: where,
        message: 'an affected entry has no "package" object; entry dropped',
      });
      continue;
    }
    const eco = a.package.ecosystem;
    if (typeof eco !== 'string' || eco.length > OSV_LIMITS.nameLength) {
      issues.push({ file, record: where, message: '"package.ecosystem" is not a string; entry dropped' });
      continue;
    }
    const ref = normalizeEcosystem(eco);
    if (ref === undefined) continue; // npm, PyPI... or a distribution release this tool does not match
    const name = a.package.name;
    if (!isPlainToken(name, OSV_LIMITS.nameLength)) {
      issues.push({
        file,
        record: where,
        message: '"package.name" is missing or not a plain name; entry dropped',
      });
      continue;
    }
    const vs = entryVersions(a, ref.scheme);
    if ('error' in vs) {
      issues.push({ file, record: `${where} (${name})`, message: `${vs.error}; entry dropped` });
      continue;
    }
    if (vs.ranges.length === 0 && vs.versions.length === 0) continue; // nothing is said to be affected
    const entry: AffectedPackage = {
      ecosystem: cleanText(eco, OSV_LIMITS.nameLength),
      distro: ref.distro,
      scheme: ref.scheme,
      package: name,
      ranges: vs.ranges,
      versions: vs.versions,
    };
    const es = isJsonObject(a.ecosystem_specific) ? a.ecosystem_specific : {};
    const qualifiers = purlQualifiers(a.package.purl);
    const arches = archList(es.arches ?? es.architectures ?? es.arch) ?? archList(qualifiers.get('arch'));
    if (arches !== undefined) entry.arches = arches;
    const mod =
      moduleStream(es.module ?? es.rpm_module ?? es.module_stream) ?? moduleStream(qualifiers.get('rpmmod'));
    if (mod !== undefined) entry.module = mod;
    else if (ref.scheme === 'rpm' && modularBuild(vs.ranges, vs.versions)) {
      // Red Hat, AlmaLinux and Rocky records name no module: the module shows only in the fixed build's release
      // (`0:3.3.1-2.module+el9.4.0+20787+4c237fd3`). Such an entry is about a module's build of the package.
      entry.module = MODULE_UNNAMED;
    }
    let rating = higherRating(ratingIn(a.ecosystem_specific), ratingIn(a.database_specific));
    rating = higherRating(rating, ubuntuRating(a.severity));
    if (rating !== undefined) entry.distroSeverity = rating;
    if (Array.isArray(a.severity) && a.severity.length > OSV_LIMITS.severity) {
      throw tooMany(file, id, 'severity entries', OSV_LIMITS.severity);
    }
    collectVectors(a.severity, severity);
    // USNs keep each CVE's vectors in database_specific.cves_map: the notice is as severe as its worst CVE.
    const map = isJsonObject(a.database_specific) ? a.database_specific.cves_map : undefined;
    if (isJsonObject(map) && Array.isArray(map.cves)) {
      for (const c of map.cves.slice(0, OSV_LIMITS.related))
        if (isJsonObject(c)) collectVectors(c.severity, severity);
    }
    affected.push(entry);
    // RPM distributions are matched by binary package: SUSE and openSUSE name the source RPM and list its
    // binaries in ecosystem_specific.binaries (all built with the source's EVR), so each binary gets an entry.
    if (ref.scheme === 'rpm') {
      for (const bin of binaryNames(es.binaries)) {
        if (bin === name) continue;
        if (affected.length >= OSV_LIMITS.entries) {
          issues.push({
            file,
            record: where,
            message: `more than ${OSV_LIMITS.entries} entries; binaries dropped`,
          });
          break;
        }
        affected.push({ ...entry, package: bin });
      }
    }
  }

  if (affected.length === 0 && withdrawn === undefined) {
    // Nothing matchable is left: a record about other ecosystems is "ignored"; one whose entries were all
    // dropped as malformed is only reported.
    return issues.length > 0 ? { issues } : { ignored: true, issues };
  }
  const advisory: Advisory = {
    key: `osv:${id}`,
    id,
    origin: 'osv',
    aliases,
    upstream,
    related,
    modified,
    severity,
    references: refs,
    affected,
  };
  if (summary !== undefined) advisory.summary = summary;
  if (details !== undefined) advisory.details = details;
  if (published !== undefined) advisory.published = published;
  if (withdrawn !== undefined) advisory.withdrawn = withdrawn;
  if (recordRating !== undefined) advisory.distroSeverity = recordRating;
  return { advisory, issues };
}

/** Whether a parsed JSON value looks like an OSV record: an object with `id` and `modified`. */
export function looksLikeOsvRecord(v: unknown): boolean {
  return isJsonObject(v) && 'id' in v && 'modified' in v;
}
