import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  fsyncSync,
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
  truncateSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { errorCode, expectError } from '../../test/helpers/errors.js';
import { modPicker, xorshift32 } from '../../test/helpers/pattern.js';
import { run, tempDir } from '../../test/helpers/tmp.js';
import { crc32cWithZeroedField } from '../disk/crc32c.js';
import { openImage } from '../disk/open.js';
import type { BlockDevice, DeviceInfo } from '../disk/types.js';
import { typeFromMode, type FileSystem, type FileType } from './types.js';
import { Vfs } from './vfs.js';
import { openXfs, probeXfs } from './xfs.js';
import { hashName } from './xfs/dir.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const IMAGE_SIZE = 300 * MiB;

/** Deterministic pseudo-random bytes: the low byte of each xorshift32 value. */
function pseudoRandom(length: number, seed: number): Buffer {
  const next = xorshift32(seed);
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) out[i] = next() & 0xff;
  return out;
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
  reset(): void {
    this.reads = 0;
    this.bytes = 0;
  }
}

// ---- the source tree ---------------------------------------------------------------------------------------

/** One directory per directory format, by entry count (which format each got is checked with xfs_db). */
const FORMAT_DIRS = { 'd-sf': 5, 'd-block': 50, 'd-leaf': 500, 'd-node': 700, 'd-btree': 5000 } as const;
type DirFormat = 'shortform' | 'block' | 'leaf' | 'node' | 'btree';
const EXOTIC_NAMES = [
  'ünïcödé',
  '日本語のファイル',
  'Ελληνικά',
  'émoji-😀',
  'n'.repeat(255),
  'ÿÿÿ',
  'a.b-c_d',
];
/** Longer than a v4 inode's literal area (156 bytes), shorter than a v5 one's (336). */
const MID_TARGET = 'mid/' + 'm'.repeat(296);
/** The longest target the kernel writes (1023 bytes): remote everywhere, two blocks with 1 KiB v5 blocks. */
const LONG_TARGET = 'long/' + 'l'.repeat(1018);

/** Builds the part of the tree a protofile can express (no hard links, sockets, holes or chosen times). */
function buildSource(root: string): void {
  mkdirSync(root);
  const file = (rel: string, data: Buffer | string): void => writeFileSync(join(root, rel), data);
  file('empty', '');
  file('one', 'x');
  file('sixty', pseudoRandom(60, 60));
  file('f4095', pseudoRandom(4095, 4095));
  file('f4096', pseudoRandom(4096, 4096));
  file('f4097', pseudoRandom(4097, 4097));
  file('big', pseudoRandom(3 * MiB + 12345, 7));
  for (const [dir, n] of Object.entries(FORMAT_DIRS)) {
    mkdirSync(join(root, dir));
    for (let i = 0; i < n; i++) file(`${dir}/entry-${i}`, '');
  }
  mkdirSync(join(root, 'names'));
  for (const n of EXOTIC_NAMES) file(`names/${n}`, n);
  mkdirSync(join(root, 'a/b/c/d/e'), { recursive: true });
  file('a/b/c/d/e/deep.txt', 'deep\n');
  mkdirSync(join(root, 'etc'));
  file('etc/x', 'the real x\n');
  symlinkSync('/etc/x', join(root, 'abs'));
  symlinkSync('../../..', join(root, 'a/b/c/up'));
  symlinkSync('../../../../../../../../etc/x', join(root, 'a/b/c/escape'));
  symlinkSync('f4095', join(root, 'fast'));
  symlinkSync(MID_TARGET, join(root, 'mid'));
  symlinkSync(LONG_TARGET, join(root, 'long'));
  run('mkfifo', [join(root, 'fifo')]);
  run('mknod', [join(root, 'null'), 'c', '1', '3']);
  run('mknod', [join(root, 'loop9'), 'b', '7', '9']);
  file('owned', 'owned\n');
  lchownSync(join(root, 'owned'), 1234, 5678);
  chmodSync(join(root, 'owned'), 0o640);
  file('bigids', 'big ids\n');
  lchownSync(join(root, 'bigids'), 123456, 654321);
  chmodSync(join(root, 'bigids'), 0o4755);
  file('sgid', 'setgid\n');
  chmodSync(join(root, 'sgid'), 0o2750);
  mkdirSync(join(root, 'emptydir'));
  mkdirSync(join(root, 'private'));
  lchownSync(join(root, 'private'), 42, 43);
  chmodSync(join(root, 'private'), 0o700);
}

/**
 * A classic mkfs protofile for `root` (mkfs.xfs 6.1 has no --rootdir): a boot line, a block/inode count line,
 * then one line per entry — name, 6-character mode (type, setuid, setgid, 3 octal digits), uid, gid and the
 * source file, link target or device numbers — with `$` closing each directory.
 */
function writeProto(root: string, protoPath: string): void {
  const lines = ['/dev/null', '0 0'];
  const mode = (m: number, t: string): string =>
    `${t}${m & 0o4000 ? 'u' : '-'}${m & 0o2000 ? 'g' : '-'}${(m & 0o777).toString(8).padStart(3, '0')}`;
  const st0 = lstatSync(root);
  lines.push(`${mode(st0.mode, 'd')} ${st0.uid} ${st0.gid}`);
  const walk = (dir: string, indent: string): void => {
    for (const n of readdirSync(dir).sort()) {
      const p = join(dir, n);
      const st = lstatSync(p);
      const ids = `${st.uid} ${st.gid}`;
      const major = (st.rdev >> 8) & 0xfff;
      const minor = (st.rdev & 0xff) | ((st.rdev >> 12) & 0xfff00);
      if (st.isDirectory()) {
        lines.push(`${indent}${n} ${mode(st.mode, 'd')} ${ids}`);
        walk(p, indent + ' ');
        lines.push(`${indent} $`);
      } else if (st.isFile()) lines.push(`${indent}${n} ${mode(st.mode, '-')} ${ids} ${p}`);
      else if (st.isSymbolicLink())
        lines.push(`${indent}${n} ${mode(st.mode, 'l')} ${ids} ${readlinkSync(p)}`);
      else if (st.isFIFO()) lines.push(`${indent}${n} ${mode(st.mode, 'p')} ${ids}`);
      else if (st.isCharacterDevice())
        lines.push(`${indent}${n} ${mode(st.mode, 'c')} ${ids} ${major} ${minor}`);
      else if (st.isBlockDevice()) lines.push(`${indent}${n} ${mode(st.mode, 'b')} ${ids} ${major} ${minor}`);
    }
  };
  walk(root, '');
  lines.push('$');
  writeFileSync(protoPath, lines.join('\n') + '\n');
}

const SPARSE_SIZE = 5 * GiB + 3;
/** Data islands of the sparse file, one past 4 GiB. */
const SPARSE_ISLANDS: Array<[number, number]> = [
  [0, 5000],
  [2 * MiB + 100, 7000],
  [40 * MiB + 3, 1500],
  [4 * GiB + 512 * MiB + 7, 5000],
  [SPARSE_SIZE - 10, 10],
];
const FRAG_BLOCKS = 3000;
const FUTURE = 2_200_000_000;
const PAST = -100_000_000;

/**
 * What only the kernel can write, done on a loop mount of a v5 image: hard links, a socket, a name with spaces,
 * a sticky directory, a sparse file past 4 GiB, a file of FRAG_BLOCKS separate extents (a bmap btree), unwritten
 * extents, a reflinked copy and chosen modification times (before 1970 and after 2038 too).
 */
async function kernelStage(mnt: string, blockSize: number): Promise<void> {
  rewriteLongLink(mnt);
  writeFileSync(join(mnt, 'hl1'), 'hard linked\n');
  linkSync(join(mnt, 'hl1'), join(mnt, 'a/hl2'));
  linkSync(join(mnt, 'hl1'), join(mnt, 'd-node/hl3'));
  writeFileSync(join(mnt, 'with space'), 'spaced\n');
  mkdirSync(join(mnt, 'sticky'));
  chmodSync(join(mnt, 'sticky'), 0o1777);
  // A socket inode: listen, keep a second name, close (which removes the first).
  const sock = join(mnt, 'sock-tmp');
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(sock, resolve));
  linkSync(sock, join(mnt, 'socket'));
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (lstatSync(sock, { throwIfNoEntry: false }) !== undefined) unlinkSync(sock);

  let fd = openSync(join(mnt, 'sparse'), 'w');
  for (const [off, len] of SPARSE_ISLANDS) writeSync(fd, pseudoRandom(len, off + 1), 0, len, off);
  truncateSync(join(mnt, 'sparse'), SPARSE_SIZE);
  closeSync(fd);
  // Every other block: each written block is its own extent.
  fd = openSync(join(mnt, 'frag'), 'w');
  const piece = pseudoRandom(blockSize, 99);
  for (let i = 0; i < FRAG_BLOCKS; i++) {
    piece.writeUInt32LE(i, 0);
    writeSync(fd, piece, 0, blockSize, 2 * i * blockSize);
  }
  fsyncSync(fd);
  closeSync(fd);
  // Preallocated (unwritten) space with data written in its middle.
  run('fallocate', ['-l', String(MiB), join(mnt, 'prealloc')]);
  fd = openSync(join(mnt, 'prealloc'), 'r+');
  writeSync(fd, pseudoRandom(5000, 5), 0, 5000, 300_000);
  fsyncSync(fd);
  closeSync(fd);
  run('cp', ['--reflink=always', join(mnt, 'big'), join(mnt, 'big-reflink')]);
  // Deterministic times, deepest entries first (adding entries touches a directory).
  const all: string[] = [];
  const collect = (rel: string): void => {
    for (const n of readdirSync(join(mnt, rel))) {
      const p = rel === '' ? n : `${rel}/${n}`;
      all.push(p);
      if (lstatSync(join(mnt, p)).isDirectory()) collect(p);
    }
  };
  collect('');
  all.sort((x, y) => y.split('/').length - x.split('/').length);
  let t = 1_500_000_000;
  for (const p of all) {
    lutimesSync(join(mnt, p), t, t);
    t += 97;
  }
  lutimesSync(join(mnt, 'one'), PAST, PAST);
  lutimesSync(join(mnt, 'sixty'), FUTURE, FUTURE);
}

/**
 * mkfs.xfs 6.1 writes a v5 remote symlink from a protofile without the block header v5 requires (the kernel
 * refuses to read it: EFSCORRUPTED); the kernel writes it properly.
 */
function rewriteLongLink(mnt: string): void {
  unlinkSync(join(mnt, 'long'));
  symlinkSync(LONG_TARGET, join(mnt, 'long'));
}

// ---- describing trees --------------------------------------------------------------------------------------

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
  ino: number;
}

/** Files larger than this are compared by sampled ranges (around the sparse file's islands and the end). */
const HASH_LIMIT = 64 * MiB;

function samples(size: number): Array<[number, number]> {
  const out: Array<[number, number]> = SPARSE_ISLANDS.filter(([o]) => o < size).map(([o, l]) => [
    Math.max(0, o - 100),
    l + 200,
  ]);
  out.push([Math.max(0, size - MiB), MiB]);
  return out;
}

/** SHA-256 of a file through `readAt` (whole, or sampled when huge). */
function digest(size: number, readAt: (off: number, len: number) => Buffer): string {
  const h = createHash('sha256');
  if (size <= HASH_LIMIT) {
    const chunk = MiB + 4097;
    for (let off = 0; off < size; off += chunk) {
      const b = readAt(off, Math.min(chunk, size - off));
      assert.equal(b.length, Math.min(chunk, size - off));
      h.update(b);
    }
  } else {
    for (const [off, len] of samples(size)) h.update(readAt(off, Math.min(len, size - off)));
  }
  return h.digest('hex');
}

/** The tree as the kernel (or the host filesystem) shows it: the oracle. */
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
        ino: st.ino,
      };
      if (type === 'file') {
        e.size = st.size;
        const fd = openSync(full, 'r');
        try {
          e.sha = digest(st.size, (off, len) => {
            const b = Buffer.alloc(len);
            const got = readSync(fd, b, 0, len, off);
            return b.subarray(0, got);
          });
        } finally {
          closeSync(fd);
        }
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

/** Everything the reader returns, with lookups of every name (sampled in big directories) and absent names. */
function describeImage(fs: FileSystem): Map<string, Entry> {
  const out = new Map<string, Entry>();
  const walk = (dirIno: number, rel: string): void => {
    const entries = fs.readdir(dirIno);
    const names = new Set<string>();
    for (const de of entries) {
      assert.ok(!names.has(de.name), `duplicate entry ${rel}/${de.name}`);
      names.add(de.name);
      const p = `${rel}/${de.name}`;
      const sample = entries.length <= 600 || names.size % 7 === 0 || !de.name.startsWith('entry-');
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
        e.sha = digest(st.size, (off, len) => fs.read(de.ino, off, len));
        assert.equal(fs.read(de.ino, st.size, 10).length, 0, `read at EOF of ${p}`);
      } else if (st.type === 'symlink') {
        e.size = st.size;
        e.target = fs.readlink(de.ino);
      }
      out.set(p, e);
      if (st.type === 'dir') walk(de.ino, p);
    }
    for (const absent of ['no-such-name', 'ENTRY-1', 'entry-', 'entry-99999', 'entry-1x']) {
      assert.equal(fs.lookup(dirIno, absent), undefined, `lookup of absent ${rel}/${absent}`);
    }
  };
  walk(fs.rootIno, '');
  return out;
}

/** What the image must hold, from the oracle; `exact` compares inode numbers, times and link counts too. */
function compareTrees(
  oracle: Map<string, Entry>,
  img: Map<string, Entry>,
  exact: boolean,
  mtimeWindow?: [number, number],
): void {
  assert.deepEqual([...img.keys()].sort(), [...oracle.keys()].sort(), 'same paths');
  for (const [p, s] of oracle) {
    const m = img.get(p)!;
    assert.equal(m.type, s.type, `type of ${p}`);
    assert.equal(m.mode, s.mode, `mode of ${p}`);
    assert.equal(m.uid, s.uid, `uid of ${p}`);
    assert.equal(m.gid, s.gid, `gid of ${p}`);
    if (s.size !== undefined) assert.equal(m.size, s.size, `size of ${p}`);
    if (s.sha !== undefined) assert.equal(m.sha, s.sha, `content of ${p}`);
    if (s.target !== undefined) assert.equal(m.target, s.target, `target of ${p}`);
    if (exact) {
      assert.equal(m.ino, s.ino, `inode number of ${p}`);
      assert.equal(m.mtime, s.mtime, `mtime of ${p}`);
      assert.equal(m.nlink, s.nlink, `nlink of ${p}`);
    } else {
      // A protofile has no hard links: directories count `.`, their entry and their subdirectories' `..`.
      const subdirs = [...oracle.keys()].filter(
        (q) => q.startsWith(`${p}/`) && !q.slice(p.length + 1).includes('/') && oracle.get(q)!.type === 'dir',
      ).length;
      assert.equal(m.nlink, s.type === 'dir' ? 2 + subdirs : 1, `nlink of ${p}`);
      const [lo, hi] = mtimeWindow!;
      assert.ok(m.mtime >= lo && m.mtime <= hi, `mtime of ${p}: ${m.mtime} outside [${lo}, ${hi}]`);
    }
  }
}

// ---- xfs_db as an oracle -----------------------------------------------------------------------------------

function xfsDb(img: string, ...cmds: string[]): string {
  return run('xfs_db', ['-r', ...cmds.flatMap((c) => ['-c', c]), img]);
}

/** `xfs_db ls` of a directory: name → [inode, hash], `.` and `..` left out. */
function dbList(img: string, path: string): Map<string, [number, number]> {
  const out = new Map<string, [number, number]>();
  const r = spawnSync('xfs_db', ['-r', '-c', `ls ${path}`, img]);
  assert.equal(r.status, 0, r.stderr.toString());
  for (const line of r.stdout.toString('utf8').split('\n')) {
    const m = /^\s*\d+\s+(\d+)\s+\S+\s+0x([0-9a-f]+)\s+\d+\s+(.*) \(good\)$/.exec(line);
    if (m === null || m[3] === '.' || m[3] === '..') continue;
    out.set(m[3]!, [Number(m[1]), parseInt(m[2]!, 16)]);
  }
  return out;
}

/** The directory format xfs_db reports: fork format, then which spaces of the directory are mapped. */
function dirFormat(img: string, path: string, blockSize: number): DirFormat {
  const out = xfsDb(img, `path ${path}`, 'print core.format', 'bmap');
  const fmt = Number(/core\.format = (\d)/.exec(out)?.[1]);
  if (fmt === 1) return 'shortform';
  if (fmt === 3) return 'btree';
  const offsets = [...out.matchAll(/data offset (\d+)/g)].map((m) => Number(m[1]));
  if (offsets.some((o) => o >= 2 ** 36 / blockSize)) return 'node';
  if (offsets.some((o) => o >= 2 ** 35 / blockSize)) return 'leaf';
  return 'block';
}

function inodeField(img: string, path: string, field: string): string {
  const out = xfsDb(img, `path ${path}`, `print ${field}`);
  return /= (.*)$/m.exec(out)?.[1] ?? '';
}

// ---- variants ----------------------------------------------------------------------------------------------

interface Variant {
  name: string;
  args: string[];
  version: 4 | 5;
  /** Loop-mount the image and add what only the kernel writes (v5 only: this kernel mounts no v4). */
  kernel: boolean;
  blockSize: number;
  ftype: boolean;
  formats: Record<keyof typeof FORMAT_DIRS, DirFormat>;
}

const ALL_FORMATS = {
  'd-sf': 'shortform',
  'd-block': 'block',
  'd-leaf': 'leaf',
  'd-node': 'node',
  'd-btree': 'btree',
} as const;

const VARIANTS: Variant[] = [
  {
    name: 'v5 (default: crc, ftype, bigtime, reflink)',
    args: [],
    version: 5,
    kernel: true,
    blockSize: 4096,
    ftype: true,
    formats: ALL_FORMATS,
  },
  {
    name: 'v5 with 1 KiB blocks and 8 KiB directory blocks',
    args: ['-b', 'size=1024', '-n', 'size=8192'],
    version: 5,
    kernel: true,
    blockSize: 1024,
    ftype: true,
    // 8 KiB directory blocks: the leaf block holds all 700 hashes (no node level), and 5000 entries take fewer
    // extents than the inode holds.
    formats: { ...ALL_FORMATS, 'd-node': 'leaf', 'd-btree': 'node' },
  },
  {
    name: 'v4 (crc=0)',
    args: ['-m', 'crc=0'],
    version: 4,
    kernel: false,
    blockSize: 4096,
    ftype: true,
    formats: ALL_FORMATS,
  },
  {
    name: 'v4 without ftype',
    args: ['-m', 'crc=0', '-n', 'ftype=0'],
    version: 4,
    kernel: false,
    blockSize: 4096,
    ftype: false,
    formats: ALL_FORMATS,
  },
];

function mkfs(img: string, args: string[], proto: string): void {
  writeFileSync(img, '');
  truncateSync(img, IMAGE_SIZE);
  const r = spawnSync('mkfs.xfs', ['-q', '-f', ...args, '-p', proto, img], { encoding: 'utf8' });
  assert.equal(r.status, 0, `mkfs.xfs ${args.join(' ')}: ${r.stderr}`);
}

function withFs<T>(img: string, fn: (fs: FileSystem, dev: CountingDevice) => T): T {
  const dev = new CountingDevice(openImage(img, { format: 'raw' }));
  try {
    return fn(openXfs(dev), dev);
  } finally {
    dev.close();
  }
}

describe('xfs reader against mkfs.xfs -p (and kernel writes) of a source tree', () => {
  let tmp: { dir: string; cleanup: () => void };
  let src: string;
  let proto: string;
  let sourceOracle: Map<string, Entry>;

  before(() => {
    tmp = tempDir('hyperward-xfs-');
    src = join(tmp.dir, 'src');
    buildSource(src);
    proto = join(tmp.dir, 'proto');
    writeProto(src, proto);
    sourceOracle = describeHost(src);
  });
  after(() => tmp.cleanup());

  for (const v of VARIANTS) {
    it(v.name, async () => {
      const img = join(tmp.dir, 'img');
      const t0 = Math.floor(Date.now() / 1000) - 1;
      mkfs(img, v.args, proto);
      const t1 = Math.ceil(Date.now() / 1000) + 1;
      let oracle = sourceOracle;
      if (v.kernel) {
        const mnt = join(tmp.dir, 'mnt');
        mkdirSync(mnt, { recursive: true });
        run('mount', ['-o', 'loop', img, mnt]);
        try {
          await kernelStage(mnt, v.blockSize);
          oracle = describeHost(mnt);
        } finally {
          run('umount', [mnt]);
        }
      }
      // What mkfs (and the kernel) made, according to xfs_db.
      const sbOut = xfsDb(img, 'sb 0', 'print versionnum blocksize uuid fname');
      assert.equal(Number(/versionnum = (0x[0-9a-f]+)/.exec(sbOut)?.[1]) & 0xf, v.version);
      assert.equal(Number(/blocksize = (\d+)/.exec(sbOut)?.[1]), v.blockSize);
      for (const [dir, want] of Object.entries(v.formats)) {
        assert.equal(dirFormat(img, `/${dir}`, v.blockSize), want, `xfs_db format of /${dir}`);
      }
      assert.equal(inodeField(img, '/fast', 'core.format'), '1 (local)');
      assert.equal(inodeField(img, '/long', 'core.format'), '2 (extents)');
      assert.equal(inodeField(img, '/mid', 'core.format'), v.version === 5 ? '1 (local)' : '2 (extents)');
      if (v.kernel) {
        const u = v.version === 5 ? 'u3' : 'u';
        assert.equal(inodeField(img, '/frag', 'core.format'), '3 (btree)');
        const level = Number(inodeField(img, '/frag', `${u}.bmbt.level`));
        assert.ok(level >= (v.blockSize === 1024 ? 2 : 1), `bmap btree of /frag has ${level} levels`);
        assert.match(xfsDb(img, 'path /prealloc', 'bmap'), /flag 1/, 'unwritten extents in /prealloc');
      }

      withFs(img, (fs) => {
        assert.equal(fs.type, 'xfs');
        assert.equal(fs.uuid, /uuid = (\S+)/.exec(sbOut)?.[1]);
        assert.equal(fs.stat(fs.rootIno).type, 'dir');
        compareTrees(oracle, describeImage(fs), v.kernel, [t0, t1]);
        // Inode numbers, names and name hashes as xfs_db lists them, for every directory.
        const vfs = new Vfs(fs);
        for (const [p, e] of [['', { type: 'dir' }] as const, ...oracle]) {
          if (e.type !== 'dir') continue;
          const listed = dbList(img, p === '' ? '/' : p);
          const got = fs.readdir(vfs.resolve(p === '' ? '/' : p)!);
          assert.deepEqual(got.map((g) => g.name).sort(), [...listed.keys()].sort(), `xfs_db ls ${p}`);
          for (const g of got) {
            const [ino, hash] = listed.get(g.name)!;
            assert.equal(g.ino, ino, `inode of ${p}/${g.name}`);
            assert.equal(hashName(Buffer.from(g.name, 'utf8')), hash, `hash of ${p}/${g.name}`);
          }
        }
        // Chroot semantics of the image's own links.
        assert.equal(vfs.resolve('/abs'), vfs.resolve('/etc/x'));
        assert.equal(vfs.resolve('/a/b/c/up/etc/x'), vfs.resolve('/etc/x'));
        assert.equal(vfs.readFile('/a/b/c/escape').toString(), 'the real x\n');
        // Random unaligned reads.
        const big = readFileSync(join(src, 'big'));
        const ino = vfs.resolve('/big')!;
        const r = modPicker(xorshift32(3));
        for (let k = 0; k < 40; k++) {
          const off = r(big.length + 100);
          const len = r(300_000);
          assert.ok(fs.read(ino, off, len).equals(big.subarray(off, off + len)), `/big at ${off}+${len}`);
        }
        if (v.kernel) {
          // The kernel's view of the special cases, byte for byte.
          const sparse = vfs.resolve('/sparse')!;
          for (const [off, len] of SPARSE_ISLANDS) {
            const from = Math.max(0, off - 50);
            const got = fs.read(sparse, from, off - from + len + 50);
            const want = Buffer.concat([
              Buffer.alloc(off - from),
              pseudoRandom(len, off + 1),
              Buffer.alloc(50),
            ]);
            assert.ok(got.equals(want.subarray(0, got.length)), `/sparse island at ${off}`);
          }
          const pre = fs.read(vfs.resolve('/prealloc')!, 0, MiB);
          assert.ok(pre.subarray(0, 300_000).equals(Buffer.alloc(300_000)));
          assert.ok(pre.subarray(300_000, 305_000).equals(pseudoRandom(5000, 5)));
          const frag = vfs.resolve('/frag')!;
          for (const i of [0, 1, 1234, FRAG_BLOCKS - 1]) {
            const b = fs.read(frag, 2 * i * v.blockSize, 2 * v.blockSize);
            assert.equal(b.readUInt32LE(0), i);
            assert.ok(
              b.subarray(v.blockSize).equals(Buffer.alloc(b.length - v.blockSize)),
              'hole after a block',
            );
          }
          assert.equal(fs.stat(vfs.resolve('/socket')!).type, 'socket');
        }
      });
    });
  }
});

// ---- details -----------------------------------------------------------------------------------------------

describe('xfs reader details', () => {
  let tmp: { dir: string; cleanup: () => void };
  let proto: string;
  const images = new Map<number, string>();

  before(() => {
    tmp = tempDir('hyperward-xfsd-');
    const src = join(tmp.dir, 'src');
    buildSource(src);
    proto = join(tmp.dir, 'proto');
    writeProto(src, proto);
    for (const version of [4, 5]) {
      const img = join(tmp.dir, `v${version}.img`);
      mkfs(img, version === 4 ? ['-m', 'crc=0'] : [], proto);
      images.set(version, img);
    }
    const v5 = images.get(5)!;
    run('cp', ['--sparse=always', v5, join(tmp.dir, 'v5-mkfs.img')]);
    const mnt = join(tmp.dir, 'mnt');
    mkdirSync(mnt);
    run('mount', ['-o', 'loop', v5, mnt]);
    try {
      rewriteLongLink(mnt);
    } finally {
      run('umount', [mnt]);
    }
  });

  it('refuses a v5 remote symlink without its block header, as the kernel does (mkfs.xfs 6.1 writes them)', () => {
    const img = join(tmp.dir, 'v5-mkfs.img');
    const mnt = join(tmp.dir, 'mnt');
    run('mount', ['-o', 'loop,ro', img, mnt]);
    let kernel: string | undefined;
    try {
      readlinkSync(join(mnt, 'long'));
    } catch (e) {
      kernel = (e as NodeJS.ErrnoException).code;
    } finally {
      run('umount', [mnt]);
    }
    // EFSCORRUPTED is EUCLEAN (117), which Node does not name.
    assert.match(kernel ?? 'no error', /117|EUCLEAN/);
    withFs(img, (fs) => {
      expectError(() => new Vfs(fs).readlink('/long'), 'E_FS_CORRUPT', {
        message: /magic/,
        layer: /xfs symlink/,
      });
    });
  });
  after(() => tmp.cleanup());

  /** A copy of image `version` with `edit` applied to its bytes (the copy stays sparse). */
  function edited(version: number, name: string, edit: (fd: number) => void): string {
    const img = join(tmp.dir, `${name}.img`);
    run('cp', ['--sparse=always', images.get(version)!, img]);
    const fd = openSync(img, 'r+');
    try {
      edit(fd);
    } finally {
      closeSync(fd);
    }
    return img;
  }

  const readAt = (fd: number, off: number, len: number): Buffer => {
    const b = Buffer.alloc(len);
    readSync(fd, b, 0, len, off);
    return b;
  };
  const poke = (fd: number, off: number, bytes: Buffer): void => {
    writeSync(fd, bytes, 0, bytes.length, off);
  };
  /** Recomputes the CRC32C of the `len`-byte structure at `off` whose CRC field is at `crcAt` (little-endian). */
  const fixCrc = (fd: number, off: number, len: number, crcAt: number): void => {
    const b = readAt(fd, off, len);
    const c = Buffer.alloc(4);
    c.writeUInt32LE(crc32cWithZeroedField(b, crcAt));
    poke(fd, off + crcAt, c);
  };
  const inodeByte = (img: string, path: string): number => {
    const ino = Number(/current inode number is (\d+)/.exec(xfsDb(img, `path ${path}`, 'inode'))?.[1]);
    return Number(/\((\d+)\)/.exec(xfsDb(img, `convert inode ${ino} byte`))?.[1]);
  };
  const fsbByte = (img: string, fsb: number): number =>
    Number(/\((\d+)\)/.exec(xfsDb(img, `convert fsblock ${fsb} byte`))?.[1]);
  const firstBlock = (img: string, path: string): number =>
    Number(/startblock (\d+)/.exec(xfsDb(img, `path ${path}`, 'bmap'))?.[1]);

  it('reports a bad superblock CRC as E_FS_CORRUPT naming the layer and offset', () => {
    const img = edited(5, 'sbcrc', (fd) => poke(fd, 108, Buffer.from('x')));
    const dev = openImage(img, { format: 'raw' });
    try {
      const e = expectError(() => openXfs(dev), 'E_FS_CORRUPT', { message: /CRC/, layer: /xfs superblock/ });
      assert.equal(e.location.offset, 224);
    } finally {
      dev.close();
    }
  });

  it('reports bad inode, directory, btree and symlink CRCs with their layer and offset', () => {
    const v5 = images.get(5)!;
    const fileInode = inodeByte(v5, '/f4095');
    const dirBlock = fsbByte(v5, firstBlock(v5, '/d-block'));
    const ptr = Number(inodeField(v5, '/d-btree', 'u3.bmbt.ptrs[1]'));
    const btreeBlock = fsbByte(v5, ptr);
    const linkBlock = fsbByte(v5, firstBlock(v5, '/long'));
    const img = edited(5, 'crcs', (fd) => {
      poke(fd, fileInode + 40, Buffer.from([0x7f])); // mtime
      poke(fd, dirBlock + 200, Buffer.from([0x55]));
      poke(fd, btreeBlock + 100, Buffer.from([0x55]));
      poke(fd, linkBlock + 100, Buffer.from([0x55]));
    });
    withFs(img, (fs) => {
      const vfs = new Vfs(fs);
      let e = expectError(() => vfs.stat('/f4095'), 'E_FS_CORRUPT', {
        message: /CRC/,
        layer: /xfs inode \d+/,
      });
      assert.equal(e.location.offset, fileInode + 100);
      e = expectError(() => vfs.readdir('/d-block'), 'E_FS_CORRUPT', {
        message: /CRC/,
        layer: /xfs directory/,
      });
      assert.equal(e.location.offset, dirBlock + 4);
      e = expectError(() => vfs.readdir('/d-btree'), 'E_FS_CORRUPT', {
        message: /CRC/,
        layer: /xfs bmap btree/,
      });
      assert.equal(e.location.offset, btreeBlock + 64);
      e = expectError(() => vfs.readlink('/long'), 'E_FS_CORRUPT', { message: /CRC/, layer: /xfs symlink/ });
      assert.equal(e.location.offset, linkBlock + 12);
      // The rest of the filesystem still reads.
      assert.equal(vfs.readFile('/etc/x').toString(), 'the real x\n');
    });
  });

  for (const version of [4, 5]) {
    it(`detects a bmap btree block pointing at itself (v${version})`, () => {
      const base = images.get(version)!;
      const u = version === 5 ? 'u3' : 'u';
      const ino = inodeByte(base, '/d-btree');
      const fsb = Number(inodeField(base, '/d-btree', `${u}.bmbt.ptrs[1]`));
      const blk = fsbByte(base, fsb);
      const hdr = version === 5 ? 72 : 24;
      const core = version === 5 ? 176 : 100;
      const isize = version === 5 ? 512 : 256;
      const img = edited(version, `loop${version}`, (fd) => {
        // The root says level 2; its child becomes a level-1 node whose only pointer is itself.
        poke(fd, ino + core, Buffer.from([0, 2]));
        const node = Buffer.alloc(4);
        node.writeUInt16BE(1, 0);
        node.writeUInt16BE(1, 2);
        poke(fd, blk + 4, node);
        const ptr = Buffer.alloc(8);
        ptr.writeBigUInt64BE(BigInt(fsb));
        poke(fd, blk + hdr + Math.floor((4096 - hdr) / 16) * 8, ptr);
        if (version === 5) {
          fixCrc(fd, ino, isize, 100);
          fixCrc(fd, blk, 4096, 64);
        }
      });
      withFs(img, (fs) => {
        expectError(() => new Vfs(fs).readdir('/d-btree'), 'E_FS_CORRUPT', {
          message: /loop/,
          layer: /xfs bmap btree/,
        });
      });
    });
  }

  it('caps the extent count of an inode (E_LIMIT) before reading its btree', () => {
    const base = images.get(4)!;
    const ino = inodeByte(base, '/d-btree');
    const img = edited(4, 'manyext', (fd) => {
      const b = Buffer.alloc(4);
      b.writeUInt32BE(0x0200_0000);
      poke(fd, ino + 76, b);
    });
    withFs(img, (fs) => {
      expectError(() => new Vfs(fs).readdir('/d-btree'), 'E_LIMIT', { layer: /xfs bmap btree/ });
    });
  });

  it('looks names up case-insensitively on an ASCII-CI filesystem, as xfs_db does', () => {
    // This kernel refuses to mount ASCII-CI filesystems; xfs_db's `path` uses the same case-folding lookup.
    const img = join(tmp.dir, 'ci.img');
    mkfs(img, ['-n', 'version=ci'], proto);
    const versionnum = Number(/versionnum = (0x[0-9a-f]+)/.exec(xfsDb(img, 'sb 0', 'print versionnum'))?.[1]);
    assert.ok((versionnum & 0x4000) !== 0, 'mkfs set the ASCII-CI (borg) bit');
    const names = [
      '/d-leaf/ENTRY-5',
      '/d-btree/Entry-4321',
      '/D-SF/entry-3',
      '/ETC/X',
      '/names/ÜNÏCÖDÉ',
      '/nope',
    ];
    const oracle = new Map<string, number | undefined>();
    for (const n of names) {
      const r = spawnSync('xfs_db', ['-r', '-c', `path ${n}`, '-c', 'inode', img], { encoding: 'utf8' });
      const m = /current inode number is (\d+)/.exec(r.stdout);
      oracle.set(n, m !== null && !/no such|not found/i.test(r.stdout + r.stderr) ? Number(m[1]) : undefined);
    }
    // ASCII only: the non-ASCII name does not fold.
    assert.equal(oracle.get('/names/ÜNÏCÖDÉ'), undefined);
    assert.notEqual(oracle.get('/d-btree/Entry-4321'), undefined);
    withFs(img, (fs) => {
      const vfs = new Vfs(fs);
      for (const n of names) assert.equal(vfs.resolve(n), oracle.get(n), n);
      assert.ok(vfs.readdir('/d-leaf').some((e) => e.name === 'entry-5'));
    });
  });

  it('refuses unknown incompatible features by name', () => {
    const img = edited(5, 'incompat', (fd) => {
      const b = readAt(fd, 216, 4);
      b.writeUInt32BE(b.readUInt32BE(0) | 0x1000);
      poke(fd, 216, b);
      fixCrc(fd, 0, 512, 224);
    });
    const dev = openImage(img, { format: 'raw' });
    try {
      expectError(() => openXfs(dev), 'E_UNSUPPORTED_FORMAT', /0x1000/);
    } finally {
      dev.close();
    }
  });

  it('looks names up through the hash index, touching few blocks', () => {
    for (const [version, img] of images) {
      withFs(img, (fs, dev) => {
        const vfs = new Vfs(fs);
        for (const [dir, n] of Object.entries(FORMAT_DIRS)) {
          const d = vfs.resolve(`/${dir}`)!;
          const dirBytes = fs.stat(d).size;
          fs.lookup(d, 'warm-up');
          for (const i of [0, 1, Math.floor(n / 2), n - 1]) {
            dev.reset();
            assert.notEqual(fs.lookup(d, `entry-${i}`), undefined, `v${version} /${dir}/entry-${i}`);
            if (dirBytes > 64 * 1024) {
              assert.ok(dev.bytes < dirBytes / 4, `lookup in /${dir} read ${dev.bytes} of ${dirBytes} bytes`);
            }
          }
        }
      });
    }
  });

  it('falls back to scanning when the hash index is damaged (v4)', () => {
    const base = images.get(4)!;
    // The leaf block of the single-leaf directory: its entries' hashes no longer lead anywhere.
    const leafFsb = Number(
      [...xfsDb(base, 'path /d-leaf', 'bmap').matchAll(/data offset (\d+) startblock (\d+)/g)].find(
        (m) => Number(m[1]) >= 2 ** 35 / 4096,
      )?.[2],
    );
    const leaf = fsbByte(base, leafFsb);
    const img = edited(4, 'badleaf', (fd) => poke(fd, leaf + 8, Buffer.from([0, 0])));
    withFs(img, (fs) => {
      const vfs = new Vfs(fs);
      const d = vfs.resolve('/d-leaf')!;
      assert.equal(fs.readdir(d).length, FORMAT_DIRS['d-leaf']);
      assert.notEqual(fs.lookup(d, 'entry-321'), undefined);
      assert.equal(fs.lookup(d, 'entry-99999'), undefined);
    });
  });

  it('names a v5 remote symlink block belonging to another inode', () => {
    const v5 = images.get(5)!;
    const linkBlock = fsbByte(v5, firstBlock(v5, '/long'));
    const img = edited(5, 'owner', (fd) => {
      const b = readAt(fd, linkBlock + 32, 8);
      b[7] = b[7]! ^ 1;
      poke(fd, linkBlock + 32, b);
      fixCrc(fd, linkBlock, 4096, 12);
    });
    withFs(img, (fs) => {
      expectError(() => new Vfs(fs).readlink('/long'), 'E_FS_CORRUPT', {
        message: /another inode/,
        layer: /symlink/,
      });
    });
  });

  it('refuses non-files, non-links and non-directories with E_USAGE', () => {
    withFs(images.get(5)!, (fs) => {
      const vfs = new Vfs(fs);
      assert.equal(
        errorCode(() => fs.read(vfs.resolve('/etc')!, 0, 1)),
        'E_USAGE',
      );
      assert.equal(
        errorCode(() => fs.readlink(vfs.resolve('/etc/x')!)),
        'E_USAGE',
      );
      assert.equal(
        errorCode(() => fs.readdir(vfs.resolve('/etc/x')!)),
        'E_USAGE',
      );
      assert.equal(
        errorCode(() => fs.stat(2 ** 52)),
        'E_FS_CORRUPT',
      );
    });
  });

  it('probes only XFS', () => {
    const img = join(tmp.dir, 'zeros.img');
    writeFileSync(img, Buffer.alloc(64 * 1024));
    const dev = openImage(img, { format: 'raw' });
    try {
      assert.equal(probeXfs(dev), false);
      expectError(() => openXfs(dev), 'E_UNSUPPORTED_FORMAT');
    } finally {
      dev.close();
    }
    const xdev = openImage(images.get(4)!, { format: 'raw' });
    try {
      assert.equal(probeXfs(xdev), true);
    } finally {
      xdev.close();
    }
  });
});
