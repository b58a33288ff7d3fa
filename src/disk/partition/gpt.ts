/**
 * GUID Partition Table (UEFI spec, chapter 5): header at LBA 1 (primary) and at the last LBA (backup), each with
 * a CRC-32 over itself and over its partition entry array. A damaged primary falls back to the backup; entries
 * that are outside the disk or overlap another are skipped with a warning.
 */
import { HyperwardError, corrupt } from '../../errors.js';
import { crc32 } from '../crc32.js';
import { SliceDevice } from '../slice.js';
import type { BlockDevice } from '../types.js';
import type { Partition, PartitionTable } from './types.js';

const SIGNATURE = 'EFI PART';
const MIN_HEADER_SIZE = 92;
const MIN_ENTRY_SIZE = 128;
/** Entry size cap: the spec allows 128 * 2^n; nothing real uses more than 128. */
const MAX_ENTRY_SIZE = 4096;
/** Entry count cap (the usual count is 128). */
export const MAX_GPT_ENTRIES = 4096;
/** Entry array size cap. */
export const MAX_GPT_ARRAY_BYTES = 1024 * 1024;
const NAME_OFFSET = 56;
const NAME_BYTES = 72;

/** The logical sector sizes tried, in order. */
export const GPT_SECTOR_SIZES: readonly number[] = [512, 4096];

/**
 * Formats 16 bytes at `at` as a GUID in canonical lowercase form, decoding the mixed-endian layout used by GPT,
 * UEFI and Microsoft (first three fields little-endian, last two big-endian).
 *
 * @example
 * formatGuid(entry, 0) // 'c12a7328-f81f-11d2-ba4b-00a0c93ec93b' for an EFI System partition
 */
export function formatGuid(buf: Buffer, at: number): string {
  if (at < 0 || at + 16 > buf.length) {
    throw new HyperwardError('E_INTERNAL', `GUID at ${at} outside a buffer of ${buf.length} bytes`);
  }
  const hex = (from: number, to: number, reverse: boolean): string => {
    let s = '';
    for (let i = 0; i < to - from; i++) {
      const b = buf[reverse ? to - 1 - i : from + i]!;
      s += b.toString(16).padStart(2, '0');
    }
    return s;
  };
  return [
    hex(at, at + 4, true),
    hex(at + 4, at + 6, true),
    hex(at + 6, at + 8, true),
    hex(at + 8, at + 10, false),
    hex(at + 10, at + 16, false),
  ].join('-');
}

/** Friendly names of common GPT partition type GUIDs (lowercase canonical form). */
const GPT_TYPE_NAMES: ReadonlyMap<string, string> = new Map([
  ['c12a7328-f81f-11d2-ba4b-00a0c93ec93b', 'EFI System'],
  ['21686148-6449-6e6f-744e-656564454649', 'BIOS boot'],
  ['024dee41-33e7-11d3-9d69-0008c781f39f', 'MBR partition scheme'],
  ['0fc63daf-8483-4772-8e79-3d69d8477de4', 'Linux filesystem'],
  ['e6d6d379-f507-44c2-a23c-238f2a3df928', 'Linux LVM'],
  ['0657fd6d-a4ab-43c4-84e5-0933c84b4f4f', 'Linux swap'],
  ['a19d880f-05fc-4d3b-a006-743f0f84911e', 'Linux RAID'],
  ['933ac7e1-2eb4-4f13-b844-0e14e2aef915', 'Linux /home'],
  ['3b8f8425-20e0-4f3b-907f-1a25a76f98e8', 'Linux /srv'],
  ['4d21b016-b534-45c2-a9fb-5c16e091fd2d', 'Linux /var'],
  ['7ec6f557-3bc5-4aca-b293-16ef5df639d1', 'Linux /var/tmp'],
  ['44479540-f297-41b2-9af7-d131d5f0458a', 'Linux root (x86)'],
  ['4f68bce3-e8cd-4db1-96e7-fbcaf984b709', 'Linux root (x86-64)'],
  ['69dad710-2ce4-4e3c-b16c-21a1d49abed3', 'Linux root (ARM)'],
  ['b921b045-1df0-41c3-af44-4c6f280d3fae', 'Linux root (ARM-64)'],
  ['75250d76-8cc6-458e-bd66-bd47cc81a812', 'Linux /usr (x86)'],
  ['8484680c-9521-48c6-9c11-b0720656f69e', 'Linux /usr (x86-64)'],
  ['b0e01050-ee5f-4390-949a-9101b17104e9', 'Linux /usr (ARM-64)'],
  ['bc13c2ff-59e6-4262-a352-b275fd6f7172', 'Linux extended boot'],
  ['ca7d7ccb-63ed-4c53-861c-1742536059cc', 'Linux LUKS'],
  ['7ffec5c9-2d00-49b7-8941-3ea10a5586b7', 'Linux dm-crypt'],
  ['8da63339-0007-60c0-c436-083ac8230908', 'Linux reserved'],
  ['ebd0a0a2-b9e5-4433-87c0-68b6b72699c7', 'Microsoft basic data'],
  ['e3c9e316-0b5c-4db8-817d-f92df00215ae', 'Microsoft reserved'],
  ['de94bba4-06d1-4d40-a16a-bfd50179d6ac', 'Windows recovery environment'],
  ['5808c8aa-7e8f-42e0-85d2-e1e90434cfb3', 'Microsoft LDM metadata'],
  ['af9b60a0-1431-4f62-bc68-3311714a69ad', 'Microsoft LDM data'],
  ['48465300-0000-11aa-aa11-00306543ecac', 'Apple HFS/HFS+'],
  ['7c3457ef-0000-11aa-aa11-00306543ecac', 'Apple APFS'],
  ['516e7cb4-6ecf-11d6-8ff8-00022d09712b', 'FreeBSD data'],
  ['516e7cb5-6ecf-11d6-8ff8-00022d09712b', 'FreeBSD swap'],
  ['516e7cb6-6ecf-11d6-8ff8-00022d09712b', 'FreeBSD UFS'],
  ['516e7cba-6ecf-11d6-8ff8-00022d09712b', 'FreeBSD ZFS'],
]);

/** Friendly name of a GPT type GUID (lowercase canonical form), when it is a common one. */
export function gptTypeName(guid: string): string | undefined {
  return GPT_TYPE_NAMES.get(guid);
}

/** The type GUIDs this module names, for tests. */
export function knownGptTypes(): string[] {
  return [...GPT_TYPE_NAMES.keys()];
}

/** Reads a little-endian uint64 as a number; undefined when it does not fit in a safe integer. */
function u64(buf: Buffer, at: number): number | undefined {
  const v = buf.readBigUInt64LE(at);
  return v > BigInt(Number.MAX_SAFE_INTEGER) ? undefined : Number(v);
}

/** Decodes a GPT partition name: UTF-16LE up to the first NUL, lone surrogates replaced by U+FFFD. */
function decodeName(buf: Buffer, at: number, bytes: number): string {
  let end = at;
  while (end + 1 < at + bytes && (buf[end]! !== 0 || buf[end + 1]! !== 0)) end += 2;
  return buf
    .toString('utf16le', at, end)
    .replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
}

/** A GPT header that passed its checks. */
export interface GptHeader {
  sectorSize: number;
  /** LBA the header was read from (its MyLBA field). */
  lba: number;
  alternateLba: number;
  firstUsable: number;
  lastUsable: number;
  diskGuid: string;
  entryLba: number;
  entryCount: number;
  entrySize: number;
  entryCrc: number;
}

/** Result of looking for a header: the header, or why there is none and whether the signature was there. */
export type HeaderProbe =
  | { ok: true; header: GptHeader }
  | { ok: false; signature: boolean; reason: string; alternateLba?: number; limit?: boolean };

/** Why a GPT copy was rejected; `limit` when it was only too large for our caps. */
export interface GptProblem {
  text: string;
  limit: boolean;
}

/**
 * Reads and validates the GPT header at `lba` for logical sector size `ss`: signature, header size, CRC-32,
 * MyLBA, usable range and entry array geometry (size and count capped, array inside the disk).
 */
export function probeHeader(dev: BlockDevice, ss: number, lba: number): HeaderProbe {
  const total = Math.floor(dev.size / ss);
  if (lba < 1 || lba >= total)
    return { ok: false, signature: false, reason: `LBA ${lba} is outside the disk` };
  const buf = dev.read(lba * ss, ss);
  if (buf.toString('latin1', 0, 8) !== SIGNATURE) {
    return { ok: false, signature: false, reason: `no "EFI PART" signature at LBA ${lba}` };
  }
  const fail = (reason: string): HeaderProbe => ({
    ok: false,
    signature: true,
    reason: `LBA ${lba}: ${reason}`,
  });
  const headerSize = buf.readUInt32LE(12);
  if (headerSize < MIN_HEADER_SIZE || headerSize > ss) return fail(`header size ${headerSize} is invalid`);
  const stored = buf.readUInt32LE(16);
  const copy = Buffer.from(buf.subarray(0, headerSize));
  copy.writeUInt32LE(0, 16);
  if (crc32(copy) !== stored) return fail('header CRC-32 mismatch');
  // From here the header is intact as written; a bad field is a bad table, not a bit flip.
  const myLba = u64(buf, 24);
  const alternateLba = u64(buf, 32);
  const withAlt = (reason: string): HeaderProbe => {
    const r: HeaderProbe = fail(reason);
    if (!r.ok && alternateLba !== undefined) r.alternateLba = alternateLba;
    return r;
  };
  if (myLba !== lba) return withAlt(`MyLBA ${buf.readBigUInt64LE(24)} does not match`);
  const firstUsable = u64(buf, 40);
  const lastUsable = u64(buf, 48);
  if (firstUsable === undefined || lastUsable === undefined || firstUsable > lastUsable + 1) {
    return withAlt(`usable range ${buf.readBigUInt64LE(40)}..${buf.readBigUInt64LE(48)} is invalid`);
  }
  const entryLba = u64(buf, 72);
  const entryCount = buf.readUInt32LE(80);
  const entrySize = buf.readUInt32LE(84);
  if (entrySize < MIN_ENTRY_SIZE || entrySize > MAX_ENTRY_SIZE || entrySize % 8 !== 0) {
    return withAlt(`partition entry size ${entrySize} is invalid`);
  }
  if (entryCount > MAX_GPT_ENTRIES || entryCount * entrySize > MAX_GPT_ARRAY_BYTES) {
    const r = withAlt(
      `${entryCount} partition entries of ${entrySize} bytes exceed the limit (${MAX_GPT_ENTRIES} entries, ${MAX_GPT_ARRAY_BYTES} bytes)`,
    );
    if (!r.ok) r.limit = true;
    return r;
  }
  const arraySectors = Math.ceil((entryCount * entrySize) / ss);
  if (entryLba === undefined || entryLba < 1 || entryLba + arraySectors > total) {
    return withAlt(`partition entry array at LBA ${buf.readBigUInt64LE(72)} is outside the disk`);
  }
  if (arraySectors > 0 && lba >= entryLba && lba < entryLba + arraySectors) {
    return withAlt('partition entry array overlaps its header');
  }
  return {
    ok: true,
    header: {
      sectorSize: ss,
      lba,
      alternateLba: alternateLba ?? 0,
      firstUsable,
      lastUsable,
      diskGuid: formatGuid(buf, 56),
      entryLba,
      entryCount,
      entrySize,
      entryCrc: buf.readUInt32LE(88),
    },
  };
}

/** Reads the entry array of `h` and checks its CRC-32; undefined when it does not match. */
export function readEntryArray(dev: BlockDevice, h: GptHeader): Buffer | undefined {
  const bytes = h.entryCount * h.entrySize;
  const arr = dev.read(h.entryLba * h.sectorSize, bytes);
  return crc32(arr) === h.entryCrc ? arr : undefined;
}

/**
 * Turns a validated header and its entry array into partitions. Empty entries are ignored; entries outside the
 * disk, with end before start, or overlapping an earlier entry are skipped with a warning; entries outside the
 * usable range are kept with a warning. Throws E_IMAGE_CORRUPT when entries exist but none is usable.
 */
export function gptPartitions(
  dev: BlockDevice,
  h: GptHeader,
  arr: Buffer,
  warnings: string[],
): PartitionTable {
  const ss = h.sectorSize;
  const total = Math.floor(dev.size / ss);
  if (h.lastUsable >= total) {
    warnings.push(
      `GPT last usable LBA ${h.lastUsable} is beyond the disk (${total} sectors): the image may be truncated`,
    );
  }
  const partitions: Partition[] = [];
  const taken: Array<{ first: number; last: number; index: number }> = [];
  let nonEmpty = 0;
  for (let i = 0; i < h.entryCount; i++) {
    const at = i * h.entrySize;
    const index = i + 1;
    let empty = true;
    for (let k = 0; k < 16; k++) if (arr[at + k] !== 0) empty = false;
    if (empty) continue;
    nonEmpty++;
    const first = u64(arr, at + 32);
    const last = u64(arr, at + 40);
    const where = `GPT entry ${index}`;
    if (first === undefined || last === undefined || last < first) {
      warnings.push(
        `${where}: LBA range ${arr.readBigUInt64LE(at + 32)}..${arr.readBigUInt64LE(at + 40)} is invalid; skipped`,
      );
      continue;
    }
    if (last >= total) {
      warnings.push(`${where}: LBA range ${first}..${last} ends beyond the disk (${total} sectors); skipped`);
      continue;
    }
    const clash = taken.find((t) => first <= t.last && t.first <= last);
    if (clash !== undefined) {
      warnings.push(`${where}: LBA range ${first}..${last} overlaps partition ${clash.index}; skipped`);
      continue;
    }
    if (first < h.firstUsable || last > h.lastUsable) {
      warnings.push(
        `${where}: LBA range ${first}..${last} is outside the usable range ${h.firstUsable}..${h.lastUsable}`,
      );
    }
    taken.push({ first, last, index });
    const type = formatGuid(arr, at);
    const start = first * ss;
    const size = (last - first + 1) * ss;
    const p: Partition = {
      index,
      start,
      size,
      scheme: 'gpt',
      type,
      uuid: formatGuid(arr, at + 16),
      device: new SliceDevice(dev, start, size, `${dev.name}: partition ${index}`),
    };
    const typeName = gptTypeName(type);
    if (typeName !== undefined) p.typeName = typeName;
    const name = decodeName(arr, at + NAME_OFFSET, NAME_BYTES);
    if (name !== '') p.name = name;
    // Attribute bit 2: legacy BIOS bootable.
    if ((arr.readUInt32LE(at + 48) & 4) !== 0) p.bootable = true;
    partitions.push(p);
  }
  if (nonEmpty > 0 && partitions.length === 0) {
    throw corrupt(`none of the ${nonEmpty} GPT entries is usable: ${warnings.slice(-3).join('; ')}`, {
      file: dev.name,
      layer: 'GPT partition entries',
      offset: h.entryLba * ss,
    });
  }
  return { scheme: 'gpt', sectorSize: ss, partitions, warnings };
}

/**
 * Tries the primary header (LBA 1) for sector size `ss`: a table when header and entries are both valid;
 * otherwise the header probe (`ok` with a valid header means the entry array failed its CRC).
 */
export function readPrimaryGpt(
  dev: BlockDevice,
  ss: number,
  warnings: string[],
): { table: PartitionTable } | { table?: undefined; probe: HeaderProbe } {
  if (dev.size < ss * 3) return { probe: { ok: false, signature: false, reason: 'disk too small' } };
  const probe = probeHeader(dev, ss, 1);
  if (!probe.ok) return { probe };
  // A valid header with a probe.ok result but no table means the entry array failed its CRC.
  const arr = readEntryArray(dev, probe.header);
  if (arr === undefined) return { probe };
  return { table: gptPartitions(dev, probe.header, arr, warnings) };
}

/**
 * Tries backup headers for sector size `ss`: at `hint` (the primary's AlternateLBA, when the primary header was
 * intact) and at the last LBA of the disk. Returns a table from the first backup whose header and entries are
 * both valid, with a warning naming `primaryProblem`; otherwise records why in `problems`.
 */
export function readBackupGpt(
  dev: BlockDevice,
  ss: number,
  hint: number | undefined,
  primaryProblem: string,
  warnings: string[],
  problems: GptProblem[],
): PartitionTable | undefined {
  const total = Math.floor(dev.size / ss);
  if (total < 3) return undefined;
  const candidates = [...new Set([...(hint !== undefined && hint > 1 ? [hint] : []), total - 1])];
  for (const lba of candidates) {
    const probe = probeHeader(dev, ss, lba);
    if (!probe.ok) {
      problems.push({
        text: `backup GPT header (sector size ${ss}): ${probe.reason}`,
        limit: probe.limit === true,
      });
      continue;
    }
    const arr = readEntryArray(dev, probe.header);
    if (arr === undefined) {
      problems.push({
        text: `backup GPT at LBA ${lba} (sector size ${ss}): partition entry array CRC-32 mismatch`,
        limit: false,
      });
      continue;
    }
    warnings.push(`${primaryProblem}; using the backup GPT at LBA ${lba} (sector size ${ss})`);
    return gptPartitions(dev, probe.header, arr, warnings);
  }
  return undefined;
}
