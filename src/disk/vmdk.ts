/**
 * VMware VMDK reader: the text descriptor (separate file, or embedded in a sparse extent), hosted sparse extents
 * (`KDMV`: monolithicSparse, twoGbMaxExtentSparse, streamOptimized with deflate-compressed grains, grain markers
 * and a footer holding the grain directory), flat extents (monolithicFlat, twoGbMaxExtentFlat, vmfs/vmfsThin
 * `VMFS` extents), `ZERO` extents and delta disks whose unallocated grains read from the parent named by
 * `parentFileNameHint`. Read-only. ESX sparse (`COWD`, `VMFSSPARSE`), SE sparse and raw device mappings are
 * refused with E_UNSUPPORTED_FORMAT.
 */
import { zlib } from '../dependency.js';
import { HyperwardError, corrupt, type ErrorLocation } from '../errors.js';
import { Lru } from '../lru.js';
import type { FileSource } from '../source/file.js';
import { readBacking } from './backing.js';
import type { OpenContext } from './open.js';
import { checkRange, type BlockDevice, type DeviceInfo } from './types.js';

const SECTOR = 512;
/** 'KDMV' read as a little-endian uint32. */
const SPARSE_MAGIC = 0x564d444b;
/** 'COWD' read as a little-endian uint32 (ESX sparse). */
const COWD_MAGIC = 0x44574f43;
const GD_AT_END = 0xffffffffffffffffn;

const FLAG_NEWLINE_TEST = 1 << 0;
const FLAG_REDUNDANT_GT = 1 << 1;
const FLAG_ZERO_GRAIN = 1 << 2;
const FLAG_MARKERS = 1 << 17;
const COMPRESSION_NONE = 0;
const COMPRESSION_DEFLATE = 1;

const MARKER_EOS = 0;
const MARKER_FOOTER = 3;
const MARKER_HEADER = 12;

/** A descriptor is a few hundred bytes; twoGbMaxExtent* disks of 62 TiB list ~32k extents (~2 MiB). */
const MAX_DESCRIPTOR_BYTES = 4 * 1024 * 1024;
const MAX_EXTENTS = 32768;
const MAX_GRAIN_SECTORS = 0x8000; // 16 MiB grains; VMware and qemu use 128 sectors (64 KiB)
const MAX_GTES_PER_GT = 4096; // VMware and qemu use 512
const MAX_GD_ENTRIES = 1 << 22; // a 16 MiB grain directory
/** Virtual sizes are kept below 2^53 bytes. */
const MAX_SECTORS = Math.floor(Number.MAX_SAFE_INTEGER / SECTOR);
const MAX_OPEN_EXTENT_FILES = 32;
const GT_CACHE_BYTES = 4 * 1024 * 1024;
const GT_CACHE_MIN = 8;
const GRAIN_CACHE_BYTES = 8 * 1024 * 1024;
const GRAIN_CACHE_MIN = 2;

// ---------------------------------------------------------------------------------------------------------------
// Descriptor

type ExtentType = 'SPARSE' | 'FLAT' | 'VMFS' | 'ZERO';

interface ExtentLine {
  access: string;
  sectors: number;
  type: ExtentType;
  /** File name as written (undefined for ZERO extents). */
  file?: string;
  /** Offset in sectors inside the file (flat extents). */
  offset: number;
  line: number;
}

interface Descriptor {
  /** Lower-cased keys. */
  values: Map<string, string>;
  extents: ExtentLine[];
}

const EXTENT_RE = /^(RW|RDONLY|NOACCESS)\s+(\d+)\s+([A-Za-z]+)(?:\s+"([^"]*)"(?:\s+(\d+))?)?\s*$/i;
const ACCESS_RE = /^(RW|RDONLY|NOACCESS)\s/i;
const KEY_RE = /^([A-Za-z0-9_.:-]+)\s*=\s*(.*)$/;

function parseDecimal(text: string, max: number): number | undefined {
  if (text.length > 16) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) && n >= 0 && n <= max ? n : undefined;
}

/** Parses descriptor text (already cut at the first NUL). Extent types not readable here are refused. */
function parseDescriptor(text: string, file: string, layer: string): Descriptor {
  const values = new Map<string, string>();
  const extents: ExtentLine[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] ?? '').replace(/\r$/, '').trim();
    if (line.length === 0 || line.startsWith('#')) continue;
    const loc: ErrorLocation = { file, layer: `${layer} line ${i + 1}` };
    if (ACCESS_RE.test(line)) {
      const m = EXTENT_RE.exec(line);
      if (m === null) throw corrupt(`invalid extent line ${JSON.stringify(line.slice(0, 200))}`, loc);
      if (extents.length >= MAX_EXTENTS) {
        throw new HyperwardError('E_LIMIT', `more than ${MAX_EXTENTS} extents`, loc);
      }
      const sectors = parseDecimal(m[2] ?? '', MAX_SECTORS);
      if (sectors === undefined) throw corrupt(`extent size ${m[2] ?? ''} is out of range`, loc);
      const rawType = (m[3] ?? '').toUpperCase();
      let type: ExtentType;
      if (rawType === 'SPARSE' || rawType === 'FLAT' || rawType === 'VMFS' || rawType === 'ZERO')
        type = rawType;
      else if (rawType === 'VMFSSPARSE' || rawType === 'SESPARSE') {
        throw new HyperwardError(
          'E_UNSUPPORTED_FORMAT',
          `${rawType} extents (ESX ${rawType === 'SESPARSE' ? 'SE sparse' : 'COWD sparse'}) are not supported; convert the disk with qemu-img or vmkfstools first`,
          loc,
        );
      } else if (rawType === 'VMFSRAW' || rawType === 'VMFSRDM' || rawType === 'VMFSPASSTHROUGHRAW') {
        throw new HyperwardError(
          'E_UNSUPPORTED_FORMAT',
          `${rawType} extents map a raw device, which cannot be read from an image`,
          loc,
        );
      } else {
        throw new HyperwardError('E_UNSUPPORTED_FORMAT', `unknown extent type ${JSON.stringify(m[3])}`, loc);
      }
      const name = m[4];
      if (type !== 'ZERO' && (name === undefined || name.length === 0)) {
        throw corrupt(`${type} extent without a file name`, loc);
      }
      let offset = 0;
      if (m[5] !== undefined) {
        const o = parseDecimal(m[5], MAX_SECTORS);
        if (o === undefined) throw corrupt(`extent offset ${m[5]} is out of range`, loc);
        offset = o;
      }
      const ext: ExtentLine = { access: (m[1] ?? '').toUpperCase(), sectors, type, offset, line: i + 1 };
      if (type !== 'ZERO' && name !== undefined) ext.file = name;
      extents.push(ext);
      continue;
    }
    const kv = KEY_RE.exec(line);
    if (kv !== null) {
      let v = (kv[2] ?? '').trim();
      if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
      values.set((kv[1] ?? '').toLowerCase(), v);
    }
    // Anything else (stray text) is ignored, as VMware and qemu do.
  }
  return { values, extents };
}

function descriptorText(buf: Buffer): string {
  const nul = buf.indexOf(0);
  return buf.toString('utf8', 0, nul < 0 ? buf.length : nul);
}

// ---------------------------------------------------------------------------------------------------------------
// Extent files: opened lazily, at most MAX_OPEN_EXTENT_FILES at a time.

class FilePool {
  private readonly open: Lru<number, FileSource>;
  private readonly identity = new Map<number, { dev: number; ino: number }>();
  private closed = false;

  constructor(
    private readonly ctx: OpenContext,
    /** Real paths; index 0 may be pinned (the image the user named, already open). */
    readonly paths: readonly string[],
    private readonly pinned: FileSource | undefined,
  ) {
    this.open = new Lru(MAX_OPEN_EXTENT_FILES, { onEvict: (src) => src.close() });
  }

  get(index: number): FileSource {
    if (this.closed) throw new HyperwardError('E_INTERNAL', 'read after close', { file: this.paths[0] });
    if (index === 0 && this.pinned !== undefined) return this.pinned;
    const cached = this.open.get(index);
    if (cached !== undefined) return cached;
    const path = this.paths[index];
    if (path === undefined) throw new HyperwardError('E_INTERNAL', `no extent file ${index}`, {});
    const src = this.ctx.openSource(path);
    const seen = this.identity.get(index);
    if (seen === undefined) this.identity.set(index, { dev: src.dev, ino: src.ino });
    else if (seen.dev !== src.dev || seen.ino !== src.ino) {
      src.close();
      throw new HyperwardError('E_IO', 'the extent file was replaced while the disk was open', {
        file: path,
        layer: 'VMDK extent',
      });
    }
    this.open.set(index, src);
    return src;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const src of this.open.values()) src.close();
    this.open.clear();
    this.pinned?.close();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Sparse extent header

interface SparseHeader {
  version: number;
  flags: number;
  capacity: number;
  grainSectors: number;
  descriptorOffset: number;
  descriptorSize: number;
  gtes: number;
  rgdOffset: number;
  gdOffset: number;
  compressed: boolean;
  markers: boolean;
  zeroGrains: boolean;
  /** The header came from the stream-optimized footer. */
  fromFooter: boolean;
}

function u64(buf: Buffer, at: number, what: string, loc: ErrorLocation): number {
  const v = buf.readBigUInt64LE(at);
  if (v > BigInt(MAX_SECTORS)) throw corrupt(`${what} ${v} is out of range`, { ...loc, offset: at });
  return Number(v);
}

function parseSparseHeader(buf: Buffer, file: string, base: number, fromFooter: boolean): SparseHeader {
  const layer = fromFooter ? 'VMDK footer' : 'VMDK sparse header';
  const loc = (offset: number): ErrorLocation => ({ file, layer, offset: base + offset });
  if (buf.length < SECTOR) throw corrupt('file too small for a VMDK sparse header', loc(0));
  const magic = buf.readUInt32LE(0);
  if (magic === COWD_MAGIC) {
    throw new HyperwardError(
      'E_UNSUPPORTED_FORMAT',
      'ESX sparse (COWD, vmfsSparse) extents are not supported; convert the disk with qemu-img or vmkfstools first',
      loc(0),
    );
  }
  if (magic !== SPARSE_MAGIC) throw corrupt('bad VMDK sparse extent magic (expected KDMV)', loc(0));
  const version = buf.readUInt32LE(4);
  if (version < 1 || version > 3) {
    throw new HyperwardError('E_UNSUPPORTED_FORMAT', `VMDK sparse extent version ${version}`, loc(4));
  }
  const flags = buf.readUInt32LE(8);
  if ((flags & FLAG_NEWLINE_TEST) !== 0 && buf.toString('latin1', 73, 77) !== '\n \r\n') {
    throw corrupt(
      'the newline test bytes are damaged (the file went through a text-mode transfer?)',
      loc(73),
    );
  }
  const rel = { file, layer };
  const capacity = u64(buf, 12, 'capacity', { ...rel, offset: base });
  const grainSectors = u64(buf, 20, 'grain size', { ...rel, offset: base });
  if (grainSectors < 1 || grainSectors > MAX_GRAIN_SECTORS || (grainSectors & (grainSectors - 1)) !== 0) {
    throw corrupt(
      `grain size of ${grainSectors} sectors is not a power of two in 1..${MAX_GRAIN_SECTORS}`,
      loc(20),
    );
  }
  const gtes = buf.readUInt32LE(44);
  if (gtes < 1 || gtes > MAX_GTES_PER_GT) {
    throw corrupt(`${gtes} grain table entries per grain table (1..${MAX_GTES_PER_GT} accepted)`, loc(44));
  }
  const gdRaw = buf.readBigUInt64LE(56);
  const rgdRaw = buf.readBigUInt64LE(48);
  const compressAlgorithm = buf.readUInt16LE(77);
  if (compressAlgorithm !== COMPRESSION_NONE && compressAlgorithm !== COMPRESSION_DEFLATE) {
    throw new HyperwardError(
      'E_UNSUPPORTED_FORMAT',
      `VMDK grain compression algorithm ${compressAlgorithm} is not supported`,
      loc(77),
    );
  }
  return {
    version,
    flags,
    capacity,
    grainSectors,
    descriptorOffset: u64(buf, 28, 'descriptor offset', { ...rel, offset: base }),
    descriptorSize: u64(buf, 36, 'descriptor size', { ...rel, offset: base }),
    gtes,
    // Only used as a fallback (and only with its flag): an absurd value just means "no redundant directory".
    rgdOffset: rgdRaw > BigInt(MAX_SECTORS) ? 0 : Number(rgdRaw),
    gdOffset: gdRaw === GD_AT_END ? -1 : u64(buf, 56, 'grain directory offset', { ...rel, offset: base }),
    compressed: compressAlgorithm === COMPRESSION_DEFLATE,
    markers: (flags & FLAG_MARKERS) !== 0,
    zeroGrains: (flags & FLAG_ZERO_GRAIN) !== 0,
    fromFooter,
  };
}

/** Reads the header, and the stream-optimized footer when the grain directory is only at the end. */
function readSparseHeader(src: FileSource): SparseHeader {
  const head = src.read(0, Math.min(src.size, SECTOR), 'VMDK sparse header');
  const h = parseSparseHeader(head, src.path, 0, false);
  if (h.gdOffset !== -1) return h;
  // streamOptimized: [footer marker][footer][end-of-stream marker] close the file.
  const at = src.size - 2 * SECTOR;
  const loc = { file: src.path, layer: 'VMDK footer', offset: Math.max(0, at) };
  if (at < SECTOR * 2 || src.size % SECTOR !== 0) {
    throw corrupt('the grain directory is at the end of the file but there is no room for a footer', loc);
  }
  const marker = src.read(at - SECTOR, SECTOR, 'VMDK footer marker');
  if (marker.readUInt32LE(8) !== 0 || marker.readUInt32LE(12) !== MARKER_FOOTER) {
    throw corrupt('no footer marker before the footer (stream truncated?)', { ...loc, offset: at - SECTOR });
  }
  const footer = parseSparseHeader(src.read(at, SECTOR, 'VMDK footer'), src.path, at, true);
  if (footer.gdOffset === -1) throw corrupt('the footer does not locate the grain directory either', loc);
  const eos = src.read(at + SECTOR, SECTOR, 'VMDK end-of-stream marker');
  if (eos.readUInt32LE(8) !== 0 || eos.readUInt32LE(12) !== MARKER_EOS) {
    throw corrupt('no end-of-stream marker after the footer', { ...loc, offset: at + SECTOR });
  }
  // The descriptor is located by the header; everything else comes from the footer.
  return { ...footer, descriptorOffset: h.descriptorOffset, descriptorSize: h.descriptorSize };
}

function readEmbeddedDescriptor(src: FileSource, h: SparseHeader): string | undefined {
  if (h.descriptorOffset === 0 || h.descriptorSize === 0) return undefined;
  const loc = { file: src.path, layer: 'VMDK descriptor', offset: h.descriptorOffset * SECTOR };
  if (h.descriptorSize > MAX_DESCRIPTOR_BYTES / SECTOR) {
    throw new HyperwardError(
      'E_LIMIT',
      `embedded descriptor of ${h.descriptorSize} sectors (max ${MAX_DESCRIPTOR_BYTES / SECTOR})`,
      loc,
    );
  }
  const off = h.descriptorOffset * SECTOR;
  const len = h.descriptorSize * SECTOR;
  if (off + len > src.size) throw corrupt('the embedded descriptor lies past the end of the file', loc);
  return descriptorText(src.read(off, len, 'VMDK descriptor'));
}

// ---------------------------------------------------------------------------------------------------------------
// Sparse extent mapping

/** What backs one grain. */
type GrainEntry =
  | { kind: 'unallocated' }
  | { kind: 'zero' }
  | { kind: 'data'; sector: number }
  | { kind: 'compressed'; sector: number };

/** Parsed, validated metadata of one sparse extent file. */
class SparseMeta {
  readonly grainBytes: number;
  readonly gdEntries: number;
  /** Primary grain directory, or undefined when it is unreadable (then the redundant one is used). */
  private readonly gd: Buffer | undefined;
  private readonly rgd: Buffer | undefined;
  private readonly gtBytes: number;

  private get src(): FileSource {
    return this.openFile();
  }

  constructor(
    readonly h: SparseHeader,
    /** The extent file, from the pool (which may close and reopen it between reads). */
    private readonly openFile: () => FileSource,
    private readonly fileIndex: number,
    private readonly caches: Caches,
  ) {
    this.grainBytes = h.grainSectors * SECTOR;
    this.gtBytes = h.gtes * 4;
    const perGt = h.grainSectors * h.gtes;
    this.gdEntries = Math.ceil(h.capacity / perGt);
    const src = this.src;
    const file = src.path;
    if (this.gdEntries > MAX_GD_ENTRIES) {
      throw new HyperwardError(
        'E_LIMIT',
        `capacity of ${h.capacity} sectors needs ${this.gdEntries} grain directory entries (max ${MAX_GD_ENTRIES})`,
        {
          file,
          layer: h.fromFooter ? 'VMDK footer' : 'VMDK sparse header',
          offset: (h.fromFooter ? src.size - 2 * SECTOR : 0) + 12,
        },
      );
    }
    const gd = this.loadDirectory(h.gdOffset);
    const rgd = (h.flags & FLAG_REDUNDANT_GT) !== 0 ? this.loadDirectory(h.rgdOffset) : undefined;
    if (this.gdEntries > 0 && gd === undefined && rgd === undefined) {
      throw corrupt(
        `the grain directory (${this.gdEntries} entries) lies outside the file (size ${src.size})` +
          ((h.flags & FLAG_REDUNDANT_GT) !== 0 ? ' and so does the redundant one' : ''),
        { file, layer: 'VMDK grain directory', offset: h.gdOffset * SECTOR },
      );
    }
    this.gd = gd;
    this.rgd = rgd;
  }

  private loadDirectory(sector: number): Buffer | undefined {
    if (this.gdEntries === 0) return Buffer.alloc(0);
    const off = sector * SECTOR;
    const len = this.gdEntries * 4;
    if (sector === 0 || off + len > this.src.size) return undefined;
    return this.src.read(off, len, 'VMDK grain directory');
  }

  /** Whether a table or grain starting at `sector` and `bytes` long lies inside the file (not the header). */
  private inFile(sector: number, bytes: number): boolean {
    return sector >= 1 && sector * SECTOR + bytes <= this.src.size;
  }

  private table(dir: Buffer, redundant: boolean, index: number): Buffer | undefined | null {
    const gtSector = dir.readUInt32LE(index * 4);
    if (gtSector === 0) return undefined;
    if (!this.inFile(gtSector, this.gtBytes)) return null;
    const key = `${this.fileIndex}:${redundant ? 'r' : 'p'}:${index}`;
    let gt = this.caches.tables.get(key);
    if (gt === undefined) {
      gt = this.src.read(gtSector * SECTOR, this.gtBytes, 'VMDK grain table');
      this.caches.tables.set(key, gt);
    }
    return gt;
  }

  private entry(gt: Buffer, slot: number, needed: number): GrainEntry | null {
    const v = gt.readUInt32LE(slot * 4);
    if (v === 0) return { kind: 'unallocated' };
    if (v === 1 && this.h.zeroGrains) return { kind: 'zero' };
    if (this.h.compressed) {
      return this.inFile(v, this.h.markers ? MARKER_HEADER : 1) ? { kind: 'compressed', sector: v } : null;
    }
    return this.inFile(v, needed) ? { kind: 'data', sector: v } : null;
  }

  /**
   * Looks up grain `g`; `needed` is how many bytes of it the extent uses. A grain table or entry of the primary
   * directory that points outside the file falls back to the redundant directory.
   */
  lookup(g: number, needed: number): GrainEntry {
    const dirIndex = Math.floor(g / this.h.gtes);
    const slot = g - dirIndex * this.h.gtes;
    if (dirIndex >= this.gdEntries) return { kind: 'unallocated' };
    let bad: ErrorLocation | undefined;
    for (const [dir, redundant] of [
      [this.gd, false],
      [this.rgd, true],
    ] as const) {
      if (dir === undefined) continue;
      const gt = this.table(dir, redundant, dirIndex);
      const dirLayer = redundant ? 'VMDK redundant grain directory' : 'VMDK grain directory';
      const dirOffset = (redundant ? this.h.rgdOffset : this.h.gdOffset) * SECTOR + dirIndex * 4;
      if (gt === undefined) return { kind: 'unallocated' };
      if (gt === null) {
        bad ??= { file: this.src.path, layer: dirLayer, offset: dirOffset };
        continue;
      }
      const e = this.entry(gt, slot, needed);
      if (e !== null) return e;
      bad ??= {
        file: this.src.path,
        layer: redundant ? 'VMDK redundant grain table' : 'VMDK grain table',
        offset: dir.readUInt32LE(dirIndex * 4) * SECTOR + slot * 4,
      };
    }
    throw corrupt(
      `grain ${g} points outside the file (size ${this.src.size})`,
      bad ?? { file: this.src.path },
    );
  }

  /** Decompresses the grain whose marker (or data) starts at `sector`; cached. */
  grain(sector: number, minBytes: number): Buffer {
    const key = `${this.fileIndex}:${sector}`;
    const cached = this.caches.grains.get(key);
    if (cached !== undefined) return cached;
    const off = sector * SECTOR;
    const loc = { file: this.src.path, layer: 'VMDK compressed grain', offset: off };
    const maxInput = this.grainBytes * 2 + 1024;
    let input: Buffer;
    if (this.h.markers) {
      const first = Math.min(this.src.size - off, MARKER_HEADER + Math.min(maxInput, 64 * 1024));
      const head = this.src.read(off, first, 'VMDK grain marker');
      const size = head.readUInt32LE(8);
      if (size === 0) throw corrupt('a grain table entry points at a metadata marker, not a grain', loc);
      if (size > maxInput) throw corrupt(`compressed grain of ${size} bytes (max ${maxInput})`, loc);
      if (off + MARKER_HEADER + size > this.src.size) {
        throw corrupt(`compressed grain of ${size} bytes runs past the end of the file`, loc);
      }
      input =
        MARKER_HEADER + size <= head.length
          ? head.subarray(MARKER_HEADER, MARKER_HEADER + size)
          : this.src.read(off + MARKER_HEADER, size, 'VMDK compressed grain');
    } else {
      input = this.src.read(off, Math.min(this.src.size - off, maxInput), 'VMDK compressed grain');
    }
    let out: Buffer;
    try {
      out = inflateGrain(input, this.grainBytes);
    } catch (e) {
      throw new HyperwardError(
        'E_IMAGE_CORRUPT',
        `cannot decompress the grain: ${(e as Error)?.message ?? String(e)}`,
        loc,
        { cause: e },
      );
    }
    if (out.length < minBytes) {
      throw corrupt(`grain decompressed to ${out.length} bytes, expected ${this.grainBytes}`, loc);
    }
    if (out.length < this.grainBytes) {
      const full = Buffer.alloc(this.grainBytes);
      out.copy(full);
      out = full;
    }
    this.caches.grains.set(key, out);
    return out;
  }
}

/** RFC 1950 (zlib) stream as written by VMware and qemu; raw deflate (RFC 1951) is accepted too. */
function inflateGrain(input: Buffer, max: number): Buffer {
  const b0 = input[0] ?? 0;
  const b1 = input[1] ?? 0;
  const zlibHeader = input.length >= 2 && (b0 & 0x0f) === 8 && b0 >> 4 <= 7 && ((b0 << 8) | b1) % 31 === 0;
  if (zlibHeader) {
    try {
      return zlib().inflateSync(input, { maxOutputLength: max });
    } catch (e) {
      if ((e as NodeJS.ErrnoException)?.code === 'ERR_BUFFER_TOO_LARGE') {
        throw new Error(`the grain inflates to more than ${max} bytes`, { cause: e });
      }
      // fall through: it may be raw deflate whose first bytes look like a zlib header
    }
  }
  try {
    return zlib().inflateRawSync(input, { maxOutputLength: max });
  } catch (e) {
    if ((e as NodeJS.ErrnoException)?.code === 'ERR_BUFFER_TOO_LARGE') {
      throw new Error(`the grain inflates to more than ${max} bytes`, { cause: e });
    }
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Device

interface Caches {
  tables: Lru<string, Buffer>;
  grains: Lru<string, Buffer>;
}

interface Extent {
  /** Virtual byte offset of the extent. */
  start: number;
  size: number;
  type: ExtentType;
  /** Index into the file pool (not for ZERO). */
  fileIndex: number;
  /** Byte offset in the file (flat extents). */
  fileOffset: number;
}

interface ExtentInfo {
  access: string;
  type: string;
  sectors: number;
  file?: string;
  offset?: number;
}

class VmdkDevice implements BlockDevice {
  readonly format = 'vmdk';
  readonly size: number;
  readonly name: string;
  readonly info: DeviceInfo;
  /** Sparse metadata per file index, parsed on first use. */
  private readonly sparse = new Map<number, SparseMeta>();
  private closed = false;

  constructor(
    name: string,
    private readonly extents: readonly Extent[],
    private readonly pool: FilePool,
    private readonly parent: BlockDevice | undefined,
    private readonly caches: Caches,
    info: DeviceInfo,
    preloaded?: SparseMeta,
  ) {
    this.name = name;
    const last = extents[extents.length - 1];
    this.size = last === undefined ? 0 : last.start + last.size;
    this.info = info;
    if (preloaded !== undefined) this.sparse.set(0, preloaded);
  }

  read(offset: number, length: number): Buffer {
    checkRange(this, offset, length);
    if (this.closed) throw new HyperwardError('E_INTERNAL', 'read after close', { file: this.name });
    const out = Buffer.alloc(length);
    let pos = offset;
    const end = offset + length;
    let i = this.extentAt(offset);
    while (pos < end) {
      const ext = this.extents[i];
      if (ext === undefined) throw new HyperwardError('E_INTERNAL', 'extent map hole', { file: this.name });
      const n = Math.min(end, ext.start + ext.size) - pos;
      if (n > 0) this.readExtent(ext, out, pos - offset, pos - ext.start, n);
      pos += Math.max(n, 0);
      i++;
    }
    return out;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.pool.close();
    this.parent?.close();
    this.caches.tables.clear();
    this.caches.grains.clear();
  }

  /** Parsed metadata of the sparse extent in file `index`. */
  meta(index: number): SparseMeta {
    let m = this.sparse.get(index);
    if (m === undefined) {
      const src = this.pool.get(index);
      m = new SparseMeta(readSparseHeader(src), () => this.pool.get(index), index, this.caches);
      this.sparse.set(index, m);
    }
    return m;
  }

  private extentAt(offset: number): number {
    let lo = 0;
    let hi = this.extents.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.extents[mid]?.start ?? 0) <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  private readExtent(ext: Extent, out: Buffer, at: number, within: number, len: number): void {
    if (ext.type === 'ZERO') return; // `out` starts zeroed
    if (ext.type === 'FLAT' || ext.type === 'VMFS') {
      this.pool.get(ext.fileIndex).readInto(out, at, len, ext.fileOffset + within, 'VMDK flat extent');
      return;
    }
    this.readSparse(ext, out, at, within, len);
  }

  private readSparse(ext: Extent, out: Buffer, at: number, within: number, len: number): void {
    const meta = this.meta(ext.fileIndex);
    const src = this.pool.get(ext.fileIndex);
    const gb = meta.grainBytes;
    // The pending run of grains that one host read (data) or one parent read (unallocated) can serve.
    let runKind: 'data' | 'parent' | undefined;
    let runAt = 0;
    let runLen = 0;
    let runHost = 0;
    const flush = (): void => {
      if (runKind === 'data') src.readInto(out, runAt, runLen, runHost, 'VMDK grain');
      else if (runKind === 'parent')
        readBacking(this.parent, out, runAt, ext.start + within + (runAt - at), runLen);
      runKind = undefined;
    };
    let pos = within;
    const end = within + len;
    while (pos < end) {
      const g = Math.floor(pos / gb);
      const inGrain = pos - g * gb;
      const n = Math.min(gb - inGrain, end - pos);
      const dst = at + (pos - within);
      const needed = Math.min(gb, ext.size - g * gb);
      const e = meta.lookup(g, needed);
      if (e.kind === 'data') {
        const host = e.sector * SECTOR + inGrain;
        if (runKind === 'data' && runHost + runLen === host) runLen += n;
        else {
          flush();
          runKind = 'data';
          runAt = dst;
          runLen = n;
          runHost = host;
        }
      } else if (e.kind === 'unallocated' && this.parent !== undefined) {
        if (runKind === 'parent') runLen += n;
        else {
          flush();
          runKind = 'parent';
          runAt = dst;
          runLen = n;
        }
      } else {
        flush();
        if (e.kind === 'compressed')
          meta.grain(e.sector, Math.min(needed, gb)).copy(out, dst, inGrain, inGrain + n);
        // zero grains, and unallocated grains without a parent, stay zero
      }
      pos += n;
    }
    flush();
  }
}

/**
 * Metadata caches bounded in bytes: the entry counts are sized for the grain tables and grains of the (first)
 * sparse extent, and the byte budgets they imply also hold when a later extent has larger tables or grains.
 */
function newCaches(gtBytes = 512 * 4, grainBytes = 128 * SECTOR): Caches {
  const bounded = (entries: number, entryBytes: number): Lru<string, Buffer> =>
    new Lru(entries, { budget: { maxBytes: entries * entryBytes, sizeOf: (b) => b.length } });
  return {
    tables: bounded(Math.max(GT_CACHE_MIN, Math.floor(GT_CACHE_BYTES / gtBytes)), gtBytes),
    grains: bounded(Math.max(GRAIN_CACHE_MIN, Math.floor(GRAIN_CACHE_BYTES / grainBytes)), grainBytes),
  };
}

/** Opens the parent named by `parentFileNameHint`, if any. */
function openParent(ctx: OpenContext, d: Descriptor | undefined, from: string): BlockDevice | undefined {
  const hint = d?.values.get('parentfilenamehint');
  if (hint === undefined || hint.length === 0) return undefined;
  const real = ctx.resolveRef(hint, from, 'VMDK parent');
  return ctx.openBacking(real, from, 'VMDK parent');
}

function baseInfo(
  d: Descriptor | undefined,
  subformat: string,
  size: number,
  files: string[],
  parent: BlockDevice | undefined,
): DeviceInfo {
  const info: DeviceInfo = { format: 'vmdk', subformat, virtualSize: size, files };
  const cid = d?.values.get('cid');
  const parentCid = d?.values.get('parentcid');
  if (cid !== undefined) info.cid = cid.toLowerCase();
  if (parentCid !== undefined) info.parentCid = parentCid.toLowerCase();
  if (parent !== undefined) {
    info.backing = parent.info;
    info.files = [...files, ...parent.info.files];
    const hint = d?.values.get('parentfilenamehint');
    if (hint !== undefined) info.backingFile = hint;
    const pcid = parent.info.cid;
    if (typeof pcid === 'string' && parentCid !== undefined) {
      info.parentCidMatches = pcid === parentCid.toLowerCase();
      if (!info.parentCidMatches) {
        info.warnings = [
          `parentCID ${parentCid} differs from the parent's CID ${pcid}: the parent changed after this snapshot was taken`,
        ];
      }
    }
  }
  return info;
}

/** A `KDMV` file opened directly: one sparse extent, its embedded descriptor giving createType and parent. */
function openMonolithic(src: FileSource, ctx: OpenContext): BlockDevice {
  const h = readSparseHeader(src);
  const text = readEmbeddedDescriptor(src, h);
  const d = text === undefined ? undefined : parseDescriptor(text, src.path, 'VMDK descriptor');
  // An all-NUL descriptor area means "no descriptor" (qemu writes the extents of split disks that way); text that
  // yields neither a key nor an extent means the area was overwritten or the file was edited and shifted.
  if (
    text !== undefined &&
    text.length > 0 &&
    d !== undefined &&
    d.values.size === 0 &&
    d.extents.length === 0
  ) {
    throw corrupt('the embedded descriptor is empty or damaged', {
      file: src.path,
      layer: 'VMDK descriptor',
      offset: h.descriptorOffset * SECTOR,
    });
  }
  const size = h.capacity * SECTOR;
  const caches = newCaches(h.gtes * 4, h.grainSectors * SECTOR);
  const pool = new FilePool(ctx, [src.path], src);
  const meta = new SparseMeta(h, () => src, 0, caches);
  const parent = openParent(ctx, d, src.path);
  try {
    const subformat =
      d?.values.get('createtype') ?? (h.compressed && h.markers ? 'streamOptimized' : 'monolithicSparse');
    const info = baseInfo(d, subformat, size, [src.path], parent);
    info.grainSize = meta.grainBytes;
    info.compressed = h.compressed;
    info.version = h.version;
    if (src.size % SECTOR !== 0) {
      info.warnings = [
        ...((info.warnings as string[] | undefined) ?? []),
        `the file size ${src.size} is not a multiple of 512: the file is probably truncated`,
      ];
    }
    info.extents = [
      { access: 'RW', type: 'SPARSE', sectors: h.capacity, file: src.path } satisfies ExtentInfo,
    ];
    const extents: Extent[] = [{ start: 0, size, type: 'SPARSE', fileIndex: 0, fileOffset: 0 }];
    return new VmdkDevice(src.path, extents, pool, parent, caches, info, meta);
  } catch (e) {
    parent?.close();
    throw e;
  }
}

/** A text descriptor naming extent files. */
function openDescriptorFile(src: FileSource, ctx: OpenContext): BlockDevice {
  const file = src.path;
  if (src.size > MAX_DESCRIPTOR_BYTES) {
    throw new HyperwardError(
      'E_LIMIT',
      `descriptor file of ${src.size} bytes (max ${MAX_DESCRIPTOR_BYTES})`,
      { file, layer: 'VMDK descriptor' },
    );
  }
  const d = parseDescriptor(
    descriptorText(src.read(0, src.size, 'VMDK descriptor')),
    file,
    'VMDK descriptor',
  );
  const createType = d.values.get('createtype');
  if (createType === undefined || createType.length === 0) {
    throw corrupt('the descriptor has no createType', { file, layer: 'VMDK descriptor' });
  }
  if (d.extents.length === 0)
    throw corrupt('the descriptor lists no extents', { file, layer: 'VMDK descriptor' });

  const paths: string[] = [];
  const indexOf = new Map<string, number>();
  const extents: Extent[] = [];
  const infos: ExtentInfo[] = [];
  let start = 0;
  for (const line of d.extents) {
    const bytes = line.sectors * SECTOR;
    const layer = `VMDK extent (descriptor line ${line.line})`;
    if (start + bytes > MAX_SECTORS * SECTOR) {
      throw corrupt('the extents add up to more than 2^53 bytes', { file, layer });
    }
    let fileIndex = -1;
    const info: ExtentInfo = { access: line.access, type: line.type, sectors: line.sectors };
    if (line.type !== 'ZERO' && line.file !== undefined) {
      const real = ctx.resolveRef(line.file, file, 'VMDK extent');
      fileIndex = indexOf.get(real) ?? paths.length;
      if (fileIndex === paths.length) {
        indexOf.set(real, fileIndex);
        paths.push(real);
      }
      info.file = real;
      if (line.type !== 'SPARSE') info.offset = line.offset;
    }
    infos.push(info);
    if (bytes === 0) continue;
    extents.push({
      start,
      size: bytes,
      type: line.type,
      fileIndex,
      fileOffset: line.type === 'SPARSE' ? 0 : line.offset * SECTOR,
    });
    start += bytes;
  }
  if (extents.length === 0) throw corrupt('all extents are empty', { file, layer: 'VMDK descriptor' });

  // Size the caches and report the grain size from the first sparse extent, if there is one.
  let caches = newCaches();
  let first: { grainSize: number; compressed: boolean } | undefined;
  const pool = new FilePool(ctx, paths, undefined);
  let parent: BlockDevice | undefined;
  try {
    const firstSparse = extents.find((e) => e.type === 'SPARSE');
    if (firstSparse !== undefined) {
      const s = pool.get(firstSparse.fileIndex);
      const h = readSparseHeader(s);
      caches = newCaches(h.gtes * 4, h.grainSectors * SECTOR);
      first = { grainSize: h.grainSectors * SECTOR, compressed: h.compressed };
    }
    parent = openParent(ctx, d, file);
    const info = baseInfo(d, createType, start, [file, ...paths], parent);
    if (first !== undefined) {
      info.grainSize = first.grainSize;
      info.compressed = first.compressed;
    }
    info.extents = infos;
    src.close(); // everything needed from the descriptor is parsed
    return new VmdkDevice(file, extents, pool, parent, caches, info);
  } catch (e) {
    pool.close();
    parent?.close();
    throw e;
  }
}

/**
 * Opens a VMDK disk: a sparse extent file (`KDMV` magic: monolithicSparse, streamOptimized, or one extent of a
 * split disk) or a text descriptor (`# Disk DescriptorFile`) whose extents are resolved with `ctx.resolveRef`
 * and opened lazily with `ctx.openSource`. A `parentFileNameHint` is opened with `ctx.openBacking`, and
 * unallocated grains read from it. ESX sparse (`COWD`) throws E_UNSUPPORTED_FORMAT.
 *
 * @example
 * const dev = openVmdk(new FileSource('disk.vmdk'), ctx);
 * const mbr = dev.read(0, 512);
 */
export function openVmdk(src: FileSource, ctx: OpenContext): BlockDevice {
  const head = src.read(0, Math.min(src.size, 4), 'VMDK header');
  const magic = head.length === 4 ? head.readUInt32LE(0) : 0;
  if (magic === SPARSE_MAGIC || magic === COWD_MAGIC) return openMonolithic(src, ctx);
  return openDescriptorFile(src, ctx);
}
