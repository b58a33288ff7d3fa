/**
 * Directory blocks: the linear entry format (`inode`, `rec_len`, `name_len`, `file_type`, name) shared by plain,
 * hash-indexed (htree) and inline directories, and the htree index itself. An htree's root and interior blocks
 * are disguised as directory blocks holding one entry that spans the block (the root: `.` and a `..` whose
 * `rec_len` covers the index; interior nodes: an unused entry spanning the block), so a linear scan that honours
 * `rec_len` never sees the index bytes as names.
 */
import { fsCorrupt } from '../../errors.js';
import type { FileType } from '../types.js';
import { dxHash } from './hash.js';

/** Directory entry file types (filetype feature). */
const DIRENT_TYPES: ReadonlyArray<FileType | undefined> = [
  undefined,
  'file',
  'dir',
  'chardev',
  'blockdev',
  'fifo',
  'socket',
  'symlink',
];

/** Maps a directory entry's file type byte to a type, or undefined when it says nothing. */
export function direntType(t: number): FileType | undefined {
  return DIRENT_TYPES[t];
}

/** Decodes `rec_len` (blocks of 64 KiB need a special encoding for the full-block length). */
export function decodeRecLen(raw: number, blockSize: number): number {
  if (blockSize < 65536) return raw;
  if (raw === 65535 || raw === 0) return blockSize;
  return (raw & 65532) | ((raw & 3) << 16);
}

/** Called for each used entry; return true to stop the scan. */
export type DirentVisitor = (
  buf: Buffer,
  nameStart: number,
  nameLen: number,
  ino: number,
  type: number,
  /** Disk offset of the entry. */
  at: number,
) => boolean;

/**
 * Walks the entries in `buf[start..end)`; `devOffset` is the disk offset of `buf[0]`. Entries with inode 0 (free
 * space, checksum tails, htree node headers) are skipped. Returns true if the visitor stopped the walk.
 */
export function walkDirents(
  buf: Buffer,
  start: number,
  end: number,
  blockSize: number,
  hasFiletype: boolean,
  devOffset: number,
  file: string,
  layer: string,
  visit: DirentVisitor,
): boolean {
  let off = start;
  while (off < end) {
    if (off + 8 > end) {
      throw fsCorrupt('directory entry header runs past the end of the block', {
        file,
        layer,
        offset: devOffset + off,
      });
    }
    const ino = buf.readUInt32LE(off);
    const recLen = decodeRecLen(buf.readUInt16LE(off + 4), blockSize);
    const nameLen = buf[off + 6]!;
    const type = hasFiletype ? buf[off + 7]! : 0;
    if (recLen < 8 || recLen % 4 !== 0 || off + recLen > end || 8 + nameLen > recLen) {
      throw fsCorrupt(`invalid directory entry (rec_len ${recLen}, name_len ${nameLen})`, {
        file,
        layer,
        offset: devOffset + off,
      });
    }
    if (ino !== 0 && nameLen > 0 && visit(buf, off + 8, nameLen, ino, type, devOffset + off)) return true;
    off += recLen;
  }
  return false;
}

/** A directory block read for the index walk: its bytes and disk offset, or undefined for a hole. */
export type DirBlockReader = (lblk: number) => { buf: Buffer; offset: number } | undefined;

export interface DxLookupParams {
  blockSize: number;
  /** Blocks in the directory (its size / block size). */
  dirBlocks: number;
  name: Buffer;
  seed: number[];
  hashUnsigned: boolean;
  readBlock: DirBlockReader;
  /** Searches one leaf block for `name`, returning its inode or undefined. */
  searchLeaf: (buf: Buffer, offset: number) => number | undefined;
}

interface Frame {
  buf: Buffer;
  /** Offset of the count/limit header, which is also entry 0. */
  at: number;
  count: number;
  idx: number;
}

const MAX_DX_LEVELS = 3;
const MAX_CONTINUATIONS = 256;

/** Reads the count/limit header at `at`; undefined when it is not sane. */
function frameAt(buf: Buffer, at: number, bs: number): Frame | undefined {
  if (at + 8 > bs) return undefined;
  const limit = buf.readUInt16LE(at);
  const count = buf.readUInt16LE(at + 2);
  if (count < 1 || count > limit || at + limit * 8 > bs) return undefined;
  return { buf, at, count, idx: 0 };
}

const entryHash = (f: Frame, i: number): number => f.buf.readUInt32LE(f.at + i * 8);
const entryBlock = (f: Frame, i: number): number => f.buf.readUInt32LE(f.at + i * 8 + 4) & 0x0fffffff;

/**
 * Looks `name` up through the htree index: hashes it, descends from the root to one leaf block and searches it
 * (and the following leaves while their hash continues the same value). Returns the inode, undefined when the
 * name is absent, or `'fallback'` when the index is not something this code trusts (unknown hash, malformed
 * node), in which case the caller scans the directory linearly.
 */
export function dxLookup(p: DxLookupParams): number | undefined | 'fallback' {
  const bs = p.blockSize;
  const root = p.readBlock(0);
  if (root === undefined || bs < 64) return 'fallback';
  const rb = root.buf;
  if (decodeRecLen(rb.readUInt16LE(4), bs) !== 12 || decodeRecLen(rb.readUInt16LE(16), bs) !== bs - 12) {
    return 'fallback';
  }
  const hashVersion = rb[28]!;
  const infoLength = rb[29]!;
  const levels = rb[30]!;
  if (rb.readUInt32LE(24) !== 0 || infoLength !== 8 || hashVersion > 2 || levels >= MAX_DX_LEVELS) {
    return 'fallback';
  }
  const target = dxHash(p.name, hashVersion + (p.hashUnsigned ? 3 : 0), p.seed);
  if (target === undefined) return 'fallback';

  const frames: Frame[] = [];
  const pick = (f: Frame): void => {
    // Last entry whose hash is <= target; entry 0 stands for hash 0.
    let lo = 1;
    let hi = f.count - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (entryHash(f, mid) > target) hi = mid - 1;
      else lo = mid + 1;
    }
    f.idx = lo - 1;
  };
  const node = (lblk: number): Buffer | undefined => {
    if (lblk === 0 || lblk >= p.dirBlocks) return undefined;
    const b = p.readBlock(lblk);
    if (b === undefined) return undefined;
    if (b.buf.readUInt32LE(0) !== 0 || decodeRecLen(b.buf.readUInt16LE(4), bs) !== bs) return undefined;
    return b.buf;
  };

  let f = frameAt(rb, 24 + infoLength, bs);
  if (f === undefined) return 'fallback';
  pick(f);
  frames.push(f);
  for (let level = 0; level < levels; level++) {
    const nb = node(entryBlock(f, f.idx));
    if (nb === undefined) return 'fallback';
    const nf = frameAt(nb, 8, bs);
    if (nf === undefined) return 'fallback';
    f = nf;
    pick(f);
    frames.push(f);
  }

  for (let iter = 0; iter < MAX_CONTINUATIONS; iter++) {
    const last = frames[frames.length - 1]!;
    const leafBlock = entryBlock(last, last.idx);
    if (leafBlock === 0 || leafBlock >= p.dirBlocks) return 'fallback';
    const leaf = p.readBlock(leafBlock);
    if (leaf === undefined) return 'fallback';
    const found = p.searchLeaf(leaf.buf, leaf.offset);
    if (found !== undefined) return found;
    // Move to the next leaf, but only if its hash continues ours (a hash collision spilled over).
    let lvl = frames.length - 1;
    while (lvl >= 0 && frames[lvl]!.idx + 1 >= frames[lvl]!.count) lvl--;
    if (lvl < 0) return undefined;
    const fr = frames[lvl]!;
    fr.idx++;
    if ((entryHash(fr, fr.idx) & ~1) >>> 0 !== target) return undefined;
    for (let l = lvl + 1; l < frames.length; l++) {
      const parent = frames[l - 1]!;
      const nb = node(entryBlock(parent, parent.idx));
      if (nb === undefined) return 'fallback';
      const child = frameAt(nb, 8, bs);
      if (child === undefined) return 'fallback';
      frames[l] = child;
    }
  }
  return 'fallback';
}
