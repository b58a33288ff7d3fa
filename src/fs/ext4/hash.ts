/**
 * The directory-index (htree) name hashes of ext3/ext4: legacy, half-MD4 and TEA, each in a "signed" and an
 * "unsigned" flavour (whether name bytes were sign-extended as `char` on the machine that built the index; the
 * superblock flags say which). Written from the on-disk format description; all arithmetic is modulo 2^32.
 */

export const DX_HASH_LEGACY = 0;
export const DX_HASH_HALF_MD4 = 1;
export const DX_HASH_TEA = 2;
export const DX_HASH_LEGACY_UNSIGNED = 3;
export const DX_HASH_HALF_MD4_UNSIGNED = 4;
export const DX_HASH_TEA_UNSIGNED = 5;

const TEA_DELTA = 0x9e3779b9;
const MD4_K2 = 0x5a827999;
const MD4_K3 = 0x6ed9eba1;
/** The 32-bit "end of directory" cookie shifted left; a hash equal to it is nudged down. */
const EOF_HASH = 0xfffffffe;

function rol(v: number, s: number): number {
  return ((v << s) | (v >>> (32 - s))) >>> 0;
}

function charAt(name: Uint8Array, i: number, signed: boolean): number {
  const b = name[i] ?? 0;
  return signed ? (b << 24) >> 24 : b;
}

/**
 * Packs up to `num * 4` bytes of `name[from..]` into `num` words, big-endian within each word, padding with a
 * word derived from the remaining length (as the format defines).
 */
function packName(name: Uint8Array, from: number, num: number, signed: boolean): Uint32Array {
  const out = new Uint32Array(num);
  const remaining = name.length - from;
  let pad = (remaining | (remaining << 8)) >>> 0;
  pad = (pad | (pad << 16)) >>> 0;
  let val = pad;
  const len = Math.min(remaining, num * 4);
  let k = 0;
  for (let i = 0; i < len; i++) {
    val = (charAt(name, from + i, signed) + (val << 8)) >>> 0;
    if (i % 4 === 3) {
      out[k++] = val;
      val = pad;
    }
  }
  if (k < num) out[k++] = val;
  while (k < num) out[k++] = pad;
  return out;
}

function teaTransform(buf: Uint32Array, inp: Uint32Array): void {
  let sum = 0;
  let b0 = buf[0]!;
  let b1 = buf[1]!;
  const a = inp[0]!;
  const b = inp[1]!;
  const c = inp[2]!;
  const d = inp[3]!;
  for (let n = 0; n < 16; n++) {
    sum = (sum + TEA_DELTA) >>> 0;
    b0 = (b0 + ((((b1 << 4) + a) ^ (b1 + sum) ^ ((b1 >>> 5) + b)) >>> 0)) >>> 0;
    b1 = (b1 + ((((b0 << 4) + c) ^ (b0 + sum) ^ ((b0 >>> 5) + d)) >>> 0)) >>> 0;
  }
  buf[0] = buf[0]! + b0;
  buf[1] = buf[1]! + b1;
}

const F = (x: number, y: number, z: number): number => z ^ (x & (y ^ z));
const G = (x: number, y: number, z: number): number => (x & y) + ((x ^ y) & z);
const H = (x: number, y: number, z: number): number => x ^ y ^ z;

function halfMd4Transform(buf: Uint32Array, w: Uint32Array): void {
  let a = buf[0]!;
  let b = buf[1]!;
  let c = buf[2]!;
  let d = buf[3]!;
  type Fn = (x: number, y: number, z: number) => number;
  const step = (f: Fn, v: number, x: number, y: number, z: number, m: number, s: number): number =>
    rol((v + f(x, y, z) + m) >>> 0, s);
  const x = (i: number): number => w[i]!;

  a = step(F, a, b, c, d, x(0), 3);
  d = step(F, d, a, b, c, x(1), 7);
  c = step(F, c, d, a, b, x(2), 11);
  b = step(F, b, c, d, a, x(3), 19);
  a = step(F, a, b, c, d, x(4), 3);
  d = step(F, d, a, b, c, x(5), 7);
  c = step(F, c, d, a, b, x(6), 11);
  b = step(F, b, c, d, a, x(7), 19);

  a = step(G, a, b, c, d, (x(1) + MD4_K2) >>> 0, 3);
  d = step(G, d, a, b, c, (x(3) + MD4_K2) >>> 0, 5);
  c = step(G, c, d, a, b, (x(5) + MD4_K2) >>> 0, 9);
  b = step(G, b, c, d, a, (x(7) + MD4_K2) >>> 0, 13);
  a = step(G, a, b, c, d, (x(0) + MD4_K2) >>> 0, 3);
  d = step(G, d, a, b, c, (x(2) + MD4_K2) >>> 0, 5);
  c = step(G, c, d, a, b, (x(4) + MD4_K2) >>> 0, 9);
  b = step(G, b, c, d, a, (x(6) + MD4_K2) >>> 0, 13);

  a = step(H, a, b, c, d, (x(3) + MD4_K3) >>> 0, 3);
  d = step(H, d, a, b, c, (x(7) + MD4_K3) >>> 0, 9);
  c = step(H, c, d, a, b, (x(2) + MD4_K3) >>> 0, 11);
  b = step(H, b, c, d, a, (x(6) + MD4_K3) >>> 0, 15);
  a = step(H, a, b, c, d, (x(1) + MD4_K3) >>> 0, 3);
  d = step(H, d, a, b, c, (x(5) + MD4_K3) >>> 0, 9);
  c = step(H, c, d, a, b, (x(0) + MD4_K3) >>> 0, 11);
  b = step(H, b, c, d, a, (x(4) + MD4_K3) >>> 0, 15);

  buf[0] = buf[0]! + a;
  buf[1] = buf[1]! + b;
  buf[2] = buf[2]! + c;
  buf[3] = buf[3]! + d;
}

function legacyHash(name: Uint8Array, signed: boolean): number {
  let h0 = 0x12a3fe2d;
  let h1 = 0x37abe8f9;
  for (let i = 0; i < name.length; i++) {
    let h = (h1 + ((h0 ^ Math.imul(charAt(name, i, signed), 7152373)) >>> 0)) >>> 0;
    if ((h & 0x80000000) !== 0) h = (h - 0x7fffffff) >>> 0;
    h1 = h0;
    h0 = h;
  }
  return (h0 << 1) >>> 0;
}

/**
 * The major htree hash of `name` for hash `version` (0..5, see the `DX_HASH_*` constants) with the superblock's
 * `seed` (four words; all zero means the default seed). Returns undefined for versions it does not implement
 * (SipHash, used only by encrypted case-folded directories).
 */
export function dxHash(name: Uint8Array, version: number, seed?: ArrayLike<number>): number | undefined {
  const buf = Uint32Array.of(0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476);
  if (seed !== undefined && seed.length >= 4) {
    let nonzero = false;
    for (let i = 0; i < 4; i++) if (seed[i] !== 0) nonzero = true;
    if (nonzero) for (let i = 0; i < 4; i++) buf[i] = seed[i]!;
  }
  let hash: number;
  switch (version) {
    case DX_HASH_LEGACY:
    case DX_HASH_LEGACY_UNSIGNED:
      hash = legacyHash(name, version === DX_HASH_LEGACY);
      break;
    case DX_HASH_HALF_MD4:
    case DX_HASH_HALF_MD4_UNSIGNED: {
      const signed = version === DX_HASH_HALF_MD4;
      for (let p = 0; p < name.length; p += 32) halfMd4Transform(buf, packName(name, p, 8, signed));
      hash = buf[1]!;
      break;
    }
    case DX_HASH_TEA:
    case DX_HASH_TEA_UNSIGNED: {
      const signed = version === DX_HASH_TEA;
      for (let p = 0; p < name.length; p += 16) teaTransform(buf, packName(name, p, 4, signed));
      hash = buf[0]!;
      break;
    }
    default:
      return undefined;
  }
  hash = (hash & ~1) >>> 0;
  if (hash === EOF_HASH) hash = 0xfffffffc;
  return hash;
}
