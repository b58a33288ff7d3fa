/**
 * Read-only btrfs reader behind the `FileSystem` interface, in pure TypeScript.
 *
 * Covers: the primary superblock (crc32c, xxhash64 and sha256 checksums verified; blake2b accepted unverified,
 * which `checksum.verified` says), the system chunk array and the chunk tree (single, DUP, RAID1/1C3/1C4 and
 * RAID0/10 profiles whose stripes lie on this device; RAID5/6 refused), the root tree, subvolumes (the default
 * one, or one named by path or id; nested subvolumes are entered like the kernel does, and a subvolume entry
 * without a matching ROOT_REF — a nested subvolume seen from a snapshot — shows as an empty directory),
 * inode items, DIR_INDEX listings and DIR_ITEM lookups by name hash, inline, regular and preallocated extents,
 * holes with and without the no-holes feature, and zlib, lzo and zstd compressed extents. xattrs, data
 * checksums and the log tree are not read: the image is read as it lies on disk after the last commit.
 *
 * Inode numbers: those of the opened subvolume are the btrfs objectids themselves (what `stat` shows on a
 * mounted filesystem); those of a nested subvolume are `treeId * 2^36 + objectid`, so the two never collide;
 * the placeholder of a subvolume that cannot be entered is inode 2, as the kernel shows it.
 *
 * Every structure is treated as hostile: see `btrfs/tree.ts` for what keeps tree walks bounded; reads,
 * directory listings and name lengths are capped; all caches are small LRUs.
 */
import type { BlockDevice } from '../disk/types.js';
import { crc32cUpdate } from '../disk/crc32c.js';
import { HyperwardError, fsCorrupt } from '../errors.js';
import { Lru } from '../lru.js';
import { ChunkMap, parseChunk, parseSysChunkArray, type Chunk } from './btrfs/chunks.js';
import { decompressExtent, MAX_UNCOMPRESSED } from './btrfs/compress.js';
import type { CsumName } from './btrfs/csum.js';
import {
  COMPRESS_NONE,
  EXTENT_INLINE,
  EXTENT_PREALLOC,
  fileTypeOfFt,
  parseDirItems,
  parseFileExtent,
  parseInodeExtref,
  parseInodeItem,
  parseInodeRef,
  parseRootItem,
  parseRootRef,
  type DirEntryRaw,
  type FileExtent,
  type InodeItem,
  type RootItem,
} from './btrfs/items.js';
import { KeyType, ObjectId, U64_MAX, compareKeys, key } from './btrfs/key.js';
import {
  SUPER_OFFSET,
  SYS_CHUNK_ARRAY_OFFSET,
  hasBtrfsMagic,
  readSuperblock,
  type Superblock,
} from './btrfs/superblock.js';
import {
  Cursor,
  findItem,
  forEachItem,
  parseTreeBlock,
  type BlockSource,
  type Item,
  type TreeNode,
  type TreeRoot,
} from './btrfs/tree.js';
import { typeFromMode, type DirEntry, type FileSystem, type FileType, type Inode } from './types.js';

/**
 * Inode objectids of nested subvolumes are offset by their tree id times this. Their inodes are made by the
 * kernel, counting up from 256 in each subvolume, so 2^36 leaves room; tree ids (which grow with every
 * snapshot ever taken) get 17 bits.
 */
const TREE_STRIDE = 2 ** 36;
/** Largest tree id whose inodes can be numbered (TREE_STRIDE * (this + 1) = 2^53). */
const MAX_NESTED_TREE = 2 ** 17 - 1;
/** Entries one `readdir` returns at most. */
const MAX_DIR_ENTRIES = 1_000_000;
/** Largest single `read` (callers stream bigger files in pieces, e.g. `Vfs.chunks`). */
const MAX_READ = 1024 * 1024 * 1024;
/** Items one scan of the root tree (listing subvolumes) visits at most. */
const MAX_ROOT_ITEMS = 1_000_000;
/** Longest symbolic link target (PATH_MAX - 1). */
const MAX_LINK = 4095;
/** Path components when naming a subvolume's place; deeper is corruption (a loop). */
const MAX_PATH_DEPTH = 4096;
/** Subvolume nesting when building paths. */
const MAX_SUBVOL_DEPTH = 256;

const NODE_CACHE_BYTES = 16 * 1024 * 1024;
const EXTENT_CACHE_BYTES = 8 * 1024 * 1024;
const INODE_CACHE_ENTRIES = 8192;
const ROOT_CACHE_ENTRIES = 256;

/** One subvolume (or the top-level tree, id 5) of a btrfs filesystem. */
export interface BtrfsSubvolume {
  /** Tree id (5 for the top level). */
  id: number;
  /** Path from the top level, as `btrfs subvolume list` shows it but with a leading `/`; `/` for id 5. */
  path: string;
  /** Id of the subvolume that holds it (absent for the top level). */
  parentId?: number;
  /** Whether it is the default subvolume (what a mount without `subvol=` shows). */
  isDefault: boolean;
  /** Read-only flag (snapshots made with `-r`). */
  readOnly: boolean;
}

/** Options of {@link openBtrfs}. */
export interface BtrfsOpenOptions {
  /** Path of the subvolume from the top level (`@`, `/@/home`, `snapshots/1`), like `mount -o subvol=`. */
  subvolume?: string;
  /** Tree id of the subvolume, like `mount -o subvolid=` (5 = the top level). */
  subvolumeId?: number;
}

/** A btrfs filesystem opened at one subvolume, with facts for reports. */
export interface BtrfsFileSystem extends FileSystem {
  readonly type: 'btrfs';
  /** The subvolume this view shows. */
  readonly subvolume: { id: number; path: string };
  /** Checksum algorithm of the metadata, and whether this reader verifies it (blake2b: no). */
  readonly checksum: { type: CsumName; verified: boolean };
  /** This device's id and how many devices the filesystem spans. */
  readonly devid: number;
  readonly numDevices: number;
  /** Every subvolume of the filesystem. */
  subvolumes(): BtrfsSubvolume[];
}

/** Whether `dev` holds a btrfs filesystem (magic at the primary superblock). */
export function probeBtrfs(dev: BlockDevice): boolean {
  return hasBtrfsMagic(dev);
}

/** btrfs's name hash: crc32c with the seed ~1 and no final inversion. */
export function btrfsNameHash(name: Uint8Array): number {
  return ~crc32cUpdate(1, name) >>> 0;
}

/** Why a tree block is not the one its parent points to (level, generation), or undefined when it is. */
function mismatch(n: TreeNode, level: number, generation: number | undefined): string | undefined {
  if (n.level !== level) return `tree block at ${n.logical} has level ${n.level}, expected ${level}`;
  if (generation !== undefined && n.generation !== generation) {
    return `tree block at ${n.logical} has generation ${n.generation}, its parent expects ${generation}`;
  }
  return undefined;
}

interface TreeInfo extends TreeRoot {
  id: bigint;
  item: RootItem;
}

/**
 * The device-level part of a btrfs filesystem: superblock, chunk map, checked tree blocks, the root tree and
 * subvolume bookkeeping. One per opened device; the subvolume views share it.
 */
class Volume implements BlockSource {
  readonly file: string;
  readonly sb: Superblock;
  private chunks: ChunkMap;
  readonly rootTree: TreeRoot;
  private readonly nodes = new Lru<number, TreeNode>(4096, {
    budget: { maxBytes: NODE_CACHE_BYTES, sizeOf: (n) => n.buf.length },
  });
  private readonly roots = new Lru<bigint, TreeInfo | null>(ROOT_CACHE_ENTRIES);

  constructor(readonly dev: BlockDevice) {
    this.file = dev.name;
    this.sb = readSuperblock(dev);
    const sys = parseSysChunkArray(
      this.sb.sysChunkArray,
      this.sb.sectorSize,
      this.file,
      SUPER_OFFSET + SYS_CHUNK_ARRAY_OFFSET,
    );
    if (sys.length === 0) {
      throw fsCorrupt('the system chunk array is empty: the chunk tree cannot be found', {
        file: this.file,
        layer: 'btrfs superblock',
        offset: SUPER_OFFSET + 0xa0,
      });
    }
    // Until the chunk tree is read, the bootstrap chunks are the map; then the full map replaces them.
    this.chunks = new ChunkMap(sys, this.file);
    const all: Chunk[] = [...sys];
    const chunkRoot: TreeRoot = {
      logical: this.sb.chunkRoot,
      level: this.sb.chunkRootLevel,
      generation: this.sb.chunkRootGeneration,
    };
    const layer = 'btrfs chunk tree';
    forEachItem(
      this,
      chunkRoot,
      key(ObjectId.FIRST_CHUNK_TREE, KeyType.CHUNK_ITEM, 0n),
      key(ObjectId.FIRST_CHUNK_TREE, KeyType.CHUNK_ITEM, U64_MAX),
      layer,
      1 << 20,
      (it) => {
        if (it.key.type !== KeyType.CHUNK_ITEM) return;
        all.push(
          parseChunk(it.data, 0, it.data.length, it.key, this.sb.sectorSize, this.file, layer, it.offset),
        );
      },
    );
    // Blocks read through the bootstrap map stay valid: the full map agrees with it (or this throws).
    this.chunks = new ChunkMap(all, this.file);
    this.rootTree = { logical: this.sb.root, level: this.sb.rootLevel, generation: this.sb.generation };
  }

  // ---- blocks ---------------------------------------------------------------------------------------------

  /** Reads `length` device bytes at `physical`, which must lie inside the device. */
  private devRead(physical: number, length: number, layer: string): Buffer {
    if (physical < 0 || physical + length > this.dev.size) {
      throw fsCorrupt(
        `read of ${length} bytes at ${physical} is past the end of the device (${this.dev.size} bytes)`,
        {
          file: this.file,
          layer,
          offset: physical,
        },
      );
    }
    return this.dev.read(physical, length);
  }

  private foreign(devid: number, logical: number, layer: string): HyperwardError {
    return new HyperwardError(
      'E_UNSUPPORTED_FORMAT',
      `logical address ${logical} lies on device ${devid} of ${this.sb.numDevices}; only device ${this.sb.devid} was given`,
      { file: this.file, layer },
    );
  }

  treeBlock(logical: number, level: number, generation: number | undefined, layer: string): TreeNode {
    const hit = this.nodes.get(logical);
    if (hit !== undefined) {
      const bad = mismatch(hit, level, generation);
      if (bad !== undefined) throw fsCorrupt(bad, { file: this.file, layer, offset: hit.physical + 0x50 });
      return hit;
    }
    return this.loadBlock(logical, level, generation, layer);
  }

  /**
   * Reads a tree block, trying each copy in turn until one has a good checksum, parses, and has the level and
   * generation its parent records (as the kernel does, a stale or damaged copy sends it to the next one).
   */
  private loadBlock(logical: number, level: number, generation: number | undefined, layer: string): TreeNode {
    const sb = this.sb;
    const loc = { file: this.file, layer };
    const c = this.chunks.find(logical);
    if (c === undefined) throw fsCorrupt(`tree block address ${logical} is in no chunk`, loc);
    if (logical % sb.sectorSize !== 0)
      throw fsCorrupt(`tree block address ${logical} is not sector-aligned`, loc);
    const copies = ChunkMap.copies(c);
    let lastError: HyperwardError | undefined;
    for (let m = 0; m < copies; m++) {
      const p = this.chunks.place(logical, m, layer);
      const at = { ...loc, offset: p.physical };
      if (p.devid !== sb.devid) {
        lastError ??= this.foreign(p.devid, logical, layer);
        continue;
      }
      try {
        if (p.length < sb.nodeSize) {
          throw fsCorrupt(`tree block at ${logical} crosses the end of its chunk or stripe`, at);
        }
        const buf = this.devRead(p.physical, sb.nodeSize, layer);
        if (!sb.csum.check(buf)) {
          throw fsCorrupt(
            `tree block at ${logical} fails its ${sb.csum.name} checksum (copy ${m + 1} of ${copies})`,
            at,
          );
        }
        const node = parseTreeBlock(
          buf,
          logical,
          p.physical,
          sb.metadataUuid,
          sb.sectorSize,
          this.file,
          layer,
        );
        const bad = mismatch(node, level, generation);
        if (bad !== undefined) throw fsCorrupt(bad, { ...at, offset: p.physical + 0x50 });
        this.nodes.set(logical, node);
        return node;
      } catch (e) {
        if (!(e instanceof HyperwardError)) throw e;
        lastError = e;
      }
    }
    throw lastError ?? fsCorrupt(`tree block at ${logical} could not be read`, loc);
  }

  /** Reads `length` bytes of logical address space (file data), from the copies that lie on this device. */
  readLogical(logical: number, length: number, layer: string): Buffer {
    const out = Buffer.alloc(length);
    let done = 0;
    while (done < length) {
      const pos = logical + done;
      const c = this.chunks.find(pos);
      if (c === undefined) throw fsCorrupt(`data address ${pos} is in no chunk`, { file: this.file, layer });
      const copies = ChunkMap.copies(c);
      let placed: { physical: number; length: number } | undefined;
      let other = 0;
      for (let m = 0; m < copies && placed === undefined; m++) {
        const p = this.chunks.place(pos, m, layer);
        if (p.devid === this.sb.devid) placed = p;
        else other = p.devid;
      }
      if (placed === undefined) throw this.foreign(other, pos, layer);
      const n = Math.min(placed.length, length - done);
      this.devRead(placed.physical, n, layer).copy(out, done);
      done += n;
    }
    return out;
  }

  // ---- trees and subvolumes -------------------------------------------------------------------------------

  /** The root of tree `id` from its ROOT_ITEM in the root tree, or undefined when there is none. */
  tree(id: bigint): TreeInfo | undefined {
    const hit = this.roots.get(id);
    if (hit !== undefined) return hit ?? undefined;
    const layer = 'btrfs root tree';
    let found: Item | undefined;
    forEachItem(
      this,
      this.rootTree,
      key(id, KeyType.ROOT_ITEM, 0n),
      key(id, KeyType.ROOT_ITEM, U64_MAX),
      layer,
      1024,
      (it) => {
        found = it;
      },
    );
    let info: TreeInfo | null = null;
    if (found !== undefined) {
      const item = parseRootItem(found, this.file, layer);
      if (item.level > 7)
        throw fsCorrupt(`tree ${id} has level ${item.level}`, {
          file: this.file,
          layer,
          offset: found.offset + 238,
        });
      info = { id, item, logical: item.logical, level: item.level, generation: item.generation };
    }
    this.roots.set(id, info);
    return info ?? undefined;
  }

  /** The tree of subvolume `id`, or E_NOT_FOUND. */
  needTree(id: bigint): TreeInfo {
    const t = this.tree(id);
    if (t === undefined)
      throw new HyperwardError('E_NOT_FOUND', `no subvolume with id ${id}`, {
        file: this.file,
        layer: 'btrfs root tree',
      });
    return t;
  }

  /** The default subvolume: the `default` entry of the root tree's directory (objectid 6), else 5. */
  defaultSubvolume(): bigint {
    const name = Buffer.from('default');
    const it = findItem(
      this,
      this.rootTree,
      key(ObjectId.ROOT_TREE_DIR, KeyType.DIR_ITEM, BigInt(btrfsNameHash(name))),
      'btrfs root tree',
    );
    if (it === undefined) return ObjectId.FS_TREE;
    const e = parseDirItems(it, this.file, 'btrfs root tree directory').find((d) => d.name.equals(name));
    return e === undefined ? ObjectId.FS_TREE : e.location.objectid;
  }

  /** The ROOT_REF of `child` under `parent`: where (directory, name) the parent holds it. */
  rootRef(parent: bigint, child: bigint): { dirid: bigint; name: Buffer } | undefined {
    const it = findItem(this, this.rootTree, key(parent, KeyType.ROOT_REF, child), 'btrfs root tree');
    return it === undefined ? undefined : parseRootRef(it, this.file, 'btrfs root ref');
  }

  /** The first ROOT_BACKREF of `child`: its parent tree, directory and name. */
  backref(child: bigint): { parent: bigint; dirid: bigint; name: Buffer } | undefined {
    let out: { parent: bigint; dirid: bigint; name: Buffer } | undefined;
    forEachItem(
      this,
      this.rootTree,
      key(child, KeyType.ROOT_BACKREF, 0n),
      key(child, KeyType.ROOT_BACKREF, U64_MAX),
      'btrfs root tree',
      1 << 16,
      (it) => {
        const r = parseRootRef(it, this.file, 'btrfs root backref');
        out = { parent: it.key.offset, dirid: r.dirid, name: r.name };
        return true;
      },
    );
    return out;
  }

  /** Path of directory `dir` inside tree `t`, from the tree's root directory, via the first INODE_REF of each. */
  dirPath(t: TreeInfo, dir: bigint): string[] {
    const parts: string[] = [];
    let cur = dir;
    const layer = `btrfs fs tree ${t.id}`;
    for (let depth = 0; cur !== t.item.rootDirid; depth++) {
      if (depth >= MAX_PATH_DEPTH)
        throw fsCorrupt(`directory ${dir} is more than ${MAX_PATH_DEPTH} levels deep (a loop)`, {
          file: this.file,
          layer,
        });
      let ref: { parent: bigint; name: Buffer } | undefined;
      forEachItem(
        this,
        t,
        key(cur, KeyType.INODE_REF, 0n),
        key(cur, KeyType.INODE_EXTREF, U64_MAX),
        layer,
        1 << 16,
        (it) => {
          ref =
            it.key.type === KeyType.INODE_REF
              ? parseInodeRef(it, this.file, layer)
              : parseInodeExtref(it, this.file, layer);
          return true;
        },
      );
      if (ref === undefined)
        throw fsCorrupt(`directory ${cur} has no name (no inode ref)`, { file: this.file, layer });
      if (ref.parent === cur)
        throw fsCorrupt(`directory ${cur} is its own parent`, { file: this.file, layer });
      parts.push(ref.name.toString('utf8'));
      cur = ref.parent;
    }
    return parts.reverse();
  }

  /** Path of subvolume `id` from the top level ('/' for 5), following ROOT_BACKREFs. */
  subvolumePath(id: bigint): string | undefined {
    const parts: string[] = [];
    let cur = id;
    const seen = new Set<bigint>();
    while (cur !== ObjectId.FS_TREE) {
      if (seen.has(cur) || seen.size >= MAX_SUBVOL_DEPTH) {
        throw fsCorrupt(`subvolume ${id} has a loop in its parents`, {
          file: this.file,
          layer: 'btrfs root tree',
        });
      }
      seen.add(cur);
      const b = this.backref(cur);
      if (b === undefined) return undefined;
      const parent = this.tree(b.parent);
      if (parent === undefined) return undefined;
      parts.unshift(...this.dirPath(parent, b.dirid), b.name.toString('utf8'));
      cur = b.parent;
    }
    return '/' + parts.join('/');
  }

  /** Every subvolume that has a ROOT_ITEM and a place (the top level, and those with a ROOT_BACKREF). */
  subvolumes(): BtrfsSubvolume[] {
    const def = this.defaultSubvolume();
    const ids: bigint[] = [];
    forEachItem(
      this,
      this.rootTree,
      key(ObjectId.FS_TREE, KeyType.ROOT_ITEM, 0n),
      key(ObjectId.LAST_FREE, KeyType.ROOT_ITEM, U64_MAX),
      'btrfs root tree',
      MAX_ROOT_ITEMS,
      (it) => {
        const id = it.key.objectid;
        if (it.key.type !== KeyType.ROOT_ITEM) return;
        if (id !== ObjectId.FS_TREE && id < ObjectId.FIRST_FREE) return;
        if (ids[ids.length - 1] !== id) ids.push(id);
      },
    );
    const out: BtrfsSubvolume[] = [];
    for (const id of ids) {
      const path = this.subvolumePath(id);
      if (path === undefined) continue;
      const t = this.needTree(id);
      const s: BtrfsSubvolume = {
        id: Number(id),
        path,
        isDefault: id === def,
        readOnly: (t.item.flags & 1n) !== 0n,
      };
      if (id !== ObjectId.FS_TREE) s.parentId = Number(this.backref(id)!.parent);
      out.push(s);
    }
    return out;
  }
}

interface CachedInode {
  ino: number;
  tree: TreeInfo;
  objectid: bigint;
  /** Undefined for the placeholder directory of an unreachable nested subvolume. */
  item?: InodeItem;
  type: FileType;
}

/** A view of one subvolume (and, through it, of the subvolumes nested in it). */
class BtrfsFs implements BtrfsFileSystem {
  readonly type = 'btrfs' as const;
  readonly label?: string;
  readonly uuid: string;
  readonly rootIno: number;
  readonly subvolume: { id: number; path: string };
  readonly checksum: { type: CsumName; verified: boolean };
  readonly devid: number;
  readonly numDevices: number;
  private readonly file: string;
  private readonly inodes = new Lru<number, CachedInode>(INODE_CACHE_ENTRIES);
  private readonly extents = new Lru<string, Buffer>(256, {
    budget: { maxBytes: EXTENT_CACHE_BYTES, sizeOf: (b) => b.length },
  });

  constructor(
    private readonly vol: Volume,
    private readonly top: TreeInfo,
    path: string,
  ) {
    const sb = vol.sb;
    if (sb.label !== '') this.label = sb.label;
    this.uuid = sb.uuid;
    this.file = vol.file;
    this.subvolume = { id: Number(top.id), path };
    this.checksum = { type: sb.csum.name, verified: sb.csum.verified };
    this.devid = sb.devid;
    this.numDevices = sb.numDevices;
    this.rootIno = this.encode(top, top.item.rootDirid);
  }

  subvolumes(): BtrfsSubvolume[] {
    return this.vol.subvolumes();
  }

  // ---- inode numbers --------------------------------------------------------------------------------------

  private encode(t: TreeInfo, objectid: bigint): number {
    const limit = (what: string): HyperwardError =>
      new HyperwardError('E_LIMIT', `${what}: its inodes cannot be numbered`, {
        file: this.file,
        layer: `btrfs fs tree ${t.id}`,
      });
    if (objectid >= BigInt(TREE_STRIDE)) throw limit(`inode objectid ${objectid} is 2^36 or more`);
    if (t.id === this.top.id) return Number(objectid);
    if (t.id > BigInt(MAX_NESTED_TREE)) throw limit(`nested subvolume id ${t.id} is over ${MAX_NESTED_TREE}`);
    return Number(t.id) * TREE_STRIDE + Number(objectid);
  }

  private inode(ino: number): CachedInode {
    const hit = this.inodes.get(ino);
    if (hit !== undefined) return hit;
    if (!Number.isSafeInteger(ino) || ino < 1) {
      throw new HyperwardError('E_USAGE', `invalid inode number ${ino}`, { file: this.file });
    }
    let tree: TreeInfo;
    let objectid: bigint;
    if (ino < TREE_STRIDE) {
      tree = this.top;
      objectid = BigInt(ino);
    } else {
      const id = BigInt(Math.floor(ino / TREE_STRIDE));
      const t = this.vol.tree(id);
      if (t === undefined)
        throw fsCorrupt(`inode ${ino} names subvolume ${id}, which does not exist`, {
          file: this.file,
          layer: 'btrfs root tree',
        });
      tree = t;
      objectid = BigInt(ino % TREE_STRIDE);
    }
    let c: CachedInode;
    if (ino === Number(ObjectId.EMPTY_SUBVOL_DIR)) {
      c = { ino, tree, objectid, type: 'dir' };
    } else {
      const layer = `btrfs fs tree ${tree.id}`;
      const it = findItem(this.vol, tree, key(objectid, KeyType.INODE_ITEM, 0n), layer);
      if (it === undefined) {
        throw fsCorrupt(`inode ${objectid} has no inode item in tree ${tree.id}`, { file: this.file, layer });
      }
      const item = parseInodeItem(it, this.file, layer);
      c = { ino, tree, objectid, item, type: typeFromMode(item.mode) };
    }
    this.inodes.set(ino, c);
    return c;
  }

  stat(ino: number): Inode {
    const i = this.inode(ino);
    if (i.item === undefined) {
      // The kernel's placeholder for a subvolume it cannot enter: an empty, read-only-looking directory.
      return { ino, type: 'dir', mode: 0o040755, size: 0, uid: 0, gid: 0, mtime: 0, nlink: 1 };
    }
    const it = i.item;
    return {
      ino,
      type: i.type,
      mode: it.mode,
      size: it.size,
      uid: it.uid,
      gid: it.gid,
      mtime: it.mtime,
      nlink: it.nlink,
    };
  }

  // ---- directories ----------------------------------------------------------------------------------------

  private dir(ino: number): CachedInode {
    const d = this.inode(ino);
    if (d.type !== 'dir')
      throw new HyperwardError('E_USAGE', `inode ${ino} is not a directory (${d.type})`, { file: this.file });
    return d;
  }

  /** The inode number a directory entry leads to, entering a nested subvolume when its ROOT_REF agrees. */
  private target(d: CachedInode, e: DirEntryRaw, at: number): number {
    const loc = e.location;
    const layer = `btrfs directory (tree ${d.tree.id}, inode ${d.objectid})`;
    if (loc.type === KeyType.INODE_ITEM) return this.encode(d.tree, loc.objectid);
    if (loc.type !== KeyType.ROOT_ITEM) {
      throw fsCorrupt(`directory entry points to a key of type ${loc.type}`, {
        file: this.file,
        layer,
        offset: at,
      });
    }
    const child = loc.objectid;
    const ref = this.vol.rootRef(d.tree.id, child);
    const t =
      ref !== undefined && ref.dirid === d.objectid && ref.name.equals(e.name)
        ? this.vol.tree(child)
        : undefined;
    // Like the kernel, every such placeholder is the same empty directory, inode 2 (no real inode is).
    if (t === undefined) return Number(ObjectId.EMPTY_SUBVOL_DIR);
    return this.encode(t, t.item.rootDirid);
  }

  readdir(ino: number): DirEntry[] {
    const d = this.dir(ino);
    if (d.item === undefined) return [];
    const layer = `btrfs directory (tree ${d.tree.id}, inode ${d.objectid})`;
    const out: DirEntry[] = [];
    forEachItem(
      this.vol,
      d.tree,
      key(d.objectid, KeyType.DIR_INDEX, 0n),
      key(d.objectid, KeyType.DIR_INDEX, U64_MAX),
      layer,
      MAX_DIR_ENTRIES,
      (it) => {
        for (const e of parseDirItems(it, this.file, layer)) {
          if (out.length >= MAX_DIR_ENTRIES) {
            throw new HyperwardError('E_LIMIT', `directory has more than ${MAX_DIR_ENTRIES} entries`, {
              file: this.file,
              layer,
            });
          }
          const type = e.location.type === KeyType.ROOT_ITEM ? 'dir' : fileTypeOfFt(e.ftype);
          out.push({ name: e.name.toString('utf8'), ino: this.target(d, e, it.offset), type });
        }
      },
    );
    return out;
  }

  lookup(dirIno: number, name: string): number | undefined {
    const d = this.dir(dirIno);
    if (d.item === undefined) return undefined;
    const bytes = Buffer.from(name, 'utf8');
    if (bytes.length === 0 || bytes.length > 255) return undefined;
    const layer = `btrfs directory (tree ${d.tree.id}, inode ${d.objectid})`;
    const it = findItem(
      this.vol,
      d.tree,
      key(d.objectid, KeyType.DIR_ITEM, BigInt(btrfsNameHash(bytes))),
      layer,
    );
    if (it === undefined) return undefined;
    const e = parseDirItems(it, this.file, layer).find((x) => x.name.equals(bytes));
    return e === undefined ? undefined : this.target(d, e, it.offset);
  }

  // ---- file data ------------------------------------------------------------------------------------------

  read(ino: number, offset: number, length: number): Buffer {
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
      throw new HyperwardError('E_USAGE', `invalid read of ${length} bytes at ${offset}`, {
        file: this.file,
      });
    }
    const i = this.inode(ino);
    if (i.type !== 'file' || i.item === undefined) {
      throw new HyperwardError('E_USAGE', `inode ${ino} is not a regular file (${i.type})`, {
        file: this.file,
      });
    }
    if (offset >= i.item.size) return Buffer.alloc(0);
    const n = Math.min(length, i.item.size - offset);
    if (n > MAX_READ) {
      throw new HyperwardError('E_LIMIT', `read of ${n} bytes is over ${MAX_READ}: read in smaller pieces`, {
        file: this.file,
      });
    }
    return this.readData(i, offset, n);
  }

  readlink(ino: number): string {
    const i = this.inode(ino);
    if (i.type !== 'symlink' || i.item === undefined) {
      throw new HyperwardError('E_USAGE', `inode ${ino} is not a symbolic link (${i.type})`, {
        file: this.file,
      });
    }
    if (i.item.size > MAX_LINK) {
      throw fsCorrupt(`symbolic link target of ${i.item.size} bytes is longer than ${MAX_LINK}`, {
        file: this.file,
        layer: `btrfs fs tree ${i.tree.id}`,
      });
    }
    const raw = this.readData(i, 0, i.item.size);
    const nul = raw.indexOf(0);
    return raw.toString('utf8', 0, nul < 0 ? raw.length : nul);
  }

  /** Bytes `[offset, offset+length)` of an inode's data (clipped by the caller to its size); gaps are zeros. */
  private readData(i: CachedInode, offset: number, length: number): Buffer {
    const out = Buffer.alloc(length);
    if (length === 0) return out;
    const end = offset + length;
    const layer = `btrfs file extents (tree ${i.tree.id}, inode ${i.objectid})`;
    const c = new Cursor(this.vol, i.tree, layer);
    const first = key(i.objectid, KeyType.EXTENT_DATA, BigInt(offset));
    const last = key(i.objectid, KeyType.EXTENT_DATA, U64_MAX);
    // Each extent covers at least one byte, so a read meets at most `length` of them (plus the one before).
    const limit = length + 2;
    let seen = 0;
    for (let ok = c.seek(first); ok; ok = c.next()) {
      const it = c.item();
      if (it === undefined || compareKeys(it.key, last) > 0) break;
      if (it.key.objectid !== i.objectid || it.key.type !== KeyType.EXTENT_DATA) continue;
      if (it.key.offset >= BigInt(end)) break;
      if (++seen > limit)
        throw new HyperwardError('E_LIMIT', `more than ${limit} extents in a read of ${length} bytes`, {
          file: this.file,
          layer,
        });
      const ext = parseFileExtent(it, this.file, layer);
      const extEnd = ext.fileOffset + ext.length;
      if (extEnd > Number.MAX_SAFE_INTEGER)
        throw fsCorrupt('file extent ends past 2^53', { file: this.file, layer, offset: it.offset });
      const a = Math.max(offset, ext.fileOffset);
      const b = Math.min(end, extEnd);
      if (a >= b) continue;
      this.fill(ext, a, b, out, a - offset, layer);
    }
    return out;
  }

  /** Copies file bytes `[a, b)` of extent `ext` into `out` at `to`. Holes and preallocated ranges stay zero. */
  private fill(ext: FileExtent, a: number, b: number, out: Buffer, to: number, layer: string): void {
    const loc = { file: this.file, layer, offset: ext.at };
    const sectorSize = this.vol.sb.sectorSize;
    if (ext.type === EXTENT_INLINE) {
      if (ext.fileOffset !== 0) throw fsCorrupt(`inline extent at file offset ${ext.fileOffset}, not 0`, loc);
      const inline = ext.inline!;
      const data =
        ext.compression === COMPRESS_NONE
          ? inline
          : decompressExtent(ext.compression, inline, ext.ramBytes, sectorSize, loc);
      if (a < data.length) data.copy(out, to, a, Math.min(b, data.length));
      return;
    }
    if (ext.type === EXTENT_PREALLOC || ext.diskBytenr === 0) return;
    const into = ext.extentOffset + (a - ext.fileOffset);
    if (ext.compression === COMPRESS_NONE) {
      this.vol.readLogical(ext.diskBytenr + into, b - a, layer).copy(out, to);
      return;
    }
    if (ext.diskNumBytes > MAX_UNCOMPRESSED || ext.diskNumBytes === 0) {
      throw fsCorrupt(`compressed extent of ${ext.diskNumBytes} bytes on disk`, loc);
    }
    const cacheKey = `${ext.diskBytenr}:${ext.diskNumBytes}:${ext.compression}:${ext.ramBytes}`;
    let data = this.extents.get(cacheKey);
    if (data === undefined) {
      const raw = this.vol.readLogical(ext.diskBytenr, ext.diskNumBytes, layer);
      data = decompressExtent(ext.compression, raw, ext.ramBytes, sectorSize, loc);
      this.extents.set(cacheKey, data);
    }
    if (into < data.length) data.copy(out, to, into, Math.min(data.length, into + (b - a)));
  }
}

/** Resolves a subvolume path (from the top level) to its tree id through the subvolume list. */
function findSubvolume(vol: Volume, path: string): bigint {
  const want = path
    .split('/')
    .filter((p) => p !== '' && p !== '.')
    .join('/');
  if (want === '') return ObjectId.FS_TREE;
  const hit = vol.subvolumes().find((s) => s.path.slice(1) === want);
  if (hit === undefined) {
    throw new HyperwardError('E_NOT_FOUND', `no btrfs subvolume at ${path}`, {
      file: vol.file,
      layer: 'btrfs root tree',
    });
  }
  return BigInt(hit.id);
}

/**
 * Opens the btrfs filesystem on `dev` at a subvolume: the default one (`btrfs subvolume set-default`, else the
 * top level) unless `opts` names one by path or id. Throws E_UNSUPPORTED_FORMAT when `dev` is not btrfs or uses
 * a feature this reader refuses, E_FS_CORRUPT when the superblock or the trees on the way are damaged, and
 * E_NOT_FOUND for a subvolume that does not exist.
 *
 * @example
 * const fs = openBtrfs(dev);                       // what `mount` would show
 * const home = openBtrfs(dev, { subvolume: '@home' });
 */
export function openBtrfs(dev: BlockDevice, opts: BtrfsOpenOptions = {}): BtrfsFileSystem {
  const vol = new Volume(dev);
  let id: bigint;
  const isSubvolume = (x: bigint): boolean =>
    x === ObjectId.FS_TREE || (x >= ObjectId.FIRST_FREE && x <= ObjectId.LAST_FREE);
  if (opts.subvolumeId !== undefined) {
    if (!Number.isSafeInteger(opts.subvolumeId) || opts.subvolumeId < 1) {
      throw new HyperwardError('E_USAGE', `invalid subvolume id ${opts.subvolumeId}`, { file: dev.name });
    }
    id = BigInt(opts.subvolumeId);
    if (!isSubvolume(id)) {
      throw new HyperwardError('E_NOT_FOUND', `tree ${id} is not a subvolume`, { file: dev.name });
    }
  } else if (opts.subvolume !== undefined) {
    id = findSubvolume(vol, opts.subvolume);
  } else {
    id = vol.defaultSubvolume();
    if (!isSubvolume(id) || vol.tree(id) === undefined) {
      throw fsCorrupt(`the default subvolume ${id} does not exist`, {
        file: dev.name,
        layer: 'btrfs root tree',
      });
    }
  }
  const top = vol.needTree(id);
  const path = id === ObjectId.FS_TREE ? '/' : (vol.subvolumePath(id) ?? `<subvolume ${id}>`);
  return new BtrfsFs(vol, top, path);
}

/** Lists the subvolumes of the btrfs filesystem on `dev` (id, path, parent, default and read-only flags). */
export function listBtrfsSubvolumes(dev: BlockDevice): BtrfsSubvolume[] {
  return new Volume(dev).subvolumes();
}
