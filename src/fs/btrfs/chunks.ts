/**
 * btrfs chunks: everything above the superblock is addressed by logical byte numbers, and chunk items map
 * ranges of them to stripes on the devices. The chunks that hold the chunk tree itself are copied into the
 * superblock's system chunk array (the bootstrap); the chunk tree then lists all of them.
 *
 * Profiles: single and DUP (the only ones a one-device filesystem makes by default), RAID1/RAID1C3/RAID1C4 and
 * RAID10 mirrors (any copy that lies on this device is used), RAID0/RAID10 striping when the stripes needed lie
 * on this device. RAID5/6 are refused. A stripe on another device is refused with E_UNSUPPORTED_FORMAT naming
 * the device: a reader is given one device.
 */
import { HyperwardError, fsCorrupt } from '../../errors.js';
import { KEY_SIZE, KeyType, ObjectId, readKey, safe, type Key } from './key.js';

export const BG_DATA = 1;
export const BG_SYSTEM = 2;
export const BG_METADATA = 4;
const BG_RAID0 = 1 << 3;
const BG_RAID1 = 1 << 4;
const BG_DUP = 1 << 5;
const BG_RAID10 = 1 << 6;
const BG_RAID5 = 1 << 7;
const BG_RAID6 = 1 << 8;
const BG_RAID1C3 = 1 << 9;
const BG_RAID1C4 = 1 << 10;
const PROFILE_MASK = BG_RAID0 | BG_RAID1 | BG_DUP | BG_RAID10 | BG_RAID5 | BG_RAID6 | BG_RAID1C3 | BG_RAID1C4;

/** Bytes of a chunk item before its stripes, and of one stripe. */
export const CHUNK_HEADER = 48;
export const STRIPE_SIZE = 32;
/** Most chunks one filesystem may list (a 100 TiB filesystem has ~100k 1 GiB data chunks). */
export const MAX_CHUNKS = 1 << 18;

export type Profile =
  'single' | 'dup' | 'raid0' | 'raid1' | 'raid1c3' | 'raid1c4' | 'raid10' | 'raid5' | 'raid6';

export interface Stripe {
  devid: number;
  offset: number;
}

export interface Chunk {
  logical: number;
  length: number;
  /** Block group type bits (DATA, SYSTEM, METADATA and the profile). */
  type: number;
  profile: Profile;
  stripeLen: number;
  subStripes: number;
  stripes: Stripe[];
}

/** One piece of a logical range on a device: `length` bytes at `physical`. */
export interface Placement {
  devid: number;
  physical: number;
  length: number;
}

function profileOf(type: number): Profile | undefined {
  const p = type & PROFILE_MASK;
  switch (p) {
    case 0:
      return 'single';
    case BG_DUP:
      return 'dup';
    case BG_RAID0:
      return 'raid0';
    case BG_RAID1:
      return 'raid1';
    case BG_RAID1C3:
      return 'raid1c3';
    case BG_RAID1C4:
      return 'raid1c4';
    case BG_RAID10:
      return 'raid10';
    case BG_RAID5:
      return 'raid5';
    case BG_RAID6:
      return 'raid6';
    default:
      return undefined;
  }
}

const isPow2 = (n: number): boolean => n > 0 && (n & (n - 1)) === 0;

/**
 * Parses the chunk item in `buf[off, off+size)` whose key is `k`. `at` is its device offset, for errors.
 * The stripe count, stripe length, profile and alignment are checked.
 */
export function parseChunk(
  buf: Buffer,
  off: number,
  size: number,
  k: Key,
  sectorSize: number,
  file: string,
  layer: string,
  at: number,
): Chunk {
  const bad = (rel: number, message: string): HyperwardError =>
    fsCorrupt(message, { file, layer, offset: at + rel });
  if (size < CHUNK_HEADER + STRIPE_SIZE) throw bad(0, `chunk item of ${size} bytes is too short`);
  const logical = safe(k.offset, 'chunk address', file, layer, at);
  const length = safe(buf.readBigUInt64LE(off), 'chunk length', file, layer, at);
  const stripeLen = safe(buf.readBigUInt64LE(off + 16), 'stripe length', file, layer, at + 16);
  const typeBig = buf.readBigUInt64LE(off + 24);
  const numStripes = buf.readUInt16LE(off + 44);
  const subStripes = buf.readUInt16LE(off + 46);
  if (numStripes === 0) throw bad(44, 'chunk has no stripes');
  if (CHUNK_HEADER + numStripes * STRIPE_SIZE > size) {
    throw bad(44, `chunk claims ${numStripes} stripes but its item holds ${size} bytes`);
  }
  if (length === 0 || length % sectorSize !== 0) throw bad(0, `chunk length ${length} is not sector-aligned`);
  if (logical % sectorSize !== 0) throw bad(0, `chunk address ${logical} is not sector-aligned`);
  if (logical + length > Number.MAX_SAFE_INTEGER) throw bad(0, 'chunk ends past 2^53');
  if (!isPow2(stripeLen) || stripeLen > 1 << 30)
    throw bad(16, `stripe length ${stripeLen} is not a power of two`);
  if (typeBig > 0xffffn) throw bad(24, `chunk type 0x${typeBig.toString(16)} has unknown bits`);
  const type = Number(typeBig);
  if ((type & (BG_DATA | BG_SYSTEM | BG_METADATA)) === 0)
    throw bad(24, `chunk type 0x${type.toString(16)} has no kind`);
  const profile = profileOf(type);
  if (profile === undefined) throw bad(24, `chunk type 0x${type.toString(16)} has more than one profile`);
  const expect: Partial<Record<Profile, number>> = { single: 1, dup: 2, raid1: 2, raid1c3: 3, raid1c4: 4 };
  const want = expect[profile];
  if (want !== undefined && numStripes !== want) {
    throw bad(44, `${profile} chunk has ${numStripes} stripes, not ${want}`);
  }
  if (profile === 'raid10' && (subStripes < 2 || numStripes % subStripes !== 0)) {
    throw bad(46, `raid10 chunk has ${numStripes} stripes in groups of ${subStripes}`);
  }
  const stripes: Stripe[] = [];
  for (let i = 0; i < numStripes; i++) {
    const s = off + CHUNK_HEADER + i * STRIPE_SIZE;
    const rel = s - off;
    stripes.push({
      devid: safe(buf.readBigUInt64LE(s), 'device id', file, layer, at + rel),
      offset: safe(buf.readBigUInt64LE(s + 8), 'stripe offset', file, layer, at + rel + 8),
    });
  }
  return { logical, length, type, profile, stripeLen, subStripes, stripes };
}

/** Parses the superblock's system chunk array: (key, chunk item) pairs, packed. */
export function parseSysChunkArray(
  arr: Buffer,
  sectorSize: number,
  file: string,
  arrayOffset: number,
): Chunk[] {
  const layer = 'btrfs system chunk array';
  const out: Chunk[] = [];
  let p = 0;
  while (p < arr.length) {
    if (p + KEY_SIZE + CHUNK_HEADER > arr.length) {
      throw fsCorrupt('system chunk array ends inside an item', { file, layer, offset: arrayOffset + p });
    }
    const k = readKey(arr, p);
    if (k.type !== KeyType.CHUNK_ITEM || k.objectid !== ObjectId.FIRST_CHUNK_TREE) {
      throw fsCorrupt(`system chunk array holds a key of type ${k.type}, not a chunk`, {
        file,
        layer,
        offset: arrayOffset + p,
      });
    }
    const body = p + KEY_SIZE;
    const size = CHUNK_HEADER + arr.readUInt16LE(body + 44) * STRIPE_SIZE;
    if (body + size > arr.length) {
      throw fsCorrupt('system chunk array ends inside a chunk item', {
        file,
        layer,
        offset: arrayOffset + body,
      });
    }
    out.push(parseChunk(arr, body, size, k, sectorSize, file, layer, arrayOffset + body));
    p = body + size;
  }
  return out;
}

/** The logical-to-physical map: chunks sorted by address, none overlapping. */
export class ChunkMap {
  private readonly chunks: Chunk[];

  /**
   * @param chunks Chunks in any order; exact duplicates (the bootstrap copies of system chunks) are merged.
   * @throws E_FS_CORRUPT when two different chunks overlap; E_LIMIT past {@link MAX_CHUNKS}.
   */
  constructor(
    chunks: Chunk[],
    private readonly file: string,
  ) {
    if (chunks.length > MAX_CHUNKS) {
      throw new HyperwardError('E_LIMIT', `more than ${MAX_CHUNKS} chunks`, {
        file,
        layer: 'btrfs chunk tree',
      });
    }
    const sorted = [...chunks].sort((a, b) => a.logical - b.logical);
    const out: Chunk[] = [];
    for (const c of sorted) {
      const last = out[out.length - 1];
      if (last !== undefined && c.logical < last.logical + last.length) {
        if (c.logical === last.logical && c.length === last.length && sameStripes(c, last)) continue;
        throw fsCorrupt(
          `chunks at ${last.logical} (+${last.length}) and ${c.logical} (+${c.length}) overlap`,
          { file, layer: 'btrfs chunk tree' },
        );
      }
      out.push(c);
    }
    this.chunks = out;
  }

  get size(): number {
    return this.chunks.length;
  }

  /** The chunk holding logical byte `logical`, or undefined. */
  find(logical: number): Chunk | undefined {
    let lo = 0;
    let hi = this.chunks.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const c = this.chunks[mid]!;
      if (logical < c.logical) hi = mid - 1;
      else if (logical >= c.logical + c.length) lo = mid + 1;
      else return c;
    }
    return undefined;
  }

  /** How many copies of each byte of `c` exist (1 for single and striped profiles). */
  static copies(c: Chunk): number {
    switch (c.profile) {
      case 'dup':
      case 'raid1':
      case 'raid1c3':
      case 'raid1c4':
        return c.stripes.length;
      case 'raid10':
        return c.subStripes;
      default:
        return 1;
    }
  }

  /**
   * Where copy `mirror` of logical byte `logical` lies, and how many bytes from there are contiguous (up to the
   * end of the chunk or of the stripe). Throws E_FS_CORRUPT when no chunk holds the address and
   * E_UNSUPPORTED_FORMAT for RAID5/6.
   */
  place(logical: number, mirror: number, layer: string): Placement {
    const c = this.find(logical);
    if (c === undefined) {
      throw fsCorrupt(`logical address ${logical} is in no chunk`, { file: this.file, layer });
    }
    const inChunk = logical - c.logical;
    const chunkLeft = c.length - inChunk;
    let stripe: Stripe;
    let physical: number;
    let length: number;
    switch (c.profile) {
      case 'single':
      case 'dup':
      case 'raid1':
      case 'raid1c3':
      case 'raid1c4':
        stripe = c.stripes[mirror % c.stripes.length]!;
        physical = stripe.offset + inChunk;
        length = chunkLeft;
        break;
      case 'raid0':
      case 'raid10': {
        const sub = c.profile === 'raid10' ? c.subStripes : 1;
        const groups = c.stripes.length / sub;
        const nr = Math.floor(inChunk / c.stripeLen);
        const within = inChunk % c.stripeLen;
        stripe = c.stripes[(nr % groups) * sub + (mirror % sub)]!;
        physical = stripe.offset + Math.floor(nr / groups) * c.stripeLen + within;
        length = Math.min(c.stripeLen - within, chunkLeft);
        break;
      }
      default:
        throw new HyperwardError(
          'E_UNSUPPORTED_FORMAT',
          `logical address ${logical} lies in a ${c.profile} chunk, which this reader does not reassemble`,
          { file: this.file, layer },
        );
    }
    return { devid: stripe.devid, physical, length };
  }
}

function sameStripes(a: Chunk, b: Chunk): boolean {
  return (
    a.type === b.type &&
    a.stripes.length === b.stripes.length &&
    a.stripes.every((s, i) => s.devid === b.stripes[i]!.devid && s.offset === b.stripes[i]!.offset)
  );
}
