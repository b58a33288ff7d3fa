/** Helpers shared by the kvm.host.* checks: the resource, evidence from settings, and combining per-daemon results. */
import type { Evidence } from '../../model/finding.js';
import type { HostInventory } from '../../model/host.js';
import type { KvmHost, LibvirtDaemon, LibvirtDaemonName } from '../../model/kvm.js';
import {
  DAEMON_CONF_DEFAULTS,
  QEMU_CONF_DEFAULTS,
  setting,
  type Setting,
} from '../../platform/kvm/defaults.js';
import { confBool } from '../../platform/kvm/libvirt-conf.js';
import type { CheckOutcome } from '../types.js';

/** One judgement that goes into a host's outcome (a daemon's, or one part of qemu.conf). */
export interface Part {
  status: CheckOutcome['status'];
  message: string;
  evidence?: Evidence;
}

/** The host's KVM inventory when libvirt is installed (the host checks judge libvirt's configuration). */
export function libvirtHost(inv: HostInventory): KvmHost | undefined {
  return inv.kvm?.libvirtInstalled ? inv.kvm : undefined;
}

/**
 * The host's KVM inventory when libvirt's QEMU driver is there to read qemu.conf: the file exists, or a daemon
 * that loads the driver does (libvirtd, virtqemud). A machine with only the libvirt clients has /etc/libvirt but
 * nothing that reads qemu.conf, so the qemu.conf checks do not apply to it.
 */
export function qemuDriverHost(inv: HostInventory): KvmHost | undefined {
  const kvm = libvirtHost(inv);
  if (!kvm) return undefined;
  const driver =
    kvm.qemuConfState !== 'absent' ||
    kvm.daemons.some((d) => d.name === 'libvirtd' || d.name === 'virtqemud');
  return driver ? kvm : undefined;
}

export function hostResource(inv: HostInventory): CheckOutcome['resource'] {
  return { type: 'host', id: `host/${inv.name}` };
}

/** Evidence for a setting: the line it stood on, or the default that applied. */
export function evidenceOf(s: Setting, value = s.value): Evidence {
  if (s.entry) return { file: s.file, key: s.key, value, line: s.entry.line, isDefault: false };
  return { file: s.file, key: s.key, value, isDefault: true };
}

/** `key = value` as a message fragment: `vnc_tls = 1 (/etc/libvirt/qemu.conf:92)` or `vnc_tls = 0 (default)`. */
export function describe(s: Setting, value = s.value): string {
  const shown = s.entry?.type === 'string' ? JSON.stringify(value) : value;
  return s.entry ? `${s.key} = ${shown} (${s.file}:${s.entry.line})` : `${s.key} = ${shown} (default)`;
}

export type QemuKey = keyof typeof QEMU_CONF_DEFAULTS;
export type DaemonKey = keyof typeof DAEMON_CONF_DEFAULTS;

/** A qemu.conf key with its built-in default. */
export function qemuSetting(kvm: KvmHost, key: QemuKey): Setting {
  return setting(kvm.qemuConf, kvm.qemuConfPath, key, QEMU_CONF_DEFAULTS[key].value);
}

/** A daemon configuration key with its built-in default (or `defaultValue` when it depends on other keys). */
export function daemonSetting(d: LibvirtDaemon, key: DaemonKey, defaultValue?: string): Setting {
  return setting(d.conf, d.confPath, key, defaultValue ?? DAEMON_CONF_DEFAULTS[key].value);
}

/** A boolean setting as libvirt reads it; undefined when the value is not 0 or 1 (libvirt refuses to load it). */
export function boolOf(s: Setting): boolean | undefined {
  if (!s.entry) return s.value === '1';
  return confBool(s.entry);
}

/** The string value of a setting, or undefined when the file gives it another type (libvirt refuses to load it). */
export function stringOf(s: Setting): string | undefined {
  if (!s.entry) return s.value;
  return s.entry.type === 'string' ? s.entry.value : undefined;
}

/** A part saying a setting has a type or value libvirt would reject, so its effect cannot be judged. */
export function invalidPart(s: Setting, expected: string): Part {
  return {
    status: 'unknown',
    message: `${s.key} = ${s.value} (${s.file}:${s.entry?.line ?? '?'}) is not ${expected}; libvirt refuses such a file, so the setting in force cannot be told`,
    evidence: evidenceOf(s),
  };
}

/** The part for a qemu.conf that exists but could not be read or parsed. */
export function qemuConfUnreadable(kvm: KvmHost): Part | undefined {
  if (kvm.qemuConfState !== 'unreadable') return undefined;
  return {
    status: 'unknown',
    message: `${kvm.qemuConfPath} could not be read or parsed (see the unreadable finding), so its settings are not known`,
    evidence: { file: kvm.qemuConfPath },
  };
}

/** The part for a daemon configuration file that exists but could not be read or parsed. */
export function daemonConfUnreadable(d: LibvirtDaemon): Part | undefined {
  if (d.confState !== 'unreadable') return undefined;
  return {
    status: 'unknown',
    message: `${d.confPath} could not be read or parsed (see the unreadable finding), so ${d.name}'s settings are not known`,
    evidence: { file: d.confPath },
  };
}

/** The daemons found on the host, optionally only some of them. */
export function daemonsOf(kvm: KvmHost, names?: ReadonlySet<LibvirtDaemonName>): LibvirtDaemon[] {
  return kvm.daemons.filter((d) => names === undefined || names.has(d.name));
}

/** Daemons that accept TCP/TLS connections: the monolithic libvirtd and the modular virtproxyd. */
export const NETWORK_DAEMONS: ReadonlySet<LibvirtDaemonName> = new Set(['libvirtd', 'virtproxyd']);

/**
 * One outcome for the host from several parts: it fails if any part fails (naming every failing part), is
 * unknown if any part is unknown and none fails, and passes otherwise.
 */
export function combine(inv: HostInventory, parts: readonly Part[]): CheckOutcome[] {
  if (parts.length === 0) return [];
  const status: Part['status'] = parts.some((p) => p.status === 'fail')
    ? 'fail'
    : parts.some((p) => p.status === 'unknown')
      ? 'unknown'
      : 'pass';
  const chosen = parts.filter((p) => p.status === status);
  const o: CheckOutcome = {
    status,
    resource: hostResource(inv),
    message: chosen.map((p) => p.message).join('; '),
  };
  const ev = chosen.find((p) => p.evidence)?.evidence;
  if (ev) o.evidence = ev;
  return [o];
}

/** True for loopback addresses: 127.0.0.0/8, ::1, IPv4-mapped loopback, and the name `localhost`. */
export function isLoopback(address: string): boolean {
  const a = address
    .trim()
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1');
  if (a === 'localhost' || a === 'localhost.localdomain' || a === 'ip6-localhost') return true;
  if (/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a)) return true;
  if (!a.includes(':') || !/^[0-9a-f:.]+$/.test(a)) return false;
  try {
    const host = new URL(`http://[${a}]/`).hostname;
    return host === '[::1]' || host.startsWith('[::ffff:7f');
  } catch {
    return false;
  }
}

/**
 * Where a listen address accepts connections from: loopback only, every interface (`0.0.0.0`, `::` in any
 * spelling), or one address. One definition for the host and the domain checks.
 */
export function listenScope(address: string): 'loopback' | 'all' | 'address' {
  if (isLoopback(address)) return 'loopback';
  const a = address
    .trim()
    .replace(/^\[(.*)\]$/, '$1')
    .toLowerCase();
  if (a === '0.0.0.0') return 'all';
  if (a.includes(':') && /^[0-9a-f:.]+$/.test(a)) {
    try {
      if (new URL(`http://[${a}]/`).hostname === '[::]') return 'all';
    } catch {
      return 'address';
    }
  }
  return 'address';
}

/** Common references: libvirt's own documentation pages. */
export const LIBVIRT_DOCS = {
  qemu: 'https://libvirt.org/drvqemu.html',
  auth: 'https://libvirt.org/auth.html',
  remote: 'https://libvirt.org/remote.html',
  daemons: 'https://libvirt.org/daemons.html',
  tls: 'https://libvirt.org/kbase/tlscerts.html',
  migration: 'https://libvirt.org/migration.html',
} as const;
