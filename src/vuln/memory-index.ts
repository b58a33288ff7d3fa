/**
 * An `AdvisoryIndex` held in memory, built from advisories already parsed: what SBOM scans without a database and
 * tests match against. Lookups are one map access; the hit lists are built once.
 */
import type { Advisory, AdvisoryIndex, AffectedHit, DistroKey } from './types.js';

/**
 * Indexes `advisories` by (distro key, package name) of each affected entry. When two advisories share a `key`,
 * the later one replaces the earlier (as a re-import would). Withdrawn advisories are kept: the matcher decides.
 * The index keeps references to the advisories and their entries; do not mutate them afterwards.
 *
 * @example
 * const index = new MemoryAdvisoryIndex(advisories);
 * matchInventory(inventory, index);
 */
export class MemoryAdvisoryIndex implements AdvisoryIndex {
  readonly #byKey = new Map<string, Advisory>();
  readonly #hits = new Map<string, AffectedHit[]>();

  constructor(advisories: Iterable<Advisory>) {
    for (const a of advisories) this.#byKey.set(a.key, a);
    for (const a of this.#byKey.values()) {
      for (const affected of a.affected) {
        const k = `${affected.distro}\0${affected.package}`;
        let list = this.#hits.get(k);
        if (!list) this.#hits.set(k, (list = []));
        list.push({ advisoryKey: a.key, affected });
      }
    }
  }

  /** Number of advisories held. */
  get size(): number {
    return this.#byKey.size;
  }

  /** Every affected entry for `pkg` in `distro`, in insertion order. The array is shared: do not mutate it. */
  lookup(distro: DistroKey, pkg: string): AffectedHit[] {
    return this.#hits.get(`${distro}\0${pkg}`) ?? [];
  }

  advisory(key: string): Advisory | undefined {
    return this.#byKey.get(key);
  }
}
