/**
 * Test support: a writer for small trees. Tests build an `/etc/pve`
 * tree in a temporary directory and read it back through `DirRoot`, as a host would be read.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, normalize } from 'node:path';
import { emptyInventory, type HostInventory } from '../../src/model/host.js';
import { DirRoot } from '../../src/source/dir.js';
import {
  readProxmoxHost,
  type ProxmoxRead,
  type ReadProxmoxOptions,
} from '../../src/platform/proxmox/host.js';

/** Writes `files` (path inside the tree -> content; a path ending in `/` is an empty directory) under `dir`. */
export function writeTree(dir: string, files: Record<string, string | Buffer>): void {
  for (const [path, content] of Object.entries(files)) {
    const p = join(dir, normalize(`./${path}`));
    if (path.endsWith('/')) {
      mkdirSync(p, { recursive: true });
      continue;
    }
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, content);
  }
}

/** The text of a file under `fixtures/proxmox/` (real Proxmox configurations; see the README there). */
export function fixtureText(rel: string): string {
  return readFileSync(new URL(`../../fixtures/proxmox/${rel}`, import.meta.url), 'utf8');
}

/**
 * Builds a root filesystem from `files` in a temporary directory, reads it as a host would be read
 * (`readProxmoxHost` through a `RootReader`), removes the directory, and returns the inventory.
 */
export function inventoryFromTree(
  files: Record<string, string | Buffer>,
  options: ReadProxmoxOptions = {},
): { inv: HostInventory; read: ProxmoxRead | undefined } {
  const dir = mkdtempSync(join(tmpdir(), 'hyperward-pve-'));
  try {
    writeTree(dir, files);
    const read = readProxmoxHost(new DirRoot(dir), options);
    const inv = emptyInventory('pve-test', `root:${dir}`);
    if (read) {
      inv.proxmox = read.proxmox;
      inv.proxmoxVms.push(...read.vms);
      inv.unreadable.push(...read.unreadable);
    }
    return { inv, read };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
