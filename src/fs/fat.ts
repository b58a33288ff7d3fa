/**
 * Read-only FAT12 / FAT16 / FAT32 reader behind the `FileSystem` interface, for EFI system partitions and other
 * small FAT volumes found in VM images.
 *
 * Covers: sector sizes 512..4096, the FAT type decided by cluster count (Microsoft FAT specification 1.03), the
 * fixed FAT12/16 root directory and the FAT32 root cluster chain, the active FAT of a FAT32 volume with mirroring
 * disabled, 8.3 names (OEM code page read as latin1, NT lower-case flags), VFAT long names (UTF-16, checksum
 * verified, orphans ignored), the volume label and serial number.
 *
 * FAT has no inodes, owners or permissions, so they are synthesised the way Linux's vfat does by default: the
 * inode number of an entry is the byte offset of its short directory entry on the device (stable across opens;
 * the root is 1), uid and gid are 0, directories are 0755 and files 0644 (0444 when read-only), the link count
 * is 1, and mtime is the entry's modification date and time read as UTC (FAT stores local time with no zone).
 * Lookups match the long name exactly first, then case-insensitively against long and short names, as the
 * vfat driver does.
 *
 * Hostile input: every cluster number is range-checked, every cluster chain is bounded by the file size or the
 * directory size limit and checked for loops, reads stay inside the volume and the device, and metadata caches
 * are small LRUs.
 */
import type { BlockDevice } from '../disk/types.js';
import { HyperwardError, fsCorrupt } from '../errors.js';
import { Lru } from '../lru.js';
import { readBpb, looksLikeFat, type Bpb } from './fat/bpb.js';
import {
  ATTR_DIRECTORY,
  ATTR_READ_ONLY,
  ATTR_VOLUME_ID,
  DirParser,
  ENTRY_SIZE,
  fatTime,
  parseCluster,
  shortName,
  type FatEntry,
} from './fat/dir.js';
import type { DirEntry, FileSystem, Inode } from './types.js';

const ROOT_INO = 1;
/** Byte offset of the FAT32 root cluster field in the boot sector, named in errors about the root chain. */
const BPB_ROOT_CLUSTER = 44;
/** Directory entries are numbered with 16 bits: no directory is larger than 65536 entries (2 MiB). */
const MAX_DIR_BYTES = 65536 * ENTRY_SIZE;
/** The FAT is cached in pieces of this many bytes. */
const FAT_CHUNK = 4096;
const FAT_CACHE_CHUNKS = 256;
/** Contiguous data is read in pieces of at most this size. */
const MAX_COALESCED_READ = 32 * 1024 * 1024;
/** Past this many clusters, loop detection switches from a Set to a bitmap of the whole volume. */
const VISITED_SET_MAX = 65536;
const ENTRY_CACHE = 16384;
const DIR_CACHE_BYTES = 16 * 1024 * 1024;
const CHAIN_CACHE_BYTES = 4 * 1024 * 1024;

/** A run of physically consecutive clusters of one chain. */
interface Run {
  /** Index of the run's first cluster within the chain. */
  index: number;
  cluster: number;
  count: number;
}

interface Chain {
  runs: Run[];
  clusters: number;
}

interface Dir {
  entries: FatEntry[];
  label?: string;
  bytes: number;
  exact?: Map<string, number>;
  folded?: Map<string, number>;
}

/** Clusters seen on one chain walk: a Set while small, a bitmap over the volume once large. */
class Visited {
  private set: Set<number> | undefined = new Set();
  private bits: Uint8Array | undefined;

  constructor(private readonly maxCluster: number) {}

  /** Marks `c`; false when it was already marked (the chain loops). */
  add(c: number): boolean {
    if (this.set !== undefined) {
      if (this.set.has(c)) return false;
      this.set.add(c);
      if (this.set.size > VISITED_SET_MAX) {
        this.bits = new Uint8Array((this.maxCluster >> 3) + 1);
        for (const x of this.set) this.bits[x >> 3]! |= 1 << (x & 7);
        this.set = undefined;
      }
      return true;
    }
    const bits = this.bits!;
    const m = 1 << (c & 7);
    if ((bits[c >> 3]! & m) !== 0) return false;
    bits[c >> 3]! |= m;
    return true;
  }
}

const fold = (s: string): string => s.toUpperCase();

class FatFileSystem implements FileSystem {
  readonly type = 'vfat';
  /** `FAT12`, `FAT16` or `FAT32`. */
  readonly variant: string;
  readonly label?: string;
  readonly uuid?: string;
  readonly rootIno = ROOT_INO;
  private readonly file: string;
  private readonly maxCluster: number;
  private readonly eoc: number;
  private readonly badCluster: number;
  private readonly fatChunks = new Lru<number, Buffer>(FAT_CACHE_CHUNKS);
  private readonly chains = new Lru<string, Chain>(1024, {
    budget: { maxBytes: CHAIN_CACHE_BYTES, sizeOf: (c) => 64 + c.runs.length * 48 },
  });
  private readonly dirs = new Lru<number, Dir>(256, {
    budget: { maxBytes: DIR_CACHE_BYTES, sizeOf: (d) => 256 + d.entries.length * 256 },
  });
  private readonly entries = new Lru<number, FatEntry>(ENTRY_CACHE);

  constructor(
    private readonly dev: BlockDevice,
    readonly bpb: Bpb,
  ) {
    this.file = dev.name;
    this.variant = `FAT${bpb.bits}`;
    this.maxCluster = bpb.clusterCount + 1;
    this.eoc = bpb.bits === 12 ? 0xff8 : bpb.bits === 16 ? 0xfff8 : 0x0ffffff8;
    this.badCluster = this.eoc - 1;
    if (bpb.serial !== undefined) this.uuid = bpb.serial;
    // The label entry in the root directory wins over the copy in the boot sector, as for blkid.
    const root = this.dir(ROOT_INO);
    const label = root.label ?? (bpb.bpbLabel === 'NO NAME' ? undefined : bpb.bpbLabel);
    if (label !== undefined && label !== '') this.label = label;
  }

  // ---- device access -------------------------------------------------------------------------------------

  private devRead(offset: number, length: number, layer: string): Buffer {
    if (offset < 0 || offset + length > this.bpb.volumeBytes) {
      throw fsCorrupt(`read of ${length} bytes past the end of the volume (${this.bpb.volumeBytes} bytes)`, {
        file: this.file,
        layer,
        offset,
      });
    }
    if (offset + length > this.dev.size) {
      throw fsCorrupt(
        `read of ${length} bytes past the end of the device (${this.dev.size} bytes); the volume is larger than its device`,
        { file: this.file, layer, offset },
      );
    }
    return this.dev.read(offset, length);
  }

  private clusterOffset(c: number): number {
    return this.bpb.dataOffset + (c - 2) * this.bpb.clusterSize;
  }

  // ---- the FAT ---------------------------------------------------------------------------------------------

  private fatByte(off: number): number {
    const n = Math.floor(off / FAT_CHUNK);
    let chunk = this.fatChunks.get(n);
    if (chunk === undefined) {
      const start = n * FAT_CHUNK;
      const len = Math.min(FAT_CHUNK, this.bpb.fatBytes - start);
      chunk = this.devRead(this.bpb.fatOffset + start, len, 'FAT');
      this.fatChunks.set(n, chunk);
    }
    return chunk[off - n * FAT_CHUNK]!;
  }

  /** The raw FAT entry of cluster `c` (2..maxCluster, checked by the caller). */
  private fatEntry(c: number): number {
    switch (this.bpb.bits) {
      case 12: {
        const off = c + (c >> 1);
        const v = this.fatByte(off) | (this.fatByte(off + 1) << 8);
        return (c & 1) !== 0 ? v >> 4 : v & 0x0fff;
      }
      case 16:
        return this.fatByte(2 * c) | (this.fatByte(2 * c + 1) << 8);
      default: {
        const o = 4 * c;
        const v =
          this.fatByte(o) |
          (this.fatByte(o + 1) << 8) |
          (this.fatByte(o + 2) << 16) |
          (this.fatByte(o + 3) << 24);
        return (v >>> 0) & 0x0fffffff;
      }
    }
  }

  private checkCluster(c: number, layer: string, offset: number): void {
    if (c < 2 || c > this.maxCluster) {
      throw fsCorrupt(`cluster ${c} is outside the data area (2..${this.maxCluster})`, {
        file: this.file,
        layer,
        offset,
      });
    }
  }

  /**
   * Follows the chain from `first` for at most `limit` clusters. `complete` is false when the limit stopped the
   * walk before the end-of-chain mark.
   */
  private walk(first: number, limit: number, layer: string, at: number): Chain & { complete: boolean } {
    this.checkCluster(first, layer, at);
    const runs: Run[] = [];
    const visited = new Visited(this.maxCluster);
    let cur = first;
    let count = 0;
    while (true) {
      if (!visited.add(cur)) {
        throw fsCorrupt(`cluster chain loops back to cluster ${cur}`, { file: this.file, layer, offset: at });
      }
      const last = runs[runs.length - 1];
      if (last !== undefined && last.cluster + last.count === cur) last.count++;
      else runs.push({ index: count, cluster: cur, count: 1 });
      count++;
      const v = this.fatEntry(cur);
      const fatAt =
        this.bpb.fatOffset + (this.bpb.bits === 12 ? cur + (cur >> 1) : (cur * this.bpb.bits) / 8);
      if (v >= this.eoc) return { runs, clusters: count, complete: true };
      if (count >= limit) return { runs, clusters: count, complete: false };
      if (v === this.badCluster) {
        throw fsCorrupt(`cluster chain runs into a bad cluster after cluster ${cur}`, {
          file: this.file,
          layer: 'FAT',
          offset: fatAt,
        });
      }
      if (v < 2) {
        throw fsCorrupt(
          `cluster chain runs into a ${v === 0 ? 'free' : 'reserved'} cluster after cluster ${cur}`,
          {
            file: this.file,
            layer: 'FAT',
            offset: fatAt,
          },
        );
      }
      this.checkCluster(v, 'FAT', fatAt);
      cur = v;
    }
  }

  /** The first `clusters` clusters of a file's chain (cached). */
  private fileChain(e: FatEntry, clusters: number): Chain {
    const key = `${e.cluster}:${clusters}`;
    const hit = this.chains.get(key);
    if (hit !== undefined) return hit;
    const layer = `FAT file (entry at ${e.offset})`;
    const c = this.walk(e.cluster, clusters, layer, e.offset);
    if (c.clusters < clusters) {
      throw fsCorrupt(
        `cluster chain of ${c.clusters} clusters is shorter than the file size of ${e.size} bytes needs`,
        { file: this.file, layer, offset: e.offset },
      );
    }
    const chain = { runs: c.runs, clusters: c.clusters };
    this.chains.set(key, chain);
    return chain;
  }

  /** The whole chain of a subdirectory (cached); E_LIMIT past 2 MiB. */
  private dirChain(cluster: number, at: number): Chain {
    const key = `${cluster}:dir`;
    const hit = this.chains.get(key);
    if (hit !== undefined) return hit;
    const layer = `FAT directory (entry at ${at})`;
    const limit = Math.max(1, Math.floor(MAX_DIR_BYTES / this.bpb.clusterSize));
    const c = this.walk(cluster, limit, layer, at);
    if (!c.complete) {
      throw new HyperwardError('E_LIMIT', `directory is larger than ${MAX_DIR_BYTES} bytes`, {
        file: this.file,
        layer,
        offset: at,
      });
    }
    const chain = { runs: c.runs, clusters: c.clusters };
    this.chains.set(key, chain);
    return chain;
  }

  // ---- entries ---------------------------------------------------------------------------------------------

  /** The short entry behind inode `ino`: from the cache, or read again from its slot. */
  private entry(ino: number): FatEntry {
    const hit = this.entries.get(ino);
    if (hit !== undefined) return hit;
    const b = this.bpb;
    const layer = 'FAT directory entry';
    const inRoot = ino >= b.rootOffset && ino < b.rootOffset + b.rootBytes;
    const inData = ino >= b.dataOffset && ino < this.clusterOffset(this.maxCluster + 1);
    if (!Number.isSafeInteger(ino) || ino % ENTRY_SIZE !== 0 || (!inRoot && !inData)) {
      throw fsCorrupt(`inode number ${ino} is not the offset of a directory entry`, {
        file: this.file,
        layer,
      });
    }
    const buf = this.devRead(ino, ENTRY_SIZE, layer);
    const b0 = buf[0]!;
    const attr = buf[11]!;
    if (b0 === 0 || b0 === 0xe5 || (attr & ATTR_VOLUME_ID) !== 0) {
      throw fsCorrupt(`no live directory entry at inode ${ino}`, { file: this.file, layer, offset: ino });
    }
    const e: FatEntry = {
      offset: ino,
      name: shortName(buf, 0) ?? '',
      attr,
      cluster: parseCluster(buf, 0, b.bits === 32),
      size: buf.readUInt32LE(28),
      mtime: fatTime(buf.readUInt16LE(24), buf.readUInt16LE(22)),
    };
    this.entries.set(ino, e);
    return e;
  }

  stat(ino: number): Inode {
    if (ino === ROOT_INO) {
      return {
        ino,
        type: 'dir',
        mode: 0o040755,
        size: this.dir(ROOT_INO).bytes,
        uid: 0,
        gid: 0,
        mtime: 0,
        nlink: 1,
      };
    }
    const e = this.entry(ino);
    const isDir = (e.attr & ATTR_DIRECTORY) !== 0;
    let size = e.size;
    if (isDir) size = this.dirChain(this.dirCluster(e), e.offset).clusters * this.bpb.clusterSize;
    return {
      ino,
      type: isDir ? 'dir' : 'file',
      mode: isDir ? 0o040755 : (e.attr & ATTR_READ_ONLY) !== 0 ? 0o100444 : 0o100644,
      size,
      uid: 0,
      gid: 0,
      mtime: e.mtime,
      nlink: 1,
    };
  }

  private dirCluster(e: FatEntry): number {
    if (e.cluster === 0) {
      throw fsCorrupt('directory entry has no first cluster', {
        file: this.file,
        layer: 'FAT directory entry',
        offset: e.offset,
      });
    }
    return e.cluster;
  }

  // ---- directories -----------------------------------------------------------------------------------------

  private dir(ino: number): Dir {
    const hit = this.dirs.get(ino);
    if (hit !== undefined) return hit;
    const entries: FatEntry[] = [];
    let bytes: number;
    let parser: DirParser;
    const b = this.bpb;
    if (ino === ROOT_INO && b.bits !== 32) {
      const layer = 'FAT root directory';
      parser = new DirParser(this.file, layer, false, (e) => entries.push(e));
      parser.feed(this.devRead(b.rootOffset, b.rootBytes, layer), b.rootOffset);
      bytes = b.rootBytes;
    } else {
      let chain: Chain;
      let layer: string;
      if (ino === ROOT_INO) {
        layer = 'FAT32 root directory';
        chain = this.dirChain(b.rootCluster, BPB_ROOT_CLUSTER);
      } else {
        const e = this.entry(ino);
        if ((e.attr & ATTR_DIRECTORY) === 0) {
          throw new HyperwardError('E_USAGE', `inode ${ino} is not a directory (file)`, { file: this.file });
        }
        layer = `FAT directory (entry at ${e.offset})`;
        chain = this.dirChain(this.dirCluster(e), e.offset);
      }
      parser = new DirParser(this.file, layer, b.bits === 32, (e) => entries.push(e));
      bytes = chain.clusters * b.clusterSize;
      runs: for (const r of chain.runs) {
        const off = this.clusterOffset(r.cluster);
        if (parser.feed(this.devRead(off, r.count * b.clusterSize, layer), off) === 'end') break runs;
      }
    }
    const d: Dir = { entries, bytes };
    if (parser.label !== undefined) d.label = parser.label;
    this.dirs.set(ino, d);
    return d;
  }

  readdir(ino: number): DirEntry[] {
    const d = this.dir(ino);
    return d.entries.map((e) => {
      this.entries.set(e.offset, e);
      return { name: e.name, ino: e.offset, type: (e.attr & ATTR_DIRECTORY) !== 0 ? 'dir' : 'file' };
    });
  }

  lookup(dirIno: number, name: string): number | undefined {
    if (name === '' || name.includes('/') || name.includes('\0')) return undefined;
    const d = this.dir(dirIno);
    if (d.exact === undefined || d.folded === undefined) {
      const exact = new Map<string, number>();
      const folded = new Map<string, number>();
      for (const e of d.entries) if (!exact.has(e.name)) exact.set(e.name, e.offset);
      for (const e of d.entries) {
        const k = fold(e.name);
        if (!folded.has(k)) folded.set(k, e.offset);
      }
      for (const e of d.entries) {
        if (e.shortName === undefined) continue;
        const k = fold(e.shortName);
        if (!folded.has(k)) folded.set(k, e.offset);
      }
      d.exact = exact;
      d.folded = folded;
    }
    const ino = d.exact.get(name) ?? d.folded.get(fold(name));
    if (ino === undefined) return undefined;
    const e = d.entries.find((x) => x.offset === ino);
    if (e !== undefined) this.entries.set(ino, e);
    return ino;
  }

  // ---- files -----------------------------------------------------------------------------------------------

  read(ino: number, offset: number, length: number): Buffer {
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
      throw new HyperwardError('E_USAGE', `invalid read of ${length} bytes at ${offset}`, {
        file: this.file,
      });
    }
    if (ino === ROOT_INO) {
      throw new HyperwardError('E_USAGE', `inode ${ino} is not a regular file (dir)`, { file: this.file });
    }
    const e = this.entry(ino);
    if ((e.attr & ATTR_DIRECTORY) !== 0) {
      throw new HyperwardError('E_USAGE', `inode ${ino} is not a regular file (dir)`, { file: this.file });
    }
    if (offset >= e.size) return Buffer.alloc(0);
    const n = Math.min(length, e.size - offset);
    if (n === 0) return Buffer.alloc(0);
    const cs = this.bpb.clusterSize;
    const layer = `FAT file (entry at ${e.offset})`;
    const need = Math.ceil(e.size / cs);
    if (need > this.bpb.clusterCount) {
      throw fsCorrupt(`file size ${e.size} is larger than the volume's data area`, {
        file: this.file,
        layer,
        offset: e.offset + 28,
      });
    }
    const chain = this.fileChain(e, need);
    const end = offset + n;
    const segs: Array<[number, number, number]> = [];
    let pos = offset;
    // Binary search for the run holding the first byte.
    let lo = 0;
    let hi = chain.runs.length - 1;
    const first = Math.floor(offset / cs);
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (chain.runs[mid]!.index <= first) lo = mid;
      else hi = mid - 1;
    }
    for (let ri = lo; pos < end && ri < chain.runs.length; ri++) {
      const r = chain.runs[ri]!;
      const runStart = r.index * cs;
      const runEnd = Math.min(end, (r.index + r.count) * cs);
      if (runEnd <= pos) continue;
      const devOff = this.clusterOffset(r.cluster) + (pos - runStart);
      let left = runEnd - pos;
      let at = devOff;
      while (left > 0) {
        const k = Math.min(left, MAX_COALESCED_READ);
        segs.push([pos - offset, at, k]);
        pos += k;
        at += k;
        left -= k;
      }
    }
    const only = segs[0];
    if (segs.length === 1 && only !== undefined && only[2] === n) return this.devRead(only[1], n, layer);
    const out = Buffer.alloc(n);
    for (const [o, d, k] of segs) this.devRead(d, k, layer).copy(out, o);
    return out;
  }

  readlink(ino: number): string {
    throw new HyperwardError('E_USAGE', `inode ${ino} is not a symbolic link: FAT has none`, {
      file: this.file,
    });
  }
}

/** True when the first sector of `dev` looks like a FAT boot sector (cheap; `openFat` validates fully). */
export function probeFat(dev: BlockDevice): boolean {
  if (dev.size < 512) return false;
  return looksLikeFat(dev.read(0, 512));
}

/**
 * Opens a FAT12, FAT16 or FAT32 filesystem read-only (`type` is `vfat`; `variant` says which FAT). Throws
 * E_UNSUPPORTED_FORMAT when `dev` is not FAT, E_FS_CORRUPT when the boot sector or root directory is damaged.
 *
 * @example
 * const esp = openFat(partition.device);
 * const grub = new Vfs(esp).tryReadFile('/EFI/debian/grub.cfg');
 */
export function openFat(dev: BlockDevice): FileSystem & { readonly variant: string } {
  return new FatFileSystem(dev, readBpb(dev));
}
