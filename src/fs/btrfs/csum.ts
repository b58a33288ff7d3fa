/**
 * btrfs metadata checksums: the superblock and every tree block start with a 32-byte checksum field over the
 * rest of the block. The filesystem picks one algorithm at mkfs time (`csum_type`): crc32c (4 bytes, the
 * default), xxhash64 (8 bytes), sha256 or blake2b-256 (32 bytes). The first three are verified here (crc32c
 * with the project's table, sha256 with node:crypto, xxhash64 below); blake2b-256 is not available in Node's
 * OpenSSL, so blocks of such filesystems are accepted unverified and the reader says so.
 */
import { createHash } from 'node:crypto';
import { crc32c } from '../../disk/crc32c.js';

/** The size of the checksum field at the start of every block. */
export const CSUM_FIELD = 32;

export type CsumName = 'crc32c' | 'xxhash64' | 'sha256' | 'blake2b';

export interface CsumAlgorithm {
  readonly name: CsumName;
  /** Bytes of the field that hold the checksum. */
  readonly size: number;
  /** Whether blocks are really verified (false: accepted as they are). */
  readonly verified: boolean;
  /** Whether the checksum stored at the start of `block` matches the rest of it (true when unverified). */
  check(block: Buffer): boolean;
}

const M64 = (1n << 64n) - 1n;
const P1 = 0x9e3779b185ebca87n;
const P2 = 0xc2b2ae3d27d4eb4fn;
const P3 = 0x165667b19e3779f9n;
const P4 = 0x85ebca77c2b2ae63n;
const P5 = 0x27d4eb2f165667c5n;

const rotl = (x: bigint, r: bigint): bigint => ((x << r) | (x >> (64n - r))) & M64;
const round = (acc: bigint, lane: bigint): bigint => (rotl((acc + lane * P2) & M64, 31n) * P1) & M64;
const merge = (acc: bigint, v: bigint): bigint => ((acc ^ round(0n, v)) * P1 + P4) & M64;

/**
 * XXH64 with seed 0 of `data[start, end)`, as btrfs stores it (the 64-bit value, little-endian). Written from
 * the xxHash specification; BigInt arithmetic keeps it short, and a tree block is hashed once per read.
 */
export function xxhash64(data: Buffer, start = 0, end = data.length): bigint {
  let p = start;
  const len = BigInt(end - start);
  let h: bigint;
  if (end - start >= 32) {
    let v1 = (P1 + P2) & M64;
    let v2 = P2;
    let v3 = 0n;
    let v4 = (0n - P1) & M64;
    while (p + 32 <= end) {
      v1 = round(v1, data.readBigUInt64LE(p));
      v2 = round(v2, data.readBigUInt64LE(p + 8));
      v3 = round(v3, data.readBigUInt64LE(p + 16));
      v4 = round(v4, data.readBigUInt64LE(p + 24));
      p += 32;
    }
    h = (rotl(v1, 1n) + rotl(v2, 7n) + rotl(v3, 12n) + rotl(v4, 18n)) & M64;
    h = merge(h, v1);
    h = merge(h, v2);
    h = merge(h, v3);
    h = merge(h, v4);
  } else {
    h = P5;
  }
  h = (h + len) & M64;
  while (p + 8 <= end) {
    h = (rotl(h ^ round(0n, data.readBigUInt64LE(p)), 27n) * P1 + P4) & M64;
    p += 8;
  }
  if (p + 4 <= end) {
    h = (rotl(h ^ ((BigInt(data.readUInt32LE(p)) * P1) & M64), 23n) * P2 + P3) & M64;
    p += 4;
  }
  while (p < end) {
    h = (rotl(h ^ ((BigInt(data[p]!) * P5) & M64), 11n) * P1) & M64;
    p++;
  }
  h ^= h >> 33n;
  h = (h * P2) & M64;
  h ^= h >> 29n;
  h = (h * P3) & M64;
  h ^= h >> 32n;
  return h;
}

/** The algorithm of `csum_type` (0 crc32c, 1 xxhash64, 2 sha256, 3 blake2b), or undefined for an unknown type. */
export function csumAlgorithm(type: number): CsumAlgorithm | undefined {
  switch (type) {
    case 0:
      return {
        name: 'crc32c',
        size: 4,
        verified: true,
        check: (b) => b.length >= CSUM_FIELD && crc32c(b.subarray(CSUM_FIELD)) === b.readUInt32LE(0),
      };
    case 1:
      return {
        name: 'xxhash64',
        size: 8,
        verified: true,
        check: (b) => b.length >= CSUM_FIELD && xxhash64(b, CSUM_FIELD) === b.readBigUInt64LE(0),
      };
    case 2:
      return {
        name: 'sha256',
        size: 32,
        verified: true,
        check: (b) =>
          b.length >= CSUM_FIELD &&
          createHash('sha256').update(b.subarray(CSUM_FIELD)).digest().equals(b.subarray(0, CSUM_FIELD)),
      };
    case 3:
      return { name: 'blake2b', size: 32, verified: false, check: () => true };
    default:
      return undefined;
  }
}
