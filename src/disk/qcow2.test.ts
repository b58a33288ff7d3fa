import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import fc from 'fast-check';
import { newReadStats } from '../source/file.js';
import { openImage, type OpenImageOptions } from './open.js';
import type { BlockDevice } from './types.js';
import { run, tempDir } from '../../test/helpers/tmp.js';
import { assertReadsMatch } from '../../test/helpers/compare.js';
import { expectError } from '../../test/helpers/errors.js';
import { qemuConvert, qemuInfo, qemuMap, qemuToRaw, withImage } from '../../test/helpers/images.js';
import { modPicker, mulberry32 } from '../../test/helpers/pattern.js';
import { applyEdits, byteEditsIn, onlyHyperwardErrors } from '../../test/helpers/fuzz.js';

const KiB = 1024;
const MiB = 1024 * 1024;

const WORDS = ['package', 'version', 'linux', 'kernel', 'usr', 'lib', 'x86_64', 'debian', 'ssh', 'etc', '\n'];

/**
 * A raw disk of `size` bytes made of regions of random bytes (incompressible), text (compressible) and zeros
 * (which qemu-img leaves unallocated), with region sizes that do not line up with clusters.
 */
function makeRaw(path: string, size: number, seed: number): Buffer {
  const next = mulberry32(seed);
  const buf = Buffer.alloc(size);
  let pos = 0;
  while (pos < size) {
    const len = Math.min(size - pos, 1 + (next() % (300 * KiB)));
    const kind = next() % 10;
    if (kind < 4) {
      for (let i = pos; i < pos + len; i++) buf[i] = next() & 0xff;
    } else if (kind < 7) {
      let i = pos;
      while (i < pos + len) {
        const w = WORDS[next() % WORDS.length]!;
        i += buf.write(w + ' ', i, pos + len - i, 'latin1');
      }
    }
    pos += len;
  }
  writeFileSync(path, buf);
  return buf;
}

function toRaw(dir: string, image: string): Buffer {
  const out = join(dir, `oracle-${Math.random().toString(36).slice(2)}.raw`);
  // qemu resolves external data file names against its working directory: run it beside the image.
  return qemuToRaw(image, out, { cwd: dirname(image) });
}

interface QemuInfo {
  'virtual-size': number;
  'cluster-size': number;
  'format-specific': { data: { compat: string; 'compression-type': string; 'extended-l2': boolean } };
}

function qemuIo(image: string, cmds: string[]): void {
  run('qemu-io', ['-f', 'qcow2', ...cmds.flatMap((c) => ['-c', c]), image], { cwd: dirname(image) });
}

/** Every byte through our reader equals `expected`: one full read, 1 MiB sweeps and random ranges. */
function assertSameBytes(dev: BlockDevice, expected: Buffer, seed: number): void {
  assertReadsMatch(dev, expected, {
    wholeRead: true,
    chunk: MiB,
    randomReads: 150,
    pick: modPicker(mulberry32(seed)),
    maxLength: (i) => (i % 3 === 0 ? 2048 : 200 * KiB),
  });
}

/** Checks our read of `image` against qemu's own conversion of it. */
function assertMatchesQemu(
  dir: string,
  image: string,
  seed: number,
  opts?: OpenImageOptions,
): BlockDevice['info'] {
  const expected = toRaw(dir, image);
  return withImage(
    image,
    (dev) => {
      assertSameBytes(dev, expected, seed);
      return dev.info;
    },
    opts,
  );
}

let dir = '';
let cleanup = (): void => {};
before(() => {
  ({ dir, cleanup } = tempDir('hyperward-qcow2-'));
});
after(() => cleanup());

describe('qcow2 layouts', () => {
  test('v2 (compat=0.10) and v3 images equal the raw source', () => {
    const raw = makeRaw(join(dir, 'src1.raw'), 3 * MiB + 7 * 512, 1);
    for (const compat of ['0.10', '1.1']) {
      const img = join(dir, `compat-${compat}.qcow2`);
      qemuConvert(join(dir, 'src1.raw'), img, 'qcow2', { options: `compat=${compat}` });
      withImage(img, (dev) => {
        assert.equal(dev.format, 'qcow2');
        assert.equal(
          dev.info.subformat,
          qemuInfo<QemuInfo>(img)['format-specific'].data.compat === '0.10' ? 'v2' : 'v3',
        );
        assert.deepEqual(dev.info.files, [img]);
        assertSameBytes(dev, raw, 2);
      });
    }
  });

  test('cluster sizes 512 B, 64 KiB and 2 MiB', () => {
    const cases: Array<[number, number]> = [
      // 512-byte clusters: 64 entries per L2 table, so this size needs more tables than the cache holds.
      [512, 2 * MiB + 512 * KiB + 3 * 512],
      [64 * KiB, 3 * MiB + 512],
      [2 * MiB, 5 * MiB + 512],
    ];
    for (const [cluster, size] of cases) {
      const rawPath = join(dir, `cs-${cluster}.raw`);
      const raw = makeRaw(rawPath, size, cluster);
      const img = join(dir, `cs-${cluster}.qcow2`);
      qemuConvert(rawPath, img, 'qcow2', { options: `cluster_size=${cluster}` });
      withImage(img, (dev) => {
        assert.equal(dev.info.clusterSize, qemuInfo<QemuInfo>(img)['cluster-size']);
        assertSameBytes(dev, raw, cluster);
      });
    }
  });

  test('compressed clusters: deflate and zstd, small and large clusters', () => {
    const cases: Array<[string, number]> = [
      ['zlib', 512],
      ['zlib', 64 * KiB],
      ['zlib', 2 * MiB],
      ['zstd', 4 * KiB],
      ['zstd', 64 * KiB],
      ['zstd', 2 * MiB],
    ];
    for (const [ctype, cluster] of cases) {
      const rawPath = join(dir, `c-${ctype}-${cluster}.raw`);
      const raw = makeRaw(rawPath, cluster === 512 ? MiB : 2 * MiB + 1024, cluster + 7);
      const img = join(dir, `c-${ctype}-${cluster}.qcow2`);
      const opts = `cluster_size=${cluster},compression_type=${ctype}`;
      qemuConvert(rawPath, img, 'qcow2', { compress: true, options: opts });
      // qemu-img map lists compressed clusters as data without a host offset: make sure there are some.
      assert.ok(
        qemuMap(img).some((e) => e.data && e.offset === undefined),
        `${img} has no compressed cluster`,
      );
      withImage(img, (dev) => {
        const qemuType = qemuInfo<QemuInfo>(img)['format-specific'].data['compression-type'];
        assert.equal(dev.info.compression, qemuType === 'zlib' ? 'deflate' : qemuType);
        assertSameBytes(dev, raw, cluster + 1);
      });
    }
  });

  test('extended L2 entries: subclusters allocated, zeroed and left to the backing file', () => {
    const base = join(dir, 'ext-base.qcow2');
    makeRaw(join(dir, 'ext-base.raw'), 2 * MiB, 11);
    qemuConvert(join(dir, 'ext-base.raw'), base, 'qcow2');
    for (const cluster of ['64k', '16k']) {
      const top = join(dir, `ext-top-${cluster}.qcow2`);
      run('qemu-img', [
        'create',
        '-q',
        '-f',
        'qcow2',
        '-o',
        `extended_l2=on,cluster_size=${cluster}`,
        '-b',
        'ext-base.qcow2',
        '-F',
        'qcow2',
        top,
      ]);
      qemuIo(top, [
        'write -P 0xab 4k 4k',
        'write -P 0xcd 70k 2k',
        'write -z 200k 10k',
        'write -P 0x11 1000k 100k',
        'write -z 1536k 128k',
        'write -P 0x5a 1599k 1k',
        'write -P 0x77 2044k 4k',
      ]);
      assert.equal(qemuInfo<QemuInfo>(top)['format-specific'].data['extended-l2'], true);
      // The overlay really has partial clusters (map entries finer than a cluster at depth 0).
      const clusterBytes = parseInt(cluster, 10) * KiB;
      assert.ok(qemuMap(top).some((e) => e.depth === 0 && e.length % clusterBytes !== 0));
      const info = assertMatchesQemu(dir, top, 12);
      assert.equal(info.extendedL2, true);
    }
  });

  test('v3 zero clusters hide the backing file; v2 overlays store zeros', () => {
    const baseRaw = join(dir, 'z-base.raw');
    makeRaw(baseRaw, MiB, 21);
    for (const compat of ['1.1', '0.10']) {
      const base = join(dir, `z-base-${compat}.qcow2`);
      const top = join(dir, `z-top-${compat}.qcow2`);
      qemuConvert(baseRaw, base, 'qcow2', { options: `compat=${compat}` });
      run('qemu-img', [
        'create',
        '-q',
        '-f',
        'qcow2',
        '-o',
        `compat=${compat}`,
        '-b',
        base,
        '-F',
        'qcow2',
        top,
      ]);
      qemuIo(top, [
        'write -z 0 128k',
        'write -P 0x42 256k 128k',
        'write -z 256k 64k',
        'write -z -u 512k 64k',
        'write -z 700k 3k',
      ]);
      if (compat === '1.1') {
        // Zero flags in the overlay over data in the base: qemu reports them as zero at depth 0.
        assert.ok(qemuMap(top).some((e) => e.depth === 0 && e.zero && e.start === 0));
      }
      assertMatchesQemu(dir, top, 22);
    }
  });

  test('backing chain of depth 3 with relative names, and a short raw backing file', () => {
    const sub = join(dir, 'chain');
    mkdirSync(sub);
    makeRaw(join(sub, 'base.raw'), 3 * MiB, 31);
    qemuConvert(join(sub, 'base.raw'), join(sub, 'base.qcow2'), 'qcow2');
    run('qemu-img', [
      'create',
      '-q',
      '-f',
      'qcow2',
      '-b',
      'base.qcow2',
      '-F',
      'qcow2',
      join(sub, 'mid.qcow2'),
    ]);
    qemuIo(join(sub, 'mid.qcow2'), ['write -P 0x01 64k 300k', 'write -z 1m 64k', 'write -P 0x02 2800k 200k']);
    run('qemu-img', [
      'create',
      '-q',
      '-f',
      'qcow2',
      '-b',
      'mid.qcow2',
      '-F',
      'qcow2',
      join(sub, 'top.qcow2'),
    ]);
    qemuIo(join(sub, 'top.qcow2'), ['write -P 0x03 100k 100k', 'write -P 0x04 1020k 8k', 'write -z 2m 512k']);
    // Grow the top past the chain: the bytes past the base read as zeros.
    run('qemu-img', ['resize', '-q', join(sub, 'top.qcow2'), '4M']);
    const info = assertMatchesQemu(dir, join(sub, 'top.qcow2'), 32);
    assert.equal(info.files.length, 3);
    assert.equal(info.backingFile, 'mid.qcow2');
    const backing = info.backing as BlockDevice['info'];
    assert.equal(backing.format, 'qcow2');
    assert.equal((backing.backing as BlockDevice['info']).format, 'qcow2');

    // A raw backing file whose first bytes look like a qcow2 header: the format extension says raw, so it is.
    const small = makeRaw(join(sub, 'small.raw'), 1536 * KiB, 33);
    small.write('QFI\xfb', 0, 'latin1');
    writeFileSync(join(sub, 'small.raw'), small);
    const rawTop = join(sub, 'rawtop.qcow2');
    run('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', 'small.raw', '-F', 'raw', rawTop, '4M']);
    qemuIo(rawTop, ['write -P 0x09 1500k 100k']);
    const rinfo = assertMatchesQemu(dir, rawTop, 34);
    assert.equal(rinfo.backingFormat, 'raw');
    assert.equal((rinfo.backing as BlockDevice['info']).format, 'raw');
  });

  test('external data file', () => {
    for (const raw of ['off', 'on']) {
      const img = join(dir, `ext-data-${raw}.qcow2`);
      run(
        'qemu-img',
        [
          'create',
          '-q',
          '-f',
          'qcow2',
          '-o',
          `data_file=ext-data-${raw}.bin,data_file_raw=${raw}`,
          img,
          '2M',
        ],
        { cwd: dir },
      );
      qemuIo(img, ['write -P 0x61 0 100k', 'write -P 0x62 1m 64k', 'write -z 1040k 4k']);
      const info = assertMatchesQemu(dir, img, 41);
      assert.deepEqual(info.files, [img, join(dir, `ext-data-${raw}.bin`)]);
      assert.equal(info.dataFileRaw, raw === 'on');
    }
  });

  test('the dfvfs ext2.qcow2 fixture equals qemu-img convert', () => {
    const fixture = join(import.meta.dirname, '../../fixtures/dfvfs/ext2.qcow2');
    const expected = toRaw(dir, fixture);
    withImage(fixture, (dev) => {
      assertSameBytes(dev, expected, 51);
      // ext2 superblock magic, from the real image: a sanity check that the image is what we think it is.
      assert.equal(dev.read(1024 + 56, 2).readUInt16LE(0), 0xef53);
    });
  });

  test('contiguous clusters are read with one read each run; L2 tables are cached', () => {
    const rawPath = join(dir, 'perf.raw');
    const next = mulberry32(61);
    const raw = Buffer.alloc(8 * MiB);
    for (let i = 0; i < raw.length; i += 4) raw.writeUInt32LE(next(), i);
    writeFileSync(rawPath, raw);
    const img = join(dir, 'perf.qcow2');
    qemuConvert(rawPath, img, 'qcow2', { options: 'cluster_size=4k' });
    // qemu-img lays the clusters out in one contiguous run; our reader must use it.
    const runs = qemuMap(img).filter((e) => e.data).length;
    const stats = newReadStats();
    withImage(
      img,
      (dev) => {
        const before = stats.reads;
        assert.ok(dev.read(0, dev.size).equals(raw));
        const used = stats.reads - before;
        const l2Tables = Math.ceil(raw.length / 4096 / 512);
        assert.ok(used <= runs + l2Tables + 2, `${used} reads for ${runs} runs and ${l2Tables} L2 tables`);
        const again = stats.reads;
        assert.ok(dev.read(0, dev.size).equals(raw));
        assert.ok(stats.reads - again <= runs + 2, 'L2 tables were read again');
      },
      { stats },
    );
  });
});

describe('qcow2 policy and damage', () => {
  test('encrypted (LUKS) images throw E_ENCRYPTED', () => {
    const img = join(dir, 'luks.qcow2');
    const create = () =>
      run('qemu-img', [
        'create',
        '-q',
        '-f',
        'qcow2',
        '--object',
        'secret,id=sec0,data=abc',
        '-o',
        'encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time=10',
        img,
        '1M',
      ]);
    // qemu times its PBKDF for iter-time, and on a loaded machine that measurement can fail ("Unable to get
    // accurate CPU usage"): that one error is retried; anything else fails the test.
    for (let attempt = 1; ; attempt++) {
      try {
        create();
        break;
      } catch (e) {
        if (attempt >= 5 || !/Unable to get accurate CPU usage/.test(String(e))) throw e;
      }
    }
    const e = expectError(() => openImage(img), 'E_ENCRYPTED', { layer: /qcow2 header/ });
    assert.equal(e.location.offset, 32);
    assert.match(e.message, /LUKS/);
    // The legacy AES method (crypt_method 1) too.
    const aes = join(dir, 'aes.qcow2');
    run('qemu-img', [
      'create',
      '-q',
      '-f',
      'qcow2',
      '--object',
      'secret,id=sec0,data=abc',
      '-o',
      'encrypt.format=aes,encrypt.key-secret=sec0',
      aes,
      '1M',
    ]);
    assert.match(expectError(() => openImage(aes), 'E_ENCRYPTED').message, /AES/);
  });

  test('backing files outside the image directory are refused unless allowed', () => {
    mkdirSync(join(dir, 'outa'));
    mkdirSync(join(dir, 'outb'));
    makeRaw(join(dir, 'outa', 'base.raw'), MiB, 71);
    qemuConvert(join(dir, 'outa', 'base.raw'), join(dir, 'outa', 'base.qcow2'), 'qcow2');
    const top = join(dir, 'outb', 'top.qcow2');
    run('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', '../outa/base.qcow2', '-F', 'qcow2', top]);
    qemuIo(top, ['write -P 0x33 0 4k']);
    expectError(() => openImage(top), 'E_BACKING_REFUSED', { layer: /qcow2 backing file/ });
    assertMatchesQemu(dir, top, 72, { allowOutside: true });
  });

  test('cyclic backing chains are detected', () => {
    const sub = join(dir, 'cycle');
    mkdirSync(sub);
    // An image patched to back itself.
    run('qemu-img', ['create', '-q', '-f', 'qcow2', join(sub, 'aaaa.qcow2'), '1M']);
    run('qemu-img', [
      'create',
      '-q',
      '-f',
      'qcow2',
      '-b',
      'aaaa.qcow2',
      '-F',
      'qcow2',
      join(sub, 'bbbb.qcow2'),
    ]);
    const img = readFileSync(join(sub, 'bbbb.qcow2'));
    const nameAt = Number(img.readBigUInt64BE(8));
    assert.equal(img.toString('latin1', nameAt, nameAt + img.readUInt32BE(16)), 'aaaa.qcow2');
    img.write('bbbb', nameAt, 'latin1');
    writeFileSync(join(sub, 'bbbb.qcow2'), img);
    assert.match(expectError(() => openImage(join(sub, 'bbbb.qcow2')), 'E_IMAGE_CORRUPT').message, /cyclic/);
    // A -> B -> A.
    run('qemu-img', [
      'create',
      '-q',
      '-f',
      'qcow2',
      '-u',
      '-b',
      'b.qcow2',
      '-F',
      'qcow2',
      join(sub, 'a.qcow2'),
      '1M',
    ]);
    run('qemu-img', [
      'create',
      '-q',
      '-f',
      'qcow2',
      '-u',
      '-b',
      'a.qcow2',
      '-F',
      'qcow2',
      join(sub, 'b.qcow2'),
      '1M',
    ]);
    assert.match(expectError(() => openImage(join(sub, 'a.qcow2')), 'E_IMAGE_CORRUPT').message, /cyclic/);
  });

  describe('damaged images', () => {
    let good = Buffer.alloc(0);
    let l1Offset = 0;
    let l2Offset = 0;
    const path = (): string => join(dir, 'damaged.qcow2');
    const patched = (edit: (b: Buffer) => void): string => {
      const b = Buffer.from(good);
      edit(b);
      writeFileSync(path(), b);
      return path();
    };
    const readAll = (p: string): void => {
      withImage(p, (dev) => {
        dev.read(0, dev.size);
      });
    };

    before(() => {
      makeRaw(join(dir, 'damaged.raw'), 2 * MiB, 81);
      qemuConvert(join(dir, 'damaged.raw'), join(dir, 'good.qcow2'), 'qcow2');
      good = readFileSync(join(dir, 'good.qcow2'));
      l1Offset = Number(good.readBigUInt64BE(40));
      l2Offset = Number(good.readBigUInt64BE(l1Offset) & 0x00fffffffffffe00n);
      assert.ok(l2Offset > 0);
    });

    test('a truncated image fails on read, naming the L2 entry', () => {
      writeFileSync(path(), good);
      truncateSync(path(), l2Offset + 65536 + 4096);
      const e = expectError(() => readAll(path()), 'E_IMAGE_CORRUPT', { layer: /qcow2 L2 table/ });
      assert.ok((e.location.offset ?? -1) >= l2Offset);
      truncateSync(path(), 100);
      expectError(() => openImage(path()), 'E_IMAGE_CORRUPT', { layer: /qcow2 header/ });
      truncateSync(path(), l1Offset + 4);
      expectError(() => openImage(path()), 'E_IMAGE_CORRUPT', { layer: /qcow2 header/ });
    });

    test('L1 and L2 entries pointing past the end or unaligned', () => {
      let e = expectError(
        () => readAll(patched((b) => b.writeBigUInt64BE(0x8000_0000_0fff_0000n, l1Offset))),
        'E_IMAGE_CORRUPT',
        { layer: /qcow2 L1 table/ },
      );
      assert.equal(e.location.offset, l1Offset);
      expectError(
        () => readAll(patched((b) => b.writeBigUInt64BE(BigInt(l2Offset + 512), l1Offset))),
        'E_IMAGE_CORRUPT',
        { layer: /qcow2 L1 table/ },
      );
      // First allocated L2 entry -> far past the end of the file.
      const first = [...Array(8192).keys()].find((i) => good.readBigUInt64BE(l2Offset + i * 8) !== 0n)!;
      e = expectError(
        () => readAll(patched((b) => b.writeBigUInt64BE(0x8000_0000_7fff_0000n, l2Offset + first * 8))),
        'E_IMAGE_CORRUPT',
        { layer: /qcow2 L2 table/ },
      );
      assert.equal(e.location.offset, l2Offset + first * 8);
      expectError(
        () => readAll(patched((b) => b.writeBigUInt64BE(0x8000_0000_0001_0200n, l2Offset + first * 8))),
        'E_IMAGE_CORRUPT',
        { layer: /qcow2 L2 table/ },
      );
      // A compressed descriptor pointing past the end.
      expectError(
        () => readAll(patched((b) => b.writeBigUInt64BE(0x4000_0000_7fff_0000n, l2Offset + first * 8))),
        'E_IMAGE_CORRUPT',
        { layer: /qcow2 L2 table/ },
      );
    });

    test('absurd header fields', () => {
      const cases: Array<[string, (b: Buffer) => void, string, number]> = [
        ['cluster_bits 30', (b) => b.writeUInt32BE(30, 20), 'E_IMAGE_CORRUPT', 20],
        ['cluster_bits 8', (b) => b.writeUInt32BE(8, 20), 'E_IMAGE_CORRUPT', 20],
        ['l1_size 0', (b) => b.writeUInt32BE(0, 36), 'E_IMAGE_CORRUPT', 36],
        ['l1_size 2^32-1', (b) => b.writeUInt32BE(0xffffffff, 36), 'E_LIMIT', 36],
        ['l1_size past the end', (b) => b.writeUInt32BE(1 << 20, 36), 'E_IMAGE_CORRUPT', 40],
        ['size 2^62', (b) => b.writeBigUInt64BE(1n << 62n, 24), 'E_IMAGE_CORRUPT', 24],
        ['size 2^52', (b) => b.writeBigUInt64BE(1n << 52n, 24), 'E_LIMIT', 24],
        ['size 1 TiB', (b) => b.writeBigUInt64BE(1n << 40n, 24), 'E_IMAGE_CORRUPT', 36],
        ['L1 offset unaligned', (b) => b.writeBigUInt64BE(BigInt(l1Offset + 8), 40), 'E_IMAGE_CORRUPT', 40],
        ['version 4', (b) => b.writeUInt32BE(4, 4), 'E_UNSUPPORTED_FORMAT', 4],
        ['unknown incompatible bit', (b) => b.writeBigUInt64BE(1n << 5n, 72), 'E_UNSUPPORTED_FORMAT', 72],
        ['header_length 50', (b) => b.writeUInt32BE(50, 100), 'E_IMAGE_CORRUPT', 100],
        ['zstd bit without type', (b) => b.writeBigUInt64BE(1n << 3n, 72), 'E_IMAGE_CORRUPT', 104],
        [
          'backing name 2000 bytes',
          (b) => (b.writeBigUInt64BE(512n, 8), b.writeUInt32BE(2000, 16)),
          'E_IMAGE_CORRUPT',
          512,
        ],
      ];
      for (const [what, edit, code, offset] of cases) {
        const e = expectError(() => readAll(patched(edit)), code, { layer: /qcow2/ });
        assert.equal(e.location.offset, offset, `${what}: ${e.message}`);
      }
    });

    test('dirty and corrupt bits: still readable, the corrupt bit is reported', () => {
      const expected = readFileSync(join(dir, 'damaged.raw'));
      withImage(
        patched((b) => b.writeBigUInt64BE(1n, 72)),
        (dev) => {
          assert.equal(dev.info.dirty, true);
          assert.ok(dev.read(0, dev.size).equals(expected));
        },
      );
      withImage(
        patched((b) => b.writeBigUInt64BE(2n, 72)),
        (dev) => {
          assert.equal((dev.info.warnings as string[]).length, 1);
          assert.ok(dev.read(0, dev.size).equals(expected));
        },
      );
    });
  });
});

describe('qcow2 fuzzing', () => {
  interface Target {
    name: string;
    bytes: Buffer;
    l1: [number, number];
    l2: [number, number];
  }
  const targets: Target[] = [];

  before(() => {
    const sub = join(dir, 'fuzz');
    mkdirSync(sub);
    makeRaw(join(sub, 'f.raw'), 512 * KiB, 91);
    const make = (name: string, args: string[]): void => {
      run('qemu-img', ['convert', ...args, join(sub, 'f.raw'), join(sub, name)]);
    };
    make('plain.qcow2', ['-O', 'qcow2', '-o', 'cluster_size=4k']);
    make('deflate.qcow2', ['-c', '-O', 'qcow2', '-o', 'cluster_size=4k']);
    make('zstd.qcow2', ['-c', '-O', 'qcow2', '-o', 'cluster_size=4k,compression_type=zstd']);
    make('v2.qcow2', ['-O', 'qcow2', '-o', 'cluster_size=1k,compat=0.10']);
    make('base.qcow2', ['-O', 'qcow2', '-o', 'cluster_size=16k']);
    run('qemu-img', [
      'create',
      '-q',
      '-f',
      'qcow2',
      '-o',
      'extended_l2=on,cluster_size=16k',
      '-b',
      'base.qcow2',
      '-F',
      'qcow2',
      join(sub, 'ext.qcow2'),
    ]);
    qemuIo(join(sub, 'ext.qcow2'), ['write -P 0xab 4k 4k', 'write -z 20k 2k', 'write -P 1 100k 50k']);
    qemuIo(join(sub, 'plain.qcow2'), ['write -z 8k 8k', 'write -z 64k 3k']);
    for (const name of ['plain', 'deflate', 'zstd', 'v2', 'ext']) {
      const bytes = readFileSync(join(sub, `${name}.qcow2`));
      const cs = 2 ** bytes.readUInt32BE(20);
      const l1 = Number(bytes.readBigUInt64BE(40));
      const l2 = Number(bytes.readBigUInt64BE(l1) & 0x00fffffffffffe00n);
      assert.ok(l2 > 0, `${name} has an L2 table`);
      targets.push({ name, bytes, l1: [l1, l1 + bytes.readUInt32BE(36) * 8], l2: [l2, l2 + cs] });
    }
  });

  test('mutated headers, tables and data, and truncation: only HyperwardErrors, reads finish', () => {
    const sub = join(dir, 'fuzz');
    for (const t of targets) {
      const file = join(sub, `mut-${t.name}.qcow2`);
      const edits = fc.oneof(
        byteEditsIn(0, 512),
        byteEditsIn(t.l1[0], t.l1[1]),
        byteEditsIn(t.l2[0], t.l2[1]),
        byteEditsIn(0, t.bytes.length, 32),
      );
      fc.assert(
        fc.property(edits, fc.option(fc.nat({ max: t.bytes.length }), { freq: 4 }), (e, cut) => {
          let b = applyEdits(t.bytes, e);
          if (cut !== null) b = b.subarray(0, cut);
          writeFileSync(file, b);
          onlyHyperwardErrors(() => {
            const dev = openImage(file);
            try {
              const size = Math.min(dev.size, 4 * MiB);
              for (let off = 0; off < size; off += 256 * KiB) {
                onlyHyperwardErrors(() => dev.read(off, Math.min(256 * KiB, size - off)));
              }
            } finally {
              dev.close();
            }
          });
        }),
        { numRuns: 200, seed: 0x9c0 + t.name.length },
      );
    }
  });
});
