import { closeSync, constants, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { HyperwardError } from '../errors.js';

/** Counters shared by every file a scan opens, so benchmarks and `--stats` can tell how much was read. */
export interface ReadStats {
  bytesRead: number;
  reads: number;
  /** Sees every read's bytes (the scan cache hashes the header and metadata blocks an open reads). */
  tap?: (path: string, offset: number, bytes: Buffer) => void;
}

export function newReadStats(): ReadStats {
  return { bytesRead: 0, reads: 0 };
}

/**
 * A file opened read-only for positional reads. It never writes and never truncates; `O_NOATIME` is not used
 * because it needs ownership, but the descriptor is opened `O_RDONLY` only.
 */
export class FileSource {
  readonly path: string;
  readonly size: number;
  readonly dev: number;
  readonly ino: number;
  readonly mtimeMs: number;
  private fd: number | undefined;
  private readonly stats: ReadStats;

  constructor(path: string, stats: ReadStats = newReadStats()) {
    this.path = path;
    this.stats = stats;
    try {
      // Non-blocking, so a FIFO named by mistake (or swapped in) is refused below instead of hanging the open.
      this.fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      throw new HyperwardError(
        err.code === 'ENOENT' ? 'E_NOT_FOUND' : 'E_IO',
        `cannot open: ${err.message}`,
        { file: path },
        { cause: e },
      );
    }
    const st = fstatSync(this.fd);
    if (!st.isFile() && !st.isBlockDevice()) {
      closeSync(this.fd);
      this.fd = undefined;
      throw new HyperwardError('E_USAGE', 'not a regular file or block device', { file: path });
    }
    this.size = st.isBlockDevice() ? blockDeviceSize(st.rdev, path) : st.size;
    this.dev = st.dev;
    this.ino = st.ino;
    this.mtimeMs = st.mtimeMs;
  }

  /**
   * Reads exactly `length` bytes at `offset`. A range that reaches past the end of the file is an error naming
   * the layer (the file is truncated or a structure points outside it).
   */
  read(offset: number, length: number, layer = 'file'): Buffer {
    const buf = Buffer.alloc(length);
    this.readInto(buf, 0, length, offset, layer);
    return buf;
  }

  /** Reads into `buf[bufOffset .. bufOffset+length)` from file `offset`; past EOF is an error. */
  readInto(buf: Buffer, bufOffset: number, length: number, offset: number, layer = 'file'): void {
    if (this.fd === undefined)
      throw new HyperwardError('E_INTERNAL', 'read after close', { file: this.path });
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
      throw new HyperwardError('E_IMAGE_CORRUPT', `invalid read of ${length} bytes`, {
        file: this.path,
        layer,
        offset,
      });
    }
    if (offset + length > this.size) {
      throw new HyperwardError(
        'E_IMAGE_CORRUPT',
        `${length} bytes needed but the file ends at ${this.size} (truncated, or a pointer past the end)`,
        { file: this.path, layer, offset },
      );
    }
    let done = 0;
    while (done < length) {
      let n: number;
      try {
        n = readSync(this.fd, buf, bufOffset + done, length - done, offset + done);
      } catch (e) {
        throw new HyperwardError('E_IO', `read failed: ${(e as Error).message}`, {
          file: this.path,
          layer,
          offset: offset + done,
        });
      }
      if (n === 0) break;
      done += n;
      this.stats.reads++;
    }
    this.stats.bytesRead += done;
    if (done < length) {
      throw new HyperwardError('E_IO', 'file shrank while being read', { file: this.path, layer, offset });
    }
    this.stats.tap?.(this.path, offset, buf.subarray(bufOffset, bufOffset + length));
  }

  close(): void {
    if (this.fd !== undefined) {
      closeSync(this.fd);
      this.fd = undefined;
    }
  }
}

/**
 * The size of a block device in bytes, from sysfs (`fstat` says 0 for block devices): `/sys/dev/block/MAJ:MIN/size`
 * counts 512-byte sectors whatever the device's logical block size.
 * @throws HyperwardError E_IO naming the device when sysfs does not say
 */
export function blockDeviceSize(rdev: number, path: string): number {
  const major = Math.floor(rdev / 256) % 4096;
  const minor = (rdev % 256) + Math.floor(rdev / 1048576) * 256;
  const sys = `/sys/dev/block/${major}:${minor}/size`;
  let text: string;
  try {
    text = readFileSync(sys, 'utf8');
  } catch (e) {
    throw new HyperwardError('E_IO', `block device size unknown (${sys}: ${(e as Error).message})`, {
      file: path,
    });
  }
  const sectors = Number(text.trim());
  if (!Number.isSafeInteger(sectors) || sectors < 0 || sectors * 512 > Number.MAX_SAFE_INTEGER) {
    throw new HyperwardError('E_IO', `block device size unreadable (${sys}: ${text.trim().slice(0, 40)})`, {
      file: path,
    });
  }
  return sectors * 512;
}

/**
 * Reads the whole of a file the user named, as text: refuses what is not a regular file (a FIFO or device named by
 * mistake must not block: the open is non-blocking) and what is larger than `maxBytes`; a leading UTF-8 byte-order
 * mark is dropped.
 * @throws HyperwardError E_NOT_FOUND, E_IO, E_USAGE (not a regular file) or E_LIMIT, naming the file.
 */
export function readTextFile(path: string, maxBytes: number): string {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT') throw new HyperwardError('E_NOT_FOUND', 'no such file', { file: path });
    throw new HyperwardError('E_IO', `cannot open: ${err.message}`, { file: path }, { cause: e });
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new HyperwardError('E_USAGE', 'not a regular file', { file: path });
    if (st.size > maxBytes) {
      throw new HyperwardError('E_LIMIT', `file of ${st.size} bytes exceeds the ${maxBytes}-byte limit`, {
        file: path,
      });
    }
    const buf = Buffer.alloc(st.size);
    let off = 0;
    while (off < buf.length) {
      const n = readSync(fd, buf, off, buf.length - off, off);
      if (n === 0) break;
      off += n;
    }
    const text = buf.subarray(0, off).toString('utf8');
    return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  } catch (e) {
    if (e instanceof HyperwardError) throw e;
    throw new HyperwardError('E_IO', `cannot read: ${(e as Error).message}`, { file: path }, { cause: e });
  } finally {
    closeSync(fd);
  }
}
