import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  copyFileSync,
  ftruncateSync,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  readdirSync,
  readlinkSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { errorCode, expectError } from '../../test/helpers/errors.js';
import { modPicker, xorshift32 } from '../../test/helpers/pattern.js';
import { run, tempDir } from '../../test/helpers/tmp.js';
import { crc32c } from '../disk/crc32c.js';
import { openImage } from '../disk/open.js';
import type { BlockDevice, DeviceInfo } from '../disk/types.js';
import { btrfsNameHash, listBtrfsSubvolumes, openBtrfs, probeBtrfs, type BtrfsFileSystem } from './btrfs.js';
import { typeFromMode, type DirEntry, type FileSystem, type FileType } from './types.js';
import { Vfs } from './vfs.js';

const MiB = 1024 * 1024;
const TREE_STRIDE = 2 ** 36;

/** Deterministic pseudo-random bytes: the low byte of each xorshift32 value. */
function pseudoRandom(length: number, seed: number): Buffer {
  const next = xorshift32(seed);
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) out[i] = next() & 0xff;
  return out;
}

/** Compressible text: numbered lines with a little variety. */
function text(lines: number, seed: number): Buffer {
  const r = modPicker(xorshift32(seed));
  const words = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel'];
  let s = '';
  for (let i = 0; i < lines; i++) s += `${i} ${words[r(8)]} ${words[r(8)]} ${r(1000)}\n`;
  return Buffer.from(s);
}

/** Counts the reads a filesystem makes. */
class CountingDevice implements BlockDevice {
  reads = 0;
  bytes = 0;
  constructor(private readonly inner: BlockDevice) {}
  get size(): number {
    return this.inner.size;
  }
  get format(): string {
    return this.inner.format;
  }
  get name(): string {
    return this.inner.name;
  }
  get info(): DeviceInfo {
    return this.inner.info;
  }
  read(offset: number, length: number): Buffer {
    this.reads++;
    this.bytes += length;
    return this.inner.read(offset, length);
  }
  close(): void {
    this.inner.close();
  }
}

const LONG_TARGET = 'some/rather/long/relative/target/' + 'x'.repeat(2900);
const SPARSE_SIZE = 9 * MiB;
const SPARSE_ISLANDS: Array<[number, number]> = [
  [0, 5000],
  [2 * MiB + 100, 7000],
  [6 * MiB + 3, 1500],
  [SPARSE_SIZE - 10, 10],
];
const MANY = 1500;
const EXOTIC_NAMES = ['ünïcödé', '日本語のファイル', 'émoji-😀', 'n'.repeat(255), 'with space', 'a\nnewline'];

/** Builds the source tree images are made from; the tree is the oracle. */
function buildSource(root: string): void {
  mkdirSync(root);
  const file = (rel: string, data: Buffer | string): void => writeFileSync(join(root, rel), data);
  file('empty', '');
  file('one', 'x');
  file('sixty', pseudoRandom(60, 60));
  file('inline2000', pseudoRandom(2000, 2000));
  file('text3000', text(120, 3));
  file('f4095', pseudoRandom(4095, 4095));
  file('f4096', pseudoRandom(4096, 4096));
  file('f4097', pseudoRandom(4097, 4097));
  file('big', pseudoRandom(2 * MiB + 12345, 7));
  file('log', text(40000, 8));
  const fd = openSync(join(root, 'sparse'), 'w');
  ftruncateSync(fd, SPARSE_SIZE);
  for (const [off, len] of SPARSE_ISLANDS) writeSync(fd, pseudoRandom(len, off + 1), 0, len, off);
  closeSync(fd);
  mkdirSync(join(root, 'many'));
  for (let i = 0; i < MANY; i++) file(`many/entry-${i}`, i % 10 === 0 ? `${i}\n` : '');
  for (const n of EXOTIC_NAMES) file(`many/${n}`, n);
  mkdirSync(join(root, 'a/b/c/d/e'), { recursive: true });
  file('a/b/c/d/e/deep.txt', 'deep\n');
  mkdirSync(join(root, 'etc'));
  file('etc/x', 'the real x\n');
  symlinkSync('/etc/x', join(root, 'abs'));
  symlinkSync('../../..', join(root, 'a/b/c/up'));
  symlinkSync('../../../../../../../../etc/x', join(root, 'a/b/c/escape'));
  symlinkSync('f4095', join(root, 'fast'));
  symlinkSync(LONG_TARGET, join(root, 'long'));
  file('hl1', 'hard linked\n');
  linkSync(join(root, 'hl1'), join(root, 'a/hl2'));
  linkSync(join(root, 'hl1'), join(root, 'many/hl3'));
  run('mkfifo', [join(root, 'fifo')]);
  run('mknod', [join(root, 'null'), 'c', '1', '3']);
  file('owned', 'owned\n');
  lchownSync(join(root, 'owned'), 1234, 5678);
  chmodSync(join(root, 'owned'), 0o640);
  file('bigids', 'big ids\n');
  lchownSync(join(root, 'bigids'), 123456, 654321);
  chmodSync(join(root, 'bigids'), 0o4755);
  mkdirSync(join(root, 'sticky'));
  chmodSync(join(root, 'sticky'), 0o1777);
  mkdirSync(join(root, 'emptydir'));
  file('past', 'before 1970\n');
  // Deterministic times, deepest first (adding entries touches a directory).
  const all: string[] = [];
  const collect = (rel: string): void => {
    for (const n of readdirSync(join(root, rel))) {
      const p = rel === '' ? n : `${rel}/${n}`;
      all.push(p);
      if (lstatSync(join(root, p)).isDirectory()) collect(p);
    }
  };
  collect('');
  all.sort((x, y) => y.split('/').length - x.split('/').length);
  let t = 1_500_000_000;
  for (const p of all) {
    if (lstatSync(join(root, p)).isSymbolicLink()) lutimesSync(join(root, p), t, t);
    else utimesSync(join(root, p), t, t);
    t += 97;
  }
  utimesSync(join(root, 'past'), -100_000_000, -100_000_000);
}

interface Entry {
  type: FileType;
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  nlink: number;
  size: number;
  sha?: string;
  target?: string;
  ino: number;
  /** Source: st_dev (which subvolume, for a mounted btrfs). */
  dev?: number;
}

/** Walks a directory of the host (a source tree or a mounted btrfs). */
function describeHost(root: string): Map<string, Entry> {
  const out = new Map<string, Entry>();
  const walk = (rel: string): void => {
    for (const n of readdirSync(join(root, rel))) {
      const p = `${rel}/${n}`;
      const full = join(root, p);
      const st = lstatSync(full);
      const type = typeFromMode(st.mode);
      const e: Entry = {
        type,
        mode: st.mode,
        uid: st.uid,
        gid: st.gid,
        mtime: Math.floor(st.mtimeMs / 1000),
        nlink: st.nlink,
        size: st.size,
        ino: st.ino,
        dev: st.dev,
      };
      if (type === 'file') e.sha = createHash('sha256').update(readFileSync(full)).digest('hex');
      else if (type === 'symlink') e.target = readlinkSync(full);
      out.set(p, e);
      if (type === 'dir') walk(p);
    }
  };
  walk('');
  return out;
}

/** Reads a whole file in unaligned chunks and hashes it. */
function hashFile(fs: FileSystem, ino: number, size: number): string {
  const h = createHash('sha256');
  const chunk = MiB + 4097;
  for (let off = 0; off < size; off += chunk) {
    const b = fs.read(ino, off, chunk);
    assert.equal(b.length, Math.min(chunk, size - off));
    h.update(b);
  }
  assert.equal(fs.read(ino, size, 10).length, 0, 'a read at EOF is empty');
  return h.digest('hex');
}

/** Walks everything the reader shows, checking lookups of every name and of absent ones on the way. */
function describeImage(fs: FileSystem): Map<string, Entry> {
  const out = new Map<string, Entry>();
  const walk = (dirIno: number, rel: string): void => {
    const entries = fs.readdir(dirIno);
    const names = new Set<string>();
    for (const de of entries) {
      assert.ok(!names.has(de.name), `duplicate entry ${rel}/${de.name}`);
      names.add(de.name);
      const p = `${rel}/${de.name}`;
      assert.equal(fs.lookup(dirIno, de.name), de.ino, `lookup of ${p}`);
      const st = fs.stat(de.ino);
      assert.equal(st.ino, de.ino);
      assert.equal(de.type, st.type, `entry type of ${p}`);
      const e: Entry = {
        type: st.type,
        mode: st.mode,
        uid: st.uid,
        gid: st.gid,
        mtime: st.mtime,
        nlink: st.nlink,
        size: st.size,
        ino: de.ino,
      };
      if (st.type === 'file') e.sha = hashFile(fs, de.ino, st.size);
      else if (st.type === 'symlink') e.target = fs.readlink(de.ino);
      out.set(p, e);
      if (st.type === 'dir') walk(de.ino, p);
    }
    for (const absent of ['no-such-name', 'ENTRY-1', 'entry-', `entry-${MANY}`, 'entry-1x']) {
      assert.equal(fs.lookup(dirIno, absent), undefined, `lookup of absent ${rel}/${absent}`);
    }
  };
  walk(fs.rootIno, '');
  return out;
}

/**
 * Compares the reader's view with the source tree. Directory sizes and link counts are the host
 * filesystem's own (btrfs counts differently), so they are compared only when `sameFs` (a mounted btrfs).
 */
function compareTrees(
  src: Map<string, Entry>,
  img: Map<string, Entry>,
  sameFs: boolean,
  skip: Set<string> = new Set(),
): void {
  assert.deepEqual([...img.keys()].sort(), [...src.keys()].sort(), 'same paths');
  const inoBySrc = new Map<string, number>();
  for (const [p, s] of src) {
    const m = img.get(p)!;
    assert.equal(m.type, s.type, `type of ${p}`);
    assert.equal(m.mode, s.mode, `mode of ${p}`);
    assert.equal(m.uid, s.uid, `uid of ${p}`);
    assert.equal(m.gid, s.gid, `gid of ${p}`);
    if (!skip.has(p)) assert.equal(m.mtime, s.mtime, `mtime of ${p}`);
    if (s.type !== 'dir' || sameFs) {
      assert.equal(m.nlink, s.nlink, `nlink of ${p}`);
      assert.equal(m.size, s.size, `size of ${p}`);
    }
    if (s.sha !== undefined) assert.equal(m.sha, s.sha, `content of ${p}`);
    if (s.target !== undefined) assert.equal(m.target, s.target, `target of ${p}`);
    if (s.type !== 'dir') {
      // Hard links: one source inode, one image inode.
      const id = `${s.dev}:${s.ino}`;
      const seen = inoBySrc.get(id);
      if (seen === undefined) inoBySrc.set(id, m.ino);
      else assert.equal(m.ino, seen, `hard link ${p}`);
    }
  }
}

/** Random unaligned reads of `path` compared with the source file's bytes `want`. */
function randomReads(fs: FileSystem, want: Buffer, path: string, seed: number): void {
  const ino = new Vfs(fs).resolve(path)!;
  const r = modPicker(xorshift32(seed));
  for (let i = 0; i < 25; i++) {
    const off = r(want.length + 100);
    const len = r(300_000);
    const got = fs.read(ino, off, len);
    assert.ok(got.equals(want.subarray(off, off + len)), `${path} at ${off}+${len}`);
  }
}

function dumpTree(img: string, tree: string): string {
  return run('btrfs', ['inspect-internal', 'dump-tree', '-t', tree, img]);
}

function withFs<T>(img: string, fn: (fs: BtrfsFileSystem, dev: CountingDevice) => T, opts = {}): T {
  const dev = new CountingDevice(openImage(img, { format: 'raw' }));
  try {
    return fn(openBtrfs(dev, opts), dev);
  } finally {
    dev.close();
  }
}

/** Rewrites the crc32c of the 4 KiB superblock (after a deliberate edit). */
function resignSuper(img: string, edit: (sb: Buffer) => void): void {
  const buf = readFileSync(img);
  const sb = buf.subarray(0x10000, 0x11000);
  edit(sb);
  sb.writeUInt32LE(crc32c(sb.subarray(32)), 0);
  writeFileSync(img, buf);
}

/** Physical offsets of each copy of logical address `logical`, from btrfs-map-logical. */
function mapLogical(img: string, logical: number): number[] {
  const out = run('btrfs-map-logical', ['-l', String(logical), img]);
  return [...out.matchAll(/physical (\d+)/g)].map((m) => Number(m[1]));
}

/** Maps data addresses to device offsets through the single-profile DATA chunks that dump-tree lists. */
function dataChunks(img: string): (logical: number) => number {
  const chunks = [
    ...dumpTree(img, 'chunk').matchAll(
      /CHUNK_ITEM (\d+)\)[^\n]*\n\s*length (\d+) [^\n]*type DATA\|single[\s\S]*?stripe 0 devid 1 offset (\d+)/g,
    ),
  ].map((m) => ({ logical: Number(m[1]), length: Number(m[2]), physical: Number(m[3]) }));
  return (logical) => {
    const c = chunks.find((x) => logical >= x.logical && logical < x.logical + x.length);
    assert.ok(c !== undefined, `data address ${logical} in a chunk`);
    return c.physical + (logical - c.logical);
  };
}

/**
 * Counts, over every lzo extent of the image, the segment headers that the kernel pushed to the next sector
 * because fewer than 4 bytes were left in the current one (the case the reader must skip). Walks only the
 * framing (lengths), straight from the image bytes, to prove the case is covered.
 */
function lzoPaddedSegments(img: string, tree: string): number {
  const phys = dataChunks(img);
  const fd = openSync(img, 'r');
  let pads = 0;
  try {
    for (const m of tree.matchAll(
      /extent data disk byte (\d+) nr (\d+)\n[^\n]*\n\s*extent compression 2 \(lzo\)/g,
    )) {
      const buf = Buffer.alloc(Number(m[2]));
      readSync(fd, buf, 0, buf.length, phys(Number(m[1])));
      const total = buf.readUInt32LE(0);
      for (let pos = 4; pos < total;) {
        const left = 4096 - (pos % 4096);
        if (left < 4) {
          pads++;
          pos += left;
        } else {
          pos += 4 + buf.readUInt32LE(pos);
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  return pads;
}

// ---------------------------------------------------------------------------------------------------------

interface Variant {
  name: string;
  args: string[];
  check?: (img: string, fs: BtrfsFileSystem) => void;
}

const VARIANTS: Variant[] = [
  {
    name: 'defaults (DUP metadata, 16 KiB nodes, crc32c, no-holes) with a label',
    args: ['-L', 'hyperward-btrfs'],
    check: (img, fs) => {
      assert.equal(fs.label, 'hyperward-btrfs');
      assert.match(dumpTree(img, 'chunk'), /type METADATA\|DUP/);
      // mkfs --rootdir writes small files inline and larger ones as regular extents.
      const t = dumpTree(img, '5');
      assert.match(t, /type 0 \(inline\)/);
      assert.match(t, /type 1 \(regular\)/);
    },
  },
  {
    name: '4 KiB nodes (a tree of several levels)',
    args: ['-n', '4096'],
    check: (img) => assert.match(dumpTree(img, '5'), /^node \d+ level [2-7]/m),
  },
  { name: '64 KiB nodes', args: ['-n', '65536'] },
  { name: 'single metadata and data', args: ['-m', 'single', '-d', 'single'] },
  { name: 'DUP data', args: ['-m', 'dup', '-d', 'dup'] },
  { name: 'RAID0 data and metadata on one device', args: ['-m', 'raid0', '-d', 'raid0'] },
  { name: 'mixed block groups', args: ['-M'] },
  {
    name: 'explicit hole extents (^no-holes)',
    args: ['-O', '^no-holes'],
    check: (img) => assert.doesNotMatch(run('btrfs', ['inspect-internal', 'dump-super', img]), /NO_HOLES/),
  },
  {
    name: 'xxhash64 checksums',
    args: ['--csum', 'xxhash'],
    check: (_img, fs) => assert.deepEqual(fs.checksum, { type: 'xxhash64', verified: true }),
  },
  {
    name: 'sha256 checksums',
    args: ['--csum', 'sha256'],
    check: (_img, fs) => assert.deepEqual(fs.checksum, { type: 'sha256', verified: true }),
  },
  {
    name: 'blake2 checksums (accepted, reported unverified)',
    args: ['--csum', 'blake2'],
    check: (_img, fs) => assert.deepEqual(fs.checksum, { type: 'blake2b', verified: false }),
  },
];

describe('btrfs reader against mkfs.btrfs --rootdir of a source tree', () => {
  let tmp: { dir: string; cleanup: () => void };
  let src: string;
  let oracle: Map<string, Entry>;
  const contents = new Map<string, Buffer>();

  before(() => {
    tmp = tempDir('hyperward-btrfs-');
    src = join(tmp.dir, 'src');
    buildSource(src);
    oracle = describeHost(src);
    for (const p of ['/big', '/sparse', '/f4097', '/log']) contents.set(p, readFileSync(join(src, p)));
  });
  after(() => tmp.cleanup());

  for (const v of VARIANTS) {
    it(v.name, () => {
      const img = join(tmp.dir, 'img');
      writeFileSync(img, '');
      run('mkfs.btrfs', ['-q', '-f', ...v.args, '--rootdir', src, '-b', '160M', img]);
      withFs(img, (fs, dev) => {
        assert.equal(probeBtrfs(dev), true);
        assert.equal(fs.type, 'btrfs');
        const sup = run('btrfs', ['inspect-internal', 'dump-super', img]);
        assert.equal(fs.uuid, /^fsid\s+(\S+)/m.exec(sup)?.[1]);
        assert.deepEqual(fs.subvolume, { id: 5, path: '/' });
        compareTrees(oracle, describeImage(fs), false);
        for (const [p, want] of contents) randomReads(fs, want, p, p.length);
        const vfs = new Vfs(fs);
        assert.equal(vfs.resolve('/abs'), vfs.resolve('/etc/x'));
        assert.equal(vfs.resolve('/a/b/c/up/etc/x'), vfs.resolve('/etc/x'));
        assert.equal(vfs.readFile('/a/b/c/escape').toString(), 'the real x\n');
        v.check?.(img, fs);
      });
    });
  }
});

// ---------------------------------------------------------------------------------------------------------

/** An empty sparse file of `size` bytes (mkfs.btrfs without --rootdir needs the room). */
function blank(path: string, size: number): void {
  writeFileSync(path, '');
  run('truncate', ['-s', String(size), path]);
}

/** Whether this machine can loop-mount btrfs (root, btrfs in the kernel, loop devices). */
function canMountBtrfs(dir: string): string | undefined {
  if (process.getuid?.() !== 0) return 'not root';
  const img = join(dir, 'probe.img');
  const mnt = join(dir, 'probe-mnt');
  mkdirSync(mnt, { recursive: true });
  blank(img, 128 * MiB);
  run('mkfs.btrfs', ['-q', '-f', img]);
  const r = spawnSync('mount', ['-o', 'loop', img, mnt], { encoding: 'utf8' });
  if (r.status !== 0) return `mount -o loop failed: ${r.stderr.trim()}`;
  run('umount', [mnt]);
  return undefined;
}

/** Mounts `img` at `mnt`, runs `fn`, unmounts whatever happens. */
function mounted<T>(img: string, mnt: string, options: string, fn: () => T): T {
  mkdirSync(mnt, { recursive: true });
  run('mount', ['-o', `loop,${options}`, img, mnt]);
  try {
    return fn();
  } finally {
    run('umount', [mnt]);
  }
}

describe('btrfs reader on images written by the kernel (loop mounts)', () => {
  let tmp: { dir: string; cleanup: () => void };
  let src: string;
  let oracle: Map<string, Entry>;
  let noMount: string | undefined;

  before(() => {
    tmp = tempDir('hyperward-btrfsk-');
    src = join(tmp.dir, 'src');
    buildSource(src);
    oracle = describeHost(src);
    noMount = canMountBtrfs(tmp.dir);
  });
  after(() => tmp.cleanup());

  const skipUnlessMount = (t: TestContext): boolean => {
    if (noMount === undefined) return false;
    t.skip(`btrfs loop mounts are unavailable here (${noMount})`);
    return true;
  };

  const hugeLog = text(600_000, 12);

  /** Expected bytes of the file written into preallocated space: zeros around 4 KiB of data at 8 KiB. */
  const preallocWant = (): Buffer => {
    const b = Buffer.alloc(MiB);
    pseudoRandom(4096, 99).copy(b, 8192);
    return b;
  };

  for (const [alg, code] of [
    ['zlib', 1],
    ['lzo', 2],
    ['zstd', 3],
  ] as const) {
    for (const holes of ['no-holes', '^no-holes']) {
      it(`compress-force=${alg}, ${holes}: compressed inline and regular extents, holes, prealloc`, (t) => {
        if (skipUnlessMount(t)) return;
        const img = join(tmp.dir, `${alg}.img`);
        const mnt = join(tmp.dir, 'mnt');
        blank(img, 200 * MiB);
        run('mkfs.btrfs', ['-q', '-f', '-O', holes, img]);
        mounted(img, mnt, `compress-force=${alg}`, () => {
          run('cp', ['-a', '--sparse=always', `${src}/.`, mnt]);
          // Preallocated space with data written into the middle of it: prealloc, regular, prealloc.
          run('fallocate', ['-l', String(MiB), join(mnt, 'prealloc')]);
          const fd = openSync(join(mnt, 'prealloc'), 'r+');
          writeSync(fd, pseudoRandom(4096, 99), 0, 4096, 8192);
          closeSync(fd);
          utimesSync(join(mnt, 'prealloc'), 1_600_000_000, 1_600_000_000);
          // Many compressed extents of many sectors each (for lzo: enough segments to meet a padded sector end).
          writeFileSync(join(mnt, 'hugelog'), hugeLog);
          utimesSync(join(mnt, 'hugelog'), 1_600_000_000, 1_600_000_000);
          utimesSync(mnt, 1_600_000_000, 1_600_000_000);
          run('sync', []);
        });
        const tree = dumpTree(img, '5');
        assert.match(
          tree,
          new RegExp(
            `type 0 \\(inline\\)\\s*\\n\\s*inline extent data size \\d+ ram_bytes \\d+ compression ${code}`,
          ),
        );
        assert.match(tree, new RegExp(`extent compression ${code} \\(${alg}\\)`));
        assert.match(tree, /type 2 \(prealloc\)/);
        if (holes === '^no-holes') assert.match(tree, /extent data disk byte 0 nr 0/);
        if (alg === 'lzo')
          assert.ok(lzoPaddedSegments(img, tree) > 0, 'an lzo segment header moved to the next sector');
        withFs(img, (fs) => {
          const got = describeImage(fs);
          const pre = got.get('/prealloc');
          got.delete('/prealloc');
          assert.equal(got.get('/hugelog')?.sha, createHash('sha256').update(hugeLog).digest('hex'));
          got.delete('/hugelog');
          compareTrees(oracle, got, false);
          assert.equal(pre?.sha, createHash('sha256').update(preallocWant()).digest('hex'));
          const vfs = new Vfs(fs);
          randomReads(fs, readFileSync(join(src, 'log')), '/log', 5);
          randomReads(fs, readFileSync(join(src, 'sparse')), '/sparse', 6);
          randomReads(fs, preallocWant(), '/prealloc', 7);
          assert.equal(vfs.readlink('/long'), LONG_TARGET);
        });
      });
    }
  }

  it('subvolumes: default, by path and id, nested ones entered, snapshots show placeholders', (t) => {
    if (skipUnlessMount(t)) return;
    const img = join(tmp.dir, 'subvol.img');
    const mnt = join(tmp.dir, 'mnt');
    blank(img, 200 * MiB);
    run('mkfs.btrfs', ['-q', '-f', img]);
    const btrfs = (...args: string[]): string => run('btrfs', args);
    mounted(img, mnt, 'compress=zstd', () => {
      writeFileSync(join(mnt, 'topfile'), 'top\n');
      mkdirSync(join(mnt, 'dir'));
      btrfs('subvolume', 'create', join(mnt, 'sv1'));
      run('cp', [
        '-a',
        join(src, 'a'),
        join(src, 'etc'),
        join(src, 'log'),
        join(src, 'hl1'),
        join(mnt, 'sv1'),
      ]);
      btrfs('subvolume', 'create', join(mnt, 'dir/sv2'));
      writeFileSync(join(mnt, 'dir/sv2/inside'), text(50, 2));
      btrfs('subvolume', 'create', join(mnt, 'sv1/nested'));
      writeFileSync(join(mnt, 'sv1/nested/deep'), 'nested file\n');
      btrfs('subvolume', 'snapshot', join(mnt, 'sv1'), join(mnt, 'snap'));
      btrfs('subvolume', 'snapshot', '-r', join(mnt, 'sv1'), join(mnt, 'dir/rosnap'));
      // Changes after the snapshots: the trees now share some blocks and differ in others.
      writeFileSync(join(mnt, 'sv1/after'), 'written after the snapshots\n');
      writeFileSync(join(mnt, 'sv1/log'), text(100, 77));
      const id = /Subvolume ID:\s+(\d+)/.exec(btrfs('subvolume', 'show', join(mnt, 'sv1')))![1]!;
      btrfs('subvolume', 'set-default', id, mnt);
      run('sync', []);
    });

    // The subvolume list, paths and flags as btrfs-progs reports them on the mounted top level.
    const listed = mounted(img, mnt, 'ro,subvolid=5', () => {
      const all = btrfs('subvolume', 'list', mnt);
      const ro = btrfs('subvolume', 'list', '-r', mnt);
      const def = btrfs('subvolume', 'get-default', mnt);
      const parse = (s: string): Array<{ id: number; parent: number; path: string }> =>
        [...s.matchAll(/^ID (\d+) gen \d+ top level (\d+) path (.*)$/gm)].map((m) => ({
          id: Number(m[1]),
          parent: Number(m[2]),
          path: m[3]!,
        }));
      return {
        all: parse(all),
        ro: new Set(parse(ro).map((s) => s.id)),
        def: Number(/^ID (\d+)/.exec(def)![1]),
      };
    });
    const dev = openImage(img, { format: 'raw' });
    try {
      const subs = listBtrfsSubvolumes(dev);
      assert.deepEqual(
        subs.filter((s) => s.id !== 5).map((s) => ({ id: s.id, parent: s.parentId, path: s.path })),
        listed.all.map((s) => ({ id: s.id, parent: s.parent, path: `/${s.path}` })),
      );
      assert.deepEqual(subs[0], { id: 5, path: '/', isDefault: false, readOnly: false });
      for (const s of subs) {
        assert.equal(s.isDefault, s.id === listed.def, `default flag of ${s.path}`);
        assert.equal(s.readOnly, listed.ro.has(s.id), `read-only flag of ${s.path}`);
      }
    } finally {
      dev.close();
    }

    // Each view compared with the kernel's view of the same mount.
    const views: Array<[string, { subvolume?: string; subvolumeId?: number }, string]> = [
      ['default subvolume', {}, 'ro'],
      ['top level by id', { subvolumeId: 5 }, 'ro,subvolid=5'],
      ['nested path', { subvolume: 'dir/sv2' }, 'ro,subvol=dir/sv2'],
      ['snapshot with a leading slash', { subvolume: '/snap' }, 'ro,subvol=snap'],
      ['read-only snapshot', { subvolume: 'dir/rosnap/' }, 'ro,subvol=dir/rosnap'],
    ];
    for (const [what, opts, mountOpts] of views) {
      const kernel = mounted(img, mnt, mountOpts, () => describeHost(mnt));
      const rootDev = mounted(img, mnt, mountOpts, () => lstatSync(mnt).dev);
      withFs(
        img,
        (fs) => {
          const got = describeImage(fs);
          // The kernel dates its placeholder for an unreachable nested subvolume "now"; so is its mtime skipped.
          const placeholders = new Set(
            [...kernel].filter(([, e]) => e.ino === 2 && e.type === 'dir').map(([p]) => p),
          );
          compareTrees(kernel, got, true, placeholders);
          const treeOfDev = new Map<number, number>();
          for (const [p, k] of kernel) {
            const m = got.get(p)!;
            if (placeholders.has(p)) {
              // The kernel shows every placeholder as inode 2 of the filesystem's own device.
              assert.equal(m.ino, 2, `${what}: placeholder ${p}`);
            } else if (k.dev === rootDev) {
              assert.equal(m.ino, k.ino, `${what}: inode number of ${p}`);
            } else {
              // Another subvolume: numbered objectid + tree id * 2^36, one tree per kernel st_dev.
              assert.equal(m.ino % TREE_STRIDE, k.ino, `${what}: inode number of ${p}`);
              const tree = Math.floor(m.ino / TREE_STRIDE);
              assert.ok(tree >= 256, `${what}: tree of ${p}`);
              const prev = treeOfDev.get(k.dev!);
              if (prev === undefined) treeOfDev.set(k.dev!, tree);
              else assert.equal(tree, prev, `${what}: subvolume of ${p}`);
            }
          }
          if (what === 'snapshot with a leading slash') assert.deepEqual([...placeholders], ['/nested']);
          if (what === 'top level by id')
            assert.ok(treeOfDev.size >= 4, `${treeOfDev.size} subvolumes entered`);
        },
        opts,
      );
    }
    withFs(img, (fs) => assert.equal(fs.subvolume.path, '/sv1'));
    const dev2 = openImage(img, { format: 'raw' });
    try {
      expectError(() => openBtrfs(dev2, { subvolume: 'no/such' }), 'E_NOT_FOUND');
      expectError(() => openBtrfs(dev2, { subvolumeId: 999 }), 'E_NOT_FOUND');
      expectError(() => openBtrfs(dev2, { subvolumeId: 3 }), 'E_NOT_FOUND', /not a subvolume/);
    } finally {
      dev2.close();
    }
  });

  it('reads one member of a two-device RAID1 alone; refuses RAID0 data on the other device, and RAID5', (t) => {
    if (skipUnlessMount(t)) return;
    const imgs = [join(tmp.dir, 'm1.img'), join(tmp.dir, 'm2.img')];
    const mnt = join(tmp.dir, 'mnt');
    mkdirSync(mnt, { recursive: true });
    for (const [profile, refusal] of [
      ['raid1', undefined],
      ['raid0', /lies on device [12] of 2/],
      ['raid5', /raid5 chunk, which this reader does not reassemble/],
    ] as const) {
      for (const f of imgs) blank(f, 300 * MiB);
      const loops = imgs.map((f) => run('losetup', ['--find', '--show', f]).trim());
      try {
        run('mkfs.btrfs', ['-q', '-f', '-d', profile, '-m', 'raid1', ...loops]);
        run('mount', ['-o', `device=${loops[1]!}`, loops[0]!, mnt]);
        try {
          run('cp', ['-a', join(src, 'a'), join(src, 'etc'), join(src, 'big'), join(src, 'log'), mnt]);
        } finally {
          run('umount', [mnt]);
        }
      } finally {
        for (const l of loops) run('losetup', ['-d', l]);
      }
      for (const [i, f] of imgs.entries()) {
        withFs(f, (fs) => {
          assert.equal(fs.numDevices, 2);
          assert.equal(fs.devid, i + 1);
          const vfs = new Vfs(fs);
          assert.equal(vfs.readFile('/etc/x').toString(), 'the real x\n');
          if (refusal === undefined) {
            assert.ok(
              vfs.readFile('/big').equals(readFileSync(join(src, 'big'))),
              `${profile} member ${i + 1}`,
            );
          } else {
            expectError(() => vfs.readFile('/big'), 'E_UNSUPPORTED_FORMAT', refusal);
          }
        });
      }
    }
  });
});

// ---------------------------------------------------------------------------------------------------------

describe('btrfs reader details', () => {
  let tmp: { dir: string; cleanup: () => void };
  let img: string;
  let src: string;

  before(() => {
    tmp = tempDir('hyperward-btrfsd-');
    src = join(tmp.dir, 'src');
    mkdirSync(join(src, 'd'), { recursive: true });
    for (let i = 0; i < 3000; i++) writeFileSync(join(src, 'd', `file-${i}-${'z'.repeat(i % 50)}`), '');
    writeFileSync(join(src, 'data'), pseudoRandom(300_000, 4));
    img = join(tmp.dir, 'base.img');
    writeFileSync(img, '');
    run('mkfs.btrfs', ['-q', '-f', '-n', '4096', '--rootdir', src, '-b', '128M', img]);
  });
  after(() => tmp.cleanup());

  const copy = (name: string): string => {
    const p = join(tmp.dir, name);
    copyFileSync(img, p);
    return p;
  };

  it('hashes names like btrfs-progs (DIR_ITEM keys from dump-tree)', () => {
    const dump = dumpTree(img, '5');
    const hashes = [...dump.matchAll(/key \(\d+ DIR_ITEM (\d+)\)[^\n]*\n[^\n]*\n[^\n]*\n\s*name: (.*)/g)];
    assert.ok(hashes.length > 3000, `${hashes.length} DIR_ITEMs`);
    for (const [, hash, name] of hashes) assert.equal(btrfsNameHash(Buffer.from(name!)), Number(hash), name);
  });

  it('finds a name through its hash, reading only one path down the tree', () => {
    withFs(img, (fs, dev) => {
      const d = new Vfs(fs).resolve('/d')!;
      const listed = fs.readdir(d);
      assert.equal(listed.length, 3000);
      const levels = Number(/^node \d+ level (\d+)/m.exec(dumpTree(img, '5'))?.[1] ?? 0);
      assert.ok(levels >= 1, 'the fs tree has internal nodes');
      const r = modPicker(xorshift32(3));
      for (let k = 0; k < 200; k++) {
        const e: DirEntry = listed[r(listed.length)]!;
        const fresh = openBtrfs(dev);
        dev.reads = 0;
        assert.equal(fresh.lookup(d, e.name), e.ino);
        // One path down the tree for the directory's inode and one for the name's DIR_ITEM (sharing the top).
        assert.ok(
          dev.reads <= 2 * (levels + 1),
          `${dev.reads} reads for one lookup in a ${levels + 1}-level tree`,
        );
      }
    });
  });

  it('reads past a damaged first copy of a DUP tree block, and refuses when both are damaged', () => {
    const leaf = Number(
      /^leaf (\d+) items \d+[^\n]*\n[^\n]*\n[^\n]*\n[^\n]*\n\s*item 0 key \(256 INODE_ITEM/m.exec(
        dumpTree(img, '5'),
      )?.[1],
    );
    assert.ok(leaf > 0);
    const copies = mapLogical(img, leaf);
    assert.equal(copies.length, 2, 'DUP metadata: two copies');
    const one = copy('dup1.img');
    const buf = readFileSync(one);
    const flip = (at: number): void => {
      buf[at] = buf[at]! ^ 0xff;
    };
    flip(copies[0]! + 200);
    writeFileSync(one, buf);
    withFs(one, (fs) => assert.equal(new Vfs(fs).readdir('/').length, 2));
    flip(copies[1]! + 200);
    writeFileSync(one, buf);
    const dev = openImage(one, { format: 'raw' });
    try {
      expectError(() => new Vfs(openBtrfs(dev)).readdir('/'), 'E_FS_CORRUPT', {
        message: /checksum/,
        layer: /btrfs/,
      });
    } finally {
      dev.close();
    }
  });

  it('refuses a damaged superblock, unknown features, and devices that are not btrfs', () => {
    const bad = copy('badsb.img');
    const b = readFileSync(bad);
    b[0x10000 + 0x100] = b[0x10000 + 0x100]! ^ 1;
    writeFileSync(bad, b);
    const d1 = openImage(bad, { format: 'raw' });
    try {
      expectError(() => openBtrfs(d1), 'E_FS_CORRUPT', { message: /checksum/, layer: /superblock/ });
    } finally {
      d1.close();
    }
    const feat = copy('feat.img');
    resignSuper(feat, (sb) => sb.writeBigUInt64LE(sb.readBigUInt64LE(0xbc) | (1n << 40n), 0xbc));
    const d2 = openImage(feat, { format: 'raw' });
    try {
      expectError(() => openBtrfs(d2), 'E_UNSUPPORTED_FORMAT', /0x10000000000/);
    } finally {
      d2.close();
    }
    const zeros = join(tmp.dir, 'zeros.img');
    writeFileSync(zeros, Buffer.alloc(128 * 1024));
    const d3 = openImage(zeros, { format: 'raw' });
    try {
      assert.equal(probeBtrfs(d3), false);
      assert.equal(
        errorCode(() => openBtrfs(d3)),
        'E_UNSUPPORTED_FORMAT',
      );
    } finally {
      d3.close();
    }
  });

  it('reports a data extent outside every chunk as E_FS_CORRUPT naming the layer', () => {
    const p = copy('extent.img');
    // The EXTENT_DATA item of /data: find the leaf that holds it, and point its disk address far away in both
    // copies of that leaf (re-signed, so the checksum passes and the bad address is what is met).
    const dump = dumpTree(img, '5');
    // /data's own inode: the first extent of the dump may belong to another file, as mkfs lays files out.
    const dataIno = withFs(img, (fs) => new Vfs(fs).resolve('/data')!);
    const bytenr = Number(
      new RegExp(`key \\(${dataIno} EXTENT_DATA 0\\)[^]*?extent data disk byte (\\d+) nr \\d+`).exec(
        dump,
      )?.[1],
    );
    assert.ok(Number.isSafeInteger(bytenr) && bytenr > 0, 'found the extent of /data in dump-tree');
    const leaf = dump.split(/^(?=leaf )/m).find((sec) => sec.includes(`extent data disk byte ${bytenr} `));
    const logical = Number(/^leaf (\d+)/.exec(leaf ?? '')?.[1]);
    const buf = readFileSync(p);
    const needle = Buffer.alloc(8);
    needle.writeBigUInt64LE(BigInt(bytenr));
    let patched = 0;
    for (const blk of mapLogical(img, logical)) {
      const at = buf.subarray(blk, blk + 4096).indexOf(needle);
      assert.ok(at > 0);
      buf.writeBigUInt64LE(1n << 50n, blk + at);
      buf.writeUInt32LE(crc32c(buf.subarray(blk + 32, blk + 4096)), blk);
      patched++;
    }
    assert.ok(patched >= 1);
    writeFileSync(p, buf);
    withFs(p, (fs) => {
      const ino = new Vfs(fs).resolve('/data')!;
      expectError(() => fs.read(ino, 0, 100), 'E_FS_CORRUPT', {
        message: /in no chunk/,
        layer: /btrfs file extents/,
      });
    });
  });

  it('reads a file in pieces the same as whole', () => {
    const want = readFileSync(join(src, 'data'));
    withFs(img, (fs) => {
      const ino = new Vfs(fs).resolve('/data')!;
      const parts: Buffer[] = [];
      for (let off = 0; off < want.length; off += 7777) parts.push(fs.read(ino, off, 7777));
      assert.ok(Buffer.concat(parts).equals(want));
      const fd = openSync(join(src, 'data'), 'r');
      const b = Buffer.alloc(10);
      readSync(fd, b, 0, 10, want.length - 10);
      closeSync(fd);
      assert.ok(fs.read(ino, want.length - 10, 1000).equals(b));
    });
  });
});
