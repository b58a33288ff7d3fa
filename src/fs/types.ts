/**
 * Read-only filesystems behind one inode-level interface. Path resolution (with chroot semantics for symlinks)
 * is done once, in `vfs.ts`, for every filesystem.
 */
export type FileType = 'file' | 'dir' | 'symlink' | 'chardev' | 'blockdev' | 'fifo' | 'socket' | 'unknown';

export interface Inode {
  ino: number;
  type: FileType;
  /** Full st_mode (type and permission bits). */
  mode: number;
  size: number;
  uid: number;
  gid: number;
  /** Modification time, seconds since the epoch. */
  mtime: number;
  nlink: number;
}

export interface DirEntry {
  name: string;
  ino: number;
  /** Type from the directory entry when the filesystem records it, else from the inode. */
  type: FileType;
}

export interface FileSystem {
  /** `ext2`, `ext3`, `ext4`, `xfs`, ... */
  readonly type: string;
  readonly label?: string;
  readonly uuid?: string;
  readonly rootIno: number;
  stat(ino: number): Inode;
  /** Entries of a directory, without `.` and `..`. Throws E_FS_CORRUPT on damage, E_LIMIT past limits. */
  readdir(ino: number): DirEntry[];
  /** One name in a directory; filesystems with indexed directories override the linear scan. */
  lookup(dirIno: number, name: string): number | undefined;
  /** Reads up to `length` bytes at `offset` of a regular file; short only at end of file. Holes read as zeros. */
  read(ino: number, offset: number, length: number): Buffer;
  readlink(ino: number): string;
}

/** Mode bits to file type (POSIX S_IFMT). */
export function typeFromMode(mode: number): FileType {
  switch (mode & 0o170000) {
    case 0o100000:
      return 'file';
    case 0o040000:
      return 'dir';
    case 0o120000:
      return 'symlink';
    case 0o020000:
      return 'chardev';
    case 0o060000:
      return 'blockdev';
    case 0o010000:
      return 'fifo';
    case 0o140000:
      return 'socket';
    default:
      return 'unknown';
  }
}
