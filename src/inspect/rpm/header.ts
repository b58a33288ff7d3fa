/**
 * RPM header blobs, as rpm stores one per installed package in every database backend (SQLite `Packages.blob`,
 * Berkeley DB `Packages` values, NDB `Packages.db` blobs).
 *
 * A blob is `il` (count of index entries) and `dl` (bytes of data), both big-endian 32-bit, then `il` entries of
 * 16 bytes (tag, type, offset, count) and a data store of `dl` bytes. The first entry of a header written by
 * rpm 4 is a region tag (`HEADERIMMUTABLE`) whose trailer, 16 bytes inside the data store, says how many of the
 * entries belong to the signed region; entries after them ("dribbles", e.g. `INSTALLTIME`) were added at install
 * time and replace a region entry with the same tag.
 *
 * The checks follow rpm's own `hdrblobInit`/`hdrblobVerifyRegion`/`hdrblobVerifyInfo`: the blob must be exactly
 * `8 + 16·il + dl` bytes, `il` at most 65535 and `dl` below 256 MiB, every entry's tag, type and alignment valid,
 * entries in ascending, non-overlapping data order, and every entry's data (strings included) inside the store.
 * Anything else is refused as a whole with a HyperwardError; nothing is read outside the blob.
 */
import { HyperwardError, type ErrorLocation } from '../../errors.js';

/** Tag numbers of `rpmtag.h` that Hyperward reads. */
export const RpmTag = {
  HEADERIMAGE: 61,
  HEADERSIGNATURES: 62,
  HEADERIMMUTABLE: 63,
  HEADERREGIONS: 64,
  HEADERI18NTABLE: 100,
  SIGMD5: 261,
  SHA1HEADER: 269,
  SHA256HEADER: 273,
  NAME: 1000,
  VERSION: 1001,
  RELEASE: 1002,
  EPOCH: 1003,
  SUMMARY: 1004,
  BUILDTIME: 1006,
  INSTALLTIME: 1008,
  SIZE: 1009,
  VENDOR: 1011,
  LICENSE: 1014,
  PACKAGER: 1015,
  OS: 1021,
  ARCH: 1022,
  OLDFILENAMES: 1027,
  FILESIZES: 1028,
  FILESTATES: 1029,
  FILEMODES: 1030,
  FILEMTIMES: 1034,
  FILEDIGESTS: 1035,
  FILELINKTOS: 1036,
  FILEFLAGS: 1037,
  FILEUSERNAME: 1039,
  FILEGROUPNAME: 1040,
  SOURCERPM: 1044,
  FILEVERIFYFLAGS: 1045,
  DIRINDEXES: 1116,
  BASENAMES: 1117,
  DIRNAMES: 1118,
  INSTALLTID: 1128,
  LONGFILESIZES: 5008,
  LONGSIZE: 5009,
  FILEDIGESTALGO: 5011,
  MODULARITYLABEL: 5096,
} as const;

/** Data types of header entries (`rpmTagType_e`). */
export const RpmType = {
  NULL: 0,
  CHAR: 1,
  INT8: 2,
  INT16: 3,
  INT32: 4,
  INT64: 5,
  STRING: 6,
  BIN: 7,
  STRING_ARRAY: 8,
  I18NSTRING: 9,
} as const;

/** rpm's `HEADER_TAGS_MAX`: at most this many index entries. */
export const HEADER_TAGS_MAX = 0xffff;
/** rpm's `HEADER_DATA_MAX`: the data store is smaller than 256 MiB. */
export const HEADER_DATA_MAX = 0x0fffffff;

const ENTRY_SIZE = 16;
const REGION_TAG_COUNT = 16;
/** Size in bytes of one item of each fixed-size type; -1 for strings, 0 for none. */
const TYPE_SIZE: readonly number[] = [0, 1, 1, 2, 4, 8, -1, 1, -1, -1];
/** Required alignment of each type's data in the store. */
const TYPE_ALIGN: readonly number[] = [1, 1, 1, 2, 4, 8, 1, 1, 1, 1];

/** One index entry, host order, offsets relative to the data store. */
export interface RpmHeaderEntry {
  tag: number;
  type: number;
  offset: number;
  count: number;
  /** Bytes of data the entry covers in the store. */
  length: number;
}

function bad(message: string, where: ErrorLocation, offset?: number): HyperwardError {
  const loc: ErrorLocation = { ...where, layer: where.layer ?? 'rpm header' };
  if (offset !== undefined) loc.offset = (where.offset ?? 0) + offset;
  return new HyperwardError('E_FS_CORRUPT', message, loc);
}

/**
 * Bytes covered by `count` NUL-terminated strings starting at `start`, or -1 when they do not all end before
 * `end` (rpm's `strtaglen`). Work is bounded by `end - start`.
 */
function stringsLength(buf: Buffer, start: number, count: number, end: number): number {
  if (count < 1 || start >= end) return -1;
  let pos = start;
  for (let i = 0; i < count; i++) {
    const nul = buf.indexOf(0, pos);
    if (nul < 0 || nul >= end) return -1;
    pos = nul + 1;
  }
  return pos - start;
}

/** rpm's `dataLength` for on-disk data: bytes an entry covers, or -1 when it does not fit before `end`. */
function dataLength(buf: Buffer, type: number, start: number, count: number, end: number): number {
  switch (type) {
    case RpmType.STRING:
      return count === 1 ? stringsLength(buf, start, 1, end) : -1;
    case RpmType.STRING_ARRAY:
    case RpmType.I18NSTRING:
      return stringsLength(buf, start, count, end);
    default: {
      const size = TYPE_SIZE[type];
      if (size === undefined || size < 0) return -1;
      const length = size * count;
      if (start + length > end) return -1;
      return length;
    }
  }
}

/**
 * A parsed, validated header. Values are decoded on demand from the blob, which the header keeps; strings are
 * decoded as UTF-8 (rpm stores bytes; invalid sequences become U+FFFD).
 */
export class RpmHeader {
  readonly #blob: Buffer;
  readonly #dataStart: number;
  readonly #entries: Map<number, RpmHeaderEntry>;
  /** Tag of the region the header carries (63 for an installed package), or undefined for a legacy header. */
  readonly regionTag: number | undefined;

  private constructor(
    blob: Buffer,
    dataStart: number,
    entries: Map<number, RpmHeaderEntry>,
    regionTag: number | undefined,
  ) {
    this.#blob = blob;
    this.#dataStart = dataStart;
    this.#entries = entries;
    this.regionTag = regionTag;
  }

  /**
   * Parses and validates one header blob (without the 8-byte magic of package files). `where` names the
   * database file and record for error messages; offsets in errors are relative to `where.offset`.
   *
   * @example
   * const h = RpmHeader.parse(blob, { file: '/var/lib/rpm/rpmdb.sqlite', layer: 'rpm header 12' });
   * h.string(RpmTag.NAME); // 'bash'
   */
  static parse(blob: Buffer, where: ErrorLocation = {}): RpmHeader {
    if (blob.length < 8) throw bad(`header blob of ${blob.length} bytes is too short`, where, 0);
    const il = blob.readUInt32BE(0);
    const dl = blob.readUInt32BE(4);
    if (il < 1 || il > HEADER_TAGS_MAX) throw bad(`header index count ${il} out of range`, where, 0);
    if (dl > HEADER_DATA_MAX) throw bad(`header data length ${dl} out of range`, where, 4);
    const dataStart = 8 + il * ENTRY_SIZE;
    if (blob.length !== dataStart + dl) {
      throw bad(`header blob is ${blob.length} bytes, its index says ${dataStart + dl}`, where, 0);
    }
    const dataEnd = dataStart + dl;
    const entryAt = (i: number): RpmHeaderEntry => {
      const o = 8 + i * ENTRY_SIZE;
      return {
        tag: blob.readInt32BE(o),
        type: blob.readUInt32BE(o + 4),
        offset: blob.readInt32BE(o + 8),
        count: blob.readUInt32BE(o + 12),
        length: 0,
      };
    };

    // Region (hdrblobVerifyRegion): the first entry, when it is a region tag, points at a trailer.
    let first = 0;
    let ril = 0;
    let regionTag: number | undefined;
    const e0 = entryAt(0);
    if (
      e0.tag === RpmTag.HEADERIMMUTABLE ||
      e0.tag === RpmTag.HEADERSIGNATURES ||
      e0.tag === RpmTag.HEADERIMAGE
    ) {
      if (e0.type !== RpmType.BIN || e0.count !== REGION_TAG_COUNT) {
        throw bad(`region tag ${e0.tag} has type ${e0.type} count ${e0.count}`, where, 8);
      }
      if (e0.offset < 0 || e0.offset + REGION_TAG_COUNT > dl) {
        throw bad(`region trailer offset ${e0.offset} outside the data store`, where, 8);
      }
      const t = dataStart + e0.offset;
      const tTag = blob.readInt32BE(t);
      const tType = blob.readUInt32BE(t + 4);
      const tOffset = -blob.readInt32BE(t + 8);
      const tCount = blob.readUInt32BE(t + 12);
      if (tTag !== e0.tag || tType !== RpmType.BIN || tCount !== REGION_TAG_COUNT) {
        throw bad(`region trailer is tag ${tTag} type ${tType} count ${tCount}`, where, t);
      }
      ril = tOffset / ENTRY_SIZE;
      if (tOffset % ENTRY_SIZE !== 0 || ril < 1 || ril > il) {
        throw bad(`region trailer says ${tOffset} bytes of index, the header has ${il} entries`, where, t);
      }
      regionTag = e0.tag;
      first = 1;
    }

    // Entries (hdrblobVerifyInfo), then the lookup map: dribbles (after the region) replace region entries.
    const entries = new Map<number, RpmHeaderEntry>();
    let end = 0;
    for (let i = first; i < il; i++) {
      const e = entryAt(i);
      const at = 8 + i * ENTRY_SIZE;
      if (e.tag < RpmTag.HEADERI18NTABLE) throw bad(`entry ${i}: invalid tag ${e.tag}`, where, at);
      if (e.type < RpmType.NULL || e.type > RpmType.I18NSTRING) {
        throw bad(`entry ${i}: tag ${e.tag} has invalid type ${e.type}`, where, at);
      }
      if (e.offset < 0 || e.offset > dl) {
        throw bad(`entry ${i}: tag ${e.tag} offset ${e.offset} outside the data store`, where, at);
      }
      if (e.offset % TYPE_ALIGN[e.type]! !== 0) {
        throw bad(`entry ${i}: tag ${e.tag} offset ${e.offset} is misaligned`, where, at);
      }
      if (end > e.offset) throw bad(`entry ${i}: tag ${e.tag} overlaps the previous entry's data`, where, at);
      const len = dataLength(blob, e.type, dataStart + e.offset, e.count, dataEnd);
      if (len <= 0 || e.offset + len > dl) {
        throw bad(
          `entry ${i}: tag ${e.tag} type ${e.type} count ${e.count} does not fit the data`,
          where,
          at,
        );
      }
      end = e.offset + len;
      e.length = len;
      const prev = entries.get(e.tag);
      // Inside the region the first of two equal tags is kept; a dribble always wins.
      if (prev === undefined || i >= ril) entries.set(e.tag, e);
    }
    return new RpmHeader(blob, dataStart, entries, regionTag);
  }

  /** Whether the header carries `tag`. */
  has(tag: number): boolean {
    return this.#entries.has(tag);
  }

  /** The index entry of `tag`, if present. */
  entry(tag: number): RpmHeaderEntry | undefined {
    return this.#entries.get(tag);
  }

  /** Tags present, ascending. */
  tags(): number[] {
    return [...this.#entries.keys()].sort((a, b) => a - b);
  }

  /**
   * A string value: a STRING entry, or the first string of a STRING_ARRAY / I18NSTRING entry (rpm's
   * `headerGetString` in the C locale). Undefined when absent or of another type.
   */
  string(tag: number): string | undefined {
    const e = this.#entries.get(tag);
    if (e === undefined) return undefined;
    if (e.type !== RpmType.STRING && e.type !== RpmType.STRING_ARRAY && e.type !== RpmType.I18NSTRING) {
      return undefined;
    }
    const start = this.#dataStart + e.offset;
    const nul = this.#blob.indexOf(0, start);
    return this.#blob.toString('utf8', start, nul);
  }

  /** All strings of a STRING_ARRAY / I18NSTRING entry (a STRING entry gives one). */
  strings(tag: number): string[] | undefined {
    const e = this.#entries.get(tag);
    if (e === undefined) return undefined;
    if (e.type !== RpmType.STRING && e.type !== RpmType.STRING_ARRAY && e.type !== RpmType.I18NSTRING) {
      return undefined;
    }
    const out: string[] = [];
    let pos = this.#dataStart + e.offset;
    for (let i = 0; i < e.count; i++) {
      const nul = this.#blob.indexOf(0, pos);
      out.push(this.#blob.toString('utf8', pos, nul));
      pos = nul + 1;
    }
    return out;
  }

  /**
   * Integers of a CHAR / INT8 / INT16 / INT32 / INT64 entry, unsigned as rpm prints them. INT64 values above
   * 2^53 lose precision (no real header has one).
   */
  numbers(tag: number): number[] | undefined {
    const e = this.#entries.get(tag);
    if (e === undefined) return undefined;
    const start = this.#dataStart + e.offset;
    const b = this.#blob;
    const out: number[] = new Array<number>(e.count);
    switch (e.type) {
      case RpmType.CHAR:
      case RpmType.INT8:
        for (let i = 0; i < e.count; i++) out[i] = b[start + i]!;
        return out;
      case RpmType.INT16:
        for (let i = 0; i < e.count; i++) out[i] = b.readUInt16BE(start + 2 * i);
        return out;
      case RpmType.INT32:
        for (let i = 0; i < e.count; i++) out[i] = b.readUInt32BE(start + 4 * i);
        return out;
      case RpmType.INT64:
        for (let i = 0; i < e.count; i++) out[i] = Number(b.readBigUInt64BE(start + 8 * i));
        return out;
      default:
        return undefined;
    }
  }

  /** The first integer of a numeric entry (see `numbers`). */
  number(tag: number): number | undefined {
    const e = this.#entries.get(tag);
    if (e === undefined || e.count < 1) return undefined;
    const start = this.#dataStart + e.offset;
    const b = this.#blob;
    switch (e.type) {
      case RpmType.CHAR:
      case RpmType.INT8:
        return b[start]!;
      case RpmType.INT16:
        return b.readUInt16BE(start);
      case RpmType.INT32:
        return b.readUInt32BE(start);
      case RpmType.INT64:
        return Number(b.readBigUInt64BE(start));
      default:
        return undefined;
    }
  }

  /** The bytes of a BIN entry (a copy). */
  bytes(tag: number): Buffer | undefined {
    const e = this.#entries.get(tag);
    if (e === undefined || e.type !== RpmType.BIN) return undefined;
    const start = this.#dataStart + e.offset;
    return Buffer.from(this.#blob.subarray(start, start + e.count));
  }
}
