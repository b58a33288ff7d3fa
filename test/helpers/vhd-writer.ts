/**
 * Builds dynamic and differencing VHD images from the Microsoft "Virtual Hard Disk Image Format Specification"
 * (footer, "cxsparse" dynamic header, BAT, sector bitmaps, parent locators), for what qemu-img cannot write:
 * differencing disks, partially present blocks, and deliberately odd headers. Written independently of the
 * reader in src/disk/vhd.ts so that the tests compare two readings of the specification.
 */

const SECTOR = 512;

/** A parent locator entry: a platform code and the bytes it points to. */
export interface VhdLocatorSpec {
  /** 'W2ru', 'W2ku', 'Wi2r', 'Wi2k', 'MacX', or anything else for unknown platforms. */
  code: string;
  data: Buffer;
}

/** One allocated block: its full `blockSize` bytes and which sectors the bitmap marks present. */
export interface VhdBlockSpec {
  index: number;
  data: Buffer;
  /** Sector presence (default: every sector). Absent sectors hold junk (0xEE) in the file. */
  present?: (sector: number) => boolean;
}

export interface VhdSpec {
  /** Virtual size in bytes (current size). */
  size: number;
  blockSize?: number;
  type?: 'dynamic' | 'differencing';
  /** 16-byte unique id of this disk. */
  uniqueId?: Buffer;
  /** BAT entries to declare (default: exactly what the size needs). */
  maxTableEntries?: number;
  blocks?: VhdBlockSpec[];
  parent?: {
    uniqueId: Buffer;
    /** Stored UTF-16BE in the dynamic header. */
    unicodeName?: string;
    locators?: VhdLocatorSpec[];
  };
  /** Leave the footer and header checksums wrong on purpose. */
  badChecksums?: boolean;
}

/** UTF-16LE path, as the W2ru/W2ku platforms store it. */
export function w2Path(path: string): Buffer {
  return Buffer.from(path, 'utf16le');
}

/** A MacX locator: a UTF-8 `file://` URL. */
export function macxUrl(posixPath: string): Buffer {
  return Buffer.from(`file://localhost${encodeURI(posixPath)}`, 'utf8');
}

/** One's complement of the byte sum, with the checksum field (4 bytes at `field`) counted as zero. */
export function vhdChecksumOf(buf: Buffer, field: number): number {
  let sum = 0;
  for (let i = 0; i < buf.length; i++) if (i < field || i >= field + 4) sum += buf[i]!;
  return ~sum >>> 0;
}

function footer(spec: VhdSpec, dataOffset: bigint, diskType: number): Buffer {
  const f = Buffer.alloc(SECTOR);
  f.write('conectix', 0, 'latin1');
  f.writeUInt32BE(2, 8);
  f.writeUInt32BE(0x00010000, 12);
  f.writeBigUInt64BE(dataOffset, 16);
  f.writeUInt32BE(700000000, 24);
  f.write('hwtw', 28, 'latin1');
  f.writeUInt32BE(0x00010000, 32);
  f.write('Wi2k', 36, 'latin1');
  f.writeBigUInt64BE(BigInt(spec.size), 40);
  f.writeBigUInt64BE(BigInt(spec.size), 48);
  f.writeUInt16BE(0xffff, 56);
  f[58] = 16;
  f[59] = 255;
  f.writeUInt32BE(diskType, 60);
  (spec.uniqueId ?? Buffer.alloc(16, 0x11)).copy(f, 68);
  f.writeUInt32BE((vhdChecksumOf(f, 64) ^ (spec.badChecksums === true ? 0x5a : 0)) >>> 0, 64);
  return f;
}

/** Builds a whole dynamic or differencing VHD file in memory. */
export function buildVhd(spec: VhdSpec): Buffer {
  const blockSize = spec.blockSize ?? 2 * 1024 * 1024;
  const spb = blockSize / SECTOR;
  const bitmapSpan = Math.ceil(Math.ceil(spb / 8) / SECTOR) * SECTOR;
  const entries = spec.maxTableEntries ?? Math.ceil(spec.size / blockSize);
  const differencing = spec.type === 'differencing';
  const batOffset = 3 * SECTOR;
  const batSpan = Math.ceil((entries * 4) / SECTOR) * SECTOR;
  let cursor = batOffset + Math.max(batSpan, SECTOR);

  const locators = spec.parent?.locators ?? [];
  const locatorAt: number[] = [];
  for (const l of locators) {
    locatorAt.push(cursor);
    cursor += Math.ceil(Math.max(l.data.length, 1) / SECTOR) * SECTOR;
  }
  const blocks = spec.blocks ?? [];
  const blockAt = new Map<number, number>();
  for (const b of blocks) {
    blockAt.set(b.index, cursor);
    cursor += bitmapSpan + blockSize;
  }
  const total = cursor + SECTOR;
  const out = Buffer.alloc(total);

  const diskType = differencing ? 4 : 3;
  const foot = footer(spec, BigInt(SECTOR), diskType);
  foot.copy(out, 0);
  foot.copy(out, total - SECTOR);

  const h = Buffer.alloc(1024);
  h.write('cxsparse', 0, 'latin1');
  h.writeBigUInt64BE(0xffffffffffffffffn, 8);
  h.writeBigUInt64BE(BigInt(batOffset), 16);
  h.writeUInt32BE(0x00010000, 24);
  h.writeUInt32BE(entries, 28);
  h.writeUInt32BE(blockSize, 32);
  if (spec.parent !== undefined) {
    spec.parent.uniqueId.copy(h, 40);
    h.writeUInt32BE(700000000, 56);
    const name = spec.parent.unicodeName ?? '';
    for (let i = 0; i < name.length && i < 256; i++) h.writeUInt16BE(name.charCodeAt(i), 64 + i * 2);
    locators.forEach((l, i) => {
      const e = 576 + i * 24;
      h.write(l.code.padEnd(4, ' ').slice(0, 4), e, 'latin1');
      h.writeUInt32BE(Math.ceil(Math.max(l.data.length, 1) / SECTOR), e + 4);
      h.writeUInt32BE(l.data.length, e + 8);
      h.writeBigUInt64BE(BigInt(locatorAt[i]!), e + 16);
      l.data.copy(out, locatorAt[i]!);
    });
  }
  h.writeUInt32BE((vhdChecksumOf(h, 36) ^ (spec.badChecksums === true ? 0x5a : 0)) >>> 0, 36);
  h.copy(out, SECTOR);

  out.fill(0xff, batOffset, batOffset + batSpan);
  for (const b of blocks) {
    const at = blockAt.get(b.index)!;
    if (b.index < entries) out.writeUInt32BE(at / SECTOR, batOffset + b.index * 4);
    const bitmap = out.subarray(at, at + bitmapSpan);
    const data = out.subarray(at + bitmapSpan, at + bitmapSpan + blockSize);
    for (let s = 0; s < spb; s++) {
      const present = b.present === undefined || b.present(s);
      if (present) {
        bitmap[s >> 3] = bitmap[s >> 3]! | (0x80 >> (s & 7));
        b.data.copy(data, s * SECTOR, s * SECTOR, (s + 1) * SECTOR);
      } else {
        data.fill(0xee, s * SECTOR, (s + 1) * SECTOR);
      }
    }
  }
  return out;
}

/** The unique id (16 bytes) stored in a VHD's footer at the end of the file. */
export function vhdUniqueId(file: Buffer): Buffer {
  return Buffer.from(file.subarray(file.length - SECTOR + 68, file.length - SECTOR + 84));
}
