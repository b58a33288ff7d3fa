/** What the XFS helpers (block maps, directories) need from the filesystem, and the address arithmetic. */
import type { XfsSuperblock } from './superblock.js';

export interface XfsContext {
  readonly sb: XfsSuperblock;
  readonly file: string;
  /** `length` bytes at device byte `offset`, which must lie inside the filesystem and the device. */
  devRead(offset: number, length: number, layer: string): Buffer;
  /** One filesystem block by linear block number, bounds-checked and cached; errors name `layer`. */
  metaBlock(block: number, layer: string): Buffer;
}

/** Blocks in allocation group `agno` (the last one may be short). */
export function agBlocksOf(sb: XfsSuperblock, agno: number): number {
  return agno === sb.agCount - 1 ? sb.dBlocks - agno * sb.agBlocks : sb.agBlocks;
}

/**
 * Converts the first block of a `count`-block run given as an XFS filesystem block number (`agno << agblklog |
 * agbno`) into a linear block number (`agno * agblocks + agbno`), or undefined when the run leaves its allocation
 * group or the filesystem (a run never crosses groups).
 */
export function fsbToLinear(sb: XfsSuperblock, fsb: number, count: number): number | undefined {
  if (!Number.isSafeInteger(fsb) || fsb < 0 || count < 1) return undefined;
  const span = 2 ** sb.agBlkLog;
  const agno = Math.floor(fsb / span);
  const agbno = fsb - agno * span;
  if (agno >= sb.agCount || agbno + count > agBlocksOf(sb, agno)) return undefined;
  return agno * sb.agBlocks + agbno;
}

/** Reads a big-endian 64-bit unsigned field; values that do not fit a safe integer come back as Infinity. */
export function readU64(buf: Buffer, off: number): number {
  const hi = buf.readUInt32BE(off);
  const lo = buf.readUInt32BE(off + 4);
  return hi >= 0x20_0000 ? Infinity : hi * 0x1_0000_0000 + lo;
}

/** Byte offset of a linear block in 512-byte units, as v5 headers record it (`blkno`). */
export function daddrOf(sb: XfsSuperblock, linear: number): number {
  return (linear * sb.blockSize) / 512;
}
