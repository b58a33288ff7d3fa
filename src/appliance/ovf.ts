/**
 * The OVF envelope (DMTF DSP0243, OVF 1.x and 2.x): the XML descriptor of a virtual appliance. Read through the
 * project's safe XML layer (no DTDs or entities, size/depth/element caps), then walked with namespaces resolved:
 * References/File, DiskSection/Disk, NetworkSection, VirtualSystem and VirtualSystemCollection (nested),
 * VirtualHardwareSection items (CPU, memory, network adapters and their connections, disks and their host
 * resources), ProductSection (product, vendor, version, full version, URLs), OperatingSystemSection and
 * EulaSection.
 *
 * Descriptors in the wild are loose: prefixes other than `ovf:`, unprefixed attributes, VirtualBox's OVF 2.0
 * `StorageItem`/`EthernetPortItem` with CIM namespaces that end in `.xsd`, `${property}` placeholders for a
 * capacity. None of that is fatal: what cannot be understood is recorded in `problems` (with its line) and the rest
 * is read. Only a document that is not XML, or whose root is not an `Envelope`, is an error.
 */
import { HyperwardError } from '../errors.js';
import { parseXml, type XmlElement, type XmlLimits } from '../platform/xml.js';

export const OVF_NS_1 = 'http://schemas.dmtf.org/ovf/envelope/1';
export const OVF_NS_2 = 'http://schemas.dmtf.org/ovf/envelope/2';
const VMW_NS = 'http://www.vmware.com/schema/ovf';
const OVF_NAMESPACES: ReadonlySet<string> = new Set([OVF_NS_1, OVF_NS_2]);

/** Caps for descriptors: generous for multi-language EULAs, far below what could hurt. */
export const OVF_XML_LIMITS: Readonly<XmlLimits> = Object.freeze({
  maxBytes: 16 * 1024 * 1024,
  maxDepth: 64,
  maxElements: 200_000,
});

/** Most problems kept; past that one summary line says how many more there were. */
const MAX_PROBLEMS = 200;

export interface OvfProblem {
  message: string;
  /** 1-based line of the element concerned. */
  line?: number;
}

/** `References/File`: a file of the package. */
export interface OvfFile {
  id: string;
  href: string;
  /** Size in bytes as declared (`ovf:size`). */
  size?: number;
  /** `ovf:compression` (`gzip`): the file is stored compressed. */
  compression?: string;
  /** `ovf:chunkSize`: the file is stored in chunks `href.000000000`, `href.000000001`, ... */
  chunkSize?: number;
  line: number;
}

/** `DiskSection/Disk`: a virtual disk and the file holding its image. */
export interface OvfDisk {
  diskId: string;
  fileRef?: string;
  /** `ovf:capacity` as written (an integer, or a `${property}` reference). */
  capacity?: string;
  /** `ovf:capacityAllocationUnits` as written (`byte * 2^30`); absent means bytes. */
  capacityUnits?: string;
  /** The capacity in bytes, when the value and its units can be read. */
  capacityBytes?: number;
  populatedSize?: number;
  /** Format URI (`http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized`). */
  format?: string;
  parentRef?: string;
  line: number;
}

/** `NetworkSection/Network`: a logical network the appliance's adapters connect to. */
export interface OvfNetwork {
  name: string;
  description?: string;
  line: number;
}

/** One `ProductSection`: what software the virtual system (or collection) carries. */
export interface OvfProduct {
  /** The id of the virtual system or collection it belongs to. */
  owner: string;
  /** `ovf:class` and `ovf:instance`: sections that only carry properties use them. */
  class?: string;
  instance?: string;
  info?: string;
  product?: string;
  vendor?: string;
  version?: string;
  fullVersion?: string;
  productUrl?: string;
  vendorUrl?: string;
  appUrl?: string;
  /** Number of `Property` elements (deployment-time settings). */
  properties: number;
  line: number;
}

/** `OperatingSystemSection`. */
export interface OvfOperatingSystem {
  /** `ovf:id`: the CIM_OperatingSystem OsType number. */
  id?: number;
  version?: string;
  /** `vmw:osType` (VMware guest id, e.g. `ubuntu64Guest`). */
  osType?: string;
  description?: string;
  line: number;
}

export type OvfItemKind = 'cpu' | 'memory' | 'nic' | 'disk' | 'cdrom' | 'floppy' | 'controller' | 'other';

/** One item of a `VirtualHardwareSection` (`Item`, `StorageItem` or `EthernetPortItem`). */
export interface OvfHardwareItem {
  kind: OvfItemKind;
  element: string;
  /** CIM ResourceType (3 processor, 4 memory, 10 Ethernet adapter, 17 disk drive...). */
  resourceType?: number;
  resourceSubType?: string;
  instanceId?: string;
  /** ElementName (OVF 1.x) or Caption (2.x). */
  name?: string;
  description?: string;
  virtualQuantity?: number;
  allocationUnits?: string;
  /** Network names (`Connection`), for adapters. */
  connections: string[];
  /** `ovf:/disk/ID`, `ovf:/file/ID` or `/disk/ID` references, for drives. */
  hostResources: string[];
  parent?: string;
  addressOnParent?: string;
  /** `ovf:configuration`: the deployment options the item applies to (all when absent). */
  configurations?: string[];
  line: number;
}

/** A network adapter, resolved against the NetworkSection. */
export interface OvfNic {
  item: OvfHardwareItem;
  /** The connection as written (first `Connection`). */
  connection?: string;
  /** The network it names, when the NetworkSection has it. */
  network?: OvfNetwork;
  adapterType?: string;
}

/** A drive with a host resource, resolved against the DiskSection and References. */
export interface OvfDriveBacking {
  item: OvfHardwareItem;
  hostResource: string;
  disk?: OvfDisk;
  file?: OvfFile;
}

/** One `VirtualHardwareSection` with a summary of what it asks for. */
export interface OvfHardware {
  /** `vssd:VirtualSystemType` (`vmx-13`, `virtualbox-2.2`); several may be listed. */
  systemTypes: string[];
  transport?: string;
  items: OvfHardwareItem[];
  /** Virtual CPUs (from the item that applies to every configuration, else the first). */
  cpus?: number;
  memoryBytes?: number;
  nics: OvfNic[];
  drives: OvfDriveBacking[];
  line: number;
}

/** A `VirtualSystem` or a `VirtualSystemCollection`. */
export interface OvfVirtualSystem {
  kind: 'system' | 'collection';
  id: string;
  /** Ids of the collections enclosing it, outermost first. */
  path: string[];
  name?: string;
  info?: string;
  annotation?: string;
  products: OvfProduct[];
  os?: OvfOperatingSystem;
  hardware: OvfHardware[];
  /** Number of EulaSections and the total length of their license text. */
  eula: { sections: number; licenseChars: number };
  line: number;
}

export interface OvfEnvelope {
  /** `1.x` or `2.x` from the envelope namespace; `unknown` for another namespace (OVF 0.9, none). */
  version: '1.x' | '2.x' | 'unknown';
  /** The envelope's `ovf:version` attribute, when given. */
  versionAttribute?: string;
  namespace: string;
  files: OvfFile[];
  disks: OvfDisk[];
  networks: OvfNetwork[];
  /** Every VirtualSystem and VirtualSystemCollection, in document order (collections before their members). */
  systems: OvfVirtualSystem[];
  /** Every ProductSection of every system and collection, in document order. */
  products: OvfProduct[];
  problems: OvfProblem[];
}

/**
 * Parses an OVF descriptor.
 *
 * @param input the `.ovf` document (bytes are decoded as strict UTF-8)
 * @param file names it in errors and problems
 * @throws HyperwardError E_UNSUPPORTED_FORMAT when it is not well-formed, DTD-free XML or its root is not an
 *   `Envelope`; E_LIMIT when it exceeds {@link OVF_XML_LIMITS}
 *
 * @example
 * const env = parseOvf(readFileSync('appliance.ovf'), 'appliance.ovf');
 * for (const p of env.products) console.log(p.vendor, p.product, p.version);
 */
export function parseOvf(
  input: string | Uint8Array,
  file: string,
  limits: Partial<XmlLimits> = {},
): OvfEnvelope {
  const root = parseXml(input, file, { ...OVF_XML_LIMITS, ...limits });
  if (root.local !== 'Envelope') {
    throw new HyperwardError(
      'E_UNSUPPORTED_FORMAT',
      `not an OVF descriptor: the root element is <${root.name.slice(0, 80)}>, not <Envelope>`,
      { file, layer: 'OVF envelope', line: root.line },
    );
  }
  return new Reader(root).read();
}

/** The multiplier of an allocation-units string (`byte * 2^30`, `byte`, `MegaBytes`), or undefined. */
export function allocationUnitsMultiplier(units: string | undefined): number | undefined {
  if (units === undefined) return 1;
  const u = units.trim().toLowerCase();
  if (u === '' || u === 'byte' || u === 'bytes') return 1;
  const named: Record<string, number> = {
    kilobyte: 2 ** 10,
    kilobytes: 2 ** 10,
    kb: 2 ** 10,
    megabyte: 2 ** 20,
    megabytes: 2 ** 20,
    mb: 2 ** 20,
    gigabyte: 2 ** 30,
    gigabytes: 2 ** 30,
    gb: 2 ** 30,
    terabyte: 2 ** 40,
    terabytes: 2 ** 40,
    tb: 2 ** 40,
  };
  if (Object.hasOwn(named, u)) return named[u];
  // DSP0004 programmatic units: `byte * BASE^EXP`, optionally with a plain factor (`byte * 512`).
  const m = /^bytes?\s*\*\s*([0-9]{1,4})\s*(?:\^\s*([0-9]{1,2}))?$/.exec(u);
  if (!m) return undefined;
  const base = Number(m[1]);
  const exp = m[2] === undefined ? 1 : Number(m[2]);
  const v = base ** exp;
  return Number.isSafeInteger(v) && v > 0 ? v : undefined;
}

/** `value × units` in bytes, when both are readable and the product is a safe integer. */
function toBytes(value: string | undefined, units: string | undefined): number | undefined {
  if (value === undefined || !/^\s*[0-9]{1,20}\s*$/.test(value)) return undefined;
  const mult = allocationUnitsMultiplier(units);
  if (mult === undefined) return undefined;
  const v = Number(value.trim()) * mult;
  return Number.isSafeInteger(v) ? v : undefined;
}

function nonNegativeInt(value: string | undefined): number | undefined {
  if (value === undefined || !/^\s*[0-9]{1,16}\s*$/.test(value)) return undefined;
  const n = Number(value.trim());
  return Number.isSafeInteger(n) ? n : undefined;
}

function text(el: XmlElement | undefined): string | undefined {
  if (el === undefined) return undefined;
  const t = el.text.trim();
  return t === '' ? undefined : t;
}

const ITEM_ELEMENTS: ReadonlySet<string> = new Set(['Item', 'StorageItem', 'EthernetPortItem']);

function kindOf(resourceType: number | undefined): OvfItemKind {
  switch (resourceType) {
    case 3:
      return 'cpu';
    case 4:
      return 'memory';
    case 10:
      return 'nic';
    case 17:
      return 'disk';
    case 15:
    case 16:
      return 'cdrom';
    case 14:
      return 'floppy';
    case 5:
    case 6:
    case 7:
    case 8:
    case 20:
      return 'controller';
    default:
      return 'other';
  }
}

/** The id a host resource names: `ovf:/disk/ID`, `/disk/ID`, `ovf:/file/ID`, `/file/ID`. */
export function parseHostResource(ref: string): { kind: 'disk' | 'file'; id: string } | undefined {
  const m = /^(?:ovf:)?\/(disk|file)\/(.+)$/.exec(ref.trim());
  if (!m) return undefined;
  return { kind: m[1] as 'disk' | 'file', id: m[2]! };
}

class Reader {
  /** In-scope namespace bindings of each element (shared with its parent's when it declares none). */
  private readonly scopes = new Map<XmlElement, ReadonlyMap<string, string>>();
  private readonly problems: OvfProblem[] = [];
  private dropped = 0;
  private readonly files: OvfFile[] = [];
  private readonly disks: OvfDisk[] = [];
  private readonly networks: OvfNetwork[] = [];
  private readonly systems: OvfVirtualSystem[] = [];

  constructor(private readonly root: XmlElement) {
    this.bindScopes(root);
  }

  read(): OvfEnvelope {
    const root = this.root;
    const version = root.ns === OVF_NS_1 ? '1.x' : root.ns === OVF_NS_2 ? '2.x' : 'unknown';
    if (version === 'unknown') {
      this.problem(
        `the envelope's namespace ${JSON.stringify(root.ns)} is not OVF 1.x or 2.x; read as OVF anyway`,
        root,
      );
    }
    // Envelope-level sections first (the spec puts them there; a few generators nest them), so the systems'
    // references resolve whatever the order.
    for (const c of root.children) {
      if (this.isOvf(c, 'References')) this.readReferences(c);
      else if (this.isOvf(c, 'DiskSection')) this.readDisks(c);
      else if (this.isOvf(c, 'NetworkSection')) this.readNetworks(c);
    }
    let content = 0;
    for (const c of root.children) {
      if (this.isOvf(c, 'VirtualSystem') || this.isOvf(c, 'VirtualSystemCollection')) {
        content++;
        this.readSystem(c, []);
      }
    }
    if (content === 0) this.problem('the envelope has no VirtualSystem or VirtualSystemCollection', root);
    else if (content > 1) this.problem(`the envelope has ${content} content elements; OVF allows one`, root);
    this.checkReferences();
    if (this.dropped > 0) this.problems.push({ message: `${this.dropped} more problems not listed` });
    const env: OvfEnvelope = {
      version,
      namespace: root.ns,
      files: this.files,
      disks: this.disks,
      networks: this.networks,
      systems: this.systems,
      products: this.systems.flatMap((s) => s.products),
      problems: this.problems,
    };
    const va = this.attr(root, 'version');
    if (va !== undefined) env.versionAttribute = va;
    return env;
  }

  // ---- namespaces and attributes -------------------------------------------------------------------------

  private bindScopes(root: XmlElement): void {
    // Iterative, so a deep document cannot exhaust the stack (depth is capped by the XML layer anyway).
    const stack: Array<[XmlElement, ReadonlyMap<string, string>]> = [[root, new Map()]];
    while (stack.length > 0) {
      const [el, parentScope] = stack.pop()!;
      let scope = parentScope;
      for (const [k, v] of Object.entries(el.attrs)) {
        if (k === 'xmlns' || k.startsWith('xmlns:')) {
          if (scope === parentScope) scope = new Map(parentScope);
          (scope as Map<string, string>).set(k === 'xmlns' ? '' : k.slice(6), v);
        }
      }
      this.scopes.set(el, scope);
      for (const c of el.children) stack.push([c, scope]);
    }
  }

  /** An attribute in an OVF namespace (any prefix bound to it), else the same local name unprefixed. */
  private attr(el: XmlElement, local: string, ns: ReadonlySet<string> = OVF_NAMESPACES): string | undefined {
    const scope = this.scopes.get(el);
    let plain: string | undefined;
    for (const [k, v] of Object.entries(el.attrs)) {
      const colon = k.indexOf(':');
      if (colon === -1) {
        if (k === local) plain = v;
        continue;
      }
      if (k.slice(colon + 1) !== local) continue;
      const uri = scope?.get(k.slice(0, colon));
      if (uri !== undefined && ns.has(uri)) return v;
    }
    return plain;
  }

  /** An element of the OVF vocabulary: the local name, in an OVF namespace or none. */
  private isOvf(el: XmlElement, local: string): boolean {
    return el.local === local && (OVF_NAMESPACES.has(el.ns) || el.ns === '' || el.ns === this.root.ns);
  }

  private child(el: XmlElement, local: string): XmlElement | undefined {
    return el.children.find((c) => this.isOvf(c, local));
  }

  private problem(message: string, el?: XmlElement): void {
    if (this.problems.length >= MAX_PROBLEMS) {
      this.dropped++;
      return;
    }
    this.problems.push(el === undefined ? { message } : { message, line: el.line });
  }

  // ---- envelope sections ---------------------------------------------------------------------------------

  private readReferences(section: XmlElement): void {
    for (const c of section.children) {
      if (!this.isOvf(c, 'File')) continue;
      const id = this.attr(c, 'id');
      const href = this.attr(c, 'href');
      if (id === undefined || href === undefined) {
        this.problem('References/File without ovf:id or ovf:href (skipped)', c);
        continue;
      }
      if (this.files.some((f) => f.id === id)) this.problem(`duplicate file id ${JSON.stringify(id)}`, c);
      const f: OvfFile = { id, href, line: c.line };
      const size = this.attr(c, 'size');
      if (size !== undefined) {
        const n = nonNegativeInt(size);
        if (n === undefined)
          this.problem(`file ${JSON.stringify(id)}: ovf:size ${JSON.stringify(size)} is not a number`, c);
        else f.size = n;
      }
      const compression = this.attr(c, 'compression');
      if (compression !== undefined && compression !== 'identity') f.compression = compression;
      const chunk = this.attr(c, 'chunkSize');
      if (chunk !== undefined) {
        const n = nonNegativeInt(chunk);
        if (n === undefined || n === 0) this.problem(`file ${JSON.stringify(id)}: bad ovf:chunkSize`, c);
        else f.chunkSize = n;
      }
      this.files.push(f);
    }
  }

  private readDisks(section: XmlElement): void {
    for (const c of section.children) {
      if (!this.isOvf(c, 'Disk')) continue;
      const diskId = this.attr(c, 'diskId');
      if (diskId === undefined) {
        this.problem('Disk without ovf:diskId (skipped)', c);
        continue;
      }
      if (this.disks.some((d) => d.diskId === diskId))
        this.problem(`duplicate disk id ${JSON.stringify(diskId)}`, c);
      const d: OvfDisk = { diskId, line: c.line };
      const set = <K extends keyof OvfDisk>(key: K, v: OvfDisk[K] | undefined): void => {
        if (v !== undefined) d[key] = v;
      };
      set('fileRef', this.attr(c, 'fileRef'));
      set('capacity', this.attr(c, 'capacity'));
      set('capacityUnits', this.attr(c, 'capacityAllocationUnits'));
      set('format', this.attr(c, 'format'));
      set('parentRef', this.attr(c, 'parentRef'));
      set('populatedSize', nonNegativeInt(this.attr(c, 'populatedSize')));
      if (d.capacity === undefined) this.problem(`disk ${JSON.stringify(diskId)} has no ovf:capacity`, c);
      else {
        const bytes = toBytes(d.capacity, d.capacityUnits);
        if (bytes !== undefined) d.capacityBytes = bytes;
        else if (!/^\s*\$\{[^}]*\}\s*$/.test(d.capacity)) {
          this.problem(
            `disk ${JSON.stringify(diskId)}: capacity ${JSON.stringify(d.capacity.slice(0, 40))}` +
              (d.capacityUnits !== undefined ? ` in ${JSON.stringify(d.capacityUnits.slice(0, 40))}` : '') +
              ' cannot be read',
            c,
          );
        }
      }
      this.disks.push(d);
    }
  }

  private readNetworks(section: XmlElement): void {
    for (const c of section.children) {
      if (!this.isOvf(c, 'Network')) continue;
      const name = this.attr(c, 'name');
      if (name === undefined) {
        this.problem('Network without ovf:name (skipped)', c);
        continue;
      }
      const n: OvfNetwork = { name, line: c.line };
      const d = text(this.child(c, 'Description'));
      if (d !== undefined) n.description = d;
      this.networks.push(n);
    }
  }

  private checkReferences(): void {
    for (const d of this.disks) {
      if (d.fileRef !== undefined && !this.files.some((f) => f.id === d.fileRef)) {
        this.problem(
          `disk ${JSON.stringify(d.diskId)} refers to file ${JSON.stringify(d.fileRef)}, not in References`,
        );
      }
      if (d.parentRef !== undefined && !this.disks.some((x) => x.diskId === d.parentRef)) {
        this.problem(`disk ${JSON.stringify(d.diskId)} has an unknown parent ${JSON.stringify(d.parentRef)}`);
      }
    }
  }

  // ---- virtual systems -----------------------------------------------------------------------------------

  private readSystem(el: XmlElement, path: string[]): void {
    const kind = el.local === 'VirtualSystem' ? 'system' : 'collection';
    const id = this.attr(el, 'id') ?? `(unnamed ${kind} at line ${el.line})`;
    if (this.attr(el, 'id') === undefined) this.problem(`${el.local} without ovf:id`, el);
    const sys: OvfVirtualSystem = {
      kind,
      id,
      path,
      products: [],
      hardware: [],
      eula: { sections: 0, licenseChars: 0 },
      line: el.line,
    };
    const name = text(this.child(el, 'Name'));
    if (name !== undefined) sys.name = name;
    const info = text(this.child(el, 'Info'));
    if (info !== undefined) sys.info = info;
    this.systems.push(sys);
    for (const c of el.children) {
      if (this.isOvf(c, 'ProductSection')) sys.products.push(this.readProduct(c, id));
      else if (this.isOvf(c, 'OperatingSystemSection')) {
        if (sys.os !== undefined) this.problem(`${id}: more than one OperatingSystemSection`, c);
        else sys.os = this.readOs(c);
      } else if (this.isOvf(c, 'VirtualHardwareSection')) sys.hardware.push(this.readHardware(c, id));
      else if (this.isOvf(c, 'EulaSection')) {
        sys.eula.sections++;
        sys.eula.licenseChars += text(this.child(c, 'License'))?.length ?? 0;
      } else if (this.isOvf(c, 'AnnotationSection')) {
        const a = text(this.child(c, 'Annotation'));
        if (a !== undefined) sys.annotation = a;
      } else if (
        kind === 'collection' &&
        (this.isOvf(c, 'VirtualSystem') || this.isOvf(c, 'VirtualSystemCollection'))
      ) {
        this.readSystem(c, [...path, id]);
      } else if (this.isOvf(c, 'DiskSection')) this.readDisks(c);
      else if (this.isOvf(c, 'NetworkSection')) this.readNetworks(c);
    }
    if (kind === 'system' && sys.hardware.length === 0) this.problem(`${id}: no VirtualHardwareSection`, el);
  }

  private readProduct(el: XmlElement, owner: string): OvfProduct {
    const p: OvfProduct = { owner, properties: 0, line: el.line };
    const cls = this.attr(el, 'class');
    if (cls !== undefined) p.class = cls;
    const inst = this.attr(el, 'instance');
    if (inst !== undefined) p.instance = inst;
    const fields: Array<
      [
        string,
        'info' | 'product' | 'vendor' | 'version' | 'fullVersion' | 'productUrl' | 'vendorUrl' | 'appUrl',
      ]
    > = [
      ['Info', 'info'],
      ['Product', 'product'],
      ['Vendor', 'vendor'],
      ['Version', 'version'],
      ['FullVersion', 'fullVersion'],
      ['ProductUrl', 'productUrl'],
      ['VendorUrl', 'vendorUrl'],
      ['AppUrl', 'appUrl'],
    ];
    for (const c of el.children) {
      if (this.isOvf(c, 'Property')) {
        p.properties++;
        continue;
      }
      for (const [local, key] of fields) {
        if (p[key] === undefined && this.isOvf(c, local)) {
          const v = text(c);
          if (v !== undefined) p[key] = v;
        }
      }
    }
    return p;
  }

  private readOs(el: XmlElement): OvfOperatingSystem {
    const os: OvfOperatingSystem = { line: el.line };
    const id = nonNegativeInt(this.attr(el, 'id'));
    if (id !== undefined) os.id = id;
    const version = this.attr(el, 'version');
    if (version !== undefined) os.version = version;
    const osType = this.attr(el, 'osType', new Set([VMW_NS]));
    if (osType !== undefined) os.osType = osType;
    const d = text(this.child(el, 'Description'));
    if (d !== undefined) os.description = d;
    return os;
  }

  private readHardware(el: XmlElement, owner: string): OvfHardware {
    const hw: OvfHardware = { systemTypes: [], items: [], nics: [], drives: [], line: el.line };
    const transport = this.attr(el, 'transport');
    if (transport !== undefined && transport.trim() !== '') hw.transport = transport;
    const system = this.child(el, 'System');
    if (system !== undefined) {
      for (const c of system.children) {
        if (c.local !== 'VirtualSystemType') continue;
        const t = text(c);
        if (t !== undefined) hw.systemTypes.push(...t.split(/[\s,]+/).filter((s) => s !== ''));
      }
    }
    for (const c of el.children) {
      if (ITEM_ELEMENTS.has(c.local) && (OVF_NAMESPACES.has(c.ns) || c.ns === '' || c.ns === this.root.ns)) {
        hw.items.push(this.readItem(c, owner));
      }
    }
    // The summary takes, for CPU and memory, the item that applies to every deployment option, else the first.
    const pick = (kind: OvfItemKind): OvfHardwareItem | undefined => {
      const all = hw.items.filter((i) => i.kind === kind);
      return all.find((i) => i.configurations === undefined) ?? all[0];
    };
    const cpu = pick('cpu');
    if (cpu?.virtualQuantity !== undefined) hw.cpus = cpu.virtualQuantity;
    const mem = pick('memory');
    if (mem?.virtualQuantity !== undefined) {
      const bytes = toBytes(String(mem.virtualQuantity), mem.allocationUnits ?? 'byte * 2^20');
      if (bytes !== undefined) hw.memoryBytes = bytes;
      else this.problem(`${owner}: memory units ${JSON.stringify(mem.allocationUnits)} cannot be read`);
    }
    for (const item of hw.items) {
      if (item.kind === 'nic') {
        const nic: OvfNic = { item };
        const conn = item.connections[0];
        if (conn !== undefined) {
          nic.connection = conn;
          const net = this.networks.find((n) => n.name === conn);
          if (net !== undefined) nic.network = net;
          else
            this.problem(
              `${owner}: adapter ${JSON.stringify(item.name ?? item.instanceId)} connects to ${JSON.stringify(conn)}, not in NetworkSection`,
            );
        }
        if (item.resourceSubType !== undefined) nic.adapterType = item.resourceSubType;
        hw.nics.push(nic);
      }
      for (const ref of item.hostResources) {
        const drive: OvfDriveBacking = { item, hostResource: ref };
        const parsed = parseHostResource(ref);
        if (parsed === undefined) {
          this.problem(
            `${owner}: host resource ${JSON.stringify(ref.slice(0, 80))} is not ovf:/disk/ID or ovf:/file/ID`,
          );
        } else if (parsed.kind === 'disk') {
          const disk = this.disks.find((d) => d.diskId === parsed.id);
          if (disk === undefined)
            this.problem(`${owner}: host resource ${JSON.stringify(ref)} names no disk in DiskSection`);
          else {
            drive.disk = disk;
            const file = this.files.find((f) => f.id === disk.fileRef);
            if (file !== undefined) drive.file = file;
          }
        } else {
          const file = this.files.find((f) => f.id === parsed.id);
          if (file === undefined)
            this.problem(`${owner}: host resource ${JSON.stringify(ref)} names no file in References`);
          else drive.file = file;
        }
        hw.drives.push(drive);
      }
    }
    return hw;
  }

  private readItem(el: XmlElement, owner: string): OvfHardwareItem {
    const field = (local: string): string | undefined => text(el.children.find((c) => c.local === local));
    const all = (local: string): string[] =>
      el.children.filter((c) => c.local === local).flatMap((c) => (text(c) === undefined ? [] : [text(c)!]));
    const rt = field('ResourceType');
    const resourceType = nonNegativeInt(rt);
    if (rt !== undefined && resourceType === undefined) {
      this.problem(`${owner}: ResourceType ${JSON.stringify(rt.slice(0, 20))} is not a number`, el);
    }
    const item: OvfHardwareItem = {
      kind: kindOf(resourceType),
      element: el.local,
      connections: all('Connection'),
      hostResources: all('HostResource'),
      line: el.line,
    };
    const set = <K extends keyof OvfHardwareItem>(key: K, v: OvfHardwareItem[K] | undefined): void => {
      if (v !== undefined) item[key] = v;
    };
    set('resourceType', resourceType);
    set('resourceSubType', field('ResourceSubType'));
    set('instanceId', field('InstanceID'));
    set('name', field('ElementName') ?? field('Caption'));
    set('description', field('Description'));
    set('allocationUnits', field('AllocationUnits'));
    set('parent', field('Parent'));
    set('addressOnParent', field('AddressOnParent'));
    const q = field('VirtualQuantity');
    if (q !== undefined) {
      const n = nonNegativeInt(q);
      if (n === undefined)
        this.problem(`${owner}: VirtualQuantity ${JSON.stringify(q.slice(0, 40))} is not a number`, el);
      else item.virtualQuantity = n;
    }
    const conf = this.attr(el, 'configuration');
    if (conf !== undefined && conf.trim() !== '') item.configurations = conf.trim().split(/\s+/);
    return item;
  }
}
