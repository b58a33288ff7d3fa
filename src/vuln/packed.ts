/**
 * Packed match rows: every affected entry one distribution release has for one package, with the facts of their
 * advisories, in one compact binary value that the matcher reads without parsing JSON or comparing version strings
 * entry by entry. The advisory database computes one per (distro, package) at import time (`db/store.ts`, table
 * `match_rows`); the matcher evaluates an installed version against it (`match.ts`). Pure functions, no I/O.
 *
 * What is done ahead of time:
 * - Every version a usable entry names (range events and listed versions) goes into one table per row, sorted by
 *   the scheme's order and numbered by equivalence class (`1.0` and `1.00` share a class in Debian's order). An
 *   event refers to its version by position in that table, so evaluating an entry compares small integers: the
 *   installed version is placed among the classes once per row (a binary search, a few real comparisons).
 * - Range events are stored in the order `range.ts` walks them (sorted, stably, `introduced: "0"` first).
 * - Facts (`MatchFacts`) are stored once per advisory of the row and decoded only for the advisories a match needs.
 * - An entry that `range.ts` would report a problem about (an invalid version, too many ranges or events, a scheme
 *   other than the row's) or that has fields of unexpected types is kept as its JSON and evaluated by `range.ts` at
 *   match time, so notes and outcomes are exactly those of the unpacked path. Facts of unexpected shape are kept as
 *   JSON likewise.
 *
 * Layout (integers are unsigned LEB128 varints of at most 32 bits; a string is a (start, length) pair of varints
 * into the string section, in UTF-16 code units):
 *
 *     format (1 byte) · string encoding (1 byte: 0 latin1, 1 UTF-16LE) · string bytes · string section
 *     scheme (0 deb, 1 rpm, 2 apk) · version count · per version: string, class step (0 same class, 1 next)
 *     facts bytes · facts section (one record per advisory, referred to by its offset in the section)
 *     entry count · entries
 *
 *     entry  = 0 · advisory offset · flags (1 wontFix, 2 arches, 4 module, 8 distroSeverity) · ecosystem
 *              [· arch count · arches] [· module] [· distroSeverity]
 *              · range count · per range: event count · per event: version index × 4 + kind
 *                (kind 0 introduced, 1 fixed, 2 last_affected, 3 introduced "0" with index 0)
 *              · listed count · listed version indexes
 *            | 1 · advisory offset · entry JSON
 *     facts  = flags (1 withdrawn, 2 JSON, 4 distroSeverity, 8 published, 16 summary, 32 advisoryUrl) · key
 *              then, withdrawn: nothing; JSON: the facts' JSON (without the key); else
 *              id · origin · vulnerability id count · ids · CVSS count · per score: version (0 2.0, 1 3.0, 2 3.1,
 *              3 4.0) · vector · score kind (0 tenths, 1 decimal string) · score · severity (index in SEVERITIES)
 *              · bad vector count · vectors [· distroSeverity] · alias count · aliases [· published] · modified
 *              [· summary] [· advisoryUrl] · URL count · URLs
 *
 * Reading checks every offset, count and index against what is there: a damaged value gives a `HyperwardError`
 * (`E_IO`) naming the row, never an exception from deep inside or a loop past the data.
 */
import { hash } from 'node:crypto';
import { HyperwardError } from '../errors.js';
import { SEVERITIES, type CvssScore, type Severity } from '../model/finding.js';
import type { PackageEcosystem } from '../model/inventory.js';
import {
  checkRange,
  FIXED,
  INTRODUCED,
  isValidVersion,
  LAST_AFFECTED,
  MAX_RANGES,
  MAX_VERSIONS,
  walkRange,
  WALK_AFFECTED,
  type WalkedEvents,
  WALK_FIXED,
  type RangeOutcome,
} from './range.js';
import type { AdvisoryOrigin, AffectedPackage, MatchFacts } from './types.js';
import { factsObject, hasFactsShape, isStringArray } from './facts.js';
import { keepShape } from '../shapes.js';
import { compareVersionIn, compareVersions, prepareVersion, type PreparedVersion } from './version/index.js';

/** The format byte; bump with any change to the layout or to what is computed ahead of time. */
export const PACKED_FORMAT = 1;

const SCHEMES: readonly PackageEcosystem[] = ['deb', 'rpm', 'apk'];
const CVSS_VERSIONS: readonly CvssScore['version'][] = ['2.0', '3.0', '3.1', '4.0'];
const ORIGINS: readonly AdvisoryOrigin[] = ['osv', 'debian-tracker', 'alpine-secdb', 'nvd'];

/** Event kinds as stored: `range.ts`'s, and an `introduced: "0"`. */
const K_INTRODUCED = INTRODUCED;
const K_FIXED = FIXED;
const K_LAST_AFFECTED = LAST_AFFECTED;
const K_ZERO = 3;

const E_WONTFIX = 1;
const E_ARCHES = 2;
const E_MODULE = 4;
const E_SEVERITY = 8;

const F_WITHDRAWN = 1;
const F_JSON = 2;
const F_SEVERITY = 4;
const F_PUBLISHED = 8;
const F_SUMMARY = 16;
const F_ADVISORY_URL = 32;

/** One affected entry of a row as `encodePackedRow` takes it: the entry, its JSON as stored, its advisory. */
export interface PackedInput {
  /** The advisory's storage key. */
  key: string;
  /** The entry as parsed from `json` (its `distro` and `package` are the row's). */
  entry: AffectedPackage;
  /** The entry's JSON, as the database stores it. */
  json: string;
  /** The advisory's facts (`key` may be absent: it is `key`). */
  facts: Omit<MatchFacts, 'key'> & { key?: string };
  /** The facts' JSON, as the database stores it. */
  factsJson: string;
}

/** What the matcher needs of an entry beyond its outcome. */
export type EntryView = Pick<
  AffectedPackage,
  'ecosystem' | 'arches' | 'module' | 'distroSeverity' | 'wontFix'
>;

/**
 * A packed entry as the matcher sees it: a class with every field from the start (undefined when the entry has
 * none; `wontFix` false), so that every view has one map, kept alive below (see `shapes.ts`).
 */
class PackedEntryView implements EntryView {
  constructor(
    readonly ecosystem: string,
    readonly arches: string[] | undefined,
    readonly module: string | undefined,
    readonly distroSeverity: string | undefined,
    readonly wontFix: boolean,
  ) {}
}

// ---------------------------------------------------------------------------------------------------------------
// Encoding.

/** Varints and bytes into a growing buffer. */
export class Writer {
  private buf = Buffer.allocUnsafe(256);
  length = 0;

  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.length + n));
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }

  u(v: number): void {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new Error(`packed row: cannot write ${v}`);
    this.room(5);
    while (v >= 0x80) {
      this.buf[this.length++] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 128);
    }
    this.buf[this.length++] = v;
  }

  /** One byte. */
  byte(v: number): void {
    if (!Number.isInteger(v) || v < 0 || v > 0xff) throw new Error(`packed row: cannot write ${v}`);
    this.room(1);
    this.buf[this.length++] = v;
  }

  /** An unsigned integer of `width` bytes (2 or 4), little-endian. */
  fixed(v: number, width: 2 | 4): void {
    if (!Number.isInteger(v) || v < 0 || v >= 2 ** (8 * width))
      throw new Error(`packed row: cannot write ${v}`);
    this.room(width);
    if (width === 2) this.buf.writeUInt16LE(v, this.length);
    else this.buf.writeUInt32LE(v, this.length);
    this.length += width;
  }

  bytes(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }

  result(): Buffer {
    return this.buf.subarray(0, this.length);
  }
}

/** The strings of a row, each stored once. */
export class Strings {
  private readonly at = new Map<string, number>();
  private readonly parts: string[] = [];
  private size = 0;

  /** Where `s` is in the section (in UTF-16 code units), added if it is not there yet. */
  add(s: string): number {
    let off = this.at.get(s);
    if (off === undefined) {
      off = this.size;
      this.at.set(s, off);
      this.parts.push(s);
      this.size += s.length;
    }
    return off;
  }

  /** Writes a reference to `s`: its start and length, as varints. */
  ref(w: Writer, s: string): void {
    w.u(this.add(s));
    w.u(s.length);
  }

  /** The encoding byte and the bytes of the section. */
  section(): [number, Buffer] {
    const all = this.parts.join('');
    for (let i = 0; i < all.length; i++) {
      if (all.charCodeAt(i) > 0xff) return [1, Buffer.from(all, 'utf16le')];
    }
    return [0, Buffer.from(all, 'latin1')];
  }
}

/** The ranges of an entry in walking order, or undefined when `range.ts` would report something about them. */
function cleanRanges(scheme: PackageEcosystem, entry: AffectedPackage): unknown[][] | undefined {
  const ranges: unknown = entry.ranges;
  if (!Array.isArray(ranges) || ranges.length > MAX_RANGES) return undefined;
  const out: unknown[][] = [];
  for (const r of ranges) {
    const events = checkRange(scheme, r);
    if (typeof events === 'string') return undefined;
    out.push(events as unknown[]);
  }
  return out;
}

/** The kind and version of a checked event. */
function eventParts(ev: unknown): [number, string] {
  const o = ev as { introduced?: string; fixed?: string; last_affected?: string };
  if (o.introduced !== undefined) return o.introduced === '0' ? [K_ZERO, '0'] : [K_INTRODUCED, o.introduced];
  if (o.fixed !== undefined) return [K_FIXED, o.fixed];
  return [K_LAST_AFFECTED, o.last_affected!];
}

/** Whether an entry can be packed: it is what `range.ts` evaluates without a problem, and its fields are typed. */
function packable(
  scheme: PackageEcosystem,
  e: AffectedPackage,
): { ranges: unknown[][]; versions: string[] } | undefined {
  if (e.scheme !== scheme || typeof e.ecosystem !== 'string') return undefined;
  if (e.arches !== undefined && !isStringArray(e.arches)) return undefined;
  if (e.module !== undefined && typeof e.module !== 'string') return undefined;
  if (e.distroSeverity !== undefined && typeof e.distroSeverity !== 'string') return undefined;
  if (e.wontFix !== undefined && typeof e.wontFix !== 'boolean') return undefined;
  const versions: unknown = e.versions;
  if (!isStringArray(versions) || versions.length > MAX_VERSIONS) return undefined;
  if (!versions.every((v) => isValidVersion(scheme, v))) return undefined;
  const ranges = cleanRanges(scheme, e);
  return ranges && { ranges, versions };
}

function isScore(c: unknown): c is CvssScore {
  const o = c as CvssScore;
  return (
    typeof o === 'object' &&
    o !== null &&
    CVSS_VERSIONS.includes(o.version) &&
    typeof o.vector === 'string' &&
    typeof o.baseScore === 'number' &&
    Number.isFinite(o.baseScore) &&
    o.baseScore >= 0 &&
    SEVERITIES.includes(o.severity) &&
    Object.keys(o).length === 4
  );
}

const FACT_KEYS = new Set([
  'key',
  'id',
  'origin',
  'withdrawn',
  'vulnIds',
  'cvss',
  'badVectors',
  'distroSeverity',
  'aliasIds',
  'published',
  'modified',
  'summary',
  'advisoryUrl',
  'urls',
]);

/** Whether facts have exactly the shape the packed form stores (else they are kept as JSON). */
function packableFacts(f: PackedInput['facts']): boolean {
  return (
    hasFactsShape(f) &&
    Object.keys(f).every((k) => FACT_KEYS.has(k)) &&
    ORIGINS.includes(f.origin) &&
    typeof f.withdrawn === 'boolean' &&
    f.cvss.every(isScore)
  );
}

function writeFacts(w: Writer, s: Strings, key: string, f: PackedInput['facts'], json: string): void {
  if (f.withdrawn === true) {
    w.u(F_WITHDRAWN);
    s.ref(w, key);
    return;
  }
  if (!packableFacts(f)) {
    w.u(F_JSON);
    s.ref(w, key);
    s.ref(w, json);
    return;
  }
  const flags =
    (f.distroSeverity !== undefined ? F_SEVERITY : 0) |
    (f.published !== undefined ? F_PUBLISHED : 0) |
    (f.summary !== undefined ? F_SUMMARY : 0) |
    (f.advisoryUrl !== undefined ? F_ADVISORY_URL : 0);
  w.u(flags);
  s.ref(w, key);
  s.ref(w, f.id);
  w.u(ORIGINS.indexOf(f.origin));
  const list = (xs: readonly string[]): void => {
    w.u(xs.length);
    for (const x of xs) s.ref(w, x);
  };
  list(f.vulnIds);
  w.u(f.cvss.length);
  for (const c of f.cvss) {
    w.u(CVSS_VERSIONS.indexOf(c.version));
    s.ref(w, c.vector);
    const tenths = Math.round(c.baseScore * 10);
    if (tenths / 10 === c.baseScore && tenths <= 0xffffffff) {
      w.u(0);
      w.u(tenths);
    } else {
      w.u(1);
      s.ref(w, String(c.baseScore));
    }
    w.u(SEVERITIES.indexOf(c.severity));
  }
  list(f.badVectors);
  if (f.distroSeverity !== undefined) s.ref(w, f.distroSeverity);
  list(f.aliasIds);
  if (f.published !== undefined) s.ref(w, f.published);
  s.ref(w, f.modified);
  if (f.summary !== undefined) s.ref(w, f.summary);
  if (f.advisoryUrl !== undefined) s.ref(w, f.advisoryUrl);
  list(f.urls);
}

/**
 * Packs the entries one distribution release has for one package, in the order the matcher must visit them
 * (advisory, then position in the record). Entries whose scheme is not `scheme` are kept as JSON.
 *
 * @example
 * const value = encodePackedRow('deb', rows.map((r) => ({ key: r.key, entry: JSON.parse(r.entry), json: r.entry,
 *   facts: JSON.parse(r.facts), factsJson: r.facts })));
 */
export function encodePackedRow(scheme: PackageEcosystem, inputs: readonly PackedInput[]): Buffer {
  const strings = new Strings();

  // The facts, one record per advisory key, in order of first appearance.
  const facts = new Writer();
  const factsAt = new Map<string, number>();
  for (const x of inputs) {
    if (factsAt.has(x.key)) continue;
    factsAt.set(x.key, facts.length);
    writeFacts(facts, strings, x.key, x.facts, x.factsJson);
  }

  // The versions the packed entries name, sorted and grouped into classes.
  const packed = inputs.map((x) => packable(scheme, x.entry));
  const distinct = new Set<string>();
  for (const p of packed) {
    if (!p) continue;
    for (const r of p.ranges) {
      for (const ev of r) {
        const [kind, v] = eventParts(ev);
        if (kind !== K_ZERO) distinct.add(v);
      }
    }
    for (const v of p.versions) distinct.add(v);
  }
  const sorted = [...distinct].sort((a, b) => compareVersions(scheme, a, b) || (a < b ? -1 : a > b ? 1 : 0));
  const index = new Map<string, number>();
  sorted.forEach((v, i) => index.set(v, i));

  const w = new Writer();
  w.u(SCHEMES.indexOf(scheme));
  w.u(sorted.length);
  for (let i = 0; i < sorted.length; i++) {
    strings.ref(w, sorted[i]!);
    w.u(i > 0 && compareVersions(scheme, sorted[i - 1]!, sorted[i]!) < 0 ? 1 : 0);
  }
  const factsBytes = facts.result();
  w.u(factsBytes.length);
  w.bytes(factsBytes);
  w.u(inputs.length);
  inputs.forEach((x, i) => {
    const p = packed[i];
    const adv = factsAt.get(x.key)!;
    if (!p) {
      w.u(1);
      w.u(adv);
      strings.ref(w, x.json);
      return;
    }
    const e = x.entry;
    w.u(0);
    w.u(adv);
    w.u(
      (e.wontFix ? E_WONTFIX : 0) |
        (e.arches !== undefined ? E_ARCHES : 0) |
        (e.module !== undefined ? E_MODULE : 0) |
        (e.distroSeverity !== undefined ? E_SEVERITY : 0),
    );
    strings.ref(w, e.ecosystem);
    if (e.arches !== undefined) {
      w.u(e.arches.length);
      for (const a of e.arches) strings.ref(w, a);
    }
    if (e.module !== undefined) strings.ref(w, e.module);
    if (e.distroSeverity !== undefined) strings.ref(w, e.distroSeverity);
    w.u(p.ranges.length);
    for (const r of p.ranges) {
      w.u(r.length);
      for (const ev of r) {
        const [kind, v] = eventParts(ev);
        w.u(kind === K_ZERO ? K_ZERO : index.get(v)! * 4 + kind);
      }
    }
    w.u(p.versions.length);
    for (const v of p.versions) w.u(index.get(v)!);
  });

  const [enc, section] = strings.section();
  const head = new Writer();
  head.u(PACKED_FORMAT);
  head.u(enc);
  head.u(section.length);
  head.bytes(section);
  head.bytes(w.result());
  return Buffer.from(head.result());
}

// ---------------------------------------------------------------------------------------------------------------
// Decoding.

/** Where the varint `readVarint` read last ends. One reader at a time: nothing here calls itself. */
export const VARINT = { end: 0 };

/** What went wrong, for a negative `readVarint`: -1, -2, -3. */
export const VARINT_PROBLEMS: readonly string[] = ['truncated', 'number too large', 'number too long'];

/**
 * The unsigned LEB128 varint (at most 32 bits) at `pos` of `buf`, read no further than `limit`; where it ends is
 * left in `VARINT.end`. Negative when it cannot be read (see `VARINT_PROBLEMS`): the caller names what it was
 * reading. Shared by the packed rows and the verdicts.
 */
export function readVarint(buf: Uint8Array, pos: number, limit: number): number {
  let v = 0;
  let mul = 1;
  for (let i = 0; i < 5; i++) {
    if (pos >= limit) {
      VARINT.end = pos;
      return -1;
    }
    const b = buf[pos++]!;
    v += (b & 0x7f) * mul;
    if (b < 0x80) {
      VARINT.end = pos;
      return v > 0xffffffff ? -2 : v;
    }
    mul *= 128;
  }
  VARINT.end = pos;
  return -3;
}

/**
 * A table of sorted versions numbered by class (non-decreasing from 0), as rows keep it: version i lies at
 * `[start, end)` of `text`.
 */
export interface VersionTable {
  readonly versionCount: number;
  /** How version i of the table orders against `installed` (`compareVersionIn`). */
  compareAt(i: number, installed: PreparedVersion): number;
  classOf(i: number): number;
}

/**
 * Where an installed version sits among the versions of a table: `2k + 1` when it equals class `k`, `2k` when it lies
 * between classes `k - 1` and `k` (`2 × classes` above them all). An event of class `c` compares to it as `2c + 1`
 * does. A binary search: a few real comparisons. Methods, not callbacks: a closure made per call and called in a
 * hot loop ends up in optimised code, which each garbage collection then throws away.
 *
 * @throws whatever `compareAt` throws (for a version of the table that is not valid).
 */
export function placeVersion(table: VersionTable, installed: PreparedVersion): number {
  const n = table.versionCount;
  let lo = 0;
  let hi = n;
  let equal = false;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const c = table.compareAt(mid, installed);
    if (c < 0) lo = mid + 1;
    else {
      if (c === 0) equal = true;
      hi = mid;
    }
  }
  if (lo >= n) return n > 0 ? 2 * (table.classOf(n - 1) + 1) : 0;
  return equal ? 2 * table.classOf(lo) + 1 : 2 * table.classOf(lo);
}

/** Where rows put the events of the range they walk: one at a time (`evaluate` does not call itself). */
let SCRATCH = new Int32Array(64);
/** The list of nothing that facts share. */
const NOTHING: readonly never[] = Object.freeze([]);

const AFFECTED_NO_FIX: RangeOutcome = Object.freeze({ state: 'affected' });
const FIXED_OUTCOME: RangeOutcome = Object.freeze({ state: 'fixed' });

/**
 * Called for each entry that says something about the installed version, with where its advisory's facts are in
 * the row (for `facts` and `keyAt`).
 */
export type PackedVisit = (outcome: RangeOutcome, entry: EntryView, facts: number, index: number) => void;
/**
 * Called for each entry kept as JSON (`entry` already parsed, its `distro` and `package` set): evaluates it (with
 * `range.ts`, reporting problems) and says what it says.
 */
export type PackedRaw = (entry: AffectedPackage, key: string) => RangeOutcome;

/**
 * One packed row, read. The string section and the version table are read when the row is made; entries when
 * `evaluate` walks them; facts when `facts` is asked.
 */
export class PackedRow implements WalkedEvents, VersionTable {
  readonly scheme: PackageEcosystem;
  private readonly s: string;
  /** Version table: start and length of each string, and its class. */
  private readonly vStart: Int32Array;
  private readonly vLen: Int32Array;
  private readonly vClass: Int32Array;
  private readonly classes: number;
  private readonly factsStart: number;
  private readonly factsEnd: number;
  private readonly entriesStart: number;
  private pos = 0;
  /** Where each entry starts; made when `entryAt` is first asked. */
  private entryOffsets: number[] | undefined = undefined;
  /** Facts read, by record offset; made on the first read (most rows are read for one version, some for none). */
  private factsRead: Map<number, MatchFacts | null> | undefined = undefined;
  /** The events of the range being walked, and where the installed version sits (see `place`). */
  private scratch = SCRATCH;
  private at = 0;

  /**
   * @param where what to name in an error (`debian:12 openssl in /path/advisories.db`).
   * @throws HyperwardError `E_IO` when the value is damaged.
   */
  constructor(
    private readonly buf: Uint8Array,
    private readonly where: string,
    private readonly distro: string,
    private readonly pkg: string,
  ) {
    if (this.u() !== PACKED_FORMAT) throw this.bad('unknown format');
    const enc = this.u();
    const bytes = this.u();
    const start = this.pos;
    if (bytes > buf.length - start || enc > 1 || (enc === 1 && bytes % 2 !== 0))
      throw this.bad('string section');
    this.s = Buffer.from(buf.buffer, buf.byteOffset + start, bytes).toString(
      enc === 0 ? 'latin1' : 'utf16le',
    );
    this.pos = start + bytes;
    const scheme = SCHEMES[this.u()];
    if (scheme === undefined) throw this.bad('scheme');
    this.scheme = scheme;
    const n = this.count(3);
    this.vStart = new Int32Array(n);
    this.vLen = new Int32Array(n);
    this.vClass = new Int32Array(n);
    let cls = 0;
    for (let i = 0; i < n; i++) {
      this.vStart[i] = this.u();
      const len = (this.vLen[i] = this.u());
      if (this.vStart[i]! + len > this.s.length) throw this.bad('string out of range');
      const step = this.u();
      if (step > 1) throw this.bad('version class');
      if (i > 0) cls += step;
      this.vClass[i] = cls;
    }
    this.classes = n > 0 ? cls + 1 : 0;
    const fb = this.u();
    if (fb > buf.length - this.pos) throw this.bad('facts section');
    this.factsStart = this.pos;
    this.factsEnd = this.pos + fb;
    this.entriesStart = this.factsEnd;
  }

  private bad(what: string): HyperwardError {
    return new HyperwardError(
      'E_IO',
      `damaged match row for ${this.distro} ${this.pkg} (${what}): delete the database and run \`hyperward db import\` again`,
      { file: this.where, layer: 'advisory database match row', offset: this.pos },
    );
  }

  /** `WalkedEvents`: the kind of event i of the range in `scratch`. */
  kind(i: number): number {
    const k = this.scratch[i]! & 3;
    return k === K_ZERO ? INTRODUCED : k;
  }

  /** `WalkedEvents`: how event i of the range in `scratch` compares to the installed version (see `place`). */
  order(i: number): number {
    const x = this.scratch[i]!;
    return (x & 3) === K_ZERO ? -1 : 2 * this.vClass[x >>> 2]! + 1 - this.at;
  }

  /** A varint at the cursor. */
  private u(): number {
    const v = readVarint(this.buf, this.pos, this.buf.length);
    this.pos = VARINT.end;
    if (v < 0) throw this.bad(VARINT_PROBLEMS[-v - 1]!);
    return v;
  }

  /** A count of items of at least `min` bytes each, checked against what is left. */
  private count(min: number): number {
    const n = this.u();
    if (n * min > this.buf.length - this.pos) throw this.bad('count past the end');
    return n;
  }

  /** A string reference at the cursor. */
  private str(): string {
    const start = this.u();
    const len = this.u();
    if (start + len > this.s.length) throw this.bad('string out of range');
    return this.s.slice(start, start + len);
  }

  /** A counted list of string references at the cursor. */
  private strings(): string[] {
    const n = this.count(2);
    if (n === 0) return NOTHING as never[];
    const out = new Array<string>(n);
    for (let i = 0; i < n; i++) out[i] = this.str();
    return out;
  }

  /** Skips a string reference. */
  private skipStr(): void {
    this.u();
    this.u();
  }

  private version(i: number): string {
    return this.s.slice(this.vStart[i]!, this.vStart[i]! + this.vLen[i]!);
  }

  /**
   * Where `installed` (valid in the row's scheme) sits among the version classes: `2k + 1` when it equals class
   * `k`, `2k` when it lies between classes `k - 1` and `k`. An event of class `c` compares to it as `2c + 1` does.
   */
  private place(installed: string): number {
    try {
      return placeVersion(this, prepareVersion(this.scheme, installed));
    } catch {
      throw this.bad('invalid version in the table');
    }
  }

  /** An event's version index and kind, checked. */
  private event(): number {
    const x = this.u();
    if (x >>> 2 >= this.vStart.length && (x & 3) !== K_ZERO) throw this.bad('event version');
    return x;
  }

  /**
   * Evaluates every entry for an installed version of `scheme` (checked valid by the caller), in order: a packed
   * entry by its version classes (exactly what `range.ts` would say), one kept as JSON through `raw`. `visit`
   * gets each entry whose outcome is not `unaffected`.
   */
  evaluate(scheme: PackageEcosystem, installed: string, visit: PackedVisit, raw: PackedRaw): void {
    const packedApplies = scheme === this.scheme;
    const at = packedApplies && this.vStart.length > 0 ? this.place(installed) : 0;
    this.walkEntries(at, packedApplies, scheme, visit, raw);
  }

  /**
   * What `evaluate` says for an installed version of the row's scheme at position `at` among the version classes
   * (`place`): `2k + 1` equal to class k, `2k` between classes k - 1 and k, from 0 to `positions - 1`. Entries kept
   * as JSON are not evaluated here (`plain` says whether there are any).
   */
  evaluateAt(at: number, visit: PackedVisit): void {
    if (!Number.isInteger(at) || at < 0 || at >= this.positions) throw new RangeError(`position ${at}`);
    this.walkEntries(at, true, this.scheme, visit, () => AFFECTED_NO_FIX, true);
  }

  /** How many positions an installed version can take among the version classes: `2 × classes + 1`. */
  get positions(): number {
    return 2 * this.classes + 1;
  }

  /** How many versions the row's table holds. */
  get versionCount(): number {
    return this.vStart.length;
  }

  /** Version i of the table (sorted by the scheme's order). */
  versionAt(i: number): string {
    if (!Number.isInteger(i) || i < 0 || i >= this.vStart.length) throw this.bad('version index');
    return this.version(i);
  }

  /** The class of version i (equal versions share one; classes count up from 0). */
  classOf(i: number): number {
    if (!Number.isInteger(i) || i < 0 || i >= this.vStart.length) throw this.bad('version index');
    return this.vClass[i]!;
  }

  /** `VersionTable`: how version i orders against an installed version. */
  compareAt(i: number, installed: PreparedVersion): number {
    const start = this.vStart[i]!;
    return compareVersionIn(this.s, start, start + this.vLen[i]!, installed);
  }

  /** How many bytes the entries take: what walking them all once costs, roughly. */
  get entryBytes(): number {
    return this.buf.length - this.entriesStart;
  }

  /** How many entries the row has. */
  get entryCount(): number {
    this.pos = this.entriesStart;
    return this.u();
  }

  /**
   * Whether every entry is packed (none kept as JSON) and none is restricted to architectures or (in an RPM row)
   * to a module: the row then says the same for every package of its name at one version.
   */
  plain(): boolean {
    let plain = true;
    const n = this.firstEntry();
    for (let k = 0; k < n; k++) if (this.skipEntry()) plain = false;
    return plain;
  }

  /** Entry i as the matcher sees it, and where its advisory's facts are (for `facts`). */
  entryAt(i: number): { view: EntryView; facts: number } {
    const offsets = (this.entryOffsets ??= this.indexEntries());
    if (!Number.isInteger(i) || i < 0 || i >= offsets.length) throw this.bad('entry index');
    this.pos = offsets[i]!;
    const form = this.u();
    const adv = this.u();
    if (adv >= this.factsEnd - this.factsStart) throw this.bad('advisory offset');
    if (form !== 0) throw this.bad('entry form');
    const flags = this.u();
    const ecosystem = this.str();
    let arches: string[] | undefined;
    if (flags & E_ARCHES) {
      const m = this.count(2);
      arches = [];
      for (let k = 0; k < m; k++) arches.push(this.str());
    }
    const module = flags & E_MODULE ? this.str() : undefined;
    const distroSeverity = flags & E_SEVERITY ? this.str() : undefined;
    const view = new PackedEntryView(ecosystem, arches, module, distroSeverity, (flags & E_WONTFIX) !== 0);
    return { view, facts: adv };
  }

  /** Where each entry starts. */
  private indexEntries(): number[] {
    const out: number[] = [];
    const n = this.firstEntry();
    for (let k = 0; k < n; k++) {
      out.push(this.pos);
      this.skipEntry();
    }
    return out;
  }

  /** How many entries the row has, the cursor left on the first. */
  private firstEntry(): number {
    this.pos = this.entriesStart;
    return this.count(2);
  }

  /**
   * Skips the entry at the cursor, checking it as it goes. Says whether it applies only to some packages of its
   * name: kept as JSON, architectures listed, or (in an RPM row) a module named. Not a visitor taking a callback: a
   * closure made per call and called in a loop ends up in optimised code, which each garbage collection then throws
   * away.
   */
  private skipEntry(): boolean {
    const form = this.u();
    this.u();
    if (form === 1) {
      this.skipStr();
      return true;
    }
    if (form !== 0) throw this.bad('entry form');
    const flags = this.u();
    this.skipStr();
    let restricted = false;
    if (flags & E_ARCHES) {
      const m = this.count(2);
      if (m > 0) restricted = true;
      for (let i = 0; i < m; i++) this.skipStr();
    }
    if (flags & E_MODULE) {
      this.u();
      // `applies` in match.ts: an empty module name is no module.
      if (this.u() > 0 && this.scheme === 'rpm') restricted = true;
    }
    if (flags & E_SEVERITY) this.skipStr();
    const nr = this.count(1);
    for (let r = 0; r < nr; r++) {
      const ne = this.count(1);
      for (let i = 0; i < ne; i++) this.event();
    }
    const nl = this.count(1);
    for (let i = 0; i < nl; i++) this.u();
    return restricted;
  }

  private walkEntries(
    at: number,
    packedApplies: boolean,
    scheme: PackageEcosystem,
    visit: PackedVisit,
    raw: PackedRaw,
    skipRaw = false,
  ): void {
    this.pos = this.entriesStart;
    const n = this.count(2);
    this.at = at;
    const cls = this.vClass;
    for (let k = 0; k < n; k++) {
      const form = this.u();
      const adv = this.u();
      if (adv >= this.factsEnd - this.factsStart) throw this.bad('advisory offset');
      if (form === 1) {
        if (skipRaw) {
          this.skipStr();
          continue;
        }
        const json = this.str();
        let entry: AffectedPackage;
        try {
          entry = JSON.parse(json) as AffectedPackage;
        } catch {
          throw this.bad('entry JSON');
        }
        if (typeof entry !== 'object' || entry === null) throw this.bad('entry JSON');
        entry.distro = this.distro;
        entry.package = this.pkg;
        const key = this.keyAt(adv);
        if (entry.scheme !== scheme) continue;
        const outcome = raw(entry, key);
        if (outcome.state !== 'unaffected') visit(outcome, entry, adv, k);
        continue;
      }
      if (form !== 0) throw this.bad('entry form');
      const flags = this.u();
      const ecoStart = this.pos;
      this.skipStr();
      let arches: string[] | undefined;
      let archesAt = -1;
      if (flags & E_ARCHES) {
        archesAt = this.pos;
        const m = this.count(2);
        for (let i = 0; i < m; i++) this.skipStr();
      }
      const moduleAt = this.pos;
      if (flags & E_MODULE) this.skipStr();
      const severityAt = this.pos;
      if (flags & E_SEVERITY) this.skipStr();

      // The OSV walk of range.ts, over classes.
      let affected = false;
      let fixedBelow = false;
      let fix = -1;
      const rangesAt = this.pos;
      const nr = this.count(1);
      for (let r = 0; r < nr; r++) {
        const ne = this.count(1);
        let ev = this.scratch;
        if (ev.length < ne) ev = this.scratch = SCRATCH = new Int32Array(Math.max(ne, 2 * ev.length));
        for (let i = 0; i < ne; i++) ev[i] = this.event();
        const walked = walkRange(ne, this);
        if (walked >= 0) {
          affected = true;
          const vi = ev[walked]! >>> 2;
          if (fix < 0 || cls[vi]! > cls[fix]!) fix = vi;
        } else if (walked === WALK_AFFECTED) affected = true;
        else if (walked === WALK_FIXED) fixedBelow = true;
      }
      const nl = this.count(1);
      if (!affected) {
        for (let i = 0; i < nl; i++) {
          const vi = this.u();
          if (vi >= cls.length) throw this.bad('listed version');
          if (!affected && 2 * cls[vi]! + 1 === at) affected = true;
        }
        if (affected) {
          // Listed one by one: the fix, if the ranges know one, is the lowest `fixed` above the installed version.
          const end = this.pos;
          this.pos = rangesAt;
          const nr2 = this.u();
          for (let r = 0; r < nr2; r++) {
            const ne = this.u();
            for (let i = 0; i < ne; i++) {
              const x = this.event();
              if ((x & 3) !== K_FIXED) continue;
              const c = cls[x >>> 2]!;
              if (2 * c + 1 <= at) continue;
              if (fix < 0 || c < cls[fix]!) fix = x >>> 2;
            }
          }
          this.pos = end;
        }
      } else {
        for (let i = 0; i < nl; i++) this.u();
      }
      if (!packedApplies) continue;
      if (!affected && !fixedBelow) continue;

      const end = this.pos;
      this.pos = ecoStart;
      const ecosystem = this.str();
      if (archesAt >= 0) {
        this.pos = archesAt;
        const m = this.u();
        arches = [];
        for (let i = 0; i < m; i++) arches.push(this.str());
      }
      let module: string | undefined;
      if (flags & E_MODULE) {
        this.pos = moduleAt;
        module = this.str();
      }
      let distroSeverity: string | undefined;
      if (flags & E_SEVERITY) {
        this.pos = severityAt;
        distroSeverity = this.str();
      }
      const view = new PackedEntryView(ecosystem, arches, module, distroSeverity, (flags & E_WONTFIX) !== 0);
      this.pos = end;
      const outcome: RangeOutcome = affected
        ? fix < 0
          ? AFFECTED_NO_FIX
          : { state: 'affected', fixed: this.version(fix) }
        : FIXED_OUTCOME;
      visit(outcome, view, adv, k);
    }
  }

  /** The key of the advisory whose facts record starts at `adv`. */
  keyAt(adv: number): string {
    const keep = this.pos;
    this.pos = this.factsStart + adv;
    this.u();
    const key = this.str();
    this.pos = keep;
    return key;
  }

  /**
   * The facts of the advisory whose record starts at `adv`, read once (the same object for every entry of the
   * advisory); null for a withdrawn advisory.
   */
  facts(adv: number): MatchFacts | null {
    this.factsRead ??= new Map();
    let f = this.factsRead.get(adv);
    if (f !== undefined) return f;
    const keep = this.pos;
    this.pos = this.factsStart + adv;
    try {
      f = this.readFacts();
    } finally {
      this.pos = keep;
    }
    this.factsRead.set(adv, f);
    return f;
  }

  private readFacts(): MatchFacts | null {
    const flags = this.u();
    const key = this.str();
    if (flags & F_WITHDRAWN) return null;
    if (flags & F_JSON) {
      let f: unknown;
      try {
        f = JSON.parse(this.str());
      } catch {
        throw this.bad('facts JSON');
      }
      if (!hasFactsShape(f)) throw this.bad('facts JSON');
      f.key = key;
      return f.withdrawn ? null : f;
    }
    const id = this.str();
    const origin = ORIGINS[this.u()];
    if (origin === undefined) throw this.bad('origin');
    const vulnIds = this.strings();
    const nc = this.count(6);
    const cvss = new Array<CvssScore>(nc);
    for (let i = 0; i < nc; i++) {
      const version = CVSS_VERSIONS[this.u()];
      if (version === undefined) throw this.bad('CVSS version');
      const vector = this.str();
      const kind = this.u();
      let baseScore: number;
      if (kind === 0) baseScore = this.u() / 10;
      else if (kind === 1) baseScore = Number(this.str());
      else throw this.bad('CVSS score');
      const severity: Severity | undefined = SEVERITIES[this.u()];
      if (severity === undefined) throw this.bad('CVSS severity');
      cvss[i] = cvssScore(version, vector, baseScore, severity);
    }
    const badVectors = this.strings();
    const distroSeverity = flags & F_SEVERITY ? this.str() : undefined;
    const aliasIds = this.strings();
    const published = flags & F_PUBLISHED ? this.str() : undefined;
    const modified = this.str();
    const summary = flags & F_SUMMARY ? this.str() : undefined;
    const advisoryUrl = flags & F_ADVISORY_URL ? this.str() : undefined;
    const urls = this.strings();
    if (this.pos > this.factsEnd) throw this.bad('facts past their section');
    return factsObject(
      key,
      id,
      origin,
      false,
      vulnIds,
      cvss,
      badVectors,
      distroSeverity,
      aliasIds,
      published,
      modified,
      summary,
      advisoryUrl,
      urls,
    );
  }
}

/** A score as a row stores it. */
function cvssScore(
  version: CvssScore['version'],
  vector: string,
  baseScore: number,
  severity: Severity,
): CvssScore {
  return { version, vector, baseScore, severity };
}

// Made for every row, entry and score a match reads, and dropped with it: one of each kept (see `shapes.ts`).
keepShape(new PackedRow(encodePackedRow('deb', []), '', '', ''));
keepShape(new PackedEntryView('', undefined, undefined, undefined, false));
// `mergeGroup` freezes the scores it reports, which gives them a map of their own. (Made with a fraction: its map
// is then the one whose `baseScore` holds doubles, which every score's ends up as.)
keepShape(Object.freeze(cvssScore('3.1', '', 0.5, 'low')));
// Rows come from the database as Buffers made by native code (better-sqlite3's blobs): a Uint8Array whose prototype
// is set afterwards, which gives it a map other than that of Buffers made in JavaScript, held weakly like any
// transition. A digest is such a Buffer too.
keepShape(hash('sha1', '', 'buffer'));
