/**
 * Verdicts: what a packed row (`packed.ts`) says about every installed version at once, worked out at import time
 * so that matching an installed version is a binary search among the row's versions and a look at a few integer
 * intervals — no range walked, no record merged, no advisory read.
 *
 * An installed version of a row's scheme can only sit at one of `2 × classes + 1` positions among the versions the
 * row names (`placeVersion`: equal to a class, or between two), and everything the matcher concludes — which
 * entries say "affected" or "fixed", the vulnerabilities they merge into, the fix, the fix state and the severity
 * (`merge.ts`) — depends on that position alone, when every entry is packed and none is restricted to
 * architectures or (in an RPM row) modules (`PackedRow.plain`). So the builder evaluates the row at every position,
 * merges exactly as the matcher would (`mergeGroup`), and stores, per vulnerability, the runs of positions with the
 * same merged outcome as intervals `[lo, hi)` pointing at a merged record: the vulnerability id, fix state, fixed
 * version, severity, and the entries (with their outcomes) that the matcher's merge took, so that the finding can
 * be built later from the packed row with the very same `mergeGroup` call.
 *
 * A row that is not plain, whose facts carry CVSS vectors that do not score (the matcher reports them), or whose
 * evaluation would cost more than `MAX_VERDICT_WORK` entry walks gets the "none" verdict: the matcher evaluates it
 * as before. Verdicts are thus a pure speed-up, and the findings are the same with or without them.
 *
 * Layout. The head and the tables are little-endian numbers of one width W per row (2 bytes, or 4 when a number
 * needs it), so that a reader finds the version it compares next, and the intervals, without decoding what lies
 * before them; merged records are unsigned LEB128 varints; strings are (start, length) in code units of the string
 * section:
 *
 *     format (1 byte) · kind (1 byte: 0 none, 1 verdicts)
 *     kind 1: scheme (1 byte: 0 deb, 1 rpm, 2 apk) · string encoding (1 byte: 0 latin1, 1 UTF-16LE) · W (1 byte)
 *             · string bytes · version count · interval count · merged count · merged bytes   (W each)
 *             · string section
 *             · per version (sorted as the packed row's table): start, length, class (W each), and for a Debian
 *               row its parts (`debBounds`): epoch, upstream start, upstream end, revision start, end (W each,
 *               offsets from the version's start)
 *             · per interval: lo, hi, merged index (W each; sorted by hi, highest first)
 *             · per merged record: start, end (W each, offsets into the merged bytes)
 *             · merged bytes
 *     merged = vulnerability id (start, length) · fix state (0 fixed, 1 not-fixed, 2 wont-fix) · severity (index in
 *              SEVERITIES) · fixed version (0 none, else 1 + version index)
 *              · entry count · per entry: entry index in the packed row · state (0 affected, 1 fixed)
 *                · fixed (0 none, else 1 + version index)
 *     Merged records are numbered in the order of their vulnerability ids (then of where they first hold).

 * Reading checks every offset, count and index: a damaged value gives a `HyperwardError` (`E_IO`) naming the row.
 */
import { HyperwardError } from '../errors.js';
import { keepShape } from '../shapes.js';
import { SEVERITIES, type Severity, type VulnerabilityInfo } from '../model/finding.js';
import type { PackageEcosystem } from '../model/inventory.js';
import { mergeGroup, type Evaluated } from './merge.js';
import {
  placeVersion,
  readVarint,
  Strings,
  VARINT,
  VARINT_PROBLEMS,
  Writer,
  type EntryView,
  type PackedRow,
  type VersionTable,
} from './packed.js';
import type { RangeOutcome } from './range.js';
import { compareDebParts, compareVersionIn, debBounds, type PreparedVersion } from './version/index.js';
import type { MatchFacts } from './types.js';

/** The format byte; bump with any change to the layout or to what is worked out ahead of time. */
export const VERDICT_FORMAT = 3;

/** Rows costing more entry walks than this (positions × entries) are left to the matcher. */
export const MAX_VERDICT_WORK = 4_000_000;
/**
 * Rows costing more than this in bytes of entries walked (positions × entry bytes) are left to the matcher too: an
 * entry of thousands of range events is walked whole at every position, so entries alone do not bound the work.
 * About 0.1–0.2 s at most per row; the Linux kernel's row in Debian's tracker stays well below.
 */
export const MAX_VERDICT_BYTES_WALKED = 64_000_000;

const SCHEMES: readonly PackageEcosystem[] = ['deb', 'rpm', 'apk'];
const FIX_STATES: readonly VulnerabilityInfo['fixState'][] = ['fixed', 'not-fixed', 'wont-fix'];

const KIND_NONE = 0;
const KIND_VERDICTS = 1;

/** The verdict of a row the matcher must evaluate itself ("none"). */
export const NO_VERDICTS: Readonly<Buffer> = Buffer.from([VERDICT_FORMAT, KIND_NONE]);
const NONE = NO_VERDICTS as Buffer;

/** One entry of a merged record: which entry of the packed row, and what it said. */
export interface VerdictEntry {
  entry: number;
  state: 'affected' | 'fixed';
  fixed: string | undefined;
}

/** What matching concludes about one vulnerability of an installed version. */
export interface Verdict {
  vulnId: string;
  fixState: VulnerabilityInfo['fixState'];
  fixedVersion: string | undefined;
  severity: Severity;
}

/** A merged outcome as the builder keeps it before writing. */
interface BuiltMerged extends Verdict {
  entries: VerdictEntry[];
}

// ---------------------------------------------------------------------------------------------------------------
// Building.

/**
 * The verdicts of one packed row, for the distribution release whose ratings are `source` (`ratingSource`).
 *
 * @example
 * const verdicts = encodeVerdicts(new PackedRow(data, path, 'debian:12', 'openssl'), 'debian');
 */
export function encodeVerdicts(row: PackedRow, source: string): Buffer {
  if (!row.plain()) return NONE;
  const positions = row.positions;
  if (positions * row.entryCount > MAX_VERDICT_WORK) return NONE;
  if (positions * row.entryBytes > MAX_VERDICT_BYTES_WALKED) return NONE;
  const scheme = row.scheme;
  const versionIndex = new Map<string, number>();
  for (let i = 0; i < row.versionCount; i++) versionIndex.set(row.versionAt(i), i);

  const merged: BuiltMerged[] = [];
  const mergedAt = new Map<string, number>();
  /** The run of positions each vulnerability is in now. */
  const open = new Map<string, { lo: number; last: number; m: number }>();
  const intervals: Array<{ vulnId: string; lo: number; hi: number; m: number }> = [];
  let unusable = false;
  const cvssOf = (facts: MatchFacts): MatchFacts['cvss'] => {
    if (facts.badVectors.length > 0) unusable = true;
    return facts.cvss;
  };

  for (let at = 0; at < positions && !unusable; at++) {
    const list: Array<Evaluated & { index: number }> = [];
    row.evaluateAt(at, (outcome: RangeOutcome, entry: EntryView, ref: number, index: number) => {
      const facts = row.facts(ref);
      if (facts === null) return; // withdrawn: says nothing
      list.push({ entry, advisoryKey: '', outcome, source, row, ref, facts, index });
    });
    // As the matcher groups them: entries that say "affected" by each of their vulnerabilities, in order, then those
    // that say "fixed" joining the groups that exist.
    const groups = new Map<string, Array<Evaluated & { index: number }>>();
    for (const e of list) {
      if (e.outcome.state !== 'affected') continue;
      for (const id of e.facts!.vulnIds) {
        let g = groups.get(id);
        if (!g) groups.set(id, (g = []));
        g.push(e);
      }
    }
    for (const e of list) {
      if (e.outcome.state !== 'fixed') continue;
      for (const id of e.facts!.vulnIds) groups.get(id)?.push(e);
    }
    for (const [vulnId, group] of groups) {
      const entries: VerdictEntry[] = group.map((e) => ({
        entry: e.index,
        state: e.outcome.state === 'affected' ? 'affected' : 'fixed',
        fixed: e.outcome.fixed,
      }));
      const key = `${vulnId}\0${entries.map((e) => `${e.entry}:${e.state}:${e.fixed ?? ''}`).join(',')}`;
      let m = mergedAt.get(key);
      if (m === undefined) {
        const out = mergeGroup(vulnId, group, scheme, cvssOf);
        m = out === undefined ? -1 : merged.length;
        if (out !== undefined) {
          merged.push({
            vulnId,
            fixState: out.fixState,
            fixedVersion: out.fixedVersion,
            severity: out.decision.severity,
            entries,
          });
        }
        mergedAt.set(key, m);
      }
      if (m < 0) continue;
      const run = open.get(vulnId);
      if (run && run.m === m && run.last === at - 1) run.last = at;
      else {
        if (run) intervals.push({ vulnId, lo: run.lo, hi: run.last + 1, m: run.m });
        open.set(vulnId, { lo: at, last: at, m });
      }
    }
    for (const [vulnId, run] of open) {
      if (run.last === at) continue;
      intervals.push({ vulnId, lo: run.lo, hi: run.last + 1, m: run.m });
      open.delete(vulnId);
    }
  }
  if (unusable) return NONE;
  for (const [vulnId, run] of open) intervals.push({ vulnId, lo: run.lo, hi: run.last + 1, m: run.m });

  // Merged records numbered in the order the matcher gives a package's vulnerabilities: by id (UTF-16 code units),
  // then by where they first hold. Intervals by their end, highest first: a reader stops at the first that ends at
  // or below the installed version (most vulnerabilities of an installed version were fixed below it).
  const firstLo = new Map<number, number>();
  for (const x of intervals) firstLo.set(x.m, Math.min(firstLo.get(x.m) ?? x.lo, x.lo));
  const order = merged.map((_, i) => i);
  order.sort((a, b) => {
    const va = merged[a]!.vulnId;
    const vb = merged[b]!.vulnId;
    return va < vb ? -1 : va > vb ? 1 : firstLo.get(a)! - firstLo.get(b)!;
  });
  const renumber = new Map<number, number>();
  order.forEach((m, i) => renumber.set(m, i));
  intervals.sort((a, b) => b.hi - a.hi || a.lo - b.lo);

  const fixedRef = (v: string | undefined): number => {
    if (v === undefined) return 0;
    const i = versionIndex.get(v);
    if (i === undefined) throw new Error(`verdicts: fixed version ${v} is not in the row's table`);
    return i + 1;
  };
  const strings = new Strings();
  const records = new Writer();
  const spans: number[] = [];
  for (const i of order) {
    const m = merged[i]!;
    const start = records.length;
    strings.ref(records, m.vulnId);
    records.u(FIX_STATES.indexOf(m.fixState));
    records.u(SEVERITIES.indexOf(m.severity));
    records.u(fixedRef(m.fixedVersion));
    records.u(m.entries.length);
    for (const e of m.entries) {
      records.u(e.entry);
      records.u(e.state === 'affected' ? 0 : 1);
      records.u(fixedRef(e.fixed));
    }
    spans.push(start, records.length);
  }
  const versionStr: number[] = [];
  for (let i = 0; i < row.versionCount; i++) {
    const v = row.versionAt(i);
    versionStr.push(strings.add(v), v.length);
  }
  const [enc, section] = strings.section();
  const recordBytes = records.result();
  const n = row.versionCount;
  // Debian versions are stored taken apart too (epoch; upstream and revision as offsets from the version's start):
  // comparing the installed version with them then only walks the parts.
  const split: number[] = [];
  if (scheme === 'deb') {
    for (let i = 0; i < row.versionCount; i++) {
      const b = debBounds(row.versionAt(i));
      split.push(b.epoch, b.upStart, b.upEnd, b.revStart, b.end);
    }
  }
  const numbers = [
    ...split,
    section.length,
    recordBytes.length,
    n,
    intervals.length,
    merged.length,
    ...versionStr,
    ...(n > 0 ? [row.classOf(n - 1)] : []),
    ...intervals.map((x) => x.hi),
    ...spans,
  ];
  const width: 2 | 4 = numbers.every((x) => x <= 0xffff) ? 2 : 4;
  const w = new Writer();
  w.byte(VERDICT_FORMAT);
  w.byte(KIND_VERDICTS);
  w.byte(SCHEMES.indexOf(scheme));
  w.byte(enc);
  w.byte(width);
  w.fixed(section.length, width);
  w.fixed(n, width);
  w.fixed(intervals.length, width);
  w.fixed(merged.length, width);
  w.fixed(recordBytes.length, width);
  w.bytes(section);
  for (let i = 0; i < n; i++) {
    w.fixed(versionStr[2 * i]!, width);
    w.fixed(versionStr[2 * i + 1]!, width);
    w.fixed(row.classOf(i), width);
    if (split.length > 0) for (let k = 0; k < 5; k++) w.fixed(split[5 * i + k]!, width);
  }
  for (const x of intervals) {
    w.fixed(x.lo, width);
    w.fixed(x.hi, width);
    w.fixed(renumber.get(x.m)!, width);
  }
  for (const x of spans) w.fixed(x, width);
  w.bytes(recordBytes);
  return Buffer.from(w.result());
}

// ---------------------------------------------------------------------------------------------------------------
// Reading.

/**
 * A verdict that holds for an installed version, with where its merged record is (for `entries`). A class: see
 * `Bounds` in `version/deb.ts` (objects made from literals in hot loops cost optimised code at every collection).
 */
export class VerdictHit implements Verdict {
  constructor(
    readonly vulnId: string,
    readonly fixState: VulnerabilityInfo['fixState'],
    readonly severity: Severity,
    readonly fixedVersion: string | undefined,
    /** The merged record's index, and its bytes' start and end in the row. */
    readonly m: number,
    readonly start: number,
    readonly end: number,
  ) {}
}

/**
 * The verdicts of one row, read. Making one reads its head; `match` places the installed version by a binary search
 * over the version table and reads the intervals that hold and their merged records, straight from the value.
 */
export class VerdictRow implements VersionTable {
  /** False for a row the matcher must evaluate itself (the "none" verdict). */
  readonly usable: boolean;
  readonly scheme: PackageEcosystem;
  private pos = 0;
  private width = 2;
  /** Bytes per version in the table: 3 numbers, 8 for a Debian version stored taken apart. */
  private stride = 6;
  /** The string section: where it is, how it is encoded, and (once read) its text. */
  private sStart = 0;
  private sBytes = 0;
  private sEnc = 0;
  private s: string | undefined;
  private versions = 0;
  private intervals = 0;
  private merged = 0;
  /** Where the version table, the intervals, the merged records' spans and the records start. */
  private versionsAt = 0;
  private intervalsAt = 0;
  private spansAt = 0;
  private recordsAt = 0;
  private recordsEnd = 0;
  /** The last version matched, and what held for it. */
  private lastVersion: string | undefined;
  private lastHits: VerdictHit[] | undefined;

  /**
   * @param where what to name in an error (the file the verdicts were read from).
   * @throws HyperwardError `E_IO` when the value is damaged.
   */
  constructor(
    private readonly buf: Uint8Array,
    private readonly where: string,
    private readonly distro: string,
    private readonly pkg: string,
    /** The generation of the verdict file the value comes from ('' when none): see `AdvisoryIndex.matchRows`. */
    readonly generation = '',
  ) {
    if (buf.length < 2 || buf[0] !== VERDICT_FORMAT) throw this.bad('unknown format');
    const kind = buf[1];
    if (kind === KIND_NONE) {
      this.usable = false;
      this.scheme = 'deb';
      return;
    }
    if (kind !== KIND_VERDICTS || buf.length < 5) throw this.bad('kind');
    this.usable = true;
    const scheme = SCHEMES[buf[2]!];
    if (scheme === undefined) throw this.bad('scheme');
    this.scheme = scheme;
    this.sEnc = buf[3]!;
    const width = buf[4]!;
    if (this.sEnc > 1 || (width !== 2 && width !== 4)) throw this.bad('head');
    this.width = width;
    this.pos = 5;
    if (buf.length < 5 + 5 * width) throw this.bad('head');
    this.sBytes = this.next();
    this.versions = this.next();
    this.intervals = this.next();
    this.merged = this.next();
    const recordBytes = this.next();
    this.sStart = this.pos;
    if (this.sEnc === 1 && this.sBytes % 2 !== 0) throw this.bad('string section');
    this.versionsAt = this.sStart + this.sBytes;
    this.stride = (scheme === 'deb' ? 8 : 3) * width;
    this.intervalsAt = this.versionsAt + this.stride * this.versions;
    this.spansAt = this.intervalsAt + 3 * width * this.intervals;
    this.recordsAt = this.spansAt + 2 * width * this.merged;
    this.recordsEnd = this.recordsAt + recordBytes;
    if (this.recordsEnd !== buf.length) throw this.bad('sections do not add up');
  }

  private bad(what: string): HyperwardError {
    return new HyperwardError(
      'E_IO',
      `damaged verdicts for ${this.distro} ${this.pkg} (${what}): run \`hyperward db import\` again to rewrite them`,
      { file: this.where, layer: 'advisory verdicts', offset: this.pos },
    );
  }

  /** The fixed-width number at `at` (inside the value: the constructor checked the sections' sizes). */
  private num(at: number): number {
    const b = this.buf;
    return this.width === 2
      ? b[at]! | (b[at + 1]! << 8)
      : (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
  }

  /** The fixed-width number at the cursor, in the head. */
  private next(): number {
    const v = this.num(this.pos);
    this.pos += this.width;
    return v;
  }

  /** A varint at the cursor, inside the merged records. */
  private u(): number {
    const v = readVarint(this.buf, this.pos, this.recordsEnd);
    this.pos = VARINT.end;
    if (v < 0) throw this.bad(VARINT_PROBLEMS[-v - 1]!);
    return v;
  }

  /** The string section's text. */
  private text(): string {
    if (this.s === undefined) {
      const b = this.buf;
      const bytes = Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
      this.s = bytes.toString(this.sEnc === 0 ? 'latin1' : 'utf16le', this.sStart, this.sStart + this.sBytes);
    }
    return this.s;
  }

  /** The string at `start` of `len` code units, checked. */
  private slice(start: number, len: number): string {
    const s = this.text();
    if (start + len > s.length) throw this.bad('string out of range');
    return s.slice(start, start + len);
  }

  /** Version i of the table. */
  private version(i: number): string {
    const at = this.versionsAt + this.stride * i;
    return this.slice(this.num(at), this.num(at + this.width));
  }

  /** `VersionTable`: how many versions the table holds. */
  get versionCount(): number {
    return this.versions;
  }

  /** `VersionTable`: the class of version i. */
  classOf(i: number): number {
    return this.num(this.versionsAt + this.stride * i + 2 * this.width);
  }

  /** `VersionTable`: how version i orders against an installed version. */
  compareAt(i: number, installed: PreparedVersion): number {
    const w = this.width;
    const p = this.versionsAt + this.stride * i;
    const start = this.num(p);
    const len = this.num(p + w);
    const text = this.text();
    if (start + len > text.length) throw this.bad('string out of range');
    const deb = installed.deb;
    if (deb === undefined || this.stride === 3 * w)
      return compareVersionIn(text, start, start + len, installed);
    // A Debian version stored taken apart: epoch, then offsets of its parts from its start.
    const upStart = this.num(p + 4 * w);
    const upEnd = this.num(p + 5 * w);
    const revStart = this.num(p + 6 * w);
    const end = this.num(p + 7 * w);
    if (upStart > upEnd || upEnd > len || revStart > end || end > len) throw this.bad('version parts');
    return compareDebParts(
      text,
      this.num(p + 3 * w),
      start + upStart,
      start + upEnd,
      start + revStart,
      start + end,
      deb.value,
      deb.bounds,
    );
  }

  /** A version reference (0 none, else 1 + index) at the cursor. */
  private versionRef(): string | undefined {
    const x = this.u();
    if (x === 0) return undefined;
    if (x > this.versions) throw this.bad('version index');
    return this.version(x - 1);
  }

  /**
   * The verdicts that hold for an installed version (valid in the row's scheme, prepared: `prepareVersion`), in the
   * order of their vulnerability ids.
   */
  match(installed: PreparedVersion): VerdictHit[] {
    // Binary packages of one source ask again for the same version.
    if (installed.value === this.lastVersion && this.lastHits) return this.lastHits;
    this.lastVersion = installed.value;
    this.lastHits = undefined;
    return (this.lastHits = this.read(installed));
  }

  private read(installed: PreparedVersion): VerdictHit[] {
    const n = this.versions;
    let at: number;
    try {
      at = placeVersion(this, installed);
    } catch (e) {
      if (e instanceof HyperwardError && e.code === 'E_IO') throw e;
      throw this.bad('invalid version in the table');
    }
    const positions = n > 0 ? 2 * (this.classOf(n - 1) + 1) + 1 : 1;
    // Intervals by their end, highest first: those ending at or below the installed version are not read.
    const w = this.width;
    let held: number[] | undefined;
    for (let i = 0, p = this.intervalsAt; i < this.intervals; i++, p += 3 * w) {
      const hi = this.num(p + w);
      if (hi <= at) break;
      const lo = this.num(p);
      if (lo >= hi || hi > positions) {
        this.pos = p;
        throw this.bad('interval');
      }
      if (lo > at) continue;
      const m = this.num(p + 2 * w);
      if (m >= this.merged) {
        this.pos = p;
        throw this.bad('merged index');
      }
      (held ??= []).push(m);
    }
    if (held === undefined) return [];
    // Merged records are numbered in the order of their vulnerability ids. An insertion sort: a few numbers,
    // mostly in order already (`Array#sort` with a comparator cost more than the rest of this loop); a long list (a
    // crafted value could hold millions) by a typed array's sort instead.
    if (held.length > 64) held = Array.from(Int32Array.from(held).sort());
    else
      for (let i = 1; i < held.length; i++) {
        const x = held[i]!;
        let j = i - 1;
        while (j >= 0 && held[j]! > x) {
          held[j + 1] = held[j]!;
          j--;
        }
        held[j + 1] = x;
      }
    const out = new Array<VerdictHit>(held.length);
    for (let k = 0; k < held.length; k++) {
      const m = held[k]!;
      const p = this.spansAt + 2 * w * m;
      const start = this.recordsAt + this.num(p);
      const end = this.recordsAt + this.num(p + w);
      if (start > end || end > this.recordsEnd) {
        this.pos = p;
        throw this.bad('merged record');
      }
      this.pos = start;
      const vulnId = this.slice(this.u(), this.u());
      const fixState = FIX_STATES[this.u()];
      const severity = SEVERITIES[this.u()];
      if (fixState === undefined || severity === undefined) throw this.bad('merged record');
      const fixedVersion = this.versionRef();
      if (this.pos > end) throw this.bad('merged record');
      out[k] = new VerdictHit(vulnId, fixState, severity, fixedVersion, m, start, end);
    }
    return out;
  }

  /** The entries of the packed row that a verdict's merged record was merged from, with what each said. */
  entries(hit: VerdictHit): VerdictEntry[] {
    if (hit.start < this.recordsAt || hit.end > this.recordsEnd || hit.start > hit.end)
      throw this.bad('merged record');
    this.pos = hit.start;
    this.u();
    this.u();
    this.u();
    this.u();
    this.versionRef();
    const count = this.u();
    if (count * 3 > hit.end - this.pos) throw this.bad('count past the end');
    const out: VerdictEntry[] = [];
    for (let i = 0; i < count; i++) {
      const entry = this.u();
      const state = this.u();
      if (state > 1) throw this.bad('entry state');
      out.push({ entry, state: state === 0 ? 'affected' : 'fixed', fixed: this.versionRef() });
    }
    if (this.pos > hit.end) throw this.bad('merged record');
    return out;
  }
}

// Made for every package matched: see `shapes.ts`.
keepShape(new VerdictHit('CVE-0000-0000', 'fixed', 'low', '0', 0, 0, 0));
keepShape(new VerdictRow(NO_VERDICTS, '', '', ''));
