/**
 * Debian version ordering, as deb-version(7) defines it: `[epoch:]upstream_version[-debian_revision]`.
 *
 * - The epoch is a decimal number (absent = 0) compared numerically.
 * - The upstream version and the revision are compared left to right, alternating a non-digit run (compared
 *   character by character: `~` sorts before everything, even the end of the part; then the end of the part; then
 *   letters; then every other character, by ASCII value) and a digit run (compared numerically; an empty run is 0).
 * - An absent revision compares equal to `0` (dpkg treats it as the empty string, which sorts like `0`).
 *
 * Validity follows dpkg's parser: the errors dpkg refuses (empty string, embedded whitespace, empty or non-numeric
 * epoch, epoch above INT_MAX, nothing after the colon, empty revision, empty upstream version) throw a
 * `HyperwardError` with code `E_USAGE`; the problems dpkg only warns about (an upstream version that does not start
 * with a digit, characters outside the policy alphabet) are accepted, as dpkg accepts them.
 *
 * Comparison works on the string in place with cursors: no allocation per comparison.
 */
import { HyperwardError } from '../../errors.js';
import { keepShape } from '../../shapes.js';

/** Versions longer than this are refused: no real package version comes near it. */
export const MAX_DEB_VERSION_LENGTH = 256;

/** dpkg stores the epoch in an int and refuses anything above INT_MAX. */
const MAX_EPOCH = 2147483647;

/** The three parts of a Debian version. `revision` is `''` when the version has none. */
export interface DebVersion {
  epoch: number;
  upstream: string;
  revision: string;
}

/**
 * Where the parts of a version sit in its string; `revStart` is `end` when there is no revision. A class, not an
 * object literal: objects made in hot loops from literals get maps that a garbage collection may drop, taking the
 * optimised code that checks for them along (V8 deoptimises it: "weak objects").
 */
export class Bounds {
  constructor(
    readonly epoch: number,
    /** Index of the first character of the upstream version. */
    readonly upStart: number,
    /** Index just past the upstream version (the last hyphen, or the end). */
    readonly upEnd: number,
    /** Index of the first character of the revision (equal to `end` when there is none). */
    readonly revStart: number,
    /** Index just past the version (trailing whitespace excluded). */
    readonly end: number,
  ) {}
}

function quote(v: string): string {
  return v.length > 64 ? `'${v.slice(0, 64)}…' (${v.length} chars)` : `'${v}'`;
}

function invalid(v: string, why: string): HyperwardError {
  return new HyperwardError('E_USAGE', `invalid Debian version ${quote(v)}: ${why}`, {
    layer: 'deb version',
  });
}

function isSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function isAlpha(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

/** Locates epoch, upstream and revision without allocating; throws where dpkg's parser errors out. */
function bounds(v: string): Bounds {
  if (typeof v !== 'string') throw invalid(String(v), 'not a string');
  return boundsIn(v, 0, v.length);
}

/** `bounds` of the version `v[from, to)`, as positions in `v`. */
function boundsIn(v: string, from: number, to: number): Bounds {
  if (to - from > MAX_DEB_VERSION_LENGTH)
    throw invalid(v.slice(from, to), `longer than ${MAX_DEB_VERSION_LENGTH} characters`);
  let start = from;
  let end = to;
  while (start < end && isSpace(v.charCodeAt(start))) start++;
  while (end > start && isSpace(v.charCodeAt(end - 1))) end--;
  if (start === end) throw invalid(v.slice(from, to), 'version string is empty');
  let colon = -1;
  let hyphen = -1;
  for (let i = start; i < end; i++) {
    const c = v.charCodeAt(i);
    if (isSpace(c)) throw invalid(v.slice(from, to), 'version string has embedded spaces');
    if (c === 0x3a && colon < 0) colon = i;
    else if (c === 0x2d) hyphen = i;
  }
  let epoch = 0;
  let upStart = start;
  if (colon >= 0) {
    if (colon === start) throw invalid(v.slice(from, to), 'epoch in version is empty');
    for (let i = start; i < colon; i++) {
      const c = v.charCodeAt(i);
      if (!isDigit(c)) throw invalid(v.slice(from, to), 'epoch in version is not number');
      epoch = epoch * 10 + (c - 0x30);
      if (epoch > MAX_EPOCH) throw invalid(v.slice(from, to), 'epoch in version is too big');
    }
    upStart = colon + 1;
    if (upStart === end) throw invalid(v.slice(from, to), 'nothing after colon in version number');
  }
  // The hyphen found above may sit inside the epoch only if there is no colon after it; dpkg searches after it.
  if (hyphen < upStart) hyphen = -1;
  let upEnd = end;
  let revStart = end;
  if (hyphen >= 0) {
    upEnd = hyphen;
    revStart = hyphen + 1;
    if (revStart === end) throw invalid(v.slice(from, to), 'revision number is empty');
  }
  if (upStart === upEnd) throw invalid(v.slice(from, to), 'version number is empty');
  return new Bounds(epoch, upStart, upEnd, revStart, end);
}

/**
 * Splits a Debian version into epoch, upstream version and revision.
 * @throws HyperwardError `E_USAGE` naming the version when dpkg would refuse it (see the module comment).
 */
export function parseDeb(v: string): DebVersion {
  const b = bounds(v);
  return { epoch: b.epoch, upstream: v.slice(b.upStart, b.upEnd), revision: v.slice(b.revStart, b.end) };
}

/** Whether dpkg accepts `v` as a version (warnings allowed, as in dpkg). */
export function isValidDeb(v: string): boolean {
  try {
    bounds(v);
    return true;
  } catch {
    return false;
  }
}

/** deb-version(7) weight of a character in a non-digit run; the end of the run (or a digit) weighs 0. */
function order(c: number): number {
  if (c === 0x7e) return -1;
  if (isAlpha(c)) return c;
  return c + 256;
}

/**
 * Compares `a[as, ae)` with `b[bs, be)` by the deb-version(7) algorithm. Digit runs are compared as
 * arbitrary-precision numbers (leading zeros skipped, then length, then first differing digit).
 */
function verrevcmp(a: string, as: number, ae: number, b: string, bs: number, be: number): number {
  let i = as;
  let j = bs;
  while (i < ae || j < be) {
    // Non-digit run: the end of the part and a digit both weigh 0.
    for (;;) {
      const ca = i < ae ? a.charCodeAt(i) : 0x30;
      const cb = j < be ? b.charCodeAt(j) : 0x30;
      const na = !isDigit(ca);
      const nb = !isDigit(cb);
      if (!na && !nb) break;
      const oa = na ? order(ca) : 0;
      const ob = nb ? order(cb) : 0;
      if (oa !== ob) return oa < ob ? -1 : 1;
      if (na) i++;
      if (nb) j++;
    }
    // Digit run.
    while (i < ae && a.charCodeAt(i) === 0x30) i++;
    while (j < be && b.charCodeAt(j) === 0x30) j++;
    let firstDiff = 0;
    while (i < ae && isDigit(a.charCodeAt(i)) && j < be && isDigit(b.charCodeAt(j))) {
      if (firstDiff === 0) firstDiff = a.charCodeAt(i) - b.charCodeAt(j);
      i++;
      j++;
    }
    if (i < ae && isDigit(a.charCodeAt(i))) return 1;
    if (j < be && isDigit(b.charCodeAt(j))) return -1;
    if (firstDiff !== 0) return firstDiff < 0 ? -1 : 1;
  }
  return 0;
}

/**
 * Orders two Debian versions as `dpkg --compare-versions` does.
 * @returns -1 when `a` sorts before `b`, 0 when they are equal, 1 when `a` sorts after `b`.
 * @throws HyperwardError `E_USAGE` naming the version when either is invalid (see the module comment).
 */
export function compareDeb(a: string, b: string): -1 | 0 | 1 {
  return compareBounds(a, bounds(a), b, bounds(b));
}

function compareBounds(a: string, x: Bounds, b: string, y: Bounds): -1 | 0 | 1 {
  return compareDebParts(a, x.epoch, x.upStart, x.upEnd, x.revStart, x.end, b, y);
}

/**
 * `compareDeb(a.slice(…), b)` for a version of `a` whose parts are already known (`debBounds`, as positions in `a`):
 * the epoch, then the upstream version `[upStart, upEnd)` and the revision `[revStart, end)`; `y` is `b` taken apart
 * (`prepareDeb`). The positions must lie inside `a` (the caller checks them).
 */
export function compareDebParts(
  a: string,
  epoch: number,
  upStart: number,
  upEnd: number,
  revStart: number,
  end: number,
  b: string,
  y: Bounds,
): -1 | 0 | 1 {
  if (epoch !== y.epoch) return epoch < y.epoch ? -1 : 1;
  const up = verrevcmp(a, upStart, upEnd, b, y.upStart, y.upEnd);
  if (up !== 0) return up < 0 ? -1 : 1;
  const rev = verrevcmp(a, revStart, end, b, y.revStart, y.end);
  return rev < 0 ? -1 : rev > 0 ? 1 : 0;
}

/**
 * Where the parts of a Debian version are (`Bounds`), for a table that stores them beside the version so that
 * comparing against it need not find them again (`compareDebParts`).
 * @throws HyperwardError `E_USAGE` when the version is invalid.
 */
export function debBounds(v: string): Bounds {
  return bounds(v);
}

/** A Debian version taken apart once (`prepareDeb`), for many comparisons (`compareDebIn`). */
export class PreparedDeb {
  constructor(
    readonly value: string,
    readonly bounds: Bounds,
  ) {}
}

/**
 * Takes a Debian version apart once, for `compareDebIn`.
 * @throws HyperwardError `E_USAGE` when it is invalid.
 */
export function prepareDeb(v: string): PreparedDeb {
  return new PreparedDeb(v, bounds(v));
}

/**
 * `compareDeb(a.slice(from, to), b.value)` without the slice, `b` taken apart once: what a binary search over
 * versions stored in one string wants. No closure is made, so nothing short-lived ends up in optimised code.
 * @throws HyperwardError `E_USAGE` when the version in `a` is invalid.
 *
 * @example
 * compareDebIn('1.0-1 1.2-3', 6, 11, prepareDeb('1.2-3')); // 0
 */
export function compareDebIn(a: string, from: number, to: number, b: PreparedDeb): -1 | 0 | 1 {
  return compareBounds(a, boundsIn(a, from, to), b.value, b.bounds);
}

// Made for every comparison: see `shapes.ts`.
keepShape(new PreparedDeb('0', keepShape(new Bounds(0, 0, 1, 1, 1))));
