import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isHyperwardError } from '../../src/errors.js';

/**
 * Runs `fn` and passes if it returns or throws a `HyperwardError`; any other exception (TypeError, RangeError,
 * a stack overflow) fails the property — hostile input must never crash a parser.
 */
export function onlyHyperwardErrors(fn: () => void): void {
  try {
    fn();
  } catch (e) {
    if (isHyperwardError(e)) return;
    assert.fail(`expected a HyperwardError, got ${(e as Error)?.stack ?? String(e)}`);
  }
}

/** A list of byte edits (offset within `[0, size)`, new value) to apply to a copy of a real image. */
export function byteEdits(size: number, maxEdits = 16): fc.Arbitrary<Array<[number, number]>> {
  return fc.array(fc.tuple(fc.nat({ max: size - 1 }), fc.nat({ max: 255 })), {
    minLength: 1,
    maxLength: maxEdits,
  });
}

/** Edits that land in `[from, to)` — use it to aim at headers and tables, where bugs live. */
export function byteEditsIn(from: number, to: number, maxEdits = 16): fc.Arbitrary<Array<[number, number]>> {
  return fc.array(fc.tuple(fc.integer({ min: from, max: to - 1 }), fc.nat({ max: 255 })), {
    minLength: 1,
    maxLength: maxEdits,
  });
}

export function applyEdits(buf: Buffer, edits: ReadonlyArray<readonly [number, number]>): Buffer {
  const out = Buffer.from(buf);
  for (const [off, val] of edits) if (off < out.length) out[off] = val;
  return out;
}
