import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { FileSource } from '../source/file.js';
import { tempDir } from '../../test/helpers/tmp.js';
import { pattern } from '../../test/helpers/pattern.js';
import { overlayPresentSectors, readBacking } from './backing.js';
import { RawDevice } from './raw.js';

describe('readBacking', () => {
  const { dir, cleanup } = tempDir('hyperward-backing-');
  const SIZE = 64 * 1024 + 123;
  let bytes: Buffer;
  let dev: RawDevice;
  before(() => {
    bytes = pattern(SIZE, 0xbac);
    writeFileSync(join(dir, 'parent.raw'), bytes);
    dev = new RawDevice(new FileSource(join(dir, 'parent.raw')));
  });
  after(() => {
    dev.close();
    cleanup();
  });

  it("copies the parent's bytes and zero-fills past its end (and without one)", () => {
    fc.assert(
      fc.property(
        fc.nat({ max: SIZE + 5000 }),
        fc.nat({ max: 20_000 }),
        fc.nat({ max: 64 }),
        (offset, len, at) => {
          const expected = Buffer.alloc(len);
          if (offset < SIZE) bytes.copy(expected, 0, offset, Math.min(SIZE, offset + len));
          const out = Buffer.alloc(at + len + 7, 0xa5);
          readBacking(dev, out, at, offset, len);
          assert.ok(out.subarray(at, at + len).equals(expected), `read(${offset}, ${len})`);
          assert.ok(
            out.subarray(0, at).every((b) => b === 0xa5),
            'bytes before `at` untouched',
          );
          assert.ok(
            out.subarray(at + len).every((b) => b === 0xa5),
            'bytes after the range untouched',
          );
          const none = Buffer.alloc(at + len, 0xa5);
          readBacking(undefined, none, at, offset, len);
          assert.ok(none.subarray(at).equals(Buffer.alloc(len)), 'no parent reads as zeros');
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('overlayPresentSectors', () => {
  it("puts the child's present sectors over the parent's bytes, byte for byte", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(512, 4096),
        fc.array(fc.boolean(), { minLength: 1, maxLength: 40 }),
        fc.nat({ max: 39 * 4096 }),
        fc.nat({ max: 12 * 4096 }),
        fc.nat({ max: 100 }),
        (ss, bits, fromRaw, lenRaw, at) => {
          const blockBytes = bits.length * ss;
          const from = fromRaw % blockBytes;
          const len = Math.min(lenRaw, blockBytes - from);
          const mine = pattern(len, from + 1);
          const parent = pattern(len, from + 2);
          const present = (s: number): boolean => bits[s] === true;
          const out = Buffer.alloc(at + len);
          parent.copy(out, at);
          overlayPresentSectors(out, at, mine, from, ss, present);
          for (let i = 0; i < len; i++) {
            const want = present(Math.floor((from + i) / ss)) ? mine[i] : parent[i];
            if (out[at + i] !== want) assert.fail(`byte ${from + i} of the block (sector size ${ss})`);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
