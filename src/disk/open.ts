import { realpathSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { HyperwardError } from '../errors.js';
import { FileSource, newReadStats, type ReadStats } from '../source/file.js';
import { RawDevice } from './raw.js';
import { openQcow2 } from './qcow2.js';
import { openVdi } from './vdi.js';
import { openVhd } from './vhd.js';
import { openVhdx } from './vhdx.js';
import { openVmdk } from './vmdk.js';
import { DEFAULT_MAX_CHAIN_DEPTH, type BlockDevice, type OpenOptions } from './types.js';

export type ContainerFormatName = 'raw' | 'qcow2' | 'vmdk' | 'vhd' | 'vhdx' | 'vdi';

/**
 * What a container opener gets besides its file: the read counters, the options, and a way to open the files it
 * references (backing files, parents, extents) under the project's path policy.
 */
export interface OpenContext {
  readonly stats: ReadStats;
  readonly options: Required<OpenOptions>;
  /** Chain depth of the file being opened (0 for the image the user named). */
  readonly depth: number;
  /**
   * Resolves `ref` (as written inside `fromFile`: relative to its directory, or absolute) and checks it stays
   * inside the directory of the image the user named, unless `allowOutside`. Returns the real path.
   * Throws E_BACKING_REFUSED or E_NOT_FOUND naming `fromFile` and `layer`.
   */
  resolveRef(ref: string, fromFile: string, layer: string): string;
  /** Opens a referenced file as a plain source (VMDK extents). The path must come from `resolveRef`. */
  openSource(realPath: string): FileSource;
  /**
   * Opens a backing/parent image (format detected by magic, or forced), one level deeper, refusing cycles.
   * The path must come from `resolveRef`.
   */
  openBacking(realPath: string, fromFile: string, layer: string, format?: ContainerFormatName): BlockDevice;
}

/** Detects the container format from the file's first bytes (and its last sector, for fixed VHD). */
export function detectFormat(src: FileSource): ContainerFormatName {
  const head = src.read(0, Math.min(src.size, 512), 'header');
  const ascii = (at: number, s: string): boolean =>
    head.length >= at + s.length && head.toString('latin1', at, at + s.length) === s;
  if (ascii(0, 'QFI\xfb')) return 'qcow2';
  if (ascii(0, 'KDMV') || ascii(0, 'COWD')) return 'vmdk';
  if (ascii(0, 'vhdxfile')) return 'vhdx';
  if (head.length >= 0x44 && head.readUInt32LE(0x40) === 0xbeda107f) return 'vdi';
  if (ascii(0, 'conectix')) return 'vhd';
  if (/^\s*#\s*Disk DescriptorFile/i.test(head.toString('latin1', 0, Math.min(head.length, 64))))
    return 'vmdk';
  if (src.size >= 512 && src.size % 512 === 0) {
    const tail = src.read(src.size - 512, 512, 'VHD footer');
    if (tail.toString('latin1', 0, 8) === 'conectix') return 'vhd';
  }
  return 'raw';
}

/** Whether `path` is `dir` or lies below it (both real, absolute paths). */
export function isInside(dir: string, path: string): boolean {
  const rel = relative(dir, path);
  return rel === '' || (!rel.startsWith('..' + sep) && rel !== '..' && !isAbsolute(rel));
}

class Context implements OpenContext {
  constructor(
    readonly stats: ReadStats,
    readonly options: Required<OpenOptions>,
    readonly depth: number,
    private readonly root: string,
    private readonly chain: readonly string[],
  ) {}

  resolveRef(ref: string, fromFile: string, layer: string): string {
    if (ref.length === 0 || ref.length > 4096 || ref.includes('\0')) {
      throw new HyperwardError('E_IMAGE_CORRUPT', 'invalid referenced file name', { file: fromFile, layer });
    }
    const wanted = resolve(dirname(fromFile), ref);
    let real: string;
    try {
      real = realpathSync(wanted);
    } catch {
      throw new HyperwardError(
        'E_NOT_FOUND',
        `referenced file ${JSON.stringify(ref)} not found (${wanted})`,
        {
          file: fromFile,
          layer,
        },
      );
    }
    if (!this.options.allowOutside && !isInside(this.root, real)) {
      throw new HyperwardError(
        'E_BACKING_REFUSED',
        `refusing ${JSON.stringify(ref)}: it resolves to ${real}, outside ${this.root}; pass --allow-backing-outside to follow it`,
        { file: fromFile, layer },
      );
    }
    return real;
  }

  openSource(realPath: string): FileSource {
    return new FileSource(realPath, this.stats);
  }

  openBacking(realPath: string, fromFile: string, layer: string, format?: ContainerFormatName): BlockDevice {
    if (this.chain.includes(realPath)) {
      throw new HyperwardError(
        'E_IMAGE_CORRUPT',
        `cyclic backing chain: ${[...this.chain, realPath].join(' -> ')}`,
        {
          file: fromFile,
          layer,
        },
      );
    }
    if (this.depth + 1 > this.options.maxChainDepth) {
      throw new HyperwardError('E_LIMIT', `backing chain deeper than ${this.options.maxChainDepth}`, {
        file: fromFile,
        layer,
      });
    }
    const ctx = new Context(this.stats, this.options, this.depth + 1, this.root, [...this.chain, realPath]);
    return openSource(ctx, new FileSource(realPath, this.stats), format);
  }
}

/**
 * Opens the container in `src` (by `format`, or detected by magic) under `ctx`'s path policy; closes `src` when
 * opening fails. Also used for sources that are not plain files (an OVA's member).
 */
export function openSource(ctx: OpenContext, src: FileSource, format?: ContainerFormatName): BlockDevice {
  try {
    switch (format ?? detectFormat(src)) {
      case 'qcow2':
        return openQcow2(src, ctx);
      case 'vmdk':
        return openVmdk(src, ctx);
      case 'vhd':
        return openVhd(src, ctx);
      case 'vhdx':
        return openVhdx(src, ctx);
      case 'vdi':
        return openVdi(src, ctx);
      case 'raw':
        return new RawDevice(src);
    }
  } catch (e) {
    src.close();
    throw e;
  }
}

export interface OpenImageOptions extends OpenOptions {
  stats?: ReadStats;
  /** Skip detection (for a raw image whose first bytes happen to look like a header). */
  format?: ContainerFormatName;
}

/**
 * Opens a disk image read-only, detecting its container format by magic bytes (never by file name), and
 * following backing files, parents and extents only inside the image's own directory unless allowed.
 *
 * @example
 * const dev = openImage('disk.qcow2');
 * const mbr = dev.read(0, 512);
 * dev.close();
 */
export function openImage(path: string, opts: OpenImageOptions = {}): BlockDevice {
  const stats = opts.stats ?? newReadStats();
  const src = new FileSource(path, stats);
  let real: string;
  try {
    real = realpathSync(path);
  } catch (e) {
    src.close();
    throw new HyperwardError('E_NOT_FOUND', 'cannot resolve path', { file: path }, { cause: e });
  }
  const options: Required<OpenOptions> = {
    allowOutside: opts.allowOutside ?? false,
    maxChainDepth: opts.maxChainDepth ?? DEFAULT_MAX_CHAIN_DEPTH,
  };
  const ctx = new Context(stats, options, 0, dirname(real), [real]);
  return openSource(ctx, src, opts.format);
}
