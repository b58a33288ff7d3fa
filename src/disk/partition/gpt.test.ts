import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { byteEditsIn, onlyHyperwardErrors } from '../../../test/helpers/fuzz.js';
import { run, tempDir } from '../../../test/helpers/tmp.js';
import { expectError } from '../../../test/helpers/errors.js';
import { sparseFile, withRawDevice } from '../../../test/helpers/images.js';
import {
  partitionNumber,
  sfdiskTable,
  type SfdiskPartition,
  type SfdiskTable,
} from '../../../test/helpers/sfdisk.js';
import { crc32 } from '../crc32.js';
import type { BlockDevice } from '../types.js';
import { knownGptTypes } from './gpt.js';
import { readPartitions } from './index.js';
import type { PartitionTable } from './types.js';

const MiB = 1024 * 1024;

/** sgdisk's verification report (stdout and stderr together). */
function sgdiskVerify(path: string): string {
  const r = spawnSync('sgdisk', ['-v', path], { encoding: 'utf8' });
  return `${r.stdout}\n${r.stderr}`;
}

/** Writes a marker at the first and last 16 bytes of every partition sfdisk reports, to check slice offsets. */
function writeMarkers(path: string, parts: SfdiskPartition[], ss: number): void {
  const fd = openSync(path, 'r+');
  try {
    for (const p of parts) {
      const m = Buffer.from(`<${p.node.padEnd(14, '.').slice(-14)}>`);
      writeSync(fd, m, 0, 16, p.start * ss);
      writeSync(fd, m, 0, 16, (p.start + p.size) * ss - 16);
    }
  } finally {
    closeSync(fd);
  }
}

/** Asserts our table equals sfdisk's view of the same disk, and that every slice reads its own markers. */
function assertMatchesSfdisk(t: PartitionTable, sf: SfdiskTable, markers = true): void {
  assert.equal(t.scheme, 'gpt');
  assert.equal(t.sectorSize, sf.sectorsize);
  const ss = sf.sectorsize;
  const expected = (sf.partitions ?? []).map((p) => ({
    index: partitionNumber(p.node),
    start: p.start * ss,
    size: p.size * ss,
    type: p.type.toLowerCase(),
    uuid: p.uuid?.toLowerCase(),
    name: p.name,
    bootable: p.attrs?.includes('LegacyBIOSBootable') === true ? true : undefined,
  }));
  const ours = t.partitions.map((p) => ({
    index: p.index,
    start: p.start,
    size: p.size,
    type: p.type,
    uuid: p.uuid,
    name: p.name,
    bootable: p.bootable,
  }));
  assert.deepEqual(ours, expected);
  if (markers) {
    for (const [i, p] of t.partitions.entries()) {
      const m = `<${(sf.partitions ?? [])[i]!.node.padEnd(14, '.').slice(-14)}>`;
      assert.equal(p.device.read(0, 16).toString(), m);
      assert.equal(p.device.read(p.size - 16, 16).toString(), m);
      assert.equal(p.device.size, p.size);
    }
  }
}

/** Recomputes the entry-array CRC and the header CRC of the GPT header at `lba` (sector size `ss`). */
function fixGptCrcs(buf: Buffer, ss: number, lba: number): void {
  const h = lba * ss;
  const hs = Math.min(buf.readUInt32LE(h + 12), ss);
  const entryLba = Number(buf.readBigUInt64LE(h + 72));
  const n = buf.readUInt32LE(h + 80);
  const size = buf.readUInt32LE(h + 84);
  const from = entryLba * ss;
  const bytes = n * size;
  if (from >= 0 && bytes <= 4 * MiB && from + bytes <= buf.length) {
    buf.writeUInt32LE(crc32(buf, from, from + bytes), h + 88);
  }
  buf.writeUInt32LE(0, h + 16);
  if (hs >= 92) buf.writeUInt32LE(crc32(buf, h, h + hs), h + 16);
}

/** Checks invariants of any table we return: partitions inside the disk, GPT partitions disjoint. */
function checkInvariants(dev: BlockDevice, t: PartitionTable): void {
  for (const p of t.partitions) {
    assert.ok(
      p.start >= 0 && p.size > 0 && p.start + p.size <= dev.size,
      `partition ${p.index} inside the disk`,
    );
    p.device.read(0, Math.min(512, p.size));
    p.device.read(p.size - Math.min(512, p.size), Math.min(512, p.size));
  }
  if (t.scheme === 'gpt') {
    const sorted = [...t.partitions].sort((a, b) => a.start - b.start);
    for (let i = 1; i < sorted.length; i++) {
      assert.ok(
        sorted[i - 1]!.start + sorted[i - 1]!.size <= sorted[i]!.start,
        'GPT partitions are disjoint',
      );
    }
  }
}

describe('GPT', () => {
  let dir: string;
  let cleanup: () => void;
  let gptPath: string;
  let gpt: Buffer;
  let sf: SfdiskTable;

  before(() => {
    ({ dir, cleanup } = tempDir('hyperward-gpt-'));
    gptPath = join(dir, 'gpt.raw');
    sparseFile(gptPath, 16 * MiB);
    // prettier-ignore
    run('sgdisk', [
      '-n', '1:2048:+1M', '-t', '1:ef00', '-c', '1:EFI système',
      '-n', '2:0:+1M', '-t', '2:ef02', '-c', '2:bios',
      '-n', '3:0:+4M', '-t', '3:8304', '-c', '3:root 日本',
      '-n', '4:0:+2M', '-t', '4:8302',
      '-n', '6:0:+2M', '-t', '6:8e00', '-c', '6:lvm', '-A', '6:set:2',
      '-n', '7:0:+1M', '-t', '7:0700', '-c', '7:data',
      '-n', '8:0:0', '-t', '8:8200', '-c', '8:swap',
      gptPath,
    ]);
    sf = sfdiskTable(gptPath);
    writeMarkers(gptPath, sf.partitions ?? [], 512);
    gpt = readFileSync(gptPath);
  });
  after(() => cleanup());

  test('512-byte sectors: start, size, type, name, uuid and bootable match sfdisk --json', () => {
    withRawDevice(gptPath, (dev) => {
      const t = readPartitions(dev);
      assert.deepEqual(t.warnings, []);
      assert.equal(t.partitions.length, 7);
      assertMatchesSfdisk(t, sf);
      // The slot number is the partition number: slot 5 is empty.
      assert.deepEqual(
        t.partitions.map((p) => p.index),
        [1, 2, 3, 4, 6, 7, 8],
      );
      assert.deepEqual(
        t.partitions.map((p) => p.typeName),
        [
          'EFI System',
          'BIOS boot',
          'Linux root (x86-64)',
          'Linux /home',
          'Linux LVM',
          'Microsoft basic data',
          'Linux swap',
        ],
      );
    });
  });

  test('type GUIDs we name are all known to sfdisk or sgdisk', () => {
    let list = run('sfdisk', ['--label', 'gpt', '-T']).toLowerCase();
    // sfdisk's list lacks the dm-crypt and LUKS types; ask sgdisk for their GUIDs (codes 8308 and 8309).
    const path = join(dir, 'types.raw');
    sparseFile(path, 4 * MiB);
    run('sgdisk', ['-n', '1:0:+1M', '-t', '1:8308', '-n', '2:0:+1M', '-t', '2:8309', path]);
    list += JSON.stringify(sfdiskTable(path)).toLowerCase();
    for (const guid of knownGptTypes()) assert.ok(list.includes(guid), `sfdisk or sgdisk knows ${guid}`);
  });

  test('4096-byte logical sectors (loop device with --sector-size 4096)', () => {
    const path = join(dir, 'gpt4k.raw');
    sparseFile(path, 32 * MiB);
    const loop = run('losetup', ['--find', '--show', '--sector-size', '4096', path]).trim();
    let sf4: SfdiskTable;
    try {
      // prettier-ignore
      run('sgdisk', ['-n', '1:0:+4M', '-t', '1:ef00', '-c', '1:esp', '-n', '2:0:+8M', '-t', '2:8300', '-c', '2:root',
        '-n', '3:0:0', '-t', '3:8e00', loop]);
      sf4 = sfdiskTable(loop);
    } finally {
      run('losetup', ['-d', loop]);
    }
    assert.equal(sf4.sectorsize, 4096);
    writeMarkers(path, sf4.partitions ?? [], 4096);
    withRawDevice(path, (dev) => {
      const t = readPartitions(dev);
      assert.equal(t.sectorSize, 4096);
      assertMatchesSfdisk(t, sf4);
      assert.deepEqual(t.warnings, []);
    });
    // The backup of a 4096-byte-sector GPT is found too.
    const img = readFileSync(path);
    img.fill(0, 4096, 4096 + 512);
    const damaged = join(dir, 'gpt4k-damaged.raw');
    writeFileSync(damaged, img);
    withRawDevice(damaged, (dev) => {
      const t = readPartitions(dev);
      assertMatchesSfdisk(t, sf4);
      assert.match(t.warnings.join('\n'), /backup GPT.*sector size 4096/);
    });
  });

  test('damaged primary header: the backup is used, with a warning; sgdisk agrees the backup is fine', () => {
    const path = join(dir, 'bad-header.raw');
    const img = Buffer.from(gpt);
    img[512 + 60]! ^= 0xff; // disk GUID byte: the header CRC no longer matches
    writeFileSync(path, img);
    const v = sgdiskVerify(path);
    assert.match(v, /Main header: ERROR/);
    assert.match(v, /Backup header: OK/);
    assert.match(v, /Backup partition table: OK/);
    withRawDevice(path, (dev) => {
      const t = readPartitions(dev);
      assertMatchesSfdisk(t, sf);
      assert.match(
        t.warnings.join('\n'),
        /primary GPT header.*CRC-32 mismatch.*using the backup GPT at LBA 32767/,
      );
    });
    // sfdisk (libfdisk) also falls back to the backup and lists the same partitions.
    const strip = (t: SfdiskTable): unknown =>
      t.partitions?.map((p) => ({ ...p, node: partitionNumber(p.node) }));
    assert.deepEqual(strip(sfdiskTable(path)), strip(sf));
  });

  test('damaged primary entry array: the backup named by the primary header is used', () => {
    const path = join(dir, 'bad-entries.raw');
    const img = Buffer.from(gpt);
    img[1024 + 128 * 2 + 60]! ^= 0x01; // a name byte of entry 3
    writeFileSync(path, img);
    const v = sgdiskVerify(path);
    assert.match(v, /Main partition table: ERROR/);
    assert.match(v, /Backup partition table: OK/);
    withRawDevice(path, (dev) => {
      const t = readPartitions(dev);
      assertMatchesSfdisk(t, sf);
      assert.match(t.warnings.join('\n'), /entry array CRC-32 mismatch; using the backup/);
    });
  });

  test('a grown disk: the backup is found through the primary header, not at the last LBA', () => {
    const path = join(dir, 'grown.raw');
    const img = Buffer.from(gpt);
    img[1024 + 5]! ^= 0x01; // entry 1 type GUID: entry array CRC mismatch, header intact
    writeFileSync(path, img);
    truncateSync(path, 24 * MiB); // the backup is no longer at the end
    withRawDevice(path, (dev) => {
      const t = readPartitions(dev);
      assertMatchesSfdisk(t, sf);
      assert.match(t.warnings.join('\n'), /backup GPT at LBA 32767/);
    });
  });

  test('a zeroed primary header: the protective MBR sends us to the backup at the last LBA', () => {
    const path = join(dir, 'zero-header.raw');
    const img = Buffer.from(gpt);
    img.fill(0, 512, 1024);
    writeFileSync(path, img);
    assert.match(sgdiskVerify(path), /Backup header: OK/);
    withRawDevice(path, (dev) => {
      const t = readPartitions(dev);
      assertMatchesSfdisk(t, sf);
      assert.match(t.warnings.join('\n'), /no primary GPT header.*using the backup/);
    });
  });

  test('both headers damaged: E_IMAGE_CORRUPT naming the GPT header', () => {
    const path = join(dir, 'both.raw');
    const img = Buffer.from(gpt);
    img[512 + 60]! ^= 0xff;
    img[img.length - 512 + 60]! ^= 0xff;
    writeFileSync(path, img);
    const v = sgdiskVerify(path);
    assert.doesNotMatch(v, /Backup header: OK/);
    assert.doesNotMatch(v, /Main header: OK/);
    withRawDevice(path, (dev) => {
      const e = expectError(() => readPartitions(dev), 'E_IMAGE_CORRUPT', /no valid GPT/);
      assert.equal(e.location.layer, 'GPT header');
      assert.equal(e.location.file, path);
    });
  });

  test('overlapping entries are skipped with a warning (sgdisk -v reports the overlap)', () => {
    const path = join(dir, 'overlap.raw');
    const img = Buffer.from(gpt);
    const first1 = Number(img.readBigUInt64LE(1024 + 32));
    img.writeBigUInt64LE(BigInt(first1 + 100), 1024 + 128 + 32); // entry 2 starts inside entry 1
    fixGptCrcs(img, 512, 1);
    writeFileSync(path, img);
    const v = sgdiskVerify(path);
    assert.match(v, /Main header: OK/);
    assert.match(v, /Main partition table: OK/);
    assert.match(v, /partitions 2 and 1 overlap/);
    withRawDevice(path, (dev) => {
      const t = readPartitions(dev);
      assert.deepEqual(
        t.partitions.map((p) => p.index),
        [1, 3, 4, 6, 7, 8],
      );
      assert.match(t.warnings.join('\n'), /GPT entry 2: .*overlaps partition 1; skipped/);
      checkInvariants(dev, t);
    });
  });

  test('an entry beyond the end of the disk is skipped with a warning (sgdisk -v: too big)', () => {
    const path = join(dir, 'beyond.raw');
    const img = Buffer.from(gpt);
    img.writeBigUInt64LE(BigInt(img.length / 512 + 100), 1024 + 128 * 7 + 40); // entry 8 ends past the disk
    fixGptCrcs(img, 512, 1);
    writeFileSync(path, img);
    assert.match(sgdiskVerify(path), /partition 8 is too big for the disk/);
    withRawDevice(path, (dev) => {
      const t = readPartitions(dev);
      assert.deepEqual(
        t.partitions.map((p) => p.index),
        [1, 2, 3, 4, 6, 7],
      );
      assert.match(t.warnings.join('\n'), /GPT entry 8: .*beyond the disk.*skipped/);
    });
  });

  test('a table whose every entry is unusable is an error', () => {
    const path = join(dir, 'unusable.raw');
    const img = Buffer.from(gpt);
    for (let i = 0; i < 8; i++) img.writeBigUInt64LE(1n << 62n, 1024 + 128 * i + 40);
    fixGptCrcs(img, 512, 1);
    writeFileSync(path, img);
    withRawDevice(path, (dev) => {
      expectError(() => readPartitions(dev), 'E_IMAGE_CORRUPT', /none of the 7 GPT entries is usable/);
    });
  });

  test('large entry arrays: 4096 entries are read; beyond our cap is E_LIMIT', () => {
    const ok = join(dir, 'entries4096.raw');
    sparseFile(ok, 16 * MiB);
    run('sgdisk', ['--resize-table=4096', '-n', '1:0:+1M', '-t', '1:8300', '-n', '4000:0:+1M', ok]);
    const sfOk = sfdiskTable(ok);
    withRawDevice(ok, (dev) => {
      const t = readPartitions(dev);
      assertMatchesSfdisk(t, sfOk, false);
      assert.deepEqual(
        t.partitions.map((p) => p.index),
        [1, 4000],
      );
    });
    const big = join(dir, 'entries4224.raw');
    sparseFile(big, 16 * MiB);
    run('sgdisk', ['--resize-table=4224', '-n', '1:0:+1M', '-t', '1:8300', big]);
    assert.equal(sfdiskTable(big).partitions?.length, 1);
    withRawDevice(big, (dev) => {
      expectError(() => readPartitions(dev), 'E_LIMIT', /exceed the limit/);
    });
  });

  test('fuzz: MBR, header and entry mutations raise only HyperwardErrors; results stay consistent', () => {
    const path = join(dir, 'fuzz.raw');
    writeFileSync(path, gpt);
    const lastLba = gpt.length - 512;
    const edits = fc.oneof(
      byteEditsIn(0x1be, 0x200, 8),
      byteEditsIn(512, 512 + 92, 8),
      byteEditsIn(1024, 1024 + 128 * 9, 8),
      byteEditsIn(lastLba, lastLba + 92, 8),
      byteEditsIn(0, 1024 + 128 * 9, 16),
    );
    fc.assert(
      fc.property(edits, fc.boolean(), (e, fixCrc) => {
        const img = Buffer.from(gpt.subarray(0, 34 * 512));
        for (const [off, val] of e) if (off < img.length) img[off] = val;
        if (fixCrc) fixGptCrcs(img, 512, 1);
        const tail = Buffer.from(gpt.subarray(lastLba, lastLba + 512));
        for (const [off, val] of e) if (off >= lastLba) tail[off - lastLba] = val;
        const fd = openSync(path, 'r+');
        try {
          writeSync(fd, img, 0, img.length, 0);
          writeSync(fd, tail, 0, 512, lastLba);
          onlyHyperwardErrors(() => withRawDevice(path, (dev) => checkInvariants(dev, readPartitions(dev))));
        } finally {
          writeSync(fd, gpt, 0, 34 * 512, 0);
          writeSync(fd, gpt, lastLba, 512, lastLba);
          closeSync(fd);
        }
      }),
      { numRuns: 400 },
    );
  });

  test('fuzz: truncation raises only HyperwardErrors', () => {
    const path = join(dir, 'fuzz-trunc.raw');
    fc.assert(
      fc.property(fc.nat({ max: gpt.length }), (len) => {
        writeFileSync(path, gpt.subarray(0, len));
        onlyHyperwardErrors(() => withRawDevice(path, (dev) => checkInvariants(dev, readPartitions(dev))));
      }),
      { numRuns: 150 },
    );
  });
});
