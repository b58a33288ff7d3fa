/**
 * Classic ext2/ext3 block maps: twelve direct pointers in `i_block`, then one single-, one double- and one
 * triple-indirect pointer. A zero pointer is a hole (for an indirect pointer, a hole as large as its subtree).
 * Runs of consecutive pointers are returned together so that reads can be coalesced.
 */
import { fsCorrupt } from '../../errors.js';
import type { MapContext, Run } from './map.js';

const DIRECT = 12;

/** Counts the run starting at `words[idx]` among the `n` little-endian words of `buf` from `base`. */
function scan(
  ctx: MapContext,
  buf: Buffer,
  base: number,
  n: number,
  idx: number,
  devOffset: number,
  layer: string,
): Run {
  const first = buf.readUInt32LE(base + idx * 4);
  let count = 1;
  if (first === 0) {
    while (idx + count < n && buf.readUInt32LE(base + (idx + count) * 4) === 0) count++;
    return { count, pblk: 0 };
  }
  while (idx + count < n && buf.readUInt32LE(base + (idx + count) * 4) === first + count) count++;
  if (first + count > ctx.sb.blocksCount) {
    throw fsCorrupt(`block pointer ${first} is outside the filesystem (${ctx.sb.blocksCount} blocks)`, {
      file: ctx.file,
      layer,
      offset: devOffset + idx * 4,
    });
  }
  return { count, pblk: first };
}

/** Maps logical block `lblk` of an inode whose 60-byte `i_block` is `iblock`; `iblockOffset` is its disk offset. */
export function mapBlockMap(
  ctx: MapContext,
  iblock: Buffer,
  iblockOffset: number,
  lblk: number,
  layer: string,
): Run {
  if (lblk < DIRECT) return scan(ctx, iblock, 0, DIRECT, lblk, iblockOffset, layer);
  const bs = ctx.sb.blockSize;
  const p = bs / 4;
  let base = DIRECT;
  for (let levels = 1; levels <= 3; levels++) {
    const span = p ** levels;
    if (lblk < base + span) {
      let ptr = iblock.readUInt32LE((DIRECT - 1 + levels) * 4);
      let ptrOffset = iblockOffset + (DIRECT - 1 + levels) * 4;
      let rel = lblk - base;
      for (let depth = levels; ; depth--) {
        const sub = p ** depth;
        if (ptr === 0) return { count: sub - (rel % sub), pblk: 0 };
        if (ptr >= ctx.sb.blocksCount) {
          throw fsCorrupt(
            `indirect block pointer ${ptr} is outside the filesystem (${ctx.sb.blocksCount} blocks)`,
            {
              file: ctx.file,
              layer,
              offset: ptrOffset,
            },
          );
        }
        const buf = ctx.metaBlock(ptr, layer);
        if (depth === 1) return scan(ctx, buf, 0, p, rel, ptr * bs, layer);
        const childSpan = p ** (depth - 1);
        const idx = Math.floor(rel / childSpan);
        ptrOffset = ptr * bs + idx * 4;
        ptr = buf.readUInt32LE(idx * 4);
        rel -= idx * childSpan;
      }
    }
    base += span;
  }
  return { count: Infinity, pblk: 0 };
}
