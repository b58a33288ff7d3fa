/**
 * Decompression of btrfs extents, as the kernel stores them (fs/btrfs/{zlib,lzo,zstd}.c):
 *
 * - zlib: one zlib stream per extent. Like the kernel, the 2-byte header is skipped and the deflate data
 *   inflated raw, so a missing or damaged Adler-32 trailer does not matter.
 * - lzo: a 4-byte little-endian total length (header included), then segments, each a 4-byte length and an
 *   LZO1X stream that decompresses to at most one sector. A segment header never straddles a sector boundary:
 *   when fewer than 4 bytes are left in the sector after a segment, they are zero padding.
 * - zstd: one zstd frame (the extent is zero-padded to the sector size after it).
 *
 * The output is always exactly the extent's uncompressed size (`ram_bytes`, at most 128 KiB for regular
 * extents); a stream that ends early leaves zeros, as the kernel does, and one that would run longer is cut
 * off at the bound, so no input can make the output grow.
 */
import { zlib, zstdDecompress } from '../../dependency.js';
import { lzo1xDecompress } from '../../compress/lzo.js';
import { fsCorrupt, isHyperwardError, type ErrorLocation } from '../../errors.js';
import { COMPRESS_LZO, COMPRESS_ZLIB, COMPRESS_ZSTD } from './items.js';

/** Largest uncompressed size of one compressed extent (BTRFS_MAX_UNCOMPRESSED). */
export const MAX_UNCOMPRESSED = 128 * 1024;
const LZO_LEN = 4;
const ZSTD_MAGIC = 0xfd2fb528;

/** Decompresses `input` (compression type 1..3) to exactly `ramBytes` bytes. */
export function decompressExtent(
  type: number,
  input: Buffer,
  ramBytes: number,
  sectorSize: number,
  loc: ErrorLocation,
): Buffer {
  if (ramBytes > MAX_UNCOMPRESSED) {
    throw fsCorrupt(
      `compressed extent claims ${ramBytes} uncompressed bytes (at most ${MAX_UNCOMPRESSED})`,
      loc,
    );
  }
  const out = Buffer.alloc(ramBytes);
  if (ramBytes === 0) return out;
  try {
    if (type === COMPRESS_ZLIB) inflateZlib(input, out, loc);
    else if (type === COMPRESS_LZO) inflateLzo(input, out, sectorSize, loc);
    else if (type === COMPRESS_ZSTD) inflateZstd(input, out, loc);
    else throw fsCorrupt(`unknown compression type ${type}`, loc);
  } catch (e) {
    if (isHyperwardError(e)) throw e;
    throw fsCorrupt(
      `${['', 'zlib', 'lzo', 'zstd'][type] ?? '?'} data is damaged: ${(e as Error).message}`,
      loc,
    );
  }
  return out;
}

function inflateZlib(input: Buffer, out: Buffer, loc: ErrorLocation): void {
  if (input.length < 2) throw fsCorrupt('zlib stream shorter than its header', loc);
  const cmf = input[0]!;
  const flg = input[1]!;
  const header = (cmf & 0x0f) === 8 && ((cmf << 8) | flg) % 31 === 0;
  if (!header) throw fsCorrupt(`bad zlib header 0x${cmf.toString(16)} 0x${flg.toString(16)}`, loc);
  if ((flg & 0x20) !== 0) throw fsCorrupt('zlib stream needs a preset dictionary', loc);
  // More output than the extent holds is refused (ERR_BUFFER_TOO_LARGE, turned into E_FS_CORRUPT above).
  const z = zlib();
  const got = z.inflateRawSync(input.subarray(2), {
    maxOutputLength: out.length,
    finishFlush: z.constants.Z_SYNC_FLUSH,
  });
  got.copy(out, 0, 0, Math.min(got.length, out.length));
}

function inflateLzo(input: Buffer, out: Buffer, sectorSize: number, loc: ErrorLocation): void {
  if (input.length < LZO_LEN * 2) throw fsCorrupt('lzo extent shorter than its headers', loc);
  const total = input.readUInt32LE(0);
  if (total > input.length || total < LZO_LEN * 2) {
    throw fsCorrupt(`lzo extent says it holds ${total} bytes; ${input.length} are stored`, loc);
  }
  // The worst case of LZO1X for one sector of input, as the kernel bounds a segment.
  const maxSegment = sectorSize + Math.floor(sectorSize / 16) + 64 + 3;
  let pos = LZO_LEN;
  let produced = 0;
  while (pos < total && produced < out.length) {
    const left = sectorSize - (pos % sectorSize);
    if (left < LZO_LEN) {
      pos += left;
      continue;
    }
    if (pos + LZO_LEN > total)
      throw fsCorrupt('lzo segment header runs past the extent', { ...loc, offset: offsetAt(loc, pos) });
    const seg = input.readUInt32LE(pos);
    pos += LZO_LEN;
    if (seg === 0 || seg > maxSegment || pos + seg > total) {
      throw fsCorrupt(`lzo segment of ${seg} bytes at ${pos - LZO_LEN} does not fit`, {
        ...loc,
        offset: offsetAt(loc, pos - LZO_LEN),
      });
    }
    const bytes = lzo1xDecompress(input.subarray(pos, pos + seg), {
      maxOutput: sectorSize,
      code: 'E_FS_CORRUPT',
      location: { ...loc, layer: `${loc.layer ?? 'btrfs'} (lzo segment)`, offset: offsetAt(loc, pos) },
    });
    bytes.copy(out, produced, 0, Math.min(bytes.length, out.length - produced));
    produced += bytes.length;
    pos += seg;
  }
}

function offsetAt(loc: ErrorLocation, rel: number): number | undefined {
  return loc.offset === undefined ? undefined : loc.offset + rel;
}

/** Length of the zstd frame at the start of `buf` (frame header, blocks, optional checksum). */
function zstdFrameLength(buf: Buffer, loc: ErrorLocation): number {
  if (buf.length < 6 || buf.readUInt32LE(0) !== ZSTD_MAGIC) throw fsCorrupt('no zstd frame magic', loc);
  const fhd = buf[4]!;
  if ((fhd & 0x08) !== 0) throw fsCorrupt('zstd frame header has its reserved bit set', loc);
  const single = (fhd >> 5) & 1;
  const dictBytes = [0, 1, 2, 4][fhd & 3]!;
  const fcsFlag = fhd >> 6;
  const fcsBytes = fcsFlag === 0 ? single : 1 << fcsFlag;
  let pos = 5 + (single === 1 ? 0 : 1) + dictBytes + fcsBytes;
  for (;;) {
    if (pos + 3 > buf.length) throw fsCorrupt('zstd frame is truncated', loc);
    const bh = buf[pos]! | (buf[pos + 1]! << 8) | (buf[pos + 2]! << 16);
    pos += 3;
    const btype = (bh >> 1) & 3;
    const size = bh >>> 3;
    if (btype === 3) throw fsCorrupt('zstd block of reserved type', loc);
    if (size > MAX_UNCOMPRESSED) throw fsCorrupt(`zstd block of ${size} bytes`, loc);
    pos += btype === 1 ? 1 : size;
    if (pos > buf.length) throw fsCorrupt('zstd frame is truncated', loc);
    if ((bh & 1) !== 0) break;
  }
  if ((fhd & 0x04) !== 0) pos += 4;
  if (pos > buf.length) throw fsCorrupt('zstd frame is truncated', loc);
  return pos;
}

function inflateZstd(input: Buffer, out: Buffer, loc: ErrorLocation): void {
  const len = zstdFrameLength(input, loc);
  // With an output buffer given, fzstd decodes into it and uses it as its window: nothing larger is allocated.
  zstdDecompress(input.subarray(0, len), out);
}
