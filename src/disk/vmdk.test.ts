import { after, before, describe, it } from 'node:test';
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
  ftruncateSync,
} from 'node:fs';
import { join } from 'node:path';
import { deflateRawSync, deflateSync } from 'node:zlib';
import fc from 'fast-check';
import { newReadStats } from '../source/file.js';
import { openImage, type OpenImageOptions } from './open.js';
import type { BlockDevice } from './types.js';
import { run, tempDir } from '../../test/helpers/tmp.js';
import { assertReadEquals, assertReadsMatch } from '../../test/helpers/compare.js';
import { expectError } from '../../test/helpers/errors.js';
import { qemuConvert, qemuInfo, qemuMap, qemuToRaw, withImage } from '../../test/helpers/images.js';
import { modPicker, xorshift32 } from '../../test/helpers/pattern.js';
import { applyEdits, byteEditsIn, onlyHyperwardErrors } from '../../test/helpers/fuzz.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
const SUBFORMATS = [
  'monolithicSparse',
  'streamOptimized',
  'monolithicFlat',
  'twoGbMaxExtentSparse',
  'twoGbMaxExtentFlat',
] as const;
const FIXTURES = new URL('../../fixtures/', import.meta.url).pathname;

/**
 * A disk pattern: alternating incompressible and compressible 48 KiB stripes (so grains are neither aligned with
 * them nor all alike), with the given ranges zeroed.
 */
function pattern(size: number, seed: number, zeros: ReadonlyArray<readonly [number, number]>): Buffer {
  const next = xorshift32(seed);
  const buf = Buffer.alloc(size);
  for (let i = 0; i < size; i += 4) {
    const v = next();
    if (Math.floor(i / (48 * KiB)) % 2 === 0) buf.writeUInt32LE(v, i);
    else buf.writeUInt32LE(0x61616161 + (v % 4), i); // low entropy: 'aaaa'..'dddd'
  }
  for (const [a, b] of zeros) buf.fill(0, a, b);
  return buf;
}

interface VmdkInfo {
  'virtual-size': number;
  'format-specific'?: { data?: { 'create-type'?: string; extents?: unknown[] } };
}

/** Every byte, in one read, in odd-sized chunks, and at random offsets and lengths. */
function compareAll(dev: BlockDevice, expected: Buffer, what: string, seed = 7): void {
  assertReadsMatch(dev, expected, {
    what,
    wholeRead: true,
    chunk: 77 * KiB + 3,
    randomReads: 150,
    pick: modPicker(xorshift32(seed)),
    maxLength: 200 * KiB,
  });
}

/** Opens and reads everything (and a few unaligned pieces): the fuzz body. */
function openAndRead(path: string, opts?: OpenImageOptions): void {
  withImage(
    path,
    (dev) => {
      if (dev.size === 0) return;
      const n = Math.min(dev.size, 4 * MiB);
      dev.read(0, n);
      dev.read(Math.floor(n / 3), Math.min(100_000, n - Math.floor(n / 3)));
      dev.read(dev.size - Math.min(dev.size, 70_000), Math.min(dev.size, 70_000));
    },
    opts,
  );
}

interface Header {
  flags: number;
  capacity: number;
  grainSectors: number;
  descriptorOffset: number;
  descriptorSize: number;
  gtes: number;
  rgdOffset: number;
  gdOffset: number;
  overhead: number;
}

/** The fields of a sparse header, read straight from a real file (to aim edits). */
function header(buf: Buffer, at = 0): Header {
  const n = (o: number): number => Number(buf.readBigUInt64LE(at + o));
  return {
    flags: buf.readUInt32LE(at + 8),
    capacity: n(12),
    grainSectors: n(20),
    descriptorOffset: n(28),
    descriptorSize: n(36),
    gtes: buf.readUInt32LE(at + 44),
    rgdOffset: n(48),
    gdOffset: buf.readBigUInt64LE(at + 56) === 0xffffffffffffffffn ? -1 : n(56),
    overhead: n(64),
  };
}

/** Replaces the embedded descriptor text of a sparse file (padded with NULs to its sectors). */
function withDescriptor(buf: Buffer, edit: (text: string) => string): Buffer {
  const h = header(buf);
  const off = h.descriptorOffset * 512;
  const len = h.descriptorSize * 512;
  const text = buf.toString('utf8', off, off + len).replace(/\0.*$/s, '');
  const next = Buffer.from(edit(text), 'utf8');
  assert.ok(next.length <= len, 'new descriptor fits');
  const out = Buffer.from(buf);
  out.fill(0, off, off + len);
  next.copy(out, off);
  return out;
}

/**
 * Builds a streamOptimized VMDK the way VMware writes one (grain markers, grain tables and directory after the
 * grains, directory located only by the footer), per the VMDK specification. qemu-img is the oracle that it is
 * valid. `compress` chooses the grain encoding; `bombGrain` makes that grain inflate past the grain size.
 */
function buildStream(
  raw: Buffer,
  opts: { compress?: (b: Buffer) => Buffer; bombGrain?: number; gtes?: number } = {},
): Buffer {
  const compress = opts.compress ?? ((b: Buffer) => deflateSync(b));
  const grainSectors = 128;
  const gb = grainSectors * 512;
  const gtes = opts.gtes ?? 512;
  const capacity = raw.length / 512;
  const grains = Math.ceil(capacity / grainSectors);
  const gdEntries = Math.ceil(grains / gtes);
  const parts: Buffer[] = [];
  let sector = 0;
  const push = (b: Buffer): number => {
    const at = sector;
    const padded = Buffer.alloc(Math.ceil(b.length / 512) * 512);
    b.copy(padded);
    parts.push(padded);
    sector += padded.length / 512;
    return at;
  };
  const marker = (val: number, type: number): Buffer => {
    const m = Buffer.alloc(512);
    m.writeBigUInt64LE(BigInt(val), 0);
    m.writeUInt32LE(0, 8);
    m.writeUInt32LE(type, 12);
    return m;
  };
  const head = (gdOffset: bigint): Buffer => {
    const h = Buffer.alloc(512);
    h.write('KDMV', 0, 'latin1');
    h.writeUInt32LE(3, 4);
    h.writeUInt32LE(0x30001, 8); // newline test, compressed grains, markers
    h.writeBigUInt64LE(BigInt(capacity), 12);
    h.writeBigUInt64LE(BigInt(grainSectors), 20);
    h.writeBigUInt64LE(1n, 28);
    h.writeBigUInt64LE(2n, 36);
    h.writeUInt32LE(gtes, 44);
    h.writeBigUInt64LE(0n, 48);
    h.writeBigUInt64LE(gdOffset, 56);
    h.writeBigUInt64LE(128n, 64);
    h.write('\n \r\n', 73, 'latin1');
    h.writeUInt16LE(1, 77);
    return h;
  };
  push(head(0xffffffffffffffffn));
  const desc = Buffer.alloc(1024);
  desc.write(
    '# Disk DescriptorFile\nversion=1\nCID=1234abcd\nparentCID=ffffffff\ncreateType="streamOptimized"\n\n' +
      `# Extent description\nRW ${capacity} SPARSE "stream.vmdk"\n\n# The Disk Data Base\n#DDB\n` +
      'ddb.virtualHWVersion = "4"\nddb.adapterType = "ide"\n',
  );
  push(desc);
  while (sector < 128) push(Buffer.alloc(512));
  const gt = new Uint32Array(gdEntries * gtes);
  for (let g = 0; g < grains; g++) {
    let data = raw.subarray(g * gb, Math.min(raw.length, (g + 1) * gb));
    if (g === opts.bombGrain) data = Buffer.alloc(gb * 3, 0x41);
    else if (data.every((b) => b === 0)) continue;
    const c = compress(data);
    const m = Buffer.alloc(12 + c.length);
    m.writeBigUInt64LE(BigInt(g * grainSectors), 0);
    m.writeUInt32LE(c.length, 8);
    c.copy(m, 12);
    gt[g] = push(m);
  }
  const gd = Buffer.alloc(gdEntries * 4);
  const gtSectors = Math.ceil((gtes * 4) / 512);
  for (let t = 0; t < gdEntries; t++) {
    const slice = gt.subarray(t * gtes, (t + 1) * gtes);
    if (slice.every((v) => v === 0)) continue; // an all-unallocated table is left out
    push(marker(gtSectors, 1));
    const table = Buffer.alloc(gtes * 4);
    slice.forEach((v, i) => table.writeUInt32LE(v, i * 4));
    gd.writeUInt32LE(push(table), t * 4);
  }
  push(marker(Math.ceil(gd.length / 512), 2));
  const gdOffset = push(gd);
  push(marker(1, 3));
  push(head(BigInt(gdOffset)));
  push(Buffer.alloc(512)); // end-of-stream marker
  return Buffer.concat(parts);
}

describe('VMDK reader', () => {
  let dir = '';
  let cleanup = (): void => {};
  let raw: Buffer = Buffer.alloc(0);
  const RAW_SIZE = 3 * MiB + 40 * KiB; // not a multiple of the 64 KiB grain

  before(() => {
    ({ dir, cleanup } = tempDir('hyperward-vmdk-'));
    raw = pattern(RAW_SIZE, 42, [
      [64 * KiB + 1000, 264 * KiB], // zeros that start and end inside grains
      [1 * MiB, 2 * MiB], // whole zero grains
      [RAW_SIZE - 20 * KiB, RAW_SIZE],
    ]);
    writeFileSync(join(dir, 'raw.img'), raw);
    for (const s of SUBFORMATS) {
      qemuConvert('raw.img', `${s}.vmdk`, 'vmdk', { from: 'raw', options: `subformat=${s}`, cwd: dir });
    }
  });
  after(() => cleanup());

  describe('qemu-img subformats', () => {
    for (const s of SUBFORMATS) {
      it(`reads ${s} byte for byte like the raw input`, () => {
        const path = join(dir, `${s}.vmdk`);
        const q = qemuInfo<VmdkInfo>(path);
        withImage(path, (dev) => {
          assert.equal(dev.format, 'vmdk');
          assert.equal(dev.info.virtualSize, q['virtual-size']);
          assert.equal(dev.info.subformat, q['format-specific']?.data?.['create-type']);
          assert.equal((dev.info.extents as unknown[]).length, q['format-specific']?.data?.extents?.length);
          compareAll(dev, raw, s);
        });
      });
    }

    it('reports grain size, compression and files', () => {
      withImage(join(dir, 'streamOptimized.vmdk'), (dev) => {
        assert.equal(dev.info.grainSize, 64 * KiB);
        assert.equal(dev.info.compressed, true);
        assert.deepEqual(dev.info.files, [join(dir, 'streamOptimized.vmdk')]);
      });
      withImage(join(dir, 'twoGbMaxExtentSparse.vmdk'), (dev) => {
        assert.equal(dev.info.compressed, false);
        assert.deepEqual(dev.info.files, [
          join(dir, 'twoGbMaxExtentSparse.vmdk'),
          join(dir, 'twoGbMaxExtentSparse-s001.vmdk'),
        ]);
      });
    });

    it('serves a big flat read with one readSync', () => {
      const stats = newReadStats();
      withImage(
        join(dir, 'monolithicFlat.vmdk'),
        (dev) => {
          const before = stats.reads;
          const got = dev.read(12345, 2 * MiB + 7);
          assert.equal(stats.reads - before, 1);
          assert.ok(got.equals(raw.subarray(12345, 12345 + 2 * MiB + 7)));
        },
        { stats },
      );
    });

    it('coalesces host-contiguous grains of a sparse extent into one read each (qemu-img map as oracle)', () => {
      const path = join(dir, 'monolithicSparse.vmdk');
      const map = qemuMap(path);
      const stats = newReadStats();
      withImage(
        path,
        (dev) => {
          dev.read(0, dev.size); // loads the grain tables
          const from = 5000;
          const to = dev.size - 3000;
          // qemu-img map merges ranges contiguous both in the guest and on the host: one read each.
          const runs = map.filter((m) => m.data && m.start + m.length > from && m.start < to).length;
          assert.ok(runs >= 2, `the layout has ${runs} runs`);
          const before = stats.reads;
          assertReadEquals(dev, raw, from, to - from, 'coalesced');
          assert.equal(stats.reads - before, runs);
        },
        { stats },
      );
    });
  });

  describe('twoGbMaxExtent* with a virtual size over 4 GiB', () => {
    const V = 4 * GiB + 2 * MiB;
    const dataAt: Array<[number, number]> = [
      [0, 200_000],
      [2 * GiB - 100_000, 2 * GiB + 100_000], // straddles the first extent boundary
      [4 * GiB - 300_000, 4 * GiB - 100_000],
      [4 * GiB + 1 * MiB, 4 * GiB + 1 * MiB + 200_000],
    ];
    let bigDir = '';

    before(() => {
      bigDir = join(dir, 'big');
      mkdirSync(bigDir);
      const fd = openSync(join(bigDir, 'raw.img'), 'w');
      ftruncateSync(fd, V);
      dataAt.forEach(([a, b], i) => {
        const p = pattern(b - a, 100 + i, []);
        writeSync(fd, p, 0, p.length, a);
      });
      closeSync(fd);
      for (const s of ['twoGbMaxExtentSparse', 'twoGbMaxExtentFlat']) {
        qemuConvert('raw.img', `${s}.vmdk`, 'vmdk', { from: 'raw', options: `subformat=${s}`, cwd: bigDir });
      }
    });

    for (const s of ['twoGbMaxExtentSparse', 'twoGbMaxExtentFlat']) {
      it(`reads ${s} across its extent boundaries`, () => {
        const path = join(bigDir, `${s}.vmdk`);
        const q = qemuInfo<VmdkInfo>(path);
        const rawFd = openSync(join(bigDir, 'raw.img'), 'r');
        const stats = newReadStats();
        try {
          const rawRead = (off: number, len: number): Buffer => {
            const b = Buffer.alloc(len);
            readSync(rawFd, b, 0, len, off);
            return b;
          };
          const same = (dev: BlockDevice, off: number, len: number): void => {
            assert.ok(dev.read(off, len).equals(rawRead(off, len)), `${s}: bytes differ in ${off}+${len}`);
          };
          withImage(
            path,
            (dev) => {
              assert.equal(dev.size, V);
              const extents = dev.info.extents as Array<{ file: string }>;
              assert.equal(extents.length, q['format-specific']?.data?.extents?.length);
              assert.equal(extents.length, 3);
              for (const [a, b] of dataAt)
                same(dev, Math.max(0, a - 70_000), Math.min(V, b + 70_000) - Math.max(0, a - 70_000));
              for (const boundary of [2 * GiB, 4 * GiB]) same(dev, boundary - MiB, 2 * MiB);
              same(dev, V - MiB, MiB);
              const next = xorshift32(5);
              for (let i = 0; i < 40; i++) {
                const off = (next() * 4096 + next()) % (V - 256 * KiB);
                same(dev, off, 1 + (next() % (256 * KiB)));
              }
              if (s === 'twoGbMaxExtentFlat') {
                let before = stats.reads;
                dev.read(2 * GiB + 12345, 8 * MiB);
                assert.equal(stats.reads - before, 1, 'one readSync inside one flat extent');
                before = stats.reads;
                dev.read(2 * GiB - MiB, 2 * MiB);
                assert.equal(stats.reads - before, 2, 'one readSync per extent');
              }
            },
            { stats },
          );
        } finally {
          closeSync(rawFd);
        }
      });
    }
  });

  describe('delta disks (parentFileNameHint)', () => {
    it('reads a qemu-img snapshot with zeroed grains over a monolithicSparse parent', () => {
      const d = join(dir, 'delta');
      mkdirSync(d);
      copyFileSync(join(dir, 'monolithicSparse.vmdk'), join(d, 'base.vmdk'));
      run(
        'qemu-img',
        ['create', '-f', 'vmdk', '-o', 'zeroed_grain=on', '-b', 'base.vmdk', '-F', 'vmdk', 'top.vmdk'],
        { cwd: d },
      );
      // An unaligned write (qemu copies the rest of the grain from the parent), a zeroed grain over parent data,
      // and a small write in the last, partial grain.
      run(
        'qemu-io',
        [
          '-c',
          'write -P 0x5a 70000 150000',
          '-c',
          'write -z 2304k 128k',
          '-c',
          'write -P 0x11 3m 4096',
          'top.vmdk',
        ],
        {
          cwd: d,
        },
      );
      const top = readFileSync(join(d, 'top.vmdk'));
      assert.notEqual(header(top).flags & 4, 0, 'qemu set the zeroed-grain flag');
      const expected = qemuToRaw(join(d, 'top.vmdk'), join(d, 'oracle.raw'));
      assert.ok(expected.subarray(2304 * KiB, 2432 * KiB).every((b) => b === 0));
      assert.ok(!raw.subarray(2304 * KiB, 2432 * KiB).every((b) => b === 0), 'the parent has data there');
      assert.ok(!expected.equals(raw));
      withImage(join(d, 'top.vmdk'), (dev) => {
        compareAll(dev, expected, 'delta');
        const backing = dev.info.backing;
        assert.equal(backing?.format, 'vmdk');
        assert.deepEqual(dev.info.files, [join(d, 'top.vmdk'), join(d, 'base.vmdk')]);
        assert.equal(dev.info.parentCidMatches, true);
      });
    });

    it('reads a twoGbMaxExtentSparse snapshot over a streamOptimized parent', () => {
      const d = join(dir, 'delta2');
      mkdirSync(d);
      copyFileSync(join(dir, 'streamOptimized.vmdk'), join(d, 'base.vmdk'));
      run(
        'qemu-img',
        [
          'create',
          '-f',
          'vmdk',
          '-o',
          'subformat=twoGbMaxExtentSparse',
          '-b',
          'base.vmdk',
          '-F',
          'vmdk',
          'top.vmdk',
        ],
        { cwd: d },
      );
      run('qemu-io', ['-c', 'write -P 0x77 1000k 300k', 'top.vmdk'], { cwd: d });
      const expected = qemuToRaw(join(d, 'top.vmdk'), join(d, 'oracle.raw'));
      assert.ok(!expected.equals(raw));
      withImage(join(d, 'top.vmdk'), (dev) => {
        compareAll(dev, expected, 'twoGb delta');
        assert.equal(dev.info.backing?.subformat, 'streamOptimized');
      });
    });

    it('refuses a parent that is the disk itself, and a parent outside the directory', () => {
      const d = join(dir, 'delta3');
      mkdirSync(d);
      const base = readFileSync(join(dir, 'monolithicSparse.vmdk'));
      const self = withDescriptor(base, (t) =>
        t.replace('createType', 'parentFileNameHint="self.vmdk"\ncreateType'),
      );
      writeFileSync(join(d, 'self.vmdk'), self);
      expectError(() => openImage(join(d, 'self.vmdk')), 'E_IMAGE_CORRUPT', /cyclic/);
      const outside = withDescriptor(base, (t) =>
        t.replace('createType', 'parentFileNameHint="../monolithicSparse.vmdk"\ncreateType'),
      );
      writeFileSync(join(d, 'outside.vmdk'), outside);
      const e = expectError(() => openImage(join(d, 'outside.vmdk')), 'E_BACKING_REFUSED');
      assert.equal(e.location.layer, 'VMDK parent');
      withImage(join(d, 'outside.vmdk'), (dev) => assert.equal(dev.info.backing?.format, 'vmdk'), {
        allowOutside: true,
      });
    });
  });

  describe('streamOptimized with the grain directory only in the footer', () => {
    it('reads a VMware-style stream (qemu-img agrees on every byte)', () => {
      const img = buildStream(raw);
      const path = join(dir, 'stream.vmdk');
      writeFileSync(path, img);
      assert.equal(header(img).gdOffset, -1);
      const oracle = qemuToRaw(path, join(dir, 'stream.raw'));
      assert.ok(oracle.equals(raw), 'qemu-img reads the synthetic stream as the raw input');
      withImage(path, (dev) => {
        assert.equal(dev.info.subformat, 'streamOptimized');
        compareAll(dev, raw, 'footer stream');
      });
    });

    it('reads grains compressed as raw deflate (no zlib wrapper)', () => {
      const path = join(dir, 'stream-raw-deflate.vmdk');
      writeFileSync(path, buildStream(raw, { compress: (b) => deflateRawSync(b) }));
      withImage(path, (dev) => compareAll(dev, raw, 'raw deflate stream'));
    });

    it('refuses a grain that inflates past the grain size', () => {
      const path = join(dir, 'stream-bomb.vmdk');
      writeFileSync(path, buildStream(raw, { bombGrain: 3 }));
      withImage(path, (dev) => {
        assertReadEquals(dev, raw, 0, 3 * 64 * KiB, 'before the bomb');
        const e = expectError(() => dev.read(3 * 64 * KiB, 10), 'E_IMAGE_CORRUPT', /more than 65536 bytes/);
        assert.equal(e.location.layer, 'VMDK compressed grain');
      });
    });

    it('refuses a stream whose footer is cut off', () => {
      const path = join(dir, 'stream-cut.vmdk');
      const img = buildStream(raw);
      writeFileSync(path, img.subarray(0, img.length - 1024));
      expectError(() => openImage(path), 'E_IMAGE_CORRUPT', /footer/);
    });
  });

  describe('redundant grain directory', () => {
    it('falls back to the redundant tables when the primary ones point outside the file', () => {
      const img = readFileSync(join(dir, 'monolithicSparse.vmdk'));
      const h = header(img);
      assert.notEqual(h.flags & 2, 0, 'qemu writes a redundant grain directory');
      assert.notEqual(h.rgdOffset, 0);
      // Primary grain directory entry 0 points far past the end.
      const badGd = Buffer.from(img);
      badGd.writeUInt32LE(0xfffffff0, h.gdOffset * 512);
      writeFileSync(join(dir, 'bad-gd.vmdk'), badGd);
      withImage(join(dir, 'bad-gd.vmdk'), (dev) => compareAll(dev, raw, 'bad primary GD'));
      // Primary grain table entries point past the end.
      const gt = img.readUInt32LE(h.gdOffset * 512) * 512;
      const badGt = Buffer.from(img);
      for (let i = 0; i < 8; i++) badGt.writeUInt32LE(0x7ffffff0 + i, gt + i * 4);
      writeFileSync(join(dir, 'bad-gt.vmdk'), badGt);
      withImage(join(dir, 'bad-gt.vmdk'), (dev) => compareAll(dev, raw, 'bad primary GT'));
      // Both copies damaged: a clear error naming the table and offset.
      const rgt = img.readUInt32LE(h.rgdOffset * 512) * 512;
      const both = Buffer.from(badGt);
      both.writeUInt32LE(0x7ffffff0, rgt);
      writeFileSync(join(dir, 'bad-both.vmdk'), both);
      withImage(join(dir, 'bad-both.vmdk'), (dev) => {
        const e = expectError(() => dev.read(0, 512), 'E_IMAGE_CORRUPT', /points outside the file/);
        assert.equal(e.location.layer, 'VMDK grain table');
        assert.equal(e.location.offset, gt);
        assertReadEquals(dev, raw, 64 * KiB, 64 * KiB, 'the other grains still read');
      });
    });
  });

  describe('third-party images', () => {
    const cases = [
      ['vmdk/vmdk-monolith.img', 'monolithicSparse'],
      ['vmdk/vmdk-streamoptimized.img', 'streamOptimized'],
      ['dfvfs/ext2.vmdk', 'monolithicSparse'],
    ] as const;
    for (const [file, createType] of cases) {
      it(`reads fixtures/${file} like qemu-img`, () => {
        const path = join(FIXTURES, file);
        const expected = qemuToRaw(path, join(dir, 'fixture.raw'));
        assert.equal(qemuInfo<VmdkInfo>(path)['format-specific']?.data?.['create-type'], createType);
        withImage(path, (dev) => {
          assert.equal(dev.info.subformat, createType);
          compareAll(dev, expected, file);
        });
      });
    }

    it('refuses fixtures/vmdk/vmdk-invalid.img with a clear error (qemu-img refuses it too)', () => {
      const path = join(FIXTURES, 'vmdk/vmdk-invalid.img');
      assert.throws(() => run('qemu-img', ['info', path]));
      const e = expectError(() => openImage(path), 'E_IMAGE_CORRUPT', /descriptor is empty or damaged/);
      assert.equal(e.location.file, path);
      assert.equal(e.location.layer, 'VMDK descriptor');
    });

    it('finds the ext2 superblock magic in the dfvfs image', () => {
      withImage(join(FIXTURES, 'dfvfs/ext2.vmdk'), (dev) => {
        // The filesystem starts at sector 0 or inside a partition: look for 0xEF53 at superblock offset 56.
        const sb = dev.read(1024, 1024);
        const mbr = dev.read(0, 512);
        const hasPartition = mbr.readUInt16LE(510) === 0xaa55 && mbr.readUInt32LE(446 + 8) > 0;
        const at = hasPartition ? mbr.readUInt32LE(446 + 8) * 512 + 1024 : 1024;
        const magic = (hasPartition ? dev.read(at, 1024) : sb).readUInt16LE(56);
        assert.equal(magic, 0xef53);
      });
    });
  });

  describe('descriptor files', () => {
    it('parses case-insensitive keys and flat offsets like qemu-img', () => {
      const d = join(dir, 'desc');
      mkdirSync(d);
      copyFileSync(join(dir, 'raw.img'), join(d, 'data.bin'));
      const body = (createType: string, access: string, flat: string, lastOffset: string): string =>
        `# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\n${createType}\n\n` +
        `# Extent description\n${access} 2048 ${flat} "data.bin" 4096\nRW 1000 FLAT "data.bin"${lastOffset}\n`;
      writeFileSync(join(d, 'canonical.vmdk'), body('createType="monolithicFlat"', 'RW', 'FLAT', ' 0'));
      // Keys and types in other cases, CRLF line ends, indentation, and the optional flat offset left out.
      writeFileSync(
        join(d, 'mixed.vmdk'),
        body('CREATETYPE = "monolithicFlat"', 'rw', 'flat', '')
          .replace(/\n/g, '\r\n')
          .replace('version', '  VERSION'),
      );
      const expected = qemuToRaw(join(d, 'canonical.vmdk'), join(d, 'oracle.raw'));
      assert.ok(expected.subarray(0, 2048 * 512).equals(raw.subarray(4096 * 512, 6144 * 512)));
      for (const f of ['canonical.vmdk', 'mixed.vmdk']) {
        withImage(join(d, f), (dev) => {
          assert.equal(dev.info.subformat, 'monolithicFlat');
          compareAll(dev, expected, f);
        });
      }
    });

    it('keeps RDONLY and ZERO extents in the address space, as the VMDK specification defines them', () => {
      // qemu-img skips every extent line whose access is not RW, and ZERO extents, so it cannot be the oracle
      // here: the expected bytes are assembled from the raw input per the specification.
      const d = join(dir, 'desc-zero');
      mkdirSync(d);
      copyFileSync(join(dir, 'raw.img'), join(d, 'data.bin'));
      writeFileSync(
        join(d, 'disk.vmdk'),
        '# Disk DescriptorFile\nversion=1\ncreateType="monolithicFlat"\n' +
          'RW 2048 FLAT "data.bin" 4096\nRW 100 ZERO\nRDONLY 1000 FLAT "data.bin" 0\nNOACCESS 8 ZERO\n',
      );
      const expected = Buffer.concat([
        raw.subarray(4096 * 512, 6144 * 512),
        Buffer.alloc(100 * 512),
        raw.subarray(0, 1000 * 512),
        Buffer.alloc(8 * 512),
      ]);
      withImage(join(d, 'disk.vmdk'), (dev) => {
        assert.deepEqual(
          (dev.info.extents as Array<{ access: string; type: string }>).map((e) => `${e.access} ${e.type}`),
          ['RW FLAT', 'RW ZERO', 'RDONLY FLAT', 'NOACCESS ZERO'],
        );
        compareAll(dev, expected, 'zero extents');
      });
    });

    it('reads a disk of more extent files than it keeps open, reopening them as needed', () => {
      // 40 monolithicSparse, streamOptimized and flat extents made by qemu-img: more files than the reader keeps
      // open at once (32), and more compressed grains than it caches, so files are closed and reopened.
      const d = join(dir, 'many');
      mkdirSync(d);
      const piece = raw.subarray(0, 768 * KiB);
      writeFileSync(join(d, 'piece.raw'), piece);
      for (const s of ['monolithicSparse', 'streamOptimized']) {
        qemuConvert('piece.raw', `${s}.vmdk`, 'vmdk', { from: 'raw', options: `subformat=${s}`, cwd: d });
      }
      let desc =
        '# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType="twoGbMaxExtentSparse"\n';
      for (let i = 0; i < 40; i++) {
        const kind = ['monolithicSparse', 'streamOptimized', 'flat'][i % 3] ?? 'flat';
        const name = `e${i}-${kind}.vmdk`;
        copyFileSync(join(d, kind === 'flat' ? 'piece.raw' : `${kind}.vmdk`), join(d, name));
        desc += `RW ${piece.length / 512} ${kind === 'flat' ? 'FLAT' : 'SPARSE'} "${name}"${kind === 'flat' ? ' 0' : ''}\n`;
      }
      writeFileSync(join(d, 'disk.vmdk'), desc);
      const expected = Buffer.concat(Array.from({ length: 40 }, () => piece));
      assert.ok(qemuToRaw(join(d, 'disk.vmdk'), join(d, 'oracle.raw')).equals(expected));
      withImage(join(d, 'disk.vmdk'), (dev) => {
        assert.equal((dev.info.files as string[]).length, 41);
        compareAll(dev, expected, 'many extents');
        compareAll(dev, expected, 'many extents, again', 11);
      });
    });

    it('reads vmfs (VMFS extent) descriptors', () => {
      const d = join(dir, 'vmfs');
      mkdirSync(d);
      copyFileSync(join(dir, 'raw.img'), join(d, 'disk-flat.vmdk'));
      const sectors = RAW_SIZE / 512;
      writeFileSync(
        join(d, 'disk.vmdk'),
        `# Disk DescriptorFile\nversion=1\nencoding="UTF-8"\nCID=fffffffe\nparentCID=ffffffff\n` +
          `createType="vmfs"\n\n# Extent description\nRW ${sectors} VMFS "disk-flat.vmdk"\n\n` +
          `# The Disk Data Base\n#DDB\nddb.thinProvisioned = "1"\n`,
      );
      const expected = qemuToRaw(join(d, 'disk.vmdk'), join(d, 'oracle.raw'));
      assert.ok(expected.equals(raw));
      withImage(join(d, 'disk.vmdk'), (dev) => {
        assert.equal(dev.info.subformat, 'vmfs');
        compareAll(dev, expected, 'vmfs');
      });
    });

    it('refuses extents outside the image directory unless allowed, and names the descriptor for a missing one', () => {
      const d = join(dir, 'paths');
      mkdirSync(d);
      const desc = (name: string): string =>
        `# Disk DescriptorFile\nversion=1\ncreateType="monolithicFlat"\nRW ${RAW_SIZE / 512} FLAT "${name}" 0\n`;
      writeFileSync(join(d, 'up.vmdk'), desc('../raw.img'));
      writeFileSync(join(d, 'abs.vmdk'), desc(join(dir, 'raw.img')));
      writeFileSync(join(d, 'missing.vmdk'), desc('nope-flat.vmdk'));
      for (const f of ['up.vmdk', 'abs.vmdk']) {
        const e = expectError(() => openImage(join(d, f)), 'E_BACKING_REFUSED');
        assert.equal(e.location.layer, 'VMDK extent');
        withImage(join(d, f), (dev) => compareAll(dev, raw, f), { allowOutside: true });
      }
      const e = expectError(() => openImage(join(d, 'missing.vmdk')), 'E_NOT_FOUND', /nope-flat\.vmdk/);
      assert.equal(e.location.file, join(d, 'missing.vmdk'));
    });

    it('bounds the descriptor size and the number of extents', () => {
      const d = join(dir, 'limits');
      mkdirSync(d);
      const head = '# Disk DescriptorFile\nversion=1\ncreateType="monolithicFlat"\n';
      writeFileSync(join(d, 'huge.vmdk'), head + '#'.repeat(5 * MiB) + '\n');
      expectError(() => openImage(join(d, 'huge.vmdk')), 'E_LIMIT', /descriptor/);
      writeFileSync(join(d, 'many.vmdk'), head + 'RW 1 ZERO\n'.repeat(40_000));
      expectError(() => openImage(join(d, 'many.vmdk')), 'E_LIMIT', /extents/);
      writeFileSync(join(d, 'none.vmdk'), head);
      expectError(() => openImage(join(d, 'none.vmdk')), 'E_IMAGE_CORRUPT', /no extents/);
      writeFileSync(join(d, 'bad.vmdk'), head + 'RW lots FLAT "x"\n');
      expectError(() => openImage(join(d, 'bad.vmdk')), 'E_IMAGE_CORRUPT', /invalid extent line/);
    });

    it('refuses ESX sparse (COWD) and other unsupported extent types clearly', () => {
      const d = join(dir, 'unsupported');
      mkdirSync(d);
      const cowd = Buffer.alloc(4096);
      cowd.write('COWD', 0, 'latin1');
      cowd.writeUInt32LE(1, 4);
      writeFileSync(join(d, 'esx-delta.vmdk'), cowd);
      expectError(() => openImage(join(d, 'esx-delta.vmdk')), 'E_UNSUPPORTED_FORMAT', /COWD/);
      for (const type of ['VMFSSPARSE', 'SESPARSE', 'VMFSRDM', 'WHATEVER']) {
        writeFileSync(
          join(d, 'x.vmdk'),
          `# Disk DescriptorFile\ncreateType="vmfsSparse"\nRW 100 ${type} "esx-delta.vmdk"\n`,
        );
        expectError(() => openImage(join(d, 'x.vmdk')), 'E_UNSUPPORTED_FORMAT', new RegExp(type));
      }
    });
  });

  describe('sparse header bounds', () => {
    it('refuses a grain directory larger than the file without allocating it', () => {
      const img = Buffer.from(readFileSync(join(dir, 'monolithicSparse.vmdk')));
      img.writeBigUInt64LE(1n << 36n, 12); // 32 TiB: a 4 MiB directory in a 3 MiB file
      writeFileSync(join(dir, 'big-cap.vmdk'), img);
      const e = expectError(
        () => openImage(join(dir, 'big-cap.vmdk')),
        'E_IMAGE_CORRUPT',
        /outside the file/,
      );
      assert.equal(e.location.layer, 'VMDK grain directory');
      img.writeBigUInt64LE(1n << 42n, 12);
      writeFileSync(join(dir, 'big-cap.vmdk'), img);
      expectError(() => openImage(join(dir, 'big-cap.vmdk')), 'E_LIMIT', /grain directory entries/);
    });

    it('refuses grain sizes that are not a bounded power of two', () => {
      for (const g of [0n, 3n, 100n, 1n << 20n]) {
        const img = Buffer.from(readFileSync(join(dir, 'monolithicSparse.vmdk')));
        img.writeBigUInt64LE(g, 20);
        writeFileSync(join(dir, 'grain.vmdk'), img);
        const e = expectError(() => openImage(join(dir, 'grain.vmdk')), 'E_IMAGE_CORRUPT', /grain size/);
        assert.equal(e.location.offset, 20);
      }
    });
  });

  describe('hostile input (fast-check)', () => {
    const SMALL = 640 * KiB;
    let small: Buffer = Buffer.alloc(0);
    const images = new Map<string, Buffer>();
    let fz = '';

    before(() => {
      fz = join(dir, 'fuzz');
      mkdirSync(fz);
      small = pattern(SMALL, 9, [[128 * KiB, 300 * KiB]]);
      writeFileSync(join(fz, 'small.raw'), small);
      for (const s of ['monolithicSparse', 'streamOptimized', 'twoGbMaxExtentSparse']) {
        qemuConvert('small.raw', `${s}.vmdk`, 'vmdk', { from: 'raw', options: `subformat=${s}`, cwd: fz });
        images.set(s, readFileSync(join(fz, `${s}.vmdk`)));
      }
      images.set('footerStream', buildStream(small, { gtes: 4 }));
      images.set('twoGbExtent', readFileSync(join(fz, 'twoGbMaxExtentSparse-s001.vmdk')));
      images.set('twoGbDescriptor', readFileSync(join(fz, 'twoGbMaxExtentSparse.vmdk')));
    });

    const fuzzFile = (name: string, buf: Buffer): string => {
      const p = join(fz, name);
      writeFileSync(p, buf);
      return p;
    };
    const get = (name: string): Buffer => {
      const b = images.get(name);
      assert.ok(b);
      return b;
    };

    for (const name of ['monolithicSparse', 'streamOptimized', 'footerStream']) {
      it(`${name}: header edits`, () => {
        fc.assert(
          fc.property(byteEditsIn(0, 512, 8), (edits) => {
            const p = fuzzFile('h.vmdk', applyEdits(get(name), edits));
            onlyHyperwardErrors(() => openAndRead(p));
          }),
          { numRuns: 300 },
        );
      });

      it(`${name}: grain directory and table edits`, () => {
        const img = get(name);
        const h = header(img);
        const foot = h.gdOffset === -1 ? header(img, img.length - 1024) : h;
        // Metadata sits between the (redundant) directory and the first grain, or (stream) at the end.
        const from =
          h.gdOffset === -1
            ? foot.gdOffset * 512 - 4096
            : Math.min(foot.gdOffset, foot.rgdOffset || Infinity) * 512;
        const to = h.gdOffset === -1 ? img.length : foot.overhead * 512;
        assert.ok(to > from);
        fc.assert(
          fc.property(
            fc.array(
              fc.tuple(
                fc.integer({ min: from, max: to - 1 }),
                fc.oneof(fc.nat({ max: 255 }), fc.constantFrom(0, 1, 0xff, 0x7f)),
              ),
              { minLength: 1, maxLength: 12 },
            ),
            (edits) => {
              const p = fuzzFile('t.vmdk', applyEdits(img, edits));
              onlyHyperwardErrors(() => openAndRead(p));
            },
          ),
          { numRuns: 300 },
        );
      });

      it(`${name}: truncation`, () => {
        const img = get(name);
        fc.assert(
          fc.property(fc.nat({ max: img.length }), (n) => {
            const p = fuzzFile('cut.vmdk', img.subarray(0, n));
            onlyHyperwardErrors(() => openAndRead(p));
          }),
          { numRuns: 200 },
        );
      });
    }

    it('streamOptimized: compressed grain edits', () => {
      const img = get('streamOptimized');
      const h = header(img);
      fc.assert(
        fc.property(byteEditsIn(h.overhead * 512, img.length, 16), (edits) => {
          const p = fuzzFile('g.vmdk', applyEdits(img, edits));
          onlyHyperwardErrors(() => openAndRead(p));
        }),
        { numRuns: 200 },
      );
    });

    it('embedded descriptor edits', () => {
      const img = get('monolithicSparse');
      const h = header(img);
      const text = img.toString(
        'utf8',
        h.descriptorOffset * 512,
        (h.descriptorOffset + h.descriptorSize) * 512,
      );
      const used = text.indexOf('\0');
      fc.assert(
        fc.property(
          byteEditsIn(h.descriptorOffset * 512, h.descriptorOffset * 512 + used + 16, 10),
          (edits) => {
            const p = fuzzFile('d.vmdk', applyEdits(img, edits));
            onlyHyperwardErrors(() => openAndRead(p));
          },
        ),
        { numRuns: 300 },
      );
    });

    it('descriptor file: byte edits, inserted lines, and a damaged extent file', () => {
      fuzzFile('twoGbMaxExtentSparse-s001.vmdk', get('twoGbExtent'));
      const desc = get('twoGbDescriptor').toString('utf8');
      const lines = desc.split('\n');
      const line = fc.oneof(
        fc.string({ maxLength: 80 }),
        fc
          .tuple(
            fc.constantFrom('RW', 'rdonly', 'NOACCESS', 'rw'),
            fc.oneof(fc.nat(), fc.constant(2 ** 53), fc.constant(1e30)),
            fc.constantFrom('SPARSE', 'FLAT', 'ZERO', 'VMFS', 'sparse', 'Flat', 'VMFSSPARSE'),
            fc.constantFrom(
              '"twoGbMaxExtentSparse-s001.vmdk"',
              '"small.raw"',
              '"/etc/passwd"',
              '""',
              '"../x"',
              '',
            ),
            fc.oneof(fc.constant(''), fc.nat().map(String), fc.constant('99999999999999999999')),
          )
          .map((p) => p.join(' ')),
        fc
          .tuple(
            fc.constantFrom('createType', 'parentFileNameHint', 'CID', 'parentCID'),
            fc.string({ maxLength: 30 }),
          )
          .map(([k, v]) => `${k}="${v}"`),
      );
      fc.assert(
        fc.property(
          fc.array(fc.tuple(fc.nat({ max: lines.length }), line), { maxLength: 6 }),
          byteEditsIn(0, desc.length, 6),
          fc.boolean(),
          (inserts, edits, editBytes) => {
            const l = [...lines];
            for (const [at, text] of inserts) l.splice(at, 0, text);
            let buf: Buffer = Buffer.from(l.join('\n'), 'utf8');
            if (editBytes) buf = applyEdits(buf, edits);
            const p = fuzzFile('twoGbMaxExtentSparse.vmdk', buf);
            onlyHyperwardErrors(() => openAndRead(p));
          },
        ),
        { numRuns: 300 },
      );
      // The extent file itself, damaged, behind an intact descriptor.
      fuzzFile('twoGbMaxExtentSparse.vmdk', get('twoGbDescriptor'));
      const ext = get('twoGbExtent');
      const h = header(ext);
      fc.assert(
        fc.property(byteEditsIn(0, h.overhead * 512, 12), fc.nat({ max: ext.length }), (edits, cut) => {
          fuzzFile('twoGbMaxExtentSparse-s001.vmdk', applyEdits(ext, edits).subarray(0, Math.max(cut, 512)));
          onlyHyperwardErrors(() => openAndRead(join(fz, 'twoGbMaxExtentSparse.vmdk')));
        }),
        { numRuns: 200 },
      );
    });
  });
});
