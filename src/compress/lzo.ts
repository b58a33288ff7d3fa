/**
 * LZO1X decompression (the original bitstream, version 0), written from the description of the stream format
 * in the Linux kernel's `Documentation/staging/lzo.rst`. btrfs compresses each sector of an extent with
 * `lzo1x_1_compress`, and `lzop` writes the same bitstream in its blocks; every LZO1X compressor level (1, 1_15,
 * 999) produces streams this decoder reads.
 *
 * The decoder is "safe" in the kernel's sense: it never reads past the input, never writes more than the
 * caller's bound, never copies from before the start of the output, and each instruction consumes input, so
 * its work is linear in the input and output sizes whatever the bytes say.
 */
import { HyperwardError, type ErrorCode, type ErrorLocation } from '../errors.js';

/** Options of {@link lzo1xDecompress}. */
export interface LzoOptions {
  /** Most bytes the stream may produce; a stream that would write more is refused. */
  maxOutput: number;
  /** Error code thrown for a bad stream (default E_IMAGE_CORRUPT); filesystems pass E_FS_CORRUPT. */
  code?: ErrorCode;
  /** Where the stream came from, for the error's location; `offset` is the stream's start. */
  location?: ErrorLocation;
}

/** The end-of-stream marker: a far copy (instruction 0001HLLL) whose distance is exactly this. */
const EOS_DISTANCE = 16384;

/**
 * Decompresses one complete LZO1X stream (ending in its end-of-stream marker, with no bytes after it) and
 * returns the bytes it produced (at most `maxOutput`).
 *
 * @throws HyperwardError (`options.code`, default E_IMAGE_CORRUPT) when the stream is truncated, refers to data
 *   before the start of the output, would produce more than `maxOutput` bytes, or has bytes after its end.
 *
 * @example
 * const page = lzo1xDecompress(segment, { maxOutput: 4096, code: 'E_FS_CORRUPT' });
 */
export function lzo1xDecompress(input: Uint8Array, options: LzoOptions): Buffer {
  const { maxOutput } = options;
  if (!Number.isSafeInteger(maxOutput) || maxOutput < 0) {
    throw new HyperwardError('E_USAGE', `LZO output bound ${maxOutput} is not a non-negative integer`);
  }
  const base = options.location?.offset;
  const fail = (message: string, at: number): HyperwardError =>
    new HyperwardError(options.code ?? 'E_IMAGE_CORRUPT', `LZO1X stream: ${message}`, {
      ...options.location,
      layer: options.location?.layer ?? 'LZO1X stream',
      ...(base !== undefined ? { offset: base + at } : {}),
    });
  const len = input.length;
  const out = Buffer.alloc(maxOutput);
  let ip = 0;
  let op = 0;

  const need = (n: number): void => {
    if (ip + n > len) throw fail(`truncated: ${n} more input bytes needed at ${ip} of ${len}`, ip);
  };
  const literals = (n: number): void => {
    need(n);
    if (op + n > maxOutput) throw fail(`output would exceed ${maxOutput} bytes`, ip);
    for (let i = 0; i < n; i++) out[op + i] = input[ip + i]!;
    ip += n;
    op += n;
  };
  const copy = (distance: number, n: number, at: number): void => {
    if (distance > op) throw fail(`copy from ${distance} bytes back with only ${op} bytes written`, at);
    if (op + n > maxOutput) throw fail(`output would exceed ${maxOutput} bytes`, at);
    // Byte by byte: the source may overlap the bytes being written (a run).
    let from = op - distance;
    for (let i = 0; i < n; i++) out[op++] = out[from++]!;
  };
  /**
   * A length whose operand bits were all zero: `mask`, plus 255 for each zero byte that follows, plus the
   * first non-zero byte. Bounded by the input (each zero byte is consumed) and by the output bound.
   */
  const longLength = (mask: number): number => {
    let n = mask;
    for (;;) {
      need(1);
      const b = input[ip++]!;
      if (b !== 0) return n + b;
      n += 255;
      if (n > maxOutput) throw fail(`length runs past the output bound of ${maxOutput} bytes`, ip);
    }
  };

  // Literals copied by the previous instruction: 0, 1..3, or 4 for "4 or more" (a literal run).
  let state = 0;
  need(1);
  const first = input[0]!;
  if (first > 17) {
    ip = 1;
    const n = first - 17;
    literals(n);
    state = n < 4 ? n : 4;
  }
  for (;;) {
    const at = ip;
    need(1);
    const inst = input[ip++]!;
    let distance: number;
    let n: number;
    let trailing: number;
    if (inst < 16) {
      if (state === 0) {
        // 0000LLLL after no literals: a run of 4 or more literals.
        literals((inst === 0 ? longLength(15) : inst) + 3);
        state = 4;
        continue;
      }
      need(1);
      const h = input[ip++]!;
      trailing = inst & 3;
      if (state < 4) {
        // 0000DDSS after 1..3 literals: two bytes from within 1 KiB.
        distance = (h << 2) + (inst >> 2) + 1;
        n = 2;
      } else {
        // 0000DDSS after a literal run: three bytes from 2..3 KiB back.
        distance = (h << 2) + (inst >> 2) + 2049;
        n = 3;
      }
    } else if (inst < 32) {
      // 0001HLLL: a far copy (16..48 KiB), or the end of the stream.
      n = ((inst & 7) === 0 ? longLength(7) : inst & 7) + 2;
      need(2);
      const v = input[ip]! | (input[ip + 1]! << 8);
      ip += 2;
      distance = EOS_DISTANCE + ((inst & 8) << 11) + (v >> 2);
      trailing = v & 3;
      if (distance === EOS_DISTANCE) {
        if (ip !== len) throw fail(`${len - ip} bytes after the end-of-stream marker`, ip);
        return Buffer.from(out.subarray(0, op));
      }
    } else if (inst < 64) {
      // 001LLLLL: a copy from within 16 KiB.
      n = ((inst & 31) === 0 ? longLength(31) : inst & 31) + 2;
      need(2);
      const v = input[ip]! | (input[ip + 1]! << 8);
      ip += 2;
      distance = (v >> 2) + 1;
      trailing = v & 3;
    } else {
      // 01LDDDSS (3-4 bytes) or 1LLDDDSS (5-8 bytes) from within 2 KiB.
      need(1);
      const h = input[ip++]!;
      n = inst < 128 ? 3 + ((inst >> 5) & 1) : 5 + ((inst >> 5) & 3);
      distance = (h << 3) + ((inst >> 2) & 7) + 1;
      trailing = inst & 3;
    }
    copy(distance, n, at);
    literals(trailing);
    state = trailing;
  }
}
