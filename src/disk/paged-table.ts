import { Lru } from '../lru.js';

/** Where a table is read from: a `FileSource`, or anything with its positional `read`. */
export interface TableSource {
  read(offset: number, length: number, layer?: string): Buffer;
}

/** Where a table lies and how it is paged. */
export interface TableLayout {
  /** File offset of entry 0. */
  offset: number;
  /** Number of entries in the table. */
  entries: number;
  /** Size of one entry in bytes. */
  entryBytes: number;
  /** Entries per page read. */
  pageEntries: number;
  /** Pages kept. */
  cachePages: number;
  /** Layer named by read errors, e.g. `VHD BAT`. */
  layer: string;
}

/**
 * A table of fixed-size entries stored in a file (a VHD or VHDX block allocation table, a VDI block map), read
 * a page of entries at a time on demand and kept in a bounded LRU, so a huge table costs only the pages that
 * reads touch. The caller has checked that the whole table lies inside the file.
 */
export class PagedTable {
  private readonly pages: Lru<number, Buffer>;

  constructor(
    private readonly src: TableSource,
    private readonly t: Readonly<TableLayout>,
  ) {
    this.pages = new Lru(t.cachePages);
  }

  /** The page holding entry `index` (`0 <= index < entries`); the entry starts at `entryOffset(index)`. */
  page(index: number): Buffer {
    const { offset, entries, entryBytes, pageEntries, layer } = this.t;
    const page = Math.floor(index / pageEntries);
    let buf = this.pages.get(page);
    if (buf === undefined) {
      const first = page * pageEntries;
      const count = Math.min(pageEntries, entries - first);
      buf = this.src.read(offset + first * entryBytes, count * entryBytes, layer);
      this.pages.set(page, buf);
    }
    return buf;
  }

  /** Byte offset of entry `index` inside its page. */
  entryOffset(index: number): number {
    return (index % this.t.pageEntries) * this.t.entryBytes;
  }

  /** Entry `index` as a little-endian uint32. */
  u32le(index: number): number {
    return this.page(index).readUInt32LE(this.entryOffset(index));
  }

  /** Entry `index` as a big-endian uint32. */
  u32be(index: number): number {
    return this.page(index).readUInt32BE(this.entryOffset(index));
  }
}
