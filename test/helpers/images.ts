import { readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { openImage, type OpenImageOptions } from '../../src/disk/open.js';
import { RawDevice } from '../../src/disk/raw.js';
import type { BlockDevice } from '../../src/disk/types.js';
import { FileSource } from '../../src/source/file.js';
import { run } from './tmp.js';

/** One extent of `qemu-img map --output=json`. */
export interface QemuMapEntry {
  start: number;
  length: number;
  depth: number;
  zero: boolean;
  data: boolean;
  offset?: number;
}

/** `qemu-img info --output=json` of an image; `T` names the fields the test reads. */
export function qemuInfo<T>(path: string): T {
  return JSON.parse(run('qemu-img', ['info', '--output=json', path])) as T;
}

/** `qemu-img map --output=json` of an image: qemu's own view of what is allocated where. */
export function qemuMap(path: string): QemuMapEntry[] {
  return JSON.parse(run('qemu-img', ['map', '--output=json', path])) as QemuMapEntry[];
}

/** Options of `qemuConvert`, in the order they go on qemu-img's command line. */
export interface ConvertOptions {
  /** Input format (`-f`); detected by qemu-img when absent. */
  from?: string;
  /** Compress the output (`-c`). */
  compress?: boolean;
  /** Output options (`-o`), e.g. `subformat=dynamic`. */
  options?: string;
  /** Working directory: qemu resolves relative (and external data) file names against it. */
  cwd?: string;
}

/** `qemu-img convert [-f from] [-c] -O to [-o options] src out`; returns `out`. */
export function qemuConvert(src: string, out: string, to: string, opts: ConvertOptions = {}): string {
  run(
    'qemu-img',
    [
      'convert',
      ...(opts.from !== undefined ? ['-f', opts.from] : []),
      ...(opts.compress === true ? ['-c'] : []),
      '-O',
      to,
      ...(opts.options !== undefined ? ['-o', opts.options] : []),
      src,
      out,
    ],
    opts.cwd !== undefined ? { cwd: opts.cwd } : {},
  );
  return out;
}

/** The oracle: qemu-img's own raw conversion of `image`, written to `out` and read back. */
export function qemuToRaw(image: string, out: string, opts: { from?: string; cwd?: string } = {}): Buffer {
  qemuConvert(image, out, 'raw', opts);
  return readFileSync(out);
}

/** A sparse file of `size` bytes (all zeros, nothing allocated). */
export function sparseFile(path: string, size: number): void {
  writeFileSync(path, Buffer.alloc(0));
  truncateSync(path, size);
}

/** Opens `path` with `openImage`, runs `fn` on the device and closes it, whatever happens. */
export function withImage<T>(path: string, fn: (dev: BlockDevice) => T, opts?: OpenImageOptions): T {
  const dev = openImage(path, opts);
  try {
    return fn(dev);
  } finally {
    dev.close();
  }
}

/** Opens `path` as a raw device (no format detection), runs `fn` on it and closes it. */
export function withRawDevice<T>(path: string, fn: (dev: BlockDevice) => T): T {
  const dev = new RawDevice(new FileSource(path));
  try {
    return fn(dev);
  } finally {
    dev.close();
  }
}

/** Reads a few bounded windows of a device (start, end, middle): enough to walk its structures (fuzz bodies). */
export function sampleReads(d: BlockDevice): void {
  const win = Math.min(d.size, 256 * 1024);
  d.read(0, win);
  d.read(d.size - win, win);
  const mid = Math.floor(d.size / 2);
  d.read(mid, Math.min(win, d.size - mid));
}

/**
 * Writes a qcow2 v3 header whose L1 table lies far past the end of the file: a damaged image every opener must
 * refuse with an error naming the file, the layer and the offset.
 */
export function writeQcow2WithL1PastEnd(path: string): void {
  const hdr = Buffer.alloc(512);
  hdr.write('QFI\xfb', 0, 'latin1');
  hdr.writeUInt32BE(3, 4);
  hdr.writeUInt32BE(16, 20);
  hdr.writeBigUInt64BE(1n << 30n, 24);
  hdr.writeUInt32BE(16, 36);
  hdr.writeBigUInt64BE(1n << 40n, 40);
  hdr.writeUInt32BE(104, 100);
  writeFileSync(path, hdr);
}
