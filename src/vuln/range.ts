/**
 * OSV range evaluation: whether an installed version falls inside what one affected entry of an advisory says,
 * by the evaluation algorithm of the OSV schema (`docs/schema.md`, section "Evaluation"), over the exact version
 * ordering of the entry's scheme (deb, rpm, apk).
 *
 * - An entry affects `v` when `v` equals (compares equal to) one of its `versions`, or lies inside any range.
 * - A range's events are sorted by version, `introduced: "0"` lowest; ties keep the record's order (a stable
 *   sort), so `[introduced 1, fixed 2, introduced 2, fixed 3]` still includes 2. The walk then sets "affected" at
 *   each `introduced ≤ v`, clears it at each `fixed ≤ v`, and clears it at each `last_affected < v`.
 * - A version string the scheme's tool would refuse makes its range (or its `versions` item) unusable: that range
 *   is skipped and the problem reported; nothing is thrown.
 *
 * Beyond the yes/no of the schema, the evaluation says which version fixes the affected interval (the first
 * `fixed` after `v` in the range; none when a `last_affected` ends it first) and whether the entry declares `v`
 * fixed (the walk's last change before `v` was a `fixed` event), which the matcher needs for "a fixed record beats
 * an unfixed one".
 *
 * Nothing is cached between calls and nothing allocated per evaluation in the common case (sorted events): an entry
 * is usually evaluated once per installed (name, version), so checking it in place is cheaper than preparing it.
 */
import type { PackageEcosystem } from '../model/inventory.js';
import type { AffectedPackage } from './types.js';
import { compareVersions, isValidApk, isValidDeb, MAX_RPM_VERSION_LENGTH } from './version/index.js';

/** Ranges per entry and events per range beyond which the rest is ignored (and reported): no real record nears it. */
export const MAX_RANGES = 256;
export const MAX_EVENTS = 1024;
/** Explicit `versions` items per entry beyond which the rest is ignored (and reported). */
export const MAX_VERSIONS = 20_000;

/** Event kinds, as `walkRange` takes them. */
export const INTRODUCED = 0;
export const FIXED = 1;
export const LAST_AFFECTED = 2;
const BAD = -1;

/** What `walkRange` says besides the index of a fixing event: affected with no fix named, fixed, neither. */
export const WALK_AFFECTED = -1;
export const WALK_FIXED = -2;
export const WALK_NONE = -3;

/** What an entry says about one installed version. */
export interface RangeOutcome {
  /**
   * `affected`: inside a range or listed. `fixed`: not affected, and the entry says so with a `fixed` event at or
   * below the version. `unaffected`: not affected otherwise (below every `introduced`, above a `last_affected`,
   * or no usable range).
   */
  readonly state: 'affected' | 'fixed' | 'unaffected';
  /** For `affected`: the version that fixes it (the highest over the ranges that include it), if any. */
  readonly fixed?: string;
}

const UNAFFECTED: RangeOutcome = Object.freeze({ state: 'unaffected' });
const FIXED_OUTCOME: RangeOutcome = Object.freeze({ state: 'fixed' });
const AFFECTED_NO_FIX: RangeOutcome = Object.freeze({ state: 'affected' });

/**
 * Whether the tool of `scheme` accepts `v` as a version: dpkg's parser for deb, apk-tools for apk; for rpm (which
 * accepts nearly anything) a non-empty printable ASCII string without spaces, at most `MAX_RPM_VERSION_LENGTH` long.
 */
export function isValidVersion(scheme: PackageEcosystem, v: string): boolean {
  if (typeof v !== 'string') return false;
  switch (scheme) {
    case 'deb':
      return isValidDeb(v);
    case 'apk':
      return isValidApk(v);
    case 'rpm': {
      if (v.length === 0 || v.length > MAX_RPM_VERSION_LENGTH) return false;
      for (let i = 0; i < v.length; i++) {
        const c = v.charCodeAt(i);
        if (c <= 0x20 || c >= 0x7f) return false;
      }
      return true;
    }
    default:
      return false;
  }
}

function quote(v: unknown): string {
  const s = String(v);
  return s.length > 64 ? `'${s.slice(0, 64)}…'` : `'${s}'`;
}

/** The kind of an event object, or BAD when it is not exactly one of introduced / fixed / last_affected. */
function kindOf(ev: unknown): number {
  if (typeof ev !== 'object' || ev === null) return BAD;
  const o = ev as Record<string, unknown>;
  const i = o.introduced;
  const f = o.fixed;
  const l = o.last_affected;
  if (i !== undefined) return f === undefined && l === undefined && typeof i === 'string' ? INTRODUCED : BAD;
  if (f !== undefined) return l === undefined && typeof f === 'string' ? FIXED : BAD;
  return typeof l === 'string' ? LAST_AFFECTED : BAD;
}

/** The version of an event whose kind is known. */
function versionOf(ev: unknown, kind: number): string {
  const o = ev as Record<string, string>;
  return kind === INTRODUCED ? o.introduced! : kind === FIXED ? o.fixed! : o.last_affected!;
}

/** Orders two checked events by version, `introduced: "0"` first; equal versions compare 0. */
function compareEvents(scheme: PackageEcosystem, a: unknown, b: unknown): number {
  const ka = kindOf(a);
  const kb = kindOf(b);
  const va = versionOf(a, ka);
  const vb = versionOf(b, kb);
  const za = ka === INTRODUCED && va === '0';
  const zb = kb === INTRODUCED && vb === '0';
  if (za || zb) return za === zb ? 0 : za ? -1 : 1;
  return compareVersions(scheme, va, vb);
}

/**
 * Checks one range: every event well-formed with a valid version. Returns the events to walk (the record's own
 * array when already sorted, a sorted copy otherwise — a stable sort, so ties keep the record's order), or a
 * reason to skip the range.
 */
export function checkRange(scheme: PackageEcosystem, events: unknown): readonly unknown[] | string {
  if (!Array.isArray(events)) return 'not a list of events';
  if (events.length > MAX_EVENTS) return `${events.length} events (limit ${MAX_EVENTS})`;
  let sorted = true;
  for (let e = 0; e < events.length; e++) {
    const ev: unknown = events[e];
    const kind = kindOf(ev);
    if (kind === BAD)
      return `events[${e}]: event must have exactly one of introduced, fixed, last_affected (a string)`;
    const v = versionOf(ev, kind);
    if (!(kind === INTRODUCED && v === '0') && !isValidVersion(scheme, v)) {
      return `events[${e}]: invalid ${scheme} version ${quote(v)}`;
    }
    if (sorted && e > 0 && compareEvents(scheme, events[e - 1], ev) > 0) sorted = false;
  }
  return sorted ? events : events.slice().sort((a, b) => compareEvents(scheme, a, b));
}

function isDigitCode(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** Whether the digit runs `a[as, ae)` and `b[bs, be)` have the same value (leading zeros ignored; empty is 0). */
function sameNumber(a: string, as: number, ae: number, b: string, bs: number, be: number): boolean {
  while (as < ae && a.charCodeAt(as) === 0x30) as++;
  while (bs < be && b.charCodeAt(bs) === 0x30) bs++;
  if (ae - as !== be - bs) return false;
  for (; as < ae; as++, bs++) if (a.charCodeAt(as) !== b.charCodeAt(bs)) return false;
  return true;
}

/** Index just past a leading `digits:` epoch, or 0. */
function debEpochEnd(v: string): number {
  let i = 0;
  while (i < v.length && isDigitCode(v.charCodeAt(i))) i++;
  return i > 0 && v.charCodeAt(i) === 0x3a ? i + 1 : 0;
}

/**
 * A quick test that rejects most pairs of Debian versions that cannot compare equal, reading both strings once
 * without parsing them: false means "certainly not equal", true means "may be equal: compare them".
 *
 * Sound because dpkg equality needs equal epochs and, in upstream version and revision alike, identical non-digit
 * runs and numerically equal digit runs (deb-version(7)); a difference found before either string reaches a `-`
 * (which may split off the revision), a `:`, white space or its end lies inside both upstream versions. A digit
 * facing a non-digit is a difference: the digit ends its non-digit run (weight 0) where the other continues (`~`
 * weighs −1, everything else more than 0).
 */
export function debMayEqual(a: string, b: string): boolean {
  if (a === b) return true;
  const ea = debEpochEnd(a);
  const eb = debEpochEnd(b);
  if (!sameNumber(a, 0, ea > 0 ? ea - 1 : 0, b, 0, eb > 0 ? eb - 1 : 0)) return false;
  let i = ea;
  let j = eb;
  for (;;) {
    if (i >= a.length || j >= b.length) return true;
    const ca = a.charCodeAt(i);
    const cb = b.charCodeAt(j);
    if (ca === 0x2d || cb === 0x2d || ca === 0x3a || cb === 0x3a || ca <= 0x20 || cb <= 0x20) return true;
    const da = isDigitCode(ca);
    const db = isDigitCode(cb);
    if (da !== db) return false;
    if (da) {
      let ie = i + 1;
      while (ie < a.length && isDigitCode(a.charCodeAt(ie))) ie++;
      let je = j + 1;
      while (je < b.length && isDigitCode(b.charCodeAt(je))) je++;
      if (!sameNumber(a, i, ie, b, j, je)) return false;
      i = ie;
      j = je;
    } else {
      if (ca !== cb) return false;
      i++;
      j++;
    }
  }
}

/**
 * Whether a listed version equals the (valid) installed one, or NaN when the listed version is invalid and had to
 * be read. Debian pairs that `debMayEqual` rules out are not parsed at all (so an invalid item that cannot equal
 * the installed version goes unreported); for deb the comparison itself validates (dpkg's parser refuses what is
 * invalid).
 */
function listedEquals(scheme: PackageEcosystem, v: string, installed: string): boolean | number {
  if (v === installed) return true;
  if (scheme === 'deb') {
    if (!debMayEqual(v, installed)) return false;
    try {
      return compareVersions(scheme, v, installed) === 0;
    } catch {
      return NaN;
    }
  }
  return isValidVersion(scheme, v) ? compareVersions(scheme, v, installed) === 0 : NaN;
}

/** The events of one range as `walkRange` reads them. */
export interface WalkedEvents {
  /** Event i's kind: `INTRODUCED`, `FIXED` or `LAST_AFFECTED`. */
  kind(i: number): number;
  /** How event i's version compares to the installed one: negative, zero, positive (`introduced: "0"`: below). */
  order(i: number): number;
}

/** A range checked by `checkRange`, against an installed version. */
class CheckedEvents implements WalkedEvents {
  constructor(
    private readonly scheme: PackageEcosystem,
    private readonly events: readonly unknown[],
    private readonly installed: string,
  ) {}

  kind(i: number): number {
    return kindOf(this.events[i]);
  }

  order(i: number): number {
    const ev = this.events[i];
    const kind = kindOf(ev);
    const v = versionOf(ev, kind);
    return kind === INTRODUCED && v === '0' ? -1 : compareVersions(this.scheme, v, this.installed);
  }
}

/**
 * The OSV walk over one range of `n` events in walking order (`checkRange`). Sets "affected" at each `introduced` at or below the
 * installed version, clears it at each `fixed` at or below it and at each `last_affected` below it, stopping at
 * the first event above it. Returns, for an affected version, the index of the `fixed` event that ends its
 * interval, or `WALK_AFFECTED` when a `last_affected` (or nothing) ends it; otherwise `WALK_FIXED` when the walk's
 * last change was a `fixed` event, else `WALK_NONE`.
 */
export function walkRange(n: number, events: WalkedEvents): number {
  let vulnerable = false;
  let lastWasFix = false;
  let i = 0;
  // Events are sorted: stop at the first one above the installed version.
  for (; i < n; i++) {
    const k = events.kind(i);
    const c = events.order(i);
    if (c > 0) break;
    if (k === INTRODUCED) {
      vulnerable = true;
      lastWasFix = false;
    } else if (k === FIXED) {
      vulnerable = false;
      lastWasFix = true;
    } else if (c < 0) {
      vulnerable = false;
      lastWasFix = false;
    }
  }
  if (vulnerable) {
    // The interval ends at the next fixed or last_affected event; only a `fixed` one names a fix.
    for (; i < n; i++) {
      const k = events.kind(i);
      if (k === INTRODUCED) continue;
      return k === FIXED ? i : WALK_AFFECTED;
    }
    return WALK_AFFECTED;
  }
  return lastWasFix ? WALK_FIXED : WALK_NONE;
}

/**
 * Evaluates one affected entry for an installed version the caller has already checked with `isValidVersion`
 * (an invalid one yields `unaffected`). Problems with the record go to `report`; never throws. Allocates nothing
 * unless a range is out of order or the version is affected with a fix.
 */
export function evaluateChecked(
  scheme: PackageEcosystem,
  installed: string,
  entry: AffectedPackage,
  report?: (problem: string) => void,
): RangeOutcome {
  try {
    let affected = false;
    let fixedBelow = false;
    let fix: string | undefined;
    const ranges: unknown = entry.ranges;
    if (Array.isArray(ranges)) {
      if (ranges.length > MAX_RANGES)
        report?.(`only the first ${MAX_RANGES} of ${ranges.length} ranges used`);
      const n = Math.min(ranges.length, MAX_RANGES);
      for (let r = 0; r < n; r++) {
        const events = checkRange(scheme, ranges[r]);
        if (typeof events === 'string') {
          report?.(`ranges[${r}]: ${events}; range skipped`);
          continue;
        }
        const walked = walkRange(events.length, new CheckedEvents(scheme, events, installed));
        if (walked >= 0) {
          affected = true;
          const v = versionOf(events[walked], FIXED);
          if (fix === undefined || compareVersions(scheme, v, fix) > 0) fix = v;
        } else if (walked === WALK_AFFECTED) affected = true;
        else if (walked === WALK_FIXED) fixedBelow = true;
      }
    }
    if (!affected) {
      const list: unknown = entry.versions;
      if (Array.isArray(list)) {
        if (list.length > MAX_VERSIONS)
          report?.(`only the first ${MAX_VERSIONS} of ${list.length} versions used`);
        const n = Math.min(list.length, MAX_VERSIONS);
        for (let k = 0; k < n; k++) {
          const v: unknown = list[k];
          const eq = typeof v === 'string' ? listedEquals(scheme, v, installed) : NaN;
          if (eq === true) {
            affected = true;
            break;
          }
          if (eq !== false) report?.(`versions[${k}]: invalid ${scheme} version ${quote(v)} skipped`);
        }
      }
      if (affected && Array.isArray(ranges)) {
        // Listed one by one: the fix, if the ranges know one, is the lowest `fixed` above the installed version.
        const n = Math.min(ranges.length, MAX_RANGES);
        for (let r = 0; r < n; r++) {
          const events = checkRange(scheme, ranges[r]);
          if (typeof events === 'string') continue;
          for (const ev of events) {
            if (kindOf(ev) !== FIXED) continue;
            const v = versionOf(ev, FIXED);
            if (compareVersions(scheme, v, installed) <= 0) continue;
            if (fix === undefined || compareVersions(scheme, v, fix) < 0) fix = v;
          }
        }
      }
    }
    if (affected) return fix === undefined ? AFFECTED_NO_FIX : { state: 'affected', fixed: fix };
    return fixedBelow ? FIXED_OUTCOME : UNAFFECTED;
  } catch {
    // Only reachable with an installed version the caller did not check.
    return UNAFFECTED;
  }
}

/**
 * Full evaluation of one affected entry for one installed version, with the fix version and whether the entry
 * declares the version fixed. Problems with the record or the installed version go to `report`; never throws.
 */
export function evaluateEntry(
  scheme: PackageEcosystem,
  installed: string,
  entry: AffectedPackage,
  report?: (problem: string) => void,
): RangeOutcome {
  if (!isValidVersion(scheme, installed)) {
    report?.(`installed version ${quote(installed)} is not a valid ${scheme} version`);
    return UNAFFECTED;
  }
  return evaluateChecked(scheme, installed, entry, report);
}

/**
 * Whether `installed` is affected according to one affected entry: listed in `entry.versions` (compares equal) or
 * inside any of its ranges, by the OSV evaluation algorithm. Invalid versions in the record skip their range and
 * are reported to `report`; an invalid installed version is reported and yields false. Never throws.
 *
 * @example
 * isAffected('deb', '1:2.0-1', { ...entry, ranges: [[{ introduced: '0' }, { fixed: '2.1-1' }]] }); // false: epoch 1
 */
export function isAffected(
  scheme: PackageEcosystem,
  installed: string,
  entry: AffectedPackage,
  report?: (problem: string) => void,
): boolean {
  return evaluateEntry(scheme, installed, entry, report).state === 'affected';
}
