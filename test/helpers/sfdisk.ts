import assert from 'node:assert/strict';
import { run } from './tmp.js';

/** One partition as `sfdisk --json` lists it (GPT adds uuid, name and attrs; MBR has bootable). */
export interface SfdiskPartition {
  node: string;
  start: number;
  size: number;
  type: string;
  uuid?: string;
  name?: string;
  attrs?: string;
  bootable?: boolean;
}

/** The `partitiontable` object of `sfdisk --json`. */
export interface SfdiskTable {
  label: string;
  sectorsize: number;
  partitions?: SfdiskPartition[];
}

/** sfdisk's view of the partition table of `path` (the oracle); notes it prints before the JSON are skipped. */
export function sfdiskTable(path: string): SfdiskTable {
  const text = run('sfdisk', ['--json', path]);
  return (JSON.parse(text.slice(text.indexOf('{'))) as { partitiontable: SfdiskTable }).partitiontable;
}

/** The partition number at the end of a device node name (`disk.raw3` -> 3). */
export function partitionNumber(node: string): number {
  const m = /(\d+)$/.exec(node);
  assert.ok(m, node);
  return Number(m[1]);
}
