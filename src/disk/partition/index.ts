/**
 * Partition table detection: GPT (512- or 4096-byte logical sectors, with fallback to the backup header), MBR
 * with extended partitions, or none (a filesystem that starts at offset 0, or no table at all).
 */
import { HyperwardError } from '../../errors.js';
import type { BlockDevice } from '../types.js';
import { GPT_SECTOR_SIZES, readBackupGpt, readPrimaryGpt, type GptProblem, type HeaderProbe } from './gpt.js';
import { MBR_SECTOR, PROTECTIVE_TYPE, isEmptyEntry, parseMbrSector, readMbr, type MbrSector } from './mbr.js';
import type { PartitionTable } from './types.js';

export type { Partition, PartitionTable } from './types.js';

const EXT_SUPERBLOCK = 1024;
const EXT_MAGIC = 0xef53;

/** An ext2/3/4 superblock at byte 1024 whose basic fields are consistent (not just two magic bytes). */
function extSuperblockAt1024(dev: BlockDevice): boolean {
  if (dev.size < EXT_SUPERBLOCK + 1024) return false;
  const sb = dev.read(EXT_SUPERBLOCK, 128);
  if (sb.readUInt16LE(56) !== EXT_MAGIC) return false;
  const inodes = sb.readUInt32LE(0);
  const blocks = sb.readUInt32LE(4);
  const firstDataBlock = sb.readUInt32LE(20);
  const logBlockSize = sb.readUInt32LE(24);
  const blocksPerGroup = sb.readUInt32LE(32);
  const inodesPerGroup = sb.readUInt32LE(40);
  const revLevel = sb.readUInt32LE(76);
  return (
    inodes > 0 &&
    blocks > 0 &&
    logBlockSize <= 6 &&
    firstDataBlock === (logBlockSize === 0 ? 1 : 0) &&
    blocksPerGroup > 0 &&
    inodesPerGroup > 0 &&
    revLevel <= 1
  );
}

/** A FAT, NTFS or exFAT boot sector: a jump instruction and a plausible BIOS parameter block or OEM name. */
function bootSectorFilesystem(s0: Buffer): string | undefined {
  const jump = (s0[0] === 0xeb && s0[2] === 0x90) || s0[0] === 0xe9;
  if (!jump) return undefined;
  const oem = s0.toString('latin1', 3, 11);
  if (oem === 'NTFS    ') return 'ntfs';
  if (oem === 'EXFAT   ') return 'exfat';
  const bytesPerSector = s0.readUInt16LE(11);
  const sectorsPerCluster = s0[13]!;
  const reserved = s0.readUInt16LE(14);
  const fats = s0[16]!;
  const media = s0[21]!;
  const plausible =
    [512, 1024, 2048, 4096].includes(bytesPerSector) &&
    sectorsPerCluster > 0 &&
    (sectorsPerCluster & (sectorsPerCluster - 1)) === 0 &&
    reserved > 0 &&
    (fats === 1 || fats === 2) &&
    (media === 0xf0 || media >= 0xf8);
  return plausible ? 'fat' : undefined;
}

/**
 * Whether the disk holds a filesystem at offset 0 rather than a partition table: an ext superblock at 1024, a
 * FAT/NTFS/exFAT boot sector whose "partition entries" are empty or invalid (bytes of boot code), or an XFS or
 * LUKS header.
 */
function filesystemAtStart(dev: BlockDevice, s0: Buffer, mbr: MbrSector): string | undefined {
  if (s0.toString('latin1', 0, 4) === 'XFSB') return 'xfs';
  if (s0.toString('latin1', 0, 6) === 'LUKS\xba\xbe') return 'luks';
  const boot = bootSectorFilesystem(s0);
  if (boot !== undefined && (!mbr.bootFlagsValid || mbr.entries.every(isEmptyEntry))) return boot;
  if (extSuperblockAt1024(dev)) return 'ext';
  return undefined;
}

function none(warnings: string[], sectorSize = MBR_SECTOR): PartitionTable {
  return { scheme: 'none', sectorSize, partitions: [], warnings };
}

/**
 * Reads the partition table of a disk. Returns scheme `gpt` or `mbr` with the partitions (each a `SliceDevice`),
 * or `none` when the disk has no table (the caller then treats the whole disk as one filesystem). Damage that can
 * be survived (a bad primary GPT, overlapping or out-of-disk entries, a looping EBR chain) is reported in
 * `warnings`. A GPT with neither a valid primary nor a valid backup throws E_IMAGE_CORRUPT (E_LIMIT when it is
 * only larger than our caps).
 *
 * Detection order: a valid primary GPT (512- then 4096-byte sectors) unless the MBR holds real partitions and
 * no protective entry (then the GPT is stale, as Linux, blkid and sfdisk also decide); a filesystem at offset 0;
 * the backup GPT when the MBR is protective or LBA 1 holds a GPT signature; the MBR; else none.
 *
 * @example
 * const table = readPartitions(dev);
 * for (const p of table.partitions) console.log(p.index, p.start, p.size, p.typeName);
 */
export function readPartitions(dev: BlockDevice): PartitionTable {
  const warnings: string[] = [];
  if (dev.size < MBR_SECTOR) return none(warnings);
  const s0 = dev.read(0, MBR_SECTOR);
  const mbr = parseMbrSector(s0);
  const protective = mbr.signature && mbr.entries.some((e) => !isEmptyEntry(e) && e.type === PROTECTIVE_TYPE);
  const mbrReal =
    mbr.signature &&
    mbr.bootFlagsValid &&
    mbr.entries.some((e) => !isEmptyEntry(e) && e.type !== PROTECTIVE_TYPE);
  const gptAllowed = protective || !mbrReal;

  // 1. A fully valid primary GPT, for either logical sector size.
  const primaryFailures: Array<{ ss: number; probe: HeaderProbe }> = [];
  let staleGpt = false;
  for (const ss of GPT_SECTOR_SIZES) {
    if (!gptAllowed) {
      // The MBR holds real partitions and no protective entry: any GPT is stale; only note its presence.
      if (dev.size >= ss * 3 && dev.read(ss, 8).toString('latin1') === 'EFI PART') staleGpt = true;
      continue;
    }
    const r = readPrimaryGpt(dev, ss, warnings);
    if (r.table !== undefined) {
      if (!protective) warnings.push('GPT found without a protective MBR');
      return r.table;
    }
    primaryFailures.push({ ss, probe: r.probe });
  }
  const gptSignature = primaryFailures.some((f) => f.probe.ok || f.probe.signature);

  // 2. A filesystem at offset 0 (it may have overwritten part of an old GPT, whose backup would be stale).
  if (!mbr.signature && !gptSignature) return none(warnings);
  const fs = filesystemAtStart(dev, s0, mbr);
  if (fs !== undefined) {
    if (protective || gptSignature)
      warnings.push(`a ${fs} filesystem starts at offset 0; stale GPT data ignored`);
    return none(warnings);
  }

  // 3. A damaged primary GPT: the backup.
  if (gptAllowed && (protective || gptSignature)) {
    const problems: GptProblem[] = primaryFailures
      .filter((f) => f.probe.ok || f.probe.signature)
      .map((f) =>
        f.probe.ok
          ? { text: `primary GPT (sector size ${f.ss}): partition entry array CRC-32 mismatch`, limit: false }
          : {
              text: `primary GPT header (sector size ${f.ss}): ${f.probe.reason}`,
              limit: f.probe.limit === true,
            },
      );
    const primaryProblem = problems.map((p) => p.text).join('; ') || 'no primary GPT header at LBA 1';
    if (problems.length === 0) problems.push({ text: primaryProblem, limit: false });
    // Sector sizes whose LBA 1 holds a GPT signature first.
    const order = [...primaryFailures].sort(
      (a, b) => Number(b.probe.ok || b.probe.signature) - Number(a.probe.ok || a.probe.signature),
    );
    for (const f of order) {
      const hint = f.probe.ok ? f.probe.header.alternateLba : f.probe.alternateLba;
      const table = readBackupGpt(dev, f.ss, hint, primaryProblem, warnings, problems);
      if (table !== undefined) return table;
    }
    const limited = problems.some((p) => p.limit);
    throw new HyperwardError(
      limited ? 'E_LIMIT' : 'E_IMAGE_CORRUPT',
      `no valid GPT: ${problems.map((p) => p.text).join('; ')}`,
      { file: dev.name, layer: 'GPT header', offset: MBR_SECTOR },
    );
  }

  // 4. MBR.
  if (!mbr.signature) return none(warnings);
  if (!mbr.bootFlagsValid) {
    warnings.push('sector 0 has a 0x55AA signature but invalid boot indicators: not a partition table');
    return none(warnings);
  }
  if (staleGpt) warnings.push('a GPT header at LBA 1 without a protective MBR entry is ignored (stale GPT)');
  return readMbr(dev, mbr, warnings);
}
