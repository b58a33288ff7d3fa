import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { byteEditsIn, onlyHyperwardErrors } from '../../../test/helpers/fuzz.js';
import { run, tempDir } from '../../../test/helpers/tmp.js';
import { sparseFile, withRawDevice } from '../../../test/helpers/images.js';
import { partitionNumber, sfdiskTable, type SfdiskPartition } from '../../../test/helpers/sfdisk.js';
import type { BlockDevice } from '../types.js';
import { readPartitions } from './index.js';
import { MAX_EBR_CHAIN, mbrTypeName } from './mbr.js';
import type { PartitionTable } from './types.js';

const MiB = 1024 * 1024;
const SECTOR = 512;

function sfdiskParts(path: string): SfdiskPartition[] {
  // sfdisk may print notes ("omitting empty partition") before the JSON.
  const table = sfdiskTable(path);
  assert.equal(table.label, 'dos');
  return table.partitions ?? [];
}

const isExtended = (type: string): boolean => ['5', 'f', '85'].includes(type);

/** Our view of sfdisk's partitions: numbers, byte ranges, types as 0xNN, bootable flags. */
function expectedFrom(parts: SfdiskPartition[]): unknown[] {
  return parts.map((p) => ({
    index: partitionNumber(p.node),
    start: p.start * SECTOR,
    size: p.size * SECTOR,
    type: `0x${p.type.padStart(2, '0')}`,
    bootable: p.bootable === true ? true : undefined,
    extended: isExtended(p.type),
  }));
}

function ours(t: PartitionTable): unknown[] {
  return t.partitions.map((p) => ({
    index: p.index,
    start: p.start,
    size: p.size,
    type: p.type,
    bootable: p.bootable,
    extended: p.typeName === 'extended',
  }));
}

function marker(n: number): Buffer {
  return Buffer.from(`<partition ${String(n).padStart(4, '0')}>`); // 16 bytes
}

/** Marks the first and last 16 bytes of every data partition (not the extended containers: EBRs live there). */
function writeMarkers(path: string, parts: SfdiskPartition[]): void {
  const fd = openSync(path, 'r+');
  try {
    for (const p of parts) {
      if (isExtended(p.type)) continue;
      const m = marker(partitionNumber(p.node));
      writeSync(fd, m, 0, 16, p.start * SECTOR);
      writeSync(fd, m, 0, 16, (p.start + p.size) * SECTOR - 16);
    }
  } finally {
    closeSync(fd);
  }
}

function assertMarkers(t: PartitionTable): void {
  for (const p of t.partitions) {
    if (p.typeName === 'extended') continue;
    assert.ok(p.device.read(0, 16).equals(marker(p.index)), `start of partition ${p.index}`);
    assert.ok(p.device.read(p.size - 16, 16).equals(marker(p.index)), `end of partition ${p.index}`);
  }
}

/** Sector numbers of the EBRs: sectors inside the extended partition carrying 0x55AA. */
function findEbrs(img: Buffer, ext: SfdiskPartition): number[] {
  const out: number[] = [];
  for (let s = ext.start; s < ext.start + ext.size && (s + 1) * SECTOR <= img.length; s++) {
    if (img[s * SECTOR + 510] === 0x55 && img[s * SECTOR + 511] === 0xaa) out.push(s);
  }
  return out;
}

function checkInvariants(dev: BlockDevice, t: PartitionTable): void {
  const data = t.partitions.filter((p) => p.typeName !== 'extended');
  for (const p of t.partitions) {
    assert.ok(
      p.start >= 0 && p.size > 0 && p.start + p.size <= dev.size,
      `partition ${p.index} inside the disk`,
    );
    p.device.read(p.size - 1, 1);
  }
  const sorted = [...data].sort((a, b) => a.start - b.start);
  for (let i = 1; i < sorted.length; i++) {
    assert.ok(sorted[i - 1]!.start + sorted[i - 1]!.size <= sorted[i]!.start, 'data partitions are disjoint');
  }
  assert.equal(new Set(t.partitions.map((p) => p.index)).size, t.partitions.length, 'numbers are unique');
}

describe('MBR', () => {
  let dir: string;
  let cleanup: () => void;
  const images = new Map<string, { path: string; img: Buffer; parts: SfdiskPartition[] }>();

  before(() => {
    ({ dir, cleanup } = tempDir('hyperward-mbr-'));
    for (const ext of ['5', 'f', '85']) {
      const path = join(dir, `ext${ext}.raw`);
      sparseFile(path, 32 * MiB);
      const script = [
        'label: dos',
        'start=2048, size=4096, type=83',
        'start=6144, size=2048, type=82, bootable',
        'start=8192, size=2048, type=c',
        `start=10240, type=${ext}`,
        'size=2048, type=83',
        'size=4096, type=8e',
        'size=2048, type=fd',
        'size=3000, type=7',
        '',
      ].join('\n');
      const r = spawnSync('sfdisk', [path], { input: script, encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const parts = sfdiskParts(path);
      writeMarkers(path, parts);
      images.set(ext, { path, img: readFileSync(path), parts });
    }
  });
  after(() => cleanup());

  const base = (ext = '5'): { path: string; img: Buffer; parts: SfdiskPartition[] } => images.get(ext)!;

  for (const ext of ['5', 'f', '85']) {
    test(`primaries, extended (0x${ext.padStart(2, '0')}) and logicals match sfdisk --json`, () => {
      const { path, parts } = base(ext);
      withRawDevice(path, (dev) => {
        const t = readPartitions(dev);
        assert.equal(t.scheme, 'mbr');
        assert.equal(t.sectorSize, 512);
        assert.deepEqual(t.warnings, []);
        assert.deepEqual(ours(t), expectedFrom(parts));
        assert.deepEqual(
          t.partitions.map((p) => p.index),
          [1, 2, 3, 4, 5, 6, 7, 8],
        );
        assertMarkers(t);
        checkInvariants(dev, t);
        for (const p of t.partitions) assert.ok(p.typeName, `type 0x${p.type} is named`);
      });
    });
  }

  test('deleting the first logical renumbers like sfdisk', () => {
    const path = join(dir, 'deleted.raw');
    writeFileSync(path, base().img);
    run('sfdisk', ['--delete', path, '5']);
    const parts = sfdiskParts(path);
    withRawDevice(path, (dev) => {
      const t = readPartitions(dev);
      assert.deepEqual(ours(t), expectedFrom(parts));
      assert.deepEqual(
        t.partitions.map((p) => p.index),
        [1, 2, 3, 4, 5, 6, 7],
      );
    });
  });

  test('an EBR with an empty data entry but a link is followed (like sfdisk)', () => {
    const path = join(dir, 'empty-ebr.raw');
    const img = Buffer.from(base().img);
    const ext = base().parts.find((p) => isExtended(p.type))!;
    img.fill(0, ext.start * SECTOR + 0x1be, ext.start * SECTOR + 0x1ce);
    writeFileSync(path, img);
    const parts = sfdiskParts(path);
    withRawDevice(path, (dev) => {
      const t = readPartitions(dev);
      assert.deepEqual(ours(t), expectedFrom(parts));
      assert.equal(t.partitions.filter((p) => p.index >= 5).length, 3);
    });
  });

  test('EBR loops stop with a warning; the partitions before the loop match sfdisk', () => {
    const { img: orig, parts } = base();
    const ext = parts.find((p) => isExtended(p.type))!;
    const ebrs = findEbrs(orig, ext);
    assert.equal(ebrs.length, 4);
    const last = ebrs[ebrs.length - 1]!;
    // Link of the last EBR -> the first EBR, or -> itself.
    for (const target of [ext.start, last]) {
      const path = join(dir, `loop-${target}.raw`);
      const img = Buffer.from(orig);
      const link = last * SECTOR + 0x1be + 16;
      img.fill(0, link, link + 16);
      img[link + 4] = 0x05;
      img.writeUInt32LE(target - ext.start, link + 8);
      img.writeUInt32LE(1, link + 12);
      writeFileSync(path, img);
      // sfdisk follows the loop until its own cap; its list up to the first repeated start is the truth.
      const sf = sfdiskParts(path);
      const seen = new Set<number>();
      const prefix: SfdiskPartition[] = [];
      for (const p of sf) {
        if (seen.has(p.start)) break;
        seen.add(p.start);
        prefix.push(p);
      }
      assert.ok(sf.length > prefix.length, 'sfdisk did loop');
      withRawDevice(path, (dev) => {
        const t = readPartitions(dev);
        assert.deepEqual(ours(t), expectedFrom(prefix));
        assert.match(t.warnings.join('\n'), /EBR chain loops back/);
      });
    }
  });

  test(`a chain longer than ${MAX_EBR_CHAIN} EBRs is cut with a warning`, () => {
    const path = join(dir, 'long.raw');
    sparseFile(path, 8 * MiB);
    const r = spawnSync('sfdisk', [path], {
      input: 'label: dos\nstart=2048, type=5\nsize=1, type=83\n',
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    const ext = sfdiskParts(path).find((p) => isExtended(p.type))!;
    const img = readFileSync(path);
    // Rewrite the chain as 300 EBRs two sectors apart, each with a one-sector logical partition.
    const n = 300;
    for (let i = 0; i < n; i++) {
      const at = (ext.start + 2 * i) * SECTOR;
      img.fill(0, at, at + SECTOR);
      img[at + 0x1be + 4] = 0x83;
      img.writeUInt32LE(1, at + 0x1be + 8);
      img.writeUInt32LE(1, at + 0x1be + 12);
      if (i + 1 < n) {
        img[at + 0x1ce + 4] = 0x05;
        img.writeUInt32LE(2 * (i + 1), at + 0x1ce + 8);
        img.writeUInt32LE(2, at + 0x1ce + 12);
      }
      img[at + 510] = 0x55;
      img[at + 511] = 0xaa;
    }
    writeFileSync(path, img);
    const sf = sfdiskParts(path); // sfdisk reads the same chain (up to its own limit)
    withRawDevice(path, (dev) => {
      const t = readPartitions(dev);
      const logicals = t.partitions.filter((p) => p.index >= 5);
      assert.equal(logicals.length, MAX_EBR_CHAIN);
      assert.match(t.warnings.join('\n'), /more than 256 EBRs/);
      const sfLogicals = sf.filter((p) => partitionNumber(p.node) >= 5);
      assert.deepEqual(
        ours({ ...t, partitions: t.partitions.slice(0, 1 + sfLogicals.length) }),
        expectedFrom(sf),
      );
    });
  });

  test('a truncated image keeps the partitions that still fit, with warnings', () => {
    const path = join(dir, 'truncated.raw');
    const { img, parts } = base();
    const lastLogical = parts[parts.length - 1]!;
    const cut = (lastLogical.start + 100) * SECTOR;
    writeFileSync(path, img.subarray(0, cut));
    const sf = sfdiskParts(path); // sfdisk still lists everything, past the end or not
    const fits = sf.filter((p) => isExtended(p.type) || (p.start + p.size) * SECTOR <= cut);
    assert.ok(fits.length === sf.length - 1);
    withRawDevice(path, (dev) => {
      const t = readPartitions(dev);
      const expected = expectedFrom(fits).map((p) => {
        const q = p as { extended: boolean; start: number; size: number };
        return q.extended ? { ...q, size: cut - q.start } : q;
      });
      assert.deepEqual(ours(t), expected);
      assert.match(t.warnings.join('\n'), /extended partition .* ends beyond the disk; truncated/);
      assert.match(t.warnings.join('\n'), /logical partition .* ends outside extended partition 4; skipped/);
      assertMarkers(t);
    });
  });

  test('overlapping primaries: the later one is skipped (sfdisk -V reports the overlap)', () => {
    const path = join(dir, 'overlap.raw');
    const img = Buffer.from(base().img);
    img.writeUInt32LE(3000, 0x1be + 16 + 8); // entry 2 starts inside entry 1
    writeFileSync(path, img);
    const v = spawnSync('sfdisk', ['-V', path], { encoding: 'utf8' });
    assert.match(`${v.stdout}${v.stderr}`, /overlaps partition/);
    withRawDevice(path, (dev) => {
      const t = readPartitions(dev);
      assert.ok(!t.partitions.some((p) => p.index === 2));
      assert.match(t.warnings.join('\n'), /MBR entry 2: .*overlaps partition 1; skipped/);
      checkInvariants(dev, t);
    });
  });

  test('invalid boot indicators mean sector 0 is not a partition table', () => {
    const path = join(dir, 'bootflag.raw');
    const img = Buffer.from(base().img);
    img[0x1be + 16] = 0x42;
    writeFileSync(path, img);
    withRawDevice(path, (dev) => {
      const t = readPartitions(dev);
      assert.equal(t.scheme, 'none');
      assert.equal(t.partitions.length, 0);
      assert.match(t.warnings.join('\n'), /invalid boot indicators/);
    });
  });

  test('type bytes we name are all known to sfdisk', () => {
    const ids = new Set(
      run('sfdisk', ['--label', 'dos', '-T'])
        .split('\n')
        .map((l) => /^\s*([0-9a-f]{1,2})\s/.exec(l)?.[1])
        .filter((x): x is string => x !== undefined)
        .map((x) => parseInt(x, 16)),
    );
    for (let t = 1; t < 256; t++) {
      if (mbrTypeName(t) !== undefined) assert.ok(ids.has(t), `sfdisk knows type 0x${t.toString(16)}`);
    }
  });

  test('fuzz: MBR and EBR mutations (and EBR link redirection) raise only HyperwardErrors', () => {
    const { img: orig, parts } = base();
    const path = join(dir, 'fuzz.raw');
    writeFileSync(path, orig);
    const ext = parts.find((p) => isExtended(p.type))!;
    const ebrs = findEbrs(orig, ext);
    const sectors = [0, ...ebrs];
    const edits = fc.oneof(
      byteEditsIn(0x1be, 0x200, 12),
      fc
        .tuple(fc.constantFrom(...ebrs), byteEditsIn(0x1be, 0x200, 12))
        .map(([s, e]) => e.map(([o, v]) => [s * SECTOR + o, v] as [number, number])),
      // Point an EBR's link at another EBR (or anywhere near): loops and odd chains.
      fc
        .tuple(
          fc.constantFrom(...ebrs),
          fc.oneof(fc.constantFrom(...ebrs), fc.nat({ max: ext.start + ext.size + 64 })),
        )
        .map(([s, target]) => {
          const rel = Buffer.alloc(4);
          rel.writeUInt32LE((target - ext.start) >>> 0);
          const at = s * SECTOR + 0x1ce;
          return [[at + 4, 0x05], ...[...rel].map((b, i) => [at + 8 + i, b])] as Array<[number, number]>;
        }),
    );
    fc.assert(
      fc.property(edits, (e) => {
        const fd = openSync(path, 'r+');
        try {
          for (const [off, val] of e) writeSync(fd, Buffer.from([val]), 0, 1, off);
          onlyHyperwardErrors(() => withRawDevice(path, (dev) => checkInvariants(dev, readPartitions(dev))));
        } finally {
          for (const s of sectors) writeSync(fd, orig, s * SECTOR, SECTOR, s * SECTOR);
          closeSync(fd);
        }
      }),
      { numRuns: 500 },
    );
  });

  test('fuzz: truncation raises only HyperwardErrors', () => {
    const { img: orig, parts } = base();
    const ext = parts.find((p) => isExtended(p.type))!;
    const end = (ext.start + ext.size) * SECTOR;
    const path = join(dir, 'fuzz-trunc.raw');
    writeFileSync(path, orig);
    // Only these sectors hold anything; restoring them (after re-extending the file) restores the image.
    const used: number[] = [];
    for (let s = 0; s < orig.length / SECTOR; s++) {
      if (orig.subarray(s * SECTOR, (s + 1) * SECTOR).some((b) => b !== 0)) used.push(s);
    }
    fc.assert(
      fc.property(fc.nat({ max: end }), (len) => {
        truncateSync(path, len);
        try {
          onlyHyperwardErrors(() => withRawDevice(path, (dev) => checkInvariants(dev, readPartitions(dev))));
        } finally {
          truncateSync(path, orig.length);
          const fd = openSync(path, 'r+');
          for (const s of used)
            if ((s + 1) * SECTOR > len) writeSync(fd, orig, s * SECTOR, SECTOR, s * SECTOR);
          closeSync(fd);
        }
      }),
      { numRuns: 200 },
    );
    assert.ok(readFileSync(path).equals(orig), 'restored');
  });
});
