/**
 * The XFS superblock (sector 0 of allocation group 0): geometry, version, feature bits and the identity that v5
 * metadata blocks carry. Every field a reader relies on is checked against the format's limits before use; a v5
 * superblock's CRC32C is verified first, and incompatible features this reader does not know are refused by
 * name. All multi-byte fields are big-endian; CRCs are stored little-endian.
 */
import type { BlockDevice } from '../../disk/types.js';
import { HyperwardError, fsCorrupt } from '../../errors.js';
import { readU64 } from './context.js';
import { hasValidCrc } from './crc.js';

export const XFS_MAGIC = 0x58465342; // 'XFSB'
const SB_CRC_OFFSET = 224;

const VERSION_NUMBITS = 0x000f;
const VERSION_NLINKBIT = 0x0020;
const VERSION_DIRV2BIT = 0x2000;
const VERSION_BORGBIT = 0x4000; // ASCII case-insensitive directories
const VERSION_MOREBITSBIT = 0x8000;

const FEATURES2_FTYPE = 0x200;

export const INCOMPAT_FTYPE = 0x1;
export const INCOMPAT_SPINODES = 0x2;
export const INCOMPAT_META_UUID = 0x4;
export const INCOMPAT_BIGTIME = 0x8;
export const INCOMPAT_NEEDSREPAIR = 0x10;
export const INCOMPAT_NREXT64 = 0x20;
export const INCOMPAT_EXCHRANGE = 0x40;
export const INCOMPAT_PARENT = 0x80;

/** Incompatible v5 features that do not change how this reader finds inodes, extents and directory entries. */
const INCOMPAT_SUPPORTED =
  INCOMPAT_FTYPE |
  INCOMPAT_SPINODES |
  INCOMPAT_META_UUID |
  INCOMPAT_BIGTIME |
  INCOMPAT_NEEDSREPAIR |
  INCOMPAT_NREXT64 |
  INCOMPAT_EXCHRANGE |
  INCOMPAT_PARENT;

const INCOMPAT_NAMES: ReadonlyMap<number, string> = new Map([
  [0x100, 'metadir'],
  [0x200, 'zoned'],
]);

export interface XfsSuperblock {
  /** 4 (no metadata CRCs) or 5 (CRC-enabled metadata, v3 inodes). */
  version: 4 | 5;
  blockSize: number;
  blockLog: number;
  sectSize: number;
  inodeSize: number;
  inopbLog: number;
  agBlocks: number;
  agBlkLog: number;
  agCount: number;
  /** Blocks in the data device. */
  dBlocks: number;
  rootIno: number;
  /** Directory block size in bytes (`blockSize << dirblklog`). */
  dirBlkSize: number;
  /** Directory entries carry a file type byte. */
  ftype: boolean;
  /** v4 inodes may be version 2 (32-bit link counts). */
  nlinkV2: boolean;
  /** Directory names compare ASCII case-insensitively (and hash that way). */
  asciiCi: boolean;
  /** Large extent counters (`nrext64`): inodes flagged with it keep a 64-bit data extent count. */
  nrext64: boolean;
  /** Blocks in the realtime device (its data is not on this device). */
  rBlocks: number;
  incompat: number;
  uuid: string;
  /** The UUID stamped in v5 metadata blocks (`sb_meta_uuid` with the meta_uuid feature, else `sb_uuid`). */
  metaUuid: Buffer;
  label: string;
}

function formatUuid(b: Buffer): string {
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

const isPow2 = (n: number): boolean => n > 0 && (n & (n - 1)) === 0;
const log2 = (n: number): number => 31 - Math.clz32(n);

/** Number of bits needed to hold values below `n` (`xfs_highbit32(n - 1) + 1`). */
function bitsFor(n: number): number {
  return n <= 1 ? 0 : 32 - Math.clz32(n - 1);
}

/** True when the device starts with the XFS superblock magic. */
export function hasXfsMagic(dev: BlockDevice): boolean {
  if (dev.size < 512) return false;
  return dev.read(0, 4).readUInt32BE(0) === XFS_MAGIC;
}

/** Reads and validates the primary superblock of `dev`. */
export function readSuperblock(dev: BlockDevice): XfsSuperblock {
  const file = dev.name;
  const layer = 'xfs superblock';
  if (dev.size < 512) {
    throw new HyperwardError('E_UNSUPPORTED_FORMAT', 'device too small for an XFS superblock', {
      file,
      layer,
      offset: 0,
    });
  }
  const head = dev.read(0, 512);
  if (head.readUInt32BE(0) !== XFS_MAGIC) {
    throw new HyperwardError('E_UNSUPPORTED_FORMAT', 'no XFS superblock magic (XFSB)', {
      file,
      layer,
      offset: 0,
    });
  }
  const bad = (field: number, message: string): HyperwardError =>
    fsCorrupt(message, { file, layer, offset: field });

  const versionnum = head.readUInt16BE(100);
  const version = versionnum & VERSION_NUMBITS;
  if (version !== 4 && version !== 5) {
    throw new HyperwardError(
      'E_UNSUPPORTED_FORMAT',
      `XFS superblock version ${version} is not supported (only 4 and 5)`,
      { file, layer, offset: 100 },
    );
  }
  const sectSize = head.readUInt16BE(102);
  const sectLog = head[121]!;
  if (!isPow2(sectSize) || sectSize < 512 || sectSize > 32768 || log2(sectSize) !== sectLog) {
    throw bad(102, `bad sector size ${sectSize} (log ${sectLog})`);
  }
  let sb = head;
  if (version === 5) {
    if (dev.size < sectSize) throw bad(102, `sector size ${sectSize} is larger than the device`);
    sb = dev.read(0, sectSize);
    if (!hasValidCrc(sb, 0, sectSize, SB_CRC_OFFSET)) {
      throw bad(SB_CRC_OFFSET, 'superblock CRC32C mismatch');
    }
  }

  const blockSize = sb.readUInt32BE(4);
  const blockLog = sb[120]!;
  const minBlock = version === 5 ? 1024 : 512;
  if (!isPow2(blockSize) || blockSize < minBlock || blockSize > 65536 || log2(blockSize) !== blockLog) {
    throw bad(4, `bad block size ${blockSize} (log ${blockLog})`);
  }
  const inodeSize = sb.readUInt16BE(104);
  const inodeLog = sb[122]!;
  const minInode = version === 5 ? 512 : 256;
  if (
    !isPow2(inodeSize) ||
    inodeSize < minInode ||
    inodeSize > 2048 ||
    inodeSize > blockSize ||
    log2(inodeSize) !== inodeLog
  ) {
    throw bad(104, `bad inode size ${inodeSize} (log ${inodeLog})`);
  }
  const inopBlock = sb.readUInt16BE(106);
  const inopbLog = sb[123]!;
  if (inopBlock !== blockSize / inodeSize || log2(inopBlock) !== inopbLog) {
    throw bad(106, `inodes per block ${inopBlock} (log ${inopbLog}) do not match the block and inode sizes`);
  }
  const agBlocks = sb.readUInt32BE(84);
  const agCount = sb.readUInt32BE(88);
  const agBlkLog = sb[124]!;
  if (agBlocks < 64) throw bad(84, `allocation group of ${agBlocks} blocks is too small`);
  if (agBlkLog !== bitsFor(agBlocks))
    throw bad(124, `agblklog ${agBlkLog} does not match ${agBlocks} blocks`);
  if (agBlkLog + inopbLog > 32) throw bad(124, 'inode number layout wider than 32 bits per group');
  if (agCount < 1) throw bad(88, 'no allocation groups');
  const dBlocks = readU64(sb, 8);
  if (!Number.isSafeInteger(dBlocks * blockSize) || dBlocks < 1) {
    throw bad(8, 'data block count is out of range');
  }
  if (dBlocks > agCount * agBlocks || dBlocks <= (agCount - 1) * agBlocks) {
    throw bad(8, `${dBlocks} blocks do not fit ${agCount} allocation groups of ${agBlocks} blocks`);
  }
  const dirBlkLog = sb[192]!;
  if (dirBlkLog > 16 || blockSize * 2 ** dirBlkLog > 65536) {
    throw bad(192, `directory block size ${blockSize} << ${dirBlkLog} is too large`);
  }
  if (version === 4 && (versionnum & VERSION_DIRV2BIT) === 0) {
    throw new HyperwardError(
      'E_UNSUPPORTED_FORMAT',
      'XFS v4 filesystem with version 1 directories (no dirv2) is not supported',
      { file, layer, offset: 100 },
    );
  }
  const features2 = (versionnum & VERSION_MOREBITSBIT) !== 0 ? sb.readUInt32BE(200) : 0;
  let incompat = 0;
  if (version === 5) {
    incompat = sb.readUInt32BE(216);
    const unknown = (incompat & ~INCOMPAT_SUPPORTED) >>> 0;
    if (unknown !== 0) {
      const names: string[] = [];
      for (let bit = 0; bit < 32; bit++) {
        const mask = 2 ** bit;
        if (Math.floor(unknown / mask) % 2 === 1) {
          names.push(INCOMPAT_NAMES.get(mask) ?? `incompat bit 0x${mask.toString(16)}`);
        }
      }
      throw new HyperwardError(
        'E_UNSUPPORTED_FORMAT',
        `XFS incompatible features not supported: ${names.join(', ')}`,
        { file, layer, offset: 216 },
      );
    }
  }
  const rootIno = readU64(sb, 56);
  if (!Number.isSafeInteger(rootIno)) throw bad(56, 'root inode number is out of range');
  const rBlocks = readU64(sb, 16);
  const uuidBytes = Buffer.from(sb.subarray(32, 48));
  const metaUuid =
    version === 5 && (incompat & INCOMPAT_META_UUID) !== 0 ? Buffer.from(sb.subarray(248, 264)) : uuidBytes;
  const fname = sb.subarray(108, 120);
  const nul = fname.indexOf(0);
  return {
    version,
    blockSize,
    blockLog,
    sectSize,
    inodeSize,
    inopbLog,
    agBlocks,
    agBlkLog,
    agCount,
    dBlocks,
    rootIno,
    dirBlkSize: blockSize * 2 ** dirBlkLog,
    ftype: version === 5 ? (incompat & INCOMPAT_FTYPE) !== 0 : (features2 & FEATURES2_FTYPE) !== 0,
    nlinkV2: version === 5 || (versionnum & VERSION_NLINKBIT) !== 0,
    asciiCi: (versionnum & VERSION_BORGBIT) !== 0,
    nrext64: (incompat & INCOMPAT_NREXT64) !== 0,
    rBlocks: Number.isFinite(rBlocks) ? rBlocks : 0,
    incompat,
    uuid: formatUuid(uuidBytes),
    metaUuid,
    label: fname.toString('utf8', 0, nul < 0 ? fname.length : nul),
  };
}
