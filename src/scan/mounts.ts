import { posix } from 'node:path';
import type { Vfs } from '../fs/vfs.js';
import type { PrefixReader } from '../inspect/clamav.js';
import type { MtimeReader } from '../inspect/staleness.js';
import type { RootReader } from '../inspect/system.js';

/**
 * Several filesystems of one image assembled at their fstab mount points, read-only. Paths are split lexically
 * at the longest matching mount point; a symlink that crosses from one filesystem into another is resolved
 * inside the filesystem it starts in.
 */
export class Mounts implements RootReader, PrefixReader, MtimeReader {
  private readonly table: Array<{ at: string; vfs: Vfs }>;

  constructor(root: Vfs, others: ReadonlyArray<{ at: string; vfs: Vfs }> = []) {
    this.table = [{ at: '/', vfs: root }, ...others.filter((m) => m.at !== '/')];
    this.table.sort((a, b) => b.at.length - a.at.length);
  }

  /** The filesystem a path lives on and the path inside it. */
  locate(path: string): { vfs: Vfs; path: string } {
    const norm = posix.normalize('/' + path);
    for (const m of this.table) {
      if (m.at === '/') return { vfs: m.vfs, path: norm };
      if (norm === m.at || norm.startsWith(m.at + '/'))
        return { vfs: m.vfs, path: norm.slice(m.at.length) || '/' };
    }
    return { vfs: this.table[this.table.length - 1]!.vfs, path: norm };
  }

  tryReadFile(path: string, maxBytes?: number): Buffer | undefined {
    const l = this.locate(path);
    return l.vfs.tryReadFile(l.path, maxBytes);
  }

  /** The first bytes of a file without reading the rest (ClamAV database headers). */
  readPrefix(path: string, length: number): Buffer | undefined {
    const l = this.locate(path);
    return l.vfs.tryReadPrefix(l.path, length);
  }

  /** A file's modification time in Unix seconds, or undefined when it is not there. */
  mtime(path: string): number | undefined {
    const l = this.locate(path);
    const ino = l.vfs.resolve(l.path);
    return ino === undefined ? undefined : l.vfs.fs.stat(ino).mtime;
  }

  list(path: string): string[] | undefined {
    const l = this.locate(path);
    const ino = l.vfs.resolve(l.path);
    if (ino === undefined || l.vfs.fs.stat(ino).type !== 'dir') return undefined;
    return l.vfs.fs.readdir(ino).map((e) => e.name);
  }
}
