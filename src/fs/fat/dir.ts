/**
 * FAT directory entries: 32-byte short (8.3) entries, the long-file-name (LFN, "VFAT") entries in front of
 * them, and the date/time encoding. A directory is fed to a {@link DirParser} one piece at a time (a cluster, or
 * the fixed FAT12/16 root), because a long name may straddle two clusters.
 *
 * Hostile input: an LFN sequence that is broken (wrong order, wrong count, checksum mismatch with its short
 * entry, invalid characters) is dropped and the short name is used, as Windows and Linux do; deleted entries
 * and orphaned LFN entries are skipped; a short name that cannot be a file name is reported as corruption.
 */
import { fsCorrupt } from '../../errors.js';

export const ENTRY_SIZE = 32;

export const ATTR_READ_ONLY = 0x01;
export const ATTR_HIDDEN = 0x02;
export const ATTR_SYSTEM = 0x04;
export const ATTR_VOLUME_ID = 0x08;
export const ATTR_DIRECTORY = 0x10;
export const ATTR_ARCHIVE = 0x20;
const ATTR_LONG_NAME = ATTR_READ_ONLY | ATTR_HIDDEN | ATTR_SYSTEM | ATTR_VOLUME_ID;
const ATTR_LONG_NAME_MASK = 0x3f;

/** NTRes bits (Windows NT): the base name / the extension is shown in lower case. */
const NT_LOWER_BASE = 0x08;
const NT_LOWER_EXT = 0x10;

const FREE_MARK = 0xe5;
const LFN_LAST = 0x40;
const LFN_SEQ_MASK = 0x1f;
const LFN_MAX_ENTRIES = 20;
const LFN_CHARS = 13;
/** Longest long name, in UTF-16 code units. */
const MAX_LFN = 255;
/** Offsets of the 13 UTF-16 code units inside an LFN entry. */
const LFN_UNIT_OFFSETS = [1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30] as const;

/** One live short entry with the name it is shown under. */
export interface FatEntry {
  /** Byte offset of the short entry on the device: the synthetic inode number. */
  offset: number;
  /** The long name when a valid LFN sequence precedes the entry, else the short name. */
  name: string;
  /** The 8.3 name (with NTRes case applied), when it is a valid name. */
  shortName?: string;
  attr: number;
  /** First cluster (0 for an empty file). */
  cluster: number;
  size: number;
  /** Last modification, seconds since the epoch, read as UTC. */
  mtime: number;
}

/**
 * FAT date and time fields as seconds since the epoch, read as UTC (FAT stores local time with no zone).
 * A zero date means "not set" and gives 0; out-of-range months and days are clamped into range.
 */
export function fatTime(date: number, time: number): number {
  if (date === 0) return 0;
  const year = 1980 + (date >> 9);
  const month = Math.min(12, Math.max(1, (date >> 5) & 0x0f));
  const day = Math.max(1, date & 0x1f);
  const hours = time >> 11;
  const minutes = (time >> 5) & 0x3f;
  const seconds = (time & 0x1f) * 2;
  return Date.UTC(year, month - 1, day, hours, minutes, seconds) / 1000;
}

/** The checksum of an 11-byte short name that every LFN entry of the sequence carries (specification §7). */
export function shortNameChecksum(raw: Buffer, at: number): number {
  let sum = 0;
  for (let i = 0; i < 11; i++) sum = (((sum & 1) << 7) + (sum >> 1) + raw[at + i]!) & 0xff;
  return sum;
}

/**
 * The 8.3 name of the entry at `at` (OEM code page read as latin1), lower-cased per NTRes; undefined when the
 * bytes cannot form a name (empty base, control characters, `/`).
 */
export function shortName(buf: Buffer, at: number): string | undefined {
  const bytes = Buffer.from(buf.subarray(at, at + 11));
  if (bytes[0] === 0x05) bytes[0] = FREE_MARK;
  for (const b of bytes) if (b < 0x20 || b === 0x2f || b === 0x5c) return undefined;
  let base = bytes.toString('latin1', 0, 8).replace(/ +$/, '');
  let ext = bytes.toString('latin1', 8, 11).replace(/ +$/, '');
  if (base === '') return undefined;
  const nt = buf[at + 12]!;
  if ((nt & NT_LOWER_BASE) !== 0) base = base.toLowerCase();
  if ((nt & NT_LOWER_EXT) !== 0) ext = ext.toLowerCase();
  return ext === '' ? base : `${base}.${ext}`;
}

interface PendingLfn {
  count: number;
  /** Sequence number the next physical entry must carry. */
  next: number;
  checksum: number;
  units: Uint16Array;
}

/** Decodes the collected UTF-16 units of a complete LFN; undefined when they do not form a valid name. */
function lfnName(p: PendingLfn): string | undefined {
  let len = p.units.indexOf(0);
  if (len < 0) len = p.units.length;
  // Padding after the terminator must be 0xFFFF; tolerated when it is not, as other readers do.
  if (len === 0 || len > MAX_LFN) return undefined;
  const name = Buffer.from(p.units.buffer, p.units.byteOffset, len * 2).toString('utf16le');
  if (name === '.' || name === '..' || name.includes('/')) return undefined;
  return name;
}

/** What {@link DirParser.feed} met: more entries may follow, or the end-of-directory mark. */
export type FeedResult = 'more' | 'end';

/**
 * Walks directory slots in order, assembling long names, and hands each live entry to `emit`. `.` and `..`
 * are left out; a volume label entry is kept in `label` instead.
 */
export class DirParser {
  /** The volume label entry met, if any (meaningful in the root directory). */
  label?: string;
  private lfn: PendingLfn | undefined;

  constructor(
    private readonly file: string,
    private readonly layer: string,
    private readonly fat32: boolean,
    private readonly emit: (e: FatEntry) => void,
  ) {}

  /** Parses the whole slots of `buf`, whose first byte lies at device offset `devOffset`. */
  feed(buf: Buffer, devOffset: number): FeedResult {
    for (let at = 0; at + ENTRY_SIZE <= buf.length; at += ENTRY_SIZE) {
      const b0 = buf[at]!;
      if (b0 === 0x00) return 'end';
      if (b0 === FREE_MARK) {
        this.lfn = undefined;
        continue;
      }
      const attr = buf[at + 11]!;
      if ((attr & ATTR_LONG_NAME_MASK) === ATTR_LONG_NAME) {
        this.longEntry(buf, at);
        continue;
      }
      const lfn = this.lfn;
      this.lfn = undefined;
      if ((attr & ATTR_VOLUME_ID) !== 0) {
        // A volume label (VOLUME_ID alone) or the invalid VOLUME_ID|DIRECTORY combination: not a file.
        if ((attr & ATTR_DIRECTORY) === 0 && this.label === undefined) {
          this.label = buf.toString('latin1', at, at + 11).replace(/[ \0]+$/, '');
        }
        continue;
      }
      if (b0 === 0x2e) {
        const raw = buf.toString('latin1', at, at + 11);
        if (raw === '.          ' || raw === '..         ') continue;
      }
      const short = shortName(buf, at);
      let name: string | undefined;
      if (lfn !== undefined && lfn.next === 0 && lfn.checksum === shortNameChecksum(buf, at))
        name = lfnName(lfn);
      name ??= short;
      if (name === undefined) {
        throw fsCorrupt('directory entry has no valid name', {
          file: this.file,
          layer: this.layer,
          offset: devOffset + at,
        });
      }
      const e: FatEntry = {
        offset: devOffset + at,
        name,
        attr,
        cluster: parseCluster(buf, at, this.fat32),
        size: buf.readUInt32LE(at + 28),
        mtime: fatTime(buf.readUInt16LE(at + 24), buf.readUInt16LE(at + 22)),
      };
      if (short !== undefined) e.shortName = short;
      this.emit(e);
    }
    return 'more';
  }

  private longEntry(buf: Buffer, at: number): void {
    const ord = buf[at]!;
    const seq = ord & LFN_SEQ_MASK;
    const checksum = buf[at + 13]!;
    let p = this.lfn;
    if ((ord & LFN_LAST) !== 0) {
      // The first physical entry of a sequence; whatever was pending is an orphan.
      if (seq < 1 || seq > LFN_MAX_ENTRIES) {
        this.lfn = undefined;
        return;
      }
      p = { count: seq, next: seq, checksum, units: new Uint16Array(seq * LFN_CHARS) };
      this.lfn = p;
    } else if (p === undefined || seq !== p.next || seq === 0 || checksum !== p.checksum) {
      this.lfn = undefined;
      return;
    }
    const base = (seq - 1) * LFN_CHARS;
    for (let k = 0; k < LFN_CHARS; k++) p.units[base + k] = buf.readUInt16LE(at + LFN_UNIT_OFFSETS[k]!);
    p.next = seq - 1;
  }
}

/**
 * First cluster of a short entry: the low word, plus the high word on FAT32 (on FAT12/16 that word belongs to
 * other uses, such as OS/2 extended attributes, and is ignored).
 */
export function parseCluster(buf: Buffer, at: number, fat32: boolean): number {
  const hi = fat32 ? buf.readUInt16LE(at + 20) & 0x0fff : 0;
  return hi * 0x10000 + buf.readUInt16LE(at + 26);
}
