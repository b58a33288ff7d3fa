/**
 * VHDX (Hyper-V virtual hard disk v2, MS-VHDX) reader: fixed, dynamic and differencing disks, with in-memory
 * replay of the metadata log of a file that was not closed cleanly.
 *
 * Layout (little-endian): a 1 MiB header section (file identifier, two 4 KiB headers at 64 and 128 KiB with
 * CRC-32C and sequence numbers, two copies of the region table at 192 and 256 KiB), then MiB-aligned regions:
 * the log, the metadata region (a table of GUID-keyed items: block size, virtual size, sector sizes, parent
 * locator) and the block allocation table (BAT), whose 64-bit entries give each payload block's state and file
 * offset, with one sector-bitmap entry after every `chunkRatio` payload entries.
 *
 * Nothing is ever written: a dirty log is replayed into an in-memory overlay of the file.
 */
import { HyperwardError, corrupt } from '../errors.js';
import { Lru } from '../lru.js';
import type { FileSource } from '../source/file.js';
import { overlayPresentSectors, readBacking } from './backing.js';
import { crc32cWithZeroedField } from './crc32c.js';
import type { OpenContext } from './open.js';
import { PagedTable } from './paged-table.js';
import { checkRange, type BlockDevice, type DeviceInfo } from './types.js';
import { openParent, type ParentCandidate } from './vhd.js';

const KiB = 1024;
const MiB = 1024 * 1024;
const HEADER_OFFSETS = [64 * KiB, 128 * KiB] as const;
const HEADER_SIZE = 4 * KiB;
const REGION_TABLE_OFFSETS = [192 * KiB, 256 * KiB] as const;
const REGION_TABLE_SIZE = 64 * KiB;
const METADATA_TABLE_SIZE = 64 * KiB;
const MAX_TABLE_ENTRIES = 2047;
const MAX_METADATA_ITEM = MiB;
const MAX_VIRTUAL_SIZE = 64 * 1024 ** 4;
const MIN_BLOCK_SIZE = MiB;
const MAX_BLOCK_SIZE = 256 * MiB;
const SECTORS_PER_BITMAP_BLOCK = 2 ** 23;
/** FileOffsetMB values above this cannot be a real file offset (8 PiB) and would overflow a double. */
const MAX_FILE_OFFSET_MB = 2 ** 33;

const BAT_PAGE_ENTRIES = 512;
const BAT_CACHE_PAGES = 256;
const BITMAP_CACHE_ENTRIES = 64;

const LOG_SECTOR = 4 * KiB;
/** Largest log replayed in memory (Hyper-V and QEMU create 1 MiB logs). */
const MAX_LOG_LENGTH = 32 * MiB;
/** Most descriptors replayed, and most 4 KiB file sectors the replayed log may touch. */
const MAX_LOG_DESCRIPTORS = 262144;
const MAX_LOG_SECTORS = 262144;

const GUID_BAT = '2dc27766-f623-4200-9d64-115e9bfd4a08';
const GUID_METADATA = '8b7ca206-4790-4b9a-b8fe-575f050f886e';
const GUID_FILE_PARAMETERS = 'caa16737-fa36-4d43-b3b6-33f0aa44e76b';
const GUID_VIRTUAL_DISK_SIZE = '2fa54224-cd1b-4876-b211-5dbed83bf4b8';
const GUID_PAGE83 = 'beca12ab-b2e6-4523-93ef-c309e000c746';
const GUID_LOGICAL_SECTOR_SIZE = '8141bf1d-a96f-4709-ba47-f233a8faab5f';
const GUID_PHYSICAL_SECTOR_SIZE = 'cda348c7-445d-4471-9cc9-e9885251c556';
const GUID_PARENT_LOCATOR = 'a8d35f2d-b30b-454d-abf7-d3d84834ab0c';
const GUID_VHDX_LOCATOR_TYPE = 'b04aefb7-d19e-4a81-b789-25b8e9445913';
const ZERO_GUID = '00000000-0000-0000-0000-000000000000';

const SIG_HEAD = 0x64616568; // "head"
const SIG_REGI = 0x69676572; // "regi"
const SIG_LOGE = 0x65676f6c; // "loge"
const SIG_ZERO = 0x6f72657a; // "zero"
const SIG_DESC = 0x63736564; // "desc"
const SIG_DATA = 0x61746164; // "data"

const PAYLOAD_NOT_PRESENT = 0;
const PAYLOAD_UNDEFINED = 1;
const PAYLOAD_ZERO = 2;
const PAYLOAD_UNMAPPED = 3;
const PAYLOAD_FULLY_PRESENT = 6;
const PAYLOAD_PARTIALLY_PRESENT = 7;
const SB_PRESENT = 6;

const METADATA_NAMES: Readonly<Record<string, string>> = {
  [GUID_FILE_PARAMETERS]: 'File Parameters',
  [GUID_VIRTUAL_DISK_SIZE]: 'Virtual Disk Size',
  [GUID_PAGE83]: 'Virtual Disk ID',
  [GUID_LOGICAL_SECTOR_SIZE]: 'Logical Sector Size',
  [GUID_PHYSICAL_SECTOR_SIZE]: 'Physical Sector Size',
  [GUID_PARENT_LOCATOR]: 'Parent Locator',
};

/** A Microsoft GUID (first three fields little-endian) as lowercase 8-4-4-4-12. */
function guidString(b: Buffer, at = 0): string {
  const h = (from: number, to: number): string => b.toString('hex', at + from, at + to);
  const le = (from: number, len: number): string => {
    let s = '';
    for (let i = len - 1; i >= 0; i--) s += b.toString('hex', at + from + i, at + from + i + 1);
    return s;
  };
  return `${le(0, 4)}-${le(4, 2)}-${le(6, 2)}-${h(8, 10)}-${h(10, 16)}`;
}

/** A u64 little-endian field as a number, or undefined when it is not a safe integer. */
function u64(buf: Buffer, at: number): number | undefined {
  const v = buf.readBigUInt64LE(at);
  return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : undefined;
}

/** What the device reads its file through: the file itself, or the file with a replayed log on top. */
interface ByteSource {
  readonly path: string;
  readonly size: number;
  read(offset: number, length: number, layer?: string): Buffer;
  readInto(buf: Buffer, bufOffset: number, length: number, offset: number, layer?: string): void;
}

/**
 * The file as it would be after log replay: 4 KiB sectors written (or zeroed) by the log are served from memory,
 * and the file is virtually extended with zeros up to the size the log requires.
 */
class LogOverlay implements ByteSource {
  private readonly keys: number[];

  constructor(
    private readonly src: FileSource,
    readonly size: number,
    private readonly sectors: ReadonlyMap<number, Buffer | null>,
  ) {
    this.keys = [...sectors.keys()].sort((a, b) => a - b);
  }

  get path(): string {
    return this.src.path;
  }

  read(offset: number, length: number, layer = 'file'): Buffer {
    const buf = Buffer.alloc(length);
    this.readInto(buf, 0, length, offset, layer);
    return buf;
  }

  readInto(buf: Buffer, bufOffset: number, length: number, offset: number, layer = 'file'): void {
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
      throw corrupt(`invalid read of ${length} bytes`, { file: this.path, layer, offset });
    }
    if (offset + length > this.size) {
      throw corrupt(
        `${length} bytes needed but the file (after log replay) ends at ${this.size} (truncated, or a pointer past the end)`,
        { file: this.path, layer, offset },
      );
    }
    if (length === 0) return;
    const fromFile = Math.max(0, Math.min(length, this.src.size - offset));
    if (fromFile > 0) this.src.readInto(buf, bufOffset, fromFile, offset, layer);
    if (fromFile < length) buf.fill(0, bufOffset + fromFile, bufOffset + length);
    const first = Math.floor(offset / LOG_SECTOR);
    const last = Math.floor((offset + length - 1) / LOG_SECTOR);
    let lo = 0;
    let hi = this.keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.keys[mid]! < first) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < this.keys.length && this.keys[i]! <= last; i++) {
      const key = this.keys[i]!;
      const s = key * LOG_SECTOR;
      const a = Math.max(offset, s);
      const b = Math.min(offset + length, s + LOG_SECTOR);
      const v = this.sectors.get(key);
      if (v === null || v === undefined) buf.fill(0, bufOffset + (a - offset), bufOffset + (b - offset));
      else v.copy(buf, bufOffset + (a - offset), a - s, b - s);
    }
  }
}

interface Header {
  at: number;
  seq: bigint;
  fileWriteGuid: string;
  dataWriteGuid: string;
  logGuid: string;
  logVersion: number;
  version: number;
  logLength: number;
  logOffset: bigint;
}

function parseHeader(buf: Buffer, at: number): Header | undefined {
  if (buf.readUInt32LE(0) !== SIG_HEAD) return undefined;
  if (crc32cWithZeroedField(buf, 4) !== buf.readUInt32LE(4)) return undefined;
  return {
    at,
    seq: buf.readBigUInt64LE(8),
    fileWriteGuid: guidString(buf, 16),
    dataWriteGuid: guidString(buf, 32),
    logGuid: guidString(buf, 48),
    logVersion: buf.readUInt16LE(64),
    version: buf.readUInt16LE(66),
    logLength: buf.readUInt32LE(68),
    logOffset: buf.readBigUInt64LE(72),
  };
}

type LogOp =
  { zero: false; fileOffset: number; data: Buffer } | { zero: true; fileOffset: number; length: number };

interface LogEntry {
  offset: number;
  length: number;
  seq: bigint;
  tail: number;
  flushed: number;
  last: number;
  ops: LogOp[];
}

function cannotReplay(file: string, reason: string, offset?: number): HyperwardError {
  return new HyperwardError(
    'E_UNSUPPORTED_FORMAT',
    `the VHDX log is not empty (the file was not closed cleanly) and cannot be replayed in memory: ${reason}; ` +
      'the log must be replayed first: attach the disk once in Hyper-V, or run `qemu-img check -r all` on a copy',
    { file, layer: 'VHDX log', ...(offset !== undefined ? { offset } : {}) },
  );
}

/**
 * Finds the active log sequence (MS-VHDX 2.3.3) and replays it into an in-memory overlay of the file. Returns the
 * plain file when there is nothing to replay.
 */
function replayLog(src: FileSource, h: Header, warnings: string[]): ByteSource {
  const file = src.path;
  const N = h.logLength;
  if (N === 0) {
    warnings.push('the header has a log GUID but a zero-length log; nothing to replay');
    return src;
  }
  if (h.logVersion !== 0) throw cannotReplay(file, `unknown log version ${h.logVersion}`);
  if (N % LOG_SECTOR !== 0) throw cannotReplay(file, `log length ${N} is not a multiple of 4 KiB`);
  if (N > MAX_LOG_LENGTH) throw cannotReplay(file, `log of ${N} bytes is larger than ${MAX_LOG_LENGTH}`);
  const logOffset = h.logOffset <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(h.logOffset) : -1;
  if (logOffset < MiB || logOffset + N > src.size) {
    throw corrupt(`log of ${N} bytes at offset ${h.logOffset} is outside the file (size ${src.size})`, {
      file,
      layer: 'VHDX header',
      offset: h.at,
    });
  }
  const log = src.read(logOffset, N, 'VHDX log');
  const circ = (pos: number, len: number): Buffer =>
    pos + len <= N
      ? log.subarray(pos, pos + len)
      : Buffer.concat([log.subarray(pos), log.subarray(0, len - (N - pos))]);
  let crcBudget = 4 * N + MiB;
  let descriptorBudget = MAX_LOG_DESCRIPTORS;
  const seqHigh = (s: bigint): number => Number((s >> 32n) & 0xffffffffn);
  const seqLow = (s: bigint): number => Number(s & 0xffffffffn);

  const parseEntry = (o: number): LogEntry | undefined => {
    const hd = circ(o, 64);
    if (hd.readUInt32LE(0) !== SIG_LOGE) return undefined;
    const length = hd.readUInt32LE(8);
    const tail = hd.readUInt32LE(12);
    const seq = hd.readBigUInt64LE(16);
    const count = hd.readUInt32LE(24);
    if (length < LOG_SECTOR || length % LOG_SECTOR !== 0 || length > N) return undefined;
    if (seq === 0n || tail % LOG_SECTOR !== 0 || tail >= N) return undefined;
    if (guidString(hd, 32) !== h.logGuid) return undefined;
    const flushed = u64(hd, 48);
    const last = u64(hd, 56);
    if (flushed === undefined || last === undefined) return undefined;
    if (count > length / 32) return undefined;
    const descSectors = Math.ceil((count + 2) / 128);
    const sectors = length / LOG_SECTOR;
    if (descSectors > sectors) return undefined;
    crcBudget -= length;
    if (crcBudget < 0)
      throw cannotReplay(file, 'the log has too many overlapping entries to scan', logOffset + o);
    const e = circ(o, length);
    if (crc32cWithZeroedField(e, 4) !== e.readUInt32LE(4)) return undefined;
    descriptorBudget -= count;
    if (descriptorBudget < 0) throw cannotReplay(file, `more than ${MAX_LOG_DESCRIPTORS} descriptors`);
    const ops: LogOp[] = [];
    let dataIndex = 0;
    for (let i = 0; i < count; i++) {
      const d = 64 + i * 32;
      if (d + 32 > descSectors * LOG_SECTOR) return undefined;
      const sig = e.readUInt32LE(d);
      if (e.readBigUInt64LE(d + 24) !== seq) return undefined;
      const fileOffset = u64(e, d + 16);
      if (fileOffset === undefined || fileOffset % LOG_SECTOR !== 0) return undefined;
      if (sig === SIG_ZERO) {
        const zlen = u64(e, d + 8);
        if (zlen === undefined || zlen % LOG_SECTOR !== 0 || fileOffset + zlen > Number.MAX_SAFE_INTEGER) {
          return undefined;
        }
        ops.push({ zero: true, fileOffset, length: zlen });
      } else if (sig === SIG_DESC) {
        const sIdx = descSectors + dataIndex++;
        if (sIdx >= sectors) return undefined;
        const ds = e.subarray(sIdx * LOG_SECTOR, (sIdx + 1) * LOG_SECTOR);
        if (ds.readUInt32LE(0) !== SIG_DATA || ds.readUInt32LE(4) !== seqHigh(seq)) return undefined;
        if (ds.readUInt32LE(LOG_SECTOR - 4) !== seqLow(seq)) return undefined;
        const data = Buffer.alloc(LOG_SECTOR);
        e.copy(data, 0, d + 8, d + 16);
        ds.copy(data, 8, 8, LOG_SECTOR - 4);
        e.copy(data, LOG_SECTOR - 4, d + 4, d + 8);
        ops.push({ zero: false, fileOffset, data });
      } else {
        return undefined;
      }
    }
    return { offset: o, length, seq, tail, flushed, last, ops };
  };

  const entries = new Map<number, LogEntry>();
  for (let o = 0; o < N; o += LOG_SECTOR) {
    const e = parseEntry(o);
    if (e !== undefined) entries.set(o, e);
  }
  const next = (e: LogEntry): LogEntry | undefined => {
    const n = entries.get((e.offset + e.length) % N);
    return n !== undefined && n.seq === e.seq + 1n ? n : undefined;
  };
  const hasPred = new Set<number>();
  for (const e of entries.values()) {
    const n = next(e);
    if (n !== undefined) hasPred.add(n.offset);
  }
  let active: LogEntry[] | undefined;
  for (const start of entries.values()) {
    if (hasPred.has(start.offset)) continue;
    const chain = [start];
    for (let n = next(start); n !== undefined && chain.length <= entries.size; n = next(n)) chain.push(n);
    const head = chain[chain.length - 1]!;
    const tailIndex = chain.findIndex((c) => c.offset === head.tail);
    if (tailIndex < 0) continue;
    if (active === undefined || head.seq > active[active.length - 1]!.seq) active = chain.slice(tailIndex);
  }
  if (active === undefined) {
    warnings.push(
      'the header has a log GUID but the log holds no valid entry sequence; nothing was replayed (the metadata is read as it is on disk)',
    );
    return src;
  }
  const head = active[active.length - 1]!;
  if (head.flushed > src.size) {
    throw corrupt(
      `the file is ${src.size} bytes but its log says at least ${head.flushed} bytes were written: the file is truncated`,
      { file, layer: 'VHDX log', offset: logOffset + head.offset },
    );
  }
  const sectors = new Map<number, Buffer | null>();
  let size = Math.max(src.size, head.last);
  for (const entry of active) {
    for (const op of entry.ops) {
      const first = op.fileOffset / LOG_SECTOR;
      const count = op.zero ? op.length / LOG_SECTOR : 1;
      if (sectors.size + count > MAX_LOG_SECTORS && count > 0) {
        let fresh = 0;
        for (let s = first; s < first + count && fresh <= MAX_LOG_SECTORS; s++) if (!sectors.has(s)) fresh++;
        if (sectors.size + fresh > MAX_LOG_SECTORS) {
          throw cannotReplay(file, `the log touches more than ${MAX_LOG_SECTORS} sectors of 4 KiB`);
        }
      }
      for (let s = first; s < first + count; s++) sectors.set(s, op.zero ? null : op.data);
      size = Math.max(size, op.fileOffset + count * LOG_SECTOR);
    }
  }
  warnings.push(
    `the VHDX log was not empty (the file was not closed cleanly); replayed ${active.length} log entr${active.length === 1 ? 'y' : 'ies'} in memory`,
  );
  return new LogOverlay(src, size, sectors);
}

interface Region {
  offset: number;
  length: number;
}

/** Parses one copy of the region table; returns a reason string when it is not valid. */
function parseRegionTable(buf: Buffer): Map<string, Region & { required: boolean; raw: bigint }> | string {
  if (buf.readUInt32LE(0) !== SIG_REGI) return 'bad signature';
  if (crc32cWithZeroedField(buf, 4) !== buf.readUInt32LE(4)) return 'CRC-32C mismatch';
  const count = buf.readUInt32LE(8);
  if (count > MAX_TABLE_ENTRIES) return `${count} entries (at most ${MAX_TABLE_ENTRIES})`;
  const out = new Map<string, Region & { required: boolean; raw: bigint }>();
  for (let i = 0; i < count; i++) {
    const at = 16 + i * 32;
    const guid = guidString(buf, at);
    if (out.has(guid)) return `duplicate region ${guid}`;
    const raw = buf.readBigUInt64LE(at + 16);
    out.set(guid, {
      offset: raw <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(raw) : -1,
      raw,
      length: buf.readUInt32LE(at + 24),
      required: (buf.readUInt32LE(at + 28) & 1) !== 0,
    });
  }
  return out;
}

interface Geometry {
  blockSize: number;
  logicalSectorSize: number;
  chunkRatio: number;
  batOffset: number;
  batEntries: number;
  hasParent: boolean;
}

class VhdxDevice implements BlockDevice {
  readonly format = 'vhdx';
  readonly name: string;
  private readonly batTable: PagedTable;
  private readonly bitmaps = new Lru<number, Buffer>(BITMAP_CACHE_ENTRIES);

  constructor(
    private readonly src: FileSource,
    private readonly io: ByteSource,
    readonly size: number,
    private readonly g: Geometry,
    private readonly parent: BlockDevice | undefined,
    readonly info: DeviceInfo,
  ) {
    this.name = src.path;
    this.batTable = new PagedTable(io, {
      offset: g.batOffset,
      entries: g.batEntries,
      entryBytes: 8,
      pageEntries: BAT_PAGE_ENTRIES,
      cachePages: BAT_CACHE_PAGES,
      layer: 'VHDX BAT',
    });
  }

  /** BAT entry `index` as [state, file offset in bytes]. */
  private bat(index: number): [number, number] {
    const buf = this.batTable.page(index);
    const at = this.batTable.entryOffset(index);
    const lo = buf.readUInt32LE(at);
    const hi = buf.readUInt32LE(at + 4);
    const mb = hi * 4096 + (lo >>> 20);
    if (mb > MAX_FILE_OFFSET_MB) {
      throw corrupt(`BAT entry ${index} points to ${mb} MiB, beyond any file`, {
        file: this.name,
        layer: 'VHDX BAT',
        offset: this.g.batOffset + index * 8,
      });
    }
    return [lo & 7, mb * MiB];
  }

  /** The sector bitmap bits of payload block `block` (one bit per logical sector, bit 0 first). */
  private sectorBitmap(block: number): Buffer {
    let bits = this.bitmaps.get(block);
    if (bits === undefined) {
      const { chunkRatio, blockSize, logicalSectorSize } = this.g;
      const chunk = Math.floor(block / chunkRatio);
      const sbIndex = chunk * (chunkRatio + 1) + chunkRatio;
      const [state, offset] = this.bat(sbIndex);
      if (state !== SB_PRESENT || offset < MiB) {
        throw corrupt(
          `payload block ${block} is partially present but its sector bitmap block (BAT entry ${sbIndex}) is not`,
          { file: this.name, layer: 'VHDX BAT', offset: this.g.batOffset + sbIndex * 8 },
        );
      }
      const bytesPerBlock = blockSize / logicalSectorSize / 8;
      bits = this.io.read(offset + (block % chunkRatio) * bytesPerBlock, bytesPerBlock, 'VHDX sector bitmap');
      this.bitmaps.set(block, bits);
    }
    return bits;
  }

  read(offset: number, length: number): Buffer {
    checkRange(this, offset, length);
    const out = Buffer.alloc(length);
    const { blockSize, chunkRatio, logicalSectorSize: lss } = this.g;
    // Pending file read, grown while blocks are contiguous in the file.
    let pendFile = 0;
    let pendOut = 0;
    let pendLen = 0;
    const flush = (): void => {
      if (pendLen > 0) this.io.readInto(out, pendOut, pendLen, pendFile, 'VHDX payload block');
      pendLen = 0;
    };
    const fromFile = (fileOffset: number, at: number, len: number): void => {
      if (pendLen > 0 && pendFile + pendLen === fileOffset && pendOut + pendLen === at) {
        pendLen += len;
        return;
      }
      flush();
      pendFile = fileOffset;
      pendOut = at;
      pendLen = len;
    };
    let pos = offset;
    const end = offset + length;
    while (pos < end) {
      const block = Math.floor(pos / blockSize);
      const inBlock = pos - block * blockSize;
      const n = Math.min(blockSize - inBlock, end - pos);
      const at = pos - offset;
      const index = block + Math.floor(block / chunkRatio);
      const [state, base] = this.bat(index);
      const bad = (why: string): HyperwardError =>
        corrupt(`BAT entry ${index} (payload block ${block}): ${why}`, {
          file: this.name,
          layer: 'VHDX BAT',
          offset: this.g.batOffset + index * 8,
        });
      switch (state) {
        case PAYLOAD_NOT_PRESENT:
          readBacking(this.parent, out, at, pos, n);
          break;
        case PAYLOAD_UNDEFINED:
        case PAYLOAD_ZERO:
        case PAYLOAD_UNMAPPED:
          break;
        case PAYLOAD_FULLY_PRESENT:
          if (base < MiB) throw bad('block offset lies in the header section');
          fromFile(base + inBlock, at, n);
          break;
        case PAYLOAD_PARTIALLY_PRESENT: {
          if (!this.g.hasParent) throw bad('PARTIALLY_PRESENT in a VHDX without a parent');
          if (base < MiB) throw bad('block offset lies in the header section');
          const bits = this.sectorBitmap(block);
          const present = (sector: number): boolean => ((bits[sector >> 3]! >> (sector & 7)) & 1) !== 0;
          const stop = inBlock + n;
          const firstBit = present(Math.floor(inBlock / lss));
          let mixed = false;
          for (let q = (Math.floor(inBlock / lss) + 1) * lss; q < stop && !mixed; q += lss) {
            mixed = present(q / lss) !== firstBit;
          }
          if (!mixed) {
            if (firstBit) fromFile(base + inBlock, at, n);
            else readBacking(this.parent, out, at, pos, n);
            break;
          }
          // Mixed: one read of the block's bytes, one of the parent's, then the present sectors on top.
          const mine = this.io.read(base + inBlock, n, 'VHDX payload block');
          readBacking(this.parent, out, at, pos, n);
          overlayPresentSectors(out, at, mine, inBlock, lss, present);
          break;
        }
        default:
          throw bad(`reserved block state ${state}`);
      }
      pos += n;
    }
    flush();
    return out;
  }

  close(): void {
    this.src.close();
    this.parent?.close();
  }
}

/** Reads the key/value pairs of a VHDX parent locator item. */
function parseParentLocator(
  item: Buffer,
  loc: { file: string; layer: string; offset: number },
): Map<string, string> {
  if (item.length < 20) throw corrupt('parent locator item shorter than its 20-byte header', loc);
  const type = guidString(item, 0);
  if (type !== GUID_VHDX_LOCATOR_TYPE) {
    throw new HyperwardError('E_UNSUPPORTED_FORMAT', `parent locator type ${type} is not supported`, loc);
  }
  const count = item.readUInt16LE(18);
  if (20 + count * 12 > item.length)
    throw corrupt(`${count} parent locator entries do not fit the item`, loc);
  const kv = new Map<string, string>();
  const str = (off: number, len: number): string | undefined =>
    off > 0 && len > 0 && off + len <= item.length
      ? item.toString('utf16le', off, off + (len & ~1))
      : undefined;
  for (let i = 0; i < count; i++) {
    const e = 20 + i * 12;
    const key = str(item.readUInt32LE(e), item.readUInt16LE(e + 8));
    const value = str(item.readUInt32LE(e + 4), item.readUInt16LE(e + 10));
    if (key === undefined || value === undefined) {
      throw corrupt(`parent locator entry ${i} lies outside the item`, loc);
    }
    if (!kv.has(key)) kv.set(key, value);
  }
  return kv;
}

/**
 * Opens a VHDX image. A non-empty log is replayed in memory (never written back); a log that cannot be replayed
 * is an E_UNSUPPORTED_FORMAT error saying so. Differencing disks open their parent through `ctx.resolveRef` /
 * `ctx.openBacking`, so the path policy and cycle detection apply.
 *
 * @example
 * const dev = openImage('disk.vhdx'); // dispatches here on the "vhdxfile" signature
 */
export function openVhdx(src: FileSource, ctx: OpenContext): BlockDevice {
  const file = src.path;
  const minSize = REGION_TABLE_OFFSETS[1] + REGION_TABLE_SIZE;
  if (src.size < minSize) {
    throw corrupt(`file of ${src.size} bytes is too small for a VHDX header section`, {
      file,
      layer: 'VHDX header',
    });
  }
  const ident = src.read(0, 520, 'VHDX file identifier');
  if (ident.toString('latin1', 0, 8) !== 'vhdxfile') {
    throw corrupt('no "vhdxfile" signature', { file, layer: 'VHDX file identifier', offset: 0 });
  }
  const creator = ident.toString('utf16le', 8, 520).replace(/\0.*$/s, '');
  const warnings: string[] = [];

  // Headers: the valid one with the highest sequence number.
  const headers = HEADER_OFFSETS.map((at) => parseHeader(src.read(at, HEADER_SIZE, 'VHDX header'), at));
  let h: Header | undefined;
  for (const c of headers) if (c !== undefined && (h === undefined || c.seq > h.seq)) h = c;
  if (h === undefined) {
    throw corrupt('neither VHDX header (64 KiB, 128 KiB) has a valid signature and CRC-32C', {
      file,
      layer: 'VHDX header',
      offset: HEADER_OFFSETS[0],
    });
  }
  if (headers.some((c) => c === undefined)) {
    warnings.push(`one VHDX header is damaged; using the one at offset ${h.at}`);
  }
  if (h.version !== 1) {
    throw new HyperwardError('E_UNSUPPORTED_FORMAT', `VHDX version ${h.version} is not supported`, {
      file,
      layer: 'VHDX header',
      offset: h.at,
    });
  }
  const dirty = h.logGuid !== ZERO_GUID;
  const io: ByteSource = dirty ? replayLog(src, h, warnings) : src;
  const replayed = io !== src;

  // Region table: the first valid copy.
  let regions: Map<string, Region & { required: boolean; raw: bigint }> | undefined;
  const reasons: string[] = [];
  for (const at of REGION_TABLE_OFFSETS) {
    const r = parseRegionTable(io.read(at, REGION_TABLE_SIZE, 'VHDX region table'));
    if (typeof r === 'string') {
      reasons.push(`copy at ${at}: ${r}`);
      continue;
    }
    regions = r;
    if (reasons.length > 0)
      warnings.push(`VHDX region table damaged (${reasons.join('; ')}); using the copy at ${at}`);
    break;
  }
  if (regions === undefined) {
    throw corrupt(`no valid region table (${reasons.join('; ')})`, {
      file,
      layer: 'VHDX region table',
      offset: REGION_TABLE_OFFSETS[0],
    });
  }
  for (const [guid, r] of regions) {
    if (guid !== GUID_BAT && guid !== GUID_METADATA && r.required) {
      throw new HyperwardError('E_UNSUPPORTED_FORMAT', `required region ${guid} is not understood`, {
        file,
        layer: 'VHDX region table',
      });
    }
  }
  const region = (guid: string, name: string): Region => {
    const r = regions.get(guid);
    if (r === undefined) throw corrupt(`no ${name} region`, { file, layer: 'VHDX region table' });
    if (r.offset < MiB || r.length === 0 || r.offset + r.length > io.size) {
      throw corrupt(`${name} region (${r.length} bytes at ${r.raw}) is outside the file (size ${io.size})`, {
        file,
        layer: 'VHDX region table',
      });
    }
    return r;
  };
  const bat = region(GUID_BAT, 'BAT');
  const meta = region(GUID_METADATA, 'metadata');

  // Metadata table and items.
  const mloc = { file, layer: 'VHDX metadata table', offset: meta.offset };
  if (meta.length < METADATA_TABLE_SIZE)
    throw corrupt(`metadata region of ${meta.length} bytes is too small`, mloc);
  const table = io.read(meta.offset, METADATA_TABLE_SIZE, 'VHDX metadata table');
  if (table.toString('latin1', 0, 8) !== 'metadata') throw corrupt('no "metadata" signature', mloc);
  const count = table.readUInt16LE(10);
  if (count > MAX_TABLE_ENTRIES)
    throw corrupt(`${count} metadata entries (at most ${MAX_TABLE_ENTRIES})`, mloc);
  const items = new Map<string, Buffer>();
  for (let i = 0; i < count; i++) {
    const at = 32 + i * 32;
    const guid = guidString(table, at);
    const offset = table.readUInt32LE(at + 16);
    const length = table.readUInt32LE(at + 20);
    const flags = table.readUInt32LE(at + 24);
    const isUser = (flags & 1) !== 0;
    const required = (flags & 4) !== 0;
    const iloc = { file, layer: `VHDX metadata entry ${i}`, offset: meta.offset + at };
    const known = !isUser && Object.hasOwn(METADATA_NAMES, guid);
    if (!known) {
      if (required) {
        throw new HyperwardError(
          'E_UNSUPPORTED_FORMAT',
          `required metadata item ${guid} is not understood`,
          iloc,
        );
      }
      continue;
    }
    if (items.has(guid)) throw corrupt(`duplicate metadata item ${METADATA_NAMES[guid]}`, iloc);
    if (length === 0) {
      items.set(guid, Buffer.alloc(0));
      continue;
    }
    if (offset < METADATA_TABLE_SIZE || length > MAX_METADATA_ITEM || offset + length > meta.length) {
      throw corrupt(
        `metadata item ${METADATA_NAMES[guid]} (${length} bytes at ${offset}) is outside the region`,
        iloc,
      );
    }
    items.set(guid, io.read(meta.offset + offset, length, `VHDX metadata item ${METADATA_NAMES[guid]}`));
  }
  const item = (guid: string, min: number): Buffer => {
    const b = items.get(guid);
    if (b === undefined || b.length < min) {
      throw corrupt(`metadata item ${METADATA_NAMES[guid]} is missing or too short`, mloc);
    }
    return b;
  };
  const params = item(GUID_FILE_PARAMETERS, 8);
  const blockSize = params.readUInt32LE(0);
  const paramFlags = params.readUInt32LE(4);
  const leaveAllocated = (paramFlags & 1) !== 0;
  const hasParent = (paramFlags & 2) !== 0;
  if (blockSize < MIN_BLOCK_SIZE || blockSize > MAX_BLOCK_SIZE || (blockSize & (blockSize - 1)) !== 0) {
    throw corrupt(`block size ${blockSize} is not a power of two between 1 MiB and 256 MiB`, mloc);
  }
  const sizeRaw = item(GUID_VIRTUAL_DISK_SIZE, 8).readBigUInt64LE(0);
  if (sizeRaw > BigInt(MAX_VIRTUAL_SIZE)) {
    throw new HyperwardError('E_LIMIT', `virtual size ${sizeRaw} is larger than 64 TiB`, mloc);
  }
  const size = Number(sizeRaw);
  const lss = item(GUID_LOGICAL_SECTOR_SIZE, 4).readUInt32LE(0);
  if (lss !== 512 && lss !== 4096) throw corrupt(`logical sector size ${lss} is neither 512 nor 4096`, mloc);
  if (size % lss !== 0)
    warnings.push(`virtual size ${size} is not a multiple of the logical sector size ${lss}`);
  const pssItem = items.get(GUID_PHYSICAL_SECTOR_SIZE);
  const pss = pssItem !== undefined && pssItem.length >= 4 ? pssItem.readUInt32LE(0) : undefined;
  const page83 = items.get(GUID_PAGE83);

  // BAT geometry.
  const chunkRatio = (SECTORS_PER_BITMAP_BLOCK * lss) / blockSize;
  const dataBlocks = Math.ceil(size / blockSize);
  const bitmapBlocks = Math.ceil(dataBlocks / chunkRatio);
  const batEntries = hasParent
    ? bitmapBlocks * (chunkRatio + 1)
    : dataBlocks === 0
      ? 0
      : dataBlocks + Math.floor((dataBlocks - 1) / chunkRatio);
  if (batEntries * 8 > bat.length) {
    throw corrupt(`BAT region of ${bat.length} bytes cannot hold the ${batEntries} entries the disk needs`, {
      file,
      layer: 'VHDX BAT',
      offset: bat.offset,
    });
  }

  const info: DeviceInfo = {
    format: 'vhdx',
    subformat: hasParent ? 'differencing' : leaveAllocated ? 'fixed' : 'dynamic',
    virtualSize: size,
    files: [file],
    creator,
    blockSize,
    logicalSectorSize: lss,
    ...(pss !== undefined ? { physicalSectorSize: pss } : {}),
    ...(page83 !== undefined && page83.length >= 16 ? { virtualDiskId: guidString(page83, 0) } : {}),
    dataWriteGuid: h.dataWriteGuid,
    fileWriteGuid: h.fileWriteGuid,
    logReplayed: replayed,
    warnings,
  };

  let parent: BlockDevice | undefined;
  if (hasParent) {
    const ploc = { file, layer: 'VHDX parent locator', offset: meta.offset };
    const kv = parseParentLocator(item(GUID_PARENT_LOCATOR, 20), ploc);
    const candidates: ParentCandidate[] = [];
    for (const key of ['relative_path', 'volume_path', 'absolute_win32_path']) {
      const v = kv.get(key);
      if (v !== undefined && v.length > 0) candidates.push({ source: key, path: v });
    }
    const linkage = [kv.get('parent_linkage'), kv.get('parent_linkage2')]
      .filter((v): v is string => v !== undefined)
      .map((v) => v.replace(/^\{|\}$/g, '').toLowerCase());
    info.parentLocator = Object.fromEntries(kv);
    if (linkage.length === 0) warnings.push('parent locator has no parent_linkage');
    parent = openParent(ctx, file, 'vhdx', candidates, size, info, warnings, (p, real) => {
      const pw = p.info.dataWriteGuid;
      if (linkage.length > 0 && (typeof pw !== 'string' || !linkage.includes(pw))) {
        warnings.push(
          `parent ${real} has DataWriteGuid ${String(pw)} but the child's parent_linkage is ${linkage.join(' or ')}: the parent changed after the child was created`,
        );
      }
      if (p.info.logicalSectorSize !== lss) {
        warnings.push(`parent logical sector size ${String(p.info.logicalSectorSize)} differs from ${lss}`);
      }
    });
  }
  const g: Geometry = {
    blockSize,
    logicalSectorSize: lss,
    chunkRatio,
    batOffset: bat.offset,
    batEntries,
    hasParent,
  };
  return new VhdxDevice(src, io, size, g, parent, info);
}
