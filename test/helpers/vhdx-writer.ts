/**
 * Builds VHDX images from the MS-VHDX specification, for what qemu-img cannot write: differencing disks with
 * partially present blocks and sector bitmaps, 4096-byte logical sectors, and files with a non-empty log that
 * must be replayed. Written independently of the reader in src/disk/vhdx.ts (its own GUID encoding, CRC-32C use
 * and layout), so that the tests compare two readings of the specification; qemu-img reads (and, with
 * `check -r all`, replays) what this writes, which checks the writer itself.
 *
 * Layout: header section (1 MiB), log at 1 MiB, metadata region at 1 MiB + log length, BAT after it, then blocks.
 */
import { closeSync, ftruncateSync, openSync, writeSync } from 'node:fs';
import { crc32c } from '../../src/disk/crc32c.js';

const KiB = 1024;
const MiB = 1024 * 1024;

export const STATE = {
  NOT_PRESENT: 0,
  UNDEFINED: 1,
  ZERO: 2,
  UNMAPPED: 3,
  FULLY_PRESENT: 6,
  PARTIALLY_PRESENT: 7,
} as const;

/** A GUID string ("xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx") in the on-disk mixed-endian form. */
export function guidBytes(guid: string): Buffer {
  const hex = guid.replace(/[{}-]/g, '');
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new Error(`bad GUID ${guid}`);
  const b = Buffer.from(hex, 'hex');
  const out = Buffer.alloc(16);
  out.writeUInt32LE(b.readUInt32BE(0), 0);
  out.writeUInt16LE(b.readUInt16BE(4), 4);
  out.writeUInt16LE(b.readUInt16BE(6), 6);
  b.copy(out, 8, 8, 16);
  return out;
}

/** The inverse of `guidBytes`, lowercase. */
export function guidText(b: Buffer, at = 0): string {
  const x = Buffer.alloc(16);
  x.writeUInt32BE(b.readUInt32LE(at), 0);
  x.writeUInt16BE(b.readUInt16LE(at + 4), 4);
  x.writeUInt16BE(b.readUInt16LE(at + 6), 6);
  b.copy(x, 8, at + 8, at + 16);
  const h = x.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export const GUIDS = {
  bat: '2DC27766-F623-4200-9D64-115E9BFD4A08',
  metadata: '8B7CA206-4790-4B9A-B8FE-575F050F886E',
  fileParameters: 'CAA16737-FA36-4D43-B3B6-33F0AA44E76B',
  virtualDiskSize: '2FA54224-CD1B-4876-B211-5DBED83BF4B8',
  page83: 'BECA12AB-B2E6-4523-93EF-C309E000C746',
  logicalSectorSize: '8141BF1D-A96F-4709-BA47-F233A8FAAB5F',
  physicalSectorSize: 'CDA348C7-445D-4471-9CC9-E9885251C556',
  parentLocator: 'A8D35F2D-B30B-454D-ABF7-D3D84834AB0C',
  vhdxLocatorType: 'B04AEFB7-D19E-4A81-B789-25B8E9445913',
} as const;

/** Stores the CRC-32C of `buf` (computed with the 4-byte field at `field` zeroed) into that field. */
export function fixCrc(buf: Buffer, field = 4): void {
  buf.writeUInt32LE(0, field);
  buf.writeUInt32LE(crc32c(buf), field);
}

export interface VhdxBlockSpec {
  index: number;
  state: number;
  /** Payload (FULLY_PRESENT / PARTIALLY_PRESENT): up to `blockSize` bytes; the rest of the block reads as zeros. */
  data?: Buffer;
  /** For PARTIALLY_PRESENT: which logical sectors of the block are present; the others hold junk (0xEE). */
  present?: (sector: number) => boolean;
}

export interface VhdxSpec {
  size: number;
  blockSize: number;
  logicalSectorSize?: 512 | 4096;
  physicalSectorSize?: 512 | 4096;
  blocks?: VhdxBlockSpec[];
  leaveBlocksAllocated?: boolean;
  /** Makes a differencing disk with these parent locator key/value pairs. */
  parentLocator?: Record<string, string>;
  dataWriteGuid?: string;
  logLength?: number;
  /** Non-zero to mark the log as non-empty (see `writeLog`). */
  logGuid?: string;
  /** Header sequence numbers (header 1, header 2). */
  headerSeq?: [bigint, bigint];
}

export interface VhdxLayout {
  logOffset: number;
  logLength: number;
  metadataOffset: number;
  batOffset: number;
  batEntries: number;
  chunkRatio: number;
  /** File offset of each allocated payload block, by block index. */
  blockOffsets: Map<number, number>;
}

function header(spec: VhdxSpec, seq: bigint, layout: VhdxLayout): Buffer {
  const h = Buffer.alloc(4 * KiB);
  h.write('head', 0, 'latin1');
  h.writeBigUInt64LE(seq, 8);
  guidBytes('11111111-2222-3333-4444-555555555555').copy(h, 16);
  guidBytes(spec.dataWriteGuid ?? '66666666-7777-8888-9999-aaaaaaaaaaaa').copy(h, 32);
  guidBytes(spec.logGuid ?? '00000000-0000-0000-0000-000000000000').copy(h, 48);
  h.writeUInt16LE(0, 64);
  h.writeUInt16LE(1, 66);
  h.writeUInt32LE(layout.logLength, 68);
  h.writeBigUInt64LE(BigInt(layout.logOffset), 72);
  fixCrc(h);
  return h;
}

/**
 * Lays a VHDX out as pieces (file offset, bytes) over a sparse file of `size` bytes; `buildVhdx` assembles them
 * in memory, `writeVhdxFile` writes them to a sparse file (for blocks of hundreds of MiB).
 */
function layoutVhdx(spec: VhdxSpec): { size: number; pieces: Array<[number, Buffer]>; layout: VhdxLayout } {
  const lss = spec.logicalSectorSize ?? 512;
  const bs = spec.blockSize;
  const chunkRatio = (2 ** 23 * lss) / bs;
  const dataBlocks = Math.ceil(spec.size / bs);
  const hasParent = spec.parentLocator !== undefined;
  const sbBlocks = Math.ceil(dataBlocks / chunkRatio);
  const batEntries = hasParent
    ? sbBlocks * (chunkRatio + 1)
    : Math.max(0, dataBlocks + Math.floor((dataBlocks - 1) / chunkRatio));
  const logLength = spec.logLength ?? MiB;
  const logOffset = MiB;
  const metadataOffset = logOffset + logLength;
  const batOffset = metadataOffset + MiB;
  const batLength = Math.max(MiB, Math.ceil((batEntries * 8) / MiB) * MiB);
  let cursor = batOffset + batLength;
  const blocks = spec.blocks ?? [];
  const blockOffsets = new Map<number, number>();
  for (const b of blocks) {
    if (b.state === STATE.FULLY_PRESENT || b.state === STATE.PARTIALLY_PRESENT) {
      blockOffsets.set(b.index, cursor);
      cursor += Math.ceil(bs / MiB) * MiB;
    }
  }
  const sbOffsets = new Map<number, number>();
  for (const b of blocks) {
    const chunk = Math.floor(b.index / chunkRatio);
    if (b.state === STATE.PARTIALLY_PRESENT && !sbOffsets.has(chunk)) {
      sbOffsets.set(chunk, cursor);
      cursor += MiB;
    }
  }
  const pieces: Array<[number, Buffer]> = [];
  const piece = (at: number, len: number): Buffer => {
    const b = Buffer.alloc(len);
    pieces.push([at, b]);
    return b;
  };
  const layout: VhdxLayout = {
    logOffset,
    logLength,
    metadataOffset,
    batOffset,
    batEntries,
    chunkRatio,
    blockOffsets,
  };

  const ident = piece(0, 64 * KiB);
  ident.write('vhdxfile', 0, 'latin1');
  ident.write('hyperward test writer', 8, 'utf16le');
  const [s1, s2] = spec.headerSeq ?? [1n, 2n];
  pieces.push([64 * KiB, header(spec, s1, layout)], [128 * KiB, header(spec, s2, layout)]);

  const rt = piece(192 * KiB, 64 * KiB);
  rt.write('regi', 0, 'latin1');
  rt.writeUInt32LE(2, 8);
  const region = (i: number, guid: string, offset: number, length: number): void => {
    const e = 16 + i * 32;
    guidBytes(guid).copy(rt, e);
    rt.writeBigUInt64LE(BigInt(offset), e + 16);
    rt.writeUInt32LE(length, e + 24);
    rt.writeUInt32LE(1, e + 28);
  };
  region(0, GUIDS.bat, batOffset, batLength);
  region(1, GUIDS.metadata, metadataOffset, MiB);
  fixCrc(rt);
  pieces.push([256 * KiB, Buffer.from(rt)]);

  // Metadata table and items.
  const items: Array<{ guid: string; data: Buffer; flags: number }> = [];
  const u32 = (v: number): Buffer => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v);
    return b;
  };
  const params = Buffer.alloc(8);
  params.writeUInt32LE(bs, 0);
  params.writeUInt32LE((spec.leaveBlocksAllocated === true ? 1 : 0) | (hasParent ? 2 : 0), 4);
  items.push({ guid: GUIDS.fileParameters, data: params, flags: 4 });
  const vsize = Buffer.alloc(8);
  vsize.writeBigUInt64LE(BigInt(spec.size));
  items.push({ guid: GUIDS.virtualDiskSize, data: vsize, flags: 6 });
  items.push({ guid: GUIDS.page83, data: guidBytes('0badc0de-1234-5678-9abc-def012345678'), flags: 6 });
  items.push({ guid: GUIDS.logicalSectorSize, data: u32(lss), flags: 6 });
  items.push({ guid: GUIDS.physicalSectorSize, data: u32(spec.physicalSectorSize ?? 4096), flags: 6 });
  if (spec.parentLocator !== undefined) {
    items.push({ guid: GUIDS.parentLocator, data: parentLocatorItem(spec.parentLocator), flags: 4 });
  }
  const metaRegion = piece(metadataOffset, MiB);
  const mt = metaRegion.subarray(0, 64 * KiB);
  mt.write('metadata', 0, 'latin1');
  mt.writeUInt16LE(items.length, 10);
  let itemAt = 64 * KiB;
  items.forEach((it, i) => {
    const e = 32 + i * 32;
    guidBytes(it.guid).copy(mt, e);
    mt.writeUInt32LE(itemAt, e + 16);
    mt.writeUInt32LE(it.data.length, e + 20);
    mt.writeUInt32LE(it.flags, e + 24);
    it.data.copy(metaRegion, itemAt);
    itemAt += Math.ceil(it.data.length / 8) * 8;
  });

  // BAT and blocks.
  const batBuf = piece(batOffset, Math.ceil((batEntries * 8) / 4096) * 4096);
  const setBat = (index: number, state: number, offset: number): void => {
    batBuf.writeBigUInt64LE(BigInt(state) | (BigInt(offset / MiB) << 20n), index * 8);
  };
  const sbBufs = new Map<number, Buffer>();
  for (const [chunk, at] of sbOffsets) sbBufs.set(chunk, piece(at, MiB));
  const spb = bs / lss;
  for (const b of blocks) {
    const index = b.index + Math.floor(b.index / chunkRatio);
    const at = blockOffsets.get(b.index);
    setBat(index, b.state, at ?? 0);
    if (at === undefined || b.data === undefined) continue;
    // Only the bytes given are written (the rest of the block stays sparse, reading as zeros).
    const blk = piece(at, Math.min(bs, Math.ceil(b.data.length / lss) * lss));
    for (let s = 0; s * lss < blk.length; s++) {
      const present = b.state === STATE.FULLY_PRESENT || b.present === undefined || b.present(s);
      if (present) b.data.copy(blk, s * lss, s * lss, (s + 1) * lss);
      else blk.fill(0xee, s * lss, (s + 1) * lss);
    }
    if (b.state === STATE.PARTIALLY_PRESENT) {
      const sb = sbBufs.get(Math.floor(b.index / chunkRatio))!;
      const first = (b.index % chunkRatio) * spb;
      for (let s = 0; s < spb; s++) {
        if (b.present === undefined || b.present(s)) {
          const bit = first + s;
          sb[bit >> 3] = sb[bit >> 3]! | (1 << (bit & 7));
        }
      }
    }
  }
  for (const [chunk, sb] of sbOffsets) setBat(chunk * (chunkRatio + 1) + chunkRatio, 6, sb);
  return { size: cursor, pieces, layout };
}

/** Builds a whole VHDX file in memory; returns it with its layout. */
export function buildVhdx(spec: VhdxSpec): { file: Buffer; layout: VhdxLayout } {
  const { size, pieces, layout } = layoutVhdx(spec);
  const file = Buffer.alloc(size);
  for (const [at, b] of pieces) b.copy(file, at);
  return { file, layout };
}

/** Writes a VHDX as a sparse file (blocks may be large; only given data is written). */
export function writeVhdxFile(path: string, spec: VhdxSpec): VhdxLayout {
  const { size, pieces, layout } = layoutVhdx(spec);
  const fd = openSync(path, 'w');
  try {
    for (const [at, b] of pieces) writeSync(fd, b, 0, b.length, at);
    ftruncateSync(fd, size);
  } finally {
    closeSync(fd);
  }
  return layout;
}

/** A VHDX parent locator metadata item (MS-VHDX 2.6.2.6) holding `kv`. */
export function parentLocatorItem(kv: Record<string, string>): Buffer {
  const pairs = Object.entries(kv).map(
    ([k, v]) => [Buffer.from(k, 'utf16le'), Buffer.from(v, 'utf16le')] as const,
  );
  const headerLen = 20 + pairs.length * 12;
  const total = headerLen + pairs.reduce((n, [k, v]) => n + k.length + v.length, 0);
  const b = Buffer.alloc(total);
  guidBytes(GUIDS.vhdxLocatorType).copy(b, 0);
  b.writeUInt16LE(pairs.length, 18);
  let at = headerLen;
  pairs.forEach(([k, v], i) => {
    const e = 20 + i * 12;
    b.writeUInt32LE(at, e);
    k.copy(b, at);
    at += k.length;
    b.writeUInt32LE(at, e + 4);
    v.copy(b, at);
    at += v.length;
    b.writeUInt16LE(k.length, e + 8);
    b.writeUInt16LE(v.length, e + 10);
  });
  return b;
}

/** The DataWriteGuid of the current header (valid CRC, highest sequence number) of a VHDX file. */
export function vhdxDataWriteGuid(file: Buffer): string {
  let best: { seq: bigint; guid: string } | undefined;
  for (const at of [64 * KiB, 128 * KiB]) {
    const h = Buffer.from(file.subarray(at, at + 4 * KiB));
    const stored = h.readUInt32LE(4);
    h.writeUInt32LE(0, 4);
    if (h.toString('latin1', 0, 4) !== 'head' || crc32c(h) !== stored) continue;
    const seq = h.readBigUInt64LE(8);
    if (best === undefined || seq > best.seq) best = { seq, guid: guidText(h, 32) };
  }
  if (best === undefined) throw new Error('no valid VHDX header');
  return best.guid;
}

/** One update carried by a log entry: a 4 KiB sector of data, or a run of zeros. */
export type LogOpSpec = { fileOffset: number; data: Buffer } | { fileOffset: number; zeroLength: number };

export interface LogEntrySpec {
  seq: bigint;
  /** Offset in the log of the first entry of the sequence this entry ends. */
  tail: number;
  flushedFileOffset: number;
  lastFileOffset: number;
  ops: LogOpSpec[];
  logGuid: string;
}

/** Encodes one log entry (MS-VHDX 2.3.1): header and descriptors, then data sectors, CRC-32C over all. */
export function logEntry(spec: LogEntrySpec): Buffer {
  const descSectors = Math.ceil((spec.ops.length + 2) / 128);
  const dataOps = spec.ops.filter((o): o is { fileOffset: number; data: Buffer } => 'data' in o);
  const e = Buffer.alloc((descSectors + dataOps.length) * 4 * KiB);
  e.write('loge', 0, 'latin1');
  e.writeUInt32LE(e.length, 8);
  e.writeUInt32LE(spec.tail, 12);
  e.writeBigUInt64LE(spec.seq, 16);
  e.writeUInt32LE(spec.ops.length, 24);
  guidBytes(spec.logGuid).copy(e, 32);
  e.writeBigUInt64LE(BigInt(spec.flushedFileOffset), 48);
  e.writeBigUInt64LE(BigInt(spec.lastFileOffset), 56);
  let dataIndex = 0;
  spec.ops.forEach((op, i) => {
    const d = 64 + i * 32;
    if ('data' in op) {
      e.write('desc', d, 'latin1');
      op.data.copy(e, d + 4, 4092, 4096); // trailing bytes
      op.data.copy(e, d + 8, 0, 8); // leading bytes
      const s = (descSectors + dataIndex++) * 4 * KiB;
      e.write('data', s, 'latin1');
      e.writeUInt32LE(Number(spec.seq >> 32n), s + 4);
      op.data.copy(e, s + 8, 8, 4092);
      e.writeUInt32LE(Number(spec.seq & 0xffffffffn), s + 4092);
    } else {
      e.write('zero', d, 'latin1');
      e.writeBigUInt64LE(BigInt(op.zeroLength), d + 8);
    }
    e.writeBigUInt64LE(BigInt(op.fileOffset), d + 16);
    e.writeBigUInt64LE(spec.seq, d + 24);
  });
  fixCrc(e);
  return e;
}

/** Writes `entry` into the circular log of `file` at log-relative `at`, wrapping at the end of the log. */
export function placeLogEntry(file: Buffer, layout: VhdxLayout, at: number, entry: Buffer): void {
  for (let i = 0; i < entry.length; i++) file[layout.logOffset + ((at + i) % layout.logLength)] = entry[i]!;
}
