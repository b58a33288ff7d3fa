/**
 * VHDX reader tests.
 *
 * - Fixed and dynamic images (several block sizes, log sizes, block_state_zero) are written by qemu-img from a
 *   deterministic raw pattern with zero regions; every byte read is compared with the raw file and with
 *   `qemu-img convert -O raw` of the image.
 * - qemu-img cannot write differencing VHDX files, 4096-byte logical sectors or files with a pending log, so
 *   test/helpers/vhdx-writer.ts builds them from the MS-VHDX specification. Differencing children sit over
 *   parents written by qemu-img, and the expected contents (parent overlaid with the child's blocks and present
 *   sectors) are computed here, independently of the reader. Non-differencing writer images are also read by
 *   qemu-img, and dirty-log images are replayed by `qemu-img check -r all` on a copy: both serve as oracles.
 * - Hostile input: damaged headers and region tables, absurd metadata, BAT entries past the end, path policy,
 *   cycles, logs that cannot be replayed, and fast-check mutations (with and without CRC fix-ups) of real
 *   images and truncation.
 */
import assert from 'node:assert/strict';
import {
  closeSync,
  copyFileSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { basename, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { byteEditsIn, onlyHyperwardErrors } from '../../test/helpers/fuzz.js';
import { assertBytesEqual, assertReadsMatch } from '../../test/helpers/compare.js';
import { expectError } from '../../test/helpers/errors.js';
import { qemuConvert, qemuInfo, qemuToRaw, sampleReads, withImage } from '../../test/helpers/images.js';
import { mulberry32, pattern, scalePicker } from '../../test/helpers/pattern.js';
import { run, tempDir } from '../../test/helpers/tmp.js';
import {
  buildVhdx,
  fixCrc,
  guidBytes,
  logEntry,
  placeLogEntry,
  STATE,
  vhdxDataWriteGuid,
  writeVhdxFile,
  type VhdxBlockSpec,
  type VhdxSpec,
} from '../../test/helpers/vhdx-writer.js';
import { openImage } from './open.js';
import type { BlockDevice } from './types.js';

const KiB = 1024;
const MiB = 1024 * 1024;

/** Full sweep in odd-sized chunks, then random reads crossing block boundaries. */
function assertDevice(dev: BlockDevice, expected: Buffer, seed: number): void {
  assertReadsMatch(dev, expected, {
    chunk: 1234 * KiB + 7,
    randomReads: 150,
    pick: scalePicker(mulberry32(seed)),
    maxLength: 3 * MiB,
  });
}

function warnings(d: BlockDevice): string[] {
  return d.info.warnings as string[];
}

/** Expected contents: `base` with `blocks` applied as the VHDX states define them (parent = `base`). */
function overlay(base: Buffer, blockSize: number, lss: number, blocks: readonly VhdxBlockSpec[]): Buffer {
  const out = Buffer.from(base);
  for (const b of blocks) {
    const start = b.index * blockSize;
    const end = Math.min(out.length, start + blockSize);
    if (start >= out.length) continue;
    if (b.state === STATE.ZERO || b.state === STATE.UNMAPPED || b.state === STATE.UNDEFINED)
      out.fill(0, start, end);
    if (b.state === STATE.FULLY_PRESENT) {
      out.fill(0, start, end);
      b.data!.copy(out, start, 0, end - start);
    }
    if (b.state === STATE.PARTIALLY_PRESENT) {
      for (let s = 0; start + s * lss < end; s++) {
        if (b.present!(s)) b.data!.copy(out, start + s * lss, s * lss, Math.min((s + 1) * lss, end - start));
      }
    }
  }
  return out;
}

describe('VHDX', () => {
  const { dir, cleanup } = tempDir('hyperward-vhdx-');
  // 9 MiB + 12345 bytes: qemu pads to a whole sector; 2-4 MiB and the last half MiB are zero (so 1 MiB-block
  // images get ZERO / NOT_PRESENT blocks), plus short zero runs inside data blocks.
  const RAW_LEN = 9 * MiB + 12345;
  const raw = pattern(RAW_LEN, 0xfeed);
  raw.fill(0, 2 * MiB, 4 * MiB);
  raw.fill(0, 8 * MiB + 512 * KiB, RAW_LEN);
  raw.fill(0, 5 * MiB + 4321, 5 * MiB + 70000);
  const rawPath = join(dir, 'pattern.raw');
  const padded = Buffer.alloc(Math.ceil(RAW_LEN / 512) * 512);
  raw.copy(padded);

  before(() => writeFileSync(rawPath, raw));
  after(cleanup);

  const qemuRaw = (image: string): Buffer => qemuToRaw(image, join(dir, `${basename(image)}.qemu.raw`));
  const qemuVhdx = (name: string, opts: string): string => {
    const img = join(dir, name);
    qemuConvert(rawPath, img, 'vhdx', { from: 'raw', options: opts });
    return img;
  };

  const variants: Array<[string, string, number]> = [
    ['subformat=dynamic', 'dynamic', 0],
    ['subformat=fixed', 'fixed', 0],
    ['subformat=dynamic,block_size=1M', 'dynamic', MiB],
    ['subformat=dynamic,block_size=32M,log_size=2M', 'dynamic', 32 * MiB],
    ['subformat=fixed,block_size=2M', 'fixed', 2 * MiB],
    ['subformat=dynamic,block_size=1M,block_state_zero=off', 'dynamic', MiB],
  ];
  for (const [opts, sub, bs] of variants) {
    it(`reads a qemu-img ${opts} image byte for byte`, () => {
      const img = qemuVhdx(`${opts.replace(/[=,]/g, '_')}.vhdx`, opts);
      const oracle = qemuRaw(img);
      const info = qemuInfo<{ 'virtual-size': number }>(img);
      withImage(img, (d) => {
        assert.equal(d.format, 'vhdx');
        assert.equal(d.info.subformat, sub);
        assert.equal(d.size, info['virtual-size']);
        if (bs !== 0) assert.equal(d.info.blockSize, bs);
        assert.equal(d.info.logReplayed, false);
        assert.deepEqual(warnings(d), []);
        assertDevice(d, oracle, 1);
        assertDevice(d, padded, 2);
      });
    });
  }

  it('reads writer images as qemu-img does, including every payload state', () => {
    const data = pattern(6 * MiB, 0x51);
    const blocks: VhdxBlockSpec[] = [
      { index: 0, state: STATE.FULLY_PRESENT, data: data.subarray(0, MiB) },
      { index: 1, state: STATE.UNDEFINED },
      { index: 2, state: STATE.ZERO },
      { index: 3, state: STATE.FULLY_PRESENT, data: data.subarray(3 * MiB, 4 * MiB) },
      { index: 4, state: STATE.UNMAPPED },
      { index: 5, state: STATE.FULLY_PRESENT, data: data.subarray(5 * MiB, 5 * MiB + 1000) },
    ];
    const path = join(dir, 'writer-states.vhdx');
    writeFileSync(path, buildVhdx({ size: 6 * MiB + 4096, blockSize: MiB, blocks }).file);
    const want = overlay(Buffer.alloc(6 * MiB + 4096), MiB, 512, blocks);
    withImage(path, (d) => {
      assertDevice(d, want, 3);
      assertDevice(d, qemuRaw(path), 4);
    });
  });

  it('reads 4096-byte logical sectors (which qemu-img does not support), dynamic and differencing', () => {
    const bs = 2 * MiB;
    const size = 8 * MiB;
    const base = pattern(size, 0x4096);
    const parentBlocks: VhdxBlockSpec[] = [0, 1, 3].map((i) => ({
      index: i,
      state: STATE.FULLY_PRESENT,
      data: base.subarray(i * bs, (i + 1) * bs),
    }));
    const sub = join(dir, 'lss4k');
    mkdirSync(sub, { recursive: true });
    const parentPath = join(sub, 'base.vhdx');
    const parent = buildVhdx({
      size,
      blockSize: bs,
      logicalSectorSize: 4096,
      blocks: parentBlocks,
      dataWriteGuid: '0f0f0f0f-1111-2222-3333-444444444444',
    });
    writeFileSync(parentPath, parent.file);
    const parentWant = overlay(Buffer.alloc(size), bs, 4096, parentBlocks);
    withImage(parentPath, (d) => {
      assert.equal(d.info.logicalSectorSize, 4096);
      assertDevice(d, parentWant, 5);
    });
    const childData = pattern(size, 0xc4096);
    const childBlocks: VhdxBlockSpec[] = [
      {
        index: 0,
        state: STATE.PARTIALLY_PRESENT,
        data: childData.subarray(0, bs),
        present: (s) => s % 3 === 1,
      },
      {
        index: 2,
        state: STATE.PARTIALLY_PRESENT,
        data: childData.subarray(2 * bs, 3 * bs),
        present: (s) => s < 10,
      },
      { index: 3, state: STATE.ZERO },
    ];
    const childPath = join(sub, 'child.vhdx');
    writeFileSync(
      childPath,
      buildVhdx({
        size,
        blockSize: bs,
        logicalSectorSize: 4096,
        blocks: childBlocks,
        parentLocator: {
          parent_linkage: '{0f0f0f0f-1111-2222-3333-444444444444}',
          relative_path: 'base.vhdx',
        },
      }).file,
    );
    withImage(childPath, (d) => {
      assert.deepEqual(warnings(d), []);
      assertDevice(d, overlay(parentWant, bs, 4096, childBlocks), 6);
    });
  });

  it('follows the BAT interleaving of sector bitmap entries past the first chunk (> 4 GiB)', () => {
    // 512-byte sectors: one chunk is 4 GiB; with 32 MiB blocks the chunk ratio is 128, so payload block 128 is
    // BAT entry 129 (entry 128 is chunk 0's sector bitmap). Blocks are written sparse.
    const bs = 32 * MiB;
    const size = 4 * 1024 * MiB + 4 * bs;
    const piece = (seed: number): Buffer => pattern(64 * KiB, seed);
    const blocks: VhdxBlockSpec[] = [
      { index: 0, state: STATE.FULLY_PRESENT, data: piece(1) },
      { index: 127, state: STATE.FULLY_PRESENT, data: piece(2) },
      { index: 128, state: STATE.FULLY_PRESENT, data: piece(3) },
      { index: 130, state: STATE.FULLY_PRESENT, data: piece(4) },
    ];
    const path = join(dir, 'big.vhdx');
    writeVhdxFile(path, { size, blockSize: bs, blocks });
    const out = join(dir, 'big.qemu.raw');
    qemuConvert(path, out, 'raw');
    const fd = openSync(out, 'r');
    try {
      withImage(path, (d) => {
        assert.equal(d.size, size);
        for (const blk of [0, 1, 127, 128, 129, 130, 131]) {
          for (const off of [blk * bs, blk * bs + 60 * KiB, Math.min(size - 8192, (blk + 1) * bs - 4096)]) {
            const want = Buffer.alloc(8192);
            readSync(fd, want, 0, 8192, off);
            assertBytesEqual(d.read(off, 8192), want, `block ${blk} at ${off}`);
          }
        }
        const want = Buffer.alloc(64 * KiB);
        assertBytesEqual(d.read(128 * bs, 64 * KiB), blocks[2]!.data!, 'block 128 independent');
        assertBytesEqual(d.read(129 * bs, 64 * KiB), want, 'block 129 independent');
      });
    } finally {
      closeSync(fd);
    }
  });

  describe('differencing (built from the specification over qemu-img parents)', () => {
    const BS = MiB;
    let parentPath: string;
    let parentFile: Buffer;
    let parentData: Buffer;
    let size: number;
    const childData = pattern(10 * MiB, 0xd1ff);
    const blocks = (): VhdxBlockSpec[] => [
      { index: 0, state: STATE.FULLY_PRESENT, data: childData.subarray(0, BS) },
      {
        index: 1,
        state: STATE.PARTIALLY_PRESENT,
        data: childData.subarray(BS, 2 * BS),
        present: (s) => s % 5 < 2,
      },
      {
        index: 3,
        state: STATE.PARTIALLY_PRESENT,
        data: childData.subarray(3 * BS, 4 * BS),
        present: (s) => s >= 2000,
      },
      { index: 4, state: STATE.UNMAPPED },
      { index: 5, state: STATE.ZERO },
      { index: 6, state: STATE.UNDEFINED },
      {
        index: 9,
        state: STATE.PARTIALLY_PRESENT,
        data: childData.subarray(9 * BS, 10 * BS),
        present: (s) => s === 0 || s === 7,
      },
    ];
    let expected: Buffer;

    before(() => {
      parentPath = qemuVhdx('parent.vhdx', 'subformat=dynamic,block_size=1M');
      parentFile = readFileSync(parentPath);
      parentData = qemuRaw(parentPath);
      size = parentData.length;
      expected = overlay(parentData, BS, 512, blocks());
    });

    const child = (name: string, locator: Record<string, string>, where = dir): string => {
      const path = join(where, name);
      writeFileSync(path, buildVhdx({ size, blockSize: BS, blocks: blocks(), parentLocator: locator }).file);
      return path;
    };
    const linkage = (): string => `{${vhdxDataWriteGuid(parentFile)}}`;

    it('overlays child blocks and present sectors on the parent (relative_path)', () => {
      const path = child('child.vhdx', {
        parent_linkage: linkage(),
        relative_path: '.\\parent.vhdx',
        absolute_win32_path: '\\\\?\\C:\\VMs\\missing.vhdx',
      });
      withImage(path, (d) => {
        assert.equal(d.info.subformat, 'differencing');
        assert.equal(d.info.parentFoundBy, 'relative_path');
        assert.deepEqual(warnings(d), []);
        assert.deepEqual(d.info.files, [path, parentPath]);
        assertDevice(d, expected, 7);
      });
    });

    it('finds the parent by the base name of volume_path or absolute_win32_path', () => {
      for (const [key, value] of [
        ['volume_path', '\\\\?\\Volume{26a21bda-a627-11d7-9931-806e6f6e6963}\\path2\\sub3\\parent.vhdx'],
        ['absolute_win32_path', '\\\\?\\d:\\path2\\sub3\\parent.vhdx'],
      ] as const) {
        withImage(child(`child-${key}.vhdx`, { parent_linkage: linkage(), [key]: value }), (d) => {
          assert.equal(d.info.parentFoundBy, key);
          assertBytesEqual(d.read(0, size), expected, key);
        });
      }
    });

    it('warns when parent_linkage does not match the parent DataWriteGuid', () => {
      const path = child('child-stale.vhdx', {
        parent_linkage: '{01234567-89ab-cdef-0123-456789abcdef}',
        relative_path: 'parent.vhdx',
      });
      withImage(path, (d) => {
        assert.ok(warnings(d).some((w) => /parent_linkage/.test(w)));
        assertBytesEqual(d.read(0, size), expected, 'content');
      });
    });

    it('refuses a parent outside the image directory unless allowed, and detects cycles', () => {
      const sub = join(dir, 'sub');
      mkdirSync(sub, { recursive: true });
      const path = child(
        'outside.vhdx',
        { parent_linkage: linkage(), relative_path: '..\\parent.vhdx' },
        sub,
      );
      expectError(() => openImage(path), 'E_BACKING_REFUSED');
      withImage(path, (d) => assertBytesEqual(d.read(0, size), expected, 'allowed'), { allowOutside: true });
      const self = child('self.vhdx', { parent_linkage: linkage(), relative_path: 'self.vhdx' });
      expectError(() => openImage(self), 'E_IMAGE_CORRUPT', /cyclic/);
      const missing = child('orphan.vhdx', { parent_linkage: linkage(), relative_path: 'gone.vhdx' });
      expectError(() => openImage(missing), 'E_NOT_FOUND', /gone\.vhdx/);
    });

    it('rejects unknown parent locator types and partially present blocks without a sector bitmap', () => {
      const path = child('loctype.vhdx', { parent_linkage: linkage(), relative_path: 'parent.vhdx' });
      const img = readFileSync(path);
      const item = img.indexOf(guidBytes('b04aefb7-d19e-4a81-b789-25b8e9445913'));
      assert.ok(item > 0);
      img[item] = img[item]! ^ 0xff;
      writeFileSync(path, img);
      expectError(() => openImage(path), 'E_UNSUPPORTED_FORMAT', /locator type/);
      // Clear the sector bitmap BAT entry of chunk 0 (entry chunkRatio = 4096 for 1 MiB blocks).
      const nobm = child('nobitmap.vhdx', { parent_linkage: linkage(), relative_path: 'parent.vhdx' });
      const b = readFileSync(nobm);
      const batOffset = 1 * MiB + 1 * MiB + 1 * MiB;
      b.writeBigUInt64LE(0n, batOffset + 4096 * 8);
      writeFileSync(nobm, b);
      withImage(nobm, (d) => {
        assertBytesEqual(d.read(0, BS), expected.subarray(0, BS), 'fully present block');
        expectError(() => d.read(BS, 512), 'E_IMAGE_CORRUPT', /sector bitmap/);
      });
    });
  });

  describe('log replay', () => {
    const LOG_GUID = 'abcdef01-2345-6789-abcd-ef0123456789';
    const S = 4096;
    const data = pattern(6 * MiB, 0x10c);
    const spec: VhdxSpec = {
      size: 6 * MiB,
      blockSize: MiB,
      blocks: [
        { index: 0, state: STATE.FULLY_PRESENT, data: data.subarray(0, MiB) },
        { index: 3, state: STATE.FULLY_PRESENT, data: data.subarray(3 * MiB, 4 * MiB) },
        { index: 4, state: STATE.ZERO },
        // The last block is all zeros: the dirty copy is truncated before it, and the log extends the file.
        { index: 5, state: STATE.FULLY_PRESENT, data: Buffer.alloc(MiB) },
      ],
    };
    const want = overlay(Buffer.alloc(6 * MiB), MiB, 512, spec.blocks!);

    /**
     * The clean file T, and a dirty file D: T's BAT sector and metadata items sector stale on disk (zeroed; junk),
     * the last 1 MiB cut off, and a log whose active sequence restores them — two entries, wrapping around the
     * end of the circular log — plus decoys the replay must ignore.
     */
    const dirty = (opts: { tailAtFirst?: boolean; preTailJunk?: boolean } = {}): { t: Buffer; d: Buffer } => {
      const t = buildVhdx(spec).file;
      const { file: f, layout: L } = buildVhdx({ ...spec, logGuid: LOG_GUID });
      const batSector = Buffer.from(t.subarray(L.batOffset, L.batOffset + S));
      const itemsSector = Buffer.from(
        t.subarray(L.metadataOffset + 64 * KiB, L.metadataOffset + 64 * KiB + S),
      );
      f.fill(0, L.batOffset, L.batOffset + S);
      f.fill(0x5a, L.metadataOffset + 64 * KiB, L.metadataOffset + 64 * KiB + S);
      const cut = f.length - MiB;
      const common = { flushedFileOffset: cut, lastFileOffset: t.length, logGuid: LOG_GUID };
      const first = 250 * S;
      const e1 = logEntry({
        ...common,
        seq: 10n,
        tail: first,
        ops: [
          { fileOffset: L.batOffset, zeroLength: S },
          { fileOffset: cut, zeroLength: MiB },
          { fileOffset: L.metadataOffset + 64 * KiB, data: itemsSector },
        ],
      });
      const e2 = logEntry({
        ...common,
        seq: 11n,
        tail: first,
        ops: [{ fileOffset: L.batOffset, data: batSector }],
      });
      placeLogEntry(f, L, first, e1);
      placeLogEntry(f, L, first + e1.length, e2); // wraps past the end of the 1 MiB log
      // Decoys: an older complete sequence, and a newer entry written under another log GUID.
      const junkBat = Buffer.alloc(S, 0x66);
      placeLogEntry(
        f,
        L,
        100 * S,
        logEntry({ ...common, seq: 3n, tail: 100 * S, ops: [{ fileOffset: L.batOffset, data: junkBat }] }),
      );
      placeLogEntry(
        f,
        L,
        120 * S,
        logEntry({
          ...common,
          logGuid: '99999999-2345-6789-abcd-ef0123456789',
          seq: 50n,
          tail: 120 * S,
          ops: [{ fileOffset: L.batOffset, data: junkBat }],
        }),
      );
      if (opts.preTailJunk === true) {
        // A valid entry right before the tail, in the same sequence by number: before the tail, so not replayed.
        const block0 = L.blockOffsets.get(0)!;
        const pre = logEntry({
          ...common,
          seq: 9n,
          tail: first - 2 * S,
          ops: [{ fileOffset: block0, data: junkBat }],
        });
        assert.equal(pre.length, 2 * S);
        placeLogEntry(f, L, first - 2 * S, pre);
      }
      return { t, d: f.subarray(0, cut) };
    };

    it('replays a pending log in memory, as qemu-img check -r all replays it on disk', () => {
      const { t, d } = dirty();
      const path = join(dir, 'dirty.vhdx');
      writeFileSync(path, d);
      const before = readFileSync(path);
      withImage(path, (dev) => {
        assert.equal(dev.info.logReplayed, true);
        assert.ok(warnings(dev).some((w) => /replayed 2 log entries/.test(w)));
        assertDevice(dev, want, 8);
      });
      assert.ok(readFileSync(path).equals(before), 'the image is never written');
      // qemu refuses the dirty file read-only; its own replay (on a copy) must read the same.
      assert.throws(() => qemuConvert(path, join(dir, 'x.raw'), 'raw'), /replay/i);
      const copy = join(dir, 'dirty-qemu.vhdx');
      copyFileSync(path, copy);
      try {
        run('qemu-img', ['check', '-r', 'all', copy]);
      } catch {
        // qemu-img check exits non-zero after repairing; the replay is what matters.
      }
      withImage(path, (dev) => assertDevice(dev, qemuRaw(copy), 9));
      const clean = join(dir, 'clean.vhdx');
      writeFileSync(clean, t);
      withImage(clean, (dev) => assertDevice(dev, want, 10));
    });

    it('replays from the tail entry of the active sequence only', () => {
      const path = join(dir, 'dirty-pretail.vhdx');
      writeFileSync(path, dirty({ preTailJunk: true }).d);
      withImage(path, (dev) => assertBytesEqual(dev.read(0, dev.size), want, 'content'));
    });

    it('reads the on-disk metadata, with a warning, when the log holds no valid sequence', () => {
      const { file } = buildVhdx({ ...spec, logGuid: LOG_GUID });
      const path = join(dir, 'emptylog.vhdx');
      writeFileSync(path, file);
      withImage(path, (dev) => {
        assert.equal(dev.info.logReplayed, false);
        assert.ok(warnings(dev).some((w) => /no valid entry sequence/.test(w)));
        assertBytesEqual(dev.read(0, dev.size), want, 'content');
      });
    });

    it('refuses logs it cannot replay, naming the need to replay them', () => {
      const patchHeaders = (f: Buffer, fn: (h: Buffer) => void): void => {
        for (const at of [64 * KiB, 128 * KiB]) {
          const h = f.subarray(at, at + 4 * KiB);
          fn(h);
          fixCrc(h);
        }
      };
      const version = Buffer.from(dirty().d);
      patchHeaders(version, (h) => h.writeUInt16LE(1, 64));
      const p1 = join(dir, 'logversion.vhdx');
      writeFileSync(p1, version);
      expectError(() => openImage(p1), 'E_UNSUPPORTED_FORMAT', /log must be replayed/);

      const big = Buffer.from(dirty().d);
      patchHeaders(big, (h) => h.writeUInt32LE(64 * MiB, 68));
      const p2 = join(dir, 'logbig.vhdx');
      writeFileSync(p2, Buffer.concat([big, Buffer.alloc(64 * MiB)]));
      expectError(() => openImage(p2), 'E_UNSUPPORTED_FORMAT', /log must be replayed/);

      const outside = Buffer.from(dirty().d);
      patchHeaders(outside, (h) => h.writeBigUInt64LE(1n << 40n, 72));
      const p3 = join(dir, 'logoutside.vhdx');
      writeFileSync(p3, outside);
      expectError(() => openImage(p3), 'E_IMAGE_CORRUPT', /log/);

      // The log says the file was at least this long: it has been truncated since, so it cannot be trusted.
      const { d } = dirty();
      const p4 = join(dir, 'logtrunc.vhdx');
      writeFileSync(p4, d.subarray(0, d.length - MiB));
      expectError(() => openImage(p4), 'E_IMAGE_CORRUPT', /truncated/);
    });
  });

  describe('hostile input', () => {
    const data = pattern(4 * MiB, 0xbad);
    const spec: VhdxSpec = {
      size: 4 * MiB,
      blockSize: MiB,
      blocks: [0, 2].map((i) => ({
        index: i,
        state: STATE.FULLY_PRESENT,
        data: data.subarray(i * MiB, (i + 1) * MiB),
      })),
    };
    const want = overlay(Buffer.alloc(4 * MiB), MiB, 512, spec.blocks!);
    const write = (name: string, f: Buffer): string => {
      const p = join(dir, name);
      writeFileSync(p, f);
      return p;
    };
    const fresh = (
      s: Partial<VhdxSpec> = {},
    ): { file: Buffer; layout: ReturnType<typeof buildVhdx>['layout'] } => buildVhdx({ ...spec, ...s });

    it('uses the valid header with the highest sequence number, and survives one damaged header', () => {
      const { file } = fresh({ headerSeq: [7n, 3n] });
      const h2 = file.subarray(128 * KiB, 132 * KiB);
      guidBytes('22222222-3333-4444-5555-666666666666').copy(h2, 32);
      fixCrc(h2);
      withImage(write('seq.vhdx', file), (d) =>
        assert.equal(d.info.dataWriteGuid, '66666666-7777-8888-9999-aaaaaaaaaaaa'),
      );
      const h1 = file.subarray(64 * KiB, 68 * KiB);
      h1[100] = h1[100]! ^ 1; // CRC now wrong: header 2 is the only valid one
      withImage(write('seq2.vhdx', file), (d) => {
        assert.equal(d.info.dataWriteGuid, '22222222-3333-4444-5555-666666666666');
        assert.ok(warnings(d).some((w) => /header is damaged/.test(w)));
        assertBytesEqual(d.read(0, d.size), want, 'content');
      });
      h2[0] = 0;
      expectError(() => openImage(write('nohdr.vhdx', file)), 'E_IMAGE_CORRUPT', /header/);
    });

    it('falls back to the second region table, and fails without one', () => {
      const { file } = fresh();
      file[192 * KiB + 40] = file[192 * KiB + 40]! ^ 0x10;
      withImage(write('rt1.vhdx', file), (d) => {
        assert.ok(warnings(d).some((w) => /region table damaged/.test(w)));
        assertBytesEqual(d.read(0, d.size), want, 'content');
      });
      file[256 * KiB + 40] = file[256 * KiB + 40]! ^ 0x10;
      expectError(() => openImage(write('rt2.vhdx', file)), 'E_IMAGE_CORRUPT', /region table/);
    });

    it('rejects unknown required regions and metadata items, and absurd metadata', () => {
      const rt = (f: Buffer, fn: (t: Buffer) => void): Buffer => {
        for (const at of [192 * KiB, 256 * KiB]) {
          const t = f.subarray(at, at + 64 * KiB);
          fn(t);
          fixCrc(t);
        }
        return f;
      };
      const unknownRegion = rt(fresh().file, (t) => {
        t.writeUInt32LE(3, 8);
        guidBytes('12345678-1234-1234-1234-123456789abc').copy(t, 16 + 64);
        t.writeBigUInt64LE(BigInt(8 * MiB), 16 + 64 + 16);
        t.writeUInt32LE(MiB, 16 + 64 + 24);
        t.writeUInt32LE(1, 16 + 64 + 28);
      });
      expectError(() => openImage(write('reg.vhdx', unknownRegion)), 'E_UNSUPPORTED_FORMAT', /region/);
      const { file, layout } = fresh();
      const m = layout.metadataOffset;
      const meta = (fn: (f: Buffer) => void): Buffer => {
        const f = Buffer.from(file);
        fn(f);
        return f;
      };
      const item = (f: Buffer, i: number): number => f.readUInt32LE(m + 32 + i * 32 + 16) + m;
      const unknownItem = meta((f) => {
        guidBytes('12345678-aaaa-bbbb-cccc-123456789abc').copy(f, m + 32);
        f.writeUInt32LE(4, m + 32 + 24);
      });
      expectError(() => openImage(write('item.vhdx', unknownItem)), 'E_UNSUPPORTED_FORMAT', /metadata item/);
      for (const bs of [0, 3 * MiB, 512 * KiB, 512 * MiB]) {
        expectError(
          () =>
            openImage(
              write(
                'bs.vhdx',
                meta((f) => f.writeUInt32LE(bs, item(f, 0))),
              ),
            ),
          'E_IMAGE_CORRUPT',
          /block size/,
        );
      }
      expectError(
        () =>
          openImage(
            write(
              'lss.vhdx',
              meta((f) => f.writeUInt32LE(1000, item(f, 3))),
            ),
          ),
        'E_IMAGE_CORRUPT',
        /logical sector/,
      );
      expectError(
        () =>
          openImage(
            write(
              'vsize.vhdx',
              meta((f) => f.writeBigUInt64LE(1n << 50n, item(f, 1))),
            ),
          ),
        'E_LIMIT',
      );
      // A size whose BAT no longer fits the 1 MiB BAT region (more than 131072 entries of 1 MiB blocks).
      expectError(
        () =>
          openImage(
            write(
              'batsmall.vhdx',
              meta((f) => f.writeBigUInt64LE(BigInt(200 * 1024 * MiB), item(f, 1))),
            ),
          ),
        'E_IMAGE_CORRUPT',
        /BAT region/,
      );
      expectError(
        () =>
          openImage(
            write(
              'itemlen.vhdx',
              meta((f) => f.writeUInt32LE(2 * MiB, m + 32 + 20)),
            ),
          ),
        'E_IMAGE_CORRUPT',
        /outside the region/,
      );
      expectError(
        () =>
          openImage(
            write(
              'metasig.vhdx',
              meta((f) => f.write('metadaXa', m, 'latin1')),
            ),
          ),
        'E_IMAGE_CORRUPT',
        /metadata/,
      );
    });

    it('fails reads of blocks in bad states or past the end of the file, and only those', () => {
      const { file, layout } = fresh();
      const setBat = (i: number, v: bigint): void => {
        file.writeBigUInt64LE(v, layout.batOffset + i * 8);
      };
      setBat(1, (1000n << 20n) | 6n); // past EOF
      setBat(2, 7n | (5n << 20n)); // PARTIALLY_PRESENT without a parent
      setBat(3, 4n); // reserved state
      withImage(write('badbat.vhdx', file), (d) => {
        assertBytesEqual(d.read(0, MiB), want.subarray(0, MiB), 'block 0');
        expectError(() => d.read(MiB, 512), 'E_IMAGE_CORRUPT', /file ends/);
        expectError(() => d.read(2 * MiB, 512), 'E_IMAGE_CORRUPT', /PARTIALLY_PRESENT/);
        expectError(() => d.read(3 * MiB, 512), 'E_IMAGE_CORRUPT', /reserved/);
      });
      setBat(1, 6n); // FULLY_PRESENT at offset 0 (the header section)
      withImage(write('badbat2.vhdx', file), (d) =>
        expectError(() => d.read(MiB, 512), 'E_IMAGE_CORRUPT', /header section/),
      );
      setBat(1, 0xfffffffffff00006n);
      withImage(write('badbat3.vhdx', file), (d) => expectError(() => d.read(MiB, 512), 'E_IMAGE_CORRUPT'));
    });

    it('survives truncation at any length', () => {
      const src = fresh().file;
      const path = join(dir, 'trunc.vhdx');
      for (const len of [
        0,
        8,
        520,
        64 * KiB + 100,
        192 * KiB,
        300 * KiB,
        320 * KiB,
        MiB,
        2 * MiB + 70000,
        3 * MiB + 8,
        src.length - 1,
      ]) {
        writeFileSync(path, src.subarray(0, len));
        onlyHyperwardErrors(() => withImage(path, sampleReads));
      }
    });
  });

  describe('fast-check mutations', () => {
    /** Applies edits to `[start, start+len)` of the file (re-computing a CRC-32C field when asked), runs, restores. */
    const mutate = (
      path: string,
      base: Buffer,
      start: number,
      len: number,
      edits: ReadonlyArray<readonly [number, number]>,
      crcField: number | undefined,
      fn: () => void,
    ): void => {
      const region = Buffer.from(base.subarray(start, start + len));
      for (const [off, v] of edits) if (off - start >= 0 && off - start < len) region[off - start] = v;
      if (crcField !== undefined) fixCrc(region, crcField);
      const fd = openSync(path, 'r+');
      try {
        writeSync(fd, region, 0, region.length, start);
        fn();
      } finally {
        writeSync(fd, base, start, len, start);
        closeSync(fd);
      }
    };
    const check = (path: string): void => onlyHyperwardErrors(() => withImage(path, sampleReads));
    const edits = (
      from: number,
      to: number,
      crc: number | undefined,
    ): fc.Arbitrary<[ReadonlyArray<readonly [number, number]>, number | undefined]> =>
      fc.tuple(byteEditsIn(from, to), fc.constantFrom(crc, undefined));

    it('qemu-img dynamic image: headers, region tables, metadata, BAT', () => {
      const img = qemuVhdx('fuzz.vhdx', 'subformat=dynamic,block_size=1M');
      const base = readFileSync(img);
      // Locate the regions from the image itself (qemu places them after the log).
      const rt = base.subarray(192 * KiB, 256 * KiB);
      const regions = [0, 1].map((i) => ({
        guid: rt.subarray(16 + i * 32, 32 + i * 32),
        offset: Number(rt.readBigUInt64LE(16 + i * 32 + 16)),
      }));
      const batAt = regions.find((r) =>
        r.guid.equals(guidBytes('2dc27766-f623-4200-9d64-115e9bfd4a08')),
      )!.offset;
      const metaAt = regions.find((r) =>
        r.guid.equals(guidBytes('8b7ca206-4790-4b9a-b8fe-575f050f886e')),
      )!.offset;
      const targets: Array<[number, number, number | undefined]> = [
        [64 * KiB, 4 * KiB, 4], // header 1
        [128 * KiB, 4 * KiB, 4], // header 2
        [192 * KiB, 64 * KiB, 4], // region table
        [256 * KiB, 64 * KiB, 4], // region table copy
        [metaAt, 64 * KiB + 4 * KiB, undefined], // metadata table and items
        [batAt, 4 * KiB, undefined], // BAT
      ];
      for (const [start, len, crc] of targets) {
        fc.assert(
          fc.property(edits(start, start + (crc !== undefined ? 256 : len), crc), ([e, c]) =>
            mutate(img, base, start, len, e, c, () => check(img)),
          ),
          { numRuns: start === metaAt || start === batAt ? 120 : 60 },
        );
      }
    });

    it('dirty writer image: log entries (with entry CRC fix-ups) and headers', () => {
      const LOG_GUID = 'abcdef01-2345-6789-abcd-ef0123456789';
      const data = pattern(2 * MiB, 0xf22);
      const { file, layout } = buildVhdx({
        size: 2 * MiB,
        blockSize: MiB,
        logGuid: LOG_GUID,
        blocks: [{ index: 0, state: STATE.FULLY_PRESENT, data: data.subarray(0, MiB) }],
      });
      const bat = Buffer.from(file.subarray(layout.batOffset, layout.batOffset + 4096));
      file.fill(0, layout.batOffset, layout.batOffset + 4096);
      const common = { flushedFileOffset: file.length, lastFileOffset: file.length, logGuid: LOG_GUID };
      const e1 = logEntry({
        ...common,
        seq: 5n,
        tail: 0,
        ops: [{ fileOffset: layout.batOffset, zeroLength: 8192 }],
      });
      const e2 = logEntry({
        ...common,
        seq: 6n,
        tail: 0,
        ops: [{ fileOffset: layout.batOffset, data: bat }],
      });
      placeLogEntry(file, layout, 0, e1);
      placeLogEntry(file, layout, e1.length, e2);
      const path = join(dir, 'fuzz-dirty.vhdx');
      writeFileSync(path, file);
      withImage(path, (d) => assertBytesEqual(d.read(0, MiB), data.subarray(0, MiB), 'replayed'));
      const L = layout.logOffset;
      // Entry 1: header and descriptors. Entry 2: header, descriptor and data sector.
      fc.assert(
        fc.property(edits(L, L + 64 + 32, 4), ([e, c]) =>
          mutate(path, file, L, e1.length, e, c, () => check(path)),
        ),
        { numRuns: 150 },
      );
      const L2 = L + e1.length;
      fc.assert(
        fc.property(fc.oneof(edits(L2, L2 + 96, 4), edits(L2 + 4096, L2 + 8192, 4)), ([e, c]) =>
          mutate(path, file, L2, e2.length, e, c, () => check(path)),
        ),
        { numRuns: 150 },
      );
      fc.assert(
        fc.property(edits(64 * KiB, 64 * KiB + 80, 4), ([e, c]) =>
          mutate(path, file, 64 * KiB, 4 * KiB, e, c, () => check(path)),
        ),
        { numRuns: 100 },
      );
    });

    it('differencing writer image over a qemu-img parent: metadata, parent locator, BAT, sector bitmap', () => {
      const sub = join(dir, 'fuzz-diff');
      mkdirSync(sub, { recursive: true });
      const parent = join(sub, 'parent.vhdx');
      qemuConvert(rawPath, parent, 'vhdx', { from: 'raw', options: 'subformat=dynamic,block_size=1M' });
      const size = withImage(parent, (d) => d.size);
      const data = pattern(MiB, 0xd);
      const { file, layout } = buildVhdx({
        size,
        blockSize: MiB,
        blocks: [{ index: 1, state: STATE.PARTIALLY_PRESENT, data, present: (s) => (s & 4) !== 0 }],
        parentLocator: {
          parent_linkage: `{${vhdxDataWriteGuid(readFileSync(parent))}}`,
          relative_path: 'parent.vhdx',
        },
      });
      const path = join(sub, 'child.vhdx');
      writeFileSync(path, file);
      check(path);
      const m = layout.metadataOffset;
      const sb = file.length - MiB;
      for (const [start, len] of [
        [m, 64 * KiB + 512],
        [layout.batOffset, 4096 * 8 + 8],
        [sb, 4096],
      ] as const) {
        fc.assert(
          fc.property(edits(start, start + len, undefined), ([e]) =>
            mutate(path, file, start, len, e, undefined, () => check(path)),
          ),
          { numRuns: 100 },
        );
      }
    });

    it('truncation', () => {
      const img = qemuVhdx('fuzz-trunc-src.vhdx', 'subformat=dynamic,block_size=1M');
      const base = readFileSync(img);
      const path = join(dir, 'fuzz-trunc.vhdx');
      fc.assert(
        fc.property(fc.nat({ max: base.length }), (len) => {
          writeFileSync(path, base.subarray(0, len));
          check(path);
        }),
        { numRuns: 40 },
      );
    });
  });
});
