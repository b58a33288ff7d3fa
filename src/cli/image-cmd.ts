import { posix } from 'node:path';
import { HyperwardError } from '../errors.js';
import type { Inode } from '../fs/types.js';
import type { Vfs } from '../fs/vfs.js';
import { mountImage, type MountedImage } from '../scan/image.js';
import { EXIT } from './exit.js';
import type { ImageOpts } from './main.js';
import { Progress } from './progress.js';

/** The filesystem and in-filesystem path that `path` names: a chosen partition, or the OS tree. */
function locate(m: MountedImage, path: string, partition: number | undefined): { vfs: Vfs; path: string } {
  if (partition !== undefined) {
    const v = m.volumes.find((x) => x.info.partition === partition);
    if (!v?.vfs) {
      const why = v?.error?.message ?? v?.info.note ?? `partition ${partition} holds no readable filesystem`;
      throw new HyperwardError('E_UNSUPPORTED_FORMAT', why, { file: m.dev.name });
    }
    return { vfs: v.vfs, path };
  }
  if (m.root) return m.root.locate(path);
  const readable = m.volumes.filter((v) => v.vfs);
  if (readable.length === 1) return { vfs: readable[0]!.vfs!, path };
  const list = m.volumes.map((v) => `${v.info.partition} (${v.info.type})`).join(', ');
  throw new HyperwardError('E_USAGE', `no OS root found; choose a filesystem with --partition N: ${list}`, {
    file: m.dev.name,
  });
}

/**
 * The options of `image ls` and `image cat`; `disk` (an appliance's `ovf:diskId`, `--disk ID`) chooses which disk
 * of an OVA or OVF package to read, by default the one holding the OS.
 */
type ReadOpts = ImageOpts & { disk?: string };

/** Opens an image, or a disk of an appliance (told by content), read-only. */
function open(img: string, o: ReadOpts): MountedImage {
  const opts: Parameters<typeof mountImage>[1] = { allowOutside: o.allowBackingOutside };
  if (o.partition !== undefined) opts.partition = o.partition;
  if (o.disk !== undefined) opts.disk = o.disk;
  return mountImage(img, opts);
}

function modeString(st: Inode): string {
  const t = {
    file: '-',
    dir: 'd',
    symlink: 'l',
    chardev: 'c',
    blockdev: 'b',
    fifo: 'p',
    socket: 's',
    unknown: '?',
  }[st.type];
  const bits = 'rwxrwxrwx'
    .split('')
    .map((c, i) => ((st.mode >> (8 - i)) & 1 ? c : '-'))
    .join('');
  return t + bits;
}

/** `hyperward image ls`: names one per line, or `-l` long lines; `-R` walks down with full paths. */
export function runLs(
  img: string,
  path: string,
  o: ReadOpts & { long: boolean; recursive: boolean },
): number {
  const m = open(img, o);
  try {
    const { vfs, path: inner } = locate(m, path, o.partition);
    const out: string[] = [];
    const flush = (): void => {
      if (out.length > 0) process.stdout.write(out.join('\n') + '\n');
      out.length = 0;
    };
    const walk = (dir: string, shown: string, depth: number): void => {
      if (depth > 256) throw new HyperwardError('E_LIMIT', `directory tree deeper than 256 at ${shown}`);
      const entries = vfs.readdir(dir).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      for (const e of entries) {
        const full = posix.join(dir, e.name);
        const name = o.recursive ? posix.join(shown, e.name) : e.name;
        if (o.long) {
          const st = vfs.fs.stat(e.ino);
          const when = new Date(st.mtime * 1000).toISOString().slice(0, 19).replace('T', ' ');
          const link = st.type === 'symlink' ? ` -> ${vfs.fs.readlink(e.ino)}` : '';
          out.push(
            `${modeString(st)} ${String(st.uid).padStart(5)} ${String(st.gid).padStart(5)} ${String(st.size).padStart(12)} ${when} ${name}${link}`,
          );
        } else {
          out.push(name);
        }
        if (out.length >= 4096) flush();
        if (o.recursive && e.type === 'dir') walk(full, name, depth + 1);
      }
    };
    walk(inner, path, 0);
    flush();
    return EXIT.ok;
  } finally {
    m.close();
  }
}

/** `hyperward image cat`: streams a file to stdout, honouring back-pressure; progress on a TTY. */
export async function runCat(img: string, path: string, o: ReadOpts & { quiet: boolean }): Promise<number> {
  const m = open(img, o);
  try {
    const { vfs, path: inner } = locate(m, path, o.partition);
    const st = vfs.stat(inner);
    if (st.type !== 'file') throw new HyperwardError('E_USAGE', `not a regular file: ${path}`, { file: img });
    const progress = new Progress(path, st.size, o.quiet);
    let done = 0;
    for (const chunk of vfs.chunks(inner)) {
      done += chunk.length;
      if (!process.stdout.write(chunk)) {
        await new Promise<void>((resolve) => process.stdout.once('drain', resolve));
      }
      progress.update(done);
    }
    progress.done();
    return EXIT.ok;
  } finally {
    m.close();
  }
}
