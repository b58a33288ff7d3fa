/** What the block mappers (extent trees and classic block maps) need from the filesystem. */
import type { Superblock } from './superblock.js';

/**
 * A run of logical blocks starting at the block asked for: `count` blocks that are either mapped to the
 * physically contiguous blocks from `pblk`, or (pblk 0) read as zeros — a hole or an uninitialized extent.
 * `count` is at least 1 and may be Infinity for "no more data".
 */
export interface Run {
  count: number;
  pblk: number;
}

export interface MapContext {
  readonly sb: Superblock;
  readonly file: string;
  /** One metadata block, bounds-checked and cached; errors name `layer`. */
  metaBlock(block: number, layer: string): Buffer;
}
