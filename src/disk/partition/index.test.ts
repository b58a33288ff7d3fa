import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { run, tempDir } from '../../../test/helpers/tmp.js';
import { sparseFile, withRawDevice } from '../../../test/helpers/images.js';
import { readPartitions } from './index.js';
import type { PartitionTable } from './types.js';

const MiB = 1024 * 1024;

function tableOf(path: string): PartitionTable {
  return withRawDevice(path, readPartitions);
}

/** libblkid's low-level probe of the whole disk: TYPE (a filesystem at offset 0) and PTTYPE (a table). */
function blkid(path: string): { TYPE?: string; PTTYPE?: string } {
  const r = spawnSync('blkid', ['-p', '-o', 'export', path], { encoding: 'utf8' });
  const out: Record<string, string> = {};
  for (const line of r.stdout.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) out[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return out;
}

/** sfdisk's label for the disk, or undefined when it finds no partition table. */
function sfdiskLabel(path: string): { label?: string; count: number } {
  const r = spawnSync('sfdisk', ['--json', path], { encoding: 'utf8' });
  if (r.status !== 0) {
    assert.match(r.stderr, /does not contain a recognized partition table/);
    return { count: 0 };
  }
  const t = (
    JSON.parse(r.stdout.slice(r.stdout.indexOf('{'))) as {
      partitiontable: { label: string; partitions?: unknown[] };
    }
  ).partitiontable;
  return { label: t.label, count: t.partitions?.length ?? 0 };
}

describe('partition table detection', () => {
  let dir: string;
  let cleanup: () => void;
  let gptPath: string;

  before(() => {
    ({ dir, cleanup } = tempDir('hyperward-ptdetect-'));
    gptPath = join(dir, 'gpt.raw');
    sparseFile(gptPath, 8 * MiB);
    run('sgdisk', ['-n', '1:0:+1M', '-t', '1:ef00', '-n', '2:0:0', '-t', '2:8300', gptPath]);
  });
  after(() => cleanup());

  for (const [name, mkfs] of [
    ['ext4', ['mkfs.ext4', '-q', '-F']],
    ['vfat', ['mkfs.vfat']],
    ['ntfs', ['mkfs.ntfs', '-q', '-F', '-f']],
  ] as const) {
    test(`a whole-disk ${name} filesystem is scheme none (blkid finds the filesystem at offset 0)`, () => {
      const path = join(dir, `${name}.raw`);
      sparseFile(path, 8 * MiB);
      run(mkfs[0], [...mkfs.slice(1), path]);
      assert.equal(blkid(path).TYPE, name);
      const t = tableOf(path);
      assert.equal(t.scheme, 'none');
      assert.deepEqual(t.partitions, []);
    });
  }

  test('an ext4 filesystem with a 0x55AA boot signature is still scheme none', () => {
    const path = join(dir, 'ext4-55aa.raw');
    sparseFile(path, 8 * MiB);
    run('mkfs.ext4', ['-q', '-F', path]);
    const fd = openSync(path, 'r+');
    writeSync(fd, Buffer.from([0x55, 0xaa]), 0, 2, 510);
    closeSync(fd);
    const b = blkid(path);
    assert.equal(b.TYPE, 'ext4');
    assert.equal(sfdiskLabel(path).count, 0, 'sfdisk sees an empty dos label at most');
    assert.equal(tableOf(path).scheme, 'none');
  });

  test('an ext4 image written over a GPT disk (stale backup GPT at the end) is scheme none', () => {
    const fsImg = join(dir, 'small-ext4.raw');
    sparseFile(fsImg, 4 * MiB);
    run('mkfs.ext4', ['-q', '-F', fsImg]);
    const path = join(dir, 'ext4-over-gpt.raw');
    const disk = readFileSync(gptPath);
    readFileSync(fsImg).copy(disk, 0);
    writeFileSync(path, disk);
    assert.ok(
      disk.subarray(disk.length - 512, disk.length - 504).toString() === 'EFI PART',
      'backup GPT intact',
    );
    assert.equal(blkid(path).TYPE, 'ext4');
    assert.equal(tableOf(path).scheme, 'none');
  });

  test('a zeroed disk and a disk smaller than a sector have no table (like sfdisk)', () => {
    const zero = join(dir, 'zero.raw');
    sparseFile(zero, 4 * MiB);
    assert.equal(sfdiskLabel(zero).label, undefined);
    assert.deepEqual(tableOf(zero), { scheme: 'none', sectorSize: 512, partitions: [], warnings: [] });
    const tiny = join(dir, 'tiny.raw');
    writeFileSync(tiny, Buffer.alloc(100, 0xaa));
    assert.equal(tableOf(tiny).scheme, 'none');
  });

  test('an empty dos label is scheme mbr with no partitions (like sfdisk)', () => {
    const path = join(dir, 'empty-dos.raw');
    sparseFile(path, 4 * MiB);
    spawnSync('sfdisk', [path], { input: 'label: dos\n', encoding: 'utf8' });
    assert.deepEqual(sfdiskLabel(path), { label: 'dos', count: 0 });
    const t = tableOf(path);
    assert.equal(t.scheme, 'mbr');
    assert.deepEqual(t.partitions, []);
  });

  test('a GPT whose MBR was wiped is still found, with a warning (sgdisk agrees it is valid)', () => {
    const path = join(dir, 'no-pmbr.raw');
    const img = readFileSync(gptPath);
    img.fill(0, 0, 512);
    writeFileSync(path, img);
    assert.match(run('sgdisk', ['-v', path]), /Found valid GPT with corrupt MBR/);
    const t = tableOf(path);
    assert.equal(t.scheme, 'gpt');
    assert.equal(t.partitions.length, 2);
    assert.match(t.warnings.join('\n'), /without a protective MBR/);
  });

  test('a stale GPT under a real MBR is ignored, like blkid and sfdisk do', () => {
    const path = join(dir, 'stale-gpt.raw');
    writeFileSync(path, readFileSync(gptPath));
    const r = spawnSync('sfdisk', ['--wipe', 'never', path], {
      input: 'label: dos\nstart=2048, size=4096, type=83\n',
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(
      readFileSync(path).toString('latin1', 512, 520),
      'EFI PART',
      'the old GPT header is still there',
    );
    assert.equal(blkid(path).PTTYPE, 'dos');
    assert.deepEqual(sfdiskLabel(path), { label: 'dos', count: 1 });
    const t = tableOf(path);
    assert.equal(t.scheme, 'mbr');
    assert.deepEqual(
      t.partitions.map((p) => [p.index, p.start, p.size, p.type]),
      [[1, 2048 * 512, 4096 * 512, '0x83']],
    );
    assert.match(t.warnings.join('\n'), /stale GPT/);
  });

  test('a hybrid MBR (sgdisk -h) reads as the GPT, like sfdisk', () => {
    const path = join(dir, 'hybrid.raw');
    writeFileSync(path, readFileSync(gptPath));
    run('sgdisk', ['-h', '1:2', path]);
    assert.deepEqual(sfdiskLabel(path), { label: 'gpt', count: 2 });
    const t = tableOf(path);
    assert.equal(t.scheme, 'gpt');
    assert.equal(t.partitions.length, 2);
    assert.deepEqual(t.warnings, []);
  });
});
