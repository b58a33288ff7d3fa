/**
 * ext4 extent trees: a B-tree of at most 5 levels whose root (12-byte header plus up to four 12-byte entries)
 * lives in the inode's `i_block` and whose other nodes fill whole blocks. Nodes are validated when parsed (magic,
 * entry counts against the space they have, sorted non-overlapping keys, physical blocks inside the filesystem)
 * and on descent (each child one level shallower than its parent, its keys inside its parent's key range), so a
 * malicious tree can neither loop nor make a lookup do more than `depth` block reads.
 */
import { fsCorrupt } from '../../errors.js';
import type { Lru } from '../../lru.js';
import type { MapContext, Run } from './map.js';

export const EXTENT_MAGIC = 0xf30a;
export const MAX_EXTENT_DEPTH = 5;
const HEADER = 12;
const ENTRY = 12;
const UNINIT_BIT = 32768;
const TWO32 = 0x1_0000_0000;

/** A parsed, self-consistent extent tree node. Leaves: `a` = length, `b` = first physical block; index nodes:
 * `b` = child block. */
export interface ExtentNode {
  depth: number;
  count: number;
  keys: Uint32Array;
  a: Uint32Array;
  b: Float64Array;
  uninit: Uint8Array;
}

export type ExtentCache = Lru<number, ExtentNode>;

/** Parses and validates a node stored in `buf[base .. base+avail)`; `devOffset` is its byte offset on disk. */
export function parseExtentNode(
  ctx: MapContext,
  buf: Buffer,
  base: number,
  avail: number,
  devOffset: number,
  layer: string,
): ExtentNode {
  const err = (rel: number, message: string): Error =>
    fsCorrupt(message, { file: ctx.file, layer, offset: devOffset + rel });
  if (avail < HEADER) throw err(0, 'extent node too small');
  if (buf.readUInt16LE(base) !== EXTENT_MAGIC) throw err(0, 'bad extent header magic');
  const count = buf.readUInt16LE(base + 2);
  const max = buf.readUInt16LE(base + 4);
  const depth = buf.readUInt16LE(base + 6);
  const capacity = Math.floor((avail - HEADER) / ENTRY);
  if (max > capacity) throw err(4, `extent node claims room for ${max} entries but has room for ${capacity}`);
  if (count > max) throw err(2, `extent node has ${count} entries, more than its maximum ${max}`);
  if (depth > MAX_EXTENT_DEPTH) throw err(6, `extent tree depth ${depth} exceeds ${MAX_EXTENT_DEPTH}`);
  const node: ExtentNode = {
    depth,
    count,
    keys: new Uint32Array(count),
    a: new Uint32Array(count),
    b: new Float64Array(count),
    uninit: new Uint8Array(count),
  };
  const blocks = ctx.sb.blocksCount;
  let prevEnd = 0;
  for (let i = 0; i < count; i++) {
    const e = base + HEADER + i * ENTRY;
    const rel = e - base;
    const key = buf.readUInt32LE(e);
    node.keys[i] = key;
    if (depth === 0) {
      const raw = buf.readUInt16LE(e + 4);
      const len = raw > UNINIT_BIT ? raw - UNINIT_BIT : raw;
      const start = buf.readUInt16LE(e + 6) * TWO32 + buf.readUInt32LE(e + 8);
      if (len === 0) throw err(rel, 'zero-length extent');
      if (key + len > TWO32) throw err(rel, 'extent runs past the largest logical block');
      if (i > 0 && key < prevEnd) throw err(rel, 'extents overlap or are out of order');
      if (start === 0 || start + len > blocks) {
        throw err(
          rel,
          `extent maps blocks ${start}..${start + len - 1}, outside the filesystem (${blocks} blocks)`,
        );
      }
      prevEnd = key + len;
      node.a[i] = len;
      node.b[i] = start;
      node.uninit[i] = raw > UNINIT_BIT ? 1 : 0;
    } else {
      const child = buf.readUInt16LE(e + 8) * TWO32 + buf.readUInt32LE(e + 4);
      if (i > 0 && key <= node.keys[i - 1]!) throw err(rel, 'extent index entries out of order');
      if (child === 0 || child >= blocks) {
        throw err(rel, `extent index points to block ${child}, outside the filesystem (${blocks} blocks)`);
      }
      node.b[i] = child;
    }
  }
  return node;
}

/** Index of the last entry whose key is <= `lblk`, or -1. */
function lastAtOrBelow(keys: Uint32Array, count: number, lblk: number): number {
  let lo = 0;
  let hi = count - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid]! <= lblk) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

/**
 * Maps logical block `lblk` through the tree whose root is `root` (parsed from `i_block`): returns the mapped
 * run from `lblk` to the end of its extent, or the hole up to the next mapped block.
 */
export function mapExtent(
  ctx: MapContext,
  cache: ExtentCache,
  root: ExtentNode,
  lblk: number,
  layer: string,
): Run {
  if (lblk >= TWO32) return { count: Infinity, pblk: 0 };
  const bs = ctx.sb.blockSize;
  let node = root;
  let hi = TWO32;
  for (let level = 0; node.depth > 0; level++) {
    if (level >= MAX_EXTENT_DEPTH) {
      throw fsCorrupt('extent tree deeper than allowed', { file: ctx.file, layer });
    }
    if (node.count === 0) return { count: hi - lblk, pblk: 0 };
    const i = lastAtOrBelow(node.keys, node.count, lblk);
    if (i < 0) return { count: node.keys[0]! - lblk, pblk: 0 };
    const lo = node.keys[i]!;
    const childHi = i + 1 < node.count ? node.keys[i + 1]! : hi;
    const block = node.b[i]!;
    let child = cache.get(block);
    if (child === undefined) {
      const buf = ctx.metaBlock(block, layer);
      child = parseExtentNode(ctx, buf, 0, bs, block * bs, layer);
      cache.set(block, child);
    }
    if (child.depth !== node.depth - 1) {
      throw fsCorrupt(`extent node at depth ${child.depth} where ${node.depth - 1} was expected (loop?)`, {
        file: ctx.file,
        layer,
        offset: block * bs,
      });
    }
    if (child.count > 0) {
      const last = child.count - 1;
      const lastEnd = child.depth === 0 ? child.keys[last]! + child.a[last]! : child.keys[last]! + 1;
      if (child.keys[0]! < lo || lastEnd > childHi) {
        throw fsCorrupt('extent node keys fall outside the range its parent gives it', {
          file: ctx.file,
          layer,
          offset: block * bs,
        });
      }
    }
    hi = childHi;
    node = child;
  }
  const i = lastAtOrBelow(node.keys, node.count, lblk);
  if (i >= 0) {
    const start = node.keys[i]!;
    const len = node.a[i]!;
    if (lblk < start + len) {
      return { count: start + len - lblk, pblk: node.uninit[i] === 1 ? 0 : node.b[i]! + (lblk - start) };
    }
  }
  const next = i + 1 < node.count ? node.keys[i + 1]! : hi;
  return { count: next - lblk, pblk: 0 };
}
