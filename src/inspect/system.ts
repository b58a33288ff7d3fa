import { isHyperwardError, type HyperwardError } from '../errors.js';
import type { Package, SystemInventory } from '../model/inventory.js';
import { apkInventoryPackage, readApkDatabase } from './apk.js';
import { parseDpkgStatus } from './dpkg.js';
import { readRpmDatabase, rpmPackages } from './rpm/index.js';
import { detectHostname, detectOs, type FileReader } from './os-release.js';

/** A root filesystem as inspection sees it. */
export interface RootReader extends FileReader {
  /** Names in a directory, or undefined when it is not there. */
  list(path: string): string[] | undefined;
}

const MAX_DB = 256 * 1024 * 1024;
const MAX_STATUS_D = 100_000;

/** Installed Debian packages: `/var/lib/dpkg/status` plus every file of `/var/lib/dpkg/status.d/`. */
export function readDpkg(root: RootReader): Package[] | undefined {
  const pkgs: Package[] = [];
  let found = false;
  const status = root.tryReadFile('/var/lib/dpkg/status', MAX_DB);
  if (status !== undefined) {
    found = true;
    pkgs.push(...parseDpkgStatus(status.toString('utf8'), '/var/lib/dpkg/status'));
  }
  const names = root.list('/var/lib/dpkg/status.d');
  if (names !== undefined) {
    found = true;
    for (const name of names.slice(0, MAX_STATUS_D).sort()) {
      // `status.d/NAME.md5sums` files sit beside the control files in distroless images.
      if (name.endsWith('.md5sums')) continue;
      const path = `/var/lib/dpkg/status.d/${name}`;
      const buf = root.tryReadFile(path, MAX_DB);
      if (buf !== undefined) pkgs.push(...parseDpkgStatus(buf.toString('utf8'), path));
    }
  }
  return found ? pkgs : undefined;
}

/** What every package database of a root yields, and what could not be read of them. */
export interface InstalledPackages {
  packages: Package[];
  /** Databases, records or pages that could not be read (each skipped, the rest read) — never silently dropped. */
  problems: HyperwardError[];
}

/**
 * Installed packages from every package manager's database a root holds: dpkg, RPM (SQLite, Berkeley DB or NDB
 * backend) and apk. A damaged database or record is a problem, and the others are still read.
 */
export function readInstalledPackages(root: RootReader): InstalledPackages {
  const out: InstalledPackages = { packages: [], problems: [] };
  const attempt = (read: () => void): void => {
    try {
      read();
    } catch (e) {
      if (!isHyperwardError(e)) throw e;
      out.problems.push(e);
    }
  };
  attempt(() => out.packages.push(...(readDpkg(root) ?? [])));
  attempt(() => {
    const db = readRpmDatabase(root);
    if (!db) return;
    out.packages.push(...rpmPackages(db));
    out.problems.push(...db.problems);
  });
  attempt(() => {
    const db = readApkDatabase(root);
    if (!db) return;
    out.packages.push(...db.records.map((r) => apkInventoryPackage(r, db.path)));
    out.problems.push(...db.problems);
  });
  return out;
}

/** OS identity, host name and installed packages of one root filesystem, and what could not be read. */
export function inspectSystem(root: RootReader): SystemInventory & { problems: HyperwardError[] } {
  const inv: SystemInventory & { problems: HyperwardError[] } = { packages: [], problems: [] };
  const os = detectOs(root);
  if (os) inv.os = os;
  const hostname = detectHostname(root);
  if (hostname) inv.hostname = hostname;
  const installed = readInstalledPackages(root);
  inv.packages = installed.packages;
  inv.problems = installed.problems;
  inv.packages.sort((a, b) =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : a.arch < b.arch ? -1 : a.arch > b.arch ? 1 : 0,
  );
  return inv;
}
