import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  copyFileSync,
  ftruncateSync,
  linkSync,
  lchownSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { run, tempDir } from '../../test/helpers/tmp.js';
import { errorCode } from '../../test/helpers/errors.js';
import { qemuConvert } from '../../test/helpers/images.js';
import { modPicker, xorshift32 } from '../../test/helpers/pattern.js';
import { openImage } from '../disk/open.js';
import type { BlockDevice, DeviceInfo } from '../disk/types.js';
import { HyperwardError } from '../errors.js';
import { openExt4, probeExt4 } from './ext4.js';
import { typeFromMode, type FileSystem, type FileType } from './types.js';
import { Vfs } from './vfs.js';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const MiB = 1024 * 1024;

/** Deterministic pseudo-random bytes: the low byte of each xorshift32 value. */
function pseudoRandom(length: number, seed: number): Buffer {
  const next = xorshift32(seed);
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) out[i] = next() & 0xff;
  return out;
}

/** e2fsck exits 1 when it changed something (e.g. rebuilt directories); only >1 is a failure. */
function fsck(args: string[]): void {
  const r = spawnSync('e2fsck', args, { encoding: 'utf8' });
  if (r.status !== 0 && r.status !== 1)
    throw new Error(`e2fsck ${args.join(' ')} failed: ${r.stdout}${r.stderr}`);
}

function debugfs(img: string, cmd: string, write = false): string {
  return run('debugfs', [...(write ? ['-w'] : []), '-R', cmd, img]);
}

/** Counts the reads a filesystem makes, to check coalescing and how few blocks lookups touch. */
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
  reset(): void {
    this.reads = 0;
    this.bytes = 0;
  }
}

const LONG_TARGET = 'some/rather/long/relative/target/that/does/not/fit/in/i_block/' + 'x'.repeat(40);
const SPARSE_SIZE = 66 * MiB;
/** Data islands of the sparse file; the last one is past 64 MiB, in the triple-indirect range of 1 KiB blocks. */
const SPARSE_ISLANDS: Array<[number, number]> = [
  [0, 5000],
  [2 * MiB + 100, 7000],
  [40 * MiB + 3, 1500],
  [65 * MiB, 4096],
  [SPARSE_SIZE - 10, 10],
];
/** Entries of `/many` in the full tree (built for the variants where big directories matter: mkfs -d fills a
 * directory in quadratic time) and in the small tree. */
const MANY = 5000;
const FEW = 400;
const EXOTIC_NAMES = [
  'ünïcödé',
  '日本語のファイル',
  'Ελληνικά',
  'émoji-😀',
  'n'.repeat(255),
  'ÿÿÿ',
  'with space',
];

/** Builds the source tree every image is made from; the tree is the oracle. */
function buildSource(root: string, many: number): void {
  mkdirSync(root);
  const file = (rel: string, data: Buffer | string): void => writeFileSync(join(root, rel), data);
  file('empty', '');
  file('one', 'x');
  file('sixty', pseudoRandom(60, 60));
  file('f4095', pseudoRandom(4095, 4095));
  file('f4096', pseudoRandom(4096, 4096));
  file('f4097', pseudoRandom(4097, 4097));
  file('big', pseudoRandom(3 * MiB + 12345, 7));
  const fd = openSync(join(root, 'sparse'), 'w');
  ftruncateSync(fd, SPARSE_SIZE);
  for (const [off, len] of SPARSE_ISLANDS) writeSync(fd, pseudoRandom(len, off + 1), 0, len, off);
  closeSync(fd);
  mkdirSync(join(root, 'many'));
  for (let i = 0; i < many; i++) file(`many/entry-${i}`, '');
  for (const n of EXOTIC_NAMES) file(`many/${n}`, n);
  mkdirSync(join(root, 'a/b/c/d/e'), { recursive: true });
  file('a/b/c/d/e/deep.txt', 'deep\n');
  mkdirSync(join(root, 'etc'));
  file('etc/x', 'the real x\n');
  symlinkSync('/etc/x', join(root, 'abs'));
  symlinkSync('../../..', join(root, 'a/b/c/up'));
  symlinkSync('../../../../../../../../etc/x', join(root, 'a/b/c/escape'));
  symlinkSync('f4095', join(root, 'fast'));
  symlinkSync(LONG_TARGET, join(root, 'slow'));
  symlinkSync('x'.repeat(59), join(root, 'fast59'));
  symlinkSync('y'.repeat(60), join(root, 'slow60'));
  file('hl1', 'hard linked\n');
  linkSync(join(root, 'hl1'), join(root, 'a/hl2'));
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
  // Deterministic times, files first and directories deepest-first (adding entries touches a directory).
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
    const st = lstatSync(join(root, p));
    if (st.isSymbolicLink()) lutimesSync(join(root, p), t, t);
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
  size?: number;
  sha?: string;
  target?: string;
  /** Source inode (hard links share it) or image inode. */
  ino: number;
}

function describeSource(root: string): Map<string, Entry> {
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
        ino: st.ino,
      };
      if (type === 'file') {
        e.size = st.size;
        e.sha = createHash('sha256').update(readFileSync(full)).digest('hex');
      } else if (type === 'symlink') {
        e.size = st.size;
        e.target = readlinkSync(full);
      }
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

function describeImage(fs: FileSystem): Map<string, Entry> {
  const out = new Map<string, Entry>();
  const walk = (dirIno: number, rel: string): void => {
    const entries = fs.readdir(dirIno);
    const names = new Set<string>();
    for (const de of entries) {
      assert.ok(!names.has(de.name), `duplicate entry ${rel}/${de.name}`);
      names.add(de.name);
      const p = `${rel}/${de.name}`;
      if (p === '/lost+found') {
        // Pre-allocated, empty blocks: each is one unused entry spanning the block.
        assert.deepEqual(fs.readdir(de.ino), []);
        continue;
      }
      // Every name of small directories; a sample (and the unusual names) of big ones, which a linear scan
      // would make slow.
      const sample = entries.length <= 300 || names.size % 17 === 0 || !de.name.startsWith('entry-');
      if (sample) assert.equal(fs.lookup(dirIno, de.name), de.ino, `lookup of ${p}`);
      const st = fs.stat(de.ino);
      assert.equal(de.type, st.type, `entry type of ${p}`);
      const e: Entry = {
        type: st.type,
        mode: st.mode,
        uid: st.uid,
        gid: st.gid,
        mtime: st.mtime,
        nlink: st.nlink,
        ino: de.ino,
      };
      if (st.type === 'file') {
        e.size = st.size;
        e.sha = hashFile(fs, de.ino, st.size);
      } else if (st.type === 'symlink') {
        e.size = st.size;
        e.target = fs.readlink(de.ino);
      }
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

function compareTrees(src: Map<string, Entry>, img: Map<string, Entry>): void {
  assert.deepEqual([...img.keys()].sort(), [...src.keys()].sort(), 'same paths');
  const inoBySrc = new Map<number, number>();
  for (const [p, s] of src) {
    const m = img.get(p)!;
    assert.equal(m.type, s.type, `type of ${p}`);
    assert.equal(m.mode, s.mode, `mode of ${p}`);
    assert.equal(m.uid, s.uid, `uid of ${p}`);
    assert.equal(m.gid, s.gid, `gid of ${p}`);
    assert.equal(m.mtime, s.mtime, `mtime of ${p}`);
    assert.equal(m.nlink, s.nlink, `nlink of ${p}`);
    if (s.size !== undefined) assert.equal(m.size, s.size, `size of ${p}`);
    if (s.sha !== undefined) assert.equal(m.sha, s.sha, `content of ${p}`);
    if (s.target !== undefined) assert.equal(m.target, s.target, `target of ${p}`);
    // Hard links: one source inode, one image inode.
    const seen = inoBySrc.get(s.ino);
    if (seen === undefined) inoBySrc.set(s.ino, m.ino);
    else assert.equal(m.ino, seen, `hard link ${p}`);
  }
}

/** Random unaligned reads of `path` compared with the source file's bytes `want`. */
function randomReads(fs: FileSystem, vfs: Vfs, want: Buffer, path: string, seed: number): void {
  const ino = vfs.resolve(path)!;
  const r = modPicker(xorshift32(seed));
  for (let i = 0; i < 25; i++) {
    const off = r(want.length + 100);
    const len = r(300_000);
    const got = fs.read(ino, off, len);
    assert.ok(got.equals(want.subarray(off, off + len)), `${path} at ${off}+${len}`);
  }
}

function dumpe2fs(img: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of run('dumpe2fs', ['-h', img]).split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) m.set(line.slice(0, i).trim(), line.slice(i + 1).trim());
  }
  return m;
}

interface Variant {
  name: string;
  mkfs: string;
  args: string[];
  size: string;
  /** Rebuild directories as htrees (mkfs -d writes linear directories). */
  index?: boolean;
  /** Use the tree whose `/many` has MANY entries (else FEW). */
  many?: boolean;
  type: 'ext2' | 'ext3' | 'ext4';
  features?: string[];
  absent?: string[];
  blockSize?: number;
  inodeSize?: number;
  check?: (img: string, h: Map<string, string>) => void;
}

const VARIANTS: Variant[] = [
  {
    name: 'ext2 (block maps)',
    mkfs: 'mkfs.ext2',
    args: [],
    size: '48M',
    type: 'ext2',
    absent: ['extent'],
    many: true,
  },
  {
    name: 'ext2 revision 0',
    mkfs: 'mkfs.ext2',
    args: ['-r', '0'],
    size: '48M',
    type: 'ext2',
    check: (_img, h) => assert.match(h.get('Filesystem revision #') ?? '', /^0/),
  },
  {
    name: 'ext2 without the filetype feature',
    mkfs: 'mkfs.ext2',
    args: ['-O', '^filetype'],
    size: '48M',
    type: 'ext2',
    absent: ['filetype'],
  },
  {
    name: 'ext3 with htree directories',
    mkfs: 'mkfs.ext4',
    args: ['-t', 'ext3'],
    size: '48M',
    index: true,
    type: 'ext3',
    features: ['has_journal', 'dir_index'],
    absent: ['extent'],
  },
  {
    name: 'ext4 default with htree directories',
    mkfs: 'mkfs.ext4',
    args: ['-L', 'hyperward-test'],
    size: '48M',
    index: true,
    many: true,
    type: 'ext4',
    features: ['extent', 'metadata_csum', 'flex_bg'],
  },
  {
    name: 'ext4 -b 1024',
    mkfs: 'mkfs.ext4',
    args: ['-b', '1024'],
    size: '48M',
    index: true,
    type: 'ext4',
    blockSize: 1024,
  },
  {
    name: 'ext4 -b 2048',
    mkfs: 'mkfs.ext4',
    args: ['-b', '2048'],
    size: '48M',
    type: 'ext4',
    blockSize: 2048,
  },
  {
    name: 'ext4 -b 4096 -O 64bit',
    mkfs: 'mkfs.ext4',
    args: ['-b', '4096', '-O', '64bit'],
    size: '48M',
    index: true,
    type: 'ext4',
    features: ['64bit'],
    blockSize: 4096,
  },
  {
    name: 'ext4 -b 65536',
    mkfs: 'mkfs.ext4',
    args: ['-b', '65536', '-N', '8192'],
    size: '64M',
    type: 'ext4',
    blockSize: 65536,
  },
  {
    name: 'ext4 -O ^flex_bg',
    mkfs: 'mkfs.ext4',
    args: ['-O', '^flex_bg'],
    size: '48M',
    type: 'ext4',
    absent: ['flex_bg'],
  },
  {
    name: 'ext4 -O meta_bg,^resize_inode',
    mkfs: 'mkfs.ext4',
    args: ['-O', 'meta_bg,^resize_inode'],
    size: '48M',
    type: 'ext4',
    features: ['meta_bg'],
  },
  ...[false, true].map((sparse): Variant => ({
    // 256 blocks and 8 inodes per group: the tree's inodes spread over 50+ groups, whose descriptors (16 per
    // 1 KiB block) sit in the first group of each meta-group, after its superblock backup if it has one.
    name: `ext4 meta_bg over several meta-groups (${sparse ? 'sparse_super' : 'every group has a superblock'})`,
    mkfs: 'mkfs.ext4',
    args: [
      '-b',
      '1024',
      '-g',
      '256',
      '-N',
      '1600',
      '-O',
      `meta_bg,^resize_inode,^flex_bg${sparse ? '' : ',^sparse_super'}`,
    ],
    size: '48M',
    type: 'ext4',
    features: ['meta_bg', '64bit'],
    absent: sparse ? [] : ['sparse_super'],
    check: (img, h) => {
      const groups = Math.ceil(Number(h.get('Block count')) / Number(h.get('Blocks per group')));
      assert.ok(groups > 48, `${groups} groups`);
      const m = /Inode \d+ is part of block group (\d+)/.exec(debugfs(img, `imap /many/entry-${FEW - 1}`));
      assert.ok(Number(m?.[1]) >= 32, `last inode in group ${m?.[1]}`);
    },
  })),
  {
    name: 'ext4 -O inline_data',
    mkfs: 'mkfs.ext4',
    args: ['-O', 'inline_data'],
    size: '48M',
    type: 'ext4',
    features: ['inline_data'],
    check: (img) => {
      assert.match(debugfs(img, 'stat /sixty'), /Size of inline data: \d+/);
      assert.match(debugfs(img, 'stat /a/b/c/d'), /Size of inline data: \d+/);
    },
  },
  {
    name: 'ext4 -O ^metadata_csum',
    mkfs: 'mkfs.ext4',
    args: ['-O', '^metadata_csum'],
    size: '48M',
    index: true,
    type: 'ext4',
    absent: ['metadata_csum'],
  },
  {
    name: 'ext4 -O large_dir',
    mkfs: 'mkfs.ext4',
    args: ['-O', 'large_dir'],
    size: '48M',
    index: true,
    type: 'ext4',
    features: ['large_dir'],
  },
  { name: 'ext4 -I 128', mkfs: 'mkfs.ext4', args: ['-I', '128'], size: '48M', type: 'ext4', inodeSize: 128 },
  {
    name: 'ext4 with few inodes (-N)',
    mkfs: 'mkfs.ext4',
    args: ['-N', `${FEW + 100}`],
    size: '48M',
    index: true,
    type: 'ext4',
    check: (_img, h) => assert.ok(Number(h.get('Inode count')) < 2 * FEW, h.get('Inode count')),
  },
  {
    name: 'ext4 -O bigalloc',
    mkfs: 'mkfs.ext4',
    args: ['-O', 'bigalloc', '-C', '16384', '-N', '2048'],
    size: '64M',
    type: 'ext4',
    features: ['bigalloc'],
  },
  {
    name: 'ext4 -O sparse_super2',
    mkfs: 'mkfs.ext4',
    args: ['-b', '1024', '-O', 'sparse_super2'],
    size: '48M',
    type: 'ext4',
    features: ['sparse_super2'],
  },
];

describe('ext4 reader against mkfs -d of a source tree', () => {
  let tmp: { dir: string; cleanup: () => void };
  const trees = new Map<boolean, { src: string; oracle: Map<string, Entry> }>();
  const contents = new Map<string, Buffer>();

  before(() => {
    tmp = tempDir('hyperward-ext4-');
    for (const many of [false, true]) {
      const src = join(tmp.dir, many ? 'src-many' : 'src');
      buildSource(src, many ? MANY : FEW);
      trees.set(many, { src, oracle: describeSource(src) });
    }
    const src = trees.get(false)!.src;
    for (const p of ['/big', '/sparse', '/f4097']) contents.set(p, readFileSync(join(src, p)));
  });
  after(() => tmp.cleanup());

  for (const v of VARIANTS) {
    it(v.name, () => {
      const img = join(tmp.dir, 'img');
      const { src, oracle } = trees.get(v.many === true)!;
      run(v.mkfs, ['-q', '-F', ...v.args, '-d', src, img, v.size]);
      if (v.index === true) fsck(['-fyD', img]);
      const h = dumpe2fs(img);
      const features = (h.get('Filesystem features') ?? '').split(/\s+/);
      for (const f of v.features ?? [])
        assert.ok(features.includes(f), `mkfs made ${f}: ${features.join(' ')}`);
      for (const f of v.absent ?? []) assert.ok(!features.includes(f), `mkfs left out ${f}`);
      if (v.blockSize !== undefined) assert.equal(Number(h.get('Block size')), v.blockSize);
      if (v.inodeSize !== undefined) assert.equal(Number(h.get('Inode size')), v.inodeSize);
      if (v.index === true) assert.match(debugfs(img, 'htree /many'), /Root node dump/);
      v.check?.(img, h);

      const dev = openImage(img, { format: 'raw' });
      try {
        assert.equal(probeExt4(dev), true);
        const fs = openExt4(dev);
        assert.equal(fs.type, v.type);
        assert.equal(fs.uuid, h.get('Filesystem UUID'));
        assert.equal(fs.label ?? '<none>', h.get('Filesystem volume name'));
        const root = fs.stat(fs.rootIno);
        assert.equal(root.type, 'dir');
        compareTrees(oracle, describeImage(fs));
        const vfs = new Vfs(fs);
        randomReads(fs, vfs, contents.get('/big')!, '/big', 1);
        randomReads(fs, vfs, contents.get('/sparse')!, '/sparse', 2);
        randomReads(fs, vfs, contents.get('/f4097')!, '/f4097', 3);
        // Chroot semantics of the image's own links.
        assert.equal(vfs.resolve('/abs'), vfs.resolve('/etc/x'));
        assert.equal(vfs.resolve('/a/b/c/up/etc/x'), vfs.resolve('/etc/x'));
        assert.equal(vfs.resolve('/a/b/c/escape'), vfs.resolve('/etc/x'));
        assert.equal(vfs.readFile('/a/b/c/escape').toString(), 'the real x\n');
      } finally {
        dev.close();
      }
    });
  }
});

describe('ext4 reader details', () => {
  let tmp: { dir: string; cleanup: () => void };
  before(() => {
    tmp = tempDir('hyperward-ext4d-');
  });
  after(() => tmp.cleanup());

  /** A small tree and image; `prep` fills the tree, `post` edits the image with real tools. */
  function image(name: string, prep: (root: string) => void, args: string[] = [], size = '16M'): string {
    const root = join(tmp.dir, `${name}-src`);
    mkdirSync(root);
    prep(root);
    const img = join(tmp.dir, `${name}.img`);
    run('mkfs.ext4', ['-q', '-F', ...args, '-d', root, img, size]);
    return img;
  }

  function withFs<T>(img: string, fn: (fs: FileSystem, dev: CountingDevice) => T): T {
    const dev = new CountingDevice(openImage(img, { format: 'raw' }));
    try {
      return fn(openExt4(dev), dev);
    } finally {
      dev.close();
    }
  }

  it('hashes every htree flavour like e2fsprogs (tea, legacy, half_md4; signed and unsigned)', () => {
    const names: string[] = [];
    for (let i = 0; i < 1500; i++) names.push(`file-${i}`);
    for (let i = 0; i < 300; i++) names.push(`ü${i}é${'ß'.repeat(i % 40)}`);
    const base = image('hash', (root) => {
      mkdirSync(join(root, 'd'));
      for (const n of names) writeFileSync(join(root, 'd', n), '');
    });
    for (const alg of ['half_md4', 'tea', 'legacy']) {
      for (const unsigned of [false, true]) {
        const img = join(tmp.dir, `hash-${alg}-${unsigned}.img`);
        copyFileSync(base, img);
        run('tune2fs', ['-E', `hash_alg=${alg}`, img]);
        debugfs(img, `ssv flags ${unsigned ? 2 : 1}`, true);
        fsck(['-fyD', img]);
        const dump = debugfs(img, 'htree /d');
        const version = { legacy: 0, half_md4: 1, tea: 2 }[alg];
        assert.match(dump, new RegExp(`Hash Version: ${version}\\b`));
        const flags = dumpe2fs(img).get('Filesystem flags') ?? '';
        assert.match(flags, unsigned ? /\bunsigned_directory_hash/ : /(^|\s)signed_directory_hash/);
        withFs(img, (fs, dev) => {
          const vfs = new Vfs(fs);
          const d = vfs.resolve('/d')!;
          const listed = new Map(fs.readdir(d).map((e) => [e.name, e.ino]));
          assert.deepEqual([...listed.keys()].sort(), [...names].sort());
          const dirBytes = fs.stat(d).size;
          for (const n of names) {
            dev.reset();
            assert.equal(fs.lookup(d, n), listed.get(n), `${alg} ${unsigned ? 'unsigned' : 'signed'} ${n}`);
            // The index leads straight to one leaf: a lookup never reads the whole directory.
            assert.ok(dev.bytes < dirBytes / 4, `lookup of ${n} read ${dev.bytes} of ${dirBytes} bytes`);
          }
        });
      }
    }
  });

  it('coalesces a contiguous file into few large reads', () => {
    const img = image(
      'coalesce',
      (root) => writeFileSync(join(root, 'big'), pseudoRandom(8 * MiB, 9)),
      [],
      '32M',
    );
    // Physical runs of the file according to debugfs.
    const blocks = debugfs(img, 'blocks /big').trim().split(/\s+/).map(Number);
    let runs = 1;
    for (let i = 1; i < blocks.length; i++) if (blocks[i] !== blocks[i - 1]! + 1) runs++;
    withFs(img, (fs, dev) => {
      const ino = new Vfs(fs).resolve('/big')!;
      fs.stat(ino);
      dev.reset();
      const data = fs.read(ino, 0, 8 * MiB);
      assert.ok(data.equals(pseudoRandom(8 * MiB, 9)));
      assert.ok(dev.reads <= runs, `${dev.reads} reads for ${runs} physical runs`);
      assert.equal(dev.bytes, 8 * MiB);
    });
  });

  it('resolves /var/lib/dpkg/status in a Debian-like root touching few blocks', () => {
    const img = image(
      'debian',
      (root) => {
        for (const d of [
          'bin',
          'boot',
          'dev',
          'etc/apt',
          'home',
          'usr/bin',
          'usr/lib',
          'var/log',
          'var/cache/apt',
        ]) {
          mkdirSync(join(root, d), { recursive: true });
        }
        mkdirSync(join(root, 'var/lib/dpkg/info'), { recursive: true });
        for (let i = 0; i < 500; i++) writeFileSync(join(root, `usr/bin/tool${i}`), '');
        for (let i = 0; i < 2000; i++) writeFileSync(join(root, `var/lib/dpkg/info/pkg${i}.list`), '');
        for (let i = 0; i < 100; i++) mkdirSync(join(root, `var/lib/pkgstate${i}`));
        writeFileSync(join(root, 'var/lib/dpkg/status'), pseudoRandom(200_000, 11));
      },
      [],
      '64M',
    );
    fsck(['-fyD', img]);
    const bs = Number(dumpe2fs(img).get('Block size'));
    withFs(img, (fs, dev) => {
      dev.reset();
      const vfs = new Vfs(fs);
      const data = vfs.readFile('/var/lib/dpkg/status');
      assert.ok(data.equals(pseudoRandom(200_000, 11)));
      // One inode-table block and one directory block per component, plus the htree root where indexed.
      const metaBytes = dev.bytes - data.length;
      assert.ok(dev.reads <= 12, `${dev.reads} reads`);
      assert.ok(metaBytes <= 12 * bs, `${metaBytes} bytes of metadata`);
      dev.reset();
      assert.notEqual(vfs.resolve('/var/lib/dpkg/info/pkg1999.list'), undefined);
      assert.ok(dev.bytes <= 8 * bs, `lookup in a 2000-entry directory read ${dev.bytes} bytes`);
      const dirBytes = fs.stat(vfs.resolve('/var/lib/dpkg/info')!).size;
      assert.ok(dirBytes > 24 * bs, `the directory has ${dirBytes} bytes`);
    });
  });

  it('reads the dfvfs ext2 image like debugfs', () => {
    // github.com/log2timeline/dfvfs test_data at ceb7ef3a (Apache-2.0); see fixtures/dfvfs/README.md.
    const fixture = join(REPO, 'fixtures/dfvfs/ext2.qcow2');
    const raw = join(tmp.dir, 'dfvfs.raw');
    qemuConvert(fixture, raw, 'raw');
    const dev = openImage(raw);
    try {
      const fs = openExt4(dev);
      assert.equal(fs.type, 'ext2');
      const vfs = new Vfs(fs);
      for (const dir of ['/', '/a_directory']) {
        // debugfs `ls -l`: inode, mode, (type), uid, gid, size, date, time, name.
        const lines = debugfs(raw, `ls -l ${dir}`)
          .split('\n')
          .map((l) => l.trim().split(/\s+/))
          .filter((f) => f.length >= 9 && f[8] !== '.' && f[8] !== '..');
        const got = vfs.readdir(dir);
        assert.deepEqual(got.map((e) => e.name).sort(), lines.map((f) => f[8]).sort());
        for (const f of lines) {
          const e = got.find((g) => g.name === f[8])!;
          assert.equal(e.ino, Number(f[0]));
          const st = fs.stat(e.ino);
          assert.equal(st.mode, parseInt(f[1]!, 8), `${f[8]} mode`);
          assert.equal(st.uid, Number(f[3]));
          assert.equal(st.gid, Number(f[4]));
          assert.equal(st.size, Number(f[5]));
          const path = `${dir === '/' ? '' : dir}/${f[8]}`;
          if (st.type === 'file') {
            const want = spawnSync('debugfs', ['-R', `cat ${path}`, raw]).stdout;
            assert.ok(fs.read(e.ino, 0, st.size).equals(want), path);
          }
          if (st.type === 'symlink') {
            const m = /Fast link dest: "(.*)"/.exec(debugfs(raw, `stat ${path}`));
            assert.equal(fs.readlink(e.ino), m?.[1]);
          }
        }
      }
      assert.match(vfs.readFile('/passwords.txt').toString(), /\S/);
      assert.equal(vfs.resolve('/a_link'), vfs.resolve('/a_directory/another_file'));
    } finally {
      dev.close();
    }
  });

  it('refuses encrypted files, directories and links with E_ENCRYPTED', () => {
    const img = image(
      'enc',
      (root) => {
        writeFileSync(join(root, 'secret'), pseudoRandom(5000, 5));
        mkdirSync(join(root, 'vault'));
        writeFileSync(join(root, 'vault/inner'), 'x');
        symlinkSync(LONG_TARGET, join(root, 'link'));
      },
      ['-O', 'encrypt'],
    );
    debugfs(img, 'sif /secret flags 0x80800', true);
    debugfs(img, 'sif /vault flags 0x80800', true);
    debugfs(img, 'sif /link flags 0x80800', true);
    withFs(img, (fs) => {
      const vfs = new Vfs(fs);
      assert.equal(vfs.stat('/secret').size, 5000);
      assert.equal(
        errorCode(() => vfs.readFile('/secret')),
        'E_ENCRYPTED',
      );
      assert.equal(
        errorCode(() => vfs.readdir('/vault')),
        'E_ENCRYPTED',
      );
      assert.equal(
        errorCode(() => vfs.readlink('/link')),
        'E_ENCRYPTED',
      );
    });
  });

  it('refuses unknown incompatible features, naming them', () => {
    const img = image('incompat', (root) => writeFileSync(join(root, 'f'), 'x'));
    debugfs(img, 'ssv feature_incompat 0x80000243', true);
    const dev = openImage(img, { format: 'raw' });
    try {
      assert.throws(
        () => openExt4(dev),
        (e: HyperwardError) =>
          e.code === 'E_UNSUPPORTED_FORMAT' && /compression/.test(e.message) && /0x80000000/.test(e.message),
      );
    } finally {
      dev.close();
    }
  });

  it('reports extents and block pointers past the end of the filesystem as E_FS_CORRUPT with the layer and offset', () => {
    for (const [mkfs, layer] of [
      ['mkfs.ext4', /ext4 extent tree/],
      ['mkfs.ext2', /ext4 block map/],
    ] as const) {
      const root = join(tmp.dir, `past-${mkfs}`);
      mkdirSync(root);
      writeFileSync(join(root, 'f'), pseudoRandom(20000, 3));
      const img = join(tmp.dir, `past-${mkfs}.img`);
      run(mkfs, ['-q', '-F', '-d', root, img, '8M']);
      // i_block[5] is the low start of the first extent (after the 12-byte header and ee_block/ee_len), or the
      // sixth direct pointer of a block map.
      debugfs(img, 'sif /f block[5] 0x7ffffff0', true);
      withFs(img, (fs) => {
        const ino = new Vfs(fs).resolve('/f')!;
        assert.throws(
          () => fs.read(ino, 0, 20000),
          (e: HyperwardError) =>
            e.code === 'E_FS_CORRUPT' &&
            layer.test(e.location.layer ?? '') &&
            typeof e.location.offset === 'number',
        );
      });
    }
  });

  it('handles files past 4 GiB (64-bit sizes) in extent trees and block maps', () => {
    const GiB = 1024 * MiB;
    const island = 4 * GiB + 512 * MiB + 7;
    const size = 5 * GiB + 3;
    const data = pseudoRandom(5000, 17);
    for (const mkfs of ['mkfs.ext4', 'mkfs.ext2']) {
      const root = join(tmp.dir, `huge-${mkfs}`);
      mkdirSync(root);
      const fd = openSync(join(root, 'huge'), 'w');
      ftruncateSync(fd, size);
      writeSync(fd, data, 0, data.length, island);
      closeSync(fd);
      const img = join(tmp.dir, `huge-${mkfs}.img`);
      run(mkfs, ['-q', '-F', '-d', root, img, '16M']);
      withFs(img, (fs) => {
        const vfs = new Vfs(fs);
        const ino = vfs.resolve('/huge')!;
        assert.equal(fs.stat(ino).size, lstatSync(join(root, 'huge')).size);
        const got = fs.read(ino, island - 100, 5200);
        assert.ok(got.equals(Buffer.concat([Buffer.alloc(100), data, Buffer.alloc(100)])), mkfs);
        const tail = fs.read(ino, size - 10, 100);
        assert.ok(tail.equals(Buffer.alloc(10)), mkfs);
      });
    }
  });

  it('reads uninitialized (preallocated) extents as zeros', () => {
    const data = pseudoRandom(4096, 23);
    const img = image('prealloc', (root) => writeFileSync(join(root, 'pre'), data), ['-b', '1024']);
    debugfs(img, 'fallocate /pre 0 39', true);
    debugfs(img, 'sif /pre size 40960', true);
    assert.match(debugfs(img, 'ex /pre'), /Uninit/);
    const want = Buffer.concat([data, Buffer.alloc(40960 - 4096)]);
    assert.ok(spawnSync('debugfs', ['-R', 'cat /pre', img]).stdout.equals(want));
    withFs(img, (fs) => {
      const vfs = new Vfs(fs);
      assert.ok(vfs.readFile('/pre').equals(want));
      assert.ok(fs.read(vfs.resolve('/pre')!, 4000, 200).equals(want.subarray(4000, 4200)));
    });
  });

  it('decodes mtimes past 2038 from the extra epoch bits', () => {
    const img = image('y2038', (root) => writeFileSync(join(root, 'future'), 'x'));
    debugfs(img, 'sif /future mtime @2200000000', true);
    assert.match(debugfs(img, 'stat /future'), /mtime: .* 2039/);
    withFs(img, (fs) => assert.equal(new Vfs(fs).stat('/future').mtime, 2_200_000_000));
  });

  it('reads a 3-level htree (large_dir) built by the kernel', () => {
    const img = image(
      'largedir',
      (root) => mkdirSync(join(root, 'big')),
      ['-b', '1024', '-O', 'large_dir', '-N', '64'],
      '40M',
    );
    const mnt = join(tmp.dir, 'mnt');
    mkdirSync(mnt);
    const count = 24000;
    const name = (i: number): string => String(i).padStart(6, '0') + 'y'.repeat(240);
    run('mount', ['-o', 'loop', img, mnt]);
    try {
      writeFileSync(join(mnt, 'big', 'base'), 'b');
      for (let i = 0; i < count; i++) linkSync(join(mnt, 'big', 'base'), join(mnt, 'big', name(i)));
    } finally {
      run('umount', [mnt]);
    }
    assert.match(debugfs(img, 'htree /big'), /Indirect levels: 2/);
    withFs(img, (fs, dev) => {
      const vfs = new Vfs(fs);
      const d = vfs.resolve('/big')!;
      const base = fs.lookup(d, 'base');
      assert.notEqual(base, undefined);
      const listed = fs.readdir(d);
      assert.equal(listed.length, count + 1);
      assert.ok(listed.every((e) => e.ino === base));
      const r = modPicker(xorshift32(5));
      for (let k = 0; k < 400; k++) {
        const i = r(count);
        dev.reset();
        assert.equal(fs.lookup(d, name(i)), base);
        assert.ok(dev.reads <= 6, `${dev.reads} reads for one lookup`);
      }
      assert.equal(fs.lookup(d, name(count)), undefined);
      assert.equal(fs.stat(base!).nlink, count + 1);
    });
  });

  it('probes only ext2/3/4', () => {
    const img = join(tmp.dir, 'zeros.img');
    writeFileSync(img, Buffer.alloc(64 * 1024));
    const dev = openImage(img, { format: 'raw' });
    try {
      assert.equal(probeExt4(dev), false);
      assert.throws(
        () => openExt4(dev),
        (e: HyperwardError) => e.code === 'E_UNSUPPORTED_FORMAT',
      );
    } finally {
      dev.close();
    }
  });
});
