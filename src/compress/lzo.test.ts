import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import fc from 'fast-check';
import { errorCode, expectError } from '../../test/helpers/errors.js';
import { onlyHyperwardErrors } from '../../test/helpers/fuzz.js';
import { xorshift32 } from '../../test/helpers/pattern.js';
import { run, tempDir } from '../../test/helpers/tmp.js';
import { lzo1xDecompress } from './lzo.js';

/** One block of an lzop file: its uncompressed size and its LZO1X stream (or stored bytes). */
interface LzopBlock {
  size: number;
  data: Buffer;
  stored: boolean;
}

/**
 * Splits an lzop file into its blocks (lzop's own container: a header, then per block the uncompressed and
 * compressed sizes, checksums, and the LZO1X-compressed bytes; a block that would not shrink is stored).
 */
function lzopBlocks(file: Buffer): LzopBlock[] {
  const magic = Buffer.from([0x89, 0x4c, 0x5a, 0x4f, 0x00, 0x0d, 0x0a, 0x1a, 0x0a]);
  assert.ok(file.subarray(0, 9).equals(magic), 'lzop magic');
  let p = 9;
  const version = file.readUInt16BE(p);
  p += 4; // version, library version
  if (version >= 0x0940) p += 2; // version needed to extract
  p += 1; // method
  if (version >= 0x0940) p += 1; // level
  const flags = file.readUInt32BE(p);
  p += 4;
  if ((flags & 0x800) !== 0) p += 4; // filter
  p += 8; // mode, mtime low
  if (version >= 0x0940) p += 4; // mtime high
  p += 1 + file[p]! + 4; // name, header checksum
  const blocks: LzopBlock[] = [];
  for (;;) {
    const size = file.readUInt32BE(p);
    p += 4;
    if (size === 0) break;
    const csize = file.readUInt32BE(p);
    p += 4;
    if ((flags & 0x1) !== 0) p += 4; // adler32 of the uncompressed data
    if ((flags & 0x100) !== 0) p += 4; // crc32 of the uncompressed data
    if (csize < size) {
      if ((flags & 0x2) !== 0) p += 4;
      if ((flags & 0x200) !== 0) p += 4;
    }
    blocks.push({ size, data: file.subarray(p, p + csize), stored: csize === size });
    p += csize;
  }
  return blocks;
}

/** Data with long and short repeats, runs and incompressible stretches: every kind of match gets used. */
function mixedData(): Buffer {
  const next = xorshift32(17);
  const parts: Buffer[] = [];
  const words = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot'];
  let s = '';
  for (let i = 0; i < 30000; i++) s += `${i % 977} ${words[next() % 6]} ${words[next() % 6]}\n`;
  parts.push(Buffer.from(s));
  const rnd = Buffer.alloc(100_000);
  for (let i = 0; i < rnd.length; i++) rnd[i] = next() & 0xff;
  parts.push(rnd, Buffer.alloc(70_000, 0x41), rnd.subarray(0, 50_000), Buffer.from(s.slice(0, 200_000)));
  // Short periodic patterns: overlapping copies at distances 1..8.
  for (let period = 1; period <= 8; period++) {
    const b = Buffer.alloc(5000);
    for (let i = 0; i < b.length; i++) b[i] = (i % period) * 37;
    parts.push(b);
  }
  return Buffer.concat(parts);
}

describe('LZO1X decompression against lzop', () => {
  let tmp: { dir: string; cleanup: () => void };
  let want: Buffer;
  const streams: Buffer[] = [];
  let missing: string | undefined;

  before(() => {
    tmp = tempDir('hyperward-lzo-');
    want = mixedData();
    writeFileSync(join(tmp.dir, 'data'), want);
    if (spawnSync('lzop', ['--version']).status !== 0) missing = 'lzop is not installed';
  });
  after(() => tmp.cleanup());

  const skip = (t: TestContext): boolean => {
    if (missing === undefined) return false;
    t.skip(missing);
    return true;
  };

  // lzop -1..-6 use LZO1X-1 (two flavours), -7..-9 LZO1X-999, which emits every match form.
  for (const level of [1, 3, 7, 9]) {
    it(`decodes lzop -${level} blocks to the original bytes`, (t) => {
      if (skip(t)) return;
      const out = join(tmp.dir, `data.${level}.lzo`);
      run('lzop', [`-${level}`, '-f', '-o', out, join(tmp.dir, 'data')]);
      const blocks = lzopBlocks(readFileSync(out));
      assert.ok(blocks.filter((b) => !b.stored).length >= 2, 'compressed blocks');
      const got = Buffer.concat(
        blocks.map((b) => (b.stored ? b.data : lzo1xDecompress(b.data, { maxOutput: b.size }))),
      );
      assert.ok(got.equals(want), `lzop -${level}`);
      for (const b of blocks) if (!b.stored) streams.push(Buffer.from(b.data));
    });
  }

  it('decodes the smallest stream the format allows: literals, then the end marker', () => {
    // First byte 17 + n copies n literals; 0x11 0x00 0x00 is a far copy of distance 16384: the end.
    const s = Buffer.from([17 + 3, 0x61, 0x62, 0x63, 0x11, 0x00, 0x00]);
    assert.equal(lzo1xDecompress(s, { maxOutput: 3 }).toString(), 'abc');
  });

  it('refuses truncation, trailing bytes, output past the bound, and references before the start', (t) => {
    if (skip(t)) return;
    const s = streams[0]!;
    const size = lzo1xDecompress(s, { maxOutput: 1 << 20 }).length;
    for (const cut of [1, 2, 3, 10, Math.floor(s.length / 2)]) {
      expectError(
        () => lzo1xDecompress(s.subarray(0, s.length - cut), { maxOutput: size }),
        'E_IMAGE_CORRUPT',
      );
    }
    expectError(
      () => lzo1xDecompress(Buffer.concat([s, Buffer.from([0])]), { maxOutput: size }),
      'E_IMAGE_CORRUPT',
      /after the end-of-stream marker/,
    );
    expectError(
      () =>
        lzo1xDecompress(s, {
          maxOutput: size - 1,
          code: 'E_FS_CORRUPT',
          location: { file: 'x', offset: 100 },
        }),
      'E_FS_CORRUPT',
      /exceed/,
    );
    // After 1 literal, 0000DDSS + H copies 2 bytes from (H << 2) + D + 1 back: D = 0 is the literal itself,
    // D = 1 (0x04) is before the start of the output.
    assert.equal(
      lzo1xDecompress(Buffer.from([18, 0x61, 0x00, 0x00, 0x11, 0, 0]), { maxOutput: 10 }).toString(),
      'aaa',
    );
    expectError(
      () => lzo1xDecompress(Buffer.from([18, 0x61, 0x04, 0x00, 0x11, 0, 0]), { maxOutput: 10 }),
      'E_IMAGE_CORRUPT',
      /copy from 2 bytes back/,
    );
    assert.equal(
      errorCode(() => lzo1xDecompress(Buffer.alloc(0), { maxOutput: 10 })),
      'E_IMAGE_CORRUPT',
    );
  });

  it('survives random and mutated streams with only HyperwardErrors and bounded output (fast-check)', (t) => {
    if (skip(t)) return;
    const base = streams.slice(0, 4);
    const bound = 300_000;
    const check = (input: Buffer): void =>
      onlyHyperwardErrors(() => {
        const out = lzo1xDecompress(input, { maxOutput: bound });
        assert.ok(out.length <= bound);
      });
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 4096 }), (bytes) => check(Buffer.from(bytes))),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: base.length - 1 }),
        fc.array(fc.tuple(fc.nat(), fc.nat({ max: 255 })), { minLength: 1, maxLength: 8 }),
        fc.option(fc.nat(), { nil: undefined }),
        (i, edits, cut) => {
          const s = Buffer.from(base[i]!);
          for (const [off, v] of edits) s[off % s.length] = v;
          check(cut === undefined ? s : s.subarray(0, cut % (s.length + 1)));
        },
      ),
      { numRuns: 300 },
    );
  });
});
