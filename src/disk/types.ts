import { HyperwardError } from '../errors.js';

/**
 * A read-only, random-access virtual disk. Every container format (qcow2, VMDK, VHD, VHDX, VDI, raw) and every
 * partition is one of these, so partition tables and filesystems never know which format they sit on.
 *
 * Reads are synchronous: the parsers above make many small dependent reads, and positional `readSync` on a file
 * descriptor is the cheapest way to do them. Nothing here ever writes.
 */
export interface BlockDevice {
  /** Virtual size in bytes. */
  readonly size: number;
  /** Format name: `raw`, `qcow2`, `vmdk`, `vhd`, `vhdx`, `vdi`, `partition`. */
  readonly format: string;
  /** Human-readable name for errors: the file path, plus the layer for derived devices. */
  readonly name: string;
  /**
   * Reads `length` bytes at virtual `offset`. Regions that are not allocated read as zeros (or from the backing
   * file). Throws `HyperwardError` (E_USAGE) when the range is outside `[0, size)`, and E_IMAGE_CORRUPT naming
   * the file, layer and offset when a structure on the way is damaged.
   */
  read(offset: number, length: number): Buffer;
  /** Releases file descriptors, including those of backing files. Idempotent. */
  close(): void;
  /** Facts for reports: format details, subformat, backing chain, cluster size... */
  readonly info: DeviceInfo;
}

export interface DeviceInfo {
  format: string;
  subformat?: string;
  virtualSize: number;
  /** The files this device reads, top first (the image, its extents, its backing chain). */
  files: string[];
  backing?: DeviceInfo;
  encrypted?: boolean;
  [key: string]: unknown;
}

/**
 * The files a device reads that are its own, not its backing chain's: the image itself and its extents (a backing
 * file is an image of its own, the template of its clones).
 */
export function ownFiles(info: DeviceInfo): string[] {
  const chain = new Set<string>();
  for (let b = info.backing; b !== undefined; b = b.backing) b.files.forEach((f) => chain.add(f));
  return info.files.filter((f) => !chain.has(f));
}

/** Options every container opener receives. */
export interface OpenOptions {
  /** Allow backing files (and VMDK extents) outside the directory of the image the user named. */
  allowOutside?: boolean;
  /** Maximum backing-chain depth. */
  maxChainDepth?: number;
}

export const DEFAULT_MAX_CHAIN_DEPTH = 16;

/** Checks that [offset, offset+length) lies inside a device of `size` bytes. */
export function checkRange(dev: { size: number; name: string }, offset: number, length: number): void {
  if (
    !Number.isSafeInteger(offset) ||
    !Number.isSafeInteger(length) ||
    offset < 0 ||
    length < 0 ||
    offset + length > dev.size
  ) {
    throw new HyperwardError(
      'E_IMAGE_CORRUPT',
      `read of ${length} bytes is outside the device (size ${dev.size}); a structure points past the end`,
      { file: dev.name, layer: 'block device', offset },
    );
  }
}
