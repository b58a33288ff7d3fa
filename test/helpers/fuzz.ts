import assert from 'node:assert/strict';
import fc from 'fast-check';
import { checkRange, type BlockDevice, type DeviceInfo } from '../../src/disk/types.js';
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

/** Runs `fn`, swallowing HyperwardErrors only, so one damaged entry does not end a walk over a mutated image. */
export function attempt<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch (e) {
    if (isHyperwardError(e)) return undefined;
    throw e;
  }
}

/**
 * A real image with byte edits laid over it (and optionally cut short to `size`), counting what is read: more
 * than `maxBytes` bytes or `maxReads` reads throws a plain Error, which fails the property — hostile input must
 * never make a reader do unbounded work.
 */
export class EditedDevice implements BlockDevice {
  readonly format = 'raw';
  private bytes = 0;
  private reads = 0;
  constructor(
    private readonly inner: BlockDevice,
    private readonly edits: ReadonlyMap<number, number>,
    readonly size: number,
    private readonly budget: { maxBytes: number; maxReads: number } = {
      maxBytes: 256 * 1024 * 1024,
      maxReads: 200_000,
    },
  ) {}
  get name(): string {
    return this.inner.name;
  }
  get info(): DeviceInfo {
    return this.inner.info;
  }
  read(offset: number, length: number): Buffer {
    checkRange(this, offset, length);
    this.bytes += length;
    if (++this.reads > this.budget.maxReads || this.bytes > this.budget.maxBytes) {
      throw new Error(`unbounded work: ${this.reads} reads, ${this.bytes} bytes`);
    }
    const b = Buffer.from(this.inner.read(offset, length));
    for (const [o, v] of this.edits) if (o >= offset && o < offset + length) b[o - offset] = v;
    return b;
  }
  close(): void {}
}

/** One OSV range event over `version`s, `introduced: "0"` among them. */
export function osvRangeEvent(
  version: fc.Arbitrary<string>,
): fc.Arbitrary<{ introduced: string } | { fixed: string } | { last_affected: string }> {
  return fc.oneof(
    fc.constant({ introduced: '0' }),
    version.map((v) => ({ introduced: v })),
    version.map((v) => ({ fixed: v })),
    version.map((v) => ({ last_affected: v })),
  );
}
