/**
 * Reads the operating-system packages out of an SBOM written by another tool (syft, Trivy, osv-scalibr...):
 * CycloneDX 1.4–1.6 JSON and SPDX 2.3 JSON, told apart by content. The result is the same inventory an image or
 * host scan produces, one per operating system the document describes, so the vulnerability matcher treats an
 * SBOM like any other target.
 *
 * Only `deb`, `rpm` and `apk` package URLs become packages (plus syft's old `pkg:alpine/...` spelling); every other
 * component is counted in a note. The input is assumed hostile: size, component-count and nesting limits, a
 * guarded JSON parse, and a malformed record is noted and skipped while the rest is read.
 */
import { PackageURL } from 'packageurl-js';
import { HyperwardError } from '../errors.js';
import { readTextFile } from '../source/file.js';
import { isJsonObject, parseJsonGuarded } from '../json-guard.js';
import type { OsInfo, Package, PackageEcosystem, SystemInventory } from '../model/inventory.js';
import { familyOf } from '../inspect/os-release.js';

/** One operating system found in an SBOM, with its packages. */
export type SbomInventory = SystemInventory & {
  /** What the SBOM describes: the CycloneDX `metadata.component` name or the SPDX document name, else the path. */
  target: string;
  format: 'cyclonedx' | 'spdx';
  /** `1.6` for CycloneDX, `SPDX-2.3` for SPDX, as the document states it. */
  specVersion: string;
  /** What was ignored or could not be read, for the user to see: other ecosystems, malformed purls, limits hit. */
  notes: string[];
};

/** Bounds on what one SBOM may make the reader do. */
export interface SbomLimits {
  /** Largest file read, in bytes. */
  maxBytes: number;
  /** Most components (CycloneDX, nested included) or packages (SPDX) accepted; more is refused. */
  maxComponents: number;
  /** Deepest CycloneDX component nesting walked; deeper components are skipped with a note. */
  maxNesting: number;
  /** Most notes kept; the rest are counted in a last note. */
  maxNotes: number;
}

export const SBOM_LIMITS: SbomLimits = {
  maxBytes: 256 * 1024 * 1024,
  maxComponents: 1_000_000,
  maxNesting: 64,
  maxNotes: 200,
};

/** JSON nesting allowed by the parser: enough for `maxNesting` component levels (two JSON levels each). */
const JSON_DEPTH = 200;

/**
 * Reads the SBOM at `path`.
 * @throws HyperwardError `E_NOT_FOUND`, `E_IO`, `E_LIMIT` (too large, too many components, nested too deep for
 * JSON), `E_CONFIG_SYNTAX` (not JSON), `E_UNSUPPORTED_FORMAT` (neither CycloneDX nor SPDX).
 * @example
 * for (const inv of readSbom('alpine.cdx.json')) console.log(inv.os?.id, inv.packages.length);
 */
export function readSbom(path: string, limits: SbomLimits = SBOM_LIMITS): SbomInventory[] {
  return parseSbom(readTextFile(path, limits.maxBytes), path, limits);
}

/**
 * Parses SBOM text; `path` names it in errors, notes and `Package.source`. Pure.
 * @throws HyperwardError as {@link readSbom}, less the file errors.
 */
export function parseSbom(text: string, path: string, limits: SbomLimits = SBOM_LIMITS): SbomInventory[] {
  const doc = parseJsonGuarded(
    text,
    { file: path, layer: 'SBOM' },
    { maxLength: limits.maxBytes, maxDepth: JSON_DEPTH },
  );
  if (!isJsonObject(doc)) {
    throw new HyperwardError('E_UNSUPPORTED_FORMAT', 'not an SBOM: the JSON document is not an object', {
      file: path,
    });
  }
  const ctx = new Context(path, limits);
  if (doc.bomFormat === 'CycloneDX') return readCycloneDx(doc, ctx);
  if (typeof doc.spdxVersion === 'string') return readSpdx(doc, ctx);
  throw new HyperwardError(
    'E_UNSUPPORTED_FORMAT',
    'not a CycloneDX (`bomFormat: "CycloneDX"`) or SPDX (`spdxVersion`) JSON document',
    { file: path },
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Shared state of one parse

interface Candidate {
  pkg: Package;
  /** bom-ref or SPDXID, to follow dependencies and relationships. */
  ref?: string;
  /** OS named by the purl (`distro` qualifier, namespace), for packages no OS element claims. */
  purlOs?: OsInfo;
}

interface OsCandidate {
  ref?: string;
  os: OsInfo;
}

/** Collects notes (bounded) and counts of what was skipped during one parse. */
class Context {
  readonly notes: string[] = [];
  private dropped = 0;
  readonly ignoredTypes = new Map<string, number>();
  noPurl = 0;
  legacyAlpine = 0;
  constructor(
    readonly path: string,
    readonly limits: SbomLimits,
  ) {}

  note(msg: string): void {
    if (this.notes.length < this.limits.maxNotes) this.notes.push(msg);
    else this.dropped++;
  }

  /** The notes, with the summaries of what was counted rather than listed. */
  finish(): string[] {
    const out = [...this.notes];
    if (this.ignoredTypes.size > 0) {
      let total = 0;
      const parts: string[] = [];
      for (const [t, n] of [...this.ignoredTypes].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
        total += n;
        parts.push(`${t} ${n}`);
      }
      out.push(`ignored ${total} component(s) that are not deb/rpm/apk packages: ${parts.join(', ')}`);
    }
    if (this.noPurl > 0) out.push(`ignored ${this.noPurl} component(s) without a package URL`);
    if (this.legacyAlpine > 0) {
      out.push(`read ${this.legacyAlpine} package URL(s) of the old type \`alpine\` as \`apk\``);
    }
    if (this.dropped > 0) out.push(`${this.dropped} more note(s) omitted`);
    return out;
  }
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function clip(s: string, n = 200): string {
  return s.length > n ? `${s.slice(0, n)}…` : s;
}

// ---------------------------------------------------------------------------------------------------------------
// CycloneDX

const CDX_VERSIONS = new Set(['1.4', '1.5', '1.6']);

function readCycloneDx(doc: Record<string, unknown>, ctx: Context): SbomInventory[] {
  const specVersion = str(doc.specVersion) ?? '';
  if (!CDX_VERSIONS.has(specVersion)) {
    ctx.note(`CycloneDX specVersion "${clip(specVersion, 20)}" is outside 1.4–1.6; read as best effort`);
  }
  const meta = isJsonObject(doc.metadata) ? doc.metadata : undefined;
  const metaComponent = meta && isJsonObject(meta.component) ? meta.component : undefined;
  const target = str(metaComponent?.name) ?? ctx.path;

  const candidates: Candidate[] = [];
  const oses: OsCandidate[] = [];

  // Iterative walk over components and their nested `components`, metadata.component's children included.
  const stack: Array<{ node: unknown; depth: number }> = [];
  const pushAll = (list: unknown, depth: number, where: string): void => {
    if (list === undefined) return;
    if (!Array.isArray(list)) {
      ctx.note(`${where}: \`components\` is not an array; skipped`);
      return;
    }
    if (depth > ctx.limits.maxNesting) {
      ctx.note(`${where}: components nested deeper than ${ctx.limits.maxNesting} levels skipped`);
      return;
    }
    for (let i = list.length - 1; i >= 0; i--) stack.push({ node: list[i], depth });
  };
  pushAll(doc.components, 1, 'components');
  if (metaComponent) pushAll(metaComponent.components, 1, 'metadata.component');
  let count = 0;
  while (stack.length > 0) {
    const { node, depth } = stack.pop()!;
    if (++count > ctx.limits.maxComponents) {
      throw new HyperwardError('E_LIMIT', `more than ${ctx.limits.maxComponents} components`, {
        file: ctx.path,
        layer: 'CycloneDX components',
      });
    }
    if (!isJsonObject(node)) {
      ctx.note(`component #${count}: not an object; skipped`);
      continue;
    }
    const label = str(node.name) ?? `#${count}`;
    pushAll(node.components, depth + 1, `component "${clip(label, 80)}"`);
    const ref = str(node['bom-ref']);
    if (node.type === 'operating-system') {
      const props = properties(node.properties);
      const id = props.get('syft:distro:id') ?? str(node.name);
      if (!id) {
        ctx.note(`operating-system component ${ref ?? `#${count}`} has no name; skipped`);
        continue;
      }
      const os = makeOs(id, props.get('syft:distro:versionID') ?? str(node.version), ctx.path);
      oses.push(ref === undefined ? { os } : { ref, os });
      continue;
    }
    const purl = str(node.purl);
    if (purl === undefined) {
      ctx.noPurl++;
      continue;
    }
    const props = properties(node.properties);
    const c = candidateFromPurl(purl, label, ctx, trivySource(props));
    if (c) {
      if (ref !== undefined) c.ref = ref;
      candidates.push(c);
    }
  }

  // Trivy ties packages to their OS through `dependencies`: the OS component depends on each of its packages.
  const links: Array<[string, string]> = [];
  const osRefs = new Set(oses.flatMap((o) => (o.ref === undefined ? [] : [o.ref])));
  if (osRefs.size > 0 && doc.dependencies !== undefined) {
    if (!Array.isArray(doc.dependencies)) ctx.note('`dependencies` is not an array; ignored');
    else {
      let n = 0;
      for (const d of doc.dependencies) {
        if (!isJsonObject(d)) continue;
        const ref = str(d.ref);
        if (ref === undefined || !osRefs.has(ref) || !Array.isArray(d.dependsOn)) continue;
        for (const dep of d.dependsOn) {
          if (++n > ctx.limits.maxComponents) break;
          if (typeof dep === 'string') links.push([ref, dep]);
        }
      }
    }
  }
  return assemble(candidates, oses, links, ctx, { target, format: 'cyclonedx', specVersion });
}

function properties(v: unknown): Map<string, string> {
  const out = new Map<string, string>();
  if (!Array.isArray(v)) return out;
  for (const p of v) {
    if (!isJsonObject(p)) continue;
    const name = str(p.name);
    const value = typeof p.value === 'string' ? p.value : undefined;
    if (name !== undefined && value !== undefined && !out.has(name)) out.set(name, value);
  }
  return out;
}

/** Trivy's `aquasecurity:trivy:Src*` properties as a source name and `E:V-R` version. */
function trivySource(props: Map<string, string>): { name: string; version?: string } | undefined {
  const name = props.get('aquasecurity:trivy:SrcName');
  if (!name) return undefined;
  const ver = props.get('aquasecurity:trivy:SrcVersion');
  if (!ver) return { name };
  const rel = props.get('aquasecurity:trivy:SrcRelease');
  const epoch = props.get('aquasecurity:trivy:SrcEpoch');
  let version = rel ? `${ver}-${rel}` : ver;
  if (epoch && epoch !== '0' && !version.includes(':')) version = `${epoch}:${version}`;
  return { name, version };
}

// ---------------------------------------------------------------------------------------------------------------
// SPDX

function readSpdx(doc: Record<string, unknown>, ctx: Context): SbomInventory[] {
  const specVersion = str(doc.spdxVersion) ?? '';
  if (specVersion !== 'SPDX-2.3') ctx.note(`${clip(specVersion, 20)} document read with the SPDX 2.3 rules`);
  const target = str(doc.name) ?? ctx.path;
  const candidates: Candidate[] = [];
  const oses: OsCandidate[] = [];
  const packages = doc.packages;
  if (packages !== undefined && !Array.isArray(packages)) ctx.note('`packages` is not an array; skipped');
  const list = Array.isArray(packages) ? packages : [];
  if (list.length > ctx.limits.maxComponents) {
    throw new HyperwardError('E_LIMIT', `more than ${ctx.limits.maxComponents} packages`, {
      file: ctx.path,
      layer: 'SPDX packages',
    });
  }
  for (let i = 0; i < list.length; i++) {
    const p: unknown = list[i];
    if (!isJsonObject(p)) {
      ctx.note(`package #${i + 1}: not an object; skipped`);
      continue;
    }
    const id = str(p.SPDXID);
    const label = str(p.name) ?? id ?? `#${i + 1}`;
    const purpose = typeof p.primaryPackagePurpose === 'string' ? p.primaryPackagePurpose : '';
    if (
      purpose.toUpperCase().replace(/_/g, '-') === 'OPERATING-SYSTEM' ||
      id?.startsWith('SPDXRef-OperatingSystem')
    ) {
      const name = str(p.name);
      if (!name) {
        ctx.note(`operating-system package ${id ?? `#${i + 1}`} has no name; skipped`);
        continue;
      }
      const os = makeOs(name, str(p.versionInfo), ctx.path);
      oses.push(id === undefined ? { os } : { ref: id, os });
      continue;
    }
    const purl = spdxPurl(p.externalRefs);
    if (purl === undefined) {
      ctx.noPurl++;
      continue;
    }
    const c = candidateFromPurl(purl, label, ctx, spdxSourceInfo(p.sourceInfo));
    if (c) {
      if (id !== undefined) c.ref = id;
      candidates.push(c);
    }
  }
  const links: Array<[string, string]> = [];
  const osIds = new Set(oses.flatMap((o) => (o.ref === undefined ? [] : [o.ref])));
  if (osIds.size > 0 && Array.isArray(doc.relationships)) {
    let n = 0;
    for (const r of doc.relationships) {
      if (++n > 4 * ctx.limits.maxComponents) break;
      if (!isJsonObject(r)) continue;
      const a = str(r.spdxElementId);
      const b = str(r.relatedSpdxElement);
      const t = typeof r.relationshipType === 'string' ? r.relationshipType.toUpperCase() : '';
      if (a === undefined || b === undefined) continue;
      if ((t === 'CONTAINS' || t === 'DEPENDS_ON') && osIds.has(a)) links.push([a, b]);
      else if ((t === 'CONTAINED_BY' || t === 'DEPENDENCY_OF') && osIds.has(b)) links.push([b, a]);
    }
  }
  return assemble(candidates, oses, links, ctx, { target, format: 'spdx', specVersion });
}

function spdxPurl(refs: unknown): string | undefined {
  if (!Array.isArray(refs)) return undefined;
  for (const r of refs) {
    if (!isJsonObject(r)) continue;
    const cat =
      typeof r.referenceCategory === 'string' ? r.referenceCategory.toUpperCase().replace(/_/g, '-') : '';
    if (r.referenceType === 'purl' && (cat === 'PACKAGE-MANAGER' || cat === '')) {
      const loc = str(r.referenceLocator);
      if (loc !== undefined) return loc;
    }
  }
  return undefined;
}

/** Trivy writes the source package into SPDX as `sourceInfo: "built package from: NAME VERSION"`. */
function spdxSourceInfo(v: unknown): { name: string; version?: string } | undefined {
  if (typeof v !== 'string') return undefined;
  const m = /^built package from:\s+(\S+)(?:\s+(\S+))?\s*$/.exec(v);
  if (!m) return undefined;
  return m[2] === undefined ? { name: m[1]! } : { name: m[1]!, version: m[2] };
}

// ---------------------------------------------------------------------------------------------------------------
// Package URLs

const ECOSYSTEMS: Readonly<Record<string, PackageEcosystem>> = {
  deb: 'deb',
  rpm: 'rpm',
  apk: 'apk',
  alpine: 'apk',
};

/** A package from one purl, or undefined (noted or counted) when the purl is malformed or of another type. */
function candidateFromPurl(
  purl: string,
  label: string,
  ctx: Context,
  declaredSource: { name: string; version?: string } | undefined,
): Candidate | undefined {
  let p: PackageURL;
  try {
    p = PackageURL.fromString(purl);
  } catch (e) {
    ctx.note(
      `malformed package URL "${clip(purl)}" of "${clip(label, 80)}" skipped: ${(e as Error).message}`,
    );
    return undefined;
  }
  const ecosystem = ECOSYSTEMS[p.type];
  if (ecosystem === undefined) {
    const t = clip(p.type, 40);
    ctx.ignoredTypes.set(t, (ctx.ignoredTypes.get(t) ?? 0) + 1);
    return undefined;
  }
  if (p.type === 'alpine') ctx.legacyAlpine++;
  const q = p.qualifiers ?? {};
  const raw = p.version;
  if (!raw) {
    ctx.note(`package URL "${clip(purl)}" has no version; skipped`);
    return undefined;
  }
  const version = foldEpoch(raw, q.epoch, ecosystem);
  if (version === undefined) {
    ctx.note(
      `package URL "${clip(purl)}": epoch qualifier "${clip(q.epoch ?? '', 20)}" is not a number; skipped`,
    );
    return undefined;
  }
  const src =
    declaredSource ?? upstreamSource(q.upstream, ecosystem) ?? (q.source ? { name: q.source } : undefined);
  let sourceVersion = src?.version ?? version;
  // A source version without an epoch inherits the binary's: source and binary are built together.
  const epoch = /^(\d+):/.exec(version)?.[1];
  if (src?.version !== undefined && epoch !== undefined && !sourceVersion.includes(':')) {
    sourceVersion = `${epoch}:${sourceVersion}`;
  }
  const pkg: Package = {
    ecosystem,
    name: p.name,
    version,
    arch: q.arch ?? '',
    sourceName: src?.name ?? p.name,
    sourceVersion,
    source: ctx.path,
  };
  const c: Candidate = { pkg };
  const os = osFromPurl(p.type === 'alpine' ? 'alpine' : p.namespace, q.distro, ctx.path);
  if (os) c.purlOs = os;
  return c;
}

/** `E:V-R` from a version and the purl `epoch` qualifier; epoch 0 is the same as none. Undefined: bad epoch. */
function foldEpoch(version: string, epoch: string | undefined, eco: PackageEcosystem): string | undefined {
  if (epoch === undefined || epoch === '' || eco === 'apk') return version;
  if (!/^\d{1,9}$/.test(epoch)) return undefined;
  if (/^\d+:/.test(version)) return version; // the version carries its own epoch (older syft)
  return Number(epoch) === 0 ? version : `${Number(epoch)}:${version}`;
}

/**
 * syft's `upstream` qualifier: `glibc`, `glibc@2.36-9` (deb, apk), or for RPM the source package file name
 * `openssl-3.0.7-27.el9.src.rpm`.
 */
function upstreamSource(
  v: string | undefined,
  eco: PackageEcosystem,
): { name: string; version?: string } | undefined {
  if (!v) return undefined;
  if (eco === 'rpm') {
    const m = /^(.+)-([^-]+)-([^-]+)\.(?:no)?src\.rpm$/.exec(v);
    if (m) return { name: m[1]!, version: `${m[2]}-${m[3]}` };
  }
  const at = v.indexOf('@');
  if (at > 0 && at < v.length - 1) return { name: v.slice(0, at), version: v.slice(at + 1) };
  return { name: at > 0 ? v.slice(0, at) : v };
}

// ---------------------------------------------------------------------------------------------------------------
// Operating systems

/** IDs as SBOM tools spell them, to os-release `ID`s. */
const ID_ALIASES: Readonly<Record<string, string>> = {
  redhat: 'rhel',
  'red hat': 'rhel',
  oracle: 'ol',
  amazon: 'amzn',
  'opensuse.leap': 'opensuse-leap',
  'opensuse.tumbleweed': 'opensuse-tumbleweed',
  'suse linux enterprise server': 'sles',
};

/** Ubuntu and Debian codenames, for the purl `distro` qualifiers that carry only a codename (`distro=focal`). */
const CODENAMES: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  ubuntu: {
    trusty: '14.04',
    xenial: '16.04',
    bionic: '18.04',
    focal: '20.04',
    jammy: '22.04',
    noble: '24.04',
  },
  debian: {
    jessie: '8',
    stretch: '9',
    buster: '10',
    bullseye: '11',
    bookworm: '12',
    trixie: '13',
  },
};

/** An OsInfo from a distribution name and version as an SBOM states them (`debian` `12.5`, `alpine` `3.19.1`). */
function makeOs(rawId: string, rawVersion: string | undefined, source: string): OsInfo {
  const lower = rawId.trim().toLowerCase();
  const id = ID_ALIASES[lower] ?? lower;
  const os: OsInfo = { id, idLike: [], family: familyOf(id), source };
  const v = rawVersion?.trim();
  if (!v) return os;
  if (/^\d/.test(v)) {
    // Debian's os-release VERSION_ID is the major release; SBOM tools report the point release (12.5).
    const major = /^(\d+)(?:\.\d+)*$/.exec(v);
    os.versionId = id === 'debian' && major ? major[1]! : v;
    os.version = v;
  } else {
    const cn = v.toLowerCase();
    os.versionCodename = cn;
    const rel = CODENAMES[id]?.[cn];
    if (rel !== undefined) os.versionId = rel;
  }
  return os;
}

/**
 * The OS a purl names: its `distro` qualifier (`debian-12`, `ubuntu-22.04`, `alpine-3.19.1`, `rhel-9.3`, Trivy's
 * bare `3.16.0` for Alpine, a codename `focal`), else its namespace with no release.
 */
function osFromPurl(
  namespace: string | undefined,
  distro: string | undefined,
  source: string,
): OsInfo | undefined {
  const ns = namespace?.toLowerCase();
  if (distro) {
    const m = /^(.*?)-(\d.*)$/.exec(distro);
    if (m && m[1] !== '') return makeOs(m[1]!, m[2], source);
    if (ns) return makeOs(ns, distro, source);
  }
  return ns ? makeOs(ns, undefined, source) : undefined;
}

function osKey(os: OsInfo): string {
  return `${os.id}\0${os.version ?? os.versionId ?? ''}\0${os.versionCodename ?? ''}`;
}

/** Whether a package whose purl names `p` may belong to the OS element `o` (same ID; release equal or unstated). */
function compatible(o: OsInfo, p: OsInfo | undefined): boolean {
  if (!p) return true;
  if (p.id !== o.id) return false;
  const pv = p.version ?? p.versionId;
  const ov = o.version ?? o.versionId;
  if (pv === undefined || ov === undefined) return true;
  return pv === ov || pv.startsWith(`${ov}.`) || ov.startsWith(`${pv}.`) || p.versionId === o.versionId;
}

/**
 * Groups packages by OS: first by the SBOM's own links (an OS element containing or depending on the package),
 * then a lone OS element claims every compatible package, then packages fall back to the OS their purl names.
 */
function assemble(
  candidates: Candidate[],
  oses: OsCandidate[],
  links: Array<[string, string]>,
  ctx: Context,
  head: { target: string; format: 'cyclonedx' | 'spdx'; specVersion: string },
): SbomInventory[] {
  const groups = new Map<string, { os?: OsInfo; packages: Package[]; seen: Set<string> }>();
  const groupFor = (os: OsInfo | undefined): { os?: OsInfo; packages: Package[]; seen: Set<string> } => {
    const key = os ? osKey(os) : '';
    let g = groups.get(key);
    if (!g) {
      g = os ? { os, packages: [], seen: new Set() } : { packages: [], seen: new Set() };
      groups.set(key, g);
    }
    return g;
  };
  const osByRef = new Map<string, OsInfo>();
  for (const o of oses) {
    groupFor(o.os);
    if (o.ref !== undefined && !osByRef.has(o.ref)) osByRef.set(o.ref, o.os);
  }
  const byRef = new Map<string, number[]>();
  candidates.forEach((c, i) => {
    if (c.ref === undefined) return;
    const l = byRef.get(c.ref);
    if (l) l.push(i);
    else byRef.set(c.ref, [i]);
  });
  const owner: Array<OsInfo | undefined> = new Array<OsInfo | undefined>(candidates.length);
  for (const [osRef, dep] of links) {
    const os = osByRef.get(osRef);
    for (const i of byRef.get(dep) ?? []) if (os && owner[i] === undefined) owner[i] = os;
  }
  const distinctOs = [...new Map(oses.map((o) => [osKey(o.os), o.os])).values()];
  let duplicates = 0;
  candidates.forEach((c, i) => {
    let os = owner[i];
    if (os === undefined) {
      const lone = distinctOs.length === 1 ? distinctOs[0] : undefined;
      if (lone && compatible(lone, c.purlOs)) os = lone;
      else
        os = distinctOs.find(
          (o) => c.purlOs !== undefined && compatible(o, c.purlOs) && c.purlOs.version !== undefined,
        );
      os ??= c.purlOs;
    }
    const g = groupFor(os);
    const k = `${c.pkg.ecosystem}\0${c.pkg.name}\0${c.pkg.version}\0${c.pkg.arch}`;
    if (g.seen.has(k)) {
      duplicates++;
      return;
    }
    g.seen.add(k);
    g.packages.push(c.pkg);
  });
  if (duplicates > 0) ctx.note(`${duplicates} duplicate package(s) listed more than once were merged`);
  if (
    candidates.length > 0 &&
    oses.length === 0 &&
    candidates.some((c) => c.purlOs?.versionId === undefined)
  ) {
    ctx.note('some packages name no distribution release (no OS element, no `distro` qualifier)');
  }
  const notes = ctx.finish();
  const out: SbomInventory[] = [];
  for (const g of groups.values()) {
    const inv: SbomInventory = { ...head, packages: g.packages, notes: [...notes] };
    if (g.os) inv.os = g.os;
    out.push(inv);
  }
  if (out.length === 0) out.push({ ...head, packages: [], notes });
  return out;
}
