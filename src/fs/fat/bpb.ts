/**
 * The FAT boot sector and BIOS parameter block (BPB): geometry of a FAT12, FAT16 or FAT32 volume, validated
 * field by field against the Microsoft FAT specification ("Microsoft Extensible Firmware Initiative FAT32 File
 * System Specification", version 1.03) before anything else is read. The FAT type is decided, as the
 * specification says, by the count of data clusters alone.
 */
import type { BlockDevice } from '../../disk/types.js';
import { HyperwardError, fsCorrupt } from '../../errors.js';

/** The largest cluster count of a FAT12 volume (exclusive), per the specification. */
const FAT12_MAX_CLUSTERS = 4085;
/** The largest cluster count of a FAT16 volume (exclusive). */
const FAT16_MAX_CLUSTERS = 65525;
/** FAT32 entries have 28 significant bits; cluster numbers 0x0FFFFFF7 and up are reserved. */
const FAT32_MAX_CLUSTERS = 0x0ffffff5;

export type FatBits = 12 | 16 | 32;

export interface Bpb {
  bits: FatBits;
  bytesPerSector: number;
  sectorsPerCluster: number;
  clusterSize: number;
  reservedSectors: number;
  numFats: number;
  /** Root directory entries (FAT12/16); 0 on FAT32. */
  rootEntries: number;
  /** Sectors of one FAT. */
  fatSectors: number;
  totalSectors: number;
  /** Data clusters; valid cluster numbers are `2 .. clusterCount + 1`. */
  clusterCount: number;
  /** Byte offset of the FAT in use (the active one on FAT32 with mirroring disabled). */
  fatOffset: number;
  /** Bytes of one FAT. */
  fatBytes: number;
  /** Byte offset and length of the fixed root directory (FAT12/16); length 0 on FAT32. */
  rootOffset: number;
  rootBytes: number;
  /** First cluster of the root directory (FAT32). */
  rootCluster: number;
  /** Byte offset of cluster 2. */
  dataOffset: number;
  /** Bytes the volume spans according to the BPB. */
  volumeBytes: number;
  /** Volume serial number as blkid prints it (`1234-ABCD`), when the extended boot signature is present. */
  serial?: string;
  /** Label from the boot sector (`NO NAME` when unset), when the extended boot signature is present. */
  bpbLabel?: string;
}

const LAYER = 'FAT boot sector';

const isPow2 = (n: number): boolean => n > 0 && (n & (n - 1)) === 0;

/**
 * True when the first sector looks like a FAT boot sector: a jump instruction and a plausible BPB. Cheap; used
 * to tell FAT from other filesystems before `readBpb` validates everything.
 */
export function looksLikeFat(sector: Buffer): boolean {
  if (sector.length < 512) return false;
  const jmp = sector[0];
  if (jmp !== 0xeb && jmp !== 0xe9) return false;
  const bps = sector.readUInt16LE(11);
  const spc = sector[13]!;
  const media = sector[21]!;
  return (
    bps >= 512 &&
    bps <= 4096 &&
    isPow2(bps) &&
    isPow2(spc) &&
    sector.readUInt16LE(14) !== 0 &&
    sector[16]! >= 1 &&
    (media === 0xf0 || media >= 0xf8)
  );
}

/** Reads and validates the boot sector of `dev`. Throws E_UNSUPPORTED_FORMAT when it is not FAT at all. */
export function readBpb(dev: BlockDevice): Bpb {
  const file = dev.name;
  if (dev.size < 512) {
    throw new HyperwardError('E_UNSUPPORTED_FORMAT', 'device is too small to hold a FAT filesystem', {
      file,
      layer: LAYER,
    });
  }
  const bs = dev.read(0, 512);
  if (!looksLikeFat(bs)) {
    throw new HyperwardError('E_UNSUPPORTED_FORMAT', 'no FAT boot sector (jump, sector size or media byte)', {
      file,
      layer: LAYER,
      offset: 0,
    });
  }
  const bad = (what: string, offset: number): HyperwardError =>
    fsCorrupt(what, { file, layer: LAYER, offset });

  const bytesPerSector = bs.readUInt16LE(11);
  const sectorsPerCluster = bs[13]!;
  const reservedSectors = bs.readUInt16LE(14);
  const numFats = bs[16]!;
  const rootEntries = bs.readUInt16LE(17);
  const totSec16 = bs.readUInt16LE(19);
  const fatSz16 = bs.readUInt16LE(22);
  const totSec32 = bs.readUInt32LE(32);
  const fatSz32 = bs.readUInt32LE(36);
  const fatSectors = fatSz16 !== 0 ? fatSz16 : fatSz32;
  const totalSectors = totSec16 !== 0 ? totSec16 : totSec32;
  if (numFats > 4) throw bad(`${numFats} FATs is implausible`, 16);
  if (fatSectors === 0) throw bad('FAT size is zero', 22);
  if (totalSectors === 0) throw bad('total sector count is zero', 19);
  const clusterSize = bytesPerSector * sectorsPerCluster;
  const rootSectors = Math.ceil((rootEntries * 32) / bytesPerSector);
  const metaSectors = reservedSectors + numFats * fatSectors + rootSectors;
  if (metaSectors >= totalSectors) {
    throw bad(`reserved, FAT and root sectors (${metaSectors}) fill the whole volume (${totalSectors})`, 19);
  }
  const clusterCount = Math.floor((totalSectors - metaSectors) / sectorsPerCluster);
  if (clusterCount < 1) throw bad('the volume has no data clusters', 13);

  let bits: FatBits;
  if (clusterCount < FAT12_MAX_CLUSTERS) bits = 12;
  else if (clusterCount < FAT16_MAX_CLUSTERS) bits = 16;
  else bits = 32;
  // A BPB in the FAT32 form (no 16-bit FAT size, no fixed root) can only be read as FAT32; Linux and mtools
  // accept such volumes with fewer clusters than the specification's minimum, and so does this reader.
  if (bits !== 32 && fatSz16 === 0 && rootEntries === 0) bits = 32;
  if (bits === 32) {
    if (fatSz16 !== 0)
      throw bad(`${clusterCount} clusters make this FAT32, but the FAT12/16 FAT size is set`, 22);
    if (rootEntries !== 0) throw bad('FAT32 volume with a fixed root directory', 17);
    if (clusterCount > FAT32_MAX_CLUSTERS)
      throw bad(`${clusterCount} clusters is more than FAT32 can address`, 13);
  } else if (rootEntries === 0) {
    throw bad(`FAT${bits} volume without root directory entries`, 17);
  }

  // The FAT must hold an entry for every cluster, plus the two reserved ones.
  const fatBytes = fatSectors * bytesPerSector;
  const neededBits = (clusterCount + 2) * bits;
  if (fatBytes * 8 < neededBits) {
    throw bad(`a FAT of ${fatBytes} bytes cannot map ${clusterCount} clusters of FAT${bits}`, 22);
  }

  let activeFat = 0;
  let rootCluster = 0;
  if (bits === 32) {
    const extFlags = bs.readUInt16LE(40);
    if ((extFlags & 0x80) !== 0) activeFat = extFlags & 0x0f;
    if (activeFat >= numFats) throw bad(`active FAT ${activeFat} of ${numFats}`, 40);
    const version = bs.readUInt16LE(42);
    if (version !== 0) {
      throw new HyperwardError('E_UNSUPPORTED_FORMAT', `FAT32 version ${version >> 8}.${version & 0xff}`, {
        file,
        layer: LAYER,
        offset: 42,
      });
    }
    rootCluster = bs.readUInt32LE(44);
    if (rootCluster < 2 || rootCluster > clusterCount + 1) {
      throw bad(`root directory cluster ${rootCluster} is outside 2..${clusterCount + 1}`, 44);
    }
  }

  const sec = bytesPerSector;
  const fatOffset = (reservedSectors + activeFat * fatSectors) * sec;
  const rootOffset = (reservedSectors + numFats * fatSectors) * sec;
  const bpb: Bpb = {
    bits,
    bytesPerSector,
    sectorsPerCluster,
    clusterSize,
    reservedSectors,
    numFats,
    rootEntries,
    fatSectors,
    totalSectors,
    clusterCount,
    fatOffset,
    fatBytes,
    rootOffset,
    rootBytes: bits === 32 ? 0 : rootEntries * 32,
    rootCluster,
    dataOffset: rootOffset + rootSectors * sec,
    volumeBytes: totalSectors * sec,
  };
  if (dev.size < bpb.dataOffset) {
    throw bad(`device of ${dev.size} bytes ends before the data area at ${bpb.dataOffset}`, 19);
  }

  // Extended BPB: boot signature 0x29 means serial number, label and type string are present.
  const ext = bits === 32 ? 64 : 36;
  if (bs[ext + 2] === 0x29) {
    const id = bs.readUInt32LE(ext + 3);
    const hex = id.toString(16).toUpperCase().padStart(8, '0');
    bpb.serial = `${hex.slice(0, 4)}-${hex.slice(4)}`;
    bpb.bpbLabel = bs.toString('latin1', ext + 7, ext + 18).replace(/[ \0]+$/, '');
  }
  return bpb;
}
