/**
 * btrfs keys and small field readers. Every item in every tree is addressed by a key (objectid, type, offset),
 * ordered by objectid, then type, then offset. objectids and offsets are unsigned 64-bit values, and some real
 * ones sit at the top of that range (the reloc and orphan trees, -1 offsets), so keys keep them as bigints.
 */
import { fsCorrupt } from '../../errors.js';

/** Item types this reader uses (BTRFS_*_KEY). */
export const KeyType = {
  INODE_ITEM: 1,
  INODE_REF: 12,
  INODE_EXTREF: 13,
  XATTR_ITEM: 24,
  DIR_ITEM: 84,
  DIR_INDEX: 96,
  EXTENT_DATA: 108,
  ROOT_ITEM: 132,
  ROOT_BACKREF: 144,
  ROOT_REF: 156,
  CHUNK_ITEM: 228,
} as const;

/** Well-known objectids. */
export const ObjectId = {
  ROOT_TREE: 1n,
  CHUNK_TREE: 3n,
  FS_TREE: 5n,
  ROOT_TREE_DIR: 6n,
  FIRST_FREE: 256n,
  /** The last objectid a subvolume (or an inode) may have: -256 as u64. */
  LAST_FREE: (1n << 64n) - 256n,
  FIRST_CHUNK_TREE: 256n,
  /** The placeholder inode the kernel shows for a subvolume entry that has no matching ROOT_REF. */
  EMPTY_SUBVOL_DIR: 2n,
} as const;

export const U64_MAX = (1n << 64n) - 1n;

/** A disk key; 17 bytes on disk (objectid u64, type u8, offset u64). */
export interface Key {
  objectid: bigint;
  type: number;
  offset: bigint;
}

export const KEY_SIZE = 17;

/** Orders keys as the trees do: objectid, then type, then offset. */
export function compareKeys(a: Key, b: Key): number {
  if (a.objectid !== b.objectid) return a.objectid < b.objectid ? -1 : 1;
  if (a.type !== b.type) return a.type < b.type ? -1 : 1;
  if (a.offset !== b.offset) return a.offset < b.offset ? -1 : 1;
  return 0;
}

export function readKey(buf: Buffer, off: number): Key {
  return { objectid: buf.readBigUInt64LE(off), type: buf[off + 8]!, offset: buf.readBigUInt64LE(off + 9) };
}

export function key(objectid: bigint, type: number, offset: bigint): Key {
  return { objectid, type, offset };
}

export function formatKey(k: Key): string {
  return `(${k.objectid} ${k.type} ${k.offset})`;
}

/**
 * Reads a u64 that must fit a JavaScript safe integer (sizes, addresses, counts); a larger one is corruption
 * for any real filesystem and is reported at `base + off`.
 */
export function u64(buf: Buffer, off: number, file: string, layer: string, base?: number): number {
  const v = buf.readBigUInt64LE(off);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw fsCorrupt(`64-bit field ${v} is too large`, {
      file,
      layer,
      ...(base !== undefined ? { offset: base + off } : {}),
    });
  }
  return Number(v);
}

/** A bigint that must fit a safe integer, or a corruption error. */
export function safe(v: bigint, what: string, file: string, layer: string, offset?: number): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw fsCorrupt(`${what} ${v} is too large`, {
      file,
      layer,
      ...(offset !== undefined ? { offset } : {}),
    });
  }
  return Number(v);
}

/** The 16 bytes of a UUID as 8-4-4-4-12 lowercase hex. */
export function formatUuid(b: Buffer): string {
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}
