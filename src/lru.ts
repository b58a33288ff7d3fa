/**
 * The one bounded least-recently-used cache of the project: container readers (qcow2 L2 tables, VHD/VHDX BAT
 * pages, VDI block-map pages, VMDK grain tables, grains and open extent files) and the ext4 reader (metadata
 * blocks, inode tables, inodes, extent nodes) all keep their metadata in one of these, so memory stays bounded
 * whatever an image claims.
 */
import { HyperwardError } from './errors.js';

/** Options of an {@link Lru}. */
export interface LruOptions<K, V> {
  /**
   * Called with each entry dropped to stay within the bounds (e.g. to close a file). Not called by `clear`, nor
   * when `set` replaces the value of a key that is already cached: the caller still owns those values.
   */
  onEvict?: (value: V, key: K) => void;
  /**
   * A byte budget on top of the entry count: the sum of `sizeOf(value)` over the entries stays within
   * `maxBytes`, except that the entry just set is never dropped (so one oversized value is kept alone).
   * `sizeOf` must give the same answer for a value for as long as it is cached (e.g. a Buffer's length).
   */
  budget?: { maxBytes: number; sizeOf: (value: V) => number };
}

interface Entry<V> {
  value: V;
  bytes: number;
}

/**
 * A map holding at most `capacity` entries (and, with a budget, at most `maxBytes` bytes of values); when it is
 * over, the least recently used entry (set or got longest ago) is dropped first. Built on a `Map`'s insertion
 * order: `get` and `set` move the key to the most recent end.
 *
 * @example
 * const tables = new Lru<number, Buffer>(64, { budget: { maxBytes: 8 << 20, sizeOf: (b) => b.length } });
 * let t = tables.get(offset);
 * if (t === undefined) tables.set(offset, (t = readTable(offset)));
 */
export class Lru<K, V> {
  private readonly map = new Map<K, Entry<V>>();
  private total = 0;

  /**
   * @param capacity Most entries kept: a positive integer.
   * @throws HyperwardError E_INTERNAL when `capacity` or `budget.maxBytes` is not a positive integer.
   */
  constructor(
    readonly capacity: number,
    private readonly options: LruOptions<K, V> = {},
  ) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) {
      throw new HyperwardError('E_INTERNAL', `LRU capacity ${capacity} is not a positive integer`);
    }
    const max = options.budget?.maxBytes;
    if (max !== undefined && (!Number.isSafeInteger(max) || max < 1)) {
      throw new HyperwardError('E_INTERNAL', `LRU byte budget ${max} is not a positive integer`);
    }
  }

  /** The value cached for `key` (now the most recently used), or undefined. */
  get(key: K): V | undefined {
    const e = this.map.get(key);
    if (e === undefined) return undefined;
    this.map.delete(key);
    this.map.set(key, e);
    return e.value;
  }

  /** Caches `value` as the most recently used entry, then drops the oldest entries while over a bound. */
  set(key: K, value: V): void {
    const budget = this.options.budget;
    let bytes = 0;
    if (budget !== undefined) {
      bytes = budget.sizeOf(value);
      if (!Number.isSafeInteger(bytes) || bytes < 0) {
        throw new HyperwardError('E_INTERNAL', `LRU value size ${bytes} is not a non-negative integer`);
      }
    }
    const old = this.map.get(key);
    if (old !== undefined) {
      this.map.delete(key);
      this.total -= old.bytes;
    }
    this.map.set(key, { value, bytes });
    this.total += bytes;
    const maxBytes = budget?.maxBytes ?? Infinity;
    while (this.map.size > this.capacity || (this.total > maxBytes && this.map.size > 1)) {
      const oldest = this.map.entries().next();
      if (oldest.done === true) break;
      const [k, e] = oldest.value;
      this.map.delete(k);
      this.total -= e.bytes;
      this.options.onEvict?.(e.value, k);
    }
  }

  /** The cached values, least recently used first. Iterating does not count as use. */
  *values(): IterableIterator<V> {
    for (const e of this.map.values()) yield e.value;
  }

  /** Drops every entry without calling `onEvict`. */
  clear(): void {
    this.map.clear();
    this.total = 0;
  }

  /** Number of entries cached. */
  get size(): number {
    return this.map.size;
  }

  /** Sum of `budget.sizeOf` over the cached values (0 without a budget). */
  get bytes(): number {
    return this.total;
  }
}
