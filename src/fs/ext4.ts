/**
 * Read-only ext2/ext3/ext4 reader behind the `FileSystem` interface.
 *
 * Covers: block sizes 1 KiB..64 KiB, 32- and 64-bit group descriptors, meta_bg, flex_bg, sparse_super(2),
 * bigalloc; inodes of any size with the extra fields; extent trees and classic block maps; linear, htree (with
 * hashed lookup) and inline directories; inline data files; fast, slow and inline symlinks. Encrypted files,
 * directories and links are refused with E_ENCRYPTED. The journal is not replayed: the image is read as it lies.
 *
 * Every structure is treated as hostile: fields are bounds-checked against the block, the filesystem size and the
 * device, loops are bounded, and all metadata caches are small LRUs.
 */
import type { BlockDevice } from '../disk/types.js';
import { HyperwardError, fsCorrupt, isHyperwardError } from '../errors.js';
import { Lru } from '../lru.js';
import { direntType, dxLookup, walkDirents, type DirentVisitor } from './ext4/dir.js';
import { mapBlockMap } from './ext4/blockmap.js';
import { mapExtent, parseExtentNode, type ExtentCache, type ExtentNode } from './ext4/extents.js';
import {
  EXT4_CASEFOLD_FL,
  EXT4_ENCRYPT_FL,
  EXT4_EXTENTS_FL,
  EXT4_INDEX_FL,
  EXT4_INLINE_DATA_FL,
  IBLOCK_SIZE,
  iblockOffset,
  inlineDataTail,
  parseInode,
  type RawInode,
} from './ext4/inode.js';
import type { MapContext, Run } from './ext4/map.js';
import {
  COMPAT_DIR_INDEX,
  INCOMPAT_FILETYPE,
  INCOMPAT_INLINE_DATA,
  INCOMPAT_LARGEDIR,
  RO_COMPAT_GDT_CSUM,
  RO_COMPAT_METADATA_CSUM,
  descriptorBlock,
  hasExtMagic,
  readSuperblock,
  type Superblock,
} from './ext4/superblock.js';
import type { DirEntry, FileSystem, FileType, Inode } from './types.js';
import { readMappedRange } from './mapped-read.js';

const ROOT_INO = 2;
/** Directories larger than this are refused (E_LIMIT); real ones are a few MiB at most. */
const MAX_DIR_BYTES = 256 * 1024 * 1024;
/** Entries one `readdir` returns at most. */
const MAX_DIR_ENTRIES = 1_000_000;
/** Longest file name ext2/3/4 can store. */
const MAX_NAME = 255;
/** Contiguous data is read in pieces of at most this size. */
/** Directory blocks are fetched this many bytes at a time when scanning. */
const DIR_READ_CHUNK = 64 * 1024;
const BG_INODE_UNINIT = 0x1;
const FAST_SYMLINK_MAX = IBLOCK_SIZE;

const META_CACHE_BYTES = 8 * 1024 * 1024;
const ITABLE_CACHE_BYTES = 4 * 1024 * 1024;
const INODE_CACHE_BYTES = 4 * 1024 * 1024;
const GROUP_CACHE_ENTRIES = 4096;

interface GroupInfo {
  inodeTable: number;
  inodeUninit: boolean;
}

interface CachedInode extends RawInode {
  extentRoot?: ExtentNode;
}

const clamp = (v: number, lo: number, hi: number): number => Math.max(lo, Math.min(hi, v));

class Ext4FileSystem implements FileSystem, MapContext {
  readonly type: string;
  readonly label?: string;
  readonly uuid: string;
  readonly rootIno = ROOT_INO;
  readonly file: string;

  private readonly meta: Lru<number, Buffer>;
  private readonly itable: Lru<number, Buffer>;
  private readonly inodes: Lru<number, CachedInode>;
  private readonly groups = new Lru<number, GroupInfo>(GROUP_CACHE_ENTRIES);
  private readonly extents: ExtentCache;
  private readonly hasFiletype: boolean;
  private readonly hasInline: boolean;
  private readonly largeDir: boolean;
  private readonly csumGroups: boolean;
  private readonly dirIndex: boolean;

  constructor(
    private readonly dev: BlockDevice,
    readonly sb: Superblock,
  ) {
    this.type = sb.type;
    if (sb.label !== '') this.label = sb.label;
    this.uuid = sb.uuid;
    this.file = dev.name;
    const bs = sb.blockSize;
    this.meta = new Lru(clamp(Math.floor(META_CACHE_BYTES / bs), 16, 1024));
    this.itable = new Lru(clamp(Math.floor(ITABLE_CACHE_BYTES / bs), 8, 1024));
    this.inodes = new Lru(clamp(Math.floor(INODE_CACHE_BYTES / (sb.inodeSize * 2)), 64, 4096));
    this.extents = new Lru(clamp(Math.floor(META_CACHE_BYTES / bs), 16, 512));
    this.hasFiletype = (sb.incompat & INCOMPAT_FILETYPE) !== 0;
    this.hasInline = (sb.incompat & INCOMPAT_INLINE_DATA) !== 0;
    this.largeDir = (sb.incompat & INCOMPAT_LARGEDIR) !== 0;
    this.csumGroups = (sb.roCompat & (RO_COMPAT_GDT_CSUM | RO_COMPAT_METADATA_CSUM)) !== 0;
    this.dirIndex = (sb.compat & COMPAT_DIR_INDEX) !== 0;
  }

  // ---- device access -------------------------------------------------------------------------------------

  /** Reads `length` bytes at byte `offset`, which must lie inside the filesystem and the device. */
  private devRead(offset: number, length: number, layer: string): Buffer {
    const fsBytes = this.sb.blocksCount * this.sb.blockSize;
    if (offset < 0 || offset + length > fsBytes) {
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

  // ---- groups and inodes ---------------------------------------------------------------------------------

  private group(g: number): GroupInfo {
    const hit = this.groups.get(g);
    if (hit !== undefined) return hit;
    const sb = this.sb;
    const layer = `ext4 group descriptor ${g}`;
    const block = descriptorBlock(sb, Math.floor(g / sb.descPerBlock));
    if (block >= sb.blocksCount) {
      throw fsCorrupt(`group descriptor block ${block} is past the end of the filesystem`, {
        file: this.file,
        layer,
        offset: block * sb.blockSize,
      });
    }
    const buf = this.metaBlock(block, layer);
    const off = (g % sb.descPerBlock) * sb.descSize;
    const hi = sb.descSize >= 64 ? buf.readUInt32LE(off + 0x28) : 0;
    const inodeTable = hi * 0x1_0000_0000 + buf.readUInt32LE(off + 0x08);
    const flags = buf.readUInt16LE(off + 0x12);
    const tableBlocks = Math.ceil((sb.inodesPerGroup * sb.inodeSize) / sb.blockSize);
    const info: GroupInfo = {
      inodeTable,
      inodeUninit: this.csumGroups && (flags & BG_INODE_UNINIT) !== 0,
    };
    if (!info.inodeUninit && (inodeTable === 0 || inodeTable + tableBlocks > sb.blocksCount)) {
      throw fsCorrupt(`inode table at block ${inodeTable} lies outside the filesystem`, {
        file: this.file,
        layer,
        offset: block * sb.blockSize + off + 0x08,
      });
    }
    this.groups.set(g, info);
    return info;
  }

  private inode(ino: number): CachedInode {
    const hit = this.inodes.get(ino);
    if (hit !== undefined) return hit;
    const sb = this.sb;
    if (!Number.isSafeInteger(ino) || ino < 1 || ino > sb.inodesCount) {
      throw fsCorrupt(`inode number ${ino} is out of range (1..${sb.inodesCount})`, {
        file: this.file,
        layer: 'ext4 inode',
      });
    }
    const g = Math.floor((ino - 1) / sb.inodesPerGroup);
    const index = (ino - 1) % sb.inodesPerGroup;
    const grp = this.group(g);
    let body: Buffer;
    let offset: number;
    if (grp.inodeUninit) {
      body = Buffer.alloc(sb.inodeSize);
      offset = grp.inodeTable * sb.blockSize + index * sb.inodeSize;
    } else {
      offset = grp.inodeTable * sb.blockSize + index * sb.inodeSize;
      const block = Math.floor(offset / sb.blockSize);
      let tb = this.itable.get(block);
      if (tb === undefined) {
        tb = this.devRead(block * sb.blockSize, sb.blockSize, `ext4 inode ${ino}`);
        this.itable.set(block, tb);
      }
      const inBlock = offset - block * sb.blockSize;
      body = Buffer.from(tb.subarray(inBlock, inBlock + sb.inodeSize));
    }
    const parsed: CachedInode = parseInode(body, ino, offset, this.largeDir, this.file);
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

  // ---- data mapping --------------------------------------------------------------------------------------

  private isInline(i: RawInode): boolean {
    if ((i.flags & EXT4_INLINE_DATA_FL) === 0) return false;
    if (!this.hasInline) {
      throw fsCorrupt('inode has the inline-data flag but the filesystem lacks the inline_data feature', {
        file: this.file,
        layer: `ext4 inode ${i.ino}`,
        offset: i.offset + 0x20,
      });
    }
    return true;
  }

  private map(i: CachedInode, lblk: number): Run {
    if ((i.flags & EXT4_EXTENTS_FL) !== 0) {
      const layer = `ext4 extent tree (inode ${i.ino})`;
      if (i.extentRoot === undefined) {
        i.extentRoot = parseExtentNode(this, i.iblock, 0, IBLOCK_SIZE, iblockOffset(i), layer);
      }
      return mapExtent(this, this.extents, i.extentRoot, lblk, layer);
    }
    return mapBlockMap(this, i.iblock, iblockOffset(i), lblk, `ext4 block map (inode ${i.ino})`);
  }

  /** The inline bytes of an inline-data inode: `i_block` followed by the `system.data` attribute. */
  private inlineBytes(i: RawInode): Buffer {
    return Buffer.concat([i.iblock, inlineDataTail(i, this.file)]);
  }

  /** Reads `[offset, offset+length)` of an inode's data (already clipped by the caller); holes are zeros. */
  private readData(i: CachedInode, offset: number, length: number, layer: string): Buffer {
    if (length === 0) return Buffer.alloc(0);
    if (this.isInline(i)) {
      const data = this.inlineBytes(i);
      if (offset + length > data.length) {
        throw fsCorrupt(`inline data holds ${data.length} bytes but ${offset + length} are needed`, {
          file: this.file,
          layer: `ext4 inline data (inode ${i.ino})`,
          offset: i.offset,
        });
      }
      return Buffer.from(data.subarray(offset, offset + length));
    }
    return readMappedRange(
      offset,
      length,
      this.sb.blockSize,
      (lblk) => {
        const run = this.map(i, lblk);
        return { device: run.pblk > 0 ? run.pblk : undefined, count: run.count };
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
    this.refuseEncrypted(i, 'file');
    if (offset >= i.size) return Buffer.alloc(0);
    const n = Math.min(length, i.size - offset);
    return this.readData(i, offset, n, `ext4 data (inode ${ino})`);
  }

  private refuseEncrypted(i: RawInode, what: string): void {
    if ((i.flags & EXT4_ENCRYPT_FL) !== 0) {
      throw new HyperwardError(
        'E_ENCRYPTED',
        `${what} inode ${i.ino} is encrypted (fscrypt); its contents cannot be read`,
        {
          file: this.file,
          layer: `ext4 inode ${i.ino}`,
          offset: i.offset + 0x20,
        },
      );
    }
  }

  readlink(ino: number): string {
    const i = this.inode(ino);
    if (i.type !== 'symlink') {
      throw new HyperwardError('E_USAGE', `inode ${ino} is not a symbolic link (${i.type})`, {
        file: this.file,
      });
    }
    this.refuseEncrypted(i, 'symlink');
    const limit = Math.max(this.sb.blockSize, 4096);
    if (i.size > limit) {
      throw fsCorrupt(`symbolic link target of ${i.size} bytes is longer than a block`, {
        file: this.file,
        layer: `ext4 inode ${ino}`,
        offset: i.offset + 0x04,
      });
    }
    let raw: Buffer;
    if (this.isInline(i)) raw = this.readData(i, 0, i.size, `ext4 inline data (inode ${ino})`);
    else if (i.size < FAST_SYMLINK_MAX) raw = i.iblock.subarray(0, i.size);
    else raw = this.readData(i, 0, i.size, `ext4 symlink (inode ${ino})`);
    const nul = raw.indexOf(0);
    return raw.toString('utf8', 0, nul < 0 ? raw.length : nul);
  }

  // ---- directories ---------------------------------------------------------------------------------------

  private dirInode(ino: number): CachedInode {
    const i = this.inode(ino);
    if (i.type !== 'dir') {
      throw new HyperwardError('E_USAGE', `inode ${ino} is not a directory (${i.type})`, { file: this.file });
    }
    this.refuseEncrypted(i, 'directory');
    return i;
  }

  private dirLayer(ino: number): string {
    return `ext4 directory (inode ${ino})`;
  }

  /** Visits the entries of a directory (inline or in blocks) until the visitor returns true. */
  private walkDir(d: CachedInode, visit: DirentVisitor): void {
    const layer = this.dirLayer(d.ino);
    const bs = this.sb.blockSize;
    if (this.isInline(d)) {
      // i_block holds the parent's inode number, then entries; the system.data attribute holds the rest.
      if (
        walkDirents(d.iblock, 4, IBLOCK_SIZE, bs, this.hasFiletype, iblockOffset(d), this.file, layer, visit)
      ) {
        return;
      }
      const tail = inlineDataTail(d, this.file);
      walkDirents(tail, 0, tail.length, bs, this.hasFiletype, d.offset, this.file, layer, visit);
      return;
    }
    if (d.size > MAX_DIR_BYTES) {
      throw new HyperwardError('E_LIMIT', `directory of ${d.size} bytes is larger than ${MAX_DIR_BYTES}`, {
        file: this.file,
        layer,
        offset: d.offset,
      });
    }
    const blocks = Math.ceil(d.size / bs);
    const chunkBlocks = Math.max(1, Math.floor(DIR_READ_CHUNK / bs));
    let lblk = 0;
    while (lblk < blocks) {
      const run = this.map(d, lblk);
      const count = Math.min(run.count, blocks - lblk);
      if (run.pblk > 0) {
        for (let k = 0; k < count; k += chunkBlocks) {
          const c = Math.min(chunkBlocks, count - k);
          const devOff = (run.pblk + k) * bs;
          const buf = this.devRead(devOff, c * bs, layer);
          for (let j = 0; j < c; j++) {
            if (walkDirents(buf, j * bs, (j + 1) * bs, bs, this.hasFiletype, devOff, this.file, layer, visit))
              return;
          }
        }
      }
      lblk += count;
    }
  }

  readdir(ino: number): DirEntry[] {
    const d = this.dirInode(ino);
    const out: DirEntry[] = [];
    const layer = this.dirLayer(ino);
    this.walkDir(d, (buf, s, len, child, t, at) => {
      if ((len === 1 && buf[s] === 0x2e) || (len === 2 && buf[s] === 0x2e && buf[s + 1] === 0x2e))
        return false;
      const nameBytes = buf.subarray(s, s + len);
      if (nameBytes.includes(0x2f) || nameBytes.includes(0)) {
        throw fsCorrupt('directory entry name contains "/" or NUL', { file: this.file, layer, offset: at });
      }
      if (out.length >= MAX_DIR_ENTRIES) {
        throw new HyperwardError('E_LIMIT', `directory has more than ${MAX_DIR_ENTRIES} entries`, {
          file: this.file,
          layer,
          offset: at,
        });
      }
      out.push({ name: nameBytes.toString('utf8'), ino: child, type: this.entryType(child, t) });
      return false;
    });
    return out;
  }

  private entryType(ino: number, t: number): FileType {
    const fromEntry = this.hasFiletype ? direntType(t) : undefined;
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
    if (want.length === 0 || want.length > MAX_NAME || want.includes(0x2f) || want.includes(0))
      return undefined;
    let found: number | undefined;
    const match = (buf: Buffer, s: number, len: number, child: number): boolean => {
      if (len === want.length && buf.compare(want, 0, len, s, s + len) === 0) {
        found = child;
        return true;
      }
      return false;
    };
    if (this.isInline(d)) {
      if (name === '..') return d.iblock.readUInt32LE(0);
      this.walkDir(d, match);
      return found;
    }
    if (this.dirIndex && (d.flags & EXT4_INDEX_FL) !== 0 && (d.flags & EXT4_CASEFOLD_FL) === 0) {
      const r = this.dxLookup(d, want, match, () => found);
      if (r !== 'fallback') return r;
      found = undefined;
    }
    this.walkDir(d, match);
    return found;
  }

  private dxLookup(
    d: CachedInode,
    want: Buffer,
    match: (buf: Buffer, s: number, len: number, child: number) => boolean,
    result: () => number | undefined,
  ): number | undefined | 'fallback' {
    const bs = this.sb.blockSize;
    const layer = this.dirLayer(d.ino);
    const dirBlocks = Math.ceil(d.size / bs);
    return dxLookup({
      blockSize: bs,
      dirBlocks,
      name: want,
      seed: this.sb.hashSeed,
      hashUnsigned: this.sb.hashUnsigned,
      readBlock: (lblk) => {
        if (lblk >= dirBlocks) return undefined;
        const run = this.map(d, lblk);
        if (run.pblk === 0) return undefined;
        return { buf: this.metaBlock(run.pblk, layer), offset: run.pblk * bs };
      },
      searchLeaf: (buf, offset) => {
        walkDirents(buf, 0, bs, bs, this.hasFiletype, offset, this.file, layer, match);
        return result();
      },
    });
  }
}

/** True when `dev` carries the ext2/3/4 superblock magic (0xEF53 at byte 1080). */
export function probeExt4(dev: BlockDevice): boolean {
  return hasExtMagic(dev);
}

/**
 * Opens an ext2, ext3 or ext4 filesystem read-only. Throws E_UNSUPPORTED_FORMAT when `dev` is not one or uses an
 * incompatible feature this reader does not know (named in the message), E_FS_CORRUPT for a damaged superblock.
 *
 * @example
 * const fs = openExt4(partition.device);
 * const vfs = new Vfs(fs);
 * const osRelease = vfs.tryReadFile('/etc/os-release');
 */
export function openExt4(dev: BlockDevice): FileSystem {
  const sb = readSuperblock(dev);
  const fs = new Ext4FileSystem(dev, sb);
  // The root must be a directory; checking it now turns a wrecked inode table into an error at open.
  const root = fs.stat(ROOT_INO);
  if (root.type !== 'dir') {
    throw fsCorrupt(`root inode is a ${root.type}, not a directory`, {
      file: dev.name,
      layer: 'ext4 inode 2',
    });
  }
  return fs;
}
