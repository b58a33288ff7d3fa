/**
 * The btrfs superblock: the primary copy, 4 KiB at byte 64 KiB of the device. It names the filesystem (fsid,
 * label), its geometry (sector and node size), the checksum algorithm, the logical addresses of the root tree
 * and the chunk tree, and carries the "system chunk array" that maps the chunk tree itself.
 *
 * Only the primary copy is read, as the kernel does at mount; the mirrors (64 MiB, 256 GiB) are used by repair
 * tools. Every field that sizes or addresses something is checked here, before anything is read through it.
 */
import type { BlockDevice } from '../../disk/types.js';
import { HyperwardError, fsCorrupt } from '../../errors.js';
import { csumAlgorithm, type CsumAlgorithm } from './csum.js';
import { formatUuid, u64 } from './key.js';

export const SUPER_OFFSET = 0x10000;
export const SUPER_SIZE = 4096;
export const MAGIC = Buffer.from('_BHRfS_M', 'latin1');
const MAGIC_OFFSET = 0x40;
export const SYS_CHUNK_ARRAY_OFFSET = 0x32b;
export const SYS_CHUNK_ARRAY_MAX = 2048;
const LAYER = 'btrfs superblock';

/** Incompatible features this reader understands. */
const INCOMPAT_MIXED_BACKREF = 1n << 0n;
const INCOMPAT_DEFAULT_SUBVOL = 1n << 1n;
const INCOMPAT_MIXED_GROUPS = 1n << 2n;
const INCOMPAT_COMPRESS_LZO = 1n << 3n;
const INCOMPAT_COMPRESS_ZSTD = 1n << 4n;
const INCOMPAT_BIG_METADATA = 1n << 5n;
const INCOMPAT_EXTENDED_IREF = 1n << 6n;
const INCOMPAT_RAID56 = 1n << 7n;
const INCOMPAT_SKINNY_METADATA = 1n << 8n;
const INCOMPAT_NO_HOLES = 1n << 9n;
export const INCOMPAT_METADATA_UUID = 1n << 10n;
const INCOMPAT_RAID1C34 = 1n << 11n;
const INCOMPAT_ZONED = 1n << 12n;
const INCOMPAT_EXTENT_TREE_V2 = 1n << 13n;
const INCOMPAT_RAID_STRIPE_TREE = 1n << 14n;
const INCOMPAT_SIMPLE_QUOTA = 1n << 16n;

const KNOWN_INCOMPAT =
  INCOMPAT_MIXED_BACKREF |
  INCOMPAT_DEFAULT_SUBVOL |
  INCOMPAT_MIXED_GROUPS |
  INCOMPAT_COMPRESS_LZO |
  INCOMPAT_COMPRESS_ZSTD |
  INCOMPAT_BIG_METADATA |
  INCOMPAT_EXTENDED_IREF |
  INCOMPAT_RAID56 |
  INCOMPAT_SKINNY_METADATA |
  INCOMPAT_NO_HOLES |
  INCOMPAT_METADATA_UUID |
  INCOMPAT_RAID1C34 |
  INCOMPAT_SIMPLE_QUOTA;

/** Features that change where things are, named when refused. */
const REFUSED_INCOMPAT: Array<[bigint, string]> = [
  [INCOMPAT_ZONED, 'zoned (superblocks live in log zones, not at 64 KiB)'],
  [INCOMPAT_EXTENT_TREE_V2, 'extent-tree-v2'],
  [INCOMPAT_RAID_STRIPE_TREE, 'raid-stripe-tree (logical-to-physical mapping through another tree)'],
];

export interface Superblock {
  /** Filesystem UUID (`fsid`), formatted. */
  uuid: string;
  /** The UUID tree blocks carry: `metadata_uuid` with that feature, else the fsid. Raw 16 bytes. */
  metadataUuid: Buffer;
  label: string;
  generation: number;
  /** Logical address and level of the root tree's root block. */
  root: number;
  rootLevel: number;
  chunkRoot: number;
  chunkRootLevel: number;
  chunkRootGeneration: number;
  totalBytes: number;
  numDevices: number;
  sectorSize: number;
  nodeSize: number;
  /** The bytes of the system chunk array (bootstrap chunk items). */
  sysChunkArray: Buffer;
  incompat: bigint;
  compatRo: bigint;
  csum: CsumAlgorithm;
  /** This device's id and UUID (from the embedded device item). */
  devid: number;
  devUuid: string;
}

/** Whether `dev` has the btrfs magic at the primary superblock. */
export function hasBtrfsMagic(dev: BlockDevice): boolean {
  if (dev.size < SUPER_OFFSET + SUPER_SIZE) return false;
  return dev.read(SUPER_OFFSET + MAGIC_OFFSET, MAGIC.length).equals(MAGIC);
}

const isPow2 = (n: number): boolean => n > 0 && (n & (n - 1)) === 0;

/** Reads and checks the primary superblock of `dev`. */
export function readSuperblock(dev: BlockDevice): Superblock {
  const file = dev.name;
  if (dev.size < SUPER_OFFSET + SUPER_SIZE) {
    throw new HyperwardError('E_UNSUPPORTED_FORMAT', 'device is too small to hold a btrfs superblock', {
      file,
      layer: LAYER,
    });
  }
  const sb = dev.read(SUPER_OFFSET, SUPER_SIZE);
  const bad = (at: number, message: string): HyperwardError =>
    fsCorrupt(message, { file, layer: LAYER, offset: SUPER_OFFSET + at });
  if (!sb.subarray(MAGIC_OFFSET, MAGIC_OFFSET + 8).equals(MAGIC)) {
    throw new HyperwardError('E_UNSUPPORTED_FORMAT', 'no btrfs magic at 64 KiB: not a btrfs filesystem', {
      file,
      layer: LAYER,
      offset: SUPER_OFFSET + MAGIC_OFFSET,
    });
  }
  const csumType = sb.readUInt16LE(0xc4);
  const csum = csumAlgorithm(csumType);
  if (csum === undefined) throw bad(0xc4, `unknown checksum type ${csumType}`);
  if (!csum.check(sb)) {
    throw bad(0, `superblock ${csum.name} checksum does not match: the superblock is damaged`);
  }
  const bytenr = u64(sb, 0x30, file, LAYER, SUPER_OFFSET);
  if (bytenr !== SUPER_OFFSET) throw bad(0x30, `superblock says it lives at ${bytenr}, not ${SUPER_OFFSET}`);

  const incompat = sb.readBigUInt64LE(0xbc);
  const compatRo = sb.readBigUInt64LE(0xb4);
  for (const [bit, name] of REFUSED_INCOMPAT) {
    if ((incompat & bit) !== 0n) {
      throw new HyperwardError('E_UNSUPPORTED_FORMAT', `btrfs feature ${name} is not supported`, {
        file,
        layer: LAYER,
        offset: SUPER_OFFSET + 0xbc,
      });
    }
  }
  const unknown = incompat & ~KNOWN_INCOMPAT;
  if (unknown !== 0n) {
    throw new HyperwardError(
      'E_UNSUPPORTED_FORMAT',
      `unknown incompatible btrfs features 0x${unknown.toString(16)}: the filesystem cannot be read safely`,
      { file, layer: LAYER, offset: SUPER_OFFSET + 0xbc },
    );
  }

  const sectorSize = sb.readUInt32LE(0x90);
  const nodeSize = sb.readUInt32LE(0x94);
  if (!isPow2(sectorSize) || sectorSize < 4096 || sectorSize > 65536) {
    throw bad(0x90, `sector size ${sectorSize} is not a power of two in 4 KiB..64 KiB`);
  }
  if (!isPow2(nodeSize) || nodeSize < sectorSize || nodeSize > 65536) {
    throw bad(0x94, `node size ${nodeSize} is not a power of two between the sector size and 64 KiB`);
  }
  const sysSize = sb.readUInt32LE(0xa0);
  if (sysSize > SYS_CHUNK_ARRAY_MAX) throw bad(0xa0, `system chunk array of ${sysSize} bytes is over 2 KiB`);
  const rootLevel = sb[0xc6]!;
  const chunkRootLevel = sb[0xc7]!;
  if (rootLevel > 7) throw bad(0xc6, `root tree level ${rootLevel} is over 7`);
  if (chunkRootLevel > 7) throw bad(0xc7, `chunk tree level ${chunkRootLevel} is over 7`);
  const root = u64(sb, 0x50, file, LAYER, SUPER_OFFSET);
  const chunkRoot = u64(sb, 0x58, file, LAYER, SUPER_OFFSET);
  if (root % sectorSize !== 0 || root === 0)
    throw bad(0x50, `root tree address ${root} is not sector-aligned`);
  if (chunkRoot % sectorSize !== 0 || chunkRoot === 0) {
    throw bad(0x58, `chunk tree address ${chunkRoot} is not sector-aligned`);
  }
  const numDevices = u64(sb, 0x88, file, LAYER, SUPER_OFFSET);
  if (numDevices < 1) throw bad(0x88, 'the filesystem has no devices');

  const fsid = sb.subarray(0x20, 0x30);
  const metadataUuid = Buffer.from(
    (incompat & INCOMPAT_METADATA_UUID) !== 0n ? sb.subarray(0x23b, 0x24b) : fsid,
  );
  const label = sb.subarray(0x12b, 0x22b);
  const nul = label.indexOf(0);
  const devItem = 0xc9;
  return {
    uuid: formatUuid(fsid),
    metadataUuid,
    label: label.toString('utf8', 0, nul < 0 ? label.length : nul),
    generation: u64(sb, 0x48, file, LAYER, SUPER_OFFSET),
    root,
    rootLevel,
    chunkRoot,
    chunkRootLevel,
    chunkRootGeneration: u64(sb, 0xa4, file, LAYER, SUPER_OFFSET),
    totalBytes: u64(sb, 0x70, file, LAYER, SUPER_OFFSET),
    numDevices,
    sectorSize,
    nodeSize,
    sysChunkArray: Buffer.from(sb.subarray(SYS_CHUNK_ARRAY_OFFSET, SYS_CHUNK_ARRAY_OFFSET + sysSize)),
    incompat,
    compatRo,
    csum,
    devid: u64(sb, devItem, file, LAYER, SUPER_OFFSET),
    devUuid: formatUuid(sb.subarray(devItem + 66, devItem + 82)),
  };
}
