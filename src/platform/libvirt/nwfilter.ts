/**
 * libvirt network filter XML (`<filter>`, /etc/libvirt/nwfilter/*.xml or `virsh nwfilter-dumpxml`) to the
 * inventory's {@link LibvirtNwFilter}.
 */
import { HyperwardError } from '../../errors.js';
import type { LibvirtNwFilter, LibvirtNwFilterRule } from '../../model/kvm.js';
import { attr, childElement, parseXml, type XmlElement, type XmlLimits } from '../xml.js';

/** Caps for one nwfilter XML document. */
export const NWFILTER_XML_LIMITS: Readonly<XmlLimits> = Object.freeze({
  maxBytes: 2 * 1024 * 1024,
  maxDepth: 16,
  maxElements: 100_000,
});

/**
 * Parses one libvirt nwfilter XML document.
 *
 * @param text the XML, as text or UTF-8 bytes
 * @param file names the document in the result and in errors
 * @throws HyperwardError naming `file` when the XML is hostile, malformed, over a cap, or not a `<filter>`
 */
export function parseNwFilterXml(text: string | Uint8Array, file: string): LibvirtNwFilter {
  return nwFilterFromElement(parseXml(text, file, NWFILTER_XML_LIMITS), file);
}

/** Builds a {@link LibvirtNwFilter} from an already parsed `<filter>` element. */
export function nwFilterFromElement(root: XmlElement, file: string): LibvirtNwFilter {
  if (root.local !== 'filter' || root.ns !== '') {
    throw new HyperwardError(
      'E_UNSUPPORTED_FORMAT',
      `root element is <${root.name}>, not a libvirt <filter>`,
      {
        file,
        layer: `XML line ${root.line}`,
      },
    );
  }
  const name = attr(root, 'name');
  if (!name) {
    throw new HyperwardError('E_UNSUPPORTED_FORMAT', 'libvirt <filter> without a name', {
      file,
      layer: `XML line ${root.line}`,
    });
  }
  const f: LibvirtNwFilter = { name, file, line: root.line, filterrefs: [], rules: [] };
  const uuid = childElement(root, 'uuid')?.text.trim();
  if (uuid) f.uuid = uuid;
  const chain = attr(root, 'chain');
  if (chain !== undefined) f.chain = chain;
  const priority = attr(root, 'priority');
  if (priority !== undefined) f.priority = priority;
  for (const el of root.children) {
    if (el.ns !== '') continue;
    if (el.local === 'filterref') {
      f.filterrefs.push({ filter: attr(el, 'filter') ?? '', line: el.line });
    } else if (el.local === 'rule') {
      const rule: LibvirtNwFilterRule = { matches: [], line: el.line };
      for (const k of ['action', 'direction', 'priority', 'statematch'] as const) {
        const v = attr(el, k);
        if (v !== undefined) rule[k] = v;
      }
      for (const m of el.children) {
        const attrs: Record<string, string> = Object.create(null) as Record<string, string>;
        for (const [k, v] of Object.entries(m.attrs)) attrs[k] = v;
        rule.matches.push({ protocol: m.local, attrs });
      }
      f.rules.push(rule);
    }
  }
  return f;
}
