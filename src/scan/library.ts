/**
 * Image libraries: a directory (or a libvirt storage pool) holding many disk images, scanned as one job.
 *
 * Discovery walks the directory without following symbolic links out of it, tells images from other files by
 * content (container magic, a partition table, a filesystem, an OVA archive or OVF descriptor — never by name), and
 * leaves out files that are only parts of another image (the extents of a VMDK descriptor, the disks an OVF
 * descriptor lists): they are scanned as that image. Backing files are images in their own right (the templates of
 * linked clones) and are scanned too.
 */
import { lstatSync, readdirSync, realpathSync, type Dirent } from 'node:fs';
import { basename, join } from 'node:path';
import { detectFormat, isInside } from '../disk/open.js';
import { readPartitions } from '../disk/partition/index.js';
import { RawDevice } from '../disk/raw.js';
import { HyperwardError, isHyperwardError } from '../errors.js';
import { probeContent } from '../fs/probe.js';
import { FileSource } from '../source/file.js';
import { applianceKind, tarHasDescriptor } from './appliance.js';

/** Limits of a directory walk. */
export interface DiscoverOptions {
  /** Directory levels below the one named, at most (default 8). */
  maxDepth?: number;
  /** Directory entries looked at, at most (default 100,000). */
  maxEntries?: number;
}

/** A file that was looked at and left out, and why. */
export interface SkippedFile {
  path: string;
  reason: string;
}

export interface Discovery {
  /** The directory as named. */
  root: string;
  /** Image files, sorted by path. */
  images: string[];
  /** Files that are not images, or only parts of one, and entries that could not be read. */
  skipped: SkippedFile[];
}

/** What a file holds, judged by its first bytes. */
export type FileKind = 'image' | 'appliance' | 'not-image';

/**
 * Tells a disk image (any container format, or a raw disk with a partition table or a filesystem), an appliance
 * package (OVA archive, OVF descriptor) and anything else apart, from the file's content.
 * @throws HyperwardError when the file cannot be opened or read
 */
export function classifyFile(path: string): FileKind {
  const src = new FileSource(path);
  try {
    if (src.size === 0) return 'not-image';
    const kind = applianceKind(path);
    if (kind === 'ovf' || (kind === 'ova' && tarHasDescriptor(path))) return 'appliance';
    if (kind === 'ova') return 'not-image'; // a tar archive without an OVF descriptor: a backup, say
    if (detectFormat(src) !== 'raw') return 'image';
    if (src.size < 1024) return 'not-image';
    const dev = new RawDevice(src);
    try {
      if (readPartitions(dev).scheme !== 'none') return 'image';
    } catch (e) {
      // A damaged partition table is still a disk: the scan reports the damage.
      if (isHyperwardError(e)) return 'image';
      throw e;
    }
    return probeContent(dev) !== 'unknown' ? 'image' : 'not-image';
  } finally {
    src.close();
  }
}

/**
 * Lists the images under `dir` (see the module comment). Symbolic links are followed only when they resolve inside
 * `dir`; special files are skipped.
 * @throws HyperwardError E_NOT_FOUND / E_USAGE when `dir` is not a readable directory
 */
export function discoverImages(dir: string, opts: DiscoverOptions = {}): Discovery {
  const maxDepth = opts.maxDepth ?? 8;
  const maxEntries = opts.maxEntries ?? 100_000;
  let realRoot: string;
  try {
    realRoot = realpathSync(dir);
  } catch (e) {
    throw new HyperwardError('E_NOT_FOUND', `cannot open directory: ${(e as Error).message}`, { file: dir });
  }
  const out: Discovery = { root: dir, images: [], skipped: [] };
  const seen = new Map<string, string>();
  const rootStat = lstatSync(realRoot);
  seen.set(`${rootStat.dev}:${rootStat.ino}`, dir);
  // Symbolic links are followed after everything else, so an image is listed under its own name, not a link's.
  const links: Array<{ path: string; depth: number }> = [];
  let entries = 0;
  const visit = (p: string, real: string, depth: number): void => {
    let st;
    try {
      st = lstatSync(real);
    } catch (e) {
      out.skipped.push({ path: p, reason: (e as Error).message });
      return;
    }
    const id = `${st.dev}:${st.ino}`;
    const first = seen.get(id);
    if (first !== undefined) {
      // A hard link or a symbolic link to something already listed: scanned once, under its first name.
      if (!st.isDirectory()) out.skipped.push({ path: p, reason: `same file as ${first}` });
      return;
    }
    seen.set(id, p);
    if (st.isDirectory()) {
      if (depth >= maxDepth) out.skipped.push({ path: p, reason: `deeper than ${maxDepth} levels` });
      else walk(real, depth + 1);
      return;
    }
    if (!st.isFile()) {
      out.skipped.push({ path: p, reason: 'not a regular file' });
      return;
    }
    try {
      if (classifyFile(real) === 'not-image') out.skipped.push({ path: p, reason: 'not a disk image' });
      else out.images.push(real);
    } catch (e) {
      if (!isHyperwardError(e)) throw e;
      out.skipped.push({ path: p, reason: e.message });
    }
  };
  const walk = (path: string, depth: number): void => {
    let list: Dirent[];
    try {
      list = readdirSync(path, { withFileTypes: true });
    } catch (e) {
      out.skipped.push({ path, reason: `cannot list: ${(e as Error).message}` });
      return;
    }
    list.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const d of list) {
      if (++entries > maxEntries) {
        out.skipped.push({ path, reason: `more than ${maxEntries} entries: the rest were not looked at` });
        return;
      }
      const p = join(path, d.name);
      if (d.isSymbolicLink()) links.push({ path: p, depth });
      else visit(p, p, depth);
    }
  };
  walk(dir, 0);
  for (let i = 0; i < links.length; i++) {
    const { path: p, depth } = links[i]!;
    let real: string;
    try {
      real = realpathSync(p);
    } catch {
      out.skipped.push({ path: p, reason: 'dangling symbolic link' });
      continue;
    }
    if (!isInside(realRoot, real)) {
      out.skipped.push({ path: p, reason: `symbolic link to ${real}, outside ${dir}` });
      continue;
    }
    // Scanned by its resolved path, not the link's: a link retargeted between discovery and the scan cannot lead
    // outside the directory.
    visit(p, real, depth);
  }
  out.images.sort();
  return out;
}

/**
 * Whether an image found in a library may be left to the image that reads it (`owner`) rather than scanned on its
 * own: the disks an OVF descriptor names (the appliance scans each whole), and extents named as VMware names a
 * descriptor's extents (`web01-flat.vmdk`, `web01-s001.vmdk` for `web01.vmdk`). Anything else a descriptor names is
 * scanned on its own too: a hostile descriptor naming a few bytes of another image must not hide that image.
 */
export function foldsInto(component: string, owner: string): boolean {
  if (applianceKind(owner) === 'ovf') return true;
  const base = basename(owner).replace(/\.vmdk$/i, '');
  const name = basename(component);
  return /\.vmdk$/i.test(owner) && /\.vmdk$/i.test(name) && name.startsWith(`${base}-`);
}

/**
 * Leaves out of `images` those that are parts of another one (`foldsInto`), given each image's component files
 * (files it reads that are not images of their own, such as VMDK extents and the disks of an OVF descriptor), by
 * real path. `ownerOf` tells the owner of any component, folded or not.
 */
export function withoutComponents(
  images: readonly string[],
  componentsOf: (image: string) => readonly string[],
  mayFold: (component: string, owner: string) => boolean = foldsInto,
): { images: string[]; components: SkippedFile[]; ownerOf: (path: string) => string | undefined } {
  const real = (p: string): string => {
    try {
      return realpathSync(p);
    } catch {
      return p;
    }
  };
  const owner = new Map<string, string>();
  for (const img of images) {
    const self = real(img);
    for (const c of componentsOf(img)) {
      const rc = real(c);
      if (rc !== self && !owner.has(rc)) owner.set(rc, img);
    }
  }
  const kept: string[] = [];
  const components: SkippedFile[] = [];
  for (const img of images) {
    const by = owner.get(real(img));
    if (by !== undefined && !owner.has(real(by)) && mayFold(img, by)) {
      components.push({ path: img, reason: `part of ${by}` });
    } else kept.push(img);
  }
  return { images: kept, components, ownerOf: (p) => owner.get(real(p)) };
}
