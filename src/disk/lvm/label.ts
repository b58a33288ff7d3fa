/**
 * The on-disk side of an LVM2 physical volume: the label (`LABELONE` in one of the first four 512-byte sectors),
 * the PV header that follows it (PV UUID, data areas, metadata areas), the header of each metadata area, and the
 * current copy of the text metadata inside the area's circular buffer. Layout as in LVM2's
 * `lib/label/label.h`, `lib/format_text/layout.h` and `format-text.c`.
 *
 * Every structure is checked before use: LVM's own CRC over the label and over the metadata-area header, the
 * magic strings, the sector number the label claims, the area lists' bounds within the sector, and every
 * offset and size against the device. Errors are E_IMAGE_CORRUPT naming the device, the layer and the offset.
 */
import { crc32 } from '../crc32.js';
import type { BlockDevice } from '../types.js';
import { HyperwardError, corrupt } from '../../errors.js';

export const SECTOR = 512;
const LABEL_SCAN_SECTORS = 4;
const LABEL_ID = 'LABELONE';
const LABEL_TYPE = 'LVM2 001';
/** Header of the circular metadata buffer: the text never overlaps its first 512 bytes. */
export const MDA_HEADER_SIZE = 512;
const MDA_MAGIC = ' LVM2 x[5A%r0N*>';
const MDA_VERSION = 1;
const RAW_LOCN_IGNORED = 0x1;
const UUID_LEN = 32;
/** Metadata text larger than this is refused (E_LIMIT); real metadata is a few KiB to a few MiB. */
export const MAX_METADATA_TEXT = 16 * 1024 * 1024;

/** LVM2's checksum: the reflected CRC-32 polynomial, seeded with 0xf597a6cf and no final inversion. */
export const LVM_INITIAL_CRC = 0xf597a6cf;

/**
 * LVM2's `calc_crc`: CRC-32 (reflected polynomial 0xEDB88320) started from `initial` without the usual
 * pre- and post-inversion. Pass a previous result as `initial` to continue over a second buffer.
 */
export function lvmCrc(data: Uint8Array, start = 0, end = data.length, initial = LVM_INITIAL_CRC): number {
  // crc32() inverts on entry and exit; inverting around it undoes both.
  return ~crc32(data, start, end, ~initial >>> 0) >>> 0;
}

/** A disk area: byte offset from the start of the PV and size in bytes (0 = to the end, for data areas). */
export interface DiskArea {
  offset: number;
  size: number;
}

export interface PvLabel {
  /** Sector (0..3) the label was found in. */
  sector: number;
  /** PV UUID as stored: 32 characters without dashes. */
  uuid: string;
  /** Device size the PV header records, in bytes. */
  deviceSize: number;
  dataAreas: DiskArea[];
  metadataAreas: DiskArea[];
}

/** The current copy of the text metadata in one metadata area. */
export interface MetadataCopy {
  text: string;
  /** Byte offset of the metadata area on the device. */
  areaOffset: number;
  /** Byte offset of the text on the device (its first part, when it wraps around the buffer). */
  textOffset: number;
  /** True when the text wraps from the end of the circular buffer to its start. */
  wrapped: boolean;
}

function u64(buf: Buffer, at: number, dev: BlockDevice, layer: string, base: number): number {
  const v = buf.readBigUInt64LE(at);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw corrupt(`64-bit field ${v} is out of range`, { file: dev.name, layer, offset: base + at });
  }
  return Number(v);
}

/**
 * Finds and validates the LVM2 label of `dev`. Returns undefined when none of the first four sectors carries
 * `LABELONE` (the device is not a PV); throws E_IMAGE_CORRUPT when a label is there but damaged.
 */
export function readPvLabel(dev: BlockDevice): PvLabel | undefined {
  const sectors = Math.min(LABEL_SCAN_SECTORS, Math.floor(dev.size / SECTOR));
  if (sectors === 0) return undefined;
  const head = dev.read(0, sectors * SECTOR);
  for (let s = 0; s < sectors; s++) {
    const base = s * SECTOR;
    if (head.toString('latin1', base, base + 8) !== LABEL_ID) continue;
    return parseLabel(head.subarray(base, base + SECTOR), s, dev);
  }
  return undefined;
}

function parseLabel(sec: Buffer, s: number, dev: BlockDevice): PvLabel {
  const file = dev.name;
  const layer = 'LVM label';
  const at = s * SECTOR;
  const bad = (msg: string, off: number): HyperwardError => corrupt(msg, { file, layer, offset: at + off });
  const claimed = u64(sec, 8, dev, layer, at);
  if (claimed !== s) throw bad(`label in sector ${s} says it is in sector ${claimed}`, 8);
  const crc = sec.readUInt32LE(16);
  const want = lvmCrc(sec, 20, SECTOR);
  if (crc !== want) {
    throw bad(`label checksum 0x${crc.toString(16)} does not match 0x${want.toString(16)}`, 16);
  }
  const type = sec.toString('latin1', 24, 32);
  if (type !== LABEL_TYPE) {
    throw new HyperwardError(
      'E_UNSUPPORTED_FORMAT',
      `LVM label type ${JSON.stringify(type)} is not LVM2 001`,
      {
        file,
        layer,
        offset: at + 24,
      },
    );
  }
  const ph = sec.readUInt32LE(20);
  // PV header: UUID, device size, then two zero-terminated lists of 16-byte areas.
  if (ph < 32 || ph + UUID_LEN + 8 + 32 > SECTOR)
    throw bad(`PV header offset ${ph} is outside the label sector`, 20);
  const uuid = sec.toString('latin1', ph, ph + UUID_LEN);
  if (!/^[A-Za-z0-9!#]{32}$/.test(uuid)) throw bad('PV UUID has invalid characters', ph);
  const deviceSize = u64(sec, ph + UUID_LEN, dev, 'LVM PV header', at);
  let p = ph + UUID_LEN + 8;
  const list = (what: string): DiskArea[] => {
    const out: DiskArea[] = [];
    for (;;) {
      if (p + 16 > SECTOR) throw bad(`${what} list runs past the label sector`, p);
      const offset = u64(sec, p, dev, 'LVM PV header', at);
      const size = u64(sec, p + 8, dev, 'LVM PV header', at);
      p += 16;
      if (offset === 0) return out;
      out.push({ offset, size });
    }
  };
  const dataAreas = list('data area');
  const metadataAreas = list('metadata area');
  return { sector: s, uuid, deviceSize, dataAreas, metadataAreas };
}

/** Inserts the dashes LVM shows UUIDs with (6-4-4-4-4-4-6). */
export function formatLvmUuid(raw: string): string {
  if (raw.length !== UUID_LEN) return raw;
  const parts = [6, 4, 4, 4, 4, 4, 6];
  const out: string[] = [];
  let i = 0;
  for (const n of parts) {
    out.push(raw.slice(i, i + n));
    i += n;
  }
  return out.join('-');
}

/**
 * Reads the metadata-area header at `area` and the current (committed) copy of the text metadata from its
 * circular buffer. Returns undefined for an area that holds no metadata yet or is marked ignored
 * (`pvchange --metadataignore`); throws E_IMAGE_CORRUPT for a damaged header or text, E_LIMIT for oversized text.
 */
export function readMetadataArea(dev: BlockDevice, area: DiskArea): MetadataCopy | undefined {
  const file = dev.name;
  const layer = 'LVM metadata area header';
  const bad = (msg: string, off: number): HyperwardError =>
    corrupt(msg, { file, layer, offset: area.offset + off });
  if (area.offset + MDA_HEADER_SIZE > dev.size) throw bad('metadata area lies past the end of the device', 0);
  const h = dev.read(area.offset, MDA_HEADER_SIZE);
  const crc = h.readUInt32LE(0);
  const want = lvmCrc(h, 4, MDA_HEADER_SIZE);
  if (crc !== want)
    throw bad(`header checksum 0x${crc.toString(16)} does not match 0x${want.toString(16)}`, 0);
  if (h.toString('latin1', 4, 20) !== MDA_MAGIC) throw bad('bad metadata area magic', 4);
  const version = h.readUInt32LE(20);
  if (version !== MDA_VERSION) throw bad(`metadata area version ${version} is not 1`, 20);
  const start = u64(h, 24, dev, layer, area.offset);
  if (start !== area.offset) throw bad(`header says the area starts at ${start}, not ${area.offset}`, 24);
  const size = u64(h, 32, dev, layer, area.offset);
  if (size <= MDA_HEADER_SIZE || area.offset + size > dev.size) {
    throw bad(`metadata area size ${size} does not fit the device`, 32);
  }
  // raw_locn[0]: the committed metadata (raw_locn[1], when set, is a precommitted copy and is not used).
  const offset = u64(h, 40, dev, layer, area.offset);
  const length = u64(h, 48, dev, layer, area.offset);
  const checksum = h.readUInt32LE(56);
  const flags = h.readUInt32LE(60);
  if (offset === 0 || (flags & RAW_LOCN_IGNORED) !== 0) return undefined;
  if (offset < MDA_HEADER_SIZE || offset >= size)
    throw bad(`metadata offset ${offset} is outside the area`, 40);
  if (length === 0 || length > size - MDA_HEADER_SIZE)
    throw bad(`metadata size ${length} does not fit the area`, 48);
  if (length > MAX_METADATA_TEXT) {
    throw new HyperwardError('E_LIMIT', `metadata of ${length} bytes is larger than ${MAX_METADATA_TEXT}`, {
      file,
      layer,
      offset: area.offset + 48,
    });
  }
  // The text may wrap from the end of the buffer to just after the header.
  const first = Math.min(length, size - offset);
  const a = dev.read(area.offset + offset, first);
  const b = length > first ? dev.read(area.offset + MDA_HEADER_SIZE, length - first) : Buffer.alloc(0);
  const sum = lvmCrc(b, 0, b.length, lvmCrc(a));
  if (sum !== checksum) {
    throw corrupt(`metadata checksum 0x${sum.toString(16)} does not match 0x${checksum.toString(16)}`, {
      file,
      layer: 'LVM text metadata',
      offset: area.offset + offset,
    });
  }
  const raw = Buffer.concat([a, b]);
  let end = raw.length;
  while (end > 0 && raw[end - 1] === 0) end--;
  if (raw.subarray(0, end).includes(0)) {
    throw corrupt('metadata text contains a NUL byte', {
      file,
      layer: 'LVM text metadata',
      offset: area.offset + offset,
    });
  }
  return {
    text: raw.toString('utf8', 0, end),
    areaOffset: area.offset,
    textOffset: area.offset + offset,
    wrapped: length > first,
  };
}
