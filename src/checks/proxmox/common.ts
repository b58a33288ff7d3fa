/**
 * What the Proxmox VE checks share: resource names, Proxmox's documented defaults, and the rules for when a
 * setting's source was read (a missing file means the default; a file that could not be read means `unknown`).
 * Pure functions of the inventory.
 */
import type { Evidence } from '../../model/finding.js';
import type { ConfigEntry, HostInventory } from '../../model/host.js';
import type { ProxmoxFirewall, ProxmoxHost, ProxmoxSetting, ProxmoxVm } from '../../model/proxmox.js';
import type { CheckOutcome } from '../types.js';

/** Proxmox VE documentation the checks cite. */
export const DOCS = {
  firewall: 'https://pve.proxmox.com/pve-docs/chapter-pve-firewall.html',
  qmConf: 'https://pve.proxmox.com/pve-docs/qm.conf.5.html',
  datacenterCfg: 'https://pve.proxmox.com/pve-docs/datacenter.cfg.5.html',
  pciPassthrough: 'https://pve.proxmox.com/wiki/PCI_Passthrough',
  usbPassthrough: 'https://pve.proxmox.com/wiki/USB_Devices_in_Virtual_Machines',
} as const;

export const PVE = '/etc/pve';
export const CLUSTER_FW = `${PVE}/firewall/cluster.fw`;

/** The finding resource of a VM: `vm/<vmid>`. */
export function vmResource(vm: ProxmoxVm): CheckOutcome['resource'] {
  return { type: 'vm', id: `vm/${vm.vmid}` };
}

/** `VM 100 (web)`, for messages. */
export function vmLabel(vm: ProxmoxVm): string {
  return vm.name ? `VM ${vm.vmid} (${vm.name})` : `VM ${vm.vmid}`;
}

/** The finding resource of the cluster (datacenter): `cluster/<name>`. */
export function clusterResource(host: ProxmoxHost): CheckOutcome['resource'] {
  return { type: 'cluster', id: `cluster/${host.clusterName}` };
}

/** Evidence for a setting as it stood in a file. */
export function evidenceOf(e: ConfigEntry): Evidence {
  return { file: e.file, key: e.key, value: e.value, line: e.line };
}

/** Evidence for a setting that was absent: the default that applied, and the file it would have stood in. */
export function defaultEvidence(file: string, key: string, value: string): Evidence {
  return { file, key, value, isDefault: true };
}

/** `netN` settings of a section, in index order. */
export function nicsOf(settings: Record<string, ProxmoxSetting>): ProxmoxSetting[] {
  return Object.values(settings)
    .filter((s) => /^net\d+$/.test(s.key))
    .sort((a, b) => Number(a.key.slice(3)) - Number(b.key.slice(3)));
}

/** Proxmox's boolean spellings (`parse_boolean`). */
export function isTrue(v: string | undefined): boolean {
  return v !== undefined && /^(1|on|yes|true)$/i.test(v);
}

/** True when `path` (or its directory) exists but could not be read. */
export function isUnreadable(host: ProxmoxHost, path: string): boolean {
  return host.unreadableFiles.some((f) => f === path || path.startsWith(`${f}/`));
}

/** Where a VM's firewall settings stand. */
export type VmFirewallSource =
  { known: true; path: string; fw?: ProxmoxFirewall } | { known: false; path: string; why: string };

/**
 * The VM's firewall file, or why it is not known: a loose qemu-server file comes without its host's
 * `/etc/pve/firewall`, and a firewall file that exists but could not be read is not the same as no file.
 */
export function vmFirewall(inv: HostInventory, vm: ProxmoxVm): VmFirewallSource {
  const path = `${PVE}/firewall/${vm.vmid}.fw`;
  const host = inv.proxmox;
  if (!host) {
    return {
      known: false,
      path,
      why: `${vm.file} was read on its own, without the host's ${PVE}/firewall, so its ${vm.vmid}.fw is not known`,
    };
  }
  if (isUnreadable(host, path) || !host.firewallDirRead) {
    return { known: false, path, why: `${path} (or its directory) exists but could not be read` };
  }
  return vm.firewall ? { known: true, path, fw: vm.firewall } : { known: true, path };
}

/** An `[OPTIONS]` 0/1 flag as pve-firewall reads it: other values make it skip the line, so the default applies. */
export function fwFlag(
  fw: ProxmoxFirewall | undefined,
  file: string,
  key: string,
  dflt: 0 | 1,
): { value: 0 | 1; evidence: Evidence; note?: string } {
  const e = fw?.options[key];
  if (!e) return { value: dflt, evidence: defaultEvidence(fw?.file ?? file, key, String(dflt)) };
  if (e.value === '0' || e.value === '1') return { value: e.value === '1' ? 1 : 0, evidence: evidenceOf(e) };
  return {
    value: dflt,
    evidence: { ...evidenceOf(e), isDefault: true },
    note: `${key}: ${JSON.stringify(e.value)} is not 0 or 1, so pve-firewall skips the line and the default (${dflt}) applies`,
  };
}

/** An `[OPTIONS]` policy (`policy_in`/`policy_out`) as pve-firewall reads it, with its default. */
export function fwPolicy(
  fw: ProxmoxFirewall | undefined,
  file: string,
  key: string,
  dflt: string,
): { value: string; evidence: Evidence; note?: string } {
  const e = fw?.options[key];
  if (!e) return { value: dflt, evidence: defaultEvidence(fw?.file ?? file, key, dflt) };
  if (/^(ACCEPT|DROP|REJECT)$/i.test(e.value))
    return { value: e.value.toUpperCase(), evidence: evidenceOf(e) };
  return {
    value: dflt,
    evidence: { ...evidenceOf(e), isDefault: true },
    note: `${key}: ${JSON.stringify(e.value)} is not ACCEPT, DROP or REJECT, so pve-firewall skips the line and the default (${dflt}) applies`,
  };
}

/** A note for a pass when the `[PENDING]` section would change the outcome at the next restart. */
export function pendingNote(vm: ProxmoxVm, keys: string[]): string {
  return keys.length === 0
    ? ''
    : `; pending (applies at the next restart of the VM): ${keys.map((k) => `${k}: ${vm.pending?.settings[k]?.value ?? ''}`).join(', ')}`;
}
