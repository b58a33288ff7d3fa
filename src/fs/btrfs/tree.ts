/**
 * btrfs B-trees: tree blocks (nodes and leaves), their checks, and a cursor that walks items in key order.
 *
 * A tree block is a 101-byte header (checksum, fsid, own logical address, flags, chunk-tree UUID, generation,
 * owner, item count, level) followed, in a node, by key pointers (key, child address, child generation) and,
 * in a leaf, by item headers (key, data offset, data size) whose data is packed from the end of the block.
 *
 * What makes a hostile tree harmless here: the checksum and the block's own address are verified before it is
 * parsed; a child's level must be exactly one less than its parent's (so no path is longer than 8 blocks and no
 * cycle can be walked), its generation must be the one the parent records, its first key must equal the
 * parent's key for it and its last key must sort before the parent's next key — so the keys a cursor returns
 * strictly increase and no block is visited twice in one walk. Item data must lie inside the block, after the
 * item headers. A cursor also stops after a fixed number of blocks.
 */
import { HyperwardError, fsCorrupt } from '../../errors.js';
import { KEY_SIZE, compareKeys, formatKey, readKey, safe, type Key } from './key.js';

export const HEADER_SIZE = 101;
export const ITEM_SIZE = 25;
export const KEY_PTR_SIZE = 33;
/** The kernel's limit: levels 0..7. */
export const MAX_LEVEL = 7;
/** Blocks one cursor may load before it gives up (a walk of a whole 16 TiB filesystem's tree needs fewer). */
export const MAX_CURSOR_BLOCKS = 1 << 21;

export interface TreeNode {
  /** Logical address (what parents point to) and the device offset it was read from (for errors). */
  logical: number;
  physical: number;
  level: number;
  generation: number;
  owner: bigint;
  nritems: number;
  keys: Key[];
  buf: Buffer;
  /** Leaves: absolute offset in `buf` and size of each item's data. */
  dataOff: Int32Array;
  dataSize: Int32Array;
  /** Nodes: child addresses and generations. */
  ptrs: number[];
  gens: number[];
}

/** What a cursor needs from the filesystem: checked, cached tree blocks. */
export interface BlockSource {
  readonly file: string;
  /**
   * The tree block at `logical`, checksum-verified (trying each copy) and parsed with {@link parseTreeBlock}.
   * `level` and `generation`, when given, must match the block's header.
   */
  treeBlock(logical: number, level: number, generation: number | undefined, layer: string): TreeNode;
}

/** Root of a tree: where its top block is, at which level, and (when known) its generation. */
export interface TreeRoot {
  logical: number;
  level: number;
  generation?: number;
}

/**
 * Parses and checks a tree block whose checksum was already verified. `uuid` is the metadata UUID every block
 * of the filesystem carries.
 */
export function parseTreeBlock(
  buf: Buffer,
  logical: number,
  physical: number,
  uuid: Buffer,
  sectorSize: number,
  file: string,
  layer: string,
): TreeNode {
  const bad = (rel: number, message: string): HyperwardError =>
    fsCorrupt(message, { file, layer, offset: physical + rel });
  const size = buf.length;
  const bytenr = buf.readBigUInt64LE(0x30);
  if (bytenr !== BigInt(logical)) throw bad(0x30, `tree block at ${logical} says it is at ${bytenr}`);
  if (!buf.subarray(0x20, 0x30).equals(uuid))
    throw bad(0x20, 'tree block belongs to another filesystem (fsid)');
  const level = buf[0x64]!;
  if (level > MAX_LEVEL) throw bad(0x64, `tree block level ${level} is over ${MAX_LEVEL}`);
  const nritems = buf.readUInt32LE(0x60);
  const generation = safe(buf.readBigUInt64LE(0x50), 'generation', file, layer, physical + 0x50);
  const owner = buf.readBigUInt64LE(0x58);
  const keys: Key[] = [];
  const node: TreeNode = {
    logical,
    physical,
    level,
    generation,
    owner,
    nritems,
    keys,
    buf,
    dataOff: new Int32Array(0),
    dataSize: new Int32Array(0),
    ptrs: [],
    gens: [],
  };
  if (level > 0) {
    const max = Math.floor((size - HEADER_SIZE) / KEY_PTR_SIZE);
    if (nritems === 0 || nritems > max) throw bad(0x60, `node holds ${nritems} pointers (1..${max} fit)`);
    for (let i = 0; i < nritems; i++) {
      const p = HEADER_SIZE + i * KEY_PTR_SIZE;
      keys.push(readKey(buf, p));
      const ptr = safe(
        buf.readBigUInt64LE(p + KEY_SIZE),
        'child address',
        file,
        layer,
        physical + p + KEY_SIZE,
      );
      if (ptr === 0 || ptr % sectorSize !== 0)
        throw bad(p + KEY_SIZE, `child address ${ptr} is not sector-aligned`);
      node.ptrs.push(ptr);
      node.gens.push(
        safe(buf.readBigUInt64LE(p + KEY_SIZE + 8), 'child generation', file, layer, physical + p + 25),
      );
    }
  } else {
    const max = Math.floor((size - HEADER_SIZE) / ITEM_SIZE);
    if (nritems > max) throw bad(0x60, `leaf holds ${nritems} items (at most ${max} fit)`);
    node.dataOff = new Int32Array(nritems);
    node.dataSize = new Int32Array(nritems);
    const headersEnd = HEADER_SIZE + nritems * ITEM_SIZE;
    for (let i = 0; i < nritems; i++) {
      const p = HEADER_SIZE + i * ITEM_SIZE;
      keys.push(readKey(buf, p));
      const off = HEADER_SIZE + buf.readUInt32LE(p + KEY_SIZE);
      const len = buf.readUInt32LE(p + KEY_SIZE + 4);
      if (off < headersEnd || off + len > size) {
        throw bad(
          p + KEY_SIZE,
          `item ${i} data [${off - HEADER_SIZE}, +${len}) lies outside the leaf's data area`,
        );
      }
      node.dataOff[i] = off;
      node.dataSize[i] = len;
    }
  }
  for (let i = 1; i < keys.length; i++) {
    if (compareKeys(keys[i - 1]!, keys[i]!) >= 0) {
      throw bad(HEADER_SIZE, `keys ${formatKey(keys[i - 1]!)} and ${formatKey(keys[i]!)} are out of order`);
    }
  }
  return node;
}

/** One item a cursor stands on. */
export interface Item {
  key: Key;
  /** The item's data (a view into the cached block: do not modify). */
  data: Buffer;
  /** Device offset of the data, for errors. */
  offset: number;
}

interface PathEl {
  node: TreeNode;
  slot: number;
  /** Keys of this block must sort before `hi` (the parent's next key), when there is one. */
  hi: Key | undefined;
}

/** Index of the last key ≤ `target` in `keys`, or -1. */
function lastLE(keys: Key[], target: Key): number {
  let lo = 0;
  let hi = keys.length - 1;
  let ans = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (compareKeys(keys[mid]!, target) <= 0) {
      ans = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return ans;
}

/**
 * Walks the items of one tree in key order. `seek` places it; `next` steps; `item` reads where it stands.
 *
 * @example
 * const c = new Cursor(fs, root, 'btrfs fs tree 5');
 * for (let ok = c.seek(key(256n, 96, 0n)); ok; ok = c.next()) { const it = c.item(); ... }
 */
export class Cursor {
  private path: PathEl[] = [];
  private loaded = 0;

  constructor(
    private readonly src: BlockSource,
    private readonly root: TreeRoot,
    private readonly layer: string,
  ) {}

  private load(
    logical: number,
    level: number,
    gen: number | undefined,
    lo: Key | undefined,
    hi: Key | undefined,
  ): TreeNode {
    if (++this.loaded > MAX_CURSOR_BLOCKS) {
      throw new HyperwardError('E_LIMIT', `a walk of the tree read more than ${MAX_CURSOR_BLOCKS} blocks`, {
        file: this.src.file,
        layer: this.layer,
      });
    }
    const n = this.src.treeBlock(logical, level, gen, this.layer);
    const loc = { file: this.src.file, layer: this.layer, offset: n.physical + HEADER_SIZE };
    if (lo !== undefined) {
      // A non-root block is never empty, and starts with the key its parent records for it.
      if (n.nritems === 0) throw fsCorrupt('an empty block below the root of a tree', loc);
      if (compareKeys(n.keys[0]!, lo) !== 0) {
        throw fsCorrupt(
          `block starts with ${formatKey(n.keys[0]!)} but its parent says ${formatKey(lo)}`,
          loc,
        );
      }
    }
    if (hi !== undefined && n.nritems > 0 && compareKeys(n.keys[n.nritems - 1]!, hi) >= 0) {
      throw fsCorrupt(
        `block ends with ${formatKey(n.keys[n.nritems - 1]!)}, past its parent's next key ${formatKey(hi)}`,
        loc,
      );
    }
    return n;
  }

  /** Loads the child under `el`'s slot and returns its path element at `slot` (`'first'` or a target key). */
  private child(el: PathEl, pick: Key | 'first'): PathEl {
    const n = el.node;
    const next = el.slot + 1 < n.nritems ? n.keys[el.slot + 1] : el.hi;
    const c = this.load(n.ptrs[el.slot]!, n.level - 1, n.gens[el.slot], n.keys[el.slot], next);
    const slot = pick === 'first' ? 0 : Math.max(0, lastLE(c.keys, pick));
    return { node: c, slot, hi: next };
  }

  /**
   * Stands on the last item whose key is ≤ `target`, or on the first item of the tree when every key is
   * greater. Returns false when the tree is empty.
   */
  seek(target: Key): boolean {
    const top = this.load(this.root.logical, this.root.level, this.root.generation, undefined, undefined);
    let el: PathEl = { node: top, slot: Math.max(0, lastLE(top.keys, target)), hi: undefined };
    this.path = [el];
    while (el.node.level > 0) {
      el = this.child(el, target);
      this.path.push(el);
    }
    return el.node.nritems > 0;
  }

  /** Steps to the next item; false at the end of the tree. */
  next(): boolean {
    let depth = this.path.length - 1;
    const leaf = this.path[depth];
    if (leaf === undefined) return false;
    if (leaf.slot + 1 < leaf.node.nritems) {
      leaf.slot++;
      return true;
    }
    // Climb to the lowest ancestor with a next pointer, step it, and descend along first children.
    while (depth > 0) {
      depth--;
      const el = this.path[depth]!;
      if (el.slot + 1 < el.node.nritems) {
        el.slot++;
        this.path.length = depth + 1;
        let cur = el;
        while (cur.node.level > 0) {
          cur = this.child(cur, 'first');
          this.path.push(cur);
        }
        return true;
      }
    }
    this.path = [];
    return false;
  }

  /** The item the cursor stands on, or undefined after the end. */
  item(): Item | undefined {
    const el = this.path[this.path.length - 1];
    if (el === undefined || el.node.level !== 0 || el.slot >= el.node.nritems) return undefined;
    const n = el.node;
    const off = n.dataOff[el.slot]!;
    return {
      key: n.keys[el.slot]!,
      data: n.buf.subarray(off, off + n.dataSize[el.slot]!),
      offset: n.physical + off,
    };
  }
}

/**
 * Calls `visit` for each item with `lo ≤ key ≤ hi`, in order, until it returns `true`. `limit` bounds the items
 * visited (E_LIMIT past it).
 */
export function forEachItem(
  src: BlockSource,
  root: TreeRoot,
  lo: Key,
  hi: Key,
  layer: string,
  limit: number,
  visit: (it: Item) => unknown,
): void {
  const c = new Cursor(src, root, layer);
  let ok = c.seek(lo);
  let count = 0;
  while (ok) {
    const it = c.item();
    if (it === undefined) return;
    if (compareKeys(it.key, hi) > 0) return;
    if (compareKeys(it.key, lo) >= 0) {
      if (++count > limit) {
        throw new HyperwardError('E_LIMIT', `more than ${limit} items in one range`, {
          file: src.file,
          layer,
        });
      }
      if (visit(it) === true) return;
    }
    ok = c.next();
  }
}

/** The item with exactly key `k`, or undefined. */
export function findItem(src: BlockSource, root: TreeRoot, k: Key, layer: string): Item | undefined {
  const c = new Cursor(src, root, layer);
  if (!c.seek(k)) return undefined;
  const it = c.item();
  return it !== undefined && compareKeys(it.key, k) === 0 ? it : undefined;
}
