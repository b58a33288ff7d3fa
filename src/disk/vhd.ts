/**
 * VHD (Microsoft Virtual Hard Disk, "Virtual PC" format) reader: fixed, dynamic and differencing disks.
 *
 * Layout (all big-endian): a 512-byte footer at the end of the file (and, for dynamic and differencing disks, a
 * copy at offset 0); dynamic disks add a 1024-byte "cxsparse" header, a block allocation table (BAT) of 32-bit
 * sector offsets, and blocks made of a sector bitmap followed by the block data. Differencing disks name their
 * parent through platform-specific locators and a UTF-16BE file name.
 *
 * Checksum mismatches are survived with a warning (real images with disputed checksums exist); everything that
 * decides where bytes are read from is bounds-checked against the file.
 */
import { statSync } from 'node:fs';
import { HyperwardError, corrupt, isHyperwardError } from '../errors.js';
import { Lru } from '../lru.js';
import type { FileSource } from '../source/file.js';
import { overlayPresentSectors, readBacking } from './backing.js';
import type { OpenContext } from './open.js';
import { PagedTable } from './paged-table.js';
import { checkRange, type BlockDevice, type DeviceInfo } from './types.js';

const SECTOR = 512;
const FOOTER_SIZE = 512;
const DYN_HEADER_SIZE = 1024;
const COOKIE = 'conectix';
const DYN_COOKIE = 'cxsparse';

const TYPE_FIXED = 2;
const TYPE_DYNAMIC = 3;
const TYPE_DIFFERENCING = 4;

const UNALLOCATED = 0xffffffff;
/** Largest block size accepted (the spec's default is 2 MiB; nothing real uses more than a few MiB). */
const MAX_BLOCK_SIZE = 256 * 1024 * 1024;
/** Largest virtual size accepted: 64 TiB (the spec itself stops at 2040 GiB). */
const MAX_VIRTUAL_SIZE = 64 * 1024 ** 4;
/** BAT entries read per page, and pages kept. */
const BAT_PAGE_ENTRIES = 1024;
const BAT_CACHE_PAGES = 256;
const BITMAP_CACHE_ENTRIES = 512;
/** Largest parent locator payload read (a UTF-16 Windows path of 32767 characters fits). */
const MAX_LOCATOR_BYTES = 65536;

const PLATFORM_W2RU = 0x57327275; // "W2ru": relative Windows path, UTF-16LE
const PLATFORM_W2KU = 0x57326b75; // "W2ku": absolute Windows path, UTF-16LE
const PLATFORM_WI2R = 0x57693272; // "Wi2r": relative Windows path (deprecated, single-byte)
const PLATFORM_WI2K = 0x5769326b; // "Wi2k": absolute Windows path (deprecated, single-byte)
const PLATFORM_MACX = 0x4d616358; // "MacX": UTF-8 file URL

/**
 * Turns a parent path stored inside a Windows (or Mac) image into the references to try with
 * `ctx.resolveRef`, in order. Relative paths keep their directories (`..\\base.vhd` becomes `../base.vhd`);
 * absolute Windows paths (drive letter, UNC, `\\?\`, volume GUID) cannot mean anything on this host, so only
 * their base name is looked up beside the child; absolute POSIX paths (from MacX URLs) are tried as they are,
 * then by base name. Shared with the VHDX reader.
 */
export function parentRefs(stored: string): string[] {
  const path = stored.replace(/\0+$/, '');
  if (path.length === 0 || path.includes('\0')) return [];
  const base = (p: string): string => {
    const parts = p.split(/[\\/]/);
    return parts[parts.length - 1] ?? '';
  };
  const usable = (r: string): boolean => r.length > 0 && r !== '.' && r !== '..' && !r.endsWith('/');
  let p = path;
  if (p.startsWith('\\\\?\\') || p.startsWith('\\\\.\\')) p = p.slice(4);
  const windowsAbsolute =
    /^[A-Za-z]:/.test(p) || p.startsWith('\\') || /^UNC\\/i.test(p) || /^Volume\{/i.test(p) || p !== path;
  if (windowsAbsolute) {
    const b = base(p.replace(/^[A-Za-z]:/, ''));
    return usable(b) ? [b] : [];
  }
  if (p.startsWith('/')) {
    const b = base(p);
    return [p, ...(usable(b) ? [b] : [])].filter(usable);
  }
  const rel = p.replace(/\\/g, '/');
  return usable(rel) ? [rel] : [];
}

/** A candidate parent location read from an image, for `locateParent`. */
export interface ParentCandidate {
  /** Where it came from, for messages and `info`: `W2ru locator`, `relative_path`... */
  source: string;
  /** The stored path. */
  path: string;
}

/**
 * Finds the parent file from `candidates` (in order of preference) under the path policy. A candidate that does
 * not exist (or is not a usable name) is skipped; a refusal by the path policy stops the search, because the
 * image clearly means a file outside the allowed directory. Used by `openParent` (VHD and VHDX).
 */
export function locateParent(
  ctx: OpenContext,
  fromFile: string,
  layer: string,
  candidates: readonly ParentCandidate[],
): { real: string; candidate: ParentCandidate } {
  const tried: string[] = [];
  for (const c of candidates) {
    for (const ref of parentRefs(c.path)) {
      try {
        const real = ctx.resolveRef(ref, fromFile, layer);
        let usable = false;
        try {
          const st = statSync(real);
          usable = st.isFile() || st.isBlockDevice();
        } catch {
          usable = false;
        }
        if (usable) return { real, candidate: c };
        tried.push(`${JSON.stringify(ref)} (${c.source}, not a file)`);
      } catch (e) {
        if (isHyperwardError(e) && (e.code === 'E_NOT_FOUND' || e.code === 'E_IMAGE_CORRUPT')) {
          tried.push(`${JSON.stringify(ref)} (${c.source})`);
          continue;
        }
        throw e;
      }
    }
  }
  throw new HyperwardError(
    'E_NOT_FOUND',
    tried.length > 0
      ? `parent image not found; tried ${tried.slice(0, 8).join(', ')}`
      : 'differencing image names no usable parent path',
    { file: fromFile, layer },
  );
}

/**
 * Opens the parent of a differencing VHD or VHDX: finds it with `locateParent`, opens it with `ctx.openBacking`
 * (so the path policy and cycle detection apply), records it in `info` (`parentFile`, `parentFoundBy`,
 * `backing`, `files`) and warns when its size differs from the child's. `check` adds the format's own identity
 * checks (warnings). Closes the parent again if anything on the way throws. Shared with the VHDX reader.
 */
export function openParent(
  ctx: OpenContext,
  file: string,
  format: 'vhd' | 'vhdx',
  candidates: readonly ParentCandidate[],
  size: number,
  info: DeviceInfo,
  warnings: string[],
  check: (parent: BlockDevice, real: string) => void,
): BlockDevice {
  const name = format === 'vhd' ? 'VHD' : 'VHDX';
  const { real, candidate } = locateParent(ctx, file, `${name} parent locator`, candidates);
  const parent = ctx.openBacking(real, file, `${name} parent`, format);
  try {
    info.parentFile = real;
    info.parentFoundBy = candidate.source;
    check(parent, real);
    if (parent.size !== size) {
      warnings.push(`parent ${real} is ${parent.size} bytes but the child is ${size} bytes`);
    }
    info.backing = parent.info;
    info.files = [file, ...parent.info.files];
  } catch (e) {
    parent.close();
    throw e;
  }
  return parent;
}

/** Big-endian GUID bytes as 8-4-4-4-12 hex (VHD stores its identifiers big-endian). */
function uuidBE(b: Buffer): string {
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** One's complement of the byte sum, skipping the 4-byte checksum field at `skip`. */
function vhdChecksum(buf: Buffer, skip: number): number {
  let sum = 0;
  for (let i = 0; i < buf.length; i++) {
    if (i >= skip && i < skip + 4) continue;
    sum = (sum + buf[i]!) >>> 0;
  }
  return ~sum >>> 0;
}

/** A u64 big-endian field as a number, or undefined when it is not a safe integer. */
function u64BE(buf: Buffer, at: number): number | undefined {
  const v = buf.readBigUInt64BE(at);
  return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : undefined;
}

interface Footer {
  buf: Buffer;
  at: number;
  checksumOk: boolean;
  storedChecksum: number;
  computedChecksum: number;
  features: number;
  version: number;
  dataOffset: bigint;
  timestamp: number;
  creatorApp: string;
  creatorVersion: number;
  creatorOs: string;
  originalSize: bigint;
  currentSize: bigint;
  cylinders: number;
  heads: number;
  sectorsPerTrack: number;
  diskType: number;
  uniqueId: string;
  savedState: number;
}

function parseFooter(buf: Buffer, at: number): Footer | undefined {
  if (buf.length < FOOTER_SIZE || buf.toString('latin1', 0, 8) !== COOKIE) return undefined;
  const stored = buf.readUInt32BE(64);
  const computed = vhdChecksum(buf, 64);
  const printable = (s: string): string => s.replace(/[^\x20-\x7e]/g, '?');
  return {
    buf,
    at,
    checksumOk: stored === computed,
    storedChecksum: stored,
    computedChecksum: computed,
    features: buf.readUInt32BE(8),
    version: buf.readUInt32BE(12),
    dataOffset: buf.readBigUInt64BE(16),
    timestamp: buf.readUInt32BE(24),
    creatorApp: printable(buf.toString('latin1', 28, 32)),
    creatorVersion: buf.readUInt32BE(32),
    creatorOs: printable(buf.toString('latin1', 36, 40)),
    originalSize: buf.readBigUInt64BE(40),
    currentSize: buf.readBigUInt64BE(48),
    cylinders: buf.readUInt16BE(56),
    heads: buf[58]!,
    sectorsPerTrack: buf[59]!,
    diskType: buf.readUInt32BE(60),
    uniqueId: uuidBE(buf.subarray(68, 84)),
    savedState: buf[84]!,
  };
}

const hex32 = (n: number): string => `0x${n.toString(16).padStart(8, '0')}`;

/** Picks the footer to trust: the one at the end, else the copy at offset 0, surviving bad checksums. */
function chooseFooter(src: FileSource, warnings: string[]): Footer {
  const tail = parseFooter(
    src.read(src.size - FOOTER_SIZE, FOOTER_SIZE, 'VHD footer'),
    src.size - FOOTER_SIZE,
  );
  const head =
    src.size >= FOOTER_SIZE * 2 ? parseFooter(src.read(0, FOOTER_SIZE, 'VHD footer copy'), 0) : undefined;
  const dynamicType = (f: Footer | undefined): boolean =>
    f !== undefined && (f.diskType === TYPE_DYNAMIC || f.diskType === TYPE_DIFFERENCING);
  const mismatch = (f: Footer): string =>
    `checksum mismatch in the VHD footer at offset ${f.at} (stored ${hex32(f.storedChecksum)}, computed ${hex32(f.computedChecksum)})`;
  if (tail?.checksumOk) return tail;
  if (head?.checksumOk && dynamicType(head)) {
    warnings.push(
      tail
        ? `${mismatch(tail)}; using the copy at offset 0`
        : 'no valid VHD footer at the end of the file (truncated?); using the copy at offset 0',
    );
    return head;
  }
  if (tail) {
    warnings.push(
      head && dynamicType(head)
        ? `${mismatch(tail)}; the copy at offset 0 disagrees too (stored ${hex32(head.storedChecksum)}, computed ${hex32(head.computedChecksum)}); continuing with the footer at the end`
        : `${mismatch(tail)}; continuing`,
    );
    return tail;
  }
  if (head && dynamicType(head)) {
    warnings.push(
      `no VHD footer at the end of the file (truncated?); using the copy at offset 0${head.checksumOk ? '' : `, whose ${mismatch(head)}`}`,
    );
    return head;
  }
  throw corrupt('no VHD footer ("conectix") at the end of the file or a usable copy at offset 0', {
    file: src.path,
    layer: 'VHD footer',
    offset: src.size - FOOTER_SIZE,
  });
}

interface BlockBitmap {
  bits: Buffer;
  /** Every sector of the block is present. */
  full: boolean;
}

interface DynamicLayout {
  tableOffset: number;
  batEntries: number;
  blockSize: number;
  sectorsPerBlock: number;
  /** Bytes of bitmap that carry bits. */
  bitmapBytes: number;
  /** Bytes the bitmap occupies on disk (whole sectors). */
  bitmapSpan: number;
}

/** A fixed VHD: the data, then the footer. */
class FixedVhdDevice implements BlockDevice {
  readonly format = 'vhd';
  readonly name: string;

  constructor(
    private readonly src: FileSource,
    readonly size: number,
    readonly info: DeviceInfo,
  ) {
    this.name = src.path;
  }

  read(offset: number, length: number): Buffer {
    checkRange(this, offset, length);
    return this.src.read(offset, length, 'VHD fixed data');
  }

  close(): void {
    this.src.close();
  }
}

/** A dynamic or differencing VHD. */
class DynamicVhdDevice implements BlockDevice {
  readonly format = 'vhd';
  readonly name: string;
  private readonly bat: PagedTable;
  private readonly bitmaps = new Lru<number, BlockBitmap>(BITMAP_CACHE_ENTRIES);

  constructor(
    private readonly src: FileSource,
    readonly size: number,
    private readonly layout: DynamicLayout,
    private readonly parent: BlockDevice | undefined,
    readonly info: DeviceInfo,
  ) {
    this.name = src.path;
    this.bat = new PagedTable(src, {
      offset: layout.tableOffset,
      entries: layout.batEntries,
      entryBytes: 4,
      pageEntries: BAT_PAGE_ENTRIES,
      cachePages: BAT_CACHE_PAGES,
      layer: 'VHD BAT',
    });
  }

  private bitmap(block: number, blockStart: number): BlockBitmap {
    let bm = this.bitmaps.get(block);
    if (bm === undefined) {
      const bits = this.src.read(blockStart, this.layout.bitmapBytes, 'VHD block bitmap');
      const spb = this.layout.sectorsPerBlock;
      let full = true;
      for (let i = 0; i < bits.length && full; i++) {
        const want = i < bits.length - 1 || spb % 8 === 0 ? 0xff : (0xff00 >> (spb % 8)) & 0xff;
        if ((bits[i]! & want) !== want) full = false;
      }
      bm = { bits, full };
      this.bitmaps.set(block, bm);
    }
    return bm;
  }

  read(offset: number, length: number): Buffer {
    checkRange(this, offset, length);
    const out = Buffer.alloc(length);
    const { blockSize, bitmapSpan } = this.layout;
    let pos = offset;
    const end = offset + length;
    while (pos < end) {
      const block = Math.floor(pos / blockSize);
      const inBlock = pos - block * blockSize;
      const n = Math.min(blockSize - inBlock, end - pos);
      const at = pos - offset;
      const entry = this.bat.u32be(block);
      if (entry === UNALLOCATED) {
        readBacking(this.parent, out, at, pos, n);
      } else {
        const blockStart = entry * SECTOR;
        const dataStart = blockStart + bitmapSpan;
        const bm = this.bitmap(block, blockStart);
        if (bm.full) {
          this.src.readInto(out, at, n, dataStart + inBlock, 'VHD data block');
        } else {
          // Mixed block: one read of the block's bytes, one of the parent's, then the present sectors on top.
          const present = (sector: number): boolean => ((bm.bits[sector >> 3]! << (sector & 7)) & 0x80) !== 0;
          const mine = this.src.read(dataStart + inBlock, n, 'VHD data block');
          readBacking(this.parent, out, at, pos, n);
          overlayPresentSectors(out, at, mine, inBlock, SECTOR, present);
        }
      }
      pos += n;
    }
    return out;
  }

  close(): void {
    this.src.close();
    this.parent?.close();
  }
}

/** Decodes the path stored by one parent locator entry, or undefined for unknown platforms. */
function decodeLocator(code: number, data: Buffer): string | undefined {
  switch (code) {
    case PLATFORM_W2RU:
    case PLATFORM_W2KU: {
      const even = data.subarray(0, data.length & ~1);
      return even.toString('utf16le').replace(/\0.*$/s, '');
    }
    case PLATFORM_WI2R:
    case PLATFORM_WI2K:
      return data.toString('latin1').replace(/\0.*$/s, '');
    case PLATFORM_MACX: {
      const url = data.toString('utf8').replace(/\0.*$/s, '');
      if (!url.startsWith('file://')) return url;
      let rest = url.slice('file://'.length);
      if (!rest.startsWith('/')) {
        const slash = rest.indexOf('/');
        rest = slash < 0 ? '' : rest.slice(slash);
      }
      try {
        return decodeURIComponent(rest);
      } catch {
        return rest;
      }
    }
    default:
      return undefined;
  }
}

/** The four-letter name of a known locator platform code. */
function platformName(code: number): string | undefined {
  switch (code) {
    case PLATFORM_W2RU:
      return 'W2ru';
    case PLATFORM_W2KU:
      return 'W2ku';
    case PLATFORM_WI2R:
      return 'Wi2r';
    case PLATFORM_WI2K:
      return 'Wi2k';
    case PLATFORM_MACX:
      return 'MacX';
    default:
      return undefined;
  }
}
/** Lookup order: relative paths first, then absolute ones, then the URL. */
const PLATFORM_ORDER = [PLATFORM_W2RU, PLATFORM_WI2R, PLATFORM_W2KU, PLATFORM_WI2K, PLATFORM_MACX];

/**
 * Opens a VHD image (fixed, dynamic or differencing). Differencing disks open their parent through
 * `ctx.resolveRef` / `ctx.openBacking`, so the path policy and cycle detection apply.
 *
 * @example
 * const dev = openImage('disk.vhd'); // dispatches here on the "conectix" cookie
 */
export function openVhd(src: FileSource, ctx: OpenContext): BlockDevice {
  const file = src.path;
  if (src.size < FOOTER_SIZE) {
    throw corrupt(`file of ${src.size} bytes is too small for a VHD footer`, { file, layer: 'VHD footer' });
  }
  const warnings: string[] = [];
  const f = chooseFooter(src, warnings);
  const loc = { file, layer: 'VHD footer', offset: f.at };
  if (f.version >>> 16 !== 1) {
    warnings.push(`unexpected VHD format version ${hex32(f.version)}`);
  }
  const size = f.currentSize <= BigInt(MAX_VIRTUAL_SIZE) ? Number(f.currentSize) : -1;
  if (size < 0) {
    throw new HyperwardError(
      'E_LIMIT',
      `virtual size ${f.currentSize} is larger than ${MAX_VIRTUAL_SIZE}`,
      loc,
    );
  }
  const info: DeviceInfo = {
    format: 'vhd',
    virtualSize: size,
    files: [file],
    uniqueId: f.uniqueId,
    creatorApp: f.creatorApp,
    creatorVersion: `${f.creatorVersion >>> 16}.${f.creatorVersion & 0xffff}`,
    creatorOs: f.creatorOs,
    geometry: { cylinders: f.cylinders, heads: f.heads, sectorsPerTrack: f.sectorsPerTrack },
    warnings,
  };

  if (f.diskType === TYPE_FIXED) {
    if (f.at !== src.size - FOOTER_SIZE) {
      throw corrupt('fixed VHD without a footer at the end of the file', loc);
    }
    if (size > f.at) {
      throw corrupt(`fixed VHD data is ${f.at} bytes but the disk is ${size} bytes (truncated)`, loc);
    }
    info.subformat = 'fixed';
    return new FixedVhdDevice(src, size, info);
  }
  if (f.diskType !== TYPE_DYNAMIC && f.diskType !== TYPE_DIFFERENCING) {
    throw new HyperwardError('E_UNSUPPORTED_FORMAT', `VHD disk type ${f.diskType} is not supported`, loc);
  }
  const differencing = f.diskType === TYPE_DIFFERENCING;
  info.subformat = differencing ? 'differencing' : 'dynamic';

  // Dynamic disk header.
  const hdrAt = f.dataOffset <= BigInt(src.size - DYN_HEADER_SIZE) ? Number(f.dataOffset) : -1;
  if (hdrAt < 0) {
    throw corrupt(`dynamic header offset ${f.dataOffset} is outside the file (size ${src.size})`, loc);
  }
  const hdr = src.read(hdrAt, DYN_HEADER_SIZE, 'VHD dynamic header');
  const hloc = { file, layer: 'VHD dynamic header', offset: hdrAt };
  if (hdr.toString('latin1', 0, 8) !== DYN_COOKIE) {
    throw corrupt('no "cxsparse" cookie at the dynamic header offset', hloc);
  }
  const hStored = hdr.readUInt32BE(36);
  const hComputed = vhdChecksum(hdr, 36);
  if (hStored !== hComputed) {
    warnings.push(
      `checksum mismatch in the VHD dynamic header at offset ${hdrAt} (stored ${hex32(hStored)}, computed ${hex32(hComputed)}); continuing`,
    );
  }
  const hVersion = hdr.readUInt32BE(24);
  if (hVersion >>> 16 !== 1) warnings.push(`unexpected VHD dynamic header version ${hex32(hVersion)}`);
  const tableOffset = u64BE(hdr, 16);
  const maxEntries = hdr.readUInt32BE(28);
  const blockSize = hdr.readUInt32BE(32);
  if (blockSize < SECTOR || blockSize > MAX_BLOCK_SIZE || (blockSize & (blockSize - 1)) !== 0) {
    throw corrupt(
      `block size ${blockSize} is not a power of two between ${SECTOR} and ${MAX_BLOCK_SIZE}`,
      hloc,
    );
  }
  const blocks = Math.ceil(size / blockSize);
  if (maxEntries < blocks) {
    throw corrupt(`BAT has ${maxEntries} entries but the ${size}-byte disk needs ${blocks}`, hloc);
  }
  if (tableOffset === undefined || tableOffset + blocks * 4 > src.size) {
    throw corrupt(
      `BAT of ${blocks} entries at offset ${hdr.readBigUInt64BE(16)} lies past the end of the file (size ${src.size})`,
      { file, layer: 'VHD BAT', offset: tableOffset ?? hdrAt + 16 },
    );
  }
  const sectorsPerBlock = blockSize / SECTOR;
  const bitmapBytes = Math.ceil(sectorsPerBlock / 8);
  const layout: DynamicLayout = {
    tableOffset,
    batEntries: blocks,
    blockSize,
    sectorsPerBlock,
    bitmapBytes,
    bitmapSpan: Math.ceil(bitmapBytes / SECTOR) * SECTOR,
  };
  info.blockSize = blockSize;

  let parent: BlockDevice | undefined;
  if (differencing) {
    const parentUuid = uuidBE(hdr.subarray(40, 56));
    const nameBytes = hdr.subarray(64, 576);
    let parentName = '';
    for (let i = 0; i + 1 < nameBytes.length; i += 2) {
      const c = nameBytes.readUInt16BE(i);
      if (c === 0) break;
      parentName += String.fromCharCode(c);
    }
    const found: Array<{ code: number; path: string }> = [];
    for (let i = 0; i < 8; i++) {
      const e = hdr.subarray(576 + i * 24, 576 + (i + 1) * 24);
      const code = e.readUInt32BE(0);
      if (platformName(code) === undefined) continue;
      const len = e.readUInt32BE(8);
      const at = u64BE(e, 16);
      if (len === 0) continue;
      if (len > MAX_LOCATOR_BYTES || at === undefined || at + len > src.size) {
        warnings.push(`parent locator ${i} (${platformName(code)}) points outside the file; ignored`);
        continue;
      }
      const path = decodeLocator(code, src.read(at, len, `VHD parent locator ${i}`));
      if (path !== undefined && path.length > 0) found.push({ code, path });
    }
    const candidates: ParentCandidate[] = [];
    for (const code of PLATFORM_ORDER) {
      for (const l of found) {
        if (l.code === code) candidates.push({ source: `${platformName(code)} locator`, path: l.path });
      }
    }
    if (parentName.length > 0) candidates.push({ source: 'parent unicode name', path: parentName });
    info.parentUniqueId = parentUuid;
    info.parentName = parentName;
    info.parentLocators = found.map((l) => ({ platform: platformName(l.code), path: l.path }));
    parent = openParent(ctx, file, 'vhd', candidates, size, info, warnings, (p, real) => {
      const pid = p.info.uniqueId;
      if (typeof pid === 'string' && pid !== parentUuid) {
        warnings.push(`parent ${real} has unique id ${pid} but the child expects ${parentUuid}`);
      }
    });
  }
  return new DynamicVhdDevice(src, size, layout, parent, info);
}
