/** KVM/QEMU with libvirt: host configuration and domains. Types only. */
import type { ConfigEntry } from './host.js';
import type { Package } from './inventory.js';

/** The type libvirt's configuration parser (src/util/virconf.c) gave a value. */
export type LibvirtConfValueType = 'string' | 'integer' | 'list';

/** One item of a list value: lists hold strings in practice, but the syntax allows numbers and nested lists. */
export interface LibvirtConfItem {
  type: LibvirtConfValueType;
  /** Strings unquoted; integers in decimal; nested lists in their text form. */
  value: string;
}

/**
 * One setting of a libvirt configuration file. `value` is the text form: strings without their quotes, integers
 * in decimal (`+1` and `01` become `1`), lists as `["a", "b"]`.
 */
export interface LibvirtConfEntry extends ConfigEntry {
  type: LibvirtConfValueType;
  /** Integers only: the value was negative (libvirt reads it as a signed number; booleans reject it). */
  negative?: boolean;
  /** Lists only: the items in order. */
  items?: LibvirtConfItem[];
}

/** A parsed libvirt-style configuration file (qemu.conf, libvirtd.conf, virtqemud.conf, virtproxyd.conf). */
export interface LibvirtConf {
  path: string;
  /**
   * Settings that are present (not commented out), by key. A key set twice keeps its FIRST assignment, as
   * libvirt's lookup (virConfGetValue) walks the file from the top.
   */
  entries: Record<string, LibvirtConfEntry>;
  /** Keys assigned more than once (the later assignments have no effect). */
  duplicates: string[];
}

/** What happened when a configuration file was looked for. */
export type ConfState = 'parsed' | 'absent' | 'unreadable';

/** The libvirt daemons whose configuration decides who may manage the host. */
export type LibvirtDaemonName = 'libvirtd' | 'virtqemud' | 'virtproxyd';

/** A systemd socket unit that can start a libvirt daemon (socket activation). */
export interface SystemdSocketUnit {
  /** `libvirtd.socket`, `virtproxyd-tcp.socket`... */
  unit: string;
  /** The unit file that was read (the first in systemd's search path). */
  file: string;
  /** Linked into `sockets.target.wants` (in /etc/systemd/system, or vendor-enabled in the unit directory). */
  enabled: boolean;
  /** The effective `SocketMode=` after drop-ins; undefined = systemd's default, 0666. */
  socketMode?: ConfigEntry;
  /** The effective `SocketGroup=` after drop-ins; undefined = root. */
  socketGroup?: ConfigEntry;
}

/** One libvirt daemon found on the host, with its configuration file and socket units. */
export interface LibvirtDaemon {
  name: LibvirtDaemonName;
  /** `/etc/libvirt/<name>.conf`. */
  confPath: string;
  confState: ConfState;
  conf?: LibvirtConf;
  /** Where the daemon's binary was found, when it was. */
  binary?: string;
  /** The read-write UNIX socket unit and the TCP and TLS listener units, when the host has them. */
  sockets: { main?: SystemdSocketUnit; tcp?: SystemdSocketUnit; tls?: SystemdSocketUnit };
}

/** A polkit rules file that mentions libvirt. */
export interface PolkitRuleFile {
  path: string;
  size: number;
  /** libvirt polkit action ids the file names (`org.libvirt.unix.manage`...). */
  actions: string[];
  /** Groups the rules test membership of (`subject.isInGroup("libvirt")`). */
  groups: string[];
  /** The file returns `polkit.Result.YES` somewhere: access granted without asking for a password. */
  grantsWithoutAuth: boolean;
}

/** An entry of /etc/libvirt/hooks: libvirt runs these as root on domain, network and daemon events. */
export interface HookScript {
  path: string;
  /**
   * `file`: a regular file read in full; `dir`: a directory; `unread`: neither listed as a directory nor read as
   * a file: a script larger than the small read cap (only a hook's presence is recorded, so large ones are not
   * read), a special file, or one the reader may not read.
   */
  kind: 'file' | 'dir' | 'unread';
  /** Exact bytes, for `file` only (files are read only up to a few KiB; larger ones are `unread`). */
  size?: number;
}

/** What the root shows of the host's mandatory access control, which libvirt's default security driver probes. */
export interface HostMac {
  /** `SELINUX=` of /etc/selinux/config. */
  selinux?: ConfigEntry;
  /** /sys/module/apparmor/parameters/enabled (`Y`/`N`), on a live root only. */
  apparmorKernel?: ConfigEntry;
  /** Why AppArmor's user space counts as installed (the `apparmor` package, or `apparmor_parser`). */
  apparmorInstalled?: string;
  /** libvirt's AppArmor template for guests, when present. */
  apparmorLibvirtTemplate?: string;
}

/** A build-time default that a configuration key falls back to, and what it was inferred from. */
export interface BuildDefault {
  value: string;
  /** Why this value: e.g. the distribution's build option, or the commented default in the shipped file. */
  basis: string;
  file?: string;
  line?: number;
}

/** A KVM/libvirt host: its daemons' configuration and what surrounds it. */
export interface KvmHost {
  /** libvirt itself is installed (configuration directory, a daemon, or a package); false for bare QEMU. */
  libvirtInstalled: boolean;
  /** /etc/libvirt/qemu.conf; absent means every key takes libvirt's built-in default. */
  qemuConfPath: string;
  qemuConfState: ConfState;
  qemuConf?: LibvirtConf;
  /** Each libvirt daemon found (binary, configuration file or socket unit). */
  daemons: LibvirtDaemon[];
  polkitRules: PolkitRuleFile[];
  hooks: HookScript[];
  /** Installed qemu and libvirt packages. */
  packages: Package[];
  mac: HostMac;
  /** The user QEMU runs as when qemu.conf sets none: a build option of the libvirt package. */
  qemuUserDefault?: BuildDefault;
  /** User names to uids from /etc/passwd, to tell whether the QEMU user is root. */
  passwd?: { file: string; uids: Record<string, number> };
}

/** One libvirt domain, from a host or a domain XML file (`<domain>`). */
export interface LibvirtDomain {
  name: string;
  /** Where the XML came from: a path, or the virsh command that printed it. */
  file: string;
  /** 1-based line of the `<domain>` start tag. */
  line: number;
  /** The `type` attribute: `kvm`, `qemu`, `xen`, `test`... */
  type?: string;
  uuid?: string;
  /**
   * True when the XML is known to have had secrets stripped (`virsh dumpxml` without `--security-info`): then a
   * missing `passwd` proves nothing. False for files read as they are stored.
   */
  passwordsRedacted: boolean;
  graphics: LibvirtGraphics[];
  /** Domain-level `<seclabel>` elements only (per-device labels are relabelling overrides, not confinement). */
  seclabels: LibvirtSeclabel[];
  /** Elements in libvirt's QEMU namespace: `commandline`, `override`, `capabilities`, `deprecation`. */
  qemuPassthrough: LibvirtQemuPassthrough[];
  /** `<hostdev>` elements, and `<interface type='hostdev'>` (a passed-through network function). */
  hostdevs: LibvirtHostdev[];
  /** `<serial>`, `<console>`, `<parallel>` and `<channel>` devices. */
  chardevs: LibvirtChardev[];
  disks: LibvirtDisk[];
  redirdevs: LibvirtRedirdev[];
  /** `<redirfilter>`, when present. */
  redirfilter?: { line: number; rules: LibvirtRedirFilterRule[] };
  interfaces: LibvirtInterface[];
}

/** One `<listen>` child of `<graphics>`. */
export interface LibvirtGraphicsListen {
  /** `address`, `network`, `socket` or `none`. */
  type: string;
  address?: string;
  network?: string;
  socket?: string;
  line: number;
}

/** A `<graphics>` device. The password itself is never kept, only whether one is set. */
export interface LibvirtGraphics {
  /** `vnc`, `spice`, `rdp`, `sdl`, `egl-headless`, `dbus`, `desktop`. */
  type: string;
  line: number;
  /** The legacy `listen` attribute. */
  listenAttr?: string;
  listens: LibvirtGraphicsListen[];
  /** The VNC `socket` attribute: a UNIX socket instead of TCP. */
  socket?: string;
  /** `set`: a non-empty `passwd`; `empty`: `passwd=''`, which libvirt documents as disabling access. */
  passwd: 'set' | 'empty' | 'absent';
  passwdValidTo?: string;
  /** `connected` policy (`keep`, `disconnect`, `fail`). libvirt prints it and `passwdValidTo` only for a set password. */
  connected?: string;
  port?: string;
  tlsPort?: string;
  autoport?: string;
}

/** A domain-level `<seclabel>`. */
export interface LibvirtSeclabel {
  /** `dynamic`, `static` or `none`; absent means dynamic. */
  type?: string;
  /** `selinux`, `apparmor`, `dac`, `none`; absent means the host's first security driver. */
  model?: string;
  relabel?: string;
  line: number;
}

/** An element in the QEMU namespace (`http://libvirt.org/schemas/domain/qemu/1.0`), whatever its prefix. */
export interface LibvirtQemuPassthrough {
  /** Local name: `commandline`, `override`, `capabilities`, `deprecation`. */
  element: string;
  /** `<arg value>` of a `commandline`, in order. */
  args: string[];
  /** Names of the `<env>` variables of a `commandline` (values are not kept). */
  env: string[];
  /** Number of child elements (`<device>` of an `override`, `<add>`/`<del>` of `capabilities`...). */
  items: number;
  line: number;
}

/** A device of the host given to the guest. */
export interface LibvirtHostdev {
  /** `subsystem` or `capabilities`; `interface` for `<interface type='hostdev'>`. */
  mode: string;
  /** `pci`, `usb`, `scsi`, `scsi_host`, `mdev`, `storage`, `misc`, `net`. */
  type?: string;
  managed?: string;
  /** The host device as a short text: `pci 0000:06:12.5`, `usb bus 14 device 6`, `usb 0x1234:0xbeef`... */
  source: string;
  line: number;
}

/** A source endpoint of a character device (`<source mode host service path>`). */
export interface LibvirtChardevSource {
  mode?: string;
  host?: string;
  service?: string;
  path?: string;
  tls?: string;
}

/** A `<serial>`, `<console>`, `<parallel>` or `<channel>` device. */
export interface LibvirtChardev {
  device: 'serial' | 'console' | 'parallel' | 'channel';
  /** `pty`, `file`, `unix`, `tcp`, `udp`, `spicevmc`...; absent means `pty`. */
  type?: string;
  /** `<protocol type>` of a TCP device: `raw`, `telnet`, `telnets`, `tls`. */
  protocol?: string;
  sources: LibvirtChardevSource[];
  targetType?: string;
  targetName?: string;
  targetPort?: string;
  line: number;
}

export interface LibvirtDisk {
  /** `file`, `block`, `network`, `volume`, `dir`, `nvme`, `vhostuser`. */
  type?: string;
  /** `disk`, `cdrom`, `floppy`, `lun`. */
  device?: string;
  /** `<target dev>`. */
  target?: string;
  /** The source as a short text: a path, a device, `protocol:name`, `pool/volume`. */
  source?: string;
  shareable: boolean;
  readonly: boolean;
  line: number;
}

/** A `<redirdev>`: a USB device redirected from a client into the guest. */
export interface LibvirtRedirdev {
  bus?: string;
  /** `spicevmc`, `tcp`, `unix`... */
  type?: string;
  sources: LibvirtChardevSource[];
  line: number;
}

export interface LibvirtRedirFilterRule {
  allow?: string;
  class?: string;
  vendor?: string;
  product?: string;
  version?: string;
}

export interface LibvirtFilterref {
  filter: string;
  parameters: Array<{ name: string; value: string }>;
  line: number;
}

export interface LibvirtInterface {
  /** `network`, `bridge`, `ethernet`, `direct`, `user`, `hostdev`, `vhostuser`... */
  type?: string;
  mac?: string;
  /** The network, bridge or device it attaches to. */
  source?: string;
  model?: string;
  /** `<target dev>`. */
  target?: string;
  filterref?: LibvirtFilterref;
  line: number;
}

/** A libvirt virtual network (`<network>`, `virsh net-dumpxml`). */
export interface LibvirtNetwork {
  name: string;
  file: string;
  line: number;
  uuid?: string;
  /** `<forward mode>`: `nat`, `route`, `open`, `bridge`, `private`, `vepa`, `passthrough`, `hostdev`; undefined = isolated. */
  forwardMode?: string;
  /** `<forward dev>`. */
  forwardDev?: string;
  bridge?: { name?: string; stp?: string; delay?: string };
  ips: LibvirtNetworkIp[];
  portgroups: Array<{ name: string; isDefault: boolean; line: number }>;
  /** `<port isolated='yes'/>`: guests on the network cannot talk to each other. */
  portIsolated: boolean;
  trustGuestRxFilters?: string;
}

export interface LibvirtNetworkIp {
  /** `ipv4` unless `family='ipv6'`. */
  family: string;
  address?: string;
  prefix?: string;
  netmask?: string;
  dhcpRanges: Array<{ start?: string; end?: string }>;
  line: number;
}

/** One protocol match of an nwfilter rule, e.g. `<tcp dstportstart='22'/>`. */
export interface LibvirtNwFilterMatch {
  protocol: string;
  attrs: Record<string, string>;
}

export interface LibvirtNwFilterRule {
  action?: string;
  direction?: string;
  priority?: string;
  statematch?: string;
  matches: LibvirtNwFilterMatch[];
  line: number;
}

/** A libvirt network filter (`<filter>`, `virsh nwfilter-dumpxml`). */
export interface LibvirtNwFilter {
  name: string;
  file: string;
  line: number;
  uuid?: string;
  chain?: string;
  priority?: string;
  /** Filters this one includes, in order. */
  filterrefs: Array<{ filter: string; line: number }>;
  rules: LibvirtNwFilterRule[];
}
