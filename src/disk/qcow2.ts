/**
 * qcow2 (QEMU copy-on-write v2/v3) reader: header and header extensions, two-level L1/L2 cluster mapping
 * (standard and extended 128-bit L2 entries with subclusters), v3 zero clusters, compressed clusters (deflate and
 * zstd), backing files and external data files. Read-only; refcounts and snapshots are never needed to read the
 * active image, so they are not parsed.
 */
import { zlib, zstdDecompress } from '../dependency.js';
import { HyperwardError, corrupt } from '../errors.js';
import { Lru } from '../lru.js';
import type { FileSource } from '../source/file.js';
import { readBacking } from './backing.js';
import type { ContainerFormatName, OpenContext } from './open.js';
import { checkRange, type BlockDevice, type DeviceInfo } from './types.js';

const MAGIC = 0x514649fb; // "QFI\xfb"
const MIN_CLUSTER_BITS = 9;
const MAX_CLUSTER_BITS = 21;
const V2_HEADER_LENGTH = 72;
const V3_MIN_HEADER_LENGTH = 104;
/** QEMU's own limit on the L1 table (bytes). */
const MAX_L1_BYTES = 32 * 1024 * 1024;
const MAX_BACKING_NAME = 1023;
/** External data file name: a path, so bounded like one. */
const MAX_DATA_FILE_NAME = 4096;
const MAX_HEADER_EXTENSIONS = 1024;

const L2_CACHE_BYTES = 32 * 1024 * 1024;
const L2_CACHE_MAX_TABLES = 64;
const L2_CACHE_MIN_TABLES = 4;
const CLUSTER_CACHE_BYTES = 8 * 1024 * 1024;
const CLUSTER_CACHE_MIN = 2;
const CLUSTER_CACHE_MAX = 16;
/** Compressed clusters read in sequence are fetched in windows of this size instead of one read each. */
const COMPRESSED_READAHEAD = 512 * 1024;

const EXT_END = 0x00000000;
const EXT_BACKING_FORMAT = 0xe2792aca;
const EXT_FEATURE_NAMES = 0x6803f857;
const EXT_DATA_FILE = 0x44415441;

const INCOMPAT_DIRTY = 1n << 0n;
const INCOMPAT_CORRUPT = 1n << 1n;
const INCOMPAT_DATA_FILE = 1n << 2n;
const INCOMPAT_COMPRESSION = 1n << 3n;
const INCOMPAT_EXTENDED_L2 = 1n << 4n;
const INCOMPAT_KNOWN =
  INCOMPAT_DIRTY | INCOMPAT_CORRUPT | INCOMPAT_DATA_FILE | INCOMPAT_COMPRESSION | INCOMPAT_EXTENDED_L2;
const AUTOCLEAR_RAW_DATA = 1n << 1n;

const TWO32 = 0x1_0000_0000;
/** Largest single read: one Buffer must hold it. */
const MAX_READ = 1024 * 1024 * 1024;
const ZSTD_MAGIC = 0xfd2fb528;
const ZSTD_MAX_BLOCK = 128 * 1024;

type Compression = 'deflate' | 'zstd';

/** Parsed, validated header fields. */
interface Header {
  version: 2 | 3;
  backingFileOffset: number;
  backingFileSize: number;
  clusterBits: number;
  size: number;
  l1Size: number;
  l1TableOffset: number;
  nbSnapshots: number;
  incompatible: bigint;
  compatible: bigint;
  autoclear: bigint;
  headerLength: number;
  compression: Compression;
}

interface Extensions {
  backingFormat?: string;
  dataFile?: string;
  /** `incompatible:3` -> name, from the feature name table. */
  featureNames: Map<string, string>;
}

/** One mapped piece of a read: what backs `len` bytes at a guest offset. */
type Segment =
  | { kind: 'data'; file: FileSource; host: number; len: number }
  | { kind: 'zero'; len: number }
  | { kind: 'backing'; len: number }
  | { kind: 'compressed'; key: number; csize: number; within: number; entryAt: number; len: number };

function u64(buf: Buffer, at: number, what: string, file: string): number {
  const v = buf.readBigUInt64BE(at);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw corrupt(`${what} ${v} is out of range`, { file, layer: 'qcow2 header', offset: at });
  }
  return Number(v);
}

/** Maps the qemu driver name of the backing-format extension to ours. */
function backingFormatName(name: string, file: string): ContainerFormatName {
  switch (name) {
    case 'raw':
    case 'file':
    case 'host_device':
      return 'raw';
    case 'qcow2':
      return 'qcow2';
    case 'vmdk':
      return 'vmdk';
    case 'vpc':
      return 'vhd';
    case 'vhdx':
      return 'vhdx';
    case 'vdi':
      return 'vdi';
    default:
      throw new HyperwardError(
        'E_UNSUPPORTED_FORMAT',
        `backing file format ${JSON.stringify(name)} is not supported`,
        { file, layer: 'qcow2 backing file format extension' },
      );
  }
}

function parseHeader(src: FileSource, head: Buffer): Header {
  const file = src.path;
  const loc = (offset: number): { file: string; layer: string; offset: number } => ({
    file,
    layer: 'qcow2 header',
    offset,
  });
  if (head.length < V2_HEADER_LENGTH) throw corrupt('file too small for a qcow2 header', loc(0));
  if (head.readUInt32BE(0) !== MAGIC) throw corrupt('bad qcow2 magic', loc(0));
  const version = head.readUInt32BE(4);
  if (version !== 2 && version !== 3) {
    throw new HyperwardError('E_UNSUPPORTED_FORMAT', `qcow2 version ${version} is not supported`, loc(4));
  }
  const cryptMethod = head.readUInt32BE(32);
  if (cryptMethod !== 0) {
    const kind = cryptMethod === 1 ? 'AES' : cryptMethod === 2 ? 'LUKS' : `method ${cryptMethod}`;
    throw new HyperwardError(
      'E_ENCRYPTED',
      `the image is encrypted (${kind}); decrypt it with qemu-img convert first`,
      loc(32),
    );
  }
  const clusterBits = head.readUInt32BE(20);
  if (clusterBits < MIN_CLUSTER_BITS || clusterBits > MAX_CLUSTER_BITS) {
    throw corrupt(`cluster_bits ${clusterBits} outside ${MIN_CLUSTER_BITS}..${MAX_CLUSTER_BITS}`, loc(20));
  }
  const clusterSize = 2 ** clusterBits;
  let incompatible = 0n;
  let compatible = 0n;
  let autoclear = 0n;
  let headerLength = V2_HEADER_LENGTH;
  let compression: Compression = 'deflate';
  if (version === 3) {
    if (head.length < V3_MIN_HEADER_LENGTH) throw corrupt('file too small for a qcow2 v3 header', loc(0));
    incompatible = head.readBigUInt64BE(72);
    compatible = head.readBigUInt64BE(80);
    autoclear = head.readBigUInt64BE(88);
    headerLength = head.readUInt32BE(100);
    if (headerLength < V3_MIN_HEADER_LENGTH || headerLength > clusterSize) {
      throw corrupt(`header_length ${headerLength} is invalid`, loc(100));
    }
    const ctype = headerLength > 104 && head.length > 104 ? head.readUInt8(104) : 0;
    if ((incompatible & INCOMPAT_COMPRESSION) !== 0n) {
      if (ctype === 0) {
        throw corrupt('compression type bit set but compression_type is missing or zlib', loc(104));
      }
    } else if (ctype !== 0) {
      throw corrupt(`compression_type ${ctype} set without the compression type feature bit`, loc(104));
    }
    if (ctype === 1) compression = 'zstd';
    else if (ctype !== 0) {
      throw new HyperwardError(
        'E_UNSUPPORTED_FORMAT',
        `qcow2 compression type ${ctype} is not supported`,
        loc(104),
      );
    }
  }
  return {
    version,
    backingFileOffset: u64(head, 8, 'backing_file_offset', file),
    backingFileSize: head.readUInt32BE(16),
    clusterBits,
    size: u64(head, 24, 'virtual size', file),
    l1Size: head.readUInt32BE(36),
    l1TableOffset: u64(head, 40, 'l1_table_offset', file),
    nbSnapshots: head.readUInt32BE(60),
    incompatible,
    compatible,
    autoclear,
    headerLength,
    compression,
  };
}

function parseExtensions(src: FileSource, head: Buffer, h: Header): Extensions {
  const ext: Extensions = { featureNames: new Map() };
  let end = head.length;
  if (h.backingFileOffset > 0 && h.backingFileOffset < end) end = h.backingFileOffset;
  let off = h.headerLength;
  for (let n = 0; off + 8 <= end; n++) {
    const loc = { file: src.path, layer: 'qcow2 header extension', offset: off };
    if (n >= MAX_HEADER_EXTENSIONS)
      throw corrupt(`more than ${MAX_HEADER_EXTENSIONS} header extensions`, loc);
    const type = head.readUInt32BE(off);
    const len = head.readUInt32BE(off + 4);
    if (type === EXT_END) break;
    const data = off + 8;
    if (len > end - data) throw corrupt(`extension 0x${type.toString(16)} of ${len} bytes overruns`, loc);
    switch (type) {
      case EXT_BACKING_FORMAT:
        ext.backingFormat = head.toString('latin1', data, data + Math.min(len, 64)).replace(/\0+$/, '');
        break;
      case EXT_DATA_FILE:
        if (len > MAX_DATA_FILE_NAME) throw corrupt('external data file name too long', loc);
        ext.dataFile = head.toString('utf8', data, data + len);
        break;
      case EXT_FEATURE_NAMES:
        for (let e = data; e + 48 <= data + len; e += 48) {
          const kind = ['incompatible', 'compatible', 'autoclear'][head.readUInt8(e)];
          if (kind === undefined) continue;
          const name = head
            .toString('latin1', e + 2, e + 48)
            .replace(/\0.*$/s, '')
            .replace(/[^\x20-\x7e]/g, '?');
          ext.featureNames.set(`${kind}:${head.readUInt8(e + 1)}`, name);
        }
        break;
      default:
        break; // unknown extensions (bitmaps, encryption pointer...) are safe to ignore when reading
    }
    off = data + Math.ceil(len / 8) * 8;
  }
  return ext;
}

/** Length and declared content size of the first zstd frame in `buf` (qemu pads and packs clusters). */
function zstdFrame(buf: Buffer): { length: number; contentSize: number | undefined } | undefined {
  if (buf.length < 6 || buf.readUInt32LE(0) !== ZSTD_MAGIC) return undefined;
  const fhd = buf.readUInt8(4);
  if ((fhd & 0x08) !== 0) return undefined; // reserved bit
  const single = (fhd >> 5) & 1;
  const dictBytes = [0, 1, 2, 4][fhd & 3] ?? 0;
  if (dictBytes !== 0) return undefined; // qemu never uses dictionaries
  const fcsFlag = fhd >> 6;
  const fcsBytes = [single, 2, 4, 8][fcsFlag] ?? 0;
  let pos = 5 + (single ? 0 : 1) + dictBytes;
  if (pos + fcsBytes > buf.length) return undefined;
  let contentSize: number | undefined;
  if (fcsBytes === 1) contentSize = buf.readUInt8(pos);
  else if (fcsBytes === 2) contentSize = buf.readUInt16LE(pos) + 256;
  else if (fcsBytes === 4) contentSize = buf.readUInt32LE(pos);
  else if (fcsBytes === 8) contentSize = buf.readUInt32LE(pos) + buf.readUInt32LE(pos + 4) * TWO32;
  pos += fcsBytes;
  for (;;) {
    if (pos + 3 > buf.length) return undefined;
    const bh = buf.readUIntLE(pos, 3);
    pos += 3;
    const type = (bh >> 1) & 3;
    const size = bh >>> 3;
    if (type === 3 || size > ZSTD_MAX_BLOCK) return undefined;
    pos += type === 1 ? 1 : size;
    if (pos > buf.length) return undefined;
    if ((bh & 1) !== 0) break;
  }
  if ((fhd & 0x04) !== 0) pos += 4;
  if (pos > buf.length) return undefined;
  return { length: pos, contentSize };
}

class Qcow2Device implements BlockDevice {
  readonly format = 'qcow2';
  readonly size: number;
  readonly name: string;
  readonly info: DeviceInfo;

  private readonly clusterBits: number;
  private readonly clusterSize: number;
  private readonly l2Bytes: number;
  /** Bytes per L2 entry: 8, or 16 with extended L2 entries. */
  private readonly entrySize: number;
  private readonly l2Entries: number;
  private readonly subclusterSize: number;
  private readonly extendedL2: boolean;
  private readonly zeroFlag: boolean;
  private readonly compression: Compression;
  private readonly l1: Buffer;
  private readonly l1Offset: number;
  private readonly l2Cache: Lru<number, Buffer>;
  private readonly clusterCache: Lru<number, Buffer>;
  /** The last window of compressed data read from the file. */
  private compressedWindow: { start: number; buf: Buffer } | undefined;
  private lastL2Offset = -1;
  private lastL2: Buffer | undefined;
  private closed = false;

  constructor(
    private readonly src: FileSource,
    h: Header,
    private readonly dataSrc: FileSource | undefined,
    private readonly backing: BlockDevice | undefined,
    info: DeviceInfo,
    depth: number,
  ) {
    this.name = src.path;
    this.size = h.size;
    this.clusterBits = h.clusterBits;
    this.clusterSize = 2 ** h.clusterBits;
    this.extendedL2 = (h.incompatible & INCOMPAT_EXTENDED_L2) !== 0n;
    this.entrySize = this.extendedL2 ? 16 : 8;
    this.l2Bytes = this.clusterSize;
    this.l2Entries = this.clusterSize / this.entrySize;
    this.subclusterSize = this.extendedL2 ? this.clusterSize / 32 : this.clusterSize;
    this.zeroFlag = h.version === 3 && !this.extendedL2;
    this.compression = h.compression;
    this.l1Offset = h.l1TableOffset;
    const needed = l1EntriesNeeded(h);
    this.l1 = needed === 0 ? Buffer.alloc(0) : src.read(h.l1TableOffset, needed * 8, 'qcow2 L1 table');
    // Backing files get a smaller share, so a deep chain stays bounded too.
    const budget = depth === 0 ? L2_CACHE_BYTES : L2_CACHE_BYTES / 4;
    const tables = Math.floor(budget / this.l2Bytes);
    this.l2Cache = new Lru(Math.max(L2_CACHE_MIN_TABLES, Math.min(L2_CACHE_MAX_TABLES, tables)));
    const clusters = Math.floor(CLUSTER_CACHE_BYTES / this.clusterSize);
    this.clusterCache = new Lru(Math.max(CLUSTER_CACHE_MIN, Math.min(CLUSTER_CACHE_MAX, clusters)));
    this.info = info;
  }

  read(offset: number, length: number): Buffer {
    checkRange(this, offset, length);
    if (length > MAX_READ) {
      throw new HyperwardError('E_LIMIT', `read of ${length} bytes is too large for one buffer`, {
        file: this.name,
        layer: 'qcow2 read',
        offset,
      });
    }
    if (this.closed) throw new HyperwardError('E_INTERNAL', 'read after close', { file: this.name });
    const out = Buffer.allocUnsafe(length);
    // The pending run: consecutive segments of one kind that can be served by one read.
    let runKind: 'data' | 'zero' | 'backing' | undefined;
    let runStart = 0;
    let runLen = 0;
    let runHost = 0;
    let runFile: FileSource | undefined;
    const flush = (): void => {
      if (runKind === 'data') runFile!.readInto(out, runStart, runLen, runHost, 'qcow2 data cluster');
      else if (runKind === 'zero') out.fill(0, runStart, runStart + runLen);
      else if (runKind === 'backing') readBacking(this.backing, out, runStart, offset + runStart, runLen);
      runKind = undefined;
    };
    let pos = 0;
    while (pos < length) {
      const seg = this.map(offset + pos, length - pos);
      if (seg.kind === 'compressed') {
        flush();
        const cluster = this.compressedCluster(seg.key, seg.csize, seg.entryAt);
        cluster.copy(out, pos, seg.within, seg.within + seg.len);
      } else if (
        runKind === seg.kind &&
        (seg.kind !== 'data' || (seg.file === runFile && seg.host === runHost + runLen))
      ) {
        runLen += seg.len;
      } else {
        flush();
        runKind = seg.kind;
        runStart = pos;
        runLen = seg.len;
        if (seg.kind === 'data') {
          runHost = seg.host;
          runFile = seg.file;
        }
      }
      pos += seg.len;
    }
    flush();
    return out;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.src.close();
    this.dataSrc?.close();
    this.backing?.close();
  }

  private l2Table(l1Index: number): { table: Buffer; offset: number } | undefined {
    const at = l1Index * 8;
    const hi = this.l1.readUInt32BE(at);
    const lo = this.l1.readUInt32BE(at + 4);
    const l2Offset = (hi & 0x00ffffff) * TWO32 + ((lo & 0xfffffe00) >>> 0);
    if (l2Offset === 0) return undefined;
    if (l2Offset === this.lastL2Offset && this.lastL2 !== undefined)
      return { table: this.lastL2, offset: l2Offset };
    const loc = { file: this.name, layer: 'qcow2 L1 table', offset: this.l1Offset + at };
    if (l2Offset % this.clusterSize !== 0) {
      throw corrupt(`L2 table offset 0x${l2Offset.toString(16)} is not cluster aligned`, loc);
    }
    if (l2Offset + this.l2Bytes > this.src.size) {
      throw corrupt(
        `L2 table at 0x${l2Offset.toString(16)} lies past the end of the file (size ${this.src.size})`,
        loc,
      );
    }
    let table = this.l2Cache.get(l2Offset);
    if (table === undefined) {
      table = this.src.read(l2Offset, this.l2Bytes, 'qcow2 L2 table');
      this.l2Cache.set(l2Offset, table);
    }
    this.lastL2Offset = l2Offset;
    this.lastL2 = table;
    return { table, offset: l2Offset };
  }

  /** Maps the guest range starting at `guest` (at most `max` bytes, never past one cluster). */
  private map(guest: number, max: number): Segment {
    const cs = this.clusterSize;
    const clusterIndex = Math.floor(guest / cs);
    const within = guest - clusterIndex * cs;
    const toClusterEnd = Math.min(max, cs - within);
    const l1Index = Math.floor(clusterIndex / this.l2Entries);
    const l2 = this.l2Table(l1Index);
    if (l2 === undefined) return { kind: 'backing', len: toClusterEnd };
    const index = clusterIndex - l1Index * this.l2Entries;
    const at = index * this.entrySize;
    const hi = l2.table.readUInt32BE(at);
    const lo = l2.table.readUInt32BE(at + 4);
    const entryAt = l2.offset + at;
    if ((hi & 0x40000000) !== 0) return this.mapCompressed(hi, lo, entryAt, within, toClusterEnd);
    const host = (hi & 0x00ffffff) * TWO32 + ((lo & 0xfffffe00) >>> 0);
    const copied = (hi & 0x80000000) !== 0;
    const allocated = host !== 0 || (this.dataSrc !== undefined && copied);
    if (!this.extendedL2) {
      if (this.zeroFlag && (lo & 1) !== 0) return { kind: 'zero', len: toClusterEnd };
      if (!allocated) return { kind: 'backing', len: toClusterEnd };
      return this.dataSegment(host, within, toClusterEnd, entryAt);
    }
    const zeroBits = l2.table.readUInt32BE(at + 8);
    const allocBits = l2.table.readUInt32BE(at + 12);
    const sc = this.subclusterSize;
    const first = Math.floor(within / sc);
    const state = (s: number): 0 | 1 | 2 => {
      const a = (allocBits >>> s) & 1;
      const z = (zeroBits >>> s) & 1;
      if (a === 1 && z === 1) {
        throw corrupt(`subcluster ${s} is marked both allocated and zero`, {
          file: this.name,
          layer: 'qcow2 L2 table',
          offset: entryAt,
        });
      }
      return a === 1 ? 1 : z === 1 ? 2 : 0;
    };
    const kind = state(first);
    let last = first;
    const lastWanted = Math.floor((within + toClusterEnd - 1) / sc);
    while (last < lastWanted && state(last + 1) === kind) last++;
    const len = Math.min(toClusterEnd, (last + 1) * sc - within);
    if (kind === 2) return { kind: 'zero', len };
    if (kind === 0) return { kind: 'backing', len };
    if (!allocated) {
      throw corrupt('allocated subcluster in a cluster without a host offset', {
        file: this.name,
        layer: 'qcow2 L2 table',
        offset: entryAt,
      });
    }
    return this.dataSegment(host, within, len, entryAt);
  }

  private dataSegment(host: number, within: number, len: number, entryAt: number): Segment {
    const loc = { file: this.name, layer: 'qcow2 L2 table', offset: entryAt };
    if (host % this.clusterSize !== 0) {
      throw corrupt(`data cluster offset 0x${host.toString(16)} is not cluster aligned`, loc);
    }
    const file = this.dataSrc ?? this.src;
    const start = host + within;
    if (start + len > file.size) {
      if (this.dataSrc === undefined) {
        throw corrupt(
          `data cluster at 0x${host.toString(16)} lies past the end of the file (size ${file.size})`,
          loc,
        );
      }
      // An external data file is a plain raw file: like qemu, its bytes past the end read as zeros.
      if (start >= file.size) return { kind: 'zero', len };
      return { kind: 'data', file, host: start, len: file.size - start };
    }
    return { kind: 'data', file, host: start, len };
  }

  private mapCompressed(hi: number, lo: number, entryAt: number, within: number, len: number): Segment {
    const loc = { file: this.name, layer: 'qcow2 L2 table', offset: entryAt };
    if (this.dataSrc !== undefined)
      throw corrupt('compressed cluster in an image with an external data file', loc);
    const desc = (BigInt(hi & 0x3fffffff) << 32n) | BigInt(lo >>> 0);
    const x = BigInt(62 - (this.clusterBits - 8));
    const offBig = desc & ((1n << x) - 1n);
    const sectors = Number((desc >> x) & ((1n << BigInt(this.clusterBits - 8)) - 1n));
    if (offBig >= BigInt(this.src.size)) {
      throw corrupt(
        `compressed cluster at 0x${offBig.toString(16)} lies past the end of the file (size ${this.src.size})`,
        loc,
      );
    }
    const key = Number(offBig);
    const csize = Math.min((sectors + 1) * 512 - (key % 512), this.src.size - key);
    return { kind: 'compressed', key, csize, within, entryAt, len };
  }

  private compressedCluster(host: number, csize: number, entryAt: number): Buffer {
    const cached = this.clusterCache.get(host);
    if (cached !== undefined) return cached;
    const input = this.compressedInput(host, csize);
    const loc = { file: this.name, layer: 'qcow2 compressed cluster', offset: host };
    let out: Buffer;
    try {
      out = this.compression === 'zstd' ? this.inflateZstd(input, host) : this.inflateDeflate(input);
    } catch (e) {
      if (e instanceof HyperwardError) throw e;
      throw new HyperwardError(
        'E_IMAGE_CORRUPT',
        `cannot decompress the ${this.compression} cluster (L2 entry at ${entryAt}): ${(e as Error)?.message ?? String(e)}`,
        loc,
        { cause: e },
      );
    }
    if (out.length !== this.clusterSize) {
      throw corrupt(
        `compressed cluster decompressed to ${out.length} bytes, expected ${this.clusterSize}`,
        loc,
      );
    }
    this.clusterCache.set(host, out);
    return out;
  }

  /** The compressed bytes at `host`; sequential access reads ahead so a run of clusters costs one read. */
  private compressedInput(host: number, csize: number): Buffer {
    const w = this.compressedWindow;
    if (w !== undefined && host >= w.start && host + csize <= w.start + w.buf.length) {
      return w.buf.subarray(host - w.start, host - w.start + csize);
    }
    const sequential =
      w !== undefined && host >= w.start && host <= w.start + w.buf.length + this.clusterSize;
    const len = sequential ? Math.min(Math.max(csize, COMPRESSED_READAHEAD), this.src.size - host) : csize;
    const buf = this.src.read(host, len, 'qcow2 compressed cluster');
    this.compressedWindow = { start: host, buf };
    return buf.subarray(0, csize);
  }

  private inflateDeflate(input: Buffer): Buffer {
    return zlib().inflateRawSync(input, { maxOutputLength: this.clusterSize, chunkSize: this.clusterSize });
  }

  private inflateZstd(input: Buffer, host: number): Buffer {
    const frame = zstdFrame(input);
    const loc = { file: this.name, layer: 'qcow2 compressed cluster', offset: host };
    if (frame === undefined) throw corrupt('invalid or truncated zstd frame', loc);
    if (frame.contentSize !== undefined && frame.contentSize !== this.clusterSize) {
      throw corrupt(`zstd frame holds ${frame.contentSize} bytes, expected ${this.clusterSize}`, loc);
    }
    const out = Buffer.alloc(this.clusterSize);
    zstdDecompress(input.subarray(0, frame.length), out);
    return out;
  }
}

/** How many L1 entries the virtual size needs. */
function l1EntriesNeeded(h: Header): number {
  const entrySize = (h.incompatible & INCOMPAT_EXTENDED_L2) !== 0n ? 16 : 8;
  const perL1 = 2 ** h.clusterBits * (2 ** h.clusterBits / entrySize);
  return Math.ceil(h.size / perL1);
}

function validateTables(src: FileSource, h: Header): void {
  const file = src.path;
  const cs = 2 ** h.clusterBits;
  if ((h.incompatible & INCOMPAT_EXTENDED_L2) !== 0n && h.clusterBits < 14) {
    throw corrupt(`extended L2 entries need clusters of at least 16 KiB, not ${cs}`, {
      file,
      layer: 'qcow2 header',
      offset: 20,
    });
  }
  const needed = l1EntriesNeeded(h);
  if (needed * 8 > MAX_L1_BYTES) {
    throw new HyperwardError(
      'E_LIMIT',
      `virtual size ${h.size} needs an L1 table of ${needed} entries, over the ${MAX_L1_BYTES / 8} limit`,
      { file, layer: 'qcow2 header', offset: 24 },
    );
  }
  if (h.l1Size < needed) {
    throw corrupt(`l1_size ${h.l1Size} is too small for virtual size ${h.size} (needs ${needed})`, {
      file,
      layer: 'qcow2 header',
      offset: 36,
    });
  }
  if (h.l1Size * 8 > MAX_L1_BYTES) {
    throw new HyperwardError('E_LIMIT', `l1_size ${h.l1Size} is over the ${MAX_L1_BYTES / 8} entry limit`, {
      file,
      layer: 'qcow2 header',
      offset: 36,
    });
  }
  if (h.l1Size > 0) {
    const loc = { file, layer: 'qcow2 header', offset: 40 };
    if (h.l1TableOffset === 0 || h.l1TableOffset % cs !== 0) {
      throw corrupt(`L1 table offset 0x${h.l1TableOffset.toString(16)} is not cluster aligned`, loc);
    }
    if (h.l1TableOffset + h.l1Size * 8 > src.size) {
      throw corrupt(
        `L1 table at 0x${h.l1TableOffset.toString(16)} (${h.l1Size} entries) lies past the end of the file (size ${src.size})`,
        loc,
      );
    }
  }
}

/**
 * Opens a qcow2 image (v2 or v3). Backing files are resolved with `ctx.resolveRef` and opened with
 * `ctx.openBacking` (which refuses cycles and deep chains); an external data file is opened with
 * `ctx.openSource`. Encrypted images throw E_ENCRYPTED; unknown incompatible features E_UNSUPPORTED_FORMAT.
 *
 * @example
 * const dev = openQcow2(new FileSource('disk.qcow2'), ctx);
 * const mbr = dev.read(0, 512);
 */
export function openQcow2(src: FileSource, ctx: OpenContext): BlockDevice {
  const file = src.path;
  const h = parseHeader(src, src.read(0, Math.min(src.size, 4096), 'qcow2 header'));
  const cs = 2 ** h.clusterBits;
  // Header extensions and the backing file name live in the first cluster.
  const head = src.read(0, Math.min(src.size, cs), 'qcow2 header');
  if (h.headerLength > head.length) {
    throw corrupt(`header_length ${h.headerLength} is past the end of the file`, {
      file,
      layer: 'qcow2 header',
      offset: 100,
    });
  }
  const ext = parseExtensions(src, head, h);

  const unknown = h.incompatible & ~INCOMPAT_KNOWN;
  if (unknown !== 0n) {
    const names: string[] = [];
    for (let b = 0n; b < 64n; b++) {
      if ((unknown & (1n << b)) !== 0n) names.push(ext.featureNames.get(`incompatible:${b}`) ?? `bit ${b}`);
    }
    throw new HyperwardError(
      'E_UNSUPPORTED_FORMAT',
      `unknown incompatible qcow2 features: ${names.join(', ')}`,
      { file, layer: 'qcow2 header', offset: 72 },
    );
  }
  validateTables(src, h);

  const warnings: string[] = [];
  if ((h.incompatible & INCOMPAT_CORRUPT) !== 0n) {
    warnings.push('the image is marked corrupt by QEMU; its metadata may be inconsistent');
  }

  let backingName: string | undefined;
  if (h.backingFileOffset !== 0 && h.backingFileSize !== 0) {
    const loc = { file, layer: 'qcow2 backing file name', offset: h.backingFileOffset };
    if (h.backingFileSize > MAX_BACKING_NAME) {
      throw corrupt(`backing file name of ${h.backingFileSize} bytes (max ${MAX_BACKING_NAME})`, loc);
    }
    if (h.backingFileOffset + h.backingFileSize > head.length) {
      throw corrupt('backing file name lies outside the first cluster', loc);
    }
    backingName = head.toString('utf8', h.backingFileOffset, h.backingFileOffset + h.backingFileSize);
  }
  const backingFormat =
    backingName !== undefined && ext.backingFormat !== undefined
      ? backingFormatName(ext.backingFormat, file)
      : undefined;

  let dataSrc: FileSource | undefined;
  let backing: BlockDevice | undefined;
  try {
    if ((h.incompatible & INCOMPAT_DATA_FILE) !== 0n) {
      if (ext.dataFile === undefined || ext.dataFile.length === 0) {
        throw new HyperwardError(
          'E_UNSUPPORTED_FORMAT',
          'the image uses an external data file but does not name it',
          { file, layer: 'qcow2 external data file' },
        );
      }
      dataSrc = ctx.openSource(ctx.resolveRef(ext.dataFile, file, 'qcow2 external data file'));
    }
    if (backingName !== undefined) {
      const real = ctx.resolveRef(backingName, file, 'qcow2 backing file');
      backing = ctx.openBacking(real, file, 'qcow2 backing file', backingFormat);
    }
    const info: DeviceInfo = {
      format: 'qcow2',
      subformat: `v${h.version}`,
      virtualSize: h.size,
      files: [file, ...(dataSrc ? [dataSrc.path] : []), ...(backing ? backing.info.files : [])],
      encrypted: false,
      clusterSize: cs,
      compression: h.compression,
      extendedL2: (h.incompatible & INCOMPAT_EXTENDED_L2) !== 0n,
      dirty: (h.incompatible & INCOMPAT_DIRTY) !== 0n,
      markedCorrupt: (h.incompatible & INCOMPAT_CORRUPT) !== 0n,
      lazyRefcounts: (h.compatible & 1n) !== 0n,
      snapshots: h.nbSnapshots,
      warnings,
    };
    if (backingName !== undefined) info.backingFile = backingName;
    if (ext.backingFormat !== undefined) info.backingFormat = ext.backingFormat;
    if (backing) info.backing = backing.info;
    if (ext.dataFile !== undefined && dataSrc) {
      info.dataFile = ext.dataFile;
      info.dataFileRaw = (h.autoclear & AUTOCLEAR_RAW_DATA) !== 0n;
    }
    return new Qcow2Device(src, h, dataSrc, backing, info, ctx.depth);
  } catch (e) {
    dataSrc?.close();
    backing?.close();
    throw e;
  }
}
