/** Loading the real libvirt fixtures (fixtures/libvirt, fixtures/kvm) for the libvirt reader and kvm.vm.* tests. */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { emptyInventory, type HostInventory } from '../../src/model/host.js';
import type { KvmHost, LibvirtDomain } from '../../src/model/kvm.js';
import { parseDomainXml } from '../../src/platform/libvirt/domain.js';
import { parseLibvirtConf } from '../../src/platform/kvm/libvirt-conf.js';

export const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const LIBVIRT_FIXTURES = join(REPO, 'fixtures', 'libvirt');
/** Debian 12's shipped /etc/libvirt/qemu.conf (every key commented out). */
export const DEBIAN_QEMU_CONF = join(REPO, 'fixtures', 'kvm', 'debian-12', 'etc', 'libvirt', 'qemu.conf');

/** Path of a fixture under fixtures/libvirt: `domains/graphics-vnc.xml`. */
export function fixturePath(rel: string): string {
  return join(LIBVIRT_FIXTURES, rel);
}

export function fixtureText(rel: string): string {
  return readFileSync(fixturePath(rel), 'utf8');
}

/** A domain fixture (`graphics-vnc`), parsed, optionally after a minimal edit of its text. */
export function fixtureDomain(name: string, edit: (xml: string) => string = (x) => x): LibvirtDomain {
  const rel = `domains/${name}.xml`;
  const text = fixtureText(rel);
  const edited = edit(text);
  return parseDomainXml(edited, fixturePath(rel));
}

/** A minimal edit that must apply: replaces `from` (which must occur) by `to`. */
export function replaceOnce(from: string, to: string): (xml: string) => string {
  return (xml) => {
    if (!xml.includes(from)) throw new Error(`fixture edit: ${JSON.stringify(from)} not found`);
    return xml.replace(from, to);
  };
}

/** 1-based line of the first line containing `needle` (the expected line of an element, from the file itself). */
export function lineOf(text: string, needle: string): number {
  const i = text.indexOf(needle);
  if (i === -1) throw new Error(`${JSON.stringify(needle)} not in text`);
  return text.slice(0, i).split('\n').length;
}

/** An inventory of loose domain files (what `hyperward scan config` builds). */
export function inventoryOf(...domains: LibvirtDomain[]): HostInventory {
  const inv = emptyInventory('config', 'files');
  inv.libvirtDomains.push(...domains);
  return inv;
}

/**
 * A KVM host whose qemu.conf is Debian's shipped file after `edits` (each uncomments or changes keys by string
 * replacement), parsed by the real libvirt configuration reader.
 */
export function hostWithQemuConf(...edits: Array<(conf: string) => string>): KvmHost {
  let text = readFileSync(DEBIAN_QEMU_CONF, 'utf8');
  for (const e of edits) text = e(text);
  const path = '/etc/libvirt/qemu.conf';
  return {
    libvirtInstalled: true,
    qemuConfPath: path,
    qemuConfState: 'parsed',
    qemuConf: parseLibvirtConf(text, path),
    daemons: [],
    polkitRules: [],
    hooks: [],
    packages: [],
    mac: {},
  };
}
