import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, readFileSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { expectError } from '../../test/helpers/errors.js';
import { modPicker, pattern, xorshift32 } from '../../test/helpers/pattern.js';
import { run, tempDir } from '../../test/helpers/tmp.js';
import { openImage } from '../disk/open.js';
import type { BlockDevice } from '../disk/types.js';
import { openFat, probeFat } from './fat.js';
import type { FileSystem, FileType } from './types.js';
import { Vfs } from './vfs.js';

const MiB = 1024 * 1024;
/** mtools writes local time; the reader reads FAT times as UTC. */
const MTOOLS_ENV = { ...process.env, TZ: 'UTC', MTOOLS_SKIP_CHECK: '1' };
const MANY = 300;
const FRAG_TIME = 1_000_000_000;
/** Names that need a long-name entry, or NT case flags, or are unusual but valid on FAT. */
const NAMES = [
  'lower.txt',
  'lowbase.TXT',
  'UPBASE.txt',
  'UPPER.TXT',
  'a b.txt',
  'x.y.z',
  '.hidden',
  'semi;colon',
  'plus+sign.txt',
  'ünïcödé-long-name.txt',
  '日本語のファイル.txt',
  'Ελληνικά-όνομα.txt',
  'UPPERCASELONGNAME.TXT',
  'abc.defg',
  'n'.repeat(200) + '.txt',
];

function mtools(cmd: string, args: string[]): string {
  return run(cmd, args, { env: MTOOLS_ENV });
}

/** Builds the source tree the images are made from; the tree is the oracle. */
function buildSource(root: string): void {
  mkdirSync(root);
  const file = (rel: string, data: Buffer | string): void => writeFileSync(join(root, rel), data);
  file('empty', '');
  file('one', 'x');
  for (const n of [511, 512, 513, 4095, 4096, 4097]) file(`f${n}`, pattern(n, n));
  file('big', pattern(3 * MiB + 4321, 7));
  for (const n of NAMES) file(n, `name ${n}\n`);
  mkdirSync(join(root, 'lowdir'));
  file('lowdir/inner', 'inner\n');
  mkdirSync(join(root, 'many'));
  for (let i = 0; i < MANY; i++) {
    file(i % 2 === 0 ? `many/file-${i}.dat` : `many/a rather long name number ${i}.text`, pattern(i * 37, i));
  }
  mkdirSync(join(root, 'a/b/c/d'), { recursive: true });
  file('a/b/c/d/deep.txt', 'deep\n');
  mkdirSync(join(root, 'emptydir'));
  // Even seconds: FAT keeps modification times to 2 s.
  let t = 700_000_000;
  const stamp = (rel: string): void => {
    for (const n of readdirSync(join(root, rel))) {
      const p = rel === '' ? n : `${rel}/${n}`;
      if (lstatSync(join(root, p)).isDirectory()) stamp(p);
      else utimesSync(join(root, p), t, t);
      t += 86_400 * 17 + 3_602;
    }
  };
  stamp('');
  utimesSync(join(root, 'one'), 4_102_444_800, 4_102_444_800); // 2100-01-01
  utimesSync(join(root, 'empty'), 315_532_800, 315_532_800); // 1980-01-01, FAT's epoch
}

interface Entry {
  type: FileType;
  mode: number;
  mtime?: number;
  size?: number;
  sha?: string;
}

function describeSource(root: string, readOnly: ReadonlySet<string>): Map<string, Entry> {
  const out = new Map<string, Entry>();
  const walk = (rel: string): void => {
    for (const n of readdirSync(join(root, rel))) {
      const p = `${rel}/${n}`;
      const st = lstatSync(join(root, p));
      if (st.isDirectory()) {
        out.set(p, { type: 'dir', mode: 0o040755 });
        walk(p);
      } else {
        out.set(p, {
          type: 'file',
          mode: readOnly.has(p) ? 0o100444 : 0o100644,
          mtime: Math.floor(st.mtimeMs / 1000),
          size: st.size,
          sha: createHash('sha256')
            .update(readFileSync(join(root, p)))
            .digest('hex'),
        });
      }
    }
  };
  walk('');
  return out;
}

/** Reads a whole file in unaligned chunks and hashes it. */
function hashFile(fs: FileSystem, ino: number, size: number): string {
  const h = createHash('sha256');
  const chunk = 65536 + 4097;
  for (let off = 0; off < size; off += chunk) {
    const b = fs.read(ino, off, chunk);
    assert.equal(b.length, Math.min(chunk, size - off));
    h.update(b);
  }
  assert.equal(fs.read(ino, size, 10).length, 0, 'a read at EOF is empty');
  return h.digest('hex');
}

/** Everything the reader says about the tree, with each name looked up again and each entry stat'ed. */
function describeImage(fs: FileSystem): Map<string, Entry & { ino: number }> {
  const out = new Map<string, Entry & { ino: number }>();
  const walk = (dirIno: number, rel: string): void => {
    const names = new Set<string>();
    for (const de of fs.readdir(dirIno)) {
      assert.ok(!names.has(de.name), `duplicate entry ${rel}/${de.name}`);
      names.add(de.name);
      const p = `${rel}/${de.name}`;
      assert.equal(fs.lookup(dirIno, de.name), de.ino, `lookup of ${p}`);
      const st = fs.stat(de.ino);
      assert.equal(st.ino, de.ino);
      assert.equal(de.type, st.type, `entry type of ${p}`);
      assert.equal(st.uid, 0);
      assert.equal(st.gid, 0);
      const e: Entry & { ino: number } = { type: st.type, mode: st.mode, ino: de.ino };
      if (st.type === 'file') {
        e.mtime = st.mtime;
        e.size = st.size;
        e.sha = hashFile(fs, de.ino, st.size);
      }
      out.set(p, e);
      if (st.type === 'dir') walk(de.ino, p);
    }
    assert.equal(fs.lookup(dirIno, 'no-such-name'), undefined);
  };
  walk(fs.rootIno, '');
  return out;
}

function compareTrees(src: Map<string, Entry>, img: Map<string, Entry>): void {
  assert.deepEqual([...img.keys()].sort(), [...src.keys()].sort(), 'same paths');
  for (const [p, s] of src) {
    const m = img.get(p)!;
    assert.equal(m.type, s.type, `type of ${p}`);
    assert.equal(m.mode, s.mode, `mode of ${p}`);
    if (s.type === 'file') {
      assert.equal(m.mtime, s.mtime, `mtime of ${p}`);
      assert.equal(m.size, s.size, `size of ${p}`);
      assert.equal(m.sha, s.sha, `content of ${p}`);
    }
  }
}

/** `mdir -/ -b`: mtools' own recursive listing, as paths below `/` (directories without the trailing `/`). */
function mdirPaths(img: string): string[] {
  return mtools('mdir', ['-/', '-b', '-i', img, '::/'])
    .split('\n')
    .filter((l) => l.startsWith('::/'))
    .map((l) => l.slice(2).replace(/\/$/, ''))
    .sort();
}

/** `mshowfat`: the cluster ranges of a file, e.g. `[[3, 1000], [2000, 2010]]` (printed `<3-1000> <2000-2010>`). */
function showFat(img: string, path: string): Array<[number, number]> {
  const out = mtools('mshowfat', ['-i', img, `::${path}`]);
  const ranges = [...out.matchAll(/<(\d+)(?:-(\d+))?>/g)].map((m): [number, number] => [
    Number(m[1]),
    Number(m[2] ?? m[1]),
  ]);
  assert.ok(ranges.length > 0, out);
  return ranges;
}

/** fsck.fat -n -v: must pass; returns its report for the layout it prints. */
function fsckFat(img: string): string {
  const r = spawnSync('fsck.fat', ['-n', '-v', img], { encoding: 'utf8' });
  assert.equal(r.status, 0, `fsck.fat -n ${img}: ${r.stdout}${r.stderr}`);
  return r.stdout;
}

function blkid(img: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of run('blkid', ['-p', '-o', 'export', img]).split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) m.set(line.slice(0, i), line.slice(i + 1).replace(/\\(.)/g, '$1'));
  }
  return m;
}

interface Variant {
  name: string;
  args: string[];
  kib: number;
  bits: 12 | 16 | 32;
  label?: string;
}

const VARIANTS: Variant[] = [
  { name: 'fat12', args: ['-F', '12'], kib: 12 * 1024, bits: 12, label: 'FAT12 VOL' },
  { name: 'fat16', args: ['-F', '16'], kib: 32 * 1024, bits: 16, label: 'ESP' },
  { name: 'fat32', args: ['-F', '32'], kib: 48 * 1024, bits: 32, label: 'EFI-SYSTEM' },
  { name: 'fat16-4k-sectors', args: ['-F', '16', '-S', '4096'], kib: 64 * 1024, bits: 16 },
  { name: 'fat32-2-sector-clusters', args: ['-F', '32', '-s', '2', '-f', '1'], kib: 80 * 1024, bits: 32 },
];

describe('FAT reader against mkfs.vfat + mcopy images', () => {
  let tmp: { dir: string; cleanup: () => void };
  let src: string;
  const images = new Map<string, string>();
  const devices: BlockDevice[] = [];
  const open = (img: string): FileSystem => {
    const dev = openImage(img, { format: 'raw' });
    devices.push(dev);
    return openFat(dev);
  };

  before(() => {
    tmp = tempDir('hyperward-fat-');
    src = join(tmp.dir, 'src');
    buildSource(src);
    for (const v of VARIANTS) {
      const img = join(tmp.dir, `${v.name}.img`);
      const label = v.label !== undefined ? ['-n', v.label] : [];
      run('mkfs.vfat', ['-C', '-i', '1234ABCD', ...label, ...v.args, img, String(v.kib)]);
      const top = readdirSync(src).map((n) => join(src, n));
      mtools('mcopy', ['-s', '-m', '-i', img, ...top, '::/']);
      // Deleted entries (mdel leaves 0xE5 slots behind) and a fragmented file: fill the volume but for 60000
      // bytes, free a gap in front, then write a file that needs both the tail and the gap.
      writeFileSync(join(tmp.dir, 'gone'), pattern(80_000, 1));
      writeFileSync(join(tmp.dir, 'keep'), 'keep\n');
      utimesSync(join(tmp.dir, 'keep'), FRAG_TIME + 2, FRAG_TIME + 2);
      mtools('mcopy', ['-i', img, join(tmp.dir, 'gone'), '::/many/gone-with-a-long-name']);
      mtools('mcopy', ['-m', '-i', img, join(tmp.dir, 'keep'), '::/many/zz-kept']);
      const free = Number(
        /([\d ]+) bytes free/.exec(mtools('mdir', ['-i', img, '::/']))![1]!.replace(/ /g, ''),
      );
      writeFileSync(join(tmp.dir, 'filler'), Buffer.alloc(free - 60_000));
      mtools('mcopy', ['-i', img, join(tmp.dir, 'filler'), '::/filler']);
      mtools('mdel', ['-i', img, '::/many/gone-with-a-long-name', '::/f511']);
      writeFileSync(join(tmp.dir, 'frag'), pattern(100_000, 99));
      utimesSync(join(tmp.dir, 'frag'), FRAG_TIME, FRAG_TIME);
      mtools('mcopy', ['-m', '-i', img, join(tmp.dir, 'frag'), '::/a/frag']);
      mtools('mdel', ['-i', img, '::/filler']);
      mtools('mattrib', ['-i', img, '+r', '::/UPPER.TXT', '::/a/b/c/d/deep.txt']);
      fsckFat(img);
      images.set(v.name, img);
    }
    // The tree as it now stands on every image.
    run('rm', [join(src, 'f511')]);
    writeFileSync(join(src, 'many/zz-kept'), 'keep\n');
    utimesSync(join(src, 'many/zz-kept'), FRAG_TIME + 2, FRAG_TIME + 2);
    writeFileSync(join(src, 'a/frag'), pattern(100_000, 99));
    utimesSync(join(src, 'a/frag'), FRAG_TIME, FRAG_TIME);
  });
  after(() => {
    for (const d of devices) d.close();
    tmp.cleanup();
  });

  for (const v of VARIANTS) {
    it(`${v.name}: every path, type, mode, size, mtime and byte matches the source tree and mdir`, () => {
      const img = images.get(v.name)!;
      const fs = open(img) as FileSystem & { variant: string };
      assert.equal(fs.type, 'vfat');
      const id = blkid(img);
      assert.equal(fs.variant, id.get('VERSION'), 'FAT type as blkid sees it');
      assert.equal(fs.variant, `FAT${v.bits}`);
      assert.equal(fs.uuid, id.get('UUID'));
      assert.equal(fs.label, id.get('LABEL'));
      if (v.label !== undefined) assert.equal(fs.label, v.label);
      const got = describeImage(fs);
      const want = describeSource(src, new Set(['/UPPER.TXT', '/a/b/c/d/deep.txt']));
      compareTrees(want, got);
      assert.deepEqual([...got.keys()].sort(), mdirPaths(img), 'paths as mdir lists them');
      assert.equal(fs.stat(fs.rootIno).type, 'dir');
      assert.equal(fs.stat(fs.rootIno).mode, 0o040755);
    });
  }

  it('the fragmented file really is fragmented, and reads right at random offsets', () => {
    for (const v of VARIANTS) {
      const img = images.get(v.name)!;
      const fs = open(img);
      const vfs = new Vfs(fs);
      const want = pattern(100_000, 99);
      assert.ok(showFat(img, '/a/frag').length >= 2, `${v.name}: frag is in several pieces`);
      const ino = vfs.resolve('/a/frag')!;
      assert.ok(vfs.readFile('/a/frag').equals(want));
      const big = readFileSync(join(src, 'big'));
      const bigIno = vfs.resolve('/big')!;
      const r = modPicker(xorshift32(v.bits * 7 + 1));
      for (let i = 0; i < 40; i++) {
        const off = r(want.length + 50);
        const len = r(30_000);
        assert.ok(
          fs.read(ino, off, len).equals(want.subarray(off, off + len)),
          `${v.name} frag ${off}+${len}`,
        );
        const boff = r(big.length + 50);
        const blen = r(300_000);
        assert.ok(
          fs.read(bigIno, boff, blen).equals(big.subarray(boff, boff + blen)),
          `${v.name} big ${boff}`,
        );
      }
    }
  });

  it('looks names up case-insensitively and by their 8.3 alias, as the vfat driver does', () => {
    const img = images.get('fat32')!;
    const fs = open(img);
    const vfs = new Vfs(fs);
    const deep = vfs.resolve('/a/b/c/d/deep.txt');
    assert.ok(deep !== undefined);
    assert.equal(vfs.resolve('/A/B/C/D/DEEP.TXT'), deep);
    assert.equal(vfs.resolve('/a/B/c/D/Deep.Txt'), deep);
    // The aliases mtools gave the long names, from its own listing.
    const listing = mtools('mdir', ['-i', img, '::/']);
    const line = listing.split('\n').find((l) => l.endsWith(' a b.txt'));
    assert.ok(line !== undefined, listing);
    const [base, ext] = line.trim().split(/\s+/);
    assert.equal(vfs.resolve(`/${base}.${ext}`), vfs.resolve('/a b.txt'));
    assert.equal(vfs.resolve(`/${base!.toLowerCase()}.${ext!.toLowerCase()}`), vfs.resolve('/a b.txt'));
    assert.equal(vfs.resolve('/no/such'), undefined);
    assert.equal(vfs.resolve('/many/file-0.dat/x'), undefined);
  });

  it('gives each entry the same inode number on every open', () => {
    const img = images.get('fat16')!;
    const a = describeImage(open(img));
    const b = describeImage(open(img));
    for (const [p, e] of a) assert.equal(b.get(p)!.ino, e.ino, p);
    const inos = new Set([...a.values()].map((e) => e.ino));
    assert.equal(inos.size, a.size, 'inode numbers are unique');
    assert.ok(!inos.has(1), 'no entry takes the root inode');
  });

  it('falls back to the short name when a long-name entry is damaged, as mtools does', () => {
    const img = images.get('fat16')!;
    const layout = fsckFat(img);
    const rootAt = Number(/Root directory starts at byte (\d+)/.exec(layout)![1]);
    const image = readFileSync(img);
    // The short entry whose long name is "a b.txt" (alias from mdir), and the LFN slot just before it.
    const line = mtools('mdir', ['-i', img, '::/'])
      .split('\n')
      .find((l) => l.endsWith(' a b.txt'))!;
    const [base, ext] = line.trim().split(/\s+/);
    const raw = Buffer.from(base!.padEnd(8, ' ') + ext!.padEnd(3, ' '), 'latin1');
    let at = -1;
    for (let o = rootAt; o < rootAt + 512 * 32; o += 32) {
      if (image.subarray(o, o + 11).equals(raw)) {
        at = o;
        break;
      }
    }
    assert.ok(at > rootAt, 'short entry found');
    const cases: Array<[string, (b: Buffer) => void]> = [
      ['checksum', (b) => (b[at - 32 + 13] = (b[at - 32 + 13]! + 1) & 0xff)],
      ['sequence', (b) => (b[at - 32] = 0x43)],
      ['deleted', (b) => (b[at - 32] = 0xe5)],
    ];
    for (const [what, damage] of cases) {
      const copy = Buffer.from(image);
      damage(copy);
      const path = join(tmp.dir, `lfn-${what}.img`);
      writeFileSync(path, copy);
      const fs = open(path);
      const names = describeImage(fs);
      assert.deepEqual([...names.keys()].sort(), mdirPaths(path), what);
      assert.ok(names.has(`/${base}.${ext}`), `${what}: shown under its alias`);
      assert.ok(!names.has('/a b.txt'), what);
    }
  });

  it('reports a looping cluster chain, a short chain and a truncated device as corruption', () => {
    const img = images.get('fat16')!;
    const layout = fsckFat(img);
    const fatAt = Number(/First FAT starts at byte (\d+)/.exec(layout)![1]);
    const runs = showFat(img, '/big');
    const first = runs[0]![0];
    assert.ok(runs[0]![1] - first >= 3, 'the first clusters of /big are consecutive');
    const image = readFileSync(img);
    const write = (name: string, buf: Buffer): FileSystem => {
      const p = join(tmp.dir, name);
      writeFileSync(p, buf);
      return open(p);
    };
    // Third cluster of /big points back to the first: a loop.
    const loop = Buffer.from(image);
    loop.writeUInt16LE(first, fatAt + 2 * (first + 2));
    let fs = write('loop.img', loop);
    let ino = new Vfs(fs).resolve('/big')!;
    expectError(() => fs.read(ino, 0, 4 * MiB), 'E_FS_CORRUPT', /loops/);
    // Third cluster marked end-of-chain: shorter than the size.
    const short = Buffer.from(image);
    short.writeUInt16LE(0xffff, fatAt + 2 * (first + 2));
    fs = write('short.img', short);
    ino = new Vfs(fs).resolve('/big')!;
    expectError(() => fs.read(ino, 0, 4 * MiB), 'E_FS_CORRUPT', /shorter/);
    // Second cluster free.
    const free = Buffer.from(image);
    free.writeUInt16LE(0, fatAt + 2 * (first + 1));
    fs = write('free.img', free);
    ino = new Vfs(fs).resolve('/big')!;
    expectError(() => fs.read(ino, 0, 4 * MiB), 'E_FS_CORRUPT', /free cluster/);
    // fsck.fat agrees these images are damaged.
    for (const n of ['loop.img', 'short.img', 'free.img']) {
      assert.notEqual(spawnSync('fsck.fat', ['-n', join(tmp.dir, n)]).status, 0, n);
    }
    // The device ends in the middle of /big.
    const dataAt = Number(/Data area starts at byte (\d+)/.exec(layout)![1]);
    const clusterSize = Number(/(\d+) bytes per cluster/.exec(layout)![1]);
    fs = write('cut.img', image.subarray(0, dataAt + (first - 2 + 10) * clusterSize));
    ino = new Vfs(fs).resolve('/big')!;
    expectError(() => fs.read(ino, 0, 4 * MiB), 'E_FS_CORRUPT', { layer: /FAT file/ });
  });

  it('refuses devices that are not FAT', () => {
    const zeros = join(tmp.dir, 'zeros.img');
    writeFileSync(zeros, Buffer.alloc(MiB));
    const ext = join(tmp.dir, 'ext.img');
    run('mkfs.ext4', ['-q', '-F', ext, '4M']);
    for (const p of [zeros, ext]) {
      const dev = openImage(p, { format: 'raw' });
      devices.push(dev);
      assert.equal(probeFat(dev), false);
      expectError(() => openFat(dev), 'E_UNSUPPORTED_FORMAT');
    }
    const dev = openImage(images.get('fat12')!, { format: 'raw' });
    devices.push(dev);
    assert.equal(probeFat(dev), true);
  });

  it('refuses reads of directories, links and bad inode numbers with a HyperwardError', () => {
    const fs = open(images.get('fat12')!);
    const vfs = new Vfs(fs);
    expectError(() => fs.read(fs.rootIno, 0, 1), 'E_USAGE');
    expectError(() => fs.read(vfs.resolve('/many')!, 0, 1), 'E_USAGE');
    expectError(() => fs.readlink(vfs.resolve('/one')!), 'E_USAGE');
    expectError(() => fs.readdir(vfs.resolve('/one')!), 'E_USAGE');
    expectError(() => fs.stat(3), 'E_FS_CORRUPT');
    expectError(() => fs.stat(2 ** 40), 'E_FS_CORRUPT');
  });
});
