/** Seeded randomness for the benchmark corpora: the same seed gives the same corpus on every machine. */
import { createHash } from 'node:crypto';

/** A seeded PRNG (32-bit state, xorshift-multiply) returning floats in [0, 1). */
export function prng(seed: string): () => number {
  let s = createHash('sha256').update(seed).digest().readUInt32LE(0) || 1;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

export interface Rng {
  next: () => number;
  chance: (p: number) => boolean;
  int: (lo: number, hi: number) => number;
  pick: <T>(xs: readonly T[]) => T;
  hex: (n: number) => string;
}

/** Helpers over a PRNG: a coin with probability `p`, an integer in `[lo, hi]`, an element, hex digits. */
export function rngFrom(next: () => number): Rng {
  const int = (lo: number, hi: number): number => lo + Math.floor(next() * (hi - lo + 1));
  return {
    next,
    chance: (p) => next() < p,
    int,
    pick: <T>(xs: readonly T[]): T => xs[int(0, xs.length - 1)]!,
    hex: (n) => {
      let s = '';
      for (let i = 0; i < n; i++) s += int(0, 15).toString(16);
      return s;
    },
  };
}
