import type { BlockDevice } from '../types.js';

export interface Partition {
  /** 1-based number as Linux names it (`sda1`); MBR logical partitions start at 5. */
  index: number;
  /** Byte offset on the disk. */
  start: number;
  /** Length in bytes. */
  size: number;
  scheme: 'mbr' | 'gpt';
  /** MBR type byte as `0x83`, or the GPT type GUID in lowercase canonical form. */
  type: string;
  /** Friendly name of the type when known: `Linux filesystem`, `EFI System`, `Linux LVM`, `extended`... */
  typeName?: string;
  /** GPT partition name. */
  name?: string;
  /** GPT unique partition GUID. */
  uuid?: string;
  bootable?: boolean;
  /** The partition as a device of its own. */
  device: BlockDevice;
}

export interface PartitionTable {
  scheme: 'mbr' | 'gpt' | 'none';
  /** Logical sector size the table was found with (512 or 4096). */
  sectorSize: number;
  partitions: Partition[];
  /** Problems that were survived: a damaged primary GPT header read from the backup, overlapping entries... */
  warnings: string[];
}
