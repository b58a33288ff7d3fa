/**
 * A root filesystem that is a local directory: `scan host --root DIR` (an extracted image, a mounted snapshot, a
 * chroot) or `/` itself. Paths are resolved as if DIR were `/`: `..` stops at DIR, and symbolic links are
 * followed inside DIR — an absolute target is taken relative to DIR, as `chroot` would — so a tree whose links
 * point at `/etc/...` reads its own files and never the scanning machine's. As a second guard every resolved path
 * is checked with `realpath` to lie under DIR. Files are opened read-only and without following a final link,
 * and reads are capped.
 */
import {
  closeSync,
  fstatSync,
  lstatSync,
  openSync,
  opendirSync,
  readSync,
  readlinkSync,
  realpathSync,
  constants,
} from 'node:fs';
import { join, sep } from 'node:path';
import { HyperwardError } from '../errors.js';
import type { RootReader } from '../inspect/system.js';

/** Per-file cap when the caller gives none. */
export const DIR_ROOT_MAX_FILE = 64 * 1024 * 1024;
const MAX_SYMLINK_HOPS = 40;
const MAX_COMPONENTS = 4096;
const MAX_PATH_CHARS = 4096;
const MAX_DIR_ENTRIES = 100_000;
const READ_CHUNK = 64 * 1024;

export class DirRoot implements RootReader {
  /** The directory, with its own symbolic links resolved. */
  readonly root: string;

  constructor(dir: string) {
    let real: string;
    try {
      real = realpathSync(dir);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      throw new HyperwardError(
        err.code === 'ENOENT' ? 'E_NOT_FOUND' : 'E_IO',
        `cannot open root directory: ${err.message}`,
        { file: dir },
        { cause: e },
      );
    }
    if (!lstatSync(real).isDirectory()) throw new HyperwardError('E_USAGE', 'not a directory', { file: dir });
    this.root = real;
  }

  /**
   * The local path of `path` inside the root with every symbolic link resolved, or undefined when it does not
   * exist, a link loops or goes too deep, or (as a second check) the result lies outside the root.
   */
  resolve(path: string): string | undefined {
    if (path.length > MAX_PATH_CHARS || path.includes('\0')) return undefined;
    const pending = splitPath(path).reverse(); // a stack: the next component is at the end
    const done: string[] = [];
    let hops = 0;
    while (pending.length > 0) {
      const comp = pending.pop()!;
      if (comp === '.') continue;
      if (comp === '..') {
        done.pop();
        continue;
      }
      const local = join(this.root, ...done, comp);
      let st;
      try {
        st = lstatSync(local, { throwIfNoEntry: false });
      } catch {
        return undefined;
      }
      if (st === undefined) return undefined;
      if (st.isSymbolicLink()) {
        if (++hops > MAX_SYMLINK_HOPS) return undefined;
        let target: string;
        try {
          target = readlinkSync(local);
        } catch {
          return undefined;
        }
        const parts = splitPath(target);
        if (pending.length + parts.length > MAX_COMPONENTS) return undefined;
        if (target.startsWith('/')) done.length = 0;
        for (let i = parts.length - 1; i >= 0; i--) pending.push(parts[i]!);
        continue;
      }
      if (pending.length > 0 && !st.isDirectory()) return undefined;
      done.push(comp);
    }
    const local = join(this.root, ...done);
    let real: string;
    try {
      real = realpathSync(local);
    } catch {
      return undefined;
    }
    return real === this.root || real.startsWith(this.root.endsWith(sep) ? this.root : this.root + sep)
      ? real
      : undefined;
  }

  /**
   * The bytes of a regular file, or undefined when it is missing, not a regular file, not readable, or larger
   * than `maxBytes`. Files whose size the kernel does not report (/proc, /sys) are read to their end, capped.
   */
  tryReadFile(path: string, maxBytes = DIR_ROOT_MAX_FILE): Buffer | undefined {
    const local = this.resolve(path);
    if (local === undefined) return undefined;
    let fd: number;
    try {
      fd = openSync(local, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch {
      return undefined;
    }
    try {
      const st = fstatSync(fd);
      if (!st.isFile() || st.size > maxBytes) return undefined;
      const chunks: Buffer[] = [];
      let total = 0;
      while (true) {
        const want = Math.min(READ_CHUNK, maxBytes + 1 - total);
        if (want <= 0) return undefined; // grew past the cap while being read
        const buf = Buffer.allocUnsafe(want);
        const n = readSync(fd, buf, 0, want, null);
        if (n === 0) break;
        chunks.push(n === want ? buf : buf.subarray(0, n));
        total += n;
      }
      if (total > maxBytes) return undefined;
      return Buffer.concat(chunks, total);
    } catch {
      return undefined;
    } finally {
      closeSync(fd);
    }
  }

  /** Names in a directory (at most 100,000), or undefined when it is not a readable directory. */
  list(path: string): string[] | undefined {
    const local = this.resolve(path);
    if (local === undefined) return undefined;
    try {
      if (!lstatSync(local).isDirectory()) return undefined;
      const dir = opendirSync(local);
      const names: string[] = [];
      try {
        for (let e = dir.readSync(); e !== null && names.length < MAX_DIR_ENTRIES; e = dir.readSync()) {
          names.push(e.name);
        }
      } finally {
        dir.closeSync();
      }
      return names;
    } catch {
      return undefined;
    }
  }
}

function splitPath(p: string): string[] {
  return p.split('/').filter((c) => c !== '' && c !== '.');
}
