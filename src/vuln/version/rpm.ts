/**
 * RPM version ordering: the `rpmvercmp` segment algorithm for single fields and rpm's EVR comparison for
 * `[epoch:]version[-release]` strings (as `rpm.vercmp` in rpm's Lua interface orders them).
 *
 * rpmvercmp: identical strings are equal. Otherwise both strings are walked in step: characters that are neither
 * ASCII alphanumerics nor `~` / `^` separate segments and are skipped. A `~` sorts before anything, even the end
 * of the string; a `^` sorts after the end of the string but before anything else. Then one segment is taken from
 * each side, all digits or all letters, whichever the left side starts with; a numeric segment beats an alphabetic
 * one; numeric segments compare as numbers (leading zeros ignored, longer is greater), alphabetic ones by ASCII.
 * When one side runs out, the side with characters left is greater.
 *
 * EVR: the epoch is the leading run of digits before a `:` (absent = `0`), the release is whatever follows the last
 * `-`. Epochs and versions compare with rpmvercmp; releases compare with rpmvercmp when both sides have one, and a
 * side with a release sorts after a side without (rpm 4.18 behaviour, checked against the real tool).
 *
 * Everything works on the strings in place with cursors: no allocation per comparison.
 */
import { HyperwardError } from '../../errors.js';

/** Versions longer than this are refused: no real package version comes near it. */
export const MAX_RPM_VERSION_LENGTH = 256;

/** The parts of an RPM EVR string. `epoch` and `release` are undefined when absent. */
export interface RpmVersion {
  epoch: string | undefined;
  version: string;
  release: string | undefined;
}

function quote(v: string): string {
  return v.length > 64 ? `'${v.slice(0, 64)}…' (${v.length} chars)` : `'${v}'`;
}

function invalid(v: string, why: string): HyperwardError {
  return new HyperwardError('E_USAGE', `invalid RPM version ${quote(v)}: ${why}`, { layer: 'rpm version' });
}

function check(v: string): void {
  if (typeof v !== 'string') throw invalid(String(v), 'not a string');
  if (v.length === 0) throw invalid(v, 'version string is empty');
  if (v.length > MAX_RPM_VERSION_LENGTH) throw invalid(v, `longer than ${MAX_RPM_VERSION_LENGTH} characters`);
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function isAlpha(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

const TILDE = 0x7e;
const CARET = 0x5e;

/** rpmvercmp over `a[as, ae)` and `b[bs, be)`, without the equal-text shortcut (see `fieldcmp`). */
function vercmp(a: string, as: number, ae: number, b: string, bs: number, be: number): -1 | 0 | 1 {
  let i = as;
  let j = bs;
  while (i < ae || j < be) {
    while (i < ae) {
      const c = a.charCodeAt(i);
      if (isDigit(c) || isAlpha(c) || c === TILDE || c === CARET) break;
      i++;
    }
    while (j < be) {
      const c = b.charCodeAt(j);
      if (isDigit(c) || isAlpha(c) || c === TILDE || c === CARET) break;
      j++;
    }
    const ca = i < ae ? a.charCodeAt(i) : -1;
    const cb = j < be ? b.charCodeAt(j) : -1;
    if (ca === TILDE || cb === TILDE) {
      if (ca !== TILDE) return 1;
      if (cb !== TILDE) return -1;
      i++;
      j++;
      continue;
    }
    if (ca === CARET || cb === CARET) {
      if (ca < 0) return -1;
      if (cb < 0) return 1;
      if (ca !== CARET) return 1;
      if (cb !== CARET) return -1;
      i++;
      j++;
      continue;
    }
    if (ca < 0 || cb < 0) break;
    let ei = i;
    let ej = j;
    const numeric = isDigit(ca);
    if (numeric) {
      while (ei < ae && isDigit(a.charCodeAt(ei))) ei++;
      while (ej < be && isDigit(b.charCodeAt(ej))) ej++;
    } else {
      while (ei < ae && isAlpha(a.charCodeAt(ei))) ei++;
      while (ej < be && isAlpha(b.charCodeAt(ej))) ej++;
    }
    // The right side has no segment of the left side's kind: a number beats letters.
    if (ej === j) return numeric ? 1 : -1;
    if (numeric) {
      while (i < ei && a.charCodeAt(i) === 0x30) i++;
      while (j < ej && b.charCodeAt(j) === 0x30) j++;
      if (ei - i !== ej - j) return ei - i > ej - j ? 1 : -1;
    }
    while (i < ei && j < ej) {
      const d = a.charCodeAt(i) - b.charCodeAt(j);
      if (d !== 0) return d < 0 ? -1 : 1;
      i++;
      j++;
    }
    if (i < ei) return 1;
    if (j < ej) return -1;
  }
  if (i >= ae && j >= be) return 0;
  return i < ae ? 1 : -1;
}

/** Whether `a[as, ae)` equals `b[bs, be)`, character by character. */
function sameText(a: string, as: number, ae: number, b: string, bs: number, be: number): boolean {
  if (ae - as !== be - bs) return false;
  for (let k = 0; k < ae - as; k++) if (a.charCodeAt(as + k) !== b.charCodeAt(bs + k)) return false;
  return true;
}

/** rpmvercmp with the allocation-free equality fast path. */
function fieldcmp(a: string, as: number, ae: number, b: string, bs: number, be: number): -1 | 0 | 1 {
  if (sameText(a, as, ae, b, bs, be)) return 0;
  return vercmp(a, as, ae, b, bs, be);
}

/**
 * rpm's `rpmvercmp` on two single fields (a version or a release, without epoch or `-`).
 * @returns -1, 0 or 1 as `a` sorts before, equal to or after `b`.
 * @throws HyperwardError `E_USAGE` for an empty or absurdly long field.
 */
export function rpmvercmp(a: string, b: string): -1 | 0 | 1 {
  check(a);
  check(b);
  return fieldcmp(a, 0, a.length, b, 0, b.length);
}

/** Index of the `:` ending a leading all-digit epoch, or -1. */
function epochColon(v: string): number {
  let i = 0;
  while (i < v.length && isDigit(v.charCodeAt(i))) i++;
  return i < v.length && v.charCodeAt(i) === 0x3a ? i : -1;
}

/** Index of the `-` starting the release (the last one after the epoch), or -1. */
function releaseHyphen(v: string, from: number): number {
  const h = v.lastIndexOf('-');
  return h >= from ? h : -1;
}

/**
 * Splits an RPM EVR string `[epoch:]version[-release]` the way rpm does.
 * @throws HyperwardError `E_USAGE` naming the version when it is empty or absurdly long.
 */
export function parseRpm(v: string): RpmVersion {
  check(v);
  const colon = epochColon(v);
  const vs = colon + 1;
  const hyphen = releaseHyphen(v, vs);
  return {
    epoch: colon >= 0 ? v.slice(0, colon) : undefined,
    version: v.slice(vs, hyphen >= 0 ? hyphen : v.length),
    release: hyphen >= 0 ? v.slice(hyphen + 1) : undefined,
  };
}

/**
 * Orders two RPM EVR strings `[epoch:]version[-release]` as rpm 4.18's `rpm.vercmp` does.
 * @returns -1, 0 or 1 as `a` sorts before, equal to or after `b`.
 * @throws HyperwardError `E_USAGE` naming the version when either is empty or absurdly long.
 */
export function compareRpm(a: string, b: string): -1 | 0 | 1 {
  check(a);
  check(b);
  const ca = epochColon(a);
  const cb = epochColon(b);
  // An absent or empty epoch is "0".
  let r: -1 | 0 | 1;
  if (ca > 0 && cb > 0) r = fieldcmp(a, 0, ca, b, 0, cb);
  else if (ca > 0) r = fieldcmp(a, 0, ca, '0', 0, 1);
  else if (cb > 0) r = fieldcmp('0', 0, 1, b, 0, cb);
  else r = 0;
  if (r !== 0) return r;
  const ha = releaseHyphen(a, ca + 1);
  const hb = releaseHyphen(b, cb + 1);
  r = fieldcmp(a, ca + 1, ha >= 0 ? ha : a.length, b, cb + 1, hb >= 0 ? hb : b.length);
  if (r !== 0) return r;
  if (ha >= 0 && hb >= 0) return fieldcmp(a, ha + 1, a.length, b, hb + 1, b.length);
  if (ha >= 0) return 1;
  if (hb >= 0) return -1;
  return 0;
}
