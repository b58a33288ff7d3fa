import type { Package, SystemInventory } from '../model/inventory.js';
import { parseDpkgStatus } from './dpkg.js';
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

/** OS identity, host name and installed packages of one root filesystem. */
export function inspectSystem(root: RootReader): SystemInventory {
  const inv: SystemInventory = { packages: [] };
  const os = detectOs(root);
  if (os) inv.os = os;
  const hostname = detectHostname(root);
  if (hostname) inv.hostname = hostname;
  inv.packages = readDpkg(root) ?? [];
  inv.packages.sort((a, b) =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : a.arch < b.arch ? -1 : a.arch > b.arch ? 1 : 0,
  );
  return inv;
}
