/**
 * Dependencies loaded on first use. A command loads only what it needs (start-up is a feature: `scan image` runs in
 * a few hundred milliseconds), so a dependency that only some inputs need — the XML parser for an OVF descriptor,
 * SQLite for an RPM database, the CVSS calculator for a vector nobody scored — is required when first called for,
 * not imported with the module that uses it. Node's module cache keeps one instance.
 */
import { createRequire } from 'node:module';

const requireHere = createRequire(import.meta.url);

/** The CommonJS export of the package `id`, loaded now if it was not yet. `T` is its type as `import()` gives it. */
export function dependency<T>(id: string): T {
  return requireHere(id) as T;
}

/** node:zlib, for the compressed clusters, grains, extents and logs that only some images hold (~2 ms to load). */
export function zlib(): typeof import('node:zlib') {
  return dependency<typeof import('node:zlib')>('node:zlib');
}

/** fzstd's `decompress`, for zstd-compressed qcow2 clusters and btrfs extents. */
export function zstdDecompress(input: Uint8Array, out?: Uint8Array): Uint8Array {
  return dependency<typeof import('fzstd')>('fzstd').decompress(input, out);
}
