/**
 * Read-only XFS reader behind the `FileSystem` interface, in pure TypeScript.
 *
 * Covers: v4 and v5 (CRC-enabled) filesystems; inodes v1/v2/v3 with bigtime timestamps and large extent
 * counters; data forks in local, extents and btree format (v4 and v5 long-format bmbt blocks); unwritten extents
 * and holes read as zeros; short-form, block, leaf, node and btree-format directories, with or without file types
 * in the entries, looked up through the hash index (a linear scan when the index is damaged, or for ASCII
 * case-insensitive filesystems); local and remote symlinks (v5 remote blocks carry a header). Reflinked files
 * read like any other. The realtime device is not read: files on it are refused with E_UNSUPPORTED_FORMAT.
 * The log is not replayed: the image is read as it lies.
 *
 * Every structure is treated as hostile: v5 metadata CRCs (superblock, inodes, directory, btree and symlink
 * blocks) are verified, and a mismatch is E_FS_CORRUPT naming the layer and offset; fields are bounds-checked
 * against their block, allocation group and the device; extent counts, btree depth, directory size and entry
 * counts are capped; btree loops are detected; all metadata caches are bounded LRUs.
 */
import type { BlockDevice } from '../disk/types.js';
import { HyperwardError, fsCorrupt, isHyperwardError } from '../errors.js';
import { Lru } from '../lru.js';
import { loadExtents, mapBlock, mapEnd, type ExtentMap } from './xfs/bmap.js';
import { hasValidCrc } from './xfs/crc.js';
import { daddrOf, readU64, type XfsContext } from './xfs/context.js';
import {
  DA_NODE_MAXDEPTH,
  FREE_SPACE_BYTES,
  LEAF_SPACE_BYTES,
  LEAFN_MAGIC,
  NODE_MAGIC,
  daBlock,
  dataBlockArea,
  direntType,
  entryAt,
  firstAtOrAbove,
  hashName,
  validName,
  walkDataEntries,
  walkShortform,
  type DataKind,
  type DirentVisitor,
} from './xfs/dir.js';
import { FMT_LOCAL, inodeOffset, parseInode, type XfsInode } from './xfs/inode.js';
import { hasXfsMagic, readSuperblock, type XfsSuperblock } from './xfs/superblock.js';
import type { DirEntry, FileSystem, FileType, Inode } from './types.js';
import { readMappedRange } from './mapped-read.js';

/** Directories whose data space is larger than this are refused (E_LIMIT). */
const MAX_DIR_BYTES = 256 * 1024 * 1024;
/** Entries one `readdir` returns at most. */
const MAX_DIR_ENTRIES = 1_000_000;
/** Longest symlink target XFS stores. */
const SYMLINK_MAXLEN = 1024;
const SYMLINK_MAGIC = 0x58534c4d; // 'XSLM'
const SYMLINK_HDR = 56;
/** Contiguous data is read in pieces of at most this size. */
/** Leaf blocks followed sideways while collecting hash collisions. */
const MAX_LEAF_HOPS = 64;

const META_CACHE_BYTES = 8 * 1024 * 1024;
const ITABLE_CACHE_BYTES = 4 * 1024 * 1024;
const DIR_CACHE_BYTES = 8 * 1024 * 1024;
const EXTENT_CACHE_BYTES = 32 * 1024 * 1024;
const INODE_CACHE_ENTRIES = 4096;

/** A checked directory block: its bytes, its first linear block and (data blocks) its entry area. */
interface DirBlock {
  buf: Buffer;
  linear: number;
  start: number;
  end: number;
}

const clamp = (v: number, lo: number, hi: number): number => Math.max(lo, Math.min(hi, v));

class XfsFileSystem implements FileSystem, XfsContext {
  readonly type = 'xfs';
  readonly label?: string;
  readonly uuid: string;
  readonly rootIno: number;
  readonly file: string;

  private readonly meta: Lru<number, Buffer>;
  private readonly itable: Lru<number, Buffer>;
  private readonly inodes = new Lru<number, XfsInode>(INODE_CACHE_ENTRIES);
  private readonly extents = new Lru<number, ExtentMap>(4096, {
    budget: { maxBytes: EXTENT_CACHE_BYTES, sizeOf: (m) => 64 + m.off.length * 25 },
  });
  /** Checked directory blocks, keyed by kind, directory inode and logical block. */
  private readonly dirBlocks = new Lru<string, DirBlock>(4096, {
    budget: { maxBytes: DIR_CACHE_BYTES, sizeOf: (b) => b.buf.length },
  });
  /** Filesystem blocks per directory block. */
  private readonly fpd: number;
  /** First filesystem block of the leaf and free-index spaces of a directory. */
  private readonly leafFsb: number;
  private readonly freeFsb: number;

  constructor(
    private readonly dev: BlockDevice,
    readonly sb: XfsSuperblock,
  ) {
    this.uuid = sb.uuid;
    if (sb.label !== '') this.label = sb.label;
    this.rootIno = sb.rootIno;
    this.file = dev.name;
    const bs = sb.blockSize;
    this.meta = new Lru(clamp(Math.floor(META_CACHE_BYTES / bs), 16, 1024));
    this.itable = new Lru(clamp(Math.floor(ITABLE_CACHE_BYTES / bs), 16, 1024));
    this.fpd = sb.dirBlkSize / bs;
    this.leafFsb = LEAF_SPACE_BYTES / bs;
    this.freeFsb = FREE_SPACE_BYTES / bs;
  }

  // ---- device access -------------------------------------------------------------------------------------

  devRead(offset: number, length: number, layer: string): Buffer {
    const fsBytes = this.sb.dBlocks * this.sb.blockSize;
    if (!Number.isSafeInteger(offset) || offset < 0 || offset + length > fsBytes) {
      throw fsCorrupt(`read of ${length} bytes past the end of the filesystem (${fsBytes} bytes)`, {
        file: this.file,
        layer,
        offset,
      });
    }
    if (offset + length > this.dev.size) {
      throw fsCorrupt(
        `read of ${length} bytes past the end of the device (${this.dev.size} bytes); the filesystem is larger than its device`,
        { file: this.file, layer, offset },
      );
    }
    return this.dev.read(offset, length);
  }

  metaBlock(block: number, layer: string): Buffer {
    const hit = this.meta.get(block);
    if (hit !== undefined) return hit;
    const buf = this.devRead(block * this.sb.blockSize, this.sb.blockSize, layer);
    this.meta.set(block, buf);
    return buf;
  }

  // ---- inodes --------------------------------------------------------------------------------------------

  private inode(ino: number): XfsInode {
    const hit = this.inodes.get(ino);
    if (hit !== undefined) return hit;
    const sb = this.sb;
    const offset = inodeOffset(sb, ino);
    if (offset === undefined) {
      throw fsCorrupt(`inode number ${ino} points outside the filesystem`, {
        file: this.file,
        layer: 'xfs inode',
      });
    }
    const block = Math.floor(offset / sb.blockSize);
    let tb = this.itable.get(block);
    if (tb === undefined) {
      tb = this.devRead(block * sb.blockSize, sb.blockSize, `xfs inode ${ino}`);
      this.itable.set(block, tb);
    }
    const inBlock = offset - block * sb.blockSize;
    const parsed = parseInode(this, tb.subarray(inBlock, inBlock + sb.inodeSize), ino, offset);
    this.inodes.set(ino, parsed);
    return parsed;
  }

  stat(ino: number): Inode {
    const i = this.inode(ino);
    return {
      ino: i.ino,
      type: i.type,
      mode: i.mode,
      size: i.size,
      uid: i.uid,
      gid: i.gid,
      mtime: i.mtime,
      nlink: i.nlink,
    };
  }

  private extentMap(i: XfsInode): ExtentMap {
    const hit = this.extents.get(i.ino);
    if (hit !== undefined) return hit;
    const map = loadExtents(this, i);
    this.extents.set(i.ino, map);
    return map;
  }

  // ---- file data -----------------------------------------------------------------------------------------

  /** Reads `[offset, offset+length)` of a non-local inode's data (already clipped); holes are zeros. */
  private readMapped(i: XfsInode, offset: number, length: number, layer: string): Buffer {
    if (length === 0) return Buffer.alloc(0);
    const map = this.extentMap(i);
    return readMappedRange(
      offset,
      length,
      this.sb.blockSize,
      (lblk) => {
        const run = mapBlock(map, lblk);
        return { device: run.blk >= 0 ? run.blk : undefined, count: run.count };
      },
      (devOff, n) => this.devRead(devOff, n, layer),
    );
  }

  read(ino: number, offset: number, length: number): Buffer {
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
      throw new HyperwardError('E_USAGE', `invalid read of ${length} bytes at ${offset}`, {
        file: this.file,
      });
    }
    const i = this.inode(ino);
    if (i.type !== 'file') {
      throw new HyperwardError('E_USAGE', `inode ${ino} is not a regular file (${i.type})`, {
        file: this.file,
      });
    }
    if (offset >= i.size) return Buffer.alloc(0);
    const n = Math.min(length, i.size - offset);
    if (i.format === FMT_LOCAL) return Buffer.from(i.fork.subarray(offset, offset + n));
    if (i.realtime) {
      throw new HyperwardError(
        'E_UNSUPPORTED_FORMAT',
        `inode ${ino} keeps its data on the realtime device, which is not read`,
        { file: this.file, layer: `xfs inode ${ino}`, offset: i.offset + 90 },
      );
    }
    return this.readMapped(i, offset, n, `xfs data (inode ${ino})`);
  }

  // ---- symlinks ------------------------------------------------------------------------------------------

  readlink(ino: number): string {
    const i = this.inode(ino);
    if (i.type !== 'symlink') {
      throw new HyperwardError('E_USAGE', `inode ${ino} is not a symbolic link (${i.type})`, {
        file: this.file,
      });
    }
    const layer = `xfs symlink (inode ${ino})`;
    if (i.size < 1 || i.size > SYMLINK_MAXLEN) {
      throw fsCorrupt(`symbolic link target of ${i.size} bytes (1..${SYMLINK_MAXLEN} allowed)`, {
        file: this.file,
        layer,
        offset: i.offset + 56,
      });
    }
    let raw: Buffer;
    if (i.format === FMT_LOCAL) raw = i.fork.subarray(0, i.size);
    else if (this.sb.version === 5) raw = this.remoteSymlinkV5(i, layer);
    else raw = this.readMapped(i, 0, i.size, layer);
    const nul = raw.indexOf(0);
    return raw.toString('utf8', 0, nul < 0 ? raw.length : nul);
  }

  /** v5 remote symlinks: each mapped run of blocks starts with a header (magic, offset, bytes, CRC, owner). */
  private remoteSymlinkV5(i: XfsInode, layer: string): Buffer {
    const sb = this.sb;
    const bs = sb.blockSize;
    const map = this.extentMap(i);
    const blocks = Math.ceil(i.size / (bs - SYMLINK_HDR));
    const out = Buffer.alloc(i.size);
    let got = 0;
    let lblk = 0;
    while (lblk < blocks) {
      const run = mapBlock(map, lblk);
      const count = Math.min(run.count, blocks - lblk);
      if (run.blk < 0) {
        throw fsCorrupt(`symlink block ${lblk} is not mapped`, { file: this.file, layer, offset: i.offset });
      }
      const base = run.blk * bs;
      const buf = this.devRead(base, count * bs, layer);
      const bad = (rel: number, message: string): Error =>
        fsCorrupt(message, { file: this.file, layer, offset: base + rel });
      if (buf.readUInt32BE(0) !== SYMLINK_MAGIC) throw bad(0, 'bad remote symlink block magic');
      if (!hasValidCrc(buf, 0, buf.length, 12)) throw bad(12, 'remote symlink block CRC32C mismatch');
      if (!buf.subarray(16, 32).equals(sb.metaUuid)) throw bad(16, 'remote symlink block UUID mismatch');
      if (readU64(buf, 32) !== i.ino) throw bad(32, 'remote symlink block belongs to another inode');
      if (readU64(buf, 40) !== daddrOf(sb, run.blk))
        throw bad(40, 'remote symlink block records another address');
      const off = buf.readUInt32BE(4);
      const bytes = buf.readUInt32BE(8);
      if (off !== got || bytes > buf.length - SYMLINK_HDR || got + bytes > i.size) {
        throw bad(4, `remote symlink block holds bytes ${off}+${bytes} where ${got} was expected`);
      }
      buf.copy(out, got, SYMLINK_HDR, SYMLINK_HDR + bytes);
      got += bytes;
      lblk += count;
    }
    if (got !== i.size) {
      throw fsCorrupt(`remote symlink holds ${got} of its ${i.size} bytes`, {
        file: this.file,
        layer,
        offset: i.offset,
      });
    }
    return out;
  }

  // ---- directories ---------------------------------------------------------------------------------------

  private dirInode(ino: number): XfsInode {
    const i = this.inode(ino);
    if (i.type !== 'dir') {
      throw new HyperwardError('E_USAGE', `inode ${ino} is not a directory (${i.type})`, { file: this.file });
    }
    return i;
  }

  private dirLayer(ino: number): string {
    return `xfs directory (inode ${ino})`;
  }

  /**
   * The directory block at logical filesystem block `fsbOff`, checked as `kind` ('leaf' for the leaf space), or
   * undefined when it is a hole. Throws when only part of it is mapped. For data kinds, [start, end) is the
   * entry area.
   */
  private dirBlock(
    d: XfsInode,
    map: ExtentMap,
    fsbOff: number,
    kind: DataKind | 'leaf',
  ): DirBlock | undefined {
    const layer = this.dirLayer(d.ino);
    const bs = this.sb.blockSize;
    const first = mapBlock(map, fsbOff);
    if (first.blk < 0 && first.count >= this.fpd) return undefined;
    const key = `${kind}:${d.ino}:${fsbOff}`;
    const hit = this.dirBlocks.get(key);
    if (hit !== undefined && hit.linear === first.blk) return hit;
    let buf: Buffer;
    if (first.blk >= 0 && first.count >= this.fpd) {
      buf = this.devRead(first.blk * bs, this.sb.dirBlkSize, layer);
    } else {
      buf = Buffer.alloc(this.sb.dirBlkSize);
      for (let k = 0; k < this.fpd; k++) {
        const r = mapBlock(map, fsbOff + k);
        if (r.blk < 0) {
          throw fsCorrupt(`directory block at file block ${fsbOff} is only partly mapped`, {
            file: this.file,
            layer,
            offset: d.offset,
          });
        }
        this.devRead(r.blk * bs, bs, layer).copy(buf, k * bs);
      }
    }
    let area = { start: 0, end: 0 };
    if (kind === 'leaf') daBlock(this, buf, d.ino, first.blk, layer);
    else area = dataBlockArea(this, buf, kind, d.ino, first.blk, layer);
    const block: DirBlock = { buf, linear: first.blk, start: area.start, end: area.end };
    this.dirBlocks.set(key, block);
    return block;
  }

  /** True when a non-local directory is in block format (its mapping ends after one directory block). */
  private isBlockDir(d: XfsInode, map: ExtentMap): boolean {
    const end = mapEnd(map);
    if (end === 0) {
      throw fsCorrupt('directory has no blocks', {
        file: this.file,
        layer: this.dirLayer(d.ino),
        offset: d.offset,
      });
    }
    if (end !== this.fpd) return false;
    if (d.size !== this.sb.dirBlkSize) {
      throw fsCorrupt(`block directory of ${d.size} bytes`, {
        file: this.file,
        layer: this.dirLayer(d.ino),
        offset: d.offset + 56,
      });
    }
    return true;
  }

  /** Visits every entry (including `.` and `..` of block directories) until the visitor returns true. */
  private walkDir(d: XfsInode, visit: DirentVisitor): void {
    const layer = this.dirLayer(d.ino);
    if (d.format === FMT_LOCAL) {
      walkShortform(this, d.fork, d.size, d.forkOffset, layer, this.sb.ftype, visit);
      return;
    }
    const map = this.extentMap(d);
    const bs = this.sb.blockSize;
    if (this.isBlockDir(d, map)) {
      const b = this.onlyBlock(d, map);
      walkDataEntries(this, b.buf, b.start, b.end, b.linear * bs, layer, visit);
      return;
    }
    const limit = Math.min(this.leafFsb, mapEnd(map));
    let bytes = 0;
    let fsb = 0;
    while (fsb < limit) {
      const run = mapBlock(map, fsb);
      if (run.blk < 0) {
        const next = Math.floor((fsb + run.count) / this.fpd) * this.fpd;
        if (next > fsb) {
          fsb = next;
          continue;
        }
      }
      bytes += this.sb.dirBlkSize;
      if (bytes > MAX_DIR_BYTES) {
        throw new HyperwardError('E_LIMIT', `directory data is larger than ${MAX_DIR_BYTES} bytes`, {
          file: this.file,
          layer,
          offset: d.offset,
        });
      }
      const b = this.dirBlock(d, map, fsb, 'data');
      if (b !== undefined && walkDataEntries(this, b.buf, b.start, b.end, b.linear * bs, layer, visit))
        return;
      fsb += this.fpd;
    }
  }

  /** The one block of a block-format directory. */
  private onlyBlock(d: XfsInode, map: ExtentMap): DirBlock {
    const b = this.dirBlock(d, map, 0, 'block');
    if (b === undefined) {
      throw fsCorrupt('block directory has no block 0', {
        file: this.file,
        layer: this.dirLayer(d.ino),
        offset: d.offset,
      });
    }
    return b;
  }

  readdir(ino: number): DirEntry[] {
    const d = this.dirInode(ino);
    const layer = this.dirLayer(ino);
    const out: DirEntry[] = [];
    this.walkDir(d, (buf, s, len, child, ft, at) => {
      if ((len === 1 && buf[s] === 0x2e) || (len === 2 && buf[s] === 0x2e && buf[s + 1] === 0x2e))
        return false;
      if (!validName(buf, s, len)) {
        throw fsCorrupt('directory entry name contains "/" or NUL', { file: this.file, layer, offset: at });
      }
      if (inodeOffset(this.sb, child) === undefined) {
        throw fsCorrupt(`directory entry points to inode ${child}, outside the filesystem`, {
          file: this.file,
          layer,
          offset: at,
        });
      }
      if (out.length >= MAX_DIR_ENTRIES) {
        throw new HyperwardError('E_LIMIT', `directory has more than ${MAX_DIR_ENTRIES} entries`, {
          file: this.file,
          layer,
          offset: at,
        });
      }
      out.push({ name: buf.toString('utf8', s, s + len), ino: child, type: this.entryType(child, ft) });
      return false;
    });
    return out;
  }

  private entryType(ino: number, ft: number): FileType {
    const fromEntry = this.sb.ftype ? direntType(ft) : undefined;
    if (fromEntry !== undefined) return fromEntry;
    try {
      return this.inode(ino).type;
    } catch (e) {
      if (isHyperwardError(e)) return 'unknown';
      throw e;
    }
  }

  lookup(dirIno: number, name: string): number | undefined {
    const d = this.dirInode(dirIno);
    const want = Buffer.from(name, 'utf8');
    if (want.length === 0 || want.length > 255 || want.includes(0x2f) || want.includes(0)) return undefined;
    if (name === '.') return dirIno;
    if (d.format === FMT_LOCAL) {
      let found: number | undefined;
      const parent = walkShortform(
        this,
        d.fork,
        d.size,
        d.forkOffset,
        this.dirLayer(d.ino),
        this.sb.ftype,
        (b, s, len, child) => {
          if (this.nameMatches(b, s, len, want)) {
            found = child;
            return true;
          }
          return false;
        },
      );
      return name === '..' ? parent : found;
    }
    if (!this.sb.asciiCi) {
      try {
        return this.hashedLookup(d, want);
      } catch (e) {
        // A damaged hash index must not hide entries the data blocks still hold: scan them instead.
        if (!isHyperwardError(e) || e.code !== 'E_FS_CORRUPT') throw e;
      }
    }
    return this.scanLookup(d, want);
  }

  private nameMatches(buf: Buffer, s: number, len: number, want: Buffer): boolean {
    if (len !== want.length) return false;
    if (buf.compare(want, 0, len, s, s + len) === 0) return true;
    if (!this.sb.asciiCi) return false;
    for (let k = 0; k < len; k++) {
      const a = buf[s + k]!;
      const b = want[k]!;
      const la = a >= 0x41 && a <= 0x5a ? a + 32 : a;
      const lb = b >= 0x41 && b <= 0x5a ? b + 32 : b;
      if (la !== lb) return false;
    }
    return true;
  }

  private scanLookup(d: XfsInode, want: Buffer): number | undefined {
    let exact: number | undefined;
    let folded: number | undefined;
    this.walkDir(d, (buf, s, len, child) => {
      if (len !== want.length) return false;
      if (buf.compare(want, 0, len, s, s + len) === 0) {
        exact = child;
        return true;
      }
      if (folded === undefined && this.nameMatches(buf, s, len, want)) folded = child;
      return false;
    });
    return exact ?? folded;
  }

  /** Looks `want` up through the hash-ordered leaf entries of a block, leaf or node directory. */
  private hashedLookup(d: XfsInode, want: Buffer): number | undefined {
    const layer = this.dirLayer(d.ino);
    const map = this.extentMap(d);
    const hash = hashName(want);
    const bs = this.sb.blockSize;
    if (this.isBlockDir(d, map)) {
      const b = this.onlyBlock(d, map);
      const size = this.sb.dirBlkSize;
      const { start, end } = b;
      const count = b.buf.readUInt32BE(size - 8);
      const leafAt = size - 8 - count * 8;
      for (let k = firstAtOrAbove(b.buf, leafAt, count, hash); k < count; k++) {
        if (b.buf.readUInt32BE(leafAt + k * 8) !== hash) break;
        const addr = b.buf.readUInt32BE(leafAt + k * 8 + 4);
        if (addr === 0) continue;
        const pos = addr * 8;
        if (pos < start || pos >= end) {
          throw fsCorrupt(`leaf entry points to offset ${pos}, outside the entries`, {
            file: this.file,
            layer,
            offset: b.linear * bs + leafAt + k * 8,
          });
        }
        const e = entryAt(this, b.buf, pos, end, b.linear * bs, layer);
        if (this.nameMatches(b.buf, e.nameAt, e.nameLen, want)) return e.ino;
      }
      return undefined;
    }
    // Leaf space: a single leaf, or a da btree of nodes over leafn blocks.
    const visited = new Set<number>();
    let fsb = this.leafFsb;
    for (let depth = 0; ; depth++) {
      const b = this.leafBlock(d, map, fsb, visited, layer);
      const h = daBlock(this, b.buf, d.ino, b.linear, layer);
      if (h.magic !== NODE_MAGIC) {
        if (depth > 0 && h.magic !== LEAFN_MAGIC) {
          throw fsCorrupt('da node points to a single-leaf block', {
            file: this.file,
            layer,
            offset: b.linear * bs,
          });
        }
        return this.searchLeaves(d, map, b, h, hash, want, visited, layer);
      }
      if (depth >= DA_NODE_MAXDEPTH - 1) {
        throw fsCorrupt('da btree is deeper than allowed', { file: this.file, layer, offset: b.linear * bs });
      }
      let k = firstAtOrAbove(b.buf, h.entriesAt, h.count, hash);
      if (k === h.count) k = h.count - 1;
      fsb = b.buf.readUInt32BE(h.entriesAt + k * 8 + 4);
    }
  }

  /** A leaf-space block, refusing blocks outside the leaf space and blocks seen before in this lookup. */
  private leafBlock(d: XfsInode, map: ExtentMap, fsb: number, visited: Set<number>, layer: string): DirBlock {
    if (fsb < this.leafFsb || fsb >= this.freeFsb || fsb % this.fpd !== 0) {
      throw fsCorrupt(`directory leaf pointer ${fsb} is outside the leaf space`, {
        file: this.file,
        layer,
        offset: d.offset,
      });
    }
    if (visited.has(fsb)) {
      throw fsCorrupt(`directory leaf block ${fsb} is reached twice (loop)`, {
        file: this.file,
        layer,
        offset: d.offset,
      });
    }
    visited.add(fsb);
    const b = this.dirBlock(d, map, fsb, 'leaf');
    if (b === undefined) {
      throw fsCorrupt(`directory leaf block ${fsb} is not mapped`, {
        file: this.file,
        layer,
        offset: d.offset,
      });
    }
    return b;
  }

  /** Searches a leaf (and, for hash runs reaching its end, its right siblings) for `want`. */
  private searchLeaves(
    d: XfsInode,
    map: ExtentMap,
    first: DirBlock,
    firstHdr: { count: number; entriesAt: number; forw: number; magic: number },
    hash: number,
    want: Buffer,
    visited: Set<number>,
    layer: string,
  ): number | undefined {
    let b = first;
    let h = firstHdr;
    for (let hop = 0; ; hop++) {
      let k = firstAtOrAbove(b.buf, h.entriesAt, h.count, hash);
      for (; k < h.count; k++) {
        if (b.buf.readUInt32BE(h.entriesAt + k * 8) !== hash) return undefined;
        const addr = b.buf.readUInt32BE(h.entriesAt + k * 8 + 4);
        if (addr === 0) continue;
        const ino = this.entryByAddress(d, map, addr, want, layer);
        if (ino !== undefined) return ino;
      }
      // The run of equal hashes reached the end of this leaf: it may go on in the next one.
      if (h.magic !== LEAFN_MAGIC || h.forw === 0 || hop >= MAX_LEAF_HOPS) return undefined;
      b = this.leafBlock(d, map, h.forw, visited, layer);
      const next = daBlock(this, b.buf, d.ino, b.linear, layer);
      if (next.magic !== LEAFN_MAGIC) {
        throw fsCorrupt('leaf sibling is not a leaf', {
          file: this.file,
          layer,
          offset: b.linear * this.sb.blockSize,
        });
      }
      h = next;
    }
  }

  /** The inode of the entry at data-space address `addr` (in 8-byte units) when its name is `want`. */
  private entryByAddress(
    d: XfsInode,
    map: ExtentMap,
    addr: number,
    want: Buffer,
    layer: string,
  ): number | undefined {
    const byte = addr * 8;
    const db = Math.floor(byte / this.sb.dirBlkSize);
    const pos = byte - db * this.sb.dirBlkSize;
    const b = this.dirBlock(d, map, db * this.fpd, 'data');
    if (b === undefined) {
      throw fsCorrupt(`leaf entry points to unmapped directory block ${db}`, {
        file: this.file,
        layer,
        offset: d.offset,
      });
    }
    const { start, end } = b;
    const base = b.linear * this.sb.blockSize;
    if (pos < start || pos >= end) {
      throw fsCorrupt(`leaf entry points to offset ${pos}, outside the entries`, {
        file: this.file,
        layer,
        offset: base,
      });
    }
    const e = entryAt(this, b.buf, pos, end, base, layer);
    return this.nameMatches(b.buf, e.nameAt, e.nameLen, want) ? e.ino : undefined;
  }
}

/** True when `dev` starts with the XFS superblock magic (`XFSB`). */
export function probeXfs(dev: BlockDevice): boolean {
  return hasXfsMagic(dev);
}

/**
 * Opens an XFS filesystem (v4 or v5) read-only. Throws E_UNSUPPORTED_FORMAT when `dev` is not XFS or uses an
 * incompatible feature this reader does not know (named in the message), E_FS_CORRUPT for a damaged superblock
 * (a bad CRC included) or root inode.
 *
 * @example
 * const fs = openXfs(partition.device);
 * const vfs = new Vfs(fs);
 * const release = vfs.tryReadFile('/etc/redhat-release');
 */
export function openXfs(dev: BlockDevice): FileSystem {
  const sb = readSuperblock(dev);
  const fs = new XfsFileSystem(dev, sb);
  const root = fs.stat(sb.rootIno);
  if (root.type !== 'dir') {
    throw fsCorrupt(`root inode is a ${root.type}, not a directory`, {
      file: dev.name,
      layer: `xfs inode ${sb.rootIno}`,
    });
  }
  return fs;
}
