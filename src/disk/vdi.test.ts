import assert from 'node:assert/strict';
import { closeSync, openSync, readFileSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { isHyperwardError } from '../errors.js';
import { newReadStats } from '../source/file.js';
import { byteEditsIn, onlyHyperwardErrors } from '../../test/helpers/fuzz.js';
import { run, tempDir } from '../../test/helpers/tmp.js';
import { assertReadsMatch } from '../../test/helpers/compare.js';
import { expectError } from '../../test/helpers/errors.js';
import { qemuConvert, qemuInfo, qemuMap, qemuToRaw, withImage } from '../../test/helpers/images.js';
import { randomWords, scalePicker, xorshift32 } from '../../test/helpers/pattern.js';
import { openImage } from './open.js';
import { readPartitions } from './partition/index.js';
import { VdiDevice } from './vdi.js';

const MiB = 1024 * 1024;
/** Not a multiple of the 1 MiB VDI block: the last block is partial. */
const RAW_SIZE = 9 * MiB + 3 * 512;

/** Deterministic pseudo-random bytes (xorshift32) with zero regions: whole blocks, partial blocks, the tail. */
function pattern(size: number, seed: number): Buffer {
  const buf = randomWords(size, xorshift32(seed));
  const zero = (from: number, to: number): void => void buf.fill(0, from, Math.min(to, size));
  zero(2 * MiB, 3 * MiB); // a whole block: unallocated in the dynamic image
  zero(5 * MiB - 4096, 6 * MiB + 100); // a whole block plus edges of its neighbours
  zero(3.5 * MiB, 3.5 * MiB + 10_000); // inside an allocated block
  zero(8 * MiB + 7, 8 * MiB + 512); // small hole
  return buf;
}

/** Sweeps the whole device in odd-sized chunks (crossing block boundaries) and compares with `expected`. */
function assertSameBytes(path: string, expected: Buffer): void {
  withImage(path, (dev) => {
    assertReadsMatch(dev, expected, {
      chunk: 700_001,
      randomReads: 200,
      pick: scalePicker(xorshift32(42)),
      maxLength: 3 * MiB,
    });
    expectError(() => dev.read(expected.length - 10, 11), 'E_IMAGE_CORRUPT');
  });
}

/** Applies byte edits to a file in place, runs `fn`, then restores the original bytes. */
function withEdits(
  path: string,
  orig: Buffer,
  edits: ReadonlyArray<readonly [number, number]>,
  fn: () => void,
): void {
  const fd = openSync(path, 'r+');
  try {
    for (const [off, val] of edits) writeSync(fd, Buffer.from([val]), 0, 1, off);
    fn();
  } finally {
    for (const [off] of edits) writeSync(fd, orig, off, 1, off);
    closeSync(fd);
  }
}

/** Truncates a file to `len`, runs `fn`, then restores it. */
function withTruncation(path: string, orig: Buffer, len: number, fn: () => void): void {
  truncateSync(path, len);
  try {
    fn();
  } finally {
    const fd = openSync(path, 'r+');
    try {
      writeSync(fd, orig, len, orig.length - len, len);
    } finally {
      closeSync(fd);
    }
  }
}

/** Opens the image and reads a little of every block plus one spanning read; errors must be HyperwardErrors. */
function exercise(path: string): void {
  const dev = openImage(path);
  try {
    const blocks = Math.ceil(dev.size / MiB);
    for (let b = 0; b < Math.min(blocks, 64); b++) {
      const off = b * MiB;
      try {
        dev.read(off, Math.min(4096, dev.size - off));
      } catch (e) {
        if (!isHyperwardError(e)) throw e;
      }
    }
    if (dev.size > 0) dev.read(0, Math.min(dev.size, 3 * MiB + 5));
  } finally {
    dev.close();
  }
}

describe('VDI reader', () => {
  let dir: string;
  let cleanup: () => void;
  let raw: Buffer;
  let rawPath: string;
  let dynPath: string;
  let staticPath: string;
  let dyn: Buffer;

  before(() => {
    ({ dir, cleanup } = tempDir('hyperward-vdi-'));
    raw = pattern(RAW_SIZE, 0x5eed);
    rawPath = join(dir, 'disk.raw');
    writeFileSync(rawPath, raw);
    dynPath = join(dir, 'dynamic.vdi');
    staticPath = join(dir, 'static.vdi');
    qemuConvert(rawPath, dynPath, 'vdi', { from: 'raw' });
    qemuConvert(rawPath, staticPath, 'vdi', { from: 'raw', options: 'static=on' });
    dyn = readFileSync(dynPath);
  });
  after(() => cleanup());

  test('dynamic image: every byte equals the raw source, size from qemu-img info', () => {
    const info = qemuInfo<{ 'virtual-size': number }>(dynPath);
    const dev = openImage(dynPath);
    assert.equal(dev.format, 'vdi');
    assert.equal(dev.size, info['virtual-size']);
    assert.equal(dev.info.subformat, 'dynamic');
    assert.deepEqual(dev.info.files, [dynPath]);
    dev.close();
    assertSameBytes(dynPath, raw);
  });

  test('static image: every byte equals the raw source', () => {
    const dev = openImage(staticPath);
    assert.equal(dev.info.subformat, 'fixed');
    dev.close();
    assertSameBytes(staticPath, raw);
  });

  test('block allocation and host offsets match qemu-img map', () => {
    for (const path of [dynPath, staticPath]) {
      const map = qemuMap(path);
      const dev = openImage(path);
      assert.ok(dev instanceof VdiDevice);
      const blocks = Math.ceil(dev.size / MiB);
      for (let b = 0; b < blocks; b++) {
        const ext = map.find((m) => m.start <= b * MiB && b * MiB < m.start + m.length);
        assert.ok(ext, `qemu-img map covers block ${b}`);
        const host: number | undefined = dev.hostOffset(b);
        if (ext.data) {
          assert.equal(host, ext.offset! + (b * MiB - ext.start), `${path} block ${b}`);
        } else {
          assert.equal(host, undefined, `${path} block ${b} is not allocated`);
        }
      }
      dev.close();
    }
    // The pattern has whole zero blocks, so the dynamic image must leave some unallocated.
    const dynMap = qemuMap(dynPath);
    assert.ok(dynMap.some((m) => !m.data));
  });

  test('contiguous blocks are read with one system call (static image, whole disk)', () => {
    const stats = newReadStats();
    const dev = openImage(staticPath, { stats });
    const before = stats.reads;
    const all = dev.read(0, dev.size);
    const reads = stats.reads - before;
    assert.ok(all.equals(raw));
    // Block map page + the data; far fewer than the 10 blocks.
    assert.ok(reads <= 3, `${reads} reads`);
    dev.close();
  });

  test('zero-block markers and aliased blocks read like qemu does', () => {
    const path = join(dir, 'marked.vdi');
    const img = Buffer.from(dyn);
    const offBlocks = img.readUInt32LE(0x154);
    const e0 = img.readUInt32LE(offBlocks);
    const e1 = img.readUInt32LE(offBlocks + 4);
    assert.ok(e0 < 0xfffffffe && e1 < 0xfffffffe, 'blocks 0 and 1 are allocated');
    img.writeUInt32LE(0xfffffffe, offBlocks); // block 0: zero block
    img.writeUInt32LE(e1, offBlocks + 3 * 4); // block 3 aliases block 1's data
    writeFileSync(path, img);
    const oracle = join(dir, 'marked.raw');
    const expected = qemuToRaw(path, oracle, { from: 'vdi' });
    assert.ok(expected.subarray(0, MiB).equals(Buffer.alloc(MiB)));
    assertSameBytes(path, expected);
  });

  test('blocks with extra data (cbBlockExtra) are skipped over: the static image re-laid out reads the same', () => {
    // qemu cannot write block extra data, so re-lay the static image: 512 bytes of junk before every block.
    const st = readFileSync(staticPath);
    const offBlocks = st.readUInt32LE(0x154);
    const offData = st.readUInt32LE(0x158);
    const blocks = st.readUInt32LE(0x180);
    const extra = 512;
    const head = Buffer.from(st.subarray(0, offData));
    head.writeUInt32LE(extra, 0x17c);
    const parts: Buffer[] = [head];
    for (let b = 0; b < blocks; b++) {
      const idx = st.readUInt32LE(offBlocks + 4 * b);
      parts.push(Buffer.alloc(extra, 0xee), st.subarray(offData + idx * MiB, offData + (idx + 1) * MiB));
    }
    const path = join(dir, 'extra.vdi');
    writeFileSync(path, Buffer.concat(parts));
    assertSameBytes(path, raw);
  });

  test('a GPT disk inside a VDI gives the same partitions as the raw disk', () => {
    const gptRaw = join(dir, 'gpt.raw');
    writeFileSync(gptRaw, Buffer.alloc(0));
    truncateSync(gptRaw, 8 * MiB);
    run('sgdisk', [
      '-n',
      '1:2048:+2M',
      '-t',
      '1:8300',
      '-c',
      '1:root',
      '-n',
      '2:0:0',
      '-t',
      '2:8200',
      gptRaw,
    ]);
    const gptVdi = join(dir, 'gpt.vdi');
    qemuConvert(gptRaw, gptVdi, 'vdi', { from: 'raw' });
    const strip = (path: string): unknown => {
      const dev = openImage(path);
      try {
        const t = readPartitions(dev);
        return { ...t, partitions: t.partitions.map((p) => ({ ...p, device: p.device.read(0, 512) })) };
      } finally {
        dev.close();
      }
    };
    const fromVdi = strip(gptVdi) as { scheme: string; partitions: unknown[] };
    assert.equal(fromVdi.scheme, 'gpt');
    assert.equal(fromVdi.partitions.length, 2);
    assert.deepEqual(fromVdi, strip(gptRaw));
  });

  test('differencing and undo images are refused, naming the parent UUID', () => {
    const path = join(dir, 'diff.vdi');
    const parent = '0c1d2e3f-4a5b-4c6d-8e9f-a0b1c2d3e4f5';
    const hex = parent.replace(/-/g, '');
    const bytes = Buffer.from(hex, 'hex');
    // Mixed-endian layout: the first three fields little-endian.
    const le = Buffer.concat([
      Buffer.from(bytes.subarray(0, 4)).reverse(),
      Buffer.from(bytes.subarray(4, 6)).reverse(),
      Buffer.from(bytes.subarray(6, 8)).reverse(),
      bytes.subarray(8),
    ]);
    for (const [type, word] of [
      [4, 'differencing'],
      [3, 'undo'],
    ] as const) {
      const img = Buffer.from(dyn.subarray(0, 0x400));
      img.writeUInt32LE(type, 0x4c);
      le.copy(img, 0x1a8);
      writeFileSync(path, Buffer.concat([img, dyn.subarray(0x400)]));
      const e = expectError(() => openImage(path), 'E_UNSUPPORTED_FORMAT', new RegExp(`${word}.*${parent}`));
      assert.equal(e.location.file, path);
      assert.equal(e.location.layer, 'VDI header');
    }
  });

  test('header validation: version, type, block size, disk size, map and data offsets', () => {
    const path = join(dir, 'bad.vdi');
    const cases: Array<{ at: number; value: number; code: string; match: RegExp; size?: 8 }> = [
      { at: 0x44, value: 0x00000001, code: 'E_UNSUPPORTED_FORMAT', match: /version 0\.1/ },
      { at: 0x44, value: 0x00020000, code: 'E_UNSUPPORTED_FORMAT', match: /version 2\.0/ },
      { at: 0x48, value: 0x10, code: 'E_IMAGE_CORRUPT', match: /header size/ },
      { at: 0x4c, value: 9, code: 'E_UNSUPPORTED_FORMAT', match: /image type 9/ },
      { at: 0x178, value: 3 * MiB, code: 'E_IMAGE_CORRUPT', match: /block size/ },
      { at: 0x178, value: 256, code: 'E_IMAGE_CORRUPT', match: /block size/ },
      { at: 0x178, value: 0x80000000, code: 'E_IMAGE_CORRUPT', match: /block size/ },
      { at: 0x17c, value: 0x7fffffff, code: 'E_IMAGE_CORRUPT', match: /extra/ },
      { at: 0x180, value: 2, code: 'E_IMAGE_CORRUPT', match: /cannot hold/ },
      { at: 0x184, value: 0xffffffff, code: 'E_IMAGE_CORRUPT', match: /allocated/ },
      { at: 0x154, value: 0x10, code: 'E_IMAGE_CORRUPT', match: /overlaps the header/ },
      { at: 0x154, value: 0xfffffff0, code: 'E_IMAGE_CORRUPT', match: /past the end/ },
      { at: 0x158, value: 0x204, code: 'E_IMAGE_CORRUPT', match: /overlaps the block map/ },
      { at: 0x158, value: 0xfffffff0, code: 'E_IMAGE_CORRUPT', match: /past the end/ },
      { at: 0x170, value: 2 ** 60, code: 'E_IMAGE_CORRUPT', match: /cannot hold|out of range/, size: 8 },
      { at: 0x170, value: 2 ** 54, code: 'E_IMAGE_CORRUPT', match: /out of range/, size: 8 },
    ];
    for (const c of cases) {
      const img = Buffer.from(dyn);
      if (c.size === 8) img.writeBigUInt64LE(BigInt(c.value), c.at);
      else img.writeUInt32LE(c.value, c.at);
      writeFileSync(path, img);
      const e = expectError(() => openImage(path), c.code, c.match);
      assert.equal(e.location.file, path);
      assert.equal(e.location.offset, c.at, e.message);
    }
  });

  test('a block map entry past the end of the file is an error naming the block map entry', () => {
    const path = join(dir, 'past.vdi');
    const img = Buffer.from(dyn);
    const offBlocks = img.readUInt32LE(0x154);
    img.writeUInt32LE(1000, offBlocks + 4);
    writeFileSync(path, img);
    const dev = openImage(path);
    try {
      assert.ok(dev.read(0, 4096).equals(raw.subarray(0, 4096)));
      const e = expectError(() => dev.read(MiB + 10, 100), 'E_IMAGE_CORRUPT', /past the end/);
      assert.equal(e.location.layer, 'VDI block map');
      assert.equal(e.location.offset, offBlocks + 4);
    } finally {
      dev.close();
    }
  });

  test('a truncated image fails cleanly at open or at the first read of a lost block', () => {
    const path = join(dir, 'trunc.vdi');
    writeFileSync(path, dyn.subarray(0, 0x100));
    expectError(() => openImage(path), 'E_IMAGE_CORRUPT', /past the end|too small/);
    writeFileSync(path, dyn.subarray(0, dyn.length - MiB / 2));
    const dev = openImage(path);
    try {
      assert.ok(dev.read(0, 4096).equals(raw.subarray(0, 4096)));
      let failed = 0;
      for (let b = 0; b < Math.ceil(dev.size / MiB); b++) {
        try {
          dev.read(b * MiB, 512);
        } catch (e) {
          assert.ok(isHyperwardError(e) && e.code === 'E_IMAGE_CORRUPT');
          failed++;
        }
      }
      assert.equal(failed, 1, 'exactly the last allocated block is lost');
    } finally {
      dev.close();
    }
  });

  test('fuzz: header and block map mutations raise only HyperwardErrors', { timeout: 60_000 }, () => {
    const path = join(dir, 'fuzz.vdi');
    writeFileSync(path, dyn);
    const offBlocks = dyn.readUInt32LE(0x154);
    const mapEnd = offBlocks + 4 * dyn.readUInt32LE(0x180);
    fc.assert(
      fc.property(fc.oneof(byteEditsIn(0x40, 0x1d8, 8), byteEditsIn(offBlocks, mapEnd, 8)), (edits) => {
        withEdits(path, dyn, edits, () => onlyHyperwardErrors(() => exercise(path)));
      }),
      { numRuns: 400 },
    );
  });

  test('fuzz: truncation raises only HyperwardErrors', { timeout: 60_000 }, () => {
    const path = join(dir, 'fuzz-trunc.vdi');
    writeFileSync(path, dyn);
    fc.assert(
      fc.property(fc.nat({ max: dyn.length - 1 }), (len) => {
        withTruncation(path, dyn, len, () => onlyHyperwardErrors(() => exercise(path)));
      }),
      { numRuns: 150 },
    );
    assert.ok(readFileSync(path).equals(dyn), 'restored');
  });
});
