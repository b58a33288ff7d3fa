/**
 * CRC32C of XFS v5 metadata: the standard CRC-32C of the structure computed with its own CRC field zeroed, stored
 * little-endian (the kernel's `xfs_end_cksum`), unlike every other field of the format.
 */
import { crc32cWithZeroedField } from '../../disk/crc32c.js';

/** True when the CRC stored at `start + crcOffset` matches `buf[start, start + length)`. */
export function hasValidCrc(buf: Buffer, start: number, length: number, crcOffset: number): boolean {
  if (start < 0 || length < crcOffset + 4 || start + length > buf.length) return false;
  const region = buf.subarray(start, start + length);
  return crc32cWithZeroedField(region, crcOffset) === region.readUInt32LE(crcOffset);
}
