/**
 * The ext2/3/4 superblock: geometry, feature flags and the few settings a reader needs. Every field is checked
 * against the format's limits before it is used; features that change the on-disk layout in ways this reader does
 * not understand are refused by name.
 */
import type { BlockDevice } from '../../disk/types.js';
import { HyperwardError, fsCorrupt } from '../../errors.js';

export const SUPERBLOCK_OFFSET = 1024;
export const SUPERBLOCK_SIZE = 1024;
export const EXT_MAGIC = 0xef53;

export const COMPAT_HAS_JOURNAL = 0x4;
export const COMPAT_DIR_INDEX = 0x20;
export const COMPAT_SPARSE_SUPER2 = 0x200;

export const INCOMPAT_COMPRESSION = 0x1;
export const INCOMPAT_FILETYPE = 0x2;
export const INCOMPAT_RECOVER = 0x4;
export const INCOMPAT_JOURNAL_DEV = 0x8;
export const INCOMPAT_META_BG = 0x10;
export const INCOMPAT_EXTENTS = 0x40;
export const INCOMPAT_64BIT = 0x80;
export const INCOMPAT_MMP = 0x100;
export const INCOMPAT_FLEX_BG = 0x200;
export const INCOMPAT_EA_INODE = 0x400;
export const INCOMPAT_DIRDATA = 0x1000;
export const INCOMPAT_CSUM_SEED = 0x2000;
export const INCOMPAT_LARGEDIR = 0x4000;
export const INCOMPAT_INLINE_DATA = 0x8000;
export const INCOMPAT_ENCRYPT = 0x10000;
export const INCOMPAT_CASEFOLD = 0x20000;

export const RO_COMPAT_SPARSE_SUPER = 0x1;
export const RO_COMPAT_GDT_CSUM = 0x10;
export const RO_COMPAT_BIGALLOC = 0x200;
export const RO_COMPAT_METADATA_CSUM = 0x400;

/** Incompatible features this reader handles. */
const INCOMPAT_SUPPORTED =
  INCOMPAT_FILETYPE |
  INCOMPAT_RECOVER |
  INCOMPAT_META_BG |
  INCOMPAT_EXTENTS |
  INCOMPAT_64BIT |
  INCOMPAT_MMP |
  INCOMPAT_FLEX_BG |
  INCOMPAT_EA_INODE |
  INCOMPAT_CSUM_SEED |
  INCOMPAT_LARGEDIR |
  INCOMPAT_INLINE_DATA |
  INCOMPAT_ENCRYPT |
  INCOMPAT_CASEFOLD;

const INCOMPAT_NAMES: ReadonlyMap<number, string> = new Map([
  [INCOMPAT_COMPRESSION, 'compression'],
  [INCOMPAT_JOURNAL_DEV, 'journal_dev'],
  [0x20, 'incompat bit 0x20'],
  [0x800, 'incompat bit 0x800'],
  [INCOMPAT_DIRDATA, 'dirdata'],
]);

const FLAGS_UNSIGNED_HASH = 0x2;
const MAX_LOG_BLOCK_SIZE = 6; // 64 KiB
const MAX_LOG_CLUSTER_RATIO = 16;
const GOOD_OLD_INODE_SIZE = 128;
const TWO32 = 0x1_0000_0000;

export interface Superblock {
  /** `ext2`, `ext3` or `ext4`, from the features (as blkid names them). */
  type: 'ext2' | 'ext3' | 'ext4';
  blockSize: number;
  blocksCount: number;
  firstDataBlock: number;
  blocksPerGroup: number;
  inodesPerGroup: number;
  inodesCount: number;
  inodeSize: number;
  groupCount: number;
  /** Group descriptor size in bytes (32, or `s_desc_size` with the 64bit feature). */
  descSize: number;
  descPerBlock: number;
  /** Blocks the group descriptor table would take if it were contiguous. */
  gdtBlocks: number;
  firstMetaBg: number;
  compat: number;
  incompat: number;
  roCompat: number;
  hashSeed: number[];
  /** Directory hashes were computed with unsigned `char` (superblock flag). */
  hashUnsigned: boolean;
  backupBgs: [number, number];
  uuid: string;
  label: string;
  /** Size of an allocation cluster in bytes (the block size unless bigalloc). */
  clusterSize: number;
}

function formatUuid(b: Buffer): string {
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

function featureList(bits: number, names: ReadonlyMap<number, string>): string {
  const out: string[] = [];
  for (let bit = 0; bit < 32; bit++) {
    const mask = 2 ** bit;
    if (Math.floor(bits / mask) % 2 === 1) out.push(names.get(mask) ?? `incompat bit 0x${mask.toString(16)}`);
  }
  return out.join(', ');
}

/** True when the device carries the ext2/3/4 magic at byte 1080. */
export function hasExtMagic(dev: BlockDevice): boolean {
  if (dev.size < SUPERBLOCK_OFFSET + SUPERBLOCK_SIZE) return false;
  return dev.read(SUPERBLOCK_OFFSET + 0x38, 2).readUInt16LE(0) === EXT_MAGIC;
}

/** Reads and validates the primary superblock of `dev`. */
export function readSuperblock(dev: BlockDevice): Superblock {
  const file = dev.name;
  const layer = 'ext4 superblock';
  if (dev.size < SUPERBLOCK_OFFSET + SUPERBLOCK_SIZE) {
    throw new HyperwardError('E_UNSUPPORTED_FORMAT', 'device too small for an ext2/3/4 superblock', {
      file,
      layer,
      offset: SUPERBLOCK_OFFSET,
    });
  }
  const sb = dev.read(SUPERBLOCK_OFFSET, SUPERBLOCK_SIZE);
  const bad = (field: number, message: string): HyperwardError =>
    fsCorrupt(message, { file, layer, offset: SUPERBLOCK_OFFSET + field });

  if (sb.readUInt16LE(0x38) !== EXT_MAGIC) {
    throw new HyperwardError('E_UNSUPPORTED_FORMAT', 'no ext2/3/4 magic (0xEF53)', {
      file,
      layer,
      offset: SUPERBLOCK_OFFSET + 0x38,
    });
  }
  const revLevel = sb.readUInt32LE(0x4c);
  if (revLevel > 1) {
    throw new HyperwardError('E_UNSUPPORTED_FORMAT', `unsupported ext revision level ${revLevel}`, {
      file,
      layer,
      offset: SUPERBLOCK_OFFSET + 0x4c,
    });
  }
  const compat = revLevel >= 1 ? sb.readUInt32LE(0x5c) : 0;
  const incompat = revLevel >= 1 ? sb.readUInt32LE(0x60) : 0;
  const roCompat = revLevel >= 1 ? sb.readUInt32LE(0x64) : 0;
  const unknown = (incompat & ~INCOMPAT_SUPPORTED) >>> 0;
  if (unknown !== 0) {
    if ((unknown & INCOMPAT_JOURNAL_DEV) !== 0) {
      throw new HyperwardError(
        'E_UNSUPPORTED_FORMAT',
        'this is an external ext3/4 journal device, not a filesystem',
        {
          file,
          layer,
          offset: SUPERBLOCK_OFFSET + 0x60,
        },
      );
    }
    throw new HyperwardError(
      'E_UNSUPPORTED_FORMAT',
      `unsupported incompatible feature(s): ${featureList(unknown, INCOMPAT_NAMES)}`,
      { file, layer, offset: SUPERBLOCK_OFFSET + 0x60 },
    );
  }

  const logBlock = sb.readUInt32LE(0x18);
  if (logBlock > MAX_LOG_BLOCK_SIZE) throw bad(0x18, `block size 2^${logBlock + 10} is out of range`);
  const blockSize = 1024 << logBlock;

  const has64 = (incompat & INCOMPAT_64BIT) !== 0;
  const blocksLo = sb.readUInt32LE(0x04);
  const blocksHi = has64 ? sb.readUInt32LE(0x150) : 0;
  const blocksCount = blocksHi * TWO32 + blocksLo;
  if (blocksCount === 0) throw bad(0x04, 'block count is zero');
  if (blocksCount * blockSize > Number.MAX_SAFE_INTEGER) throw bad(0x150, 'block count is absurdly large');

  const firstDataBlock = sb.readUInt32LE(0x14);
  if (firstDataBlock >= blocksCount) throw bad(0x14, `first data block ${firstDataBlock} is past the end`);

  let clusterSize = blockSize;
  if ((roCompat & RO_COMPAT_BIGALLOC) !== 0) {
    const logCluster = sb.readUInt32LE(0x1c);
    if (logCluster < logBlock || logCluster - logBlock > MAX_LOG_CLUSTER_RATIO) {
      throw bad(0x1c, `cluster size 2^${logCluster + 10} is out of range`);
    }
    clusterSize = blockSize * 2 ** (logCluster - logBlock);
  }
  const blocksPerGroup = sb.readUInt32LE(0x20);
  if (blocksPerGroup === 0 || blocksPerGroup > 8 * blockSize * (clusterSize / blockSize)) {
    throw bad(0x20, `blocks per group ${blocksPerGroup} is out of range`);
  }
  const inodesPerGroup = sb.readUInt32LE(0x28);
  if (inodesPerGroup === 0 || inodesPerGroup > 8 * blockSize) {
    throw bad(0x28, `inodes per group ${inodesPerGroup} is out of range`);
  }
  const inodesCount = sb.readUInt32LE(0x00);
  const groupCount = Math.ceil((blocksCount - firstDataBlock) / blocksPerGroup);
  if (groupCount > TWO32) throw bad(0x20, 'too many block groups');
  if (inodesCount < 2 || inodesCount > groupCount * inodesPerGroup) {
    throw bad(0x00, `inode count ${inodesCount} does not fit ${groupCount} groups of ${inodesPerGroup}`);
  }

  let inodeSize = GOOD_OLD_INODE_SIZE;
  if (revLevel >= 1) {
    inodeSize = sb.readUInt16LE(0x58);
    if (inodeSize < GOOD_OLD_INODE_SIZE || inodeSize > blockSize || (inodeSize & (inodeSize - 1)) !== 0) {
      throw bad(0x58, `inode size ${inodeSize} is invalid`);
    }
  }

  let descSize = 32;
  if (has64) {
    descSize = sb.readUInt16LE(0xfe);
    if (descSize < 64 || descSize > 1024 || descSize > blockSize || (descSize & (descSize - 1)) !== 0) {
      throw bad(0xfe, `group descriptor size ${descSize} is invalid`);
    }
  }
  const descPerBlock = blockSize / descSize;
  const gdtBlocks = Math.ceil(groupCount / descPerBlock);
  const firstMetaBg = (incompat & INCOMPAT_META_BG) !== 0 ? sb.readUInt32LE(0x104) : gdtBlocks;
  if (firstMetaBg > gdtBlocks) throw bad(0x104, `first meta block group ${firstMetaBg} is past the last`);

  const hashSeed = [0, 1, 2, 3].map((i) => sb.readUInt32LE(0xec + 4 * i));
  const flags = sb.readUInt32LE(0x160);
  const label = sb.subarray(0x78, 0x88);
  const nul = label.indexOf(0);

  let type: Superblock['type'];
  if ((incompat & ~(INCOMPAT_FILETYPE | INCOMPAT_RECOVER)) !== 0 || (roCompat & ~0x7) !== 0) type = 'ext4';
  else type = (compat & COMPAT_HAS_JOURNAL) !== 0 ? 'ext3' : 'ext2';

  return {
    type,
    blockSize,
    blocksCount,
    firstDataBlock,
    blocksPerGroup,
    inodesPerGroup,
    inodesCount,
    inodeSize,
    groupCount,
    descSize,
    descPerBlock,
    gdtBlocks,
    firstMetaBg,
    compat,
    incompat,
    roCompat,
    hashSeed,
    hashUnsigned: (flags & FLAGS_UNSIGNED_HASH) !== 0,
    backupBgs: [sb.readUInt32LE(0x24c), sb.readUInt32LE(0x250)],
    uuid: formatUuid(sb.subarray(0x68, 0x78)),
    label: label.toString('utf8', 0, nul < 0 ? label.length : nul),
    clusterSize,
  };
}

function isPowerOf(n: number, base: number): boolean {
  let v = base;
  while (v < n) v *= base;
  return v === n;
}

/** Whether block group `group` holds a copy of the superblock (and, without meta_bg, of the descriptors). */
export function groupHasSuper(sb: Superblock, group: number): boolean {
  if (group === 0) return true;
  if ((sb.compat & COMPAT_SPARSE_SUPER2) !== 0) return group === sb.backupBgs[0] || group === sb.backupBgs[1];
  if (group <= 1 || (sb.roCompat & RO_COMPAT_SPARSE_SUPER) === 0) return true;
  if (group % 2 === 0) return false;
  return isPowerOf(group, 3) || isPowerOf(group, 5) || isPowerOf(group, 7);
}

/**
 * Block number of the `index`-th block of group descriptors. Without meta_bg (and for the blocks before
 * `s_first_meta_bg`) they follow the primary superblock; with meta_bg, the descriptors of each meta-group (the
 * groups one descriptor block covers) sit in the first group of that meta-group, after its superblock backup.
 */
export function descriptorBlock(sb: Superblock, index: number): number {
  const sbBlock = sb.blockSize === 1024 ? 1 : 0;
  if ((sb.incompat & INCOMPAT_META_BG) === 0 || index < sb.firstMetaBg) return sbBlock + 1 + index;
  const group = index * sb.descPerBlock;
  let hasSuper = groupHasSuper(sb, group) ? 1 : 0;
  if (sb.blockSize === 1024 && index === 0 && sb.firstDataBlock === 0) hasSuper++;
  return sb.firstDataBlock + group * sb.blocksPerGroup + hasSuper;
}
