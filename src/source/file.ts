import { closeSync, fstatSync, openSync, readSync, constants } from 'node:fs';
import { HyperwardError } from '../errors.js';

/** Counters shared by every file a scan opens, so benchmarks and `--stats` can tell how much was read. */
export interface ReadStats {
  bytesRead: number;
  reads: number;
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
      this.fd = openSync(path, constants.O_RDONLY);
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
    this.size = st.size;
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
  }

  close(): void {
    if (this.fd !== undefined) {
      closeSync(this.fd);
      this.fd = undefined;
    }
  }
}
