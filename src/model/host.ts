/**
 * Inventory of hypervisor hosts and VM configurations. Readers in src/platform fill it; checks in src/checks read
 * it and nothing else, so a host read over SSH, from a directory, or from a disk image is judged by the same code.
 * Types only.
 */
import type { Package } from './inventory.js';

/** One `key = value` setting as it stood in a file: the evidence a finding points at. */
export interface ConfigEntry {
  key: string;
  /** The value as written, with quotes removed. */
  value: string;
  file: string;
  /** 1-based line number. */
  line: number;
}

/** A file that a reader could not parse: it becomes an `unreadable` finding and the run goes on. */
export interface Unreadable {
  file: string;
  code: string;
  message: string;
}

/** Everything known about one assessed target: a host, or a set of configuration files. */
export interface HostInventory {
  /** Resource id prefix: the host name, or `config` for loose files. */
  name: string;
  /** How it was read: `local`, `root:DIR`, `ssh://user@host`, `image:PATH`, `vsphere://host`, `files`. */
  source: string;
  /** The host's own operating system, when its release files could be read. */
  os?: import('./inventory.js').OsInfo;
  packages: Package[];
  /** Per platform; readers add their own fields (see src/model/<platform>.ts). */
  kvm?: import('./kvm.js').KvmHost;
  libvirtDomains: import('./kvm.js').LibvirtDomain[];
  libvirtNetworks: import('./kvm.js').LibvirtNetwork[];
  libvirtNwFilters: import('./kvm.js').LibvirtNwFilter[];
  proxmox?: import('./proxmox.js').ProxmoxHost;
  proxmoxVms: import('./proxmox.js').ProxmoxVm[];
  vmx: import('./vmware.js').VmxConfig[];
  esxi: import('./vmware.js').EsxiHost[];
  unreadable: Unreadable[];
}

export function emptyInventory(name: string, source: string): HostInventory {
  return {
    name,
    source,
    packages: [],
    libvirtDomains: [],
    libvirtNetworks: [],
    libvirtNwFilters: [],
    proxmoxVms: [],
    vmx: [],
    esxi: [],
    unreadable: [],
  };
}
