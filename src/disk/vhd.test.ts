/**
 * VHD reader tests.
 *
 * - Fixed and dynamic images are written by qemu-img from a deterministic raw pattern with zero regions; every
 *   byte read is compared with the raw file and with `qemu-img convert -O raw` of the image.
 * - qemu-img cannot write differencing VHDs, so test/helpers/vhd-writer.ts builds them from the specification,
 *   over parents written by qemu-img; the expected contents (parent overlaid with the child's present sectors)
 *   are computed here, independently of the reader.
 * - Real third-party images from dfVFS (fixtures/dfvfs): ext2.vhd against qemu-img; image.vhd (disputed footer
 *   checksums, which qemu refuses) against sleuthkit's img_cat and against qemu-img on a copy whose checksums
 *   are recomputed; image-differential.vhd resolves its parent by name.
 * - Hostile input: path policy, cycles, truncation, absurd fields, and fast-check mutations of real images.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  closeSync,
  copyFileSync,
  mkdirSync,
  openSync,
  readFileSync,
  realpathSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { basename, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { byteEdits, byteEditsIn, onlyHyperwardErrors } from '../../test/helpers/fuzz.js';
import { assertBytesEqual, assertReadsMatch } from '../../test/helpers/compare.js';
import { expectError } from '../../test/helpers/errors.js';
import { qemuConvert, qemuToRaw, sampleReads, withImage } from '../../test/helpers/images.js';
import { mulberry32, pattern, scalePicker } from '../../test/helpers/pattern.js';
import { run, tempDir } from '../../test/helpers/tmp.js';
import {
  buildVhd,
  macxUrl,
  vhdChecksumOf,
  vhdUniqueId,
  w2Path,
  type VhdSpec,
} from '../../test/helpers/vhd-writer.js';
import { openImage } from './open.js';
import type { BlockDevice } from './types.js';

const KiB = 1024;
const MiB = 1024 * 1024;
const DFVFS = fileURLToPath(new URL('../../fixtures/dfvfs/', import.meta.url));

/** Full sweep in odd-sized chunks, then random reads crossing block boundaries. */
function assertDevice(dev: BlockDevice, expected: Buffer, seed: number): void {
  assertReadsMatch(dev, expected, {
    chunk: 777 * KiB + 3,
    randomReads: 150,
    pick: scalePicker(mulberry32(seed)),
    maxLength: 3 * MiB,
  });
}

/** `buf` zero-extended (or cut) to `length`. */
function fit(buf: Buffer, length: number): Buffer {
  const out = Buffer.alloc(length);
  buf.copy(out, 0, 0, Math.min(length, buf.length));
  return out;
}

describe('VHD', () => {
  const { dir, cleanup } = tempDir('hyperward-vhd-');
  // 5 MiB + 12345 bytes: not a whole number of sectors, so qemu pads; block 1 (2-4 MiB) entirely zero, so a
  // dynamic image leaves it unallocated; smaller zero runs inside allocated blocks.
  const RAW_LEN = 5 * MiB + 12345;
  const raw = pattern(RAW_LEN, 0x5eed);
  raw.fill(0, 2 * MiB, 4 * MiB);
  raw.fill(0, 512 * KiB, 768 * KiB);
  raw.fill(0, 4 * MiB + 100 * KiB, 4 * MiB + 100 * KiB + 3000);
  const rawPath = join(dir, 'pattern.raw');

  before(() => writeFileSync(rawPath, raw));
  after(cleanup);

  const qemuRaw = (image: string): Buffer => qemuToRaw(image, join(dir, `${basename(image)}.qemu.raw`));

  for (const opts of ['subformat=dynamic', 'subformat=dynamic,force_size=on']) {
    it(`reads a qemu-img ${opts} image byte for byte`, () => {
      const img = join(dir, `${opts.replace(/[=,]/g, '_')}.vhd`);
      qemuConvert(rawPath, img, 'vpc', { from: 'raw', options: opts });
      const oracle = qemuRaw(img);
      withImage(img, (d) => {
        assert.equal(d.format, 'vhd');
        assert.equal(d.info.subformat, 'dynamic');
        assert.deepEqual(d.info.warnings, []);
        assert.ok(d.size >= RAW_LEN);
        assertDevice(d, oracle, 1);
        assertBytesEqual(d.read(0, RAW_LEN), raw, 'raw prefix');
        assert.ok(d.read(RAW_LEN, d.size - RAW_LEN).every((b) => b === 0));
      });
    });
  }

  for (const opts of ['subformat=fixed', 'subformat=fixed,force_size=on']) {
    it(`reads a qemu-img ${opts} image byte for byte`, () => {
      const img = join(dir, `${opts.replace(/[=,]/g, '_')}.vhd`);
      qemuConvert(rawPath, img, 'vpc', { from: 'raw', options: opts });
      const file = readFileSync(img);
      const oracle = qemuRaw(img);
      withImage(img, (d) => {
        assert.equal(d.info.subformat, 'fixed');
        // The footer's current size is the disk; qemu 7.2 exposes the whole file, footer included, for fixed
        // images, so its raw output is our disk followed by the footer.
        assert.equal(d.size, file.length - 512);
        assertBytesEqual(
          oracle.subarray(d.size),
          file.subarray(file.length - 512),
          'qemu tail is the footer',
        );
        assertDevice(d, oracle.subarray(0, d.size), 2);
        assertDevice(d, fit(raw, d.size), 3);
      });
    });
  }

  describe('differencing (built from the specification over qemu-img parents)', () => {
    const BS = 2 * MiB;
    let parentFile: Buffer;
    let parentData: Buffer;
    let size: number;
    const childData = pattern(6 * MiB, 0xc41d);
    // Block 0 fully present; block 1 (unallocated in the parent) partially present; block 2 with a few sectors.
    const present1 = (s: number): boolean => s % 7 < 3 || (s >= 1000 && s < 1100);
    const present2 = (s: number): boolean => s === 0 || s === 5 || (s > 200 && s < 240);
    const blocks = (): VhdSpec['blocks'] => [
      { index: 0, data: childData.subarray(0, BS) },
      { index: 1, data: childData.subarray(BS, 2 * BS), present: present1 },
      { index: 2, data: childData.subarray(2 * BS, 3 * BS), present: present2 },
    ];
    let expected: Buffer;

    before(() => {
      const p = join(dir, 'parent.vhd');
      qemuConvert(rawPath, p, 'vpc', { from: 'raw', options: 'subformat=dynamic,force_size=on' });
      parentFile = readFileSync(p);
      parentData = qemuRaw(p);
      size = parentData.length;
      expected = Buffer.from(parentData);
      for (const [blk, present] of [
        [0, (): boolean => true],
        [1, present1],
        [2, present2],
      ] as const) {
        for (let s = 0; s < BS / 512; s++) {
          const off = blk * BS + s * 512;
          if (off >= size) break;
          if (present(s)) childData.copy(expected, off, off, Math.min(off + 512, size));
        }
      }
    });

    const child = (
      name: string,
      parent: NonNullable<VhdSpec['parent']>,
      extra: Partial<VhdSpec> = {},
    ): string => {
      const path = join(dir, name);
      writeFileSync(path, buildVhd({ size, type: 'differencing', blocks: blocks(), parent, ...extra }));
      return path;
    };

    it('overlays present sectors on the parent (W2ru locator)', () => {
      const path = child('child-w2ru.vhd', {
        uniqueId: vhdUniqueId(parentFile),
        unicodeName: 'wrong-name.vhd',
        locators: [
          { code: 'W2ku', data: w2Path('D:\\elsewhere\\missing.vhd') },
          { code: 'W2ru', data: w2Path('.\\parent.vhd') },
        ],
      });
      withImage(path, (d) => {
        assert.equal(d.info.subformat, 'differencing');
        assert.equal(d.info.parentFoundBy, 'W2ru locator');
        assert.deepEqual(d.info.warnings, []);
        assert.deepEqual(d.info.files, [path, join(dir, 'parent.vhd')]);
        assert.equal(d.info.backing?.format, 'vhd');
        assertDevice(d, expected, 4);
      });
    });

    it('finds the parent by the base name of an absolute W2ku path, a MacX URL, a Wi2r path, or the unicode name', () => {
      const id = vhdUniqueId(parentFile);
      const cases: Array<[string, NonNullable<VhdSpec['parent']>, string]> = [
        [
          'child-w2ku.vhd',
          { uniqueId: id, locators: [{ code: 'W2ku', data: w2Path('C:\\VMs\\Disks\\parent.vhd') }] },
          'W2ku locator',
        ],
        [
          'child-unc.vhd',
          { uniqueId: id, locators: [{ code: 'W2ku', data: w2Path('\\\\?\\UNC\\srv\\share\\parent.vhd') }] },
          'W2ku locator',
        ],
        [
          'child-macx.vhd',
          { uniqueId: id, locators: [{ code: 'MacX', data: macxUrl('/Users/someone/VMs/parent.vhd') }] },
          'MacX locator',
        ],
        [
          'child-wi2r.vhd',
          { uniqueId: id, locators: [{ code: 'Wi2r', data: Buffer.from('.\\parent.vhd\0', 'latin1') }] },
          'Wi2r locator',
        ],
        ['child-name.vhd', { uniqueId: id, unicodeName: 'parent.vhd' }, 'parent unicode name'],
        [
          'child-dirloc.vhd',
          {
            uniqueId: id,
            unicodeName: 'parent.vhd',
            locators: [{ code: 'W2ru', data: w2Path('.\\a-directory') }],
          },
          'parent unicode name',
        ],
      ];
      mkdirSync(join(dir, 'a-directory'), { recursive: true });
      for (const [name, parent, by] of cases) {
        withImage(child(name, parent), (d) => {
          assert.equal(d.info.parentFoundBy, by, name);
          assertBytesEqual(d.read(0, size), expected, name);
        });
      }
    });

    it('reads a chain child -> child -> parent', () => {
      const mid = child('mid.vhd', { uniqueId: vhdUniqueId(parentFile), unicodeName: 'parent.vhd' });
      const midId = vhdUniqueId(readFileSync(mid));
      const top = join(dir, 'top.vhd');
      const topData = pattern(BS, 0x70b);
      const topPresent = (s: number): boolean => s % 2 === 1;
      writeFileSync(
        top,
        buildVhd({
          size,
          type: 'differencing',
          uniqueId: Buffer.alloc(16, 0x77),
          blocks: [{ index: 1, data: topData, present: topPresent }],
          parent: { uniqueId: midId, locators: [{ code: 'W2ru', data: w2Path('mid.vhd') }] },
        }),
      );
      const want = Buffer.from(expected);
      for (let s = 0; s < BS / 512; s++)
        if (topPresent(s)) topData.copy(want, BS + s * 512, s * 512, s * 512 + 512);
      withImage(top, (d) => {
        assert.equal(d.info.files.length, 3);
        assertDevice(d, want, 5);
      });
    });

    it('warns when the parent unique id does not match', () => {
      const path = child('child-badid.vhd', { uniqueId: Buffer.alloc(16, 0x42), unicodeName: 'parent.vhd' });
      withImage(path, (d) => {
        assert.ok((d.info.warnings as string[]).some((w) => /unique id/.test(w)));
        assertBytesEqual(d.read(0, size), expected, 'content');
      });
    });

    it('refuses a parent outside the image directory unless allowed', () => {
      const sub = join(dir, 'sub');
      mkdirSync(sub, { recursive: true });
      const path = join(sub, 'child-outside.vhd');
      writeFileSync(
        path,
        buildVhd({
          size,
          type: 'differencing',
          blocks: blocks(),
          parent: {
            uniqueId: vhdUniqueId(parentFile),
            locators: [{ code: 'W2ru', data: w2Path('..\\parent.vhd') }],
          },
        }),
      );
      expectError(() => openImage(path), 'E_BACKING_REFUSED');
      withImage(path, (d) => assertBytesEqual(d.read(0, size), expected, 'allowed outside'), {
        allowOutside: true,
      });
    });

    it('detects a child naming itself, and a missing parent', () => {
      const self = child('self.vhd', {
        uniqueId: Buffer.alloc(16),
        locators: [{ code: 'W2ru', data: w2Path('.\\self.vhd') }],
      });
      expectError(() => openImage(self), 'E_IMAGE_CORRUPT', /cyclic/);
      const missing = child('orphan.vhd', { uniqueId: Buffer.alloc(16), unicodeName: 'no-such-parent.vhd' });
      expectError(() => openImage(missing), 'E_NOT_FOUND', /no-such-parent/);
      const none = child('nameless.vhd', { uniqueId: Buffer.alloc(16) });
      expectError(() => openImage(none), 'E_NOT_FOUND');
    });

    it('surfaces a mutual cycle a -> b -> a', () => {
      const a = join(dir, 'cyc-a.vhd');
      const b = join(dir, 'cyc-b.vhd');
      const mk = (other: string): Buffer =>
        buildVhd({ size, type: 'differencing', parent: { uniqueId: Buffer.alloc(16), unicodeName: other } });
      writeFileSync(a, mk('cyc-b.vhd'));
      writeFileSync(b, mk('cyc-a.vhd'));
      expectError(() => openImage(a), 'E_IMAGE_CORRUPT', /cyclic/);
    });
  });

  describe('dynamic images built from the specification', () => {
    it('reads all-present blocks as qemu-img does (512 KiB blocks)', () => {
      const bs = 512 * KiB;
      const data = pattern(3 * MiB, 0xd1);
      const path = join(dir, 'writer-dyn.vhd');
      writeFileSync(
        path,
        buildVhd({
          size: 3 * MiB,
          blockSize: bs,
          blocks: [0, 2, 5].map((i) => ({ index: i, data: data.subarray(i * bs, (i + 1) * bs) })),
        }),
      );
      const oracle = qemuRaw(path);
      withImage(path, (d) => {
        assert.equal(d.info.blockSize, bs);
        assertDevice(d, oracle, 6);
        const want = Buffer.alloc(3 * MiB);
        for (const i of [0, 2, 5]) data.copy(want, i * bs, i * bs, (i + 1) * bs);
        assertBytesEqual(d.read(0, d.size), want, 'independent expectation');
      });
    });

    it('reads sectors whose bitmap bit is clear as zeros', () => {
      const bs = 64 * KiB;
      const data = pattern(bs, 0xb17);
      const present = (s: number): boolean => s < 3 || s === 64 || s === 127;
      const path = join(dir, 'writer-partial.vhd');
      writeFileSync(path, buildVhd({ size: 4 * bs, blockSize: bs, blocks: [{ index: 1, data, present }] }));
      const want = Buffer.alloc(4 * bs);
      for (let s = 0; s < bs / 512; s++)
        if (present(s)) data.copy(want, bs + s * 512, s * 512, s * 512 + 512);
      withImage(path, (d) => assertDevice(d, want, 7));
    });

    it('survives bad checksums with warnings', () => {
      const path = join(dir, 'writer-badsum.vhd');
      const data = pattern(MiB, 3);
      writeFileSync(
        path,
        buildVhd({ size: MiB, blockSize: MiB, blocks: [{ index: 0, data }], badChecksums: true }),
      );
      withImage(path, (d) => {
        const w = d.info.warnings as string[];
        assert.ok(w.some((x) => /footer/.test(x)) && w.some((x) => /dynamic header/.test(x)), w.join('; '));
        assertBytesEqual(d.read(0, MiB), data, 'content');
      });
    });

    it('uses the footer copy at offset 0 when the one at the end is damaged', () => {
      const path = join(dir, 'writer-tail.vhd');
      const data = pattern(MiB, 4);
      const img = buildVhd({ size: MiB, blockSize: MiB, blocks: [{ index: 0, data }] });
      img.fill(0x33, img.length - 512 + 40, img.length - 512 + 60); // sizes and geometry of the tail footer
      writeFileSync(path, img);
      withImage(path, (d) => {
        assert.ok((d.info.warnings as string[]).some((x) => /copy at offset 0/.test(x)));
        assertBytesEqual(d.read(0, MiB), data, 'content');
      });
      // Without the tail footer at all (a truncated dynamic image), the copy is used too.
      const cut = join(dir, 'writer-notail.vhd');
      writeFileSync(cut, img.subarray(0, img.length - 512));
      withImage(cut, (d) => assertBytesEqual(d.read(0, MiB), data, 'content without tail'));
    });
  });

  describe('dfVFS images', () => {
    /** A copy of `path` with the footer (both copies) and dynamic header checksums recomputed. */
    const withFixedChecksums = (path: string): string => {
      const b = readFileSync(path);
      for (const at of [0, b.length - 512])
        b.writeUInt32BE(vhdChecksumOf(b.subarray(at, at + 512), 64), at + 64);
      const hdr = Number(b.readBigUInt64BE(16));
      b.writeUInt32BE(vhdChecksumOf(b.subarray(hdr, hdr + 1024), 36), hdr + 36);
      const out = join(dir, `fixed-sum-${basename(path)}`);
      writeFileSync(out, b);
      return out;
    };

    it('ext2.vhd reads as qemu-img converts it', () => {
      const path = join(DFVFS, 'ext2.vhd');
      withImage(path, (d) => {
        assert.equal(d.info.subformat, 'dynamic');
        assert.deepEqual(d.info.warnings, []);
        assertDevice(d, qemuRaw(path), 8);
      });
    });

    it('image.vhd (disputed footer checksum, refused by qemu) reads as sleuthkit reads it', () => {
      const path = join(DFVFS, 'image.vhd');
      assert.throws(() => run('qemu-img', ['info', path]), /checksum/i);
      const tsk = execFileSync('img_cat', [path], { maxBuffer: 64 * MiB });
      const qemu = qemuRaw(withFixedChecksums(path));
      withImage(path, (d) => {
        assert.ok((d.info.warnings as string[]).some((w) => /checksum mismatch in the VHD footer/.test(w)));
        assertDevice(d, tsk, 9);
        assertBytesEqual(d.read(0, d.size), qemu, 'qemu on a checksum-fixed copy');
      });
    });

    it('image-differential.vhd finds image.vhd by its unicode name', () => {
      const path = join(DFVFS, 'image-differential.vhd');
      // qemu ignores differencing parents and reads the child's own block; every sector of it is present here,
      // so on a checksum-fixed copy qemu shows the full disk.
      const qemu = qemuRaw(withFixedChecksums(path));
      withImage(path, (d) => {
        assert.equal(d.info.subformat, 'differencing');
        assert.equal(d.info.parentFoundBy, 'parent unicode name');
        assert.equal(d.info.files[1], realpathSync(join(DFVFS, 'image.vhd')));
        assert.equal(d.info.backing?.uniqueId, d.info.parentUniqueId);
        assert.ok(!(d.info.warnings as string[]).some((w) => /unique id/.test(w)));
        assertDevice(d, qemu, 10);
      });
      const alone = join(dir, 'alone');
      mkdirSync(alone, { recursive: true });
      copyFileSync(path, join(alone, 'image-differential.vhd'));
      expectError(() => openImage(join(alone, 'image-differential.vhd')), 'E_NOT_FOUND', /image\.vhd/);
    });
  });

  describe('hostile input', () => {
    const BS = 64 * KiB;
    const data = pattern(4 * BS, 0xbad);
    const base = (): Buffer =>
      buildVhd({
        size: 4 * BS,
        blockSize: BS,
        blocks: [0, 2].map((i) => ({ index: i, data: data.subarray(i * BS, (i + 1) * BS) })),
      });
    /** Writes `img` after `patch`, with every checksum recomputed so the patched fields are believed. */
    const patched = (name: string, patch: (img: Buffer) => void): string => {
      const img = base();
      patch(img);
      for (const at of [0, img.length - 512])
        img.writeUInt32BE(vhdChecksumOf(img.subarray(at, at + 512), 64), at + 64);
      img.writeUInt32BE(vhdChecksumOf(img.subarray(512, 1536), 36), 512 + 36);
      const path = join(dir, name);
      writeFileSync(path, img);
      return path;
    };
    const both = (img: Buffer, fn: (footerAt: number) => void): void => {
      fn(0);
      fn(img.length - 512);
    };

    it('rejects absurd block sizes, table sizes and offsets', () => {
      for (const bs of [0, 256, 3 * 65536, 512 * MiB, 0x80000000]) {
        expectError(
          () => openImage(patched(`bs-${bs}.vhd`, (i) => i.writeUInt32BE(bs, 512 + 32))),
          'E_IMAGE_CORRUPT',
          /block size/,
        );
      }
      expectError(
        () => openImage(patched('entries.vhd', (i) => i.writeUInt32BE(2, 512 + 28))),
        'E_IMAGE_CORRUPT',
        /entries/,
      );
      expectError(
        () => openImage(patched('table.vhd', (i) => i.writeBigUInt64BE(0xffffffffffff0000n, 512 + 16))),
        'E_IMAGE_CORRUPT',
        /BAT/,
      );
      expectError(
        () =>
          openImage(
            patched('dataoff.vhd', (i) => both(i, (f) => i.writeBigUInt64BE(BigInt(i.length), f + 16))),
          ),
        'E_IMAGE_CORRUPT',
        /dynamic header/,
      );
      expectError(
        () => openImage(patched('huge.vhd', (i) => both(i, (f) => i.writeBigUInt64BE(1n << 60n, f + 48)))),
        'E_LIMIT',
      );
      // A size the BAT cannot cover.
      expectError(
        () =>
          openImage(patched('big.vhd', (i) => both(i, (f) => i.writeBigUInt64BE(BigInt(64 * BS), f + 48)))),
        'E_IMAGE_CORRUPT',
        /entries/,
      );
      expectError(
        () => openImage(patched('type5.vhd', (i) => both(i, (f) => i.writeUInt32BE(5, f + 60)))),
        'E_UNSUPPORTED_FORMAT',
      );
    });

    it('fails reads of blocks that point past the end of the file, and only those', () => {
      const path = patched('bat-eof.vhd', (i) => i.writeUInt32BE(0x00ffffff, 3 * 512 + 2 * 4));
      withImage(path, (d) => {
        assertBytesEqual(d.read(0, BS), data.subarray(0, BS), 'block 0');
        expectError(() => d.read(2 * BS, 512), 'E_IMAGE_CORRUPT', /file ends/);
      });
    });

    it('rejects a fixed image whose data is shorter than its size, and tiny files', () => {
      const fixed = join(dir, 'fixed-short.vhd');
      qemuConvert(rawPath, fixed, 'vpc', { from: 'raw', options: 'subformat=fixed' });
      const img = readFileSync(fixed);
      const footer = Buffer.from(img.subarray(img.length - 512));
      const short = Buffer.concat([img.subarray(0, MiB), footer]);
      writeFileSync(fixed, short);
      expectError(() => openImage(fixed), 'E_IMAGE_CORRUPT', /truncated/);
      const tiny = join(dir, 'tiny.vhd');
      writeFileSync(tiny, Buffer.from('conectix-and-nothing-else'));
      expectError(() => openImage(tiny, { format: 'vhd' }), 'E_IMAGE_CORRUPT');
    });

    it('ignores a parent locator that points outside the file', () => {
      const parent = join(dir, 'loc-parent.vhd');
      writeFileSync(parent, base());
      const path = join(dir, 'loc-child.vhd');
      const img = buildVhd({
        size: 4 * BS,
        blockSize: BS,
        type: 'differencing',
        parent: {
          uniqueId: vhdUniqueId(readFileSync(parent)),
          unicodeName: 'loc-parent.vhd',
          locators: [{ code: 'W2ru', data: w2Path('x.vhd') }],
        },
      });
      img.writeBigUInt64BE(BigInt(img.length + 4096), 512 + 576 + 16);
      writeFileSync(path, img);
      withImage(path, (d) => {
        assert.ok((d.info.warnings as string[]).some((w) => /outside the file/.test(w)));
        const want = Buffer.alloc(4 * BS);
        data.copy(want, 0, 0, BS);
        data.copy(want, 2 * BS, 2 * BS, 3 * BS);
        assertBytesEqual(d.read(0, 4 * BS), want, 'parent data');
      });
    });

    it('survives truncation at any length', () => {
      const src = readFileSync(join(DFVFS, 'ext2.vhd'));
      const path = join(dir, 'trunc.vhd');
      const lengths = [
        0,
        1,
        100,
        511,
        512,
        513,
        1000,
        1535,
        1536,
        1537,
        2047,
        2048,
        2560,
        4096,
        src.length >> 1,
        src.length - 513,
        src.length - 512,
        src.length - 1,
      ];
      for (const len of lengths) {
        writeFileSync(path, src.subarray(0, len));
        onlyHyperwardErrors(() => withImage(path, sampleReads));
      }
    });
  });

  describe('fast-check mutations of real images', () => {
    const mutateInPlace = (
      path: string,
      base: Buffer,
      edits: ReadonlyArray<readonly [number, number]>,
      fn: () => void,
    ): void => {
      const fd = openSync(path, 'r+');
      try {
        for (const [off, v] of edits) if (off < base.length) writeSync(fd, Buffer.of(v), 0, 1, off);
        fn();
      } finally {
        for (const [off] of edits) if (off < base.length) writeSync(fd, base, off, 1, off);
        closeSync(fd);
      }
    };
    const check = (path: string): void => onlyHyperwardErrors(() => withImage(path, sampleReads));

    it('ext2.vhd: footer copy, dynamic header, BAT and bitmap bytes', () => {
      const base = readFileSync(join(DFVFS, 'ext2.vhd'));
      const path = join(dir, 'fuzz-ext2.vhd');
      writeFileSync(path, base);
      fc.assert(
        fc.property(byteEditsIn(0, 2560), (edits) => mutateInPlace(path, base, edits, () => check(path))),
        { numRuns: 300 },
      );
      fc.assert(
        fc.property(byteEditsIn(base.length - 512, base.length, 8), (edits) =>
          mutateInPlace(path, base, edits, () => check(path)),
        ),
        { numRuns: 150 },
      );
    });

    it('differencing child over a qemu-img parent: every structure byte', () => {
      const sub = join(dir, 'fuzz-diff');
      mkdirSync(sub, { recursive: true });
      const parentPath = join(sub, 'parent.vhd');
      qemuConvert(rawPath, parentPath, 'vpc', { from: 'raw', options: 'subformat=dynamic,force_size=on' });
      const size = withImage(parentPath, (d) => d.size);
      const childData = pattern(2 * MiB, 9);
      const base = buildVhd({
        size,
        type: 'differencing',
        blocks: [{ index: 1, data: childData, present: (s) => s % 3 === 0 }],
        parent: {
          uniqueId: vhdUniqueId(readFileSync(parentPath)),
          unicodeName: 'parent.vhd',
          locators: [
            { code: 'W2ru', data: w2Path('.\\parent.vhd') },
            { code: 'MacX', data: macxUrl('/x/parent.vhd') },
          ],
        },
      });
      const path = join(sub, 'child.vhd');
      writeFileSync(path, base);
      check(path);
      const structEnd = 4 * 512 + 2 * 512 + 512; // footer copy, header, BAT, locators, first bitmap
      fc.assert(
        fc.property(
          fc.oneof(
            byteEditsIn(0, structEnd + 512),
            byteEditsIn(base.length - 512, base.length, 8),
            byteEdits(base.length, 4),
          ),
          (edits) => mutateInPlace(path, base, edits, () => check(path)),
        ),
        { numRuns: 250 },
      );
    });

    it('truncation of ext2.vhd and of a fixed image', () => {
      const ext2 = readFileSync(join(DFVFS, 'ext2.vhd'));
      const path = join(dir, 'fuzz-trunc.vhd');
      fc.assert(
        fc.property(fc.nat({ max: ext2.length }), (len) => {
          writeFileSync(path, ext2.subarray(0, len));
          check(path);
        }),
        { numRuns: 60 },
      );
      const fixed = join(dir, 'fuzz-fixed.vhd');
      qemuConvert(rawPath, fixed, 'vpc', { from: 'raw', options: 'subformat=fixed' });
      const fixedBuf = readFileSync(fixed);
      fc.assert(
        fc.property(fc.nat({ max: fixedBuf.length }), (len) => {
          writeFileSync(fixed, fixedBuf.subarray(0, len));
          check(fixed);
        }),
        { numRuns: 30 },
      );
    });
  });
});
