import assert from 'node:assert/strict';
import type { BlockDevice } from '../../src/disk/types.js';
import { expectError } from './errors.js';

/** Index of the first byte where `a` and `b` differ (the shorter length when one is a prefix of the other). */
export function firstDifference(a: Buffer, b: Buffer): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return n;
}

/** Fails naming the first differing byte (not a megabyte-long diff) when `actual` is not `expected`. */
export function assertBytesEqual(actual: Buffer, expected: Buffer, what: string): void {
  if (!actual.equals(expected)) {
    assert.fail(
      `${what}: differs at byte ${firstDifference(actual, expected)} (lengths ${actual.length}/${expected.length})`,
    );
  }
}

/** `dev.read(offset, length)` equals the same range of `expected`; fails naming the first differing offset. */
export function assertReadEquals(
  dev: BlockDevice,
  expected: Buffer,
  offset: number,
  length: number,
  what: string,
): void {
  const got = dev.read(offset, length);
  const want = expected.subarray(offset, offset + length);
  if (!got.equals(want)) {
    assert.fail(
      `${what}: bytes differ at virtual offset ${offset + firstDifference(got, want)} (read ${offset}+${length})`,
    );
  }
}

/** How `assertReadsMatch` reads a device. */
export interface ReadPlan {
  /** Prefix of failure messages. */
  what?: string;
  /** Also compare one read of the whole device. */
  wholeRead?: boolean;
  /** Size of the sweep's reads; odd sizes make them cross block, cluster and grain boundaries. */
  chunk: number;
  /** Number of reads at random offsets. */
  randomReads: number;
  /** Random integer in `[0, n)`, for the offset then the length of each random read (see pattern.ts). */
  pick: (n: number) => number;
  /** Bound (exclusive) on the length of random read `i`, before it is cut at the end of the device. */
  maxLength: number | ((i: number) => number);
}

/**
 * Every byte read through `dev` equals `expected`: the size, optionally one whole read, a full sweep in
 * `chunk`-sized reads, random reads, an empty read at the end, and a read crossing the end (E_IMAGE_CORRUPT).
 */
export function assertReadsMatch(dev: BlockDevice, expected: Buffer, plan: ReadPlan): void {
  const what = plan.what ?? dev.name;
  const size = expected.length;
  assert.equal(dev.size, size, `${what}: size`);
  if (plan.wholeRead === true) assertReadEquals(dev, expected, 0, size, `${what} (one read)`);
  for (let off = 0; off < size; off += plan.chunk) {
    assertReadEquals(dev, expected, off, Math.min(plan.chunk, size - off), `${what} (sweep)`);
  }
  if (size > 0) {
    for (let i = 0; i < plan.randomReads; i++) {
      const off = plan.pick(size);
      const max = typeof plan.maxLength === 'number' ? plan.maxLength : plan.maxLength(i);
      const len = Math.min(size - off, plan.pick(max));
      assertReadEquals(dev, expected, off, len, `${what} (random)`);
    }
  }
  assert.equal(dev.read(size, 0).length, 0, `${what}: empty read at the end`);
  if (size > 0) expectError(() => dev.read(size - 1, 2), 'E_IMAGE_CORRUPT');
}
