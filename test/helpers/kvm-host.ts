/**
 * Test support for the kvm.host.* checks and the host reader: a root tree in a temporary directory built from
 * Debian 12's real libvirt files (fixtures/kvm/debian-12, see fixtures/kvm/README.md), edited minimally per test,
 * and read back through `readKvmHost` over a `DirRoot`. Not used at run time.
 */
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HyperwardError } from '../../src/errors.js';
import { emptyInventory, type HostInventory, type Unreadable } from '../../src/model/host.js';
import type { KvmHost } from '../../src/model/kvm.js';
import { readKvmHost } from '../../src/platform/kvm/host.js';
import { DirRoot } from '../../src/source/dir.js';

export const FIXTURE_ROOT = fileURLToPath(new URL('../../fixtures/kvm/debian-12', import.meta.url));
export const FIXTURE_PACKAGES = fileURLToPath(
  new URL('../../fixtures/kvm/debian-12-packages', import.meta.url),
);

/** The text of a fixture file (path inside the root tree, e.g. `/etc/libvirt/qemu.conf`). */
export function fixtureText(path: string): string {
  return readFileSync(join(FIXTURE_ROOT, path), 'utf8');
}

/** 1-based number of the only line of `text` equal to `line` (fails the test when it is not exactly one). */
export function lineOf(text: string, line: string): number {
  const lines = text.split('\n');
  const hits = lines.flatMap((l, i) => (l === line ? [i + 1] : []));
  if (hits.length !== 1) throw new Error(`expected one line ${JSON.stringify(line)}, found ${hits.length}`);
  return hits[0]!;
}

export interface HostTree {
  dir: string;
  /** Reads a file of the tree. */
  read(path: string): string;
  write(path: string, text: string): void;
  /** Replaces exactly one occurrence of `from` (a test that no longer matches its fixture fails loudly). */
  replace(path: string, from: string, to: string): void;
  /** Uncomments the line `#key = value` of a libvirt configuration file; returns its line number. */
  uncomment(path: string, line: string): number;
  /** `ln -s target path` inside the tree. */
  symlink(target: string, path: string): void;
  remove(path: string): void;
  /** readKvmHost over the tree. */
  scan(): { kvm: KvmHost; unreadable: Unreadable[] };
  /** An inventory named `kvm1` holding the tree's KVM host. */
  inventory(): HostInventory;
  cleanup(): void;
}

/** /var/lib/dpkg/status from the packages' real control paragraphs, each marked installed. */
export function dpkgStatus(): string {
  return readdirSync(FIXTURE_PACKAGES)
    .filter((n) => n.endsWith('.control'))
    .sort()
    .map(
      (n) => `${readFileSync(join(FIXTURE_PACKAGES, n), 'utf8').trimEnd()}\nStatus: install ok installed\n`,
    )
    .join('\n');
}

/**
 * A Debian 12 libvirt host as the packages install it: the shipped files, the dpkg database, the accounts the
 * packages' maintainer scripts create, and the socket units `deb-systemd-helper` enables (libvirtd.socket,
 * libvirtd-ro.socket, libvirtd-admin.socket; the TCP and TLS sockets stay disabled).
 */
export function debianHostTree(opts: { packages?: boolean } = {}): HostTree {
  const dir = mkdtempSync(join(tmpdir(), 'hyperward-kvm-'));
  cpSync(FIXTURE_ROOT, dir, { recursive: true });
  const at = (p: string): string => join(dir, p);
  const tree: HostTree = {
    dir,
    read: (p) => readFileSync(at(p), 'utf8'),
    write: (p, text) => {
      mkdirSync(dirname(at(p)), { recursive: true });
      writeFileSync(at(p), text);
    },
    replace: (p, from, to) => {
      const text = tree.read(p);
      const n = text.split(from).length - 1;
      if (n !== 1)
        throw new HyperwardError('E_INTERNAL', `${p}: expected one ${JSON.stringify(from)}, found ${n}`);
      tree.write(p, text.replace(from, to));
    },
    uncomment: (p, line) => {
      const n = lineOf(tree.read(p), `#${line}`);
      tree.replace(p, `\n#${line}\n`, `\n${line}\n`);
      return n;
    },
    symlink: (target, p) => {
      mkdirSync(dirname(at(p)), { recursive: true });
      symlinkSync(target, at(p));
    },
    remove: (p) => rmSync(at(p), { recursive: true, force: true }),
    scan: () => {
      const r = readKvmHost(new DirRoot(dir));
      if (!r) throw new HyperwardError('E_INTERNAL', 'no KVM host found in the tree');
      return r;
    },
    inventory: () => {
      const inv = emptyInventory('kvm1', `root:${dir}`);
      const r = tree.scan();
      inv.kvm = r.kvm;
      inv.unreadable.push(...r.unreadable);
      return inv;
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
  if (opts.packages !== false) tree.write('/var/lib/dpkg/status', dpkgStatus());
  // Accounts: root, and the system user libvirt-daemon-system's postinst adds (adduser --system libvirt-qemu).
  tree.write(
    '/etc/passwd',
    'root:x:0:0:root:/root:/bin/bash\nlibvirt-qemu:x:64055:108:Libvirt Qemu,,,:/var/lib/libvirt:/usr/sbin/nologin\n',
  );
  for (const unit of ['libvirtd.socket', 'libvirtd-ro.socket', 'libvirtd-admin.socket']) {
    tree.symlink(`/lib/systemd/system/${unit}`, `/etc/systemd/system/sockets.target.wants/${unit}`);
  }
  return tree;
}
