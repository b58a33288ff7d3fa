/**
 * XFS inodes: where an inode number points (allocation group, block in the group, slot in the block, from the
 * superblock's agblklog/inopblog) and the inode core (v1/v2 on v4 filesystems, v3 with CRC, self-reference and
 * UUID on v5). The data fork — the literal area, or its part before the attribute fork — is handed on as bytes;
 * its format (device, local, extents, btree) is checked against the file type.
 */
import { fsCorrupt } from '../../errors.js';
import { typeFromMode, type FileType } from '../types.js';
import { agBlocksOf, readU64, type XfsContext } from './context.js';
import { hasValidCrc } from './crc.js';
import type { XfsSuperblock } from './superblock.js';

export const INODE_MAGIC = 0x494e; // 'IN'
export const FMT_DEV = 0;
export const FMT_LOCAL = 1;
export const FMT_EXTENTS = 2;
export const FMT_BTREE = 3;

const CORE_V2 = 100;
const CORE_V3 = 176;
const CRC_OFFSET = 100;
const DIFLAG_REALTIME = 0x1;
const DIFLAG2_BIGTIME = 0x8;
const DIFLAG2_NREXT64 = 0x10;
/** Seconds between the bigtime epoch (the most negative 32-bit time) and the Unix epoch. */
const BIGTIME_EPOCH_OFFSET = 2n ** 31n;
const EXTENT_RECORD = 16;

export interface XfsInode {
  ino: number;
  /** Device byte offset of the inode. */
  offset: number;
  mode: number;
  type: FileType;
  /** Data fork format: FMT_DEV, FMT_LOCAL, FMT_EXTENTS or FMT_BTREE. */
  format: number;
  nlink: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  /** Data fork extent count from the core. */
  nextents: number;
  /** The data lives on the realtime device. */
  realtime: boolean;
  /** Bytes of the data fork. */
  fork: Buffer;
  /** Device byte offset of the data fork. */
  forkOffset: number;
}

/** Device byte offset of inode `ino`, or undefined when the number points outside the filesystem. */
export function inodeOffset(sb: XfsSuperblock, ino: number): number | undefined {
  if (!Number.isSafeInteger(ino) || ino < 1) return undefined;
  const agShift = 2 ** (sb.agBlkLog + sb.inopbLog);
  const agno = Math.floor(ino / agShift);
  const agino = ino - agno * agShift;
  const perBlock = 2 ** sb.inopbLog;
  const agbno = Math.floor(agino / perBlock);
  const slot = agino - agbno * perBlock;
  if (agno >= sb.agCount || agbno >= agBlocksOf(sb, agno)) return undefined;
  return (agno * sb.agBlocks + agbno) * sb.blockSize + slot * sb.inodeSize;
}

function formatAllowed(type: FileType, format: number): boolean {
  switch (type) {
    case 'file':
    case 'dir':
    case 'symlink':
      return format === FMT_LOCAL || format === FMT_EXTENTS || format === FMT_BTREE;
    case 'chardev':
    case 'blockdev':
    case 'fifo':
    case 'socket':
      return format === FMT_DEV;
    default:
      return false;
  }
}

/** Parses and validates the inode `ino` held in `buf` (exactly `sb.inodeSize` bytes read at `offset`). */
export function parseInode(ctx: XfsContext, buf: Buffer, ino: number, offset: number): XfsInode {
  const sb = ctx.sb;
  const layer = `xfs inode ${ino}`;
  const bad = (field: number, message: string): Error =>
    fsCorrupt(message, { file: ctx.file, layer, offset: offset + field });
  if (buf.readUInt16BE(0) !== INODE_MAGIC) throw bad(0, 'bad inode magic');
  const version = buf[4]!;
  if (sb.version === 5 ? version !== 3 : version !== 1 && version !== 2) {
    throw bad(4, `inode version ${version} on a v${sb.version} filesystem`);
  }
  if (version === 3) {
    if (!hasValidCrc(buf, 0, sb.inodeSize, CRC_OFFSET)) throw bad(CRC_OFFSET, 'inode CRC32C mismatch');
    if (readU64(buf, 152) !== ino) throw bad(152, `inode records number ${readU64(buf, 152)}, not ${ino}`);
    if (!buf.subarray(160, 176).equals(sb.metaUuid)) throw bad(160, 'inode UUID is not the filesystem UUID');
  }
  const mode = buf.readUInt16BE(2);
  if (mode === 0) throw bad(2, 'inode is not in use (mode 0)');
  const type = typeFromMode(mode);
  const format = buf[5]!;
  if (!formatAllowed(type, format)) throw bad(5, `data fork format ${format} is invalid for a ${type} inode`);

  const core = version === 3 ? CORE_V3 : CORE_V2;
  const literal = sb.inodeSize - core;
  const forkoff = buf[82]!;
  if (forkoff * 8 > literal) throw bad(82, `attribute fork offset ${forkoff * 8} is past the literal area`);
  const forkSize = forkoff === 0 ? literal : forkoff * 8;

  const sizeHi = buf.readUInt32BE(56);
  const size = sizeHi * 0x1_0000_0000 + buf.readUInt32BE(60);
  if (sizeHi >= 0x20_0000) throw bad(56, 'file size is negative or too large');

  const flags = buf.readUInt16BE(90);
  // The flags2 bits this reader uses live in the low word of the 64-bit field.
  const lowFlags2 = version === 3 ? buf.readUInt32BE(124) : 0;
  const nextents =
    sb.nrext64 && (lowFlags2 & DIFLAG2_NREXT64) !== 0 ? readU64(buf, 24) : buf.readUInt32BE(76);
  if (format === FMT_EXTENTS && nextents * EXTENT_RECORD > forkSize) {
    throw bad(76, `${nextents} extents do not fit the ${forkSize}-byte data fork`);
  }
  if (format === FMT_LOCAL && size > forkSize) {
    throw bad(56, `local data of ${size} bytes does not fit the ${forkSize}-byte data fork`);
  }

  let mtime: number;
  if ((lowFlags2 & DIFLAG2_BIGTIME) !== 0) {
    mtime = Number(buf.readBigUInt64BE(40) / 1_000_000_000n - BIGTIME_EPOCH_OFFSET);
  } else {
    mtime = buf.readInt32BE(40);
  }
  return {
    ino,
    offset,
    mode,
    type,
    format,
    nlink: version === 1 ? buf.readUInt16BE(6) : buf.readUInt32BE(16),
    uid: buf.readUInt32BE(8),
    gid: buf.readUInt32BE(12),
    size,
    mtime,
    nextents,
    realtime: (flags & DIFLAG_REALTIME) !== 0,
    fork: Buffer.from(buf.subarray(core, core + forkSize)),
    forkOffset: offset + core,
  };
}
