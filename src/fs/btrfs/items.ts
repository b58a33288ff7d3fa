/**
 * Parsers of the btrfs items the reader needs: inode items, directory entries (DIR_ITEM / DIR_INDEX), inode
 * refs, file extents, root items and root refs. Each checks that the item is long enough for what it claims
 * and reports the device offset of a bad field.
 */
import { HyperwardError, fsCorrupt } from '../../errors.js';
import type { FileType } from '../types.js';
import { KEY_SIZE, readKey, safe, type Key } from './key.js';
import type { Item } from './tree.js';

/** Longest name a directory entry may have (BTRFS_NAME_LEN). */
export const MAX_NAME = 255;
export const INODE_ITEM_SIZE = 160;

export interface InodeItem {
  size: number;
  nbytes: number;
  nlink: number;
  uid: number;
  gid: number;
  mode: number;
  flags: bigint;
  /** Modification time, seconds since the epoch (signed). */
  mtime: number;
}

function short(it: Item, what: string, need: number, file: string, layer: string): HyperwardError {
  return fsCorrupt(`${what} of ${it.data.length} bytes is shorter than ${need}`, {
    file,
    layer,
    offset: it.offset,
  });
}

/** Parses a btrfs_inode_item at `d[off..]` (also embedded at the start of a root item). */
export function parseInodeItem(it: Item, file: string, layer: string): InodeItem {
  const d = it.data;
  if (d.length < INODE_ITEM_SIZE) throw short(it, 'inode item', INODE_ITEM_SIZE, file, layer);
  const mtime = d.readBigInt64LE(136);
  return {
    size: safe(d.readBigUInt64LE(16), 'inode size', file, layer, it.offset + 16),
    nbytes: safe(d.readBigUInt64LE(24), 'inode byte count', file, layer, it.offset + 24),
    nlink: d.readUInt32LE(40),
    uid: d.readUInt32LE(44),
    gid: d.readUInt32LE(48),
    mode: d.readUInt32LE(52),
    flags: d.readBigUInt64LE(64),
    mtime: safe(mtime, 'modification time', file, layer, it.offset + 136),
  };
}

export interface DirEntryRaw {
  /** Where it points: (inode, INODE_ITEM, 0) or, for a subvolume, (tree id, ROOT_ITEM, ...). */
  location: Key;
  /** BTRFS_FT_* */
  ftype: number;
  name: Buffer;
}

const FT_XATTR = 8;

/** The file type of a BTRFS_FT_* value (the high bits, used by newer kernels for flags, are masked off). */
export function fileTypeOfFt(ft: number): FileType {
  switch (ft & 0x0f) {
    case 1:
      return 'file';
    case 2:
      return 'dir';
    case 3:
      return 'chardev';
    case 4:
      return 'blockdev';
    case 5:
      return 'fifo';
    case 6:
      return 'socket';
    case 7:
      return 'symlink';
    default:
      return 'unknown';
  }
}

/**
 * The entries packed in one DIR_ITEM or DIR_INDEX item (a DIR_ITEM holds several when their names' hashes
 * collide; a DIR_INDEX holds one). xattr entries are skipped.
 */
export function parseDirItems(it: Item, file: string, layer: string): DirEntryRaw[] {
  const d = it.data;
  const out: DirEntryRaw[] = [];
  let p = 0;
  while (p < d.length) {
    if (p + 30 > d.length)
      throw fsCorrupt('directory item ends inside an entry header', { file, layer, offset: it.offset + p });
    const location = readKey(d, p);
    const dataLen = d.readUInt16LE(p + KEY_SIZE + 8);
    const nameLen = d.readUInt16LE(p + KEY_SIZE + 10);
    const ftype = d[p + KEY_SIZE + 12]!;
    const nameAt = p + 30;
    if (nameLen === 0 || nameLen > MAX_NAME) {
      throw fsCorrupt(`directory entry name of ${nameLen} bytes`, {
        file,
        layer,
        offset: it.offset + p + 27,
      });
    }
    if (nameAt + nameLen + dataLen > d.length) {
      throw fsCorrupt('directory entry runs past its item', { file, layer, offset: it.offset + p });
    }
    if ((ftype & 0x0f) !== FT_XATTR)
      out.push({ location, ftype, name: d.subarray(nameAt, nameAt + nameLen) });
    p = nameAt + nameLen + dataLen;
  }
  return out;
}

export interface InodeRef {
  /** Directory that holds the name (the key offset for INODE_REF). */
  parent: bigint;
  name: Buffer;
}

/** The first name of an INODE_REF item (key offset = parent directory). */
export function parseInodeRef(it: Item, file: string, layer: string): InodeRef {
  const d = it.data;
  if (d.length < 10) throw short(it, 'inode ref', 10, file, layer);
  const n = d.readUInt16LE(8);
  if (n === 0 || n > MAX_NAME || 10 + n > d.length) {
    throw fsCorrupt(`inode ref name of ${n} bytes`, { file, layer, offset: it.offset + 8 });
  }
  return { parent: it.key.offset, name: d.subarray(10, 10 + n) };
}

/** The first name of an INODE_EXTREF item (parent inside the item). */
export function parseInodeExtref(it: Item, file: string, layer: string): InodeRef {
  const d = it.data;
  if (d.length < 18) throw short(it, 'inode extref', 18, file, layer);
  const n = d.readUInt16LE(16);
  if (n === 0 || n > MAX_NAME || 18 + n > d.length) {
    throw fsCorrupt(`inode extref name of ${n} bytes`, { file, layer, offset: it.offset + 16 });
  }
  return { parent: d.readBigUInt64LE(0), name: d.subarray(18, 18 + n) };
}

export const EXTENT_INLINE = 0;
export const EXTENT_REG = 1;
export const EXTENT_PREALLOC = 2;
export const COMPRESS_NONE = 0;
export const COMPRESS_ZLIB = 1;
export const COMPRESS_LZO = 2;
export const COMPRESS_ZSTD = 3;
/** Offset of inline data in a file extent item. */
export const INLINE_DATA_START = 21;
const REG_EXTENT_SIZE = 53;

export interface FileExtent {
  /** File offset where the extent starts (the key offset). */
  fileOffset: number;
  type: number;
  compression: number;
  /** Bytes of file the extent covers. */
  length: number;
  /** Uncompressed size (inline: of the data; regular: of the whole disk extent). */
  ramBytes: number;
  /** Inline: the stored bytes (compressed or not). */
  inline?: Buffer;
  /** Regular/prealloc: logical address and size of the disk extent (0 = hole), and the offset into it. */
  diskBytenr: number;
  diskNumBytes: number;
  extentOffset: number;
  /** Device offset of the item, for errors. */
  at: number;
}

/** Parses an EXTENT_DATA item. Encrypted or otherwise encoded extents are refused with E_UNSUPPORTED_FORMAT. */
export function parseFileExtent(it: Item, file: string, layer: string): FileExtent {
  const d = it.data;
  if (d.length < INLINE_DATA_START) throw short(it, 'file extent', INLINE_DATA_START, file, layer);
  const fileOffset = safe(it.key.offset, 'file extent offset', file, layer, it.offset);
  const ramBytes = safe(d.readBigUInt64LE(8), 'extent size', file, layer, it.offset + 8);
  const compression = d[16]!;
  const encryption = d[17]!;
  const otherEncoding = d.readUInt16LE(18);
  const type = d[20]!;
  if (encryption !== 0 || otherEncoding !== 0) {
    throw new HyperwardError(
      'E_UNSUPPORTED_FORMAT',
      `file extent is encrypted or encoded (encryption ${encryption}, encoding ${otherEncoding})`,
      { file, layer, offset: it.offset + 17 },
    );
  }
  if (compression > COMPRESS_ZSTD) {
    throw fsCorrupt(`unknown compression type ${compression}`, { file, layer, offset: it.offset + 16 });
  }
  if (type === EXTENT_INLINE) {
    const inline = d.subarray(INLINE_DATA_START);
    if (compression === COMPRESS_NONE && ramBytes !== inline.length) {
      throw fsCorrupt(`inline extent of ${inline.length} bytes says it holds ${ramBytes}`, {
        file,
        layer,
        offset: it.offset + 8,
      });
    }
    return {
      fileOffset,
      type,
      compression,
      length: ramBytes,
      ramBytes,
      inline,
      diskBytenr: 0,
      diskNumBytes: 0,
      extentOffset: 0,
      at: it.offset,
    };
  }
  if (type !== EXTENT_REG && type !== EXTENT_PREALLOC) {
    throw fsCorrupt(`unknown file extent type ${type}`, { file, layer, offset: it.offset + 20 });
  }
  if (d.length < REG_EXTENT_SIZE) throw short(it, 'regular file extent', REG_EXTENT_SIZE, file, layer);
  const diskBytenr = safe(d.readBigUInt64LE(21), 'extent address', file, layer, it.offset + 21);
  const diskNumBytes = safe(d.readBigUInt64LE(29), 'extent disk size', file, layer, it.offset + 29);
  const extentOffset = safe(d.readBigUInt64LE(37), 'offset into extent', file, layer, it.offset + 37);
  const length = safe(d.readBigUInt64LE(45), 'extent length', file, layer, it.offset + 45);
  return {
    fileOffset,
    type,
    compression,
    length,
    ramBytes,
    diskBytenr,
    diskNumBytes,
    extentOffset,
    at: it.offset,
  };
}

export interface RootItem {
  logical: number;
  level: number;
  generation: number;
  rootDirid: bigint;
  flags: bigint;
  /** Subvolume UUID (v2 root items), all zeros otherwise. */
  uuid?: Buffer;
}

/** The part of a btrfs_root_item that locates the tree (the legacy 239-byte form or longer). */
export function parseRootItem(it: Item, file: string, layer: string): RootItem {
  const d = it.data;
  if (d.length < 239) throw short(it, 'root item', 239, file, layer);
  const r: RootItem = {
    generation: safe(d.readBigUInt64LE(160), 'root generation', file, layer, it.offset + 160),
    rootDirid: d.readBigUInt64LE(168),
    logical: safe(d.readBigUInt64LE(176), 'root address', file, layer, it.offset + 176),
    flags: d.readBigUInt64LE(208),
    level: d[238]!,
  };
  if (d.length >= 247 + 16) r.uuid = d.subarray(247, 263);
  return r;
}

export interface RootRef {
  /** Directory (in the parent tree) that holds the subvolume's entry. */
  dirid: bigint;
  name: Buffer;
}

/** Parses a ROOT_REF / ROOT_BACKREF item. */
export function parseRootRef(it: Item, file: string, layer: string): RootRef {
  const d = it.data;
  if (d.length < 18) throw short(it, 'root ref', 18, file, layer);
  const n = d.readUInt16LE(16);
  if (n === 0 || n > MAX_NAME || 18 + n > d.length) {
    throw fsCorrupt(`root ref name of ${n} bytes`, { file, layer, offset: it.offset + 16 });
  }
  return { dirid: d.readBigUInt64LE(0), name: d.subarray(18, 18 + n) };
}
