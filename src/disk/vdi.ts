/**
 * VDI (VirtualBox Disk Image) reader, header version 1.x: normal (dynamic) and fixed images. A block map of
 * uint32 entries maps each virtual block to an index of a block in the data area, or marks it free (reads as
 * zeros) or zero. Differencing and undo images need their parent, which VirtualBox finds by UUID in its media
 * registry rather than by name; they are refused with E_UNSUPPORTED_FORMAT naming the parent UUID.
 */
import { HyperwardError, corrupt } from '../errors.js';
import type { FileSource } from '../source/file.js';
import type { OpenContext } from './open.js';
import { PagedTable } from './paged-table.js';
import { formatGuid } from './partition/gpt.js';
import { checkRange, type BlockDevice, type DeviceInfo } from './types.js';

const SIGNATURE = 0xbeda107f;
const PRE_HEADER_SIZE = 0x48;
/** Bytes of the v1 header we need (through the parent-modification UUID); v1.1 adds the LCHS geometry. */
const MIN_HEADER_V1 = 0x180;
const MAX_HEADER = 64 * 1024;

const OFF_SIGNATURE = 0x40;
const OFF_VERSION = 0x44;
const OFF_HEADER_SIZE = 0x48;
const OFF_TYPE = 0x4c;
const OFF_FLAGS = 0x50;
const OFF_COMMENT = 0x54;
const COMMENT_SIZE = 256;
const OFF_BLOCKS = 0x154;
const OFF_DATA = 0x158;
const OFF_SECTOR_SIZE = 0x168;
const OFF_DISK_SIZE = 0x170;
const OFF_BLOCK_SIZE = 0x178;
const OFF_BLOCK_EXTRA = 0x17c;
const OFF_BLOCK_COUNT = 0x180;
const OFF_BLOCKS_ALLOCATED = 0x184;
const OFF_UUID_CREATE = 0x188;
const OFF_UUID_MODIFY = 0x198;
const OFF_UUID_LINKAGE = 0x1a8;
const OFF_UUID_PARENT_MODIFY = 0x1b8;

const TYPE_NORMAL = 1;
const TYPE_FIXED = 2;
const TYPE_UNDO = 3;
const TYPE_DIFF = 4;

const BLOCK_FREE = 0xffffffff;
const BLOCK_ZERO = 0xfffffffe;

const MIN_BLOCK = 512;
const MAX_BLOCK = 256 * 1024 * 1024;
const MAX_BLOCK_EXTRA = 1024 * 1024;

/** Block map entries per cached page (4 KiB) and pages kept (256 KiB: 64 GiB of disk at 1 MiB blocks). */
const MAP_PAGE_ENTRIES = 1024;
const MAP_CACHE_PAGES = 64;

interface VdiHeader {
  major: number;
  minor: number;
  headerSize: number;
  type: number;
  flags: number;
  comment: string;
  offBlocks: number;
  offData: number;
  sectorSize: number;
  diskSize: number;
  blockSize: number;
  blockExtra: number;
  blockCount: number;
  blocksAllocated: number;
  /** Virtual blocks that cover the disk size (the block map entries we use). */
  blocksNeeded: number;
  uuid: string;
  modifyUuid: string;
  parentUuid: string;
  parentModifyUuid: string;
}

function isPowerOfTwo(n: number): boolean {
  return n > 0 && (n & (n - 1)) === 0;
}

function parseHeader(src: FileSource): VdiHeader {
  const file = src.path;
  const loc = (offset: number): { file: string; layer: string; offset: number } => ({
    file,
    layer: 'VDI header',
    offset,
  });
  if (src.size < PRE_HEADER_SIZE + 4) throw corrupt('file too small for a VDI header', loc(0));
  const pre = src.read(0, PRE_HEADER_SIZE + 4, 'VDI header');
  if (pre.readUInt32LE(OFF_SIGNATURE) !== SIGNATURE) throw corrupt('bad VDI signature', loc(OFF_SIGNATURE));
  const version = pre.readUInt32LE(OFF_VERSION);
  const major = version >>> 16;
  const minor = version & 0xffff;
  if (major !== 1) {
    throw new HyperwardError(
      'E_UNSUPPORTED_FORMAT',
      `VDI version ${major}.${minor} is not supported (only 1.x)`,
      loc(OFF_VERSION),
    );
  }
  const headerSize = pre.readUInt32LE(OFF_HEADER_SIZE);
  if (headerSize < MIN_HEADER_V1 || headerSize > MAX_HEADER) {
    throw corrupt(`header size ${headerSize} outside ${MIN_HEADER_V1}..${MAX_HEADER}`, loc(OFF_HEADER_SIZE));
  }
  if (PRE_HEADER_SIZE + headerSize > src.size) {
    throw corrupt(`header of ${headerSize} bytes runs past the end of the file (size ${src.size})`, loc(0));
  }
  const h = src.read(0, PRE_HEADER_SIZE + MIN_HEADER_V1, 'VDI header');

  const type = h.readUInt32LE(OFF_TYPE);
  const parentUuid = formatGuid(h, OFF_UUID_LINKAGE);
  if (type === TYPE_DIFF || type === TYPE_UNDO) {
    const kind = type === TYPE_DIFF ? 'differencing' : 'undo';
    throw new HyperwardError(
      'E_UNSUPPORTED_FORMAT',
      `${kind} VDI images are not supported: the parent is image UUID ${parentUuid}, which VirtualBox finds in ` +
        'its media registry; merge the chain first (VBoxManage clonemedium) and scan the result',
      loc(OFF_UUID_LINKAGE),
    );
  }
  if (type !== TYPE_NORMAL && type !== TYPE_FIXED) {
    throw new HyperwardError('E_UNSUPPORTED_FORMAT', `unknown VDI image type ${type}`, loc(OFF_TYPE));
  }

  const diskSizeBig = h.readBigUInt64LE(OFF_DISK_SIZE);
  if (diskSizeBig > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw corrupt(`disk size ${diskSizeBig} is out of range`, loc(OFF_DISK_SIZE));
  }
  const diskSize = Number(diskSizeBig);
  const blockSize = h.readUInt32LE(OFF_BLOCK_SIZE);
  if (!isPowerOfTwo(blockSize) || blockSize < MIN_BLOCK || blockSize > MAX_BLOCK) {
    throw corrupt(
      `block size ${blockSize} is not a power of two in ${MIN_BLOCK}..${MAX_BLOCK}`,
      loc(OFF_BLOCK_SIZE),
    );
  }
  const blockExtra = h.readUInt32LE(OFF_BLOCK_EXTRA);
  if (blockExtra > MAX_BLOCK_EXTRA) {
    throw corrupt(`block extra data of ${blockExtra} bytes (max ${MAX_BLOCK_EXTRA})`, loc(OFF_BLOCK_EXTRA));
  }
  const blockCount = h.readUInt32LE(OFF_BLOCK_COUNT);
  const blocksAllocated = h.readUInt32LE(OFF_BLOCKS_ALLOCATED);
  const blocksNeeded = Math.ceil(diskSize / blockSize);
  if (blockCount < blocksNeeded) {
    throw corrupt(
      `${blockCount} blocks of ${blockSize} bytes cannot hold a disk of ${diskSize} bytes`,
      loc(OFF_BLOCK_COUNT),
    );
  }
  if (blocksAllocated > blockCount) {
    throw corrupt(`${blocksAllocated} blocks allocated out of ${blockCount}`, loc(OFF_BLOCKS_ALLOCATED));
  }
  const offBlocks = h.readUInt32LE(OFF_BLOCKS);
  const offData = h.readUInt32LE(OFF_DATA);
  if (offBlocks < PRE_HEADER_SIZE + headerSize) {
    throw corrupt(`block map at ${offBlocks} overlaps the header`, loc(OFF_BLOCKS));
  }
  const mapEnd = offBlocks + blocksNeeded * 4;
  if (mapEnd > src.size) {
    throw corrupt(
      `block map of ${blocksNeeded} entries at ${offBlocks} runs past the end of the file (size ${src.size})`,
      loc(OFF_BLOCKS),
    );
  }
  if (offData < mapEnd) {
    throw corrupt(`data area at ${offData} overlaps the block map (which ends at ${mapEnd})`, loc(OFF_DATA));
  }
  if (offData > src.size) {
    throw corrupt(`data area at ${offData} is past the end of the file (size ${src.size})`, loc(OFF_DATA));
  }
  const commentEnd = h.indexOf(0, OFF_COMMENT);
  const comment = h.toString(
    'utf8',
    OFF_COMMENT,
    commentEnd < 0 || commentEnd > OFF_COMMENT + COMMENT_SIZE ? OFF_COMMENT + COMMENT_SIZE : commentEnd,
  );
  return {
    major,
    minor,
    headerSize,
    type,
    flags: h.readUInt32LE(OFF_FLAGS),
    comment,
    offBlocks,
    offData,
    sectorSize: h.readUInt32LE(OFF_SECTOR_SIZE),
    diskSize,
    blockSize,
    blockExtra,
    blockCount,
    blocksAllocated,
    blocksNeeded,
    uuid: formatGuid(h, OFF_UUID_CREATE),
    modifyUuid: formatGuid(h, OFF_UUID_MODIFY),
    parentUuid,
    parentModifyUuid: formatGuid(h, OFF_UUID_PARENT_MODIFY),
  };
}

/** A VDI image as a block device. Exported for tests (allocation queries); open it with `openVdi`. */
export class VdiDevice implements BlockDevice {
  readonly format = 'vdi';
  readonly size: number;
  readonly name: string;
  readonly info: DeviceInfo;

  private readonly blockSize: number;
  private readonly blockStride: number;
  private readonly blockExtra: number;
  private readonly offBlocks: number;
  private readonly offData: number;
  private readonly map: PagedTable;
  private closed = false;

  constructor(
    private readonly src: FileSource,
    h: VdiHeader,
  ) {
    this.name = src.path;
    this.size = h.diskSize;
    this.blockSize = h.blockSize;
    this.blockExtra = h.blockExtra;
    this.blockStride = h.blockSize + h.blockExtra;
    this.offBlocks = h.offBlocks;
    this.offData = h.offData;
    this.map = new PagedTable(src, {
      offset: h.offBlocks,
      entries: h.blocksNeeded,
      entryBytes: 4,
      pageEntries: MAP_PAGE_ENTRIES,
      cachePages: MAP_CACHE_PAGES,
      layer: 'VDI block map',
    });
    this.info = {
      format: 'vdi',
      subformat: h.type === TYPE_FIXED ? 'fixed' : 'dynamic',
      virtualSize: h.diskSize,
      files: [src.path],
      encrypted: false,
      version: `${h.major}.${h.minor}`,
      blockSize: h.blockSize,
      blocks: h.blockCount,
      blocksAllocated: h.blocksAllocated,
      uuid: h.uuid,
      modifyUuid: h.modifyUuid,
      flags: h.flags,
      comment: h.comment,
    };
  }

  /**
   * The block map entry of virtual block `block`: a data block index, or `BLOCK_FREE` / `BLOCK_ZERO`.
   * Pages of the map are read on demand and kept in a small LRU.
   */
  private entry(block: number): number {
    return this.map.u32le(block);
  }

  /**
   * Host file offset of virtual block `block`, or undefined when it reads as zeros. Throws when the block lies
   * outside the file.
   */
  hostOffset(block: number): number | undefined {
    const e = this.entry(block);
    if (e === BLOCK_FREE || e === BLOCK_ZERO) return undefined;
    const host = this.offData + e * this.blockStride + this.blockExtra;
    if (host + this.blockSize > this.src.size) {
      throw corrupt(
        `block ${block} maps to data block ${e} at ${host}, past the end of the file (size ${this.src.size})`,
        { file: this.name, layer: 'VDI block map', offset: this.offBlocks + block * 4 },
      );
    }
    return host;
  }

  read(offset: number, length: number): Buffer {
    checkRange(this, offset, length);
    if (this.closed) throw new HyperwardError('E_INTERNAL', 'read after close', { file: this.name });
    const out = Buffer.alloc(length);
    const bs = this.blockSize;
    // Pending run of data whose host bytes are contiguous: one read for all of it.
    let runHost = -1;
    let runStart = 0;
    let runLen = 0;
    const flush = (): void => {
      if (runLen > 0) this.src.readInto(out, runStart, runLen, runHost, 'VDI data block');
      runLen = 0;
    };
    let pos = 0;
    while (pos < length) {
      const guest = offset + pos;
      const block = Math.floor(guest / bs);
      const within = guest - block * bs;
      const len = Math.min(bs - within, length - pos);
      const base = this.hostOffset(block);
      if (base === undefined) {
        flush(); // zeros are already in `out`
      } else if (runLen > 0 && base + within === runHost + runLen) {
        runLen += len;
      } else {
        flush();
        runHost = base + within;
        runStart = pos;
        runLen = len;
      }
      pos += len;
    }
    flush();
    return out;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.src.close();
  }
}

/**
 * Opens a VirtualBox VDI image (header version 1.x, normal/dynamic or fixed). Blocks marked free or zero in the
 * block map read as zeros. Differencing and undo images throw E_UNSUPPORTED_FORMAT naming the parent UUID.
 *
 * @example
 * const dev = openVdi(new FileSource('disk.vdi'), ctx);
 * const mbr = dev.read(0, 512);
 */
export function openVdi(src: FileSource, _ctx: OpenContext): BlockDevice {
  return new VdiDevice(src, parseHeader(src));
}
