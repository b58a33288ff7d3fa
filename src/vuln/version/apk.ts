/**
 * Alpine (apk-tools) version ordering: `digit{.digit}...{letter}{_suffix{number}}...{~hash}{-r#}`.
 *
 * The string is read as a sequence of tokens, each one allowed only after certain others:
 * - the initial number (mandatory) and `.number` parts; a number part compares numerically, except that when
 *   either side of a `.number` part starts with `0` both are compared as strings (so `1.05 < 1.1`, `8.2.0 < 8.2.001`);
 * - one lower-case letter right after a number (`1.2a`), compared by character;
 * - `_suffix` with an optional number: `_alpha < _beta < _pre < _rc < (no suffix) < _cvs < _svn < _git < _hg < _p`;
 * - `~hexhash` (a commit hash), compared as a string;
 * - `-rN` (the package revision), compared numerically.
 * Tokens are compared pairwise while both sides have the same kind of token. When the kinds differ, a pre-release
 * suffix (`_alpha` .. `_rc`) makes its side smaller; otherwise the side whose token comes later in the list above
 * (or that has ended) is smaller. A side that turns invalid stops the comparison there, as apk does, so
 * `compareApk` is total over strings; `isValidApk` / `parseApk` say whether apk would accept the version.
 *
 * Numbers are compared exactly at any length (apk reads them into 64-bit integers).
 * Comparison works on the strings in place with cursors: no allocation per comparison.
 */
import { HyperwardError } from '../../errors.js';

/** Versions longer than this are refused: no real package version comes near it. */
export const MAX_APK_VERSION_LENGTH = 256;

/** Token kinds, in apk's order: the order is the semantics. */
const T_INITIAL_DIGIT = 0;
const T_DIGIT = 1;
const T_LETTER = 2;
const T_SUFFIX = 3;
const T_SUFFIX_NO = 4;
const T_COMMIT_HASH = 5;
const T_REVISION_NO = 6;
const T_END = 7;
const T_INVALID = 8;

/** Suffix ranks; NONE (no suffix) is the pivot between pre-release and post-release suffixes. */
const S_INVALID = 0;
const S_ALPHA = 1;
const S_BETA = 2;
const S_PRE = 3;
const S_RC = 4;
const S_NONE = 5;
const S_CVS = 6;
const S_SVN = 7;
const S_GIT = 8;
const S_HG = 9;
const S_P = 10;

/** A Debian-style breakdown of an apk version: the part before `-r`, and the revision number (0 when absent). */
export interface ApkVersion {
  version: string;
  revision: number;
}

function quote(v: string): string {
  return v.length > 64 ? `'${v.slice(0, 64)}…' (${v.length} chars)` : `'${v}'`;
}

function invalid(v: string, why: string): HyperwardError {
  return new HyperwardError('E_USAGE', `invalid Alpine version ${quote(v)}: ${why}`, {
    layer: 'apk version',
  });
}

function check(v: string): void {
  if (typeof v !== 'string') throw invalid(String(v), 'not a string');
  if (v.length > MAX_APK_VERSION_LENGTH) throw invalid(v, `longer than ${MAX_APK_VERSION_LENGTH} characters`);
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function isLower(c: number): boolean {
  return c >= 0x61 && c <= 0x7a;
}

function isHex(c: number): boolean {
  return isDigit(c) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46);
}

/** True when `v[s, e)` spells `lit`. */
function spells(v: string, s: number, e: number, lit: string): boolean {
  return e - s === lit.length && v.startsWith(lit, s);
}

function suffixRank(v: string, s: number, e: number): number {
  if (s === e) return S_INVALID;
  switch (v.charCodeAt(s)) {
    case 0x61:
      return spells(v, s, e, 'alpha') ? S_ALPHA : S_INVALID;
    case 0x62:
      return spells(v, s, e, 'beta') ? S_BETA : S_INVALID;
    case 0x63:
      return spells(v, s, e, 'cvs') ? S_CVS : S_INVALID;
    case 0x67:
      return spells(v, s, e, 'git') ? S_GIT : S_INVALID;
    case 0x68:
      return spells(v, s, e, 'hg') ? S_HG : S_INVALID;
    case 0x70:
      if (e - s === 1) return S_P;
      return spells(v, s, e, 'pre') ? S_PRE : S_INVALID;
    case 0x72:
      return spells(v, s, e, 'rc') ? S_RC : S_INVALID;
    case 0x73:
      return spells(v, s, e, 'svn') ? S_SVN : S_INVALID;
    default:
      return S_INVALID;
  }
}

/**
 * A token cursor over one version string. One instance per side per comparison (two small objects); all state is
 * numbers, so reading tokens allocates nothing.
 */
class Tokens {
  /** Kind of the current token. */
  kind = T_INITIAL_DIGIT;
  /** Suffix rank, for T_SUFFIX. */
  suffix = S_INVALID;
  /** The current token's text is `v[start, end)` (digits, the letter, the suffix name or the hash). */
  start = 0;
  end = 0;
  /** Read position. */
  pos = 0;

  constructor(readonly v: string) {
    this.digits(T_INITIAL_DIGIT);
  }

  private digits(kind: number): void {
    const v = this.v;
    const s = this.pos;
    let i = s;
    while (i < v.length && isDigit(v.charCodeAt(i))) i++;
    this.start = s;
    this.end = i;
    this.pos = i;
    this.kind = i === s ? T_INVALID : kind;
  }

  /** Advances to the next token, enforcing which token may follow which. */
  next(): void {
    const v = this.v;
    if (this.pos >= v.length) {
      this.kind = T_END;
      return;
    }
    const t = this.kind;
    const c = v.charCodeAt(this.pos);
    if (isLower(c)) {
      if (t > T_DIGIT) return this.fail();
      this.start = this.pos;
      this.end = ++this.pos;
      this.kind = T_LETTER;
    } else if (c === 0x2e || isDigit(c)) {
      if (c === 0x2e) {
        if (t > T_DIGIT) return this.fail();
        this.pos++;
      }
      if (t === T_INITIAL_DIGIT || t === T_DIGIT) this.digits(T_DIGIT);
      else if (t === T_SUFFIX) this.digits(T_SUFFIX_NO);
      else this.fail();
    } else if (c === 0x5f) {
      if (t > T_SUFFIX_NO) return this.fail();
      let i = ++this.pos;
      while (i < v.length && isLower(v.charCodeAt(i))) i++;
      this.start = this.pos;
      this.end = i;
      this.pos = i;
      this.suffix = suffixRank(v, this.start, i);
      this.kind = this.suffix === S_INVALID ? T_INVALID : T_SUFFIX;
    } else if (c === 0x7e) {
      if (t >= T_COMMIT_HASH) return this.fail();
      let i = ++this.pos;
      while (i < v.length && isHex(v.charCodeAt(i))) i++;
      this.start = this.pos;
      this.end = i;
      this.pos = i;
      this.kind = i === this.start ? T_INVALID : T_COMMIT_HASH;
    } else if (c === 0x2d) {
      if (t >= T_REVISION_NO || v.charCodeAt(this.pos + 1) !== 0x72) return this.fail();
      this.pos += 2;
      this.digits(T_REVISION_NO);
    } else {
      this.fail();
    }
  }

  private fail(): void {
    this.kind = T_INVALID;
  }
}

/** Byte-wise string order of `a[as, ae)` and `b[bs, be)` (a proper prefix sorts first). */
function textCmp(a: string, as: number, ae: number, b: string, bs: number, be: number): -1 | 0 | 1 {
  const n = Math.min(ae - as, be - bs);
  for (let k = 0; k < n; k++) {
    const d = a.charCodeAt(as + k) - b.charCodeAt(bs + k);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  const la = ae - as;
  const lb = be - bs;
  return la < lb ? -1 : la > lb ? 1 : 0;
}

/** Numeric order of two digit runs of any length. */
function numCmp(a: string, as: number, ae: number, b: string, bs: number, be: number): -1 | 0 | 1 {
  while (as < ae && a.charCodeAt(as) === 0x30) as++;
  while (bs < be && b.charCodeAt(bs) === 0x30) bs++;
  if (ae - as !== be - bs) return ae - as < be - bs ? -1 : 1;
  return textCmp(a, as, ae, b, bs, be);
}

function tokenCmp(x: Tokens, y: Tokens): -1 | 0 | 1 {
  switch (x.kind) {
    case T_DIGIT:
      if (x.v.charCodeAt(x.start) === 0x30 || y.v.charCodeAt(y.start) === 0x30) {
        return textCmp(x.v, x.start, x.end, y.v, y.start, y.end);
      }
      return numCmp(x.v, x.start, x.end, y.v, y.start, y.end);
    case T_INITIAL_DIGIT:
    case T_SUFFIX_NO:
    case T_REVISION_NO:
      return numCmp(x.v, x.start, x.end, y.v, y.start, y.end);
    case T_LETTER: {
      const d = x.v.charCodeAt(x.start) - y.v.charCodeAt(y.start);
      return d < 0 ? -1 : d > 0 ? 1 : 0;
    }
    case T_SUFFIX:
      return x.suffix < y.suffix ? -1 : x.suffix > y.suffix ? 1 : 0;
    default:
      return textCmp(x.v, x.start, x.end, y.v, y.start, y.end);
  }
}

function compare(a: string, b: string, fuzzy: boolean): -1 | 0 | 1 {
  check(a);
  check(b);
  const x = new Tokens(a);
  const y = new Tokens(b);
  for (; x.kind === y.kind && x.kind < T_END; x.next(), y.next()) {
    const r = tokenCmp(x, y);
    if (r !== 0) return r;
  }
  if (x.kind === y.kind) return 0;
  if (fuzzy && y.kind === T_END) return 0;
  if (x.kind === T_SUFFIX && x.suffix < S_NONE) return -1;
  if (y.kind === T_SUFFIX && y.suffix < S_NONE) return 1;
  return x.kind > y.kind ? -1 : 1;
}

/**
 * Orders two Alpine versions as apk-tools does (`apk version -t`).
 * @returns -1, 0 or 1 as `a` sorts before, equal to or after `b`.
 * @throws HyperwardError `E_USAGE` naming the version when either is absurdly long. Versions apk would reject are
 *   still ordered the way apk orders them (use `isValidApk` to check).
 */
export function compareApk(a: string, b: string): -1 | 0 | 1 {
  return compare(a, b, false);
}

/**
 * apk's fuzzy comparison (the `~` dependency operator): like `compareApk`, except that `a` equals `b` when `b` is a
 * token-wise prefix of `a` (`3.6.9 ~ 3.6`, `3.6_pre1 ~ 3.6`).
 * @throws HyperwardError `E_USAGE` naming the version when either is absurdly long.
 */
export function compareApkFuzzy(a: string, b: string): -1 | 0 | 1 {
  return compare(a, b, true);
}

/** Whether apk-tools accepts `v` as a version. */
export function isValidApk(v: string): boolean {
  if (typeof v !== 'string' || v.length > MAX_APK_VERSION_LENGTH) return false;
  const t = new Tokens(v);
  while (t.kind < T_END) t.next();
  return t.kind === T_END;
}

/**
 * Checks an Alpine version and splits off its `-rN` package revision.
 * @throws HyperwardError `E_USAGE` naming the version when apk-tools would reject it.
 */
export function parseApk(v: string): ApkVersion {
  check(v);
  const t = new Tokens(v);
  let revStart = -1;
  let revEnd = -1;
  while (t.kind < T_END) {
    if (t.kind === T_REVISION_NO) {
      revStart = t.start;
      revEnd = t.end;
    }
    t.next();
  }
  if (t.kind !== T_END) throw invalid(v, `bad syntax at offset ${Math.min(t.pos, v.length)}`);
  if (revStart < 0) return { version: v, revision: 0 };
  if (revEnd - revStart > 15) throw invalid(v, 'revision number too large');
  return { version: v.slice(0, revStart - 2), revision: Number(v.slice(revStart, revEnd)) };
}
