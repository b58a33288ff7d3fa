/**
 * On-disk inodes: the 128-byte base, the extra fields behind `i_extra_isize`, and the extended attributes stored in
 * the inode body (only `system.data`, the continuation of inline data, is needed by a reader).
 */
import { fsCorrupt } from '../../errors.js';
import { typeFromMode, type FileType } from '../types.js';

export const EXT4_INDEX_FL = 0x1000;
export const EXT4_ENCRYPT_FL = 0x800;
export const EXT4_EXTENTS_FL = 0x80000;
export const EXT4_INLINE_DATA_FL = 0x10000000;
export const EXT4_CASEFOLD_FL = 0x40000000;

const GOOD_OLD_INODE_SIZE = 128;
const IBLOCK_OFFSET = 0x28;
export const IBLOCK_SIZE = 60;
const XATTR_MAGIC = 0xea020000;
const XATTR_INDEX_SYSTEM = 7;
const XATTR_ENTRY = 16;
const TWO32 = 0x1_0000_0000;

export interface RawInode {
  ino: number;
  /** Byte offset of the inode on the device. */
  offset: number;
  mode: number;
  type: FileType;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  nlink: number;
  flags: number;
  /** A copy of the 60 bytes of `i_block`. */
  iblock: Buffer;
  /** The whole on-disk inode (a copy), for in-inode extended attributes. */
  body: Buffer;
  extraIsize: number;
}

/**
 * Parses inode `ino` from `body` (exactly `inode_size` bytes, already copied). `largeDir`: directories use the
 * high 32 bits of the size too. Sizes past 2^53 are reported as corruption (no ext4 file can be that large).
 */
export function parseInode(
  body: Buffer,
  ino: number,
  offset: number,
  largeDir: boolean,
  file: string,
): RawInode {
  const mode = body.readUInt16LE(0x00);
  const type = typeFromMode(mode);
  let size = body.readUInt32LE(0x04);
  if (type === 'file' || (type === 'dir' && largeDir)) {
    const high = body.readUInt32LE(0x6c);
    if (high >= 0x200000) {
      throw fsCorrupt(`inode ${ino} claims a size of more than 2^53 bytes`, {
        file,
        layer: `ext4 inode ${ino}`,
        offset: offset + 0x6c,
      });
    }
    size += high * TWO32;
  }
  let extraIsize = 0;
  if (body.length > GOOD_OLD_INODE_SIZE) {
    const e = body.readUInt16LE(0x80);
    if (GOOD_OLD_INODE_SIZE + e <= body.length && e % 4 === 0) extraIsize = e;
  }
  let mtime = body.readInt32LE(0x10);
  if (extraIsize >= 12) mtime += (body.readUInt32LE(0x88) & 3) * TWO32;
  return {
    ino,
    offset,
    mode,
    type,
    uid: body.readUInt16LE(0x02) + body.readUInt16LE(0x78) * 0x10000,
    gid: body.readUInt16LE(0x18) + body.readUInt16LE(0x7a) * 0x10000,
    size,
    mtime,
    nlink: body.readUInt16LE(0x1a),
    flags: body.readUInt32LE(0x20),
    iblock: Buffer.from(body.subarray(IBLOCK_OFFSET, IBLOCK_OFFSET + IBLOCK_SIZE)),
    body,
    extraIsize,
  };
}

/** Byte offset of `i_block` on the device. */
export function iblockOffset(inode: RawInode): number {
  return inode.offset + IBLOCK_OFFSET;
}

/**
 * The value of the in-inode extended attribute `system.data` (the part of inline data that does not fit in
 * `i_block`), or an empty buffer when there is none. Throws E_FS_CORRUPT when the attribute area is malformed.
 */
export function inlineDataTail(inode: RawInode, file: string): Buffer {
  const layer = `ext4 inline data (inode ${inode.ino})`;
  const body = inode.body;
  const start = GOOD_OLD_INODE_SIZE + inode.extraIsize;
  if (body.length <= GOOD_OLD_INODE_SIZE || start + 4 > body.length) return Buffer.alloc(0);
  if (body.readUInt32LE(start) !== XATTR_MAGIC) return Buffer.alloc(0);
  const first = start + 4;
  const end = body.length;
  let off = first;
  // Each entry takes at least 16 bytes, so the loop ends within (end - first) / 16 steps.
  while (off + 4 <= end && body.readUInt32LE(off) !== 0) {
    if (off + XATTR_ENTRY > end) {
      throw fsCorrupt('extended attribute entry runs past the inode', {
        file,
        layer,
        offset: inode.offset + off,
      });
    }
    const nameLen = body[off]!;
    const nameIndex = body[off + 1]!;
    const valueOffs = body.readUInt16LE(off + 2);
    const valueInum = body.readUInt32LE(off + 4);
    const valueSize = body.readUInt32LE(off + 8);
    if (off + XATTR_ENTRY + nameLen > end) {
      throw fsCorrupt('extended attribute name runs past the inode', {
        file,
        layer,
        offset: inode.offset + off,
      });
    }
    const name = body.toString('latin1', off + XATTR_ENTRY, off + XATTR_ENTRY + nameLen);
    if (nameIndex === XATTR_INDEX_SYSTEM && name === 'data') {
      if (valueInum !== 0) {
        throw fsCorrupt('inline data stored in an extended-attribute inode', {
          file,
          layer,
          offset: inode.offset + off,
        });
      }
      if (valueSize === 0) return Buffer.alloc(0);
      const vs = first + valueOffs;
      if (vs + valueSize > end) {
        throw fsCorrupt('inline data value runs past the inode', { file, layer, offset: inode.offset + off });
      }
      return body.subarray(vs, vs + valueSize);
    }
    off += (XATTR_ENTRY + nameLen + 3) & ~3;
  }
  return Buffer.alloc(0);
}
