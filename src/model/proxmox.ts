/** Proxmox VE: cluster configuration (`/etc/pve`) and qemu-server VMs. Types only. */
import type { ConfigEntry } from './host.js';

/**
 * One `key: value` setting of a Proxmox file. For keys whose value is a property string
 * (`net0: virtio=BC:24:11:..,bridge=vmbr0,firewall=1`), `props` holds it split into keys, the first unnamed
 * element under the format's default key (`model` + `macaddr` for `netN`, `host` for `hostpciN`/`usbN`, `file`
 * for disks). `propsError` says why a value that should be a property string is not one (Proxmox rejects such
 * a line).
 */
export interface ProxmoxSetting extends ConfigEntry {
  props?: Record<string, string>;
  propsError?: string;
}

/** Settings of one section, by key; a key set twice keeps its last value, as Proxmox does. */
export type ProxmoxSettings = Record<string, ProxmoxSetting>;

/** A `[snapshot]` or `[special:...]` section of a VM config: a past or auxiliary state, never the running one. */
export interface ProxmoxVmSection {
  name: string;
  /** 1-based line of the `[name]` header. */
  line: number;
  settings: ProxmoxSettings;
  /** The section's own `#` comment lines, URL-decoded. */
  description?: string;
}

/** One `/etc/pve/qemu-server/<vmid>.conf` (or a loose qemu-server file). */
export interface ProxmoxVm {
  vmid: string;
  file: string;
  /** `name:` of the current config. */
  name?: string;
  /** The cluster node whose directory held the file (`/etc/pve/nodes/<node>/qemu-server`), when known. */
  node?: string;
  /** The current configuration: the lines before the first `[section]` header. */
  config: ProxmoxSettings;
  /** `#` comment lines at the top (and `description:`), URL-decoded: the VM's notes. */
  description?: string;
  /** `[PENDING]`: changes that apply at the next restart; `delete:` lists keys to be removed. */
  pending?: ProxmoxVmSection;
  /** Snapshots by name: past states, kept apart so they are never judged as the current config. */
  snapshots: ProxmoxVmSection[];
  /** `[special:cloudinit]`, `[special:fleecing]`...: by the name after `special:`. */
  special: ProxmoxVmSection[];
  /**
   * The VM's firewall file `/etc/pve/firewall/<vmid>.fw`. Undefined: no such file (Proxmox's defaults apply) when
   * the VM was read from a host, or not known for a loose file — see `ProxmoxHost.firewallDirRead`.
   */
  firewall?: ProxmoxFirewall;
}

/** A rule line of a `.fw` file (`[RULES]` or `[group x]`). */
export interface ProxmoxFirewallRule {
  /** `in`, `out` or `group` (lowercased). */
  type: string;
  /** `ACCEPT`, `DROP`, `REJECT`, a group name, or the macro's action. */
  action: string;
  /** The macro of `SSH(ACCEPT)`. */
  macro?: string;
  /** `-i net0`. */
  iface?: string;
  /** False for a rule disabled with a leading `|`. */
  enabled: boolean;
  /** The line as written, without its comment. */
  text: string;
  line: number;
}

export interface ProxmoxIpsetEntry {
  cidr: string;
  /** `!` prefix: excluded from the set. */
  nomatch: boolean;
  line: number;
}

/** A parsed `cluster.fw`, `host.fw` or `<vmid>.fw`. Section and set names are lowercased, as Proxmox does. */
export interface ProxmoxFirewall {
  file: string;
  /** `[OPTIONS]` by lowercased key. */
  options: Record<string, ConfigEntry>;
  rules: ProxmoxFirewallRule[];
  /** `[group name]` (`[GROUP name]`) security groups. */
  groups: Record<string, ProxmoxFirewallRule[]>;
  /** `[IPSET name]`. */
  ipsets: Record<string, ProxmoxIpsetEntry[]>;
  /** `[ALIASES]`: `name cidr`, by lowercased name. */
  aliases: Record<string, ConfigEntry>;
  /**
   * Header lines pve-firewall does not know for this kind of file (`[netgroup x]`, `[group x]` in a VM file): like
   * pve-firewall, they open no section; the lines after them stay in the section before.
   */
  ignoredSections: string[];
}

/** `/etc/pve/datacenter.cfg`: cluster-wide defaults. */
export interface ProxmoxDatacenter {
  file: string;
  settings: ProxmoxSettings;
  description?: string;
}

/** One `type: id` stanza of `/etc/pve/storage.cfg`. */
export interface ProxmoxStorage {
  type: string;
  id: string;
  file: string;
  line: number;
  /** Indented `property value` lines; a flag without value (`sparse`) has value `1`. */
  properties: Record<string, ConfigEntry>;
}

/** The pve-manager version and where it was read. */
export interface ProxmoxVersion {
  version: string;
  /** `/var/lib/dpkg/status`, or the `pveversion` output it came from. */
  source: string;
}

/** A Proxmox VE host or cluster, from its `/etc/pve` tree. */
export interface ProxmoxHost {
  /** Where the cluster configuration was read from (`/etc/pve`). */
  root: string;
  /** `cluster_name` of corosync.conf, else the single node's name, else the host name: `cluster/<name>`. */
  clusterName: string;
  /** `/etc/pve/nodes/*`. */
  nodes: string[];
  version?: ProxmoxVersion;
  /** Undefined with the file absent: every setting takes its documented default. */
  datacenter?: ProxmoxDatacenter;
  /** Undefined with the file absent: the cluster firewall is disabled (Proxmox's default). */
  clusterFirewall?: ProxmoxFirewall;
  /** `/etc/pve/nodes/<node>/host.fw` by node; a node without one has the host firewall's defaults. */
  hostFirewalls: Record<string, ProxmoxFirewall>;
  /** Undefined with the file absent. */
  storage?: ProxmoxStorage[];
  /** True when `/etc/pve/firewall` could be listed (a missing `<vmid>.fw` then means Proxmox's defaults). */
  firewallDirRead: boolean;
  /**
   * Files under `/etc/pve` that exist but could not be read or parsed (also in `HostInventory.unreadable`):
   * checks that depend on one say `unknown`, never apply a default in its place.
   */
  unreadableFiles: string[];
}
