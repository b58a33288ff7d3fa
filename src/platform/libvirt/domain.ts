/**
 * libvirt domain XML (`<domain>`, as stored in /etc/libvirt/qemu/*.xml or printed by `virsh dumpxml`) to the
 * inventory's {@link LibvirtDomain}: only the parts the checks judge, with the line each came from. Passwords are
 * never copied, only whether one is set.
 */
import { HyperwardError } from '../../errors.js';
import type {
  LibvirtChardev,
  LibvirtChardevSource,
  LibvirtDisk,
  LibvirtDomain,
  LibvirtGraphics,
  LibvirtHostdev,
  LibvirtInterface,
  LibvirtQemuPassthrough,
  LibvirtRedirdev,
  LibvirtSeclabel,
} from '../../model/kvm.js';
import { attr, childElement, childElements, parseXml, type XmlElement, type XmlLimits } from '../xml.js';

/** libvirt's QEMU-specific namespace: `<qemu:commandline>` and friends, whatever prefix binds it. */
export const QEMU_NAMESPACE = 'http://libvirt.org/schemas/domain/qemu/1.0';

/** Caps for one domain XML document: real ones are a few kilobytes and a handful of levels deep. */
export const DOMAIN_XML_LIMITS: Readonly<XmlLimits> = Object.freeze({
  maxBytes: 2 * 1024 * 1024,
  maxDepth: 64,
  maxElements: 100_000,
});

const CHARDEV_ELEMENTS = new Set(['serial', 'console', 'parallel', 'channel']);

/**
 * Parses one libvirt domain XML document.
 *
 * @param text the XML, as text or UTF-8 bytes
 * @param file names the document in the result and in errors
 * @throws HyperwardError naming `file` when the XML is hostile, malformed, over a cap, or not a `<domain>`
 */
export function parseDomainXml(text: string | Uint8Array, file: string): LibvirtDomain {
  return domainFromElement(parseXml(text, file, DOMAIN_XML_LIMITS), file);
}

/** Builds a {@link LibvirtDomain} from an already parsed `<domain>` element (e.g. one of a test driver node file). */
export function domainFromElement(root: XmlElement, file: string): LibvirtDomain {
  if (root.local !== 'domain' || root.ns !== '') {
    throw new HyperwardError(
      'E_UNSUPPORTED_FORMAT',
      `root element is <${root.name}>, not a libvirt <domain>`,
      {
        file,
        layer: `XML line ${root.line}`,
      },
    );
  }
  const name = childElement(root, 'name')?.text.trim();
  if (!name) {
    throw new HyperwardError('E_UNSUPPORTED_FORMAT', 'libvirt <domain> without a <name>', {
      file,
      layer: `XML line ${root.line}`,
    });
  }
  const dom: LibvirtDomain = {
    name,
    file,
    line: root.line,
    passwordsRedacted: false,
    graphics: [],
    seclabels: [],
    qemuPassthrough: [],
    hostdevs: [],
    chardevs: [],
    disks: [],
    redirdevs: [],
    interfaces: [],
  };
  const type = attr(root, 'type');
  if (type !== undefined) dom.type = type;
  const uuid = childElement(root, 'uuid')?.text.trim();
  if (uuid) dom.uuid = uuid;

  for (const el of root.children) {
    if (el.ns === QEMU_NAMESPACE) {
      dom.qemuPassthrough.push(qemuElement(el));
    } else if (el.ns === '' && el.local === 'seclabel') {
      dom.seclabels.push(seclabel(el));
    }
  }

  const devices = childElement(root, 'devices');
  for (const el of devices?.children ?? []) {
    if (el.ns !== '') continue;
    switch (el.local) {
      case 'graphics':
        dom.graphics.push(graphics(el));
        break;
      case 'disk':
        dom.disks.push(disk(el));
        break;
      case 'hostdev':
        dom.hostdevs.push(hostdev(el));
        break;
      case 'interface': {
        const iface = netInterface(el);
        dom.interfaces.push(iface);
        if (iface.type === 'hostdev') {
          const h: LibvirtHostdev = { mode: 'interface', type: 'pci', source: pciSource(el), line: el.line };
          const managed = attr(el, 'managed');
          if (managed !== undefined) h.managed = managed;
          dom.hostdevs.push(h);
        }
        break;
      }
      case 'redirdev': {
        const r: LibvirtRedirdev = { sources: sources(el), line: el.line };
        setIf(r, 'bus', attr(el, 'bus'));
        setIf(r, 'type', attr(el, 'type'));
        dom.redirdevs.push(r);
        break;
      }
      case 'redirfilter':
        dom.redirfilter = {
          line: el.line,
          rules: childElements(el, 'usbdev').map((u) => {
            const rule: Record<string, string> = {};
            for (const k of ['allow', 'class', 'vendor', 'product', 'version']) {
              const v = attr(u, k);
              if (v !== undefined) rule[k] = v;
            }
            return rule;
          }),
        };
        break;
      default:
        if (CHARDEV_ELEMENTS.has(el.local)) dom.chardevs.push(chardev(el));
    }
  }
  return dom;
}

function setIf<T extends object, K extends keyof T>(obj: T, key: K, value: T[K] | undefined): void {
  if (value !== undefined) obj[key] = value;
}

function qemuElement(el: XmlElement): LibvirtQemuPassthrough {
  const q: LibvirtQemuPassthrough = {
    element: el.local,
    args: [],
    env: [],
    items: el.children.length,
    line: el.line,
  };
  if (el.local === 'commandline') {
    for (const c of el.children) {
      if (c.ns !== QEMU_NAMESPACE) continue;
      if (c.local === 'arg') q.args.push(attr(c, 'value') ?? '');
      else if (c.local === 'env') q.env.push(attr(c, 'name') ?? '');
    }
  }
  return q;
}

function seclabel(el: XmlElement): LibvirtSeclabel {
  const s: LibvirtSeclabel = { line: el.line };
  setIf(s, 'type', attr(el, 'type'));
  setIf(s, 'model', attr(el, 'model'));
  setIf(s, 'relabel', attr(el, 'relabel'));
  return s;
}

function graphics(el: XmlElement): LibvirtGraphics {
  const passwd = attr(el, 'passwd');
  const g: LibvirtGraphics = {
    type: attr(el, 'type') ?? '',
    line: el.line,
    listens: [],
    passwd: passwd === undefined ? 'absent' : passwd === '' ? 'empty' : 'set',
  };
  setIf(g, 'listenAttr', attr(el, 'listen'));
  setIf(g, 'socket', attr(el, 'socket'));
  setIf(g, 'passwdValidTo', attr(el, 'passwdValidTo'));
  setIf(g, 'connected', attr(el, 'connected'));
  setIf(g, 'port', attr(el, 'port'));
  setIf(g, 'tlsPort', attr(el, 'tlsPort'));
  setIf(g, 'autoport', attr(el, 'autoport'));
  for (const l of childElements(el, 'listen')) {
    const listen: LibvirtGraphics['listens'][number] = { type: attr(l, 'type') ?? 'address', line: l.line };
    setIf(listen, 'address', attr(l, 'address'));
    setIf(listen, 'network', attr(l, 'network'));
    setIf(listen, 'socket', attr(l, 'socket'));
    g.listens.push(listen);
  }
  return g;
}

function disk(el: XmlElement): LibvirtDisk {
  const d: LibvirtDisk = {
    shareable: childElement(el, 'shareable') !== undefined,
    readonly: childElement(el, 'readonly') !== undefined,
    line: el.line,
  };
  setIf(d, 'type', attr(el, 'type'));
  setIf(d, 'device', attr(el, 'device'));
  const target = childElement(el, 'target');
  if (target) setIf(d, 'target', attr(target, 'dev'));
  const src = childElement(el, 'source');
  if (src) {
    const protocol = attr(src, 'protocol');
    const pool = attr(src, 'pool');
    const volume = attr(src, 'volume');
    const text =
      attr(src, 'file') ??
      attr(src, 'dev') ??
      attr(src, 'dir') ??
      (protocol !== undefined ? `${protocol}:${attr(src, 'name') ?? ''}` : undefined) ??
      (pool !== undefined ? `${pool}/${volume ?? ''}` : undefined) ??
      attr(src, 'path');
    setIf(d, 'source', text);
  }
  return d;
}

function hex(v: string | undefined): string {
  if (v === undefined) return '?';
  return v.replace(/^0x/i, '');
}

function pciSource(el: XmlElement): string {
  const a = childElement(childElement(el, 'source') ?? el, 'address');
  if (!a) return 'pci (no address)';
  const domain = hex(attr(a, 'domain') ?? '0').padStart(4, '0');
  const bus = hex(attr(a, 'bus')).padStart(2, '0');
  const slot = hex(attr(a, 'slot')).padStart(2, '0');
  return `pci ${domain}:${bus}:${slot}.${hex(attr(a, 'function') ?? '0')}`;
}

function hostdev(el: XmlElement): LibvirtHostdev {
  const mode = attr(el, 'mode') ?? 'subsystem';
  const type = attr(el, 'type');
  const src = childElement(el, 'source');
  let source = type ?? 'device';
  if (src) {
    if (type === 'pci') {
      source = pciSource(el);
    } else if (type === 'usb') {
      const vendor = childElement(src, 'vendor');
      const product = childElement(src, 'product');
      const address = childElement(src, 'address');
      if (vendor || product) {
        source = `usb ${vendor ? attr(vendor, 'id') : '?'}:${product ? attr(product, 'id') : '?'}`;
      } else if (address) {
        source = `usb bus ${attr(address, 'bus') ?? '?'} device ${attr(address, 'device') ?? '?'}`;
      }
    } else if (type === 'scsi') {
      const adapter = childElement(src, 'adapter');
      const address = childElement(src, 'address');
      const protocol = attr(src, 'protocol');
      source =
        protocol !== undefined
          ? `scsi ${protocol}:${attr(src, 'name') ?? ''}`
          : `scsi ${adapter ? (attr(adapter, 'name') ?? '?') : '?'}:${address ? `${attr(address, 'bus') ?? '?'}:${attr(address, 'target') ?? '?'}:${attr(address, 'unit') ?? '?'}` : '?'}`;
    } else if (type === 'scsi_host') {
      source = `scsi_host ${attr(src, 'protocol') ?? ''} ${attr(src, 'wwpn') ?? ''}`.trim();
    } else if (type === 'mdev') {
      const address = childElement(src, 'address');
      source = `mdev ${address ? (attr(address, 'uuid') ?? '?') : '?'}`;
    } else if (mode === 'capabilities') {
      const inner = childElement(src, 'block') ?? childElement(src, 'char') ?? childElement(src, 'interface');
      source = `${type ?? 'capabilities'} ${inner ? inner.text.trim() : ''}`.trim();
    }
  }
  const h: LibvirtHostdev = { mode, source, line: el.line };
  setIf(h, 'type', type);
  setIf(h, 'managed', attr(el, 'managed'));
  return h;
}

function netInterface(el: XmlElement): LibvirtInterface {
  const i: LibvirtInterface = { line: el.line };
  setIf(i, 'type', attr(el, 'type'));
  const mac = childElement(el, 'mac');
  if (mac) setIf(i, 'mac', attr(mac, 'address'));
  const src = childElement(el, 'source');
  if (src) {
    setIf(
      i,
      'source',
      attr(src, 'network') ??
        attr(src, 'bridge') ??
        attr(src, 'dev') ??
        attr(src, 'path') ??
        attr(src, 'address'),
    );
  }
  const model = childElement(el, 'model');
  if (model) setIf(i, 'model', attr(model, 'type'));
  const target = childElement(el, 'target');
  if (target) setIf(i, 'target', attr(target, 'dev'));
  const fr = childElement(el, 'filterref');
  if (fr) {
    i.filterref = {
      filter: attr(fr, 'filter') ?? '',
      parameters: childElements(fr, 'parameter').map((p) => ({
        name: attr(p, 'name') ?? '',
        value: attr(p, 'value') ?? '',
      })),
      line: fr.line,
    };
  }
  return i;
}

function sources(el: XmlElement): LibvirtChardevSource[] {
  return childElements(el, 'source').map((s) => {
    const out: LibvirtChardevSource = {};
    setIf(out, 'mode', attr(s, 'mode'));
    setIf(out, 'host', attr(s, 'host'));
    setIf(out, 'service', attr(s, 'service'));
    setIf(out, 'path', attr(s, 'path'));
    setIf(out, 'tls', attr(s, 'tls'));
    return out;
  });
}

function chardev(el: XmlElement): LibvirtChardev {
  const c: LibvirtChardev = {
    device: el.local as LibvirtChardev['device'],
    sources: sources(el),
    line: el.line,
  };
  setIf(c, 'type', attr(el, 'type'));
  const protocol = childElement(el, 'protocol');
  if (protocol) setIf(c, 'protocol', attr(protocol, 'type'));
  const target = childElement(el, 'target');
  if (target) {
    setIf(c, 'targetType', attr(target, 'type'));
    setIf(c, 'targetName', attr(target, 'name'));
    setIf(c, 'targetPort', attr(target, 'port'));
  }
  return c;
}
