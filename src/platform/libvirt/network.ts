/**
 * libvirt virtual network XML (`<network>`, /etc/libvirt/qemu/networks/*.xml or `virsh net-dumpxml`) to the
 * inventory's {@link LibvirtNetwork}.
 */
import { HyperwardError } from '../../errors.js';
import type { LibvirtNetwork, LibvirtNetworkIp } from '../../model/kvm.js';
import { attr, childElement, childElements, parseXml, type XmlElement, type XmlLimits } from '../xml.js';

/** Caps for one network XML document. */
export const NETWORK_XML_LIMITS: Readonly<XmlLimits> = Object.freeze({
  maxBytes: 2 * 1024 * 1024,
  maxDepth: 32,
  maxElements: 100_000,
});

/**
 * Parses one libvirt network XML document.
 *
 * @param text the XML, as text or UTF-8 bytes
 * @param file names the document in the result and in errors
 * @throws HyperwardError naming `file` when the XML is hostile, malformed, over a cap, or not a `<network>`
 */
export function parseNetworkXml(text: string | Uint8Array, file: string): LibvirtNetwork {
  return networkFromElement(parseXml(text, file, NETWORK_XML_LIMITS), file);
}

/** Builds a {@link LibvirtNetwork} from an already parsed `<network>` element. */
export function networkFromElement(root: XmlElement, file: string): LibvirtNetwork {
  if (root.local !== 'network' || root.ns !== '') {
    throw new HyperwardError(
      'E_UNSUPPORTED_FORMAT',
      `root element is <${root.name}>, not a libvirt <network>`,
      {
        file,
        layer: `XML line ${root.line}`,
      },
    );
  }
  const name = childElement(root, 'name')?.text.trim();
  if (!name) {
    throw new HyperwardError('E_UNSUPPORTED_FORMAT', 'libvirt <network> without a <name>', {
      file,
      layer: `XML line ${root.line}`,
    });
  }
  const net: LibvirtNetwork = { name, file, line: root.line, ips: [], portgroups: [], portIsolated: false };
  const uuid = childElement(root, 'uuid')?.text.trim();
  if (uuid) net.uuid = uuid;
  const trust = attr(root, 'trustGuestRxFilters');
  if (trust !== undefined) net.trustGuestRxFilters = trust;
  const forward = childElement(root, 'forward');
  if (forward) {
    net.forwardMode = attr(forward, 'mode') ?? 'nat';
    const dev = attr(forward, 'dev');
    if (dev !== undefined) net.forwardDev = dev;
  }
  const bridge = childElement(root, 'bridge');
  if (bridge) {
    const b: NonNullable<LibvirtNetwork['bridge']> = {};
    for (const k of ['name', 'stp', 'delay'] as const) {
      const v = attr(bridge, k);
      if (v !== undefined) b[k] = v;
    }
    net.bridge = b;
  }
  const port = childElement(root, 'port');
  net.portIsolated = port !== undefined && attr(port, 'isolated') === 'yes';
  for (const ipEl of childElements(root, 'ip')) {
    const ip: LibvirtNetworkIp = { family: attr(ipEl, 'family') ?? 'ipv4', dhcpRanges: [], line: ipEl.line };
    for (const k of ['address', 'prefix', 'netmask'] as const) {
      const v = attr(ipEl, k);
      if (v !== undefined) ip[k] = v;
    }
    const dhcp = childElement(ipEl, 'dhcp');
    for (const r of dhcp ? childElements(dhcp, 'range') : []) {
      const range: { start?: string; end?: string } = {};
      const start = attr(r, 'start');
      const end = attr(r, 'end');
      if (start !== undefined) range.start = start;
      if (end !== undefined) range.end = end;
      ip.dhcpRanges.push(range);
    }
    net.ips.push(ip);
  }
  for (const pg of childElements(root, 'portgroup')) {
    net.portgroups.push({
      name: attr(pg, 'name') ?? '',
      isDefault: attr(pg, 'default') === 'yes',
      line: pg.line,
    });
  }
  return net;
}
