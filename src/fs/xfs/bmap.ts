/**
 * XFS block maps: a data fork in extents format (packed 128-bit records in the inode) or btree format (a bmbt
 * root in the inode, long-format btree blocks with v4 `BMAP` or v5 `BMA3` headers below it). Either way the
 * whole map is loaded into sorted arrays once and cached by the caller; lookups are a binary search.
 *
 * Hostile input: the extent count is capped, records must be sorted, non-overlapping and inside their
 * allocation group; btree levels must descend one at a time from a root of at most MAX_BTREE_DEPTH levels, keys
 * must bound their subtrees, no block may be visited twice (a block pointing at itself or a shared child is a
 * loop), and v5 blocks must carry a good CRC, their own address, the owning inode and the filesystem UUID.
 */
import { HyperwardError, fsCorrupt } from '../../errors.js';
import { daddrOf, fsbToLinear, readU64, type XfsContext } from './context.js';
import { hasValidCrc } from './crc.js';
import { FMT_EXTENTS, type XfsInode } from './inode.js';

/** Extents one inode may have before E_LIMIT (a real file rarely has more than a few thousand). */
export const MAX_EXTENTS = 1 << 20;
/** Deepest bmap btree accepted, root level included. */
export const MAX_BTREE_DEPTH = 10;

const RECORD = 16;
const BMAP_MAGIC = 0x424d4150; // 'BMAP'
const BMA3_MAGIC = 0x424d4133; // 'BMA3'
const LBLOCK_LEN = 24;
const LBLOCK_CRC_LEN = 72;
const LBLOCK_CRC_OFFSET = 64;
/** Largest logical block this reader addresses (byte offsets must stay safe integers). */
const MAX_FILEOFF = 2 ** 53;

/** An inode's data fork mapping, sorted by logical block. Physical blocks are linear block numbers. */
export interface ExtentMap {
  n: number;
  off: Float64Array;
  len: Float64Array;
  blk: Float64Array;
  unwritten: Uint8Array;
}

/**
 * The run starting at logical block `lblk`: `count` blocks (Infinity past the last extent) mapped to the
 * linear blocks from `blk`, or reading as zeros (`blk` -1: a hole or an unwritten extent).
 */
export interface Run {
  count: number;
  blk: number;
  unwritten: boolean;
}

/** Appends checked records to arrays that grow (up to the inode's own count) as records arrive. */
class Collector {
  readonly map: ExtentMap;
  private prevEnd = 0;

  constructor(
    private readonly ctx: XfsContext,
    private readonly capacity: number,
    private readonly layer: string,
  ) {
    const n = Math.min(capacity, 1024);
    this.map = {
      n: 0,
      off: new Float64Array(n),
      len: new Float64Array(n),
      blk: new Float64Array(n),
      unwritten: new Uint8Array(n),
    };
  }

  private grow(): void {
    const m = this.map;
    const n = Math.min(this.capacity, m.off.length * 2);
    const off = new Float64Array(n);
    const len = new Float64Array(n);
    const blk = new Float64Array(n);
    const unwritten = new Uint8Array(n);
    off.set(m.off);
    len.set(m.len);
    blk.set(m.blk);
    unwritten.set(m.unwritten);
    Object.assign(m, { off, len, blk, unwritten });
  }

  /** Decodes the record at `buf[pos]` (device offset `at`) and appends it, checking it against the others. */
  add(buf: Buffer, pos: number, at: number, lo = 0, hi = Infinity): void {
    const bad = (message: string): Error =>
      fsCorrupt(message, { file: this.ctx.file, layer: this.layer, offset: at });
    const m = this.map;
    if (m.n >= this.capacity) throw bad(`more extent records than the ${this.capacity} the inode counts`);
    if (m.n >= m.off.length) this.grow();
    const w0 = buf.readUInt32BE(pos);
    const w1 = buf.readUInt32BE(pos + 4);
    const w2 = buf.readUInt32BE(pos + 8);
    const w3 = buf.readUInt32BE(pos + 12);
    const flag = w0 >>> 31;
    const off = (w0 & 0x7fffffff) * 2 ** 23 + (w1 >>> 9);
    const fsb = (w1 & 0x1ff) * 2 ** 43 + w2 * 2 ** 11 + (w3 >>> 21);
    const len = w3 & 0x1fffff;
    if (len === 0) throw bad('zero-length extent');
    if (off + len > MAX_FILEOFF) throw bad('extent runs past the largest supported file offset');
    if (off < this.prevEnd) throw bad('extents overlap or are out of order');
    if (off < lo || off >= hi) throw bad('extent lies outside the key range of its btree block');
    const blk = fsbToLinear(this.ctx.sb, fsb, len);
    if (blk === undefined)
      throw bad(`extent of ${len} blocks at block ${fsb} lies outside its allocation group`);
    m.off[m.n] = off;
    m.len[m.n] = len;
    m.blk[m.n] = blk;
    m.unwritten[m.n] = flag;
    m.n++;
    this.prevEnd = off + len;
  }
}

function checkCount(ctx: XfsContext, i: XfsInode, layer: string): void {
  if (i.nextents > MAX_EXTENTS) {
    throw new HyperwardError('E_LIMIT', `inode has ${i.nextents} extents, more than ${MAX_EXTENTS}`, {
      file: ctx.file,
      layer,
      offset: i.offset,
    });
  }
}

/**
 * Loads the whole data fork mapping of an extents- or btree-format inode. Errors name the layer
 * `xfs extent list (inode N)` or `xfs bmap btree (inode N)`.
 */
export function loadExtents(ctx: XfsContext, i: XfsInode): ExtentMap {
  const layer =
    i.format === FMT_EXTENTS ? `xfs extent list (inode ${i.ino})` : `xfs bmap btree (inode ${i.ino})`;
  checkCount(ctx, i, layer);
  const col = new Collector(ctx, i.nextents, layer);
  if (i.format === FMT_EXTENTS) {
    for (let k = 0; k < i.nextents; k++) col.add(i.fork, k * RECORD, i.forkOffset + k * RECORD);
    return col.map;
  }
  walkBtree(ctx, i, col, layer);
  if (col.map.n !== i.nextents) {
    throw fsCorrupt(`bmap btree holds ${col.map.n} extents but the inode counts ${i.nextents}`, {
      file: ctx.file,
      layer,
      offset: i.offset,
    });
  }
  return col.map;
}

function walkBtree(ctx: XfsContext, i: XfsInode, col: Collector, layer: string): void {
  const sb = ctx.sb;
  const root = i.fork;
  const bad = (off: number, message: string): Error =>
    fsCorrupt(message, { file: ctx.file, layer, offset: off });
  if (root.length < 4 + RECORD) throw bad(i.forkOffset, 'data fork too small for a btree root');
  const level = root.readUInt16BE(0);
  const numrecs = root.readUInt16BE(2);
  const rootMax = Math.floor((root.length - 4) / RECORD);
  if (level < 1 || level >= MAX_BTREE_DEPTH)
    throw bad(i.forkOffset, `bmap btree root level ${level} is invalid`);
  if (numrecs < 1 || numrecs > rootMax) {
    throw bad(i.forkOffset + 2, `bmap btree root has ${numrecs} records (room for ${rootMax})`);
  }
  const v5 = sb.version === 5;
  const hdr = v5 ? LBLOCK_CRC_LEN : LBLOCK_LEN;
  const blockMax = Math.floor((sb.blockSize - hdr) / RECORD);
  const visited = new Set<number>();
  // Every block below the root holds at least one record and records are capped, so this bounds the walk.
  const maxBlocks = 2 * Math.max(1, i.nextents) + MAX_BTREE_DEPTH;

  /** Reads the child `fsb` expected at `lvl`, whose keys must lie in [lo, hi). */
  const visit = (fsb: number, lvl: number, lo: number, hi: number, at: number): void => {
    const linear = fsbToLinear(sb, fsb, 1);
    if (linear === undefined) throw bad(at, `bmap btree pointer to block ${fsb} is outside the filesystem`);
    if (visited.has(linear)) throw bad(at, `bmap btree block ${fsb} is reached twice (loop)`);
    visited.add(linear);
    if (visited.size > maxBlocks) throw bad(at, 'bmap btree has more blocks than its extents need');
    const buf = ctx.metaBlock(linear, layer);
    const base = linear * sb.blockSize;
    const magic = buf.readUInt32BE(0);
    if (magic !== (v5 ? BMA3_MAGIC : BMAP_MAGIC)) throw bad(base, 'bad bmap btree block magic');
    if (v5) {
      if (!hasValidCrc(buf, 0, sb.blockSize, LBLOCK_CRC_OFFSET)) {
        throw bad(base + LBLOCK_CRC_OFFSET, 'bmap btree block CRC32C mismatch');
      }
      if (readU64(buf, 24) !== daddrOf(sb, linear))
        throw bad(base + 24, 'bmap btree block records another address');
      if (readU64(buf, 56) !== i.ino) throw bad(base + 56, 'bmap btree block belongs to another inode');
      if (!buf.subarray(40, 56).equals(sb.metaUuid)) throw bad(base + 40, 'bmap btree block UUID mismatch');
    }
    const blvl = buf.readUInt16BE(4);
    const n = buf.readUInt16BE(6);
    if (blvl !== lvl) throw bad(base + 4, `bmap btree block at level ${blvl} where ${lvl} was expected`);
    if (n < 1 || n > blockMax)
      throw bad(base + 6, `bmap btree block has ${n} records (room for ${blockMax})`);
    if (lvl === 0) {
      for (let k = 0; k < n; k++) col.add(buf, hdr + k * RECORD, base + hdr + k * RECORD, lo, hi);
      return;
    }
    children(buf, hdr, blockMax, n, lvl, lo, hi, base);
  };

  const children = (
    buf: Buffer,
    keysAt: number,
    max: number,
    n: number,
    lvl: number,
    lo: number,
    hi: number,
    base: number,
  ): void => {
    const ptrsAt = keysAt + max * 8;
    let prev = -1;
    for (let k = 0; k < n; k++) {
      const key = readU64(buf, keysAt + k * 8);
      if (key <= prev || key < lo || key >= hi) {
        throw bad(base + keysAt + k * 8, 'bmap btree keys are out of order or outside their parent range');
      }
      prev = key;
    }
    for (let k = 0; k < n; k++) {
      const key = readU64(buf, keysAt + k * 8);
      const next = k + 1 < n ? readU64(buf, keysAt + (k + 1) * 8) : hi;
      const ptr = readU64(buf, ptrsAt + k * 8);
      visit(ptr, lvl - 1, key, next, base + ptrsAt + k * 8);
    }
  };

  children(root, 4, rootMax, numrecs, level, 0, Infinity, i.forkOffset);
}

/** Maps logical block `lblk` through `map`. */
export function mapBlock(map: ExtentMap, lblk: number): Run {
  let lo = 0;
  let hi = map.n - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (map.off[mid]! <= lblk) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  if (found >= 0) {
    const start = map.off[found]!;
    const end = start + map.len[found]!;
    if (lblk < end) {
      const unwritten = map.unwritten[found] === 1;
      return { count: end - lblk, blk: unwritten ? -1 : map.blk[found]! + (lblk - start), unwritten };
    }
  }
  const next = found + 1 < map.n ? map.off[found + 1]! : Infinity;
  return { count: next - lblk, blk: -1, unwritten: false };
}

/** One past the last mapped logical block (0 for an empty map). */
export function mapEnd(map: ExtentMap): number {
  return map.n === 0 ? 0 : map.off[map.n - 1]! + map.len[map.n - 1]!;
}
