import { resolve } from 'node:path';
import { loadCatalogue } from '../checks/catalogue.js';
import { assess } from '../checks/engine.js';
import type { Profile } from '../checks/profile.js';
import type { Check } from '../checks/types.js';
import { applyWaivers } from '../checks/waivers.js';
import { HyperwardError, isHyperwardError } from '../errors.js';
import { detectHostname, detectOs } from '../inspect/os-release.js';
import { readInstalledPackages, type RootReader } from '../inspect/system.js';
import { fingerprint, type Waiver } from '../model/finding.js';
import { emptyInventory, type HostInventory } from '../model/host.js';
import type { ScanResult } from '../model/report.js';
import { readTextFile } from '../source/file.js';
import { detectConfigKind } from '../platform/detect.js';
import { readKvmHost } from '../platform/kvm/host.js';
import { parseDomainXml } from '../platform/libvirt/domain.js';
import { parseNetworkXml } from '../platform/libvirt/network.js';
import { parseNwFilterXml } from '../platform/libvirt/nwfilter.js';
import { readProxmoxHost } from '../platform/proxmox/host.js';
import { parseProxmoxVm } from '../platform/proxmox/qemu-server.js';
import { readEsxiExport } from '../platform/vmware/esxcli.js';
import { parseVmx } from '../platform/vmware/vmx.js';

export interface AssessOptions {
  profile: Profile;
  waivers: readonly Waiver[];
  /** For waiver expiry; today by default. */
  today?: Date;
  /** The checks to run; the whole catalogue by default. */
  catalogue?: readonly Check[];
}

const MAX_CONFIG_FILE = 32 * 1024 * 1024;

/** Reads a file the user named, refusing what is not a regular file or is too large. */
function readConfigFile(path: string): string {
  return readTextFile(path, MAX_CONFIG_FILE);
}

/** Adds one configuration file to an inventory, by the kind its content shows. */
export function addConfigFile(inv: HostInventory, path: string, text: string): void {
  const kind = detectConfigKind(text.slice(0, 65536));
  switch (kind) {
    case 'libvirt-domain':
      inv.libvirtDomains.push(parseDomainXml(text, path));
      return;
    case 'libvirt-network':
      inv.libvirtNetworks.push(parseNetworkXml(text, path));
      return;
    case 'libvirt-nwfilter':
      inv.libvirtNwFilters.push(parseNwFilterXml(text, path));
      return;
    case 'vmx':
      inv.vmx.push(parseVmx(text, path));
      return;
    case 'proxmox-vm':
      inv.proxmoxVms.push(parseProxmoxVm(text, path));
      return;
    case 'esxcli-advanced':
    case 'powercli-advanced':
      inv.esxi.push(...readEsxiExport(text, path));
      return;
    default:
      throw new HyperwardError(
        'E_UNSUPPORTED_FORMAT',
        'not a configuration this version assesses (unrecognised content); expected libvirt domain, network or nwfilter XML, .vmx, a Proxmox qemu-server config, or an ESXi advanced-settings export',
        { file: path },
      );
  }
}

function finish(result: ScanResult, inv: HostInventory, opts: AssessOptions): ScanResult {
  const findings = assess(inv, opts.catalogue ?? loadCatalogue(), opts.profile);
  result.findings = applyWaivers(findings, opts.waivers, opts.today);
  return result;
}

/**
 * `hyperward scan config`: each file is assessed on its own (kind told by content). A file that cannot be read
 * or parsed gives a result with `error`; the others go on.
 */
export function scanConfigFiles(paths: readonly string[], opts: AssessOptions): ScanResult[] {
  return paths.map((path) => {
    const result: ScanResult = { target: path, kind: 'config', packages: [], findings: [] };
    try {
      // Named by the absolute path, so finding ids do not depend on how the path was typed or the cwd.
      const inv = emptyInventory(resolve(path), 'files');
      addConfigFile(inv, path, readConfigFile(path));
      return finish(result, inv, opts);
    } catch (e) {
      if (!isHyperwardError(e)) throw e;
      result.error = { code: e.code, message: e.message };
      return result;
    }
  });
}

const MAX_DOMAINS = 100_000;

/**
 * libvirt's persistent definitions on a host: domains (`/etc/libvirt/qemu/*.xml`), networks
 * (`/etc/libvirt/qemu/networks/*.xml`) and network filters (`/etc/libvirt/nwfilter/*.xml`). A listed file that
 * cannot be read or parsed is recorded as unreadable, never skipped silently.
 */
function readLibvirtDefinitions(root: RootReader, inv: HostInventory): void {
  const dirs: Array<[string, (buf: Buffer, path: string) => void]> = [
    ['/etc/libvirt/qemu', (b, p) => inv.libvirtDomains.push(parseDomainXml(b, p))],
    ['/etc/libvirt/qemu/networks', (b, p) => inv.libvirtNetworks.push(parseNetworkXml(b, p))],
    ['/etc/libvirt/nwfilter', (b, p) => inv.libvirtNwFilters.push(parseNwFilterXml(b, p))],
  ];
  for (const [dir, add] of dirs) {
    const names = (root.list(dir) ?? []).filter((n) => n.endsWith('.xml')).sort();
    for (const name of names.slice(0, MAX_DOMAINS)) {
      const path = `${dir}/${name}`;
      try {
        const buf = root.tryReadFile(path, MAX_CONFIG_FILE);
        if (buf === undefined) {
          inv.unreadable.push({
            file: path,
            code: 'E_IO',
            message: 'listed but could not be read (not a regular file, too large, or not permitted)',
          });
        } else {
          add(buf, path);
        }
      } catch (e) {
        if (!isHyperwardError(e)) throw e;
        inv.unreadable.push({ file: path, code: e.code, message: e.message });
      }
    }
  }
}

/**
 * The inventory of a hypervisor host seen through a root filesystem (a local directory, a disk image's OS
 * tree, a snapshot of files fetched over SSH): KVM/libvirt configuration and domains, Proxmox VE cluster and VM
 * configuration, installed packages.
 */
export function inventoryFromRoot(
  root: RootReader,
  source: string,
  fallbackName: string,
  extra: { pveversion?: string } = {},
): HostInventory {
  const inv = emptyInventory(detectHostname(root) ?? fallbackName, source);
  try {
    const os = detectOs(root);
    if (os) inv.os = os;
  } catch (e) {
    if (!isHyperwardError(e)) throw e;
    inv.unreadable.push({ file: '/etc/os-release', code: e.code, message: e.message });
  }
  const installed = readInstalledPackages(root);
  inv.packages = installed.packages;
  for (const e of installed.problems) {
    inv.unreadable.push({ file: e.location.file ?? 'package database', code: e.code, message: e.message });
  }
  const kvm = readKvmHost(root, { packages: inv.packages });
  if (kvm) {
    inv.kvm = kvm.kvm;
    inv.unreadable.push(...kvm.unreadable);
  }
  readLibvirtDefinitions(root, inv);
  const pve = readProxmoxHost(root, extra);
  if (pve) {
    inv.proxmox = pve.proxmox;
    inv.proxmoxVms.push(...pve.vms);
    inv.unreadable.push(...pve.unreadable);
  }
  return inv;
}

/** Assesses an inventory that a host source produced. */
export function assessHost(target: string, inv: HostInventory, opts: AssessOptions): ScanResult {
  const result = finish({ target, kind: 'host', packages: inv.packages, findings: [] }, inv, opts);
  if (inv.os) result.os = inv.os;
  const nothing =
    inv.kvm === undefined &&
    inv.proxmox === undefined &&
    inv.libvirtDomains.length === 0 &&
    inv.proxmoxVms.length === 0 &&
    inv.vmx.length === 0 &&
    inv.esxi.length === 0;
  if (nothing) {
    // A host with nothing to assess must not look like a clean hypervisor.
    result.findings.push({
      id: fingerprint('hyperward.no-hypervisor', 'host', inv.name),
      checkId: 'hyperward.no-hypervisor',
      severity: 'info',
      status: 'unknown',
      title: 'No hypervisor configuration found',
      message: `no KVM/libvirt, Proxmox VE or VMware configuration was found on ${inv.name} (${inv.source}); nothing was assessed`,
      resource: { type: 'host', id: `host/${inv.name}` },
    });
  }
  return result;
}
