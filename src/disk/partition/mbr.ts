/**
 * MBR (DOS) partition table: four primary entries in sector 0, and extended partitions whose chain of Extended
 * Boot Records (EBRs) holds the logical partitions. Each EBR's first entry is a logical partition, its start
 * relative to that EBR; its second entry links to the next EBR, its start relative to the start of the extended
 * partition. Sector size 512.
 */
import { SliceDevice } from '../slice.js';
import type { BlockDevice } from '../types.js';
import type { Partition, PartitionTable } from './types.js';

export const MBR_SECTOR = 512;
const TABLE_OFFSET = 0x1be;
const SIGNATURE_OFFSET = 0x1fe;
/** Cap on the EBR chain (Linux numbers at most 256 partitions per disk). */
export const MAX_EBR_CHAIN = 256;

const EXTENDED_TYPES: ReadonlySet<number> = new Set([0x05, 0x0f, 0x85]);
export const PROTECTIVE_TYPE = 0xee;

/** One 16-byte entry of an MBR or EBR. */
export interface MbrEntry {
  /** 0-based slot in its sector. */
  slot: number;
  boot: number;
  type: number;
  lbaStart: number;
  lbaCount: number;
}

export interface MbrSector {
  /** 0x55 0xAA at offset 510. */
  signature: boolean;
  entries: MbrEntry[];
  /** Every boot indicator is 0x00 or 0x80 (otherwise this is not a partition table). */
  bootFlagsValid: boolean;
}

/** Parses the four entries and the signature of a 512-byte MBR or EBR sector. */
export function parseMbrSector(sector: Buffer): MbrSector {
  const entries: MbrEntry[] = [];
  let bootFlagsValid = true;
  if (sector.length < MBR_SECTOR) return { signature: false, entries, bootFlagsValid: false };
  for (let slot = 0; slot < 4; slot++) {
    const at = TABLE_OFFSET + slot * 16;
    const boot = sector[at]!;
    if (boot !== 0 && boot !== 0x80) bootFlagsValid = false;
    entries.push({
      slot,
      boot,
      type: sector[at + 4]!,
      lbaStart: sector.readUInt32LE(at + 8),
      lbaCount: sector.readUInt32LE(at + 12),
    });
  }
  const signature = sector[SIGNATURE_OFFSET] === 0x55 && sector[SIGNATURE_OFFSET + 1] === 0xaa;
  return { signature, entries, bootFlagsValid };
}

/** An entry that describes nothing (type 0 or no sectors). */
export function isEmptyEntry(e: MbrEntry): boolean {
  return e.type === 0 || e.lbaCount === 0;
}

export function isExtendedType(type: number): boolean {
  return EXTENDED_TYPES.has(type);
}

const MBR_TYPE_NAMES: ReadonlyMap<number, string> = new Map([
  [0x01, 'FAT12'],
  [0x04, 'FAT16 <32M'],
  [0x05, 'extended'],
  [0x06, 'FAT16'],
  [0x07, 'HPFS/NTFS/exFAT'],
  [0x0b, 'W95 FAT32'],
  [0x0c, 'W95 FAT32 (LBA)'],
  [0x0e, 'W95 FAT16 (LBA)'],
  [0x0f, 'extended'],
  [0x11, 'Hidden FAT12'],
  [0x12, 'Compaq diagnostics'],
  [0x14, 'Hidden FAT16 <32M'],
  [0x16, 'Hidden FAT16'],
  [0x17, 'Hidden HPFS/NTFS'],
  [0x1b, 'Hidden W95 FAT32'],
  [0x1c, 'Hidden W95 FAT32 (LBA)'],
  [0x1e, 'Hidden W95 FAT16 (LBA)'],
  [0x27, 'Hidden NTFS WinRE'],
  [0x42, 'SFS'],
  [0x82, 'Linux swap / Solaris'],
  [0x83, 'Linux'],
  [0x85, 'extended'],
  [0x88, 'Linux plaintext'],
  [0x8e, 'Linux LVM'],
  [0xa5, 'FreeBSD'],
  [0xa6, 'OpenBSD'],
  [0xa8, 'Darwin UFS'],
  [0xa9, 'NetBSD'],
  [0xaf, 'HFS / HFS+'],
  [0xbf, 'Solaris'],
  [0xde, 'Dell Utility'],
  [0xea, 'Linux extended boot'],
  [0xee, 'GPT protective'],
  [0xef, 'EFI (FAT-12/16/32)'],
  [0xfb, 'VMware VMFS'],
  [0xfc, 'VMware VMKCORE'],
  [0xfd, 'Linux raid autodetect'],
]);

/**
 * Friendly name of an MBR type byte. The three extended-partition types (0x05, 0x0F, 0x85) are all named
 * `extended`, which callers use to skip the containers.
 */
export function mbrTypeName(type: number): string | undefined {
  return MBR_TYPE_NAMES.get(type);
}

function typeString(type: number): string {
  return `0x${type.toString(16).padStart(2, '0')}`;
}

interface Range {
  first: number;
  last: number;
  index: number;
}

/** Reads the MBR partitions of `dev`, given its parsed sector 0 (which must carry the 0x55AA signature). */
export function readMbr(dev: BlockDevice, mbr: MbrSector, warnings: string[]): PartitionTable {
  const total = Math.floor(dev.size / MBR_SECTOR);
  const partitions: Partition[] = [];
  const primaries: Range[] = [];
  const extendeds: Array<{ first: number; count: number; index: number }> = [];

  const make = (index: number, e: MbrEntry, firstLba: number): Partition => {
    const start = firstLba * MBR_SECTOR;
    const size = e.lbaCount * MBR_SECTOR;
    const p: Partition = {
      index,
      start,
      size,
      scheme: 'mbr',
      type: typeString(e.type),
      device: new SliceDevice(dev, start, size, `${dev.name}: partition ${index}`),
    };
    const name = mbrTypeName(e.type);
    if (name !== undefined) p.typeName = name;
    if (e.boot === 0x80) p.bootable = true;
    return p;
  };

  for (const e of mbr.entries) {
    if (isEmptyEntry(e)) continue;
    const index = e.slot + 1;
    const where = `MBR entry ${index}`;
    if (e.type === PROTECTIVE_TYPE) {
      warnings.push(`${where}: GPT protective entry without a valid GPT; ignored`);
      continue;
    }
    const first = e.lbaStart;
    const last = e.lbaStart + e.lbaCount - 1;
    if (first === 0) {
      warnings.push(`${where}: starts at LBA 0, over the partition table itself; skipped`);
      continue;
    }
    if (first >= total) {
      warnings.push(
        `${where}: LBA range ${first}..${last} starts beyond the disk (${total} sectors); skipped`,
      );
      continue;
    }
    let count = e.lbaCount;
    if (last >= total) {
      if (!isExtendedType(e.type)) {
        warnings.push(
          `${where}: LBA range ${first}..${last} ends beyond the disk (${total} sectors); skipped`,
        );
        continue;
      }
      // An extended partition is only a container: keep the part inside the disk so its logical partitions
      // that still fit (a truncated image) are found.
      count = total - first;
      warnings.push(`${where}: extended partition ${first}..${last} ends beyond the disk; truncated`);
    }
    const clash = primaries.find((r) => first <= r.last && r.first <= first + count - 1);
    if (clash !== undefined) {
      warnings.push(`${where}: LBA range ${first}..${last} overlaps partition ${clash.index}; skipped`);
      continue;
    }
    primaries.push({ first, last: first + count - 1, index });
    partitions.push(make(index, { ...e, lbaCount: count }, first));
    if (isExtendedType(e.type)) extendeds.push({ first, count, index });
  }

  let next = 5;
  const logicals: Range[] = [];
  for (const ext of extendeds) {
    next = readLogicals(dev, ext, next, primaries, logicals, warnings, (index, e, firstLba) =>
      partitions.push(make(index, e, firstLba)),
    );
  }
  return { scheme: 'mbr', sectorSize: MBR_SECTOR, partitions, warnings };
}

/**
 * Walks the EBR chain of one extended partition, adding logical partitions numbered from `next`. Stops (with a
 * warning) at a loop, an EBR outside the extended partition, a missing signature, or after MAX_EBR_CHAIN EBRs.
 * Returns the next free partition number.
 */
function readLogicals(
  dev: BlockDevice,
  ext: { first: number; count: number; index: number },
  next: number,
  primaries: readonly Range[],
  logicals: Range[],
  warnings: string[],
  add: (index: number, e: MbrEntry, firstLba: number) => void,
): number {
  const extLast = ext.first + ext.count - 1;
  const visited = new Set<number>();
  let ebr = ext.first;
  for (let step = 0; ; step++) {
    const where = `EBR at LBA ${ebr}`;
    if (step >= MAX_EBR_CHAIN) {
      warnings.push(`extended partition ${ext.index}: more than ${MAX_EBR_CHAIN} EBRs; the rest is ignored`);
      break;
    }
    if (visited.has(ebr)) {
      warnings.push(`extended partition ${ext.index}: the EBR chain loops back to LBA ${ebr}; stopped`);
      break;
    }
    visited.add(ebr);
    if (ebr < ext.first || ebr > extLast) {
      warnings.push(`${where}: outside extended partition ${ext.index}; chain stopped`);
      break;
    }
    const sector = parseMbrSector(dev.read(ebr * MBR_SECTOR, MBR_SECTOR));
    if (!sector.signature) {
      warnings.push(`${where}: no 0x55AA signature; chain stopped`);
      break;
    }
    const two = sector.entries.slice(0, 2);
    const data = two.find((e) => !isEmptyEntry(e) && !isExtendedType(e.type));
    const link = two.find((e) => !isEmptyEntry(e) && isExtendedType(e.type));
    if (data !== undefined) {
      const first = ebr + data.lbaStart;
      const last = first + data.lbaCount - 1;
      const clash =
        logicals.find((r) => first <= r.last && r.first <= last) ??
        primaries.find((r) => r.index !== ext.index && first <= r.last && r.first <= last);
      if (data.lbaStart === 0) {
        warnings.push(`${where}: logical partition starts on its own EBR; skipped`);
      } else if (last > extLast) {
        warnings.push(
          `${where}: logical partition ${first}..${last} ends outside extended partition ${ext.index}; skipped`,
        );
      } else if (clash !== undefined) {
        warnings.push(
          `${where}: logical partition ${first}..${last} overlaps partition ${clash.index}; skipped`,
        );
      } else {
        logicals.push({ first, last, index: next });
        add(next, data, first);
        next++;
      }
    }
    if (link === undefined) break;
    ebr = ext.first + link.lbaStart;
  }
  return next;
}
