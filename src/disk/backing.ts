/**
 * Pieces shared by the formats whose unallocated ranges read from another device (qcow2 backing files, VHD and
 * VHDX differencing parents, VMDK delta-disk parents).
 */
import type { BlockDevice } from './types.js';

/**
 * Reads virtual bytes `[offset, offset+len)` of `backing` into `out[at..at+len)`. Bytes past the end of the
 * backing device, or all of them when there is none, read as zeros (a child may be larger than its parent).
 */
export function readBacking(
  backing: BlockDevice | undefined,
  out: Buffer,
  at: number,
  offset: number,
  len: number,
): void {
  const avail = backing === undefined ? 0 : Math.max(0, Math.min(len, backing.size - offset));
  if (avail > 0) backing!.read(offset, avail).copy(out, at);
  if (avail < len) out.fill(0, at + avail, at + len);
}

/**
 * Copies over `out[at..]` the sectors of a block that the child holds itself: `mine` is the child's bytes for
 * block bytes `[from, from+mine.length)`, `out[at..]` already holds the parent's bytes for the same range, and
 * `present(sector)` tells whether block sector `sector` (of `sectorSize` bytes) is the child's. Runs of present
 * sectors are copied at once.
 */
export function overlayPresentSectors(
  out: Buffer,
  at: number,
  mine: Buffer,
  from: number,
  sectorSize: number,
  present: (sector: number) => boolean,
): void {
  const stop = from + mine.length;
  let p = from;
  while (p < stop) {
    const sector = Math.floor(p / sectorSize);
    const bit = present(sector);
    let q = (sector + 1) * sectorSize;
    while (q < stop && present(q / sectorSize) === bit) q += sectorSize;
    q = Math.min(q, stop);
    if (bit) mine.copy(out, at + (p - from), p - from, q - from);
    p = q;
  }
}
