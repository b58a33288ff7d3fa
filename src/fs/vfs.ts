import { HyperwardError } from '../errors.js';
import type { DirEntry, FileSystem, Inode } from './types.js';

const MAX_SYMLINKS = 40;
const MAX_COMPONENTS = 4096;
/** Largest file `readFile` returns whole; bigger files are read with `chunks`. */
export const DEFAULT_MAX_FILE = 256 * 1024 * 1024;

/**
 * Paths over a `FileSystem`, resolved as if the filesystem were mounted at `/` and chrooted into: an absolute
 * symlink target starts again at the filesystem's root, and `..` at the root stays there, so no path can reach
 * the host's files or leave the image.
 */
export class Vfs {
  constructor(readonly fs: FileSystem) {}

  /** Resolves `path` to an inode number; follows a final symlink unless `followLast` is false. */
  resolve(path: string, followLast = true): number | undefined {
    const root = this.fs.rootIno;
    // Directories from the root down to the current one, so `..` needs no parent pointers and stops at root.
    const stack: number[] = [root];
    // Components still to walk, next one last.
    const pending = path.split('/').reverse();
    if (pending.length > MAX_COMPONENTS) {
      throw new HyperwardError('E_LIMIT', `path has too many components: ${pending.length}`, {
        layer: 'path resolution',
      });
    }
    let symlinks = 0;
    while (pending.length > 0) {
      const name = pending.pop()!;
      const dir = stack[stack.length - 1]!;
      // Every component after the first must be looked up in a directory: `/etc/passwd/..` and
      // `/etc/passwd/` do not exist (ENOTDIR).
      if (this.fs.stat(dir).type !== 'dir') return undefined;
      if (name === '' || name === '.') continue;
      if (name === '..') {
        if (stack.length > 1) stack.pop();
        continue;
      }
      const ino = this.fs.lookup(dir, name);
      if (ino === undefined) return undefined;
      // A trailing `/` (or `/.`) asks for what the link points to, as it does for the kernel.
      const follow = followLast || pending.length > 0;
      if (follow && this.fs.stat(ino).type === 'symlink') {
        if (++symlinks > MAX_SYMLINKS) {
          throw new HyperwardError('E_LIMIT', `too many levels of symbolic links resolving ${path}`, {
            layer: 'path resolution',
          });
        }
        const target = this.fs.readlink(ino);
        if (target === '') return undefined;
        if (target.startsWith('/')) stack.length = 1;
        const parts = target.split('/');
        if (pending.length + parts.length > MAX_COMPONENTS) {
          throw new HyperwardError('E_LIMIT', `path too long resolving ${path}`, {
            layer: 'path resolution',
          });
        }
        for (let i = parts.length - 1; i >= 0; i--) pending.push(parts[i]!);
        continue;
      }
      stack.push(ino);
    }
    return stack[stack.length - 1];
  }

  private need(path: string, followLast = true): number {
    const ino = this.resolve(path, followLast);
    if (ino === undefined) throw new HyperwardError('E_NOT_FOUND', `no such file in the image: ${path}`);
    return ino;
  }

  exists(path: string): boolean {
    return this.resolve(path) !== undefined;
  }

  stat(path: string): Inode {
    return this.fs.stat(this.need(path));
  }

  lstat(path: string): Inode {
    return this.fs.stat(this.need(path, false));
  }

  readdir(path: string): DirEntry[] {
    const ino = this.need(path);
    if (this.fs.stat(ino).type !== 'dir') throw new HyperwardError('E_USAGE', `not a directory: ${path}`);
    return this.fs.readdir(ino);
  }

  readlink(path: string): string {
    return this.fs.readlink(this.need(path, false));
  }

  /** Reads a whole regular file, refusing files larger than `maxBytes`. */
  readFile(path: string, maxBytes = DEFAULT_MAX_FILE): Buffer {
    const ino = this.need(path);
    const st = this.fs.stat(ino);
    if (st.type !== 'file') throw new HyperwardError('E_USAGE', `not a regular file: ${path}`);
    if (st.size > maxBytes) {
      throw new HyperwardError('E_LIMIT', `${path} is ${st.size} bytes, more than the limit of ${maxBytes}`);
    }
    return this.fs.read(ino, 0, st.size);
  }

  /** Reads a file if it exists and is a regular file, else undefined. */
  tryReadFile(path: string, maxBytes = DEFAULT_MAX_FILE): Buffer | undefined {
    const ino = this.resolve(path);
    if (ino === undefined) return undefined;
    const st = this.fs.stat(ino);
    if (st.type !== 'file' || st.size > maxBytes) return undefined;
    return this.fs.read(ino, 0, st.size);
  }

  /** The first `length` bytes of a regular file (all of it when shorter), or undefined when it is not one. */
  tryReadPrefix(path: string, length: number): Buffer | undefined {
    const ino = this.resolve(path);
    if (ino === undefined) return undefined;
    const st = this.fs.stat(ino);
    if (st.type !== 'file') return undefined;
    return this.fs.read(ino, 0, Math.min(st.size, Math.max(0, length)));
  }

  /** Streams a regular file in chunks, for files of any size. */
  *chunks(path: string, chunkSize = 4 * 1024 * 1024): Generator<Buffer> {
    const ino = this.need(path);
    const st = this.fs.stat(ino);
    if (st.type !== 'file') throw new HyperwardError('E_USAGE', `not a regular file: ${path}`);
    for (let off = 0; off < st.size; off += chunkSize) {
      yield this.fs.read(ino, off, Math.min(chunkSize, st.size - off));
    }
  }
}
