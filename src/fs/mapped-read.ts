/**
 * Reading a byte range of a file whose blocks a filesystem maps to the device in runs (extents, block maps):
 * physically contiguous runs are merged into one device read (up to a cap), holes read as zeros. Shared by the
 * ext4 and XFS readers. Pure over the two callbacks.
 */

/** Largest single device read a merged run may become. */
export const MAX_COALESCED_READ = 32 * 1024 * 1024;

/** A run of logical blocks starting at the one asked for: its device block (undefined for a hole) and length. */
export interface BlockRun {
  /** First device block of the run, or undefined when the run is a hole (or unwritten). */
  device: number | undefined;
  /** Logical blocks in the run, at least 1. */
  count: number;
}

/**
 * Reads `[offset, offset + length)` of a file of `blockSize`-byte blocks.
 * @param mapBlock The run that logical block `lblk` starts.
 * @param devRead Reads `n` bytes at a device byte offset.
 */
export function readMappedRange(
  offset: number,
  length: number,
  blockSize: number,
  mapBlock: (lblk: number) => BlockRun,
  devRead: (deviceOffset: number, n: number) => Buffer,
): Buffer {
  if (length === 0) return Buffer.alloc(0);
  const end = offset + length;
  // Segments to fetch: [offset in the output, device offset, length]; physically contiguous runs are merged.
  const segs: Array<[number, number, number]> = [];
  let pos = offset;
  while (pos < end) {
    const lblk = Math.floor(pos / blockSize);
    const run = mapBlock(lblk);
    const runEnd = Math.min(end, (lblk + Math.max(1, run.count)) * blockSize);
    const n = runEnd - pos;
    if (run.device !== undefined) {
      const devOff = run.device * blockSize + (pos - lblk * blockSize);
      const last = segs[segs.length - 1];
      if (
        last !== undefined &&
        last[1] + last[2] === devOff &&
        last[0] + last[2] === pos - offset &&
        last[2] + n <= MAX_COALESCED_READ
      ) {
        last[2] += n;
      } else {
        segs.push([pos - offset, devOff, n]);
      }
    }
    pos = runEnd;
  }
  const only = segs[0];
  if (segs.length === 1 && only !== undefined && only[2] === length) return devRead(only[1], length);
  const out = Buffer.alloc(length);
  for (const [outOff, devOff, n] of segs) devRead(devOff, n).copy(out, outOff);
  return out;
}
