import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { expectError } from '../../test/helpers/errors.js';
import { tempDir } from '../../test/helpers/tmp.js';
import { FileSource, newReadStats } from '../source/file.js';
import { MemberSource } from './member-source.js';

describe('MemberSource', () => {
  const t = tempDir('hw-member-');
  const file = join(t.dir, 'archive.bin');
  const data = Buffer.alloc(10_000);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7 + (i >> 8)) & 0xff;
  before(() => writeFileSync(file, data));
  after(() => t.cleanup());

  it('is a FileSource whose bytes are the joined ranges', () => {
    const stats = newReadStats();
    const src = new MemberSource(file, 'archive.bin!m', [{ offset: 512, length: 1000 }], stats);
    try {
      assert.ok(src instanceof FileSource);
      assert.equal(src.size, 1000);
      assert.equal(src.path, 'archive.bin!m');
      assert.deepEqual(src.read(0, 1000), data.subarray(512, 1512));
      assert.deepEqual(src.read(990, 10), data.subarray(1502, 1512));
      assert.equal(stats.bytesRead, 1010);
      expectError(() => src.read(995, 10, 'probe'), 'E_IMAGE_CORRUPT', { layer: /probe/ });
      expectError(() => src.read(-1, 1), 'E_IMAGE_CORRUPT');
    } finally {
      src.close();
    }
    src.close(); // idempotent
    expectError(() => src.read(0, 1), 'E_INTERNAL');
  });

  it('any read of several ranges equals the same read of their concatenation', () => {
    const range = fc.record({ offset: fc.nat({ max: 9000 }), length: fc.nat({ max: 1000 }) });
    fc.assert(
      fc.property(fc.array(range, { minLength: 1, maxLength: 6 }), fc.nat(), fc.nat(), (ranges, a, b) => {
        const joined = Buffer.concat(ranges.map((r) => data.subarray(r.offset, r.offset + r.length)));
        const src = new MemberSource(file, 'm', ranges);
        try {
          assert.equal(src.size, joined.length);
          const off = joined.length === 0 ? 0 : a % (joined.length + 1);
          const len = b % (joined.length - off + 1);
          assert.deepEqual(src.read(off, len), joined.subarray(off, off + len));
        } finally {
          src.close();
        }
      }),
      { numRuns: 200 },
    );
  });

  it('refuses ranges outside the file', () => {
    expectError(() => new MemberSource(file, 'm', [{ offset: 9_999, length: 2 }]), 'E_IMAGE_CORRUPT', {
      layer: /archive member/,
    });
    expectError(() => new MemberSource(file, 'm', [{ offset: -1, length: 2 }]), 'E_IMAGE_CORRUPT');
    expectError(() => new MemberSource(join(t.dir, 'nope'), 'm', []), 'E_NOT_FOUND');
  });
});
