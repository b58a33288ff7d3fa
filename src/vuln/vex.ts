/**
 * VEX: statements by a vendor or the user that a product is, or is not, affected by a vulnerability. Loads
 * OpenVEX (0.2.0, and the earlier draft with string `vulnerability` and `products`) and CycloneDX VEX (a BOM whose
 * `vulnerabilities[]` carry an `analysis`), and applies them to vulnerability findings: `not_affected` and `fixed`
 * suppress a finding, `affected` and `under_investigation` leave it failing; either way the statement is kept in
 * the report.
 *
 * Matching is by vulnerability ID (the finding's ID or one of its aliases) and package URL:
 * - type, namespace and name must be equal (a VEX purl without a namespace matches any namespace);
 * - a version in the VEX purl must equal the package's, epochs folded in (`@1.2-3?epoch=1` is `@1:1.2-3`, and
 *   epoch 0 is no epoch); no version matches every version;
 * - every qualifier the VEX purl gives must be on the package's purl with the same value (extra qualifiers on the
 *   package are ignored), except `distro`, where a release matches its point releases (`debian-12` matches
 *   `debian-12.5` and the reverse) and a bare version (Trivy's `distro=3.16.0` for Alpine) matches any ID;
 * - an OpenVEX product with `subcomponents` applies to its subcomponents only (the product is the image or
 *   appliance the packages are in, which a package finding does not name); without subcomponents, to the product.
 * CycloneDX `affects[].versions` ranges are not evaluated: the `ref` alone decides. When several statements apply,
 * the latest (statement timestamp, else the document's) wins; equal or missing times go to the one loaded last.
 */
import type { PackageURL } from 'packageurl-js';
import { dependency } from '../dependency.js';
import { HyperwardError } from '../errors.js';
import { isJsonObject, parseJsonGuarded } from '../json-guard.js';
import type { Finding, VexApplied } from '../model/finding.js';
import { readTextFile } from '../source/file.js';

/**
 * The purl parser, loaded on first use rather than with this module: every scan loads this module, few give VEX
 * documents. Node's module cache keeps one instance.
 */
function purlParser(): typeof PackageURL {
  return dependency<typeof import('packageurl-js')>('packageurl-js').PackageURL;
}

export type VexStatus = VexApplied['status'];

/** A package URL a statement is about, parsed once. */
export interface VexProduct {
  /** The purl as the document wrote it (after BOM-link and bom-ref resolution). */
  purl: string;
  type: string;
  namespace?: string;
  name: string;
  /** Version with the epoch folded in (`1:1.2-3`); undefined: every version. */
  version?: string;
  /** Qualifiers except `epoch`. */
  qualifiers: Record<string, string>;
}

export interface VexStatement {
  /** The vulnerability ID as the statement names it (`CVE-2021-44228`). */
  vulnerability: string;
  /** Other IDs the statement gives for the same vulnerability. */
  aliases: string[];
  products: VexProduct[];
  status: VexStatus;
  justification?: string;
  /** Impact statement, action statement or CycloneDX `detail`. */
  statement?: string;
  /** Milliseconds since the epoch: the statement's time, else the document's. */
  timestamp?: number;
}

export interface VexDocument {
  path: string;
  format: 'openvex' | 'cyclonedx';
  statements: VexStatement[];
  /** Statements or products skipped, refs that could not be resolved. */
  notes: string[];
}

export interface VexLimits {
  maxBytes: number;
  /** Most statements (OpenVEX) or vulnerabilities (CycloneDX) accepted; more is refused. */
  maxStatements: number;
  /** Most products (subcomponents included) or `affects` entries per statement read; the rest are noted. */
  maxProducts: number;
  /** Most components walked to resolve CycloneDX bom-refs. */
  maxComponents: number;
  /** Deepest CycloneDX component nesting walked. */
  maxNesting: number;
  maxNotes: number;
}

export const VEX_LIMITS: VexLimits = {
  maxBytes: 64 * 1024 * 1024,
  maxStatements: 200_000,
  maxProducts: 10_000,
  maxComponents: 1_000_000,
  maxNesting: 64,
  maxNotes: 200,
};

/**
 * Reads and parses the VEX document at `path`.
 * @throws HyperwardError `E_NOT_FOUND`, `E_IO`, `E_LIMIT`, `E_CONFIG_SYNTAX` (not JSON), `E_UNSUPPORTED_FORMAT`
 * (neither OpenVEX nor CycloneDX).
 * @example
 * const findings2 = applyVex(findings, [loadVex('vendor.openvex.json')]);
 */
export function loadVex(path: string, limits: VexLimits = VEX_LIMITS): VexDocument {
  return parseVex(readTextFile(path, limits.maxBytes), path, limits);
}

/** Parses VEX text; `path` names it in errors and in the `vex.document` of the findings it touches. Pure. */
export function parseVex(text: string, path: string, limits: VexLimits = VEX_LIMITS): VexDocument {
  const doc = parseJsonGuarded(
    text,
    { file: path, layer: 'VEX' },
    { maxLength: limits.maxBytes, maxDepth: 200 },
  );
  if (!isJsonObject(doc)) {
    throw new HyperwardError(
      'E_UNSUPPORTED_FORMAT',
      'not a VEX document: the JSON document is not an object',
      {
        file: path,
      },
    );
  }
  const notes = new Notes(limits.maxNotes);
  if (doc.bomFormat === 'CycloneDX') {
    return {
      path,
      format: 'cyclonedx',
      statements: readCycloneDx(doc, path, limits, notes),
      notes: notes.finish(),
    };
  }
  const context = doc['@context'];
  if (typeof context === 'string' && context.includes('openvex')) {
    return {
      path,
      format: 'openvex',
      statements: readOpenVex(doc, path, limits, notes),
      notes: notes.finish(),
    };
  }
  throw new HyperwardError(
    'E_UNSUPPORTED_FORMAT',
    'not an OpenVEX (`@context` https://openvex.dev/ns...) or CycloneDX VEX (`bomFormat: "CycloneDX"`) document',
    { file: path },
  );
}

class Notes {
  private readonly list: string[] = [];
  private dropped = 0;
  constructor(private readonly max: number) {}
  add(s: string): void {
    if (this.list.length < this.max) this.list.push(s);
    else this.dropped++;
  }
  finish(): string[] {
    return this.dropped > 0 ? [...this.list, `${this.dropped} more note(s) omitted`] : [...this.list];
  }
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function clip(s: string, n = 200): string {
  return s.length > n ? `${s.slice(0, n)}…` : s;
}

/** An ISO 8601 time to milliseconds; undefined when absent or not a date. */
function time(v: unknown): number | undefined {
  if (typeof v !== 'string' || !/^\d{4}-\d{2}-\d{2}/.test(v)) return undefined;
  const t = Date.parse(v);
  return Number.isFinite(t) ? t : undefined;
}

const OPENVEX_STATUS = new Set<VexStatus>(['not_affected', 'affected', 'fixed', 'under_investigation']);

// ---------------------------------------------------------------------------------------------------------------
// OpenVEX

function readOpenVex(
  doc: Record<string, unknown>,
  path: string,
  limits: VexLimits,
  notes: Notes,
): VexStatement[] {
  const list = doc.statements;
  if (!Array.isArray(list)) {
    notes.add('`statements` is missing or not an array');
    return [];
  }
  if (list.length > limits.maxStatements) {
    throw new HyperwardError('E_LIMIT', `more than ${limits.maxStatements} statements`, {
      file: path,
      layer: 'OpenVEX statements',
    });
  }
  const docTime = time(doc.last_updated) ?? time(doc.timestamp);
  const out: VexStatement[] = [];
  list.forEach((raw: unknown, i) => {
    const where = `statement #${i + 1}`;
    if (!isJsonObject(raw)) {
      notes.add(`${where}: not an object; skipped`);
      return;
    }
    const vuln = raw.vulnerability;
    let id: string | undefined;
    const aliases: string[] = [];
    if (typeof vuln === 'string') id = str(vuln);
    else if (isJsonObject(vuln)) {
      id = str(vuln.name) ?? str(vuln['@id']);
      if (str(vuln['@id']) && str(vuln.name)) aliases.push(vuln['@id'] as string);
      if (Array.isArray(vuln.aliases)) {
        for (const a of vuln.aliases.slice(0, limits.maxProducts))
          if (typeof a === 'string' && a) aliases.push(a);
      }
    }
    if (id === undefined) {
      notes.add(`${where}: no vulnerability name; skipped`);
      return;
    }
    const status = raw.status;
    if (typeof status !== 'string' || !OPENVEX_STATUS.has(status as VexStatus)) {
      notes.add(
        `${where} (${clip(id, 80)}): unknown status ${clip(JSON.stringify(status) ?? 'undefined', 40)}; skipped`,
      );
      return;
    }
    const products: VexProduct[] = [];
    const addId = (v: unknown, label: string): void => {
      const purl = typeof v === 'string' ? v : isJsonObject(v) ? productPurl(v) : undefined;
      if (purl === undefined) {
        notes.add(`${where}: ${label} has no package URL; ignored`);
        return;
      }
      const p = parseProduct(purl);
      if (typeof p === 'string') notes.add(`${where}: ${label} "${clip(purl)}": ${p}; ignored`);
      else if (products.length < limits.maxProducts) products.push(p);
    };
    const prods = Array.isArray(raw.products) ? raw.products : [];
    let budget = limits.maxProducts;
    for (const prod of prods) {
      if (budget-- <= 0) {
        notes.add(`${where}: more than ${limits.maxProducts} products; the rest ignored`);
        break;
      }
      const subs = isJsonObject(prod) && Array.isArray(prod.subcomponents) ? prod.subcomponents : [];
      if (subs.length > 0) {
        for (const s of subs.slice(0, limits.maxProducts)) addId(s, 'subcomponent');
      } else addId(prod, 'product');
    }
    if (products.length === 0) {
      notes.add(`${where} (${clip(id, 80)}): no product with a package URL; it applies to nothing`);
    }
    const st: VexStatement = { vulnerability: id, aliases, products, status: status as VexStatus };
    const j = str(raw.justification);
    if (j) st.justification = j;
    const text = str(raw.impact_statement) ?? str(raw.action_statement) ?? str(raw.status_notes);
    if (text) st.statement = text;
    const t = time(raw.last_updated) ?? time(raw.timestamp) ?? docTime;
    if (t !== undefined) st.timestamp = t;
    out.push(st);
  });
  return out;
}

/** A product's purl: `@id` when it is one, else `identifiers.purl`. */
function productPurl(p: Record<string, unknown>): string | undefined {
  const id = str(p['@id']);
  if (id?.startsWith('pkg:')) return id;
  const ids = p.identifiers;
  if (isJsonObject(ids)) return str(ids.purl);
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// CycloneDX

const CDX_STATE: Readonly<Record<string, VexStatus>> = {
  not_affected: 'not_affected',
  false_positive: 'not_affected',
  resolved: 'fixed',
  resolved_with_pedigree: 'fixed',
  exploitable: 'affected',
  in_triage: 'under_investigation',
};

function readCycloneDx(
  doc: Record<string, unknown>,
  path: string,
  limits: VexLimits,
  notes: Notes,
): VexStatement[] {
  const vulns = doc.vulnerabilities;
  if (!Array.isArray(vulns)) {
    notes.add('`vulnerabilities` is missing or not an array: no statements');
    return [];
  }
  if (vulns.length > limits.maxStatements) {
    throw new HyperwardError('E_LIMIT', `more than ${limits.maxStatements} vulnerabilities`, {
      file: path,
      layer: 'CycloneDX vulnerabilities',
    });
  }
  const meta = isJsonObject(doc.metadata) ? doc.metadata : undefined;
  const docTime = time(meta?.timestamp);
  const refs = bomRefs(doc, path, limits, notes);
  const out: VexStatement[] = [];
  vulns.forEach((raw: unknown, i) => {
    const where = `vulnerability #${i + 1}`;
    if (!isJsonObject(raw)) {
      notes.add(`${where}: not an object; skipped`);
      return;
    }
    const id = str(raw.id);
    if (id === undefined) {
      notes.add(`${where}: no id; skipped`);
      return;
    }
    const analysis = isJsonObject(raw.analysis) ? raw.analysis : undefined;
    const state = analysis?.state;
    const status = typeof state === 'string' ? CDX_STATE[state] : undefined;
    if (status === undefined) {
      notes.add(`${where} (${clip(id, 80)}): no analysis state this tool knows; skipped`);
      return;
    }
    const aliases: string[] = [];
    if (Array.isArray(raw.references)) {
      for (const r of raw.references.slice(0, limits.maxProducts)) {
        if (isJsonObject(r) && typeof r.id === 'string' && r.id) aliases.push(r.id);
      }
    }
    const products: VexProduct[] = [];
    const affects = Array.isArray(raw.affects) ? raw.affects : [];
    if (affects.length > limits.maxProducts)
      notes.add(`${where}: more than ${limits.maxProducts} affects; the rest ignored`);
    for (const a of affects.slice(0, limits.maxProducts)) {
      const ref = isJsonObject(a) ? str(a.ref) : undefined;
      if (ref === undefined) {
        notes.add(`${where}: an \`affects\` entry has no ref; ignored`);
        continue;
      }
      const purl = resolveRef(ref, refs);
      if (purl === undefined) {
        notes.add(`${where}: ref "${clip(ref)}" is not a package URL nor a component with one here; ignored`);
        continue;
      }
      const p = parseProduct(purl);
      if (typeof p === 'string') notes.add(`${where}: ref "${clip(ref)}": ${p}; ignored`);
      else products.push(p);
    }
    if (products.length === 0) {
      notes.add(`${where} (${clip(id, 80)}): affects no package URL; it applies to nothing`);
    }
    const st: VexStatement = { vulnerability: id, aliases, products, status };
    const j = str(analysis?.justification) ?? (state === 'false_positive' ? 'false_positive' : undefined);
    if (j) st.justification = j;
    const detail = str(analysis?.detail);
    if (detail) st.statement = detail;
    const t =
      time(analysis?.lastUpdated) ??
      time(analysis?.firstIssued) ??
      time(raw.updated) ??
      time(raw.published) ??
      docTime;
    if (t !== undefined) st.timestamp = t;
    out.push(st);
  });
  return out;
}

/** bom-ref → purl of every component in the document (metadata.component and nested components included). */
function bomRefs(
  doc: Record<string, unknown>,
  path: string,
  limits: VexLimits,
  notes: Notes,
): Map<string, string> {
  const out = new Map<string, string>();
  const stack: Array<{ node: unknown; depth: number }> = [];
  const meta = isJsonObject(doc.metadata) ? doc.metadata : undefined;
  if (meta && meta.component !== undefined) stack.push({ node: meta.component, depth: 1 });
  const pushAll = (list: unknown, depth: number): void => {
    if (!Array.isArray(list)) return;
    if (depth > limits.maxNesting) {
      notes.add(`components nested deeper than ${limits.maxNesting} levels not searched for bom-refs`);
      return;
    }
    for (let i = list.length - 1; i >= 0; i--) stack.push({ node: list[i], depth });
  };
  pushAll(doc.components, 1);
  let count = 0;
  while (stack.length > 0) {
    const { node, depth } = stack.pop()!;
    if (++count > limits.maxComponents) {
      throw new HyperwardError('E_LIMIT', `more than ${limits.maxComponents} components`, {
        file: path,
        layer: 'CycloneDX components',
      });
    }
    if (!isJsonObject(node)) continue;
    pushAll(node.components, depth + 1);
    const ref = str(node['bom-ref']);
    const purl = str(node.purl);
    if (ref !== undefined && purl !== undefined && !out.has(ref)) out.set(ref, purl);
  }
  return out;
}

/** An `affects[].ref`: a bom-ref of this document, a BOM-link `urn:cdx:serial/version#bom-ref`, or a purl. */
function resolveRef(ref: string, refs: Map<string, string>): string | undefined {
  let r = ref;
  if (r.startsWith('urn:cdx:')) {
    const hash = r.indexOf('#');
    if (hash < 0) return undefined;
    r = r.slice(hash + 1);
    const direct = refs.get(r);
    if (direct !== undefined) return direct;
    try {
      const decoded = decodeURIComponent(r);
      const viaDecoded = refs.get(decoded);
      if (viaDecoded !== undefined) return viaDecoded;
    } catch {
      // not percent-encoded: use as is
    }
    return r.startsWith('pkg:') ? r : undefined;
  }
  return refs.get(r) ?? (r.startsWith('pkg:') ? r : undefined);
}

// ---------------------------------------------------------------------------------------------------------------
// Package URLs and matching

/** A type the purl spec renamed: syft wrote Alpine packages as `pkg:alpine/...` before `apk`. */
const TYPE_ALIASES: Readonly<Record<string, string>> = { alpine: 'apk' };

/** Folds the `epoch` qualifier into the version for deb and rpm; epoch 0 is no epoch. */
function foldedVersion(
  type: string,
  version: string | undefined,
  epoch: string | undefined,
): string | undefined {
  if (version === undefined || version === '') return undefined;
  if (type !== 'deb' && type !== 'rpm') return version;
  let v = version;
  if (epoch !== undefined && /^\d+$/.test(epoch) && !/^\d+:/.test(v)) v = `${epoch}:${v}`;
  return v.replace(/^0+:/, '');
}

/** Parses a purl for matching; a string is the reason it could not be. */
export function parseProduct(purl: string): VexProduct | string {
  let p: PackageURL;
  try {
    p = purlParser().fromString(purl);
  } catch (e) {
    return `malformed package URL (${(e as Error).message})`;
  }
  const type = TYPE_ALIASES[p.type] ?? p.type;
  const q: Record<string, string> = {};
  for (const [k, v] of Object.entries(p.qualifiers ?? {})) if (k !== 'epoch') q[k] = v;
  const out: VexProduct = { purl, type, name: p.name, qualifiers: q };
  const ns = p.namespace ?? (p.type === 'alpine' ? 'alpine' : undefined);
  if (ns !== undefined) out.namespace = ns.toLowerCase();
  const v = foldedVersion(type, p.version, p.qualifiers?.epoch);
  if (v !== undefined) out.version = v;
  return out;
}

/** `debian-12.5` → { id: debian, version: 12.5 }; `3.16.0` → { version }; `focal` → { id: focal }. */
function splitDistro(d: string): { id?: string; version?: string } {
  const m = /^(.*?)-(\d.*)$/.exec(d);
  if (m && m[1] !== '') return { id: m[1]!.toLowerCase(), version: m[2]! };
  if (/^\d/.test(d)) return { version: d };
  return { id: d.toLowerCase() };
}

function distroMatches(want: string, have: string | undefined): boolean {
  if (have === undefined) return false;
  if (want === have) return true;
  const a = splitDistro(want);
  const b = splitDistro(have);
  if (a.id !== undefined && b.id !== undefined && a.id !== b.id) return false;
  if (a.version === undefined || b.version === undefined) return a.version === b.version && a.id === b.id;
  return (
    a.version === b.version || b.version.startsWith(`${a.version}.`) || a.version.startsWith(`${b.version}.`)
  );
}

/** Whether the VEX product `vex` covers the package `pkg` (both parsed), by the rules in this module's header. */
export function productMatches(vex: VexProduct, pkg: VexProduct): boolean {
  if (vex.type !== pkg.type || vex.name !== pkg.name) return false;
  if (vex.namespace !== undefined && vex.namespace !== pkg.namespace) return false;
  if (vex.version !== undefined && vex.version !== pkg.version) return false;
  for (const [k, v] of Object.entries(vex.qualifiers)) {
    if (k === 'distro') {
      if (!distroMatches(v, pkg.qualifiers.distro)) return false;
    } else if (pkg.qualifiers[k] !== v) return false;
  }
  return true;
}

/**
 * Applies VEX documents to findings, returning new findings (the input is not changed). A finding with a
 * `vulnerability` that a statement covers gets `vulnerability.vex`; `not_affected` and `fixed` also set its status
 * to `suppressed`. Findings without a vulnerability, or that no statement covers, are returned as they were.
 */
export function applyVex(findings: Finding[], docs: VexDocument[]): Finding[] {
  const byId = new Map<string, Array<{ st: VexStatement; doc: VexDocument; order: number }>>();
  let order = 0;
  for (const doc of docs) {
    for (const st of doc.statements) {
      order++;
      for (const id of new Set([st.vulnerability, ...st.aliases].map((s) => s.toUpperCase()))) {
        const l = byId.get(id);
        const e = { st, doc, order };
        if (l) l.push(e);
        else byId.set(id, [e]);
      }
    }
  }
  if (byId.size === 0) return findings.slice();
  return findings.map((f) => {
    const v = f.vulnerability;
    if (!v) return f;
    const ids = new Set([v.id, ...v.aliases].map((s) => s.toUpperCase()));
    const candidates = new Map<number, { st: VexStatement; doc: VexDocument; order: number }>();
    for (const id of ids) for (const e of byId.get(id) ?? []) candidates.set(e.order, e);
    if (candidates.size === 0) return f;
    const pkg = parseProduct(v.package.purl);
    if (typeof pkg === 'string') return f;
    let best: { st: VexStatement; doc: VexDocument; order: number } | undefined;
    for (const e of candidates.values()) {
      if (!e.st.products.some((p) => productMatches(p, pkg))) continue;
      if (best === undefined || later(e, best)) best = e;
    }
    if (!best) return f;
    const vex: VexApplied = { status: best.st.status, document: best.doc.path };
    if (best.st.justification !== undefined) vex.justification = best.st.justification;
    if (best.st.statement !== undefined) vex.statement = best.st.statement;
    const suppressed = vex.status === 'not_affected' || vex.status === 'fixed';
    return { ...f, status: suppressed ? 'suppressed' : f.status, vulnerability: { ...v, vex } };
  });
}

/** Whether `a` is the later statement: by time (a missing time is the earliest), then by load order. */
function later(a: { st: VexStatement; order: number }, b: { st: VexStatement; order: number }): boolean {
  const ta = a.st.timestamp ?? -Infinity;
  const tb = b.st.timestamp ?? -Infinity;
  return ta !== tb ? ta > tb : a.order > b.order;
}
