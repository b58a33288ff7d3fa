/**
 * Reads a Proxmox VE host from its root filesystem: the cluster configuration under `/etc/pve` (datacenter.cfg,
 * storage.cfg, firewall files, qemu-server VM configs), the cluster name from corosync.conf, and the pve-manager
 * version from the dpkg database or a saved `pveversion` output. Each file that exists but cannot be read or
 * parsed becomes an `unreadable` entry (and is listed in `ProxmoxHost.unreadableFiles`, so checks say `unknown`
 * instead of applying a default); the rest is read on. Never writes.
 */
import { HyperwardError, isHyperwardError } from '../../errors.js';
import type { Unreadable } from '../../model/host.js';
import type { ProxmoxFirewall, ProxmoxHost, ProxmoxVersion, ProxmoxVm } from '../../model/proxmox.js';
import { readDpkg, type RootReader } from '../../inspect/system.js';
import { parseProxmoxDatacenter } from './datacenter.js';
import { parseProxmoxFirewall, type FirewallKind } from './firewall.js';
import { parseProxmoxVm } from './qemu-server.js';
import { parseProxmoxStorage } from './storage.js';
import { dict, MAX_CONFIG_CHARS } from './text.js';

const PVE = '/etc/pve';
/** Most VM configs read from one host, and most cluster nodes. */
const MAX_VMS = 100_000;
const MAX_NODES = 1000;
/** Where a `pveversion` (or `pveversion -v`) output saved beside a collected tree is looked for. */
export const PVEVERSION_FILES = ['/pveversion', '/pveversion.txt'] as const;

export interface ReadProxmoxOptions {
  /** Output of `pveversion` or `pveversion -v` captured by the caller (e.g. over SSH). */
  pveversion?: string;
}

export interface ProxmoxRead {
  proxmox: ProxmoxHost;
  vms: ProxmoxVm[];
  unreadable: Unreadable[];
}

/**
 * The pve-manager version in `pveversion` output: `pve-manager/8.2.4/faa8… (running kernel: …)` or, from
 * `pveversion -v`, `pve-manager: 8.2.4 (running version: 8.2.4/faa8…)`.
 */
export function parsePveversion(text: string): string | undefined {
  const m = /^\s*pve-manager(?:\/|:\s*)([0-9][0-9A-Za-z.+~-]*)/m.exec(text.slice(0, 1024 * 1024));
  return m ? m[1] : undefined;
}

/** `cluster_name` of a corosync.conf, if any. */
export function parseCorosyncClusterName(text: string): string | undefined {
  const m = /^\s*cluster_name\s*:\s*(\S+)\s*$/m.exec(text.slice(0, 1024 * 1024));
  return m ? m[1] : undefined;
}

/**
 * Reads the Proxmox VE configuration of a root filesystem.
 *
 * @returns undefined when there is no `/etc/pve` directory (not a Proxmox VE host)
 * @example
 * const r = readProxmoxHost(root);
 * if (r) { inv.proxmox = r.proxmox; inv.proxmoxVms.push(...r.vms); inv.unreadable.push(...r.unreadable); }
 */
export function readProxmoxHost(root: RootReader, options: ReadProxmoxOptions = {}): ProxmoxRead | undefined {
  const unreadable: Unreadable[] = [];
  const host: ProxmoxHost = {
    root: PVE,
    clusterName: 'pve',
    nodes: [],
    hostFirewalls: dict<ProxmoxFirewall>(),
    firewallDirRead: false,
    unreadableFiles: [],
  };
  const fail = (file: string, e: unknown, during: 'read' | 'parse' = 'read'): void => {
    const why = (e as Error)?.message ?? String(e);
    const err = isHyperwardError(e)
      ? e
      : during === 'read'
        ? new HyperwardError('E_IO', `cannot read: ${why}`, { file }, { cause: e })
        : new HyperwardError('E_INTERNAL', `parser failure: ${why}`, { file }, { cause: e });
    unreadable.push({ file, code: err.code, message: err.message });
    if (!host.unreadableFiles.includes(file)) host.unreadableFiles.push(file);
  };
  const list = (dir: string): string[] | undefined => {
    try {
      return root.list(dir);
    } catch (e) {
      fail(dir, e);
      return undefined;
    }
  };
  const listSet = (dir: string): Set<string> | undefined => {
    const names = list(dir);
    return names === undefined ? undefined : new Set(names);
  };

  const top = listSet(PVE);
  if (top === undefined) return undefined;

  // On a disk image /etc/pve is an empty mount point: pmxcfs keeps the tree in an SQLite database.
  if (top.size === 0) {
    const db = '/var/lib/pve-cluster/config.db';
    if (!listSet('/var/lib/pve-cluster')?.has('config.db')) return undefined; // nothing of Proxmox VE here
    const why =
      '/etc/pve is empty (the cluster filesystem is not mounted): its files live in this pmxcfs database, ' +
      'which is not read; scan the running host, or a copy of its /etc/pve';
    fail(db, new HyperwardError('E_UNSUPPORTED_FORMAT', why, { file: db }));
    for (const f of ['datacenter.cfg', 'storage.cfg', 'firewall']) host.unreadableFiles.push(`${PVE}/${f}`);
  }

  // Reads a file named in its directory's listing; one that is listed but cannot be read is unreadable.
  const readText = (
    dir: string,
    names: ReadonlySet<string> | undefined,
    name: string,
  ): string | undefined => {
    if (!names?.has(name)) return undefined;
    const path = `${dir}/${name}`;
    let buf: Buffer | undefined;
    try {
      buf = root.tryReadFile(path, MAX_CONFIG_CHARS);
    } catch (e) {
      fail(path, e);
      return undefined;
    }
    if (buf === undefined) {
      const why = `listed but not readable: not a regular file, or over ${MAX_CONFIG_CHARS} bytes`;
      fail(path, new HyperwardError('E_LIMIT', why, { file: path }));
      return undefined;
    }
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(buf);
    } catch (e) {
      fail(path, new HyperwardError('E_UNSUPPORTED_FORMAT', 'not UTF-8 text', { file: path }, { cause: e }));
      return undefined;
    }
  };
  const parse = <T>(
    path: string,
    text: string | undefined,
    fn: (t: string, f: string) => T,
  ): T | undefined => {
    if (text === undefined) return undefined;
    try {
      return fn(text, path);
    } catch (e) {
      fail(path, e, 'parse');
      return undefined;
    }
  };
  const firewall = (dir: string, names: ReadonlySet<string> | undefined, name: string, kind: FirewallKind) =>
    parse(`${dir}/${name}`, readText(dir, names, name), (t, f) => parseProxmoxFirewall(t, f, kind));

  // Cluster identity.
  host.nodes = top.has('nodes') ? (list(`${PVE}/nodes`) ?? []).slice().sort().slice(0, MAX_NODES) : [];
  const corosync = readText(PVE, top, 'corosync.conf');
  let hostname: string | undefined;
  try {
    hostname = root.tryReadFile('/etc/hostname', 4096)?.toString('utf8').split('\n')[0]?.trim() || undefined;
  } catch {
    hostname = undefined; // only a fallback for the cluster's name
  }
  host.clusterName =
    (corosync !== undefined ? parseCorosyncClusterName(corosync) : undefined) ??
    (host.nodes.length === 1 ? host.nodes[0] : undefined) ??
    hostname ??
    'pve';

  const dc = parse(`${PVE}/datacenter.cfg`, readText(PVE, top, 'datacenter.cfg'), parseProxmoxDatacenter);
  if (dc) host.datacenter = dc;
  const storage = parse(`${PVE}/storage.cfg`, readText(PVE, top, 'storage.cfg'), parseProxmoxStorage);
  if (storage) host.storage = storage;

  const fwDir = `${PVE}/firewall`;
  let fwNames: Set<string> | undefined;
  if (top.has('firewall')) {
    fwNames = listSet(fwDir);
    host.firewallDirRead = fwNames !== undefined;
    if (fwNames === undefined && !host.unreadableFiles.includes(fwDir)) host.unreadableFiles.push(fwDir);
  } else {
    host.firewallDirRead = top.size > 0; // no firewall directory: no firewall file, all defaults
  }
  const cluster = firewall(fwDir, fwNames, 'cluster.fw', 'cluster');
  if (cluster) host.clusterFirewall = cluster;

  // Per node: host.fw, and the VMs it runs.
  const vmFiles = new Map<string, { path: string; node?: string }>();
  const addVms = (dir: string, node?: string): void => {
    for (const n of (list(dir) ?? []).slice().sort()) {
      if (vmFiles.size >= MAX_VMS) break;
      if (/^\d+\.conf$/.test(n) && !vmFiles.has(n))
        vmFiles.set(n, { path: `${dir}/${n}`, ...(node ? { node } : {}) });
    }
  };
  for (const node of host.nodes) {
    const dir = `${PVE}/nodes/${node}`;
    const names = listSet(dir);
    const fw = firewall(dir, names, 'host.fw', 'host');
    if (fw) host.hostFirewalls[node] = fw;
    if (names?.has('qemu-server')) addVms(`${dir}/qemu-server`, node);
  }
  // `/etc/pve/qemu-server` is a link to the local node's directory: read what the node walk did not.
  if (top.has('qemu-server')) addVms(`${PVE}/qemu-server`);

  const vms: ProxmoxVm[] = [];
  const byId = [...vmFiles].sort((a, b) => Number.parseInt(a[0], 10) - Number.parseInt(b[0], 10));
  for (const [name, { path, node }] of byId) {
    const dir = path.slice(0, path.lastIndexOf('/'));
    const vm = parse(path, readText(dir, new Set([name]), name), parseProxmoxVm);
    if (!vm) continue;
    if (node !== undefined) vm.node = node;
    const fw = firewall(fwDir, fwNames, `${vm.vmid}.fw`, 'vm');
    if (fw) vm.firewall = fw;
    vms.push(vm);
  }

  const version = readVersion(root, options, fail);
  if (version) host.version = version;
  return { proxmox: host, vms, unreadable };
}

function readVersion(
  root: RootReader,
  options: ReadProxmoxOptions,
  fail: (file: string, e: unknown) => void,
): ProxmoxVersion | undefined {
  try {
    const pkgs = readDpkg(root);
    const pm = pkgs?.find((p) => p.name === 'pve-manager');
    if (pm) return { version: pm.version, source: pm.source };
  } catch (e) {
    fail('/var/lib/dpkg/status', e);
  }
  if (options.pveversion !== undefined) {
    const v = parsePveversion(options.pveversion);
    if (v) return { version: v, source: 'pveversion' };
  }
  for (const path of PVEVERSION_FILES) {
    try {
      const buf = root.tryReadFile(path, 1024 * 1024);
      const v = buf ? parsePveversion(buf.toString('utf8')) : undefined;
      if (v) return { version: v, source: path };
    } catch (e) {
      fail(path, e);
    }
  }
  return undefined;
}
