/**
 * Read-only Berkeley DB hash databases, enough for rpm's `Packages` file (RHEL/CentOS ≤ 8, SLES ≤ 15 SP2,
 * Amazon Linux 2...), in either byte order.
 *
 * Layout (Berkeley DB 4.x/5.x, hash versions 8–10): page 0 is the hash meta page (magic 0x061561 at byte 12,
 * which also tells the byte order; page size, last page, max bucket and the `spares` table that maps buckets to
 * pages). Each bucket is a chain of hash pages (type 13, or 2 for unsorted) linked by `next_pgno`; a page holds
 * an array of 16-bit item offsets after its 26-byte header, items alternating key and value. An item is either
 * on the page (`H_KEYDATA`: one type byte then the bytes) or a reference (`H_OFFPAGE`: page number and total
 * length) to a chain of overflow pages (type 7) whose header's `hf_offset` field holds the bytes on that page.
 *
 * The walk is the one rpm's own read-only backend (`lib/backend/bdb_ro.c`) makes: buckets 0..max_bucket in
 * order, each chain to its end. It reads what rpm would read, never stale pages. Every page number, offset and
 * length is checked against the file; chains are followed at most once per page; a bad page ends its bucket's
 * chain and a bad item skips that record, each reported, and the walk goes on.
 */
import { HyperwardError, type ErrorLocation } from '../../errors.js';
import { HEADER_DATA_MAX, HEADER_TAGS_MAX } from './header.js';
import type { RpmBlob, RpmBlobSet } from './types.js';

const HASH_MAGIC = 0x061561;
const BTREE_MAGIC = 0x053162;
const P_HASH_UNSORTED = 2;
const P_OVERFLOW = 7;
const P_HASHMETA = 8;
const P_HASH = 13;
const H_KEYDATA = 1;
const H_DUPLICATE = 2;
const H_OFFPAGE = 3;
const H_OFFDUP = 4;
const PAGE_HEADER = 26;
/** Largest value worth assembling: a header blob of rpm's maximum size. */
const MAX_VALUE = 8 + HEADER_TAGS_MAX * 16 + HEADER_DATA_MAX;

/** One key/value pair of a hash database. */
export interface BdbEntry {
  key: Buffer;
  value: Buffer;
  /** Page the pair's index sits on. */
  page: number;
  /** File offset of the value when it is stored on the page. */
  valueOffset?: number;
}

/** What the meta page says. */
export interface BdbHashMeta {
  littleEndian: boolean;
  version: number;
  pageSize: number;
  lastPage: number;
  maxBucket: number;
  highMask: number;
  lowMask: number;
  spares: number[];
}

function corrupt(message: string, where: ErrorLocation, offset?: number): HyperwardError {
  const loc: ErrorLocation = { ...where };
  if (offset !== undefined) loc.offset = offset;
  return new HyperwardError('E_FS_CORRUPT', message, loc);
}

/** Reads the hash meta page, refusing files that are not a usable Berkeley DB hash database. */
export function readBdbHashMeta(buf: Buffer, file: string): BdbHashMeta {
  const where: ErrorLocation = { file, layer: 'bdb meta page' };
  if (buf.length < 512) throw corrupt(`file of ${buf.length} bytes is too small for a Berkeley DB`, where, 0);
  const le = buf.readUInt32LE(12);
  const be = buf.readUInt32BE(12);
  let littleEndian: boolean;
  if (le === HASH_MAGIC) littleEndian = true;
  else if (be === HASH_MAGIC) littleEndian = false;
  else if (le === BTREE_MAGIC || be === BTREE_MAGIC) {
    throw new HyperwardError(
      'E_UNSUPPORTED_FORMAT',
      'a Berkeley DB btree, not the hash database rpm uses',
      where,
    );
  } else {
    throw new HyperwardError('E_UNSUPPORTED_FORMAT', 'not a Berkeley DB hash database (bad magic)', {
      ...where,
      offset: 12,
    });
  }
  const u32 = (o: number): number => (littleEndian ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  const version = u32(16);
  if (version < 8 || version > 10) {
    throw new HyperwardError('E_UNSUPPORTED_FORMAT', `unsupported hash version ${version}`, {
      ...where,
      offset: 16,
    });
  }
  const pageSize = u32(20);
  if (pageSize < 512 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0) {
    throw corrupt(`invalid page size ${pageSize}`, where, 20);
  }
  if (buf[24] !== 0)
    throw new HyperwardError('E_ENCRYPTED', 'the Berkeley DB is encrypted', { ...where, offset: 24 });
  if (buf[25] !== P_HASHMETA) throw corrupt(`meta page has type ${buf[25]}, not hash meta`, where, 25);
  if ((buf[26]! & 0x01) !== 0) {
    throw new HyperwardError('E_UNSUPPORTED_FORMAT', 'Berkeley DB page checksums are not supported', {
      ...where,
      offset: 26,
    });
  }
  const lastPage = u32(32);
  const pagesInFile = Math.floor(buf.length / pageSize);
  if (lastPage < 1 || lastPage >= pagesInFile) {
    throw corrupt(`last page ${lastPage} but the file holds ${pagesInFile} pages of ${pageSize}`, where, 32);
  }
  const maxBucket = u32(72);
  if (maxBucket > lastPage)
    throw corrupt(`max bucket ${maxBucket} beyond the last page ${lastPage}`, where, 72);
  const spares: number[] = [];
  for (let i = 0; i < 32; i++) spares.push(u32(96 + 4 * i));
  return {
    littleEndian,
    version,
    pageSize,
    lastPage,
    maxBucket,
    highMask: u32(76),
    lowMask: u32(80),
    spares,
  };
}

/** The page of bucket `b`: `b + spares[bits(b)]`, as Berkeley DB and rpm's bdb_ro compute it. */
export function bucketPage(meta: BdbHashMeta, bucket: number): number {
  let bits = 0;
  for (let b = bucket; b > 0; b >>>= 1) bits++;
  return bucket + (meta.spares[bits] ?? 0);
}

/**
 * Every key/value pair of a hash database, bucket by bucket, with a problem for each page or item that could
 * not be read. Work is bounded: each hash page is visited once, and overflow pages read in total are capped at
 * twice the file's pages.
 */
export function readBdbHash(
  buf: Buffer,
  file: string,
): { meta: BdbHashMeta; entries: BdbEntry[]; problems: HyperwardError[] } {
  const meta = readBdbHashMeta(buf, file);
  const { pageSize, lastPage, littleEndian } = meta;
  const u16 = (o: number): number => (littleEndian ? buf.readUInt16LE(o) : buf.readUInt16BE(o));
  const u32 = (o: number): number => (littleEndian ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  const entries: BdbEntry[] = [];
  const problems: HyperwardError[] = [];
  const visited = new Set<number>();
  let overflowBudget = 2 * (lastPage + 1);

  /** Checks page `pg` exists and says it is page `pg`; returns its file offset or a problem message. */
  const pageAt = (pg: number): number | string => {
    if (pg < 1 || pg > lastPage) return `page ${pg} outside 1..${lastPage}`;
    const off = pg * pageSize;
    if (u32(off + 8) !== pg) return `page ${pg} says it is page ${u32(off + 8)}`;
    return off;
  };

  const overflow = (first: number, total: number, where: ErrorLocation): Buffer => {
    if (total === 0 || total > MAX_VALUE || total > buf.length) {
      throw corrupt(`overflow item of ${total} bytes`, where);
    }
    const out = Buffer.allocUnsafe(total);
    let filled = 0;
    let pg = first;
    const seen = new Set<number>();
    while (filled < total) {
      if (--overflowBudget < 0) {
        throw new HyperwardError('E_LIMIT', 'overflow pages read exceed twice the file size', where);
      }
      if (seen.has(pg)) throw corrupt(`overflow chain loops at page ${pg}`, where);
      seen.add(pg);
      const off = pageAt(pg);
      if (typeof off === 'string') throw corrupt(`overflow chain: ${off}`, where);
      if (buf[off + 25] !== P_OVERFLOW)
        throw corrupt(`page ${pg} in an overflow chain has type ${buf[off + 25]}`, where, off);
      const len = u16(off + 22);
      if (len === 0 || PAGE_HEADER + len > pageSize || len > total - filled) {
        throw corrupt(`overflow page ${pg} holds ${len} bytes`, where, off);
      }
      buf.copy(out, filled, off + PAGE_HEADER, off + PAGE_HEADER + len);
      filled += len;
      pg = u32(off + 16);
      if (filled < total && pg === 0)
        throw corrupt(`overflow chain ends after ${filled} of ${total} bytes`, where);
    }
    return out;
  };

  /** An item at page offset `itemOff` (absolute `at`) of `len` bytes. */
  const item = (pageOff: number, itemOff: number, len: number, where: ErrorLocation): Buffer => {
    const at = pageOff + itemOff;
    if (len <= 0 || itemOff + len > pageSize)
      throw corrupt(`item of ${len} bytes at ${itemOff} overruns the page`, where, at);
    const type = buf[at]!;
    if (type === H_KEYDATA) return buf.subarray(at + 1, at + len);
    if (type === H_OFFPAGE) {
      if (len !== 12) throw corrupt(`off-page item of ${len} bytes`, where, at);
      return overflow(u32(at + 4), u32(at + 8), { ...where, offset: at });
    }
    if (type === H_DUPLICATE || type === H_OFFDUP) {
      throw new HyperwardError('E_UNSUPPORTED_FORMAT', 'duplicate data items (rpm never writes them)', {
        ...where,
        offset: at,
      });
    }
    throw corrupt(`unknown hash item type ${type}`, where, at);
  };

  for (let bucket = 0; bucket <= meta.maxBucket; bucket++) {
    let pg = bucketPage(meta, bucket);
    while (pg !== 0) {
      const where: ErrorLocation = { file, layer: `bdb hash bucket ${bucket} page ${pg}` };
      if (visited.has(pg)) {
        problems.push(corrupt(`page ${pg} reached twice; chain cut`, where));
        break;
      }
      visited.add(pg);
      const off = pageAt(pg);
      if (typeof off === 'string') {
        problems.push(corrupt(off, where));
        break;
      }
      const type = buf[off + 25];
      if (type !== P_HASH && type !== P_HASH_UNSORTED) {
        problems.push(corrupt(`page has type ${type}, not a hash page`, where, off + 25));
        break;
      }
      const n = u16(off + 20);
      if (n > (pageSize - PAGE_HEADER) / 2) {
        problems.push(corrupt(`page claims ${n} items`, where, off + 20));
        break;
      }
      if (n % 2 !== 0)
        problems.push(corrupt(`page has an odd number of items (${n}); the last is ignored`, where));
      for (let i = 0; i + 1 < n; i += 2) {
        const koff = u16(off + PAGE_HEADER + 2 * i);
        const voff = u16(off + PAGE_HEADER + 2 * i + 2);
        const kend = i === 0 ? pageSize : u16(off + PAGE_HEADER + 2 * i - 2);
        const itemWhere: ErrorLocation = { file, layer: `bdb hash page ${pg} item ${i / 2}` };
        try {
          if (koff < PAGE_HEADER + 2 * n || koff >= pageSize || voff >= koff || voff < PAGE_HEADER + 2 * n) {
            throw corrupt(`item offsets ${koff}/${voff} out of order`, itemWhere, off + PAGE_HEADER + 2 * i);
          }
          const key = item(off, koff, kend - koff, itemWhere);
          const value = item(off, voff, koff - voff, itemWhere);
          // On-page bytes are copied so that entries do not pin the file buffer; overflow values are fresh.
          const onPage = buf[off + voff] === H_KEYDATA;
          const e: BdbEntry = { key: Buffer.from(key), value: onPage ? Buffer.from(value) : value, page: pg };
          if (onPage) e.valueOffset = off + voff + 1;
          entries.push(e);
        } catch (err) {
          if (!(err instanceof HyperwardError)) throw err;
          problems.push(err);
          if (err.code === 'E_LIMIT') return { meta, entries, problems };
        }
      }
      pg = u32(off + 16);
    }
  }
  return { meta, entries, problems };
}

/**
 * The header blobs of rpm's Berkeley DB `Packages` file. Keys are 4-byte header instances in the database's
 * byte order; key 0 holds rpm's next-instance counter and is skipped, as rpm skips it.
 */
export function readBdbPackages(buf: Buffer, file: string): RpmBlobSet {
  const { meta, entries, problems } = readBdbHash(buf, file);
  const blobs: RpmBlob[] = [];
  for (const e of entries) {
    if (e.key.length !== 4) {
      problems.push(
        corrupt(`record key of ${e.key.length} bytes, not a header instance`, {
          file,
          layer: `bdb hash page ${e.page}`,
        }),
      );
      continue;
    }
    const instance = meta.littleEndian ? e.key.readUInt32LE(0) : e.key.readUInt32BE(0);
    if (instance === 0) continue;
    const b: RpmBlob = { instance, blob: e.value };
    if (e.valueOffset !== undefined) b.offset = e.valueOffset;
    blobs.push(b);
  }
  return { blobs, problems };
}
