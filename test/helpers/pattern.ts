/**
 * Deterministic (seeded) pseudo-random streams and byte patterns for tests: the same seed gives the same bytes on
 * every run, so a failure names an offset that can be replayed.
 */

/** mulberry32: a stream of uint32 values from a 32-bit seed. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** xorshift32: a stream of non-zero uint32 values (a zero seed counts as 1). */
export function xorshift32(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

/** A uint32 stream as random integers in `[0, n)`, by remainder: `next() % n`. */
export function modPicker(next: () => number): (n: number) => number {
  return (n) => next() % n;
}

/** A uint32 stream as random integers in `[0, n)`, by scaling: `floor(next() / 2^32 * n)`. */
export function scalePicker(next: () => number): (n: number) => number {
  return (n) => Math.floor((next() / 0x1_0000_0000) * n);
}

/**
 * `length` bytes of little-endian 32-bit words from `next`. When `length` is not a multiple of 4, the last word
 * is written at `length - 4`, over the end of the previous one.
 */
export function randomWords(length: number, next: () => number): Buffer {
  const b = Buffer.alloc(length);
  if (length < 4) {
    const w = Buffer.alloc(4);
    w.writeUInt32LE(next());
    w.copy(b, 0, 0, length);
    return b;
  }
  for (let i = 0; i < length; i += 4) b.writeUInt32LE(next(), Math.min(i, length - 4));
  return b;
}

/** Incompressible test data: `length` bytes of mulberry32 words from `seed`. */
export function pattern(length: number, seed: number): Buffer {
  return randomWords(length, mulberry32(seed));
}
