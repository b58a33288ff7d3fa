/** KVM/QEMU with libvirt: host configuration and domains. Types only. */
import type { ConfigEntry } from './host.js';

/** A parsed libvirt-style configuration file (qemu.conf, libvirtd.conf, virtqemud.conf). */
export interface LibvirtConf {
  path: string;
  /** Settings that are present (not commented out), by key. */
  entries: Record<string, ConfigEntry>;
}

export interface KvmHost {
  qemuConf?: LibvirtConf;
  libvirtdConf?: LibvirtConf;
  virtqemudConf?: LibvirtConf;
}

/** One libvirt domain, from a host or a domain XML file. */
export interface LibvirtDomain {
  name: string;
  file: string;
}
