/**
 * XFS directory structures (version 2 directories, and their v3 CRC-enabled forms on v5 filesystems):
 * short-form directories in the inode, data blocks (with the block-format tail when the directory is one block),
 * and the headers of the hash-ordered leaf, leafn and da-node blocks of the leaf space. Parsing only: the
 * filesystem maps directory blocks and decides which of these to apply.
 *
 * Every entry is bounds-checked against its block or fork, every tag must point back at its entry, and v3
 * blocks must carry a good CRC, their own address, the owning inode and the filesystem UUID.
 */
import { fsCorrupt } from '../../errors.js';
import type { FileType } from '../types.js';
import { daddrOf, readU64, type XfsContext } from './context.js';
import { hasValidCrc } from './crc.js';

/** Byte offset of the leaf space in a directory (32 GiB); the free-index space follows at twice that. */
export const LEAF_SPACE_BYTES = 2 ** 35;
export const FREE_SPACE_BYTES = 2 ** 36;
/** Deepest da btree (node levels plus the leaves). */
export const DA_NODE_MAXDEPTH = 5;

const XD2B = 0x58443242;
const XD2D = 0x58443244;
const XDB3 = 0x58444233;
const XDD3 = 0x58444433;
export const LEAF1_MAGIC = 0xd2f1;
export const LEAFN_MAGIC = 0xd2ff;
export const NODE_MAGIC = 0xfebe;
const LEAF1_MAGIC3 = 0x3df1;
const LEAFN_MAGIC3 = 0x3dff;
const NODE_MAGIC3 = 0x3ebe;
const DATA_HDR_V4 = 16;
const DATA_HDR_V5 = 64;
const DA_HDR_V4 = 16;
const DA_HDR_V5 = 64;
const FREE_TAG = 0xffff;
const MAX_NAME = 255;

/**
 * Called for each entry: the name is `buf[start, start + len)`, `at` the device offset of the entry. Returning
 * true stops the walk.
 */
export type DirentVisitor = (
  buf: Buffer,
  start: number,
  len: number,
  ino: number,
  ftype: number,
  at: number,
) => boolean;

/** The type a directory entry's ftype byte names, or undefined for "unknown". */
export function direntType(ftype: number): FileType | undefined {
  switch (ftype) {
    case 1:
      return 'file';
    case 2:
      return 'dir';
    case 3:
      return 'chardev';
    case 4:
      return 'blockdev';
    case 5:
      return 'fifo';
    case 6:
      return 'socket';
    case 7:
      return 'symlink';
    default:
      return undefined;
  }
}

const rol32 = (x: number, n: number): number => ((x << n) | (x >>> (32 - n))) >>> 0;

/** The directory name hash (`xfs_da_hashname`): 7-bit rotations of the name's bytes. */
export function hashName(name: Uint8Array): number {
  let hash = 0;
  let i = 0;
  let n = name.length;
  for (; n >= 4; n -= 4, i += 4) {
    hash =
      ((name[i]! << 21) ^ (name[i + 1]! << 14) ^ (name[i + 2]! << 7) ^ name[i + 3]! ^ rol32(hash, 28)) >>> 0;
  }
  switch (n) {
    case 3:
      return ((name[i]! << 14) ^ (name[i + 1]! << 7) ^ name[i + 2]! ^ rol32(hash, 21)) >>> 0;
    case 2:
      return ((name[i]! << 7) ^ name[i + 1]! ^ rol32(hash, 14)) >>> 0;
    case 1:
      return (name[i]! ^ rol32(hash, 7)) >>> 0;
    default:
      return hash;
  }
}

/** Walks a short-form directory held in `fork[0, size)` (device offset `at`); returns its parent inode number. */
export function walkShortform(
  ctx: XfsContext,
  fork: Buffer,
  size: number,
  at: number,
  layer: string,
  ftype: boolean,
  visit: DirentVisitor,
): number {
  const bad = (rel: number, message: string): Error =>
    fsCorrupt(message, { file: ctx.file, layer, offset: at + rel });
  if (size < 6 || size > fork.length) throw bad(0, `short-form directory size ${size} is invalid`);
  const count = fork[0]!;
  const i8count = fork[1]!;
  if (i8count > count) throw bad(1, 'more 8-byte inode numbers than entries');
  const inoSize = i8count > 0 ? 8 : 4;
  const readIno = (p: number): number => (inoSize === 8 ? readU64(fork, p) : fork.readUInt32BE(p));
  if (2 + inoSize > size) throw bad(0, 'short-form directory header does not fit');
  const parent = readIno(2);
  let pos = 2 + inoSize;
  for (let k = 0; k < count; k++) {
    if (pos + 3 > size) throw bad(pos, 'short-form entry runs past the directory');
    const len = fork[pos]!;
    if (len === 0) throw bad(pos, 'short-form entry with an empty name');
    const nameAt = pos + 3;
    const ftAt = nameAt + len;
    const inoAt = ftAt + (ftype ? 1 : 0);
    if (inoAt + inoSize > size) throw bad(pos, 'short-form entry runs past the directory');
    const ino = readIno(inoAt);
    if (visit(fork, nameAt, len, ino, ftype ? fork[ftAt]! : 0, at + pos)) return parent;
    pos = inoAt + inoSize;
  }
  return parent;
}

/** What kind of directory data block is expected: the one block of a block-format directory, or a data block. */
export type DataKind = 'block' | 'data';

/**
 * Checks the header of a directory data block (`dirBlkSize` bytes whose first filesystem block is `linear`) and
 * returns the range of its entry area: [start, end).
 */
export function dataBlockArea(
  ctx: XfsContext,
  buf: Buffer,
  kind: DataKind,
  owner: number,
  linear: number,
  layer: string,
): { start: number; end: number } {
  const sb = ctx.sb;
  const size = sb.dirBlkSize;
  const base = linear * sb.blockSize;
  const bad = (rel: number, message: string): Error =>
    fsCorrupt(message, { file: ctx.file, layer, offset: base + rel });
  const magic = buf.readUInt32BE(0);
  let start: number;
  if (sb.version === 5) {
    if (magic !== (kind === 'block' ? XDB3 : XDD3)) throw bad(0, `bad directory ${kind} block magic`);
    if (!hasValidCrc(buf, 0, size, 4)) throw bad(4, `directory ${kind} block CRC32C mismatch`);
    if (readU64(buf, 8) !== daddrOf(sb, linear)) throw bad(8, 'directory block records another address');
    if (!buf.subarray(24, 40).equals(sb.metaUuid)) throw bad(24, 'directory block UUID mismatch');
    if (readU64(buf, 40) !== owner) throw bad(40, 'directory block belongs to another inode');
    start = DATA_HDR_V5;
  } else {
    if (magic !== (kind === 'block' ? XD2B : XD2D)) throw bad(0, `bad directory ${kind} block magic`);
    start = DATA_HDR_V4;
  }
  let end = size;
  if (kind === 'block') {
    const count = buf.readUInt32BE(size - 8);
    const leafAt = size - 8 - count * 8;
    if (leafAt < start) throw bad(size - 8, `block directory tail counts ${count} leaf entries, too many`);
    end = leafAt;
  }
  return { start, end };
}

/** A data entry parsed at a known offset. */
export interface DataEntry {
  ino: number;
  nameAt: number;
  nameLen: number;
  ftype: number;
  /** Bytes the entry takes (a multiple of 8). */
  size: number;
}

/** Parses the used entry at `buf[pos]` (device offset `base + pos`), which must end by `end`; throws on damage. */
export function entryAt(
  ctx: XfsContext,
  buf: Buffer,
  pos: number,
  end: number,
  base: number,
  layer: string,
): DataEntry {
  const bad = (message: string): Error => fsCorrupt(message, { file: ctx.file, layer, offset: base + pos });
  if (pos + 16 > end || pos % 8 !== 0) throw bad('directory entry runs past its block');
  const nameLen = buf[pos + 8]!;
  if (nameLen === 0) throw bad('directory entry with an empty name');
  const ft = ctx.sb.ftype ? 1 : 0;
  const size = Math.ceil((8 + 1 + nameLen + ft + 2) / 8) * 8;
  if (pos + size > end) throw bad('directory entry runs past its block');
  if (buf.readUInt16BE(pos + size - 2) !== pos) throw bad('directory entry tag does not match its offset');
  return {
    ino: readU64(buf, pos),
    nameAt: pos + 9,
    nameLen,
    ftype: ft === 1 ? buf[pos + 9 + nameLen]! : 0,
    size,
  };
}

/** Walks the entries of `buf[start, end)`, a data block's entry area at device offset `base`. */
export function walkDataEntries(
  ctx: XfsContext,
  buf: Buffer,
  start: number,
  end: number,
  base: number,
  layer: string,
  visit: DirentVisitor,
): boolean {
  let pos = start;
  while (pos < end) {
    if (pos + 8 > end)
      throw fsCorrupt('directory block ends inside an entry', { file: ctx.file, layer, offset: base + pos });
    if (buf.readUInt16BE(pos) === FREE_TAG) {
      const len = buf.readUInt16BE(pos + 2);
      if (len < 8 || len % 8 !== 0 || pos + len > end || buf.readUInt16BE(pos + len - 2) !== pos) {
        throw fsCorrupt(`bad free region of ${len} bytes in a directory block`, {
          file: ctx.file,
          layer,
          offset: base + pos,
        });
      }
      pos += len;
      continue;
    }
    const e = entryAt(ctx, buf, pos, end, base, layer);
    if (visit(buf, e.nameAt, e.nameLen, e.ino, e.ftype, base + pos)) return true;
    pos += e.size;
  }
  return false;
}

/** A checked leaf-space block: a single leaf (LEAF1), a leaf of a node directory (LEAFN) or a da node. */
export interface DaBlock {
  /** LEAF1_MAGIC, LEAFN_MAGIC or NODE_MAGIC (v5 magics are reported as their v4 equivalents). */
  magic: number;
  /** Entries: (hash, address) for leaves, (hash, before) for nodes. */
  count: number;
  entriesAt: number;
  /** Node level (0 for leaves). */
  level: number;
  /** Next block at the same level (0 for none), as a directory block offset in filesystem blocks. */
  forw: number;
}

/** Checks the header of a leaf-space block (`dirBlkSize` bytes whose first filesystem block is `linear`). */
export function daBlock(ctx: XfsContext, buf: Buffer, owner: number, linear: number, layer: string): DaBlock {
  const sb = ctx.sb;
  const size = sb.dirBlkSize;
  const base = linear * sb.blockSize;
  const bad = (rel: number, message: string): Error =>
    fsCorrupt(message, { file: ctx.file, layer, offset: base + rel });
  const raw = buf.readUInt16BE(8);
  let magic: number;
  let hdr: number;
  if (sb.version === 5) {
    magic =
      raw === LEAF1_MAGIC3
        ? LEAF1_MAGIC
        : raw === LEAFN_MAGIC3
          ? LEAFN_MAGIC
          : raw === NODE_MAGIC3
            ? NODE_MAGIC
            : 0;
    if (magic === 0) throw bad(8, 'bad directory leaf/node block magic');
    if (!hasValidCrc(buf, 0, size, 12)) throw bad(12, 'directory leaf/node block CRC32C mismatch');
    if (readU64(buf, 16) !== daddrOf(sb, linear)) throw bad(16, 'directory block records another address');
    if (!buf.subarray(32, 48).equals(sb.metaUuid)) throw bad(32, 'directory block UUID mismatch');
    if (readU64(buf, 48) !== owner) throw bad(48, 'directory block belongs to another inode');
    hdr = DA_HDR_V5;
  } else {
    magic = raw;
    if (magic !== LEAF1_MAGIC && magic !== LEAFN_MAGIC && magic !== NODE_MAGIC) {
      throw bad(8, 'bad directory leaf/node block magic');
    }
    hdr = DA_HDR_V4;
  }
  // count, then stale (leaves) or level (nodes), right after the block info.
  const countAt = sb.version === 5 ? 56 : 12;
  const count = buf.readUInt16BE(countAt);
  const level = magic === NODE_MAGIC ? buf.readUInt16BE(countAt + 2) : 0;
  let limit = size;
  if (magic === LEAF1_MAGIC) {
    const bests = buf.readUInt32BE(size - 4);
    limit = size - 4 - bests * 2;
  }
  if (hdr + count * 8 > limit)
    throw bad(countAt, `directory leaf/node block counts ${count} entries, too many`);
  if (magic === NODE_MAGIC && (count === 0 || level < 1 || level >= DA_NODE_MAXDEPTH)) {
    throw bad(countAt, `da node with ${count} entries at level ${level}`);
  }
  return { magic, count, entriesAt: hdr, level, forw: buf.readUInt32BE(0) };
}

/** Index of the first of `count` 8-byte (hash, value) entries at `at` whose hash is >= `hash` (count if none). */
export function firstAtOrAbove(buf: Buffer, at: number, count: number, hash: number): number {
  let lo = 0;
  let hi = count;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (buf.readUInt32BE(at + mid * 8) < hash) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** True when `buf[start, start+len)` is a valid file name (no `/`, no NUL, at most 255 bytes). */
export function validName(buf: Buffer, start: number, len: number): boolean {
  if (len < 1 || len > MAX_NAME) return false;
  for (let k = start; k < start + len; k++) if (buf[k] === 0x2f || buf[k] === 0) return false;
  return true;
}
