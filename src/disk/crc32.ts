/**
 * CRC-32 as used by GPT, gzip and zip (reflected polynomial 0xEDB88320, initial value and final XOR 0xFFFFFFFF).
 * Node 20's zlib has no `crc32`, so this is a small nibble-table implementation: two lookups per byte, a 16-entry
 * constant table and no work at import time. Fast enough for partition tables (a few KiB per disk).
 */

/** CRC of each 4-bit value under the reflected polynomial 0xEDB88320. */
const NIBBLE_TABLE: readonly number[] = [
  0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac, 0x76dc4190, 0x6b6b51f4, 0x4db26158, 0x5005713c, 0xedb88320,
  0xf00f9344, 0xd6d6a3e8, 0xcb61b38c, 0x9b64c2b0, 0x86d3d2d4, 0xa00ae278, 0xbdbdf21c,
];

/**
 * Computes the CRC-32 of `data[start, end)`. Pass the previous result as `previous` to continue a running CRC over
 * several buffers (`crc32(b, 0, b.length, crc32(a))` equals the CRC of `a` followed by `b`).
 *
 * @example
 * crc32(Buffer.from('123456789')) === 0xcbf43926
 */
export function crc32(data: Uint8Array, start = 0, end = data.length, previous = 0): number {
  const from = Math.max(0, Math.min(start, data.length));
  const to = Math.max(from, Math.min(end, data.length));
  let crc = ~previous >>> 0;
  for (let i = from; i < to; i++) {
    crc ^= data[i]!;
    crc = (crc >>> 4) ^ NIBBLE_TABLE[crc & 0x0f]!;
    crc = (crc >>> 4) ^ NIBBLE_TABLE[crc & 0x0f]!;
  }
  return ~crc >>> 0;
}
