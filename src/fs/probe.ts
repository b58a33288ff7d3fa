import type { BlockDevice } from '../disk/types.js';
import { HyperwardError } from '../errors.js';
import { openExt4 } from './ext4.js';
import { openBtrfs } from './btrfs.js';
import { openFat } from './fat.js';
import { openXfs } from './xfs.js';
import type { FileSystem } from './types.js';

/** What sits at the start of a partition, told by its magic bytes. */
export type ContentType =
  | 'ext2'
  | 'ext3'
  | 'ext4'
  | 'xfs'
  | 'btrfs'
  | 'vfat'
  | 'ntfs'
  | 'exfat'
  | 'luks'
  | 'bitlocker'
  | 'lvm2-pv'
  | 'swap'
  | 'zfs'
  | 'iso9660'
  | 'unknown';

/** Types this version reads; the others are reported as present but not inspected. */
export const READABLE: ReadonlySet<ContentType> = new Set(['ext2', 'ext3', 'ext4', 'xfs', 'btrfs', 'vfat']);

function at(dev: BlockDevice, offset: number, length: number): Buffer | undefined {
  return offset + length <= dev.size ? dev.read(offset, length) : undefined;
}

/** Detects the filesystem, volume or encryption format on a device from its magic numbers. */
export function probeContent(dev: BlockDevice): ContentType {
  const head = at(dev, 0, 4096) ?? (dev.size > 0 ? dev.read(0, dev.size) : Buffer.alloc(0));
  const ascii = (off: number, s: string): boolean =>
    head.length >= off + s.length && head.toString('latin1', off, off + s.length) === s;
  if (ascii(0, 'LUKS\xba\xbe') || ascii(0, 'SKUL\xba\xbe')) return 'luks';
  if (ascii(3, '-FVE-FS-')) return 'bitlocker';
  if (ascii(3, 'NTFS    ')) return 'ntfs';
  if (ascii(3, 'EXFAT   ')) return 'exfat';
  if (ascii(0, 'XFSB')) return 'xfs';
  if (ascii(512, 'LABELONE') && ascii(536, 'LVM2 001')) return 'lvm2-pv';
  if (head.length >= 1082 && head.readUInt16LE(1080) === 0xef53) {
    const compat = head.readUInt32LE(1024 + 0x5c);
    const incompat = head.readUInt32LE(1024 + 0x60);
    const roCompat = head.readUInt32LE(1024 + 0x64);
    // ext4 when it uses any feature ext3 lacks; ext3 when it has a journal; ext2 otherwise.
    if ((incompat & ~0x6) !== 0 || (roCompat & ~0x7) !== 0) return 'ext4';
    return (compat & 0x4) !== 0 ? 'ext3' : 'ext2';
  }
  if (
    head.length >= 512 &&
    head.readUInt16LE(510) === 0xaa55 &&
    (ascii(0x36, 'FAT') || ascii(0x52, 'FAT32'))
  ) {
    return 'vfat';
  }
  for (const page of [4096, 8192, 16384, 65536]) {
    const sig = at(dev, page - 10, 10)?.toString('latin1');
    if (sig === 'SWAPSPACE2' || sig === 'SWAP-SPACE') return 'swap';
  }
  if (at(dev, 0x10040, 8)?.toString('latin1') === '_BHRfS_M') return 'btrfs';
  if (at(dev, 0x8001, 5)?.toString('latin1') === 'CD001') return 'iso9660';
  // ZFS: the uberblock array of label 0 starts at 128 KiB; the first uberblock carries the magic 0x00bab10c.
  const ub = at(dev, 128 * 1024, 8);
  if (ub && (ub.readBigUInt64LE(0) === 0x00bab10cn || ub.readBigUInt64BE(0) === 0x00bab10cn)) return 'zfs';
  return 'unknown';
}

/** Opens a readable filesystem; throws E_UNSUPPORTED_FORMAT for the others. */
export function openFilesystem(dev: BlockDevice, type: ContentType = probeContent(dev)): FileSystem {
  switch (type) {
    case 'ext2':
    case 'ext3':
    case 'ext4':
      return openExt4(dev);
    case 'xfs':
      return openXfs(dev);
    case 'btrfs':
      return openBtrfs(dev);
    case 'vfat':
      return openFat(dev);
    default:
      throw new HyperwardError(
        'E_UNSUPPORTED_FORMAT',
        `${type} is detected but not inspected by this version`,
        {
          file: dev.name,
          layer: 'filesystem',
        },
      );
  }
}
