/**
 * A minimal vSphere Web Services client (SOAP over HTTPS) that reads ESXi host configuration through the property
 * collector: product version, advanced settings, lockdown mode, services and standard-switch security policy.
 *
 * It works against vCenter and against a standalone ESXi host. Every response is treated as hostile: bounded in
 * size, parsed without entity expansion or DOCTYPE, with a nesting limit; paging and object counts are capped.
 * TLS is verified by default (system CAs and host name); a self-signed server is trusted only by pinning its
 * certificate's SHA-256 thumbprint or passing its CA file, or explicitly with `insecure`.
 */
import { request as httpRequest } from 'node:http';
import { isIP } from 'node:net';
import {
  connect as tlsConnect,
  createSecureContext,
  rootCertificates,
  type ConnectionOptions,
  type SecureContext,
  type TLSSocket,
} from 'node:tls';
import { XMLParser } from 'fast-xml-parser';
import { HyperwardError, type ErrorCode } from '../errors.js';
import { readTextFile } from './file.js';
import type { ConfigEntry } from '../model/host.js';
import type { EsxiHost, EsxiService, PortGroup, SecurityPolicy, StandardSwitch } from '../model/vmware.js';

/** Options of {@link readVsphere}. */
export interface VsphereOptions {
  user: string;
  password: string;
  /** SHA-256 thumbprint of the server certificate (hex, colons optional): trusts exactly that certificate. */
  thumbprint?: string;
  /** PEM file of the CA (or the self-signed certificate) the server's chain must verify against. */
  caFile?: string;
  /**
   * PEM file whose certificates are trusted beside Node's bundled roots when neither `caFile`, `thumbprint` nor
   * `insecure` is given: what `NODE_EXTRA_CA_CERTS` does when Node reads it itself (the `hyperward` launcher hands
   * that variable on as `HYPERWARD_EXTRA_CA_CERTS` so that Node does not parse it on every start). As with Node, a
   * file that cannot be read is left out; a failed verification then says so.
   */
  extraCaFile?: string;
  /** Accept any certificate. Never the default; it exposes the password to whoever sits on the path. */
  insecure?: boolean;
  /** Limit for each request (connect, send, receive), in milliseconds. Default 60 s. */
  timeoutMs?: number;
}

/** Where the SDK lives, parsed from `vsphere://host[:port][/path]` or `https://host[:port][/path]`. */
export interface VsphereEndpoint {
  host: string;
  port: number;
  path: string;
  /** `vsphere://host[:port]`: the source name used in the inventory and in errors. */
  display: string;
}

const API_VERSION = '6.5';
const LIMITS = {
  responseBytes: 64 * 1024 * 1024,
  xmlDepth: 64,
  pages: 200,
  pageObjects: 100,
  hosts: 10_000,
  optionsPerHost: 50_000,
  servicesPerHost: 1_000,
  switchesPerHost: 1_000,
  portGroupsPerHost: 10_000,
  cookieBytes: 4_096,
  defaultTimeoutMs: 60_000,
  /** A CA file or bundle (a system bundle of ~140 roots is ~200 KiB). */
  caFileBytes: 16 * 1024 * 1024,
} as const;

const HOST_PATHS = [
  'name',
  'config.product',
  'config.option',
  'config.lockdownMode',
  'config.adminDisabled',
  'config.network.vswitch',
  'config.network.portgroup',
  'configManager.advancedOption',
  'configManager.serviceSystem',
] as const;

/**
 * Parses a vSphere endpoint. `vsphere://` and `https://` are accepted; the path defaults to `/sdk` and the port to
 * 443. Credentials in the URL are refused (they would end up in logs and reports): pass them as options.
 */
export function parseVsphereUrl(url: string): VsphereEndpoint {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new HyperwardError('E_USAGE', `not a URL: ${JSON.stringify(url.slice(0, 200))}`);
  }
  if (u.protocol !== 'vsphere:' && u.protocol !== 'https:') {
    throw new HyperwardError(
      'E_USAGE',
      `vSphere URL must be vsphere://host or https://host, not ${u.protocol}//`,
    );
  }
  if (u.username !== '' || u.password !== '') {
    throw new HyperwardError(
      'E_USAGE',
      'credentials in the vSphere URL are refused; pass the user and password',
    );
  }
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  if (host === '') throw new HyperwardError('E_USAGE', `vSphere URL has no host: ${url}`);
  const port = u.port === '' ? 443 : Number(u.port);
  const path = u.pathname === '' || u.pathname === '/' ? '/sdk' : u.pathname;
  const hostPart = isIP(host) === 6 ? `[${host}]` : host;
  return { host, port, path, display: `vsphere://${hostPart}${port === 443 ? '' : `:${port}`}` };
}

/** Normalises a SHA-256 thumbprint to 64 upper-case hex digits. */
function normaliseThumbprint(t: string): string {
  const hex = t.replace(/[:\s]/g, '').toUpperCase();
  if (/^[0-9A-F]{40}$/.test(hex)) {
    throw new HyperwardError(
      'E_USAGE',
      'a SHA-1 thumbprint was given: pin the SHA-256 thumbprint of the certificate',
    );
  }
  if (!/^[0-9A-F]{64}$/.test(hex)) {
    throw new HyperwardError(
      'E_USAGE',
      'the certificate thumbprint must be a SHA-256 digest (64 hex digits)',
    );
  }
  return hex;
}

// ---------------------------------------------------------------------------------------------------------------
// XML access: fast-xml-parser output walked with runtime type checks, by local name (namespace prefixes vary).

type XElem = Record<string, unknown>;

function isObj(v: unknown): v is XElem {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function localName(k: string): string {
  const i = k.indexOf(':');
  return i < 0 ? k : k.slice(i + 1);
}

/** Child elements named `local` (any namespace prefix), in document order within that name. */
function elems(parent: unknown, local: string): XElem[] {
  if (!isObj(parent)) return [];
  const out: XElem[] = [];
  for (const [k, v] of Object.entries(parent)) {
    if (k.startsWith('@_') || k === '#text' || localName(k) !== local) continue;
    for (const item of Array.isArray(v) ? v : [v]) {
      if (isObj(item)) out.push(item);
      else out.push({ '#text': typeof item === 'string' ? item : '' });
    }
  }
  return out;
}

function elem(parent: unknown, local: string): XElem | undefined {
  return elems(parent, local)[0];
}

/** All child elements with their local names. */
function children(parent: unknown): { name: string; el: XElem }[] {
  if (!isObj(parent)) return [];
  const out: { name: string; el: XElem }[] = [];
  for (const [k, v] of Object.entries(parent)) {
    if (k.startsWith('@_') || k === '#text') continue;
    for (const item of Array.isArray(v) ? v : [v]) {
      out.push({
        name: localName(k),
        el: isObj(item) ? item : { '#text': typeof item === 'string' ? item : '' },
      });
    }
  }
  return out;
}

function text(el: XElem | undefined): string | undefined {
  if (el === undefined) return undefined;
  const t = el['#text'];
  return typeof t === 'string' ? t : '';
}

function attr(el: XElem | undefined, name: string): string | undefined {
  const v = el?.[`@_${name}`];
  return typeof v === 'string' ? v : undefined;
}

/** Text at a path of child elements: `pathText(el, 'spec', 'name')`. */
function pathText(el: unknown, ...names: string[]): string | undefined {
  let cur: unknown = el;
  for (const n of names) {
    cur = elem(cur, n);
    if (cur === undefined) return undefined;
  }
  return text(cur as XElem);
}

function parseBool(v: string | undefined): boolean | undefined {
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  return undefined;
}

function makeParser(): XMLParser {
  return new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: '@_',
    removeNSPrefix: false,
    parseTagValue: false,
    parseAttributeValue: false,
    processEntities: false,
    htmlEntities: false,
    trimValues: true,
    alwaysCreateTextNode: true,
    ignoreDeclaration: true,
    ignorePiTags: true,
    maxNestedTags: LIMITS.xmlDepth,
    isArray: (_name: string, _jpath: unknown, _leaf: boolean, isAttribute: boolean) => !isAttribute,
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Transport

interface TlsPolicy {
  /**
   * The context whose certificates the chain must verify against, made once for every connection of a session
   * (a context holding a CA bundle takes tens of milliseconds to build); Node's default store when absent.
   */
  context?: SecureContext;
  pin?: string;
  insecure: boolean;
  /** Why the extra CA file could not be used (see `VsphereOptions.extraCaFile`). */
  extraCaProblem?: string;
}

interface MoRef {
  type: string;
  value: string;
}

/** A SOAP fault from the server; `fault` is the vSphere fault type (`InvalidLogin`, `ManagedObjectNotFound`...). */
class VsphereFault extends HyperwardError {
  readonly fault: string;
  constructor(fault: string, message: string, file: string) {
    super('E_IO', `vSphere fault ${fault}: ${message}`, { file, layer: 'vSphere SOAP' });
    this.fault = fault;
  }
}

function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function moRefXml(tag: string, ref: MoRef): string {
  return `<${tag} type="${escapeXml(ref.type)}">${escapeXml(ref.value)}</${tag}>`;
}

function readMoRef(el: XElem | undefined): MoRef | undefined {
  const type = attr(el, 'type');
  const value = text(el);
  if (type === undefined || value === undefined || value === '') return undefined;
  return { type, value };
}

/** One session against one endpoint. Holds the session cookie; nothing is shared between calls of readVsphere. */
class SoapSession {
  private cookies = new Map<string, string>();
  private readonly parser = makeParser();

  constructor(
    private readonly ep: VsphereEndpoint,
    private readonly tls: TlsPolicy,
    private readonly timeoutMs: number,
  ) {}

  private err(code: ErrorCode, message: string, cause?: unknown): HyperwardError {
    return new HyperwardError(code, message, { file: this.ep.display, layer: 'vSphere SOAP' }, { cause });
  }

  /** Opens a TLS connection and verifies the server before a single byte of HTTP is sent. */
  private openTls(signal: AbortSignal): Promise<TLSSocket> {
    const { host, port } = this.ep;
    const { context, pin, insecure } = this.tls;
    const verifyChain = context !== undefined || (pin === undefined && !insecure);
    const opts: ConnectionOptions = {
      host,
      port,
      rejectUnauthorized: verifyChain,
      minVersion: 'TLSv1.2',
      ALPNProtocols: ['http/1.1'],
    };
    if (isIP(host) === 0) opts.servername = host;
    if (context !== undefined) opts.secureContext = context;
    return new Promise((resolve, reject) => {
      if (signal.aborted) {
        reject(this.err('E_IO', `timed out connecting to ${host}:${port}`));
        return;
      }
      const sock = tlsConnect(opts);
      const onAbort = (): void => {
        sock.destroy();
        reject(this.err('E_IO', `timed out connecting to ${host}:${port}`));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      sock.once('error', (e: NodeJS.ErrnoException) => {
        signal.removeEventListener('abort', onAbort);
        const code = e.code ?? '';
        const extra = this.tls.extraCaProblem;
        const hint = /CERT|SELF_SIGNED|UNABLE_TO|ERR_TLS_CERT_ALTNAME/.test(code)
          ? ` (the server certificate is not trusted: pin its SHA-256 thumbprint or pass its CA file${extra ? `; ${extra}` : ''})`
          : '';
        reject(this.err('E_IO', `TLS connection to ${host}:${port} failed: ${e.message}${hint}`, e));
      });
      sock.once('secureConnect', () => {
        signal.removeEventListener('abort', onAbort);
        if (pin !== undefined) {
          const fp = sock.getPeerCertificate().fingerprint256?.replace(/:/g, '').toUpperCase() ?? '';
          if (fp !== pin) {
            sock.destroy();
            reject(
              this.err(
                'E_IO',
                `server certificate thumbprint mismatch: got SHA-256 ${fp || 'none'}, pinned ${pin}`,
              ),
            );
            return;
          }
        }
        resolve(sock);
      });
    });
  }

  /** POSTs one SOAP request and returns the first element inside the response Body. */
  async call(method: string, inner: string): Promise<XElem> {
    const body =
      '<?xml version="1.0" encoding="UTF-8"?>' +
      '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" ' +
      'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema">' +
      `<soapenv:Body><${method} xmlns="urn:vim25">${inner}</${method}></soapenv:Body></soapenv:Envelope>`;
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), this.timeoutMs);
    try {
      const sock = await this.openTls(ac.signal);
      const { status, text: xml } = await this.post(sock, body, ac.signal, method);
      return this.parseResponse(xml, status, method);
    } finally {
      clearTimeout(timer);
    }
  }

  private post(
    sock: TLSSocket,
    body: string,
    signal: AbortSignal,
    method: string,
  ): Promise<{ status: number; text: string }> {
    const { host, port, path } = this.ep;
    const hostHeader = (isIP(host) === 6 ? `[${host}]` : host) + (port === 443 ? '' : `:${port}`);
    const headers: Record<string, string> = {
      Host: hostHeader,
      'Content-Type': 'text/xml; charset=utf-8',
      SOAPAction: `"urn:vim25/${API_VERSION}"`,
      'Content-Length': String(Buffer.byteLength(body)),
      'Accept-Encoding': 'identity',
      Connection: 'close',
    };
    if (this.cookies.size > 0) {
      headers['Cookie'] = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    }
    return new Promise((resolve, reject) => {
      let settled = false;
      const fail = (e: HyperwardError): void => {
        if (settled) return;
        settled = true;
        req.destroy();
        sock.destroy();
        reject(e);
      };
      const onAbort = (): void => fail(this.err('E_IO', `timed out waiting for the answer to ${method}`));
      if (signal.aborted) {
        sock.destroy();
        reject(this.err('E_IO', `timed out waiting for the answer to ${method}`));
        return;
      }
      signal.addEventListener('abort', onAbort, { once: true });
      const req = httpRequest(
        { createConnection: () => sock, method: 'POST', path, headers, setHost: false },
        (res) => {
          const status = res.statusCode ?? 0;
          this.storeCookies(res.headers['set-cookie']);
          const declared = Number(res.headers['content-length'] ?? '0');
          if (declared > LIMITS.responseBytes) {
            fail(
              this.err('E_LIMIT', `answer to ${method} is ${declared} bytes, over ${LIMITS.responseBytes}`),
            );
            return;
          }
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > LIMITS.responseBytes) {
              fail(this.err('E_LIMIT', `answer to ${method} exceeds ${LIMITS.responseBytes} bytes`));
              return;
            }
            chunks.push(c);
          });
          res.on('end', () => {
            if (settled) return;
            settled = true;
            signal.removeEventListener('abort', onAbort);
            sock.destroy();
            resolve({ status, text: Buffer.concat(chunks).toString('utf8') });
          });
          res.on('error', (e) => fail(this.err('E_IO', `reading the answer to ${method}: ${e.message}`, e)));
        },
      );
      req.on('error', (e) => fail(this.err('E_IO', `sending ${method}: ${e.message}`, e)));
      req.end(body);
    });
  }

  private storeCookies(setCookie: string[] | undefined): void {
    for (const c of setCookie ?? []) {
      const m = /^\s*([A-Za-z0-9_.-]{1,64})=([^;\s]{0,2048})/.exec(c);
      if (m === null) continue;
      const name = m[1]!;
      if (!this.cookies.has(name) && this.cookies.size >= 8) continue;
      this.cookies.set(name, m[2]!);
      let total = 0;
      for (const [k, v] of this.cookies) total += k.length + v.length + 2;
      if (total > LIMITS.cookieBytes) this.cookies.delete(name);
    }
  }

  private parseResponse(xml: string, status: number, method: string): XElem {
    if (/<!(DOCTYPE|ENTITY)/i.test(xml)) {
      throw this.err('E_IO', `answer to ${method} has a DOCTYPE or ENTITY declaration; refused`);
    }
    let doc: unknown;
    try {
      doc = this.parser.parse(xml);
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      throw this.err(
        'E_IO',
        `answer to ${method} (HTTP ${status}) is not well-formed XML: ${msg.slice(0, 200)}`,
        e,
      );
    }
    const envBody = elem(elem(doc, 'Envelope'), 'Body');
    if (envBody === undefined) {
      throw this.err('E_IO', `answer to ${method} (HTTP ${status}) is not a SOAP envelope`);
    }
    const fault = elem(envBody, 'Fault');
    if (fault !== undefined) {
      const message = text(elem(fault, 'faultstring')) ?? '';
      const detail = children(elem(fault, 'detail'))[0];
      const name = (xsiType(detail?.el) ?? detail?.name ?? 'unknown').replace(/^.*:/, '');
      throw new VsphereFault(
        name.replace(/Fault$/, ''),
        `${method}: ${message.slice(0, 500)}`,
        this.ep.display,
      );
    }
    if (status !== 200) throw this.err('E_IO', `answer to ${method} has HTTP status ${status}`);
    const first = children(envBody)[0];
    if (first === undefined) throw this.err('E_IO', `answer to ${method} has an empty SOAP body`);
    return first.el;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Property collector

interface ObjectContent {
  obj: MoRef;
  props: Map<string, XElem>;
  /** Property path -> fault type, for properties the server could not read. */
  missing: Map<string, string>;
}

interface ServiceContent {
  rootFolder: MoRef;
  propertyCollector: MoRef;
  viewManager: MoRef;
  sessionManager: MoRef;
}

function parseObjects(ret: XElem | undefined): ObjectContent[] {
  const out: ObjectContent[] = [];
  for (const o of elems(ret, 'objects')) {
    const obj = readMoRef(elem(o, 'obj'));
    if (obj === undefined) continue;
    const props = new Map<string, XElem>();
    for (const p of elems(o, 'propSet')) {
      const name = text(elem(p, 'name'));
      const val = elem(p, 'val');
      if (name !== undefined && val !== undefined) props.set(name, val);
    }
    const missing = new Map<string, string>();
    for (const m of elems(o, 'missingSet')) {
      const path = text(elem(m, 'path'));
      const f = elem(m, 'fault');
      const fault = children(f).find((c) => c.name === 'fault');
      const type = xsiType(fault?.el) ?? xsiType(f) ?? 'unknown';
      missing.set(path ?? '', type.replace(/^.*:/, ''));
    }
    out.push({ obj, props, missing });
  }
  return out;
}

/** `xsi:type` under any prefix. */
function xsiType(el: XElem | undefined): string | undefined {
  if (el === undefined) return undefined;
  for (const k of Object.keys(el)) {
    if (k.startsWith('@_') && localName(k.slice(2)) === 'type' && k.includes(':')) {
      const v = el[k];
      if (typeof v === 'string') return v.replace(/^.*:/, '');
    }
  }
  return undefined;
}

class Collector {
  constructor(
    private readonly s: SoapSession,
    private readonly pc: MoRef,
    private readonly display: string,
  ) {}

  /** RetrievePropertiesEx + ContinueRetrievePropertiesEx, bounded in pages and objects. */
  async retrieve(specSet: string, maxTotal: number): Promise<ObjectContent[]> {
    const out: ObjectContent[] = [];
    let ret: XElem | undefined = elem(
      await this.s.call(
        'RetrievePropertiesEx',
        `${moRefXml('_this', this.pc)}${specSet}<options><maxObjects>${LIMITS.pageObjects}</maxObjects></options>`,
      ),
      'returnval',
    );
    for (let page = 1; ; page++) {
      out.push(...parseObjects(ret));
      if (out.length > maxTotal) {
        await this.cancel(ret);
        throw new HyperwardError('E_LIMIT', `more than ${maxTotal} objects`, {
          file: this.display,
          layer: 'vSphere property collector',
        });
      }
      const token = text(elem(ret, 'token'));
      if (token === undefined || token === '') return out;
      if (page >= LIMITS.pages) {
        await this.cancel(ret);
        throw new HyperwardError('E_LIMIT', `more than ${LIMITS.pages} result pages`, {
          file: this.display,
          layer: 'vSphere property collector',
        });
      }
      ret = elem(
        await this.s.call(
          'ContinueRetrievePropertiesEx',
          `${moRefXml('_this', this.pc)}<token>${escapeXml(token)}</token>`,
        ),
        'returnval',
      );
    }
  }

  private async cancel(ret: XElem | undefined): Promise<void> {
    const token = text(elem(ret, 'token'));
    if (token === undefined || token === '') return;
    try {
      await this.s.call(
        'CancelRetrievePropertiesEx',
        `${moRefXml('_this', this.pc)}<token>${escapeXml(token)}</token>`,
      );
    } catch {
      // The results are abandoned either way; the server drops them with the session.
    }
  }
}

function propSpec(type: string, paths: readonly string[]): string {
  return `<propSet><type>${type}</type>${paths.map((p) => `<pathSet>${p}</pathSet>`).join('')}</propSet>`;
}

// ---------------------------------------------------------------------------------------------------------------
// Mapping into the inventory

function optionValues(val: XElem | undefined, file: string, into: Record<string, ConfigEntry>): void {
  let n = Object.keys(into).length;
  for (const ov of elems(val, 'OptionValue')) {
    const key = text(elem(ov, 'key'));
    if (key === undefined || key === '') continue;
    if (n >= LIMITS.optionsPerHost) {
      throw new HyperwardError(
        'E_LIMIT',
        `more than ${LIMITS.optionsPerHost} advanced settings on one host`,
        {
          file,
          layer: 'vSphere OptionManager',
        },
      );
    }
    const lower = key.toLowerCase();
    if (!Object.hasOwn(into, lower)) n++;
    // defineProperty: a key such as `__proto__` from the server becomes an entry, never the object's prototype.
    Object.defineProperty(into, lower, {
      value: { key, value: text(elem(ov, 'value')) ?? '', file, line: 0 },
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
}

function securityPolicy(sec: XElem | undefined): SecurityPolicy {
  const p: SecurityPolicy = {};
  const promisc = parseBool(text(elem(sec, 'allowPromiscuous')));
  const mac = parseBool(text(elem(sec, 'macChanges')));
  const forged = parseBool(text(elem(sec, 'forgedTransmits')));
  if (promisc !== undefined) p.allowPromiscuous = promisc;
  if (mac !== undefined) p.macChanges = mac;
  if (forged !== undefined) p.forgedTransmits = forged;
  return p;
}

function standardSwitches(
  vswitchVal: XElem | undefined,
  portgroupVal: XElem | undefined,
  file: string,
): StandardSwitch[] {
  const limit = (what: string, n: number): HyperwardError =>
    new HyperwardError('E_LIMIT', `more than ${n} ${what} on one host`, {
      file,
      layer: 'vSphere host network',
    });
  const vsEls = elems(vswitchVal, 'HostVirtualSwitch');
  if (vsEls.length > LIMITS.switchesPerHost) throw limit('standard switches', LIMITS.switchesPerHost);
  const switches: StandardSwitch[] = [];
  const byName = new Map<string, StandardSwitch>();
  const byKey = new Map<string, StandardSwitch>();
  for (const vs of vsEls) {
    const name = text(elem(vs, 'name')) ?? '';
    const sw: StandardSwitch = {
      name,
      policy: securityPolicy(elem(elem(elem(vs, 'spec'), 'policy'), 'security')),
      portGroups: [],
    };
    switches.push(sw);
    if (!byName.has(name)) byName.set(name, sw);
    const key = text(elem(vs, 'key'));
    if (key !== undefined && !byKey.has(key)) byKey.set(key, sw);
  }
  const pgEls = elems(portgroupVal, 'HostPortGroup');
  if (pgEls.length > LIMITS.portGroupsPerHost) throw limit('port groups', LIMITS.portGroupsPerHost);
  for (const pg of pgEls) {
    const spec = elem(pg, 'spec');
    const sw = byName.get(pathText(spec, 'vswitchName') ?? '') ?? byKey.get(text(elem(pg, 'vswitch')) ?? '');
    if (sw === undefined) continue;
    const group: PortGroup = {
      name: pathText(spec, 'name') ?? '',
      policy: securityPolicy(elem(elem(spec, 'policy'), 'security')),
    };
    const vlan = pathText(spec, 'vlanId');
    if (vlan !== undefined && /^-?\d{1,5}$/.test(vlan)) group.vlanId = Number(vlan);
    sw.portGroups.push(group);
  }
  return switches;
}

function services(val: XElem | undefined, file: string): EsxiService[] {
  const els = elems(val, 'service');
  if (els.length > LIMITS.servicesPerHost) {
    throw new HyperwardError('E_LIMIT', `more than ${LIMITS.servicesPerHost} services on one host`, {
      file,
      layer: 'vSphere HostServiceSystem',
    });
  }
  const out: EsxiService[] = [];
  for (const s of els) {
    const key = text(elem(s, 'key'));
    if (key === undefined || key === '') continue;
    const svc: EsxiService = {
      key,
      running: parseBool(text(elem(s, 'running'))) ?? false,
      policy: text(elem(s, 'policy')) ?? '',
    };
    const label = text(elem(s, 'label'));
    if (label !== undefined && label !== '') svc.label = label;
    out.push(svc);
  }
  return out;
}

function refKey(r: MoRef): string {
  return `${r.type}:${r.value}`;
}

function lockdown(o: ObjectContent): string | undefined {
  const mode = text(o.props.get('config.lockdownMode'));
  if (mode !== undefined && mode !== '') return mode;
  const admin = parseBool(text(o.props.get('config.adminDisabled')));
  if (admin === undefined) return undefined;
  return admin ? 'lockdownNormal' : 'lockdownDisabled';
}

// ---------------------------------------------------------------------------------------------------------------

/** A client context trusting exactly `ca` (PEM), with the protocol floor every connection uses. */
function trustContext(ca: string[]): SecureContext {
  return createSecureContext({ ca, minVersion: 'TLSv1.2' });
}

/**
 * What Node trusts when `NODE_EXTRA_CA_CERTS` names `file`: its bundled roots and the certificates of the file
 * (read as a regular file of bounded size). A file that cannot be read, or holds no PEM certificate, gives a
 * `problem` instead, and the bundled roots alone apply, as Node warns and goes on.
 */
export function extraTrust(file: string): { certificates: string[]; problem?: string } {
  let pem: string;
  try {
    pem = readTextFile(file, LIMITS.caFileBytes);
  } catch (e) {
    // readTextFile's errors name the file.
    const why = e instanceof HyperwardError ? e.message : `${file}: ${(e as Error).message}`;
    return {
      certificates: [...rootCertificates],
      problem: `the extra CA certificates could not be read: ${why}`,
    };
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
    return {
      certificates: [...rootCertificates],
      problem: `the extra CA file ${file} holds no PEM certificate`,
    };
  }
  return { certificates: [...rootCertificates, pem] };
}

/**
 * Reads every ESXi host visible through a vSphere endpoint (vCenter or a standalone host): version, advanced
 * settings (`config.option`, overridden by the host's advanced-option manager where it can be read), lockdown mode,
 * services (undefined when the server has no HostServiceSystem for the host) and standard switches with their
 * port groups' security overrides. Logs in with the given user, logs out at the end.
 *
 * @param url `vsphere://host[:port][/path]` or `https://host[:port][/path]` (path defaults to `/sdk`).
 * @throws HyperwardError E_USAGE for a bad URL or thumbprint, E_IO for connection, TLS, authentication and protocol
 *   failures (the message names the vSphere fault), E_LIMIT when the server's answers exceed the caps.
 */
export async function readVsphere(url: string, opts: VsphereOptions): Promise<EsxiHost[]> {
  const ep = parseVsphereUrl(url);
  const tls: TlsPolicy = { insecure: opts.insecure === true };
  if (opts.thumbprint !== undefined) tls.pin = normaliseThumbprint(opts.thumbprint);
  if (opts.caFile !== undefined) {
    try {
      tls.context = trustContext([readTextFile(opts.caFile, LIMITS.caFileBytes)]);
    } catch (e) {
      if (e instanceof HyperwardError) {
        throw new HyperwardError(
          e.code,
          `cannot read the CA file: ${e.message.slice(opts.caFile.length + 2)}`,
          {
            file: opts.caFile,
          },
        );
      }
      throw e;
    }
  }
  if (opts.extraCaFile !== undefined && tls.context === undefined && tls.pin === undefined && !tls.insecure) {
    const extra = extraTrust(opts.extraCaFile);
    if (extra.problem !== undefined) tls.extraCaProblem = extra.problem;
    else tls.context = trustContext(extra.certificates);
  }
  const timeoutMs = opts.timeoutMs ?? LIMITS.defaultTimeoutMs;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0)
    throw new HyperwardError('E_USAGE', 'timeoutMs must be > 0');
  const s = new SoapSession(ep, tls, timeoutMs);
  const file = ep.display;

  const scEl = elem(
    await s.call('RetrieveServiceContent', '<_this type="ServiceInstance">ServiceInstance</_this>'),
    'returnval',
  );
  const ref = (name: string): MoRef => {
    const r = readMoRef(elem(scEl, name));
    if (r === undefined) {
      throw new HyperwardError('E_IO', `the service content has no ${name}: not a vSphere endpoint?`, {
        file,
        layer: 'vSphere SOAP',
      });
    }
    return r;
  };
  const sc: ServiceContent = {
    rootFolder: ref('rootFolder'),
    propertyCollector: ref('propertyCollector'),
    viewManager: ref('viewManager'),
    sessionManager: ref('sessionManager'),
  };

  await s.call(
    'Login',
    `${moRefXml('_this', sc.sessionManager)}<userName>${escapeXml(opts.user)}</userName>` +
      `<password>${escapeXml(opts.password)}</password>`,
  );
  let view: MoRef | undefined;
  try {
    view = readMoRef(
      elem(
        await s.call(
          'CreateContainerView',
          `${moRefXml('_this', sc.viewManager)}${moRefXml('container', sc.rootFolder)}` +
            '<type>HostSystem</type><recursive>true</recursive>',
        ),
        'returnval',
      ),
    );
    if (view === undefined) {
      throw new HyperwardError('E_IO', 'CreateContainerView returned no view', {
        file,
        layer: 'vSphere SOAP',
      });
    }
    const pc = new Collector(s, sc.propertyCollector, file);
    const hostObjs = (
      await pc.retrieve(
        '<specSet>' +
          propSpec('HostSystem', HOST_PATHS) +
          `<objectSet>${moRefXml('obj', view)}<skip>true</skip>` +
          '<selectSet xsi:type="TraversalSpec"><name>traverseView</name><type>ContainerView</type>' +
          '<path>view</path><skip>false</skip></selectSet></objectSet></specSet>',
        LIMITS.hosts,
      )
    ).filter((o) => o.obj.type === 'HostSystem');

    // Second pass: each host's advanced-option manager and service system, where the host names them.
    const managed = new Map<string, MoRef>();
    for (const o of hostObjs) {
      for (const p of ['configManager.advancedOption', 'configManager.serviceSystem']) {
        const r = readMoRef(o.props.get(p));
        if (r !== undefined && (r.type === 'OptionManager' || r.type === 'HostServiceSystem')) {
          managed.set(refKey(r), r);
        }
      }
    }
    const managedContent = await readManaged(pc, [...managed.values()]);

    const hosts: EsxiHost[] = [];
    for (const o of hostObjs) {
      const name = text(o.props.get('name')) || o.obj.value;
      const product = o.props.get('config.product');
      const host: EsxiHost = { name, source: file, advanced: {} };
      const version = pathText(product, 'version');
      const build = pathText(product, 'build');
      if (version !== undefined && version !== '') host.version = version;
      if (build !== undefined && build !== '') host.build = build;
      optionValues(o.props.get('config.option'), file, host.advanced);
      const om = readMoRef(o.props.get('configManager.advancedOption'));
      const omProps = om === undefined ? undefined : managedContent.get(refKey(om));
      if (omProps?.has('setting')) optionValues(omProps.get('setting'), file, host.advanced);
      const ss = readMoRef(o.props.get('configManager.serviceSystem'));
      const ssInfo = ss === undefined ? undefined : managedContent.get(refKey(ss))?.get('serviceInfo');
      if (ssInfo !== undefined) host.services = services(ssInfo, file);
      const mode = lockdown(o);
      if (mode !== undefined) host.lockdownMode = mode;
      const vsw = o.props.get('config.network.vswitch');
      const pgs = o.props.get('config.network.portgroup');
      if (vsw !== undefined || pgs !== undefined) host.standardSwitches = standardSwitches(vsw, pgs, file);
      hosts.push(host);
    }
    hosts.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return hosts;
  } finally {
    if (view !== undefined) {
      await s.call('DestroyView', moRefXml('_this', view)).catch(() => undefined);
    }
    await s.call('Logout', moRefXml('_this', sc.sessionManager)).catch(() => undefined);
  }
}

/**
 * Reads `setting` of OptionManagers and `serviceInfo` of HostServiceSystems. Objects the server does not have
 * (vcsim has no HostServiceSystem) are left out: their hosts' services stay unknown. One batch first; if the server
 * faults on a missing object instead of reporting it, each object is read on its own.
 */
async function readManaged(pc: Collector, refs: MoRef[]): Promise<Map<string, Map<string, XElem>>> {
  const out = new Map<string, Map<string, XElem>>();
  if (refs.length === 0) return out;
  const spec = (objs: MoRef[]): string =>
    '<specSet>' +
    propSpec('OptionManager', ['setting']) +
    propSpec('HostServiceSystem', ['serviceInfo']) +
    objs.map((r) => `<objectSet>${moRefXml('obj', r)}<skip>false</skip></objectSet>`).join('') +
    '<reportMissingObjectsInResults>true</reportMissingObjectsInResults></specSet>';
  const take = (objs: ObjectContent[]): void => {
    for (const o of objs) out.set(refKey(o.obj), o.props);
  };
  try {
    take(await pc.retrieve(spec(refs), refs.length));
  } catch (e) {
    if (!(e instanceof VsphereFault) || e.fault !== 'ManagedObjectNotFound') throw e;
    for (const r of refs) {
      try {
        take(await pc.retrieve(spec([r]), 1));
      } catch (e2) {
        if (!(e2 instanceof VsphereFault) || e2.fault !== 'ManagedObjectNotFound') throw e2;
      }
    }
  }
  return out;
}
