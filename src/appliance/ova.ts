/**
 * Virtual appliances: an `.ova` (a tar archive holding the OVF descriptor, its manifest, its certificate and the
 * disk images) read in place, or an unpacked package (an `.ovf` file, or the directory holding one).
 *
 * Opening reads the descriptor, verifies the manifest by streaming every listed file's bytes through node:crypto in
 * bounded chunks (nothing is extracted, nothing is written), verifies the certificate file's signature over the
 * manifest and judges its certificates, and records every problem of the package. The disks are then opened like
 * any image, from their byte ranges inside the archive: `openDisk` returns a `BlockDevice` that partitions and
 * filesystems read as usual.
 */
import { createHash } from 'node:crypto';
import { readdirSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join } from 'node:path';
import { HyperwardError, isHyperwardError } from '../errors.js';
import { isInside, openImage, openSource, type OpenContext } from '../disk/open.js';
import { indexTar, looksLikeTar, type TarLimits } from '../disk/tar.js';
import type { BlockDevice } from '../disk/types.js';
import { DEFAULT_MAX_CHAIN_DEPTH } from '../disk/types.js';
import { FileSource, newReadStats, type ReadStats } from '../source/file.js';
import {
  MAX_CERT_BYTES,
  MAX_MANIFEST_BYTES,
  parseCertFile,
  parseManifest,
  verifyCertFile,
  type DigestAlgorithm,
  type LineProblem,
  type SignatureCheck,
} from './manifest.js';
import { MemberSource, type ByteRange } from './member-source.js';
import { OVF_XML_LIMITS, parseOvf, type OvfDisk, type OvfEnvelope, type OvfFile } from './ovf.js';

/**
 * Node's bundled Mozilla roots, loaded when a signature is checked: `node:tls` is not otherwise needed to scan an
 * image, and loading it costs start-up time.
 */
function defaultRoots(): readonly string[] {
  return process.getBuiltinModule('node:tls').rootCertificates;
}

/** Bytes hashed per read when verifying digests. */
export const DIGEST_CHUNK = 1024 * 1024;
/** Most chunks one chunked OVF file may have. */
const MAX_CHUNKS = 100_000;

/** A file of the package: a member of the archive, or a file beside the descriptor. */
export interface PackageFile {
  /** The name the descriptor and manifest use (an archive member's name without a leading `./`). */
  name: string;
  size: number;
  /** For an OVA: where its bytes are in the archive. */
  ranges?: ByteRange[];
  /** For an unpacked package: its real path. */
  path?: string;
}

export interface PackageProblem {
  /** `error`: the package is damaged or inconsistent; `warning`: unusual but readable. */
  level: 'error' | 'warning';
  message: string;
  /** The package file concerned (the archive itself for tar damage). */
  file?: string;
  /** `tar archive` for damage to the archive's own structure (a header, a member running past the end). */
  layer?: string;
  offset?: number;
  line?: number;
}

/** One manifest entry and what its file's bytes hash to. */
export interface ManifestResult {
  file: string;
  algorithm: DigestAlgorithm;
  algorithmName: string;
  expected: string;
  actual?: string;
  /** `unchecked` when digests were not verified (`verifyDigests: false`). */
  status: 'ok' | 'mismatch' | 'missing' | 'unreadable' | 'unchecked';
  error?: string;
  line: number;
}

export interface ManifestCheck {
  /** The manifest's name in the package. */
  name: string;
  entries: ManifestResult[];
  problems: LineProblem[];
  /** Package files the manifest does not cover (the manifest and certificate themselves excepted). */
  uncovered: string[];
}

/** A disk of the DiskSection and the package file(s) holding it. */
export interface ApplianceDisk {
  disk: OvfDisk;
  file?: OvfFile;
  /** The package files holding the image (several for a chunked file). */
  parts: PackageFile[];
  /** Why it cannot be opened, when it cannot. */
  unreadable?: string;
}

export interface OpenOvaOptions {
  /** The moment certificate validity is judged at (default: now). */
  now?: Date;
  /** Hash every file the manifest lists (default true). Off, entries are `unchecked`. */
  verifyDigests?: boolean;
  /** Trusted roots (PEM) for the certificate chain; default Node's bundled Mozilla store (`tls.rootCertificates`). */
  trustedRoots?: readonly string[];
  stats?: ReadStats;
  tarLimits?: Partial<TarLimits>;
  /** Called while hashing, with the file and the bytes done of its size. */
  onProgress?: (file: string, done: number, total: number) => void;
}

export interface OpenDiskOptions {
  stats?: ReadStats;
  /** For an unpacked package: allow the disk's backing files outside its directory. */
  allowOutside?: boolean;
}

/** An opened appliance: what it says, how its integrity checks came out, and a way to its disks. */
export interface Ova {
  /** The path the caller named. */
  path: string;
  kind: 'ova' | 'ovf';
  /** The descriptor's name in the package. */
  descriptor: string;
  envelope?: OvfEnvelope;
  /** Why the descriptor could not be read, when it could not. */
  envelopeError?: { code: string; message: string };
  files: PackageFile[];
  /** Absent when the package has no manifest. */
  manifest?: ManifestCheck;
  /** Absent when the package has no certificate file. */
  signature?: SignatureCheck & { name: string };
  disks: ApplianceDisk[];
  problems: PackageProblem[];
  /** Opens a disk of the DiskSection (by `ovf:diskId`) as a block device; the caller closes it. */
  openDisk(diskId: string, opts?: OpenDiskOptions): BlockDevice;
  /** Opens a package file for reading in place; the caller closes it. */
  openFile(name: string, stats?: ReadStats): FileSource;
}

/** Where the package's files are: an archive, or a directory. */
interface Store {
  kind: 'ova' | 'ovf';
  /** The files known so far, by package name. */
  files: Map<string, PackageFile>;
  open(f: PackageFile, stats?: ReadStats): FileSource;
  /** For a directory: finds a file by name on demand (a directory may hold anything, so it is not listed). */
  add?: (name: string) => PackageFile | undefined;
}

/** An href or manifest name as a package name: `./` dropped, percent-escapes decoded when that is what matches. */
function candidates(name: string): string[] {
  const plain = name.replace(/^(\.\/)+/, '');
  const out = [plain];
  if (plain.includes('%')) {
    try {
      const decoded = decodeURIComponent(plain);
      if (decoded !== plain) out.push(decoded);
    } catch {
      // Not an escape sequence: the name as written is all there is.
    }
  }
  return out;
}

function lookup(store: Store, name: string): PackageFile | undefined {
  for (const c of candidates(name)) {
    const f = store.files.get(c) ?? store.add?.(c);
    if (f !== undefined) return f;
  }
  return undefined;
}

function shown(path: string, name: string): string {
  // eslint-disable-next-line no-control-regex -- control characters in a member name must not reach a terminal
  return `${path}!${name.replace(/[\u0000-\u001f\u007f]/g, '?')}`;
}

function openArchive(path: string, opts: OpenOvaOptions, problems: PackageProblem[]): Store {
  const src = new FileSource(path, opts.stats);
  try {
    const index = indexTar(src, path, opts.tarLimits);
    for (const p of index.problems) {
      problems.push({
        level: index.complete ? 'warning' : 'error',
        message: `archive: ${p.message}`,
        file: path,
        layer: 'tar archive',
        offset: p.offset,
      });
    }
    const files = new Map<string, PackageFile>();
    for (const m of index.members) {
      const name = m.name.replace(/^(\.\/)+/, '');
      if (m.type === 'dir' && name.replace(/\/$/, '') !== '') {
        problems.push({
          level: 'warning',
          message: `directory member ${JSON.stringify(m.name)} in the archive`,
          file: path,
          offset: m.headerOffset,
        });
        continue;
      }
      if (m.type !== 'file') {
        problems.push({
          level: 'error',
          message: `member ${JSON.stringify(m.name)} is a ${m.type}, not a regular file (an OVA holds files only)`,
          file: path,
          offset: m.headerOffset,
        });
        continue;
      }
      if (files.has(name)) {
        // The two copies could differ: one verified, the other deployed. Keep the first, as ovftool reads it.
        problems.push({
          level: 'error',
          message: `member ${JSON.stringify(name)} appears more than once; only the first is read`,
          file: path,
          offset: m.headerOffset,
        });
        continue;
      }
      files.set(name, { name, size: m.size, ranges: [{ offset: m.dataOffset, length: m.size }] });
    }
    return {
      kind: 'ova',
      files,
      open: (f, stats) => new MemberSource(path, shown(path, f.name), f.ranges ?? [], stats ?? opts.stats),
    };
  } finally {
    src.close();
  }
}

/** A name from the package, resolved inside `dir`; undefined when it would leave it or is not a regular file. */
function resolveInside(dir: string, name: string): string | undefined {
  if (name === '' || name.includes('\0') || isAbsolute(name) || /^[A-Za-z][A-Za-z0-9+.-]*:/.test(name))
    return undefined;
  if (name.split(/[/\\]/).some((part) => part === '..')) return undefined;
  let real: string;
  try {
    real = realpathSync(join(dir, name));
  } catch {
    return undefined;
  }
  if (real === dir || !isInside(dir, real)) return undefined;
  try {
    return statSync(real).isFile() ? real : undefined;
  } catch {
    return undefined;
  }
}

function openDirectory(descriptorPath: string, opts: OpenOvaOptions): Store {
  const dir = realpathSync(dirname(descriptorPath));
  const files = new Map<string, PackageFile>();
  const add = (name: string): PackageFile | undefined => {
    const existing = files.get(name);
    if (existing !== undefined) return existing;
    const real = resolveInside(dir, name);
    if (real === undefined) return undefined;
    const f: PackageFile = { name, size: statSync(real).size, path: real };
    files.set(name, f);
    return f;
  };
  return { kind: 'ovf', files, add, open: (f, stats) => new FileSource(f.path ?? '', stats ?? opts.stats) };
}

function readWhole(store: Store, f: PackageFile, max: number, what: string, stats?: ReadStats): Buffer {
  if (f.size > max) {
    throw new HyperwardError('E_LIMIT', `${what} of ${f.size} bytes exceeds the ${max}-byte cap`, {
      file: f.name,
    });
  }
  const src = store.open(f, stats);
  try {
    return src.read(0, f.size, what);
  } finally {
    src.close();
  }
}

function digestFile(store: Store, f: PackageFile, algorithm: DigestAlgorithm, opts: OpenOvaOptions): string {
  const src = store.open(f, opts.stats);
  try {
    const hash = createHash(algorithm);
    const buf = Buffer.alloc(Math.min(DIGEST_CHUNK, Math.max(f.size, 1)));
    for (let done = 0; done < f.size;) {
      const n = Math.min(buf.length, f.size - done);
      src.readInto(buf, 0, n, done, 'digest');
      hash.update(buf.subarray(0, n));
      done += n;
      opts.onProgress?.(f.name, done, f.size);
    }
    return hash.digest('hex');
  } finally {
    src.close();
  }
}

/** The one file of `store` named like the descriptor with another extension, else the only one with it. */
function companion(store: Store, descriptor: string, ext: string): PackageFile | undefined {
  const base = descriptor.replace(/\.ovf$/i, '');
  const exact = lookup(store, base + ext);
  if (exact !== undefined) return exact;
  const all = [...store.files.values()].filter((f) => f.name.toLowerCase().endsWith(ext));
  return all.length === 1 ? all[0] : undefined;
}

/**
 * Opens an appliance: an `.ova` archive, an `.ovf` descriptor, or a directory holding exactly one `.ovf`.
 *
 * Never throws for a damaged package once the descriptor is found: tar damage, an unreadable descriptor, missing
 * files, manifest and certificate problems are all in the result (`problems`, `envelopeError`, `manifest`,
 * `signature`), for `applianceFindings` to report.
 *
 * @throws HyperwardError E_NOT_FOUND when the path does not exist; E_USAGE for a directory with no or several
 *   descriptors; E_UNSUPPORTED_FORMAT when the file is neither a tar archive nor an XML descriptor, or the archive
 *   holds no descriptor
 *
 * @example
 * const ova = openOva('appliance.ova');
 * for (const d of ova.disks) {
 *   const dev = ova.openDisk(d.disk.diskId);
 *   // ... partitions, filesystems ...
 *   dev.close();
 * }
 */
export function openOva(path: string, opts: OpenOvaOptions = {}): Ova {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    throw new HyperwardError('E_NOT_FOUND', 'no such file or directory', { file: path }, { cause: e });
  }
  let descriptorPath = path;
  if (st.isDirectory()) {
    const ovfs = readdirSync(path).filter((n) => n.toLowerCase().endsWith('.ovf'));
    if (ovfs.length !== 1) {
      throw new HyperwardError(
        'E_USAGE',
        ovfs.length === 0
          ? 'the directory holds no .ovf descriptor'
          : `the directory holds ${ovfs.length} .ovf descriptors (${ovfs.slice(0, 5).join(', ')}); name one`,
        { file: path },
      );
    }
    descriptorPath = join(path, ovfs[0]!);
  }
  const problems: PackageProblem[] = [];
  const head = new FileSource(descriptorPath, opts.stats);
  let isTar: boolean;
  let headText: string;
  try {
    const h = head.read(0, Math.min(head.size, 512), 'header');
    isTar = looksLikeTar(h);
    headText = h.toString('utf8');
  } finally {
    head.close();
  }
  let store: Store;
  let descriptor: PackageFile;
  if (isTar) {
    store = openArchive(descriptorPath, opts, problems);
    const members = [...store.files.values()];
    const ovfs = members.filter((f) => f.name.toLowerCase().endsWith('.ovf'));
    if (ovfs.length === 0) {
      const damage = problems.find((p) => p.level === 'error' && p.layer !== undefined);
      if (damage !== undefined) {
        // The descriptor may be among what the damage hid: say where the archive breaks.
        throw new HyperwardError(
          'E_IMAGE_CORRUPT',
          `the archive is damaged before any .ovf descriptor: ${damage.message.replace(/^archive: /, '')}`,
          {
            file: path,
            layer: damage.layer!,
            ...(damage.offset !== undefined ? { offset: damage.offset } : {}),
          },
        );
      }
      throw new HyperwardError('E_UNSUPPORTED_FORMAT', 'the archive holds no .ovf descriptor: not an OVA', {
        file: path,
      });
    }
    descriptor = ovfs[0]!;
    if (ovfs.length > 1) {
      problems.push({
        level: 'error',
        message: `the archive holds ${ovfs.length} descriptors; the first (${descriptor.name}) is read`,
        file: path,
      });
    }
    if (members[0] !== descriptor) {
      problems.push({
        level: 'warning',
        message: `the descriptor is not the first member of the archive (OVF requires it first)`,
        file: path,
      });
    }
  } else {
    if (!/^\s*</.test(headText.replace(/^\uFEFF/, ''))) {
      throw new HyperwardError(
        'E_UNSUPPORTED_FORMAT',
        'neither an OVA (tar archive) nor an OVF descriptor (XML)',
        {
          file: path,
        },
      );
    }
    store = openDirectory(descriptorPath, opts);
    const f = lookup(store, basename(descriptorPath));
    if (f === undefined)
      throw new HyperwardError('E_NOT_FOUND', 'cannot read the descriptor', { file: descriptorPath });
    descriptor = f;
  }

  const ova: Ova = {
    path,
    kind: store.kind,
    descriptor: descriptor.name,
    files: [],
    disks: [],
    problems,
    openDisk: (diskId, o) => openApplianceDisk(ova, store, diskId, o ?? {}),
    openFile: (name, stats) => {
      const f = lookup(store, name);
      if (f === undefined)
        throw new HyperwardError('E_NOT_FOUND', `no file ${JSON.stringify(name)} in the package`, {
          file: path,
        });
      return store.open(f, stats);
    },
  };

  // The descriptor.
  try {
    const bytes = readWhole(store, descriptor, OVF_XML_LIMITS.maxBytes, 'OVF descriptor', opts.stats);
    ova.envelope = parseOvf(bytes, shownName(store, path, descriptor.name));
  } catch (e) {
    if (!isHyperwardError(e)) throw e;
    ova.envelopeError = { code: e.code, message: e.message };
    problems.push({
      level: 'error',
      message: `the descriptor cannot be read: ${e.message}`,
      file: descriptor.name,
    });
  }

  // In a directory, the package is what the descriptor references (plus the manifest and certificate below).
  if (store.add !== undefined && ova.envelope !== undefined) {
    for (const ref of ova.envelope.files) {
      if (ref.chunkSize !== undefined) {
        for (let i = 0; i < MAX_CHUNKS; i++)
          if (store.add(`${ref.href}.${String(i).padStart(9, '0')}`) === undefined) break;
      } else store.add(ref.href);
    }
  }

  const mf = companion(store, descriptor.name, '.mf');
  const cert = companion(store, descriptor.name, '.cert');
  if (mf !== undefined) ova.manifest = checkManifest(store, mf, cert, descriptor, opts, problems);
  if (cert !== undefined) ova.signature = checkSignature(store, cert, mf, opts);
  if (ova.envelope !== undefined) resolveDisks(ova, store, problems);
  ova.files = [...store.files.values()];
  if (ova.manifest !== undefined) {
    const covered = new Set(ova.manifest.entries.flatMap((e) => candidates(e.file)));
    ova.manifest.uncovered = ova.files
      .map((f) => f.name)
      .filter((n) => n !== mf?.name && n !== cert?.name && !covered.has(n));
  }
  return ova;
}

function shownName(store: Store, path: string, name: string): string {
  return store.kind === 'ova' ? shown(path, name) : join(dirname(path), name);
}

function checkManifest(
  store: Store,
  mf: PackageFile,
  cert: PackageFile | undefined,
  descriptor: PackageFile,
  opts: OpenOvaOptions,
  problems: PackageProblem[],
): ManifestCheck {
  const check: ManifestCheck = { name: mf.name, entries: [], problems: [], uncovered: [] };
  let parsed;
  try {
    parsed = parseManifest(readWhole(store, mf, MAX_MANIFEST_BYTES, 'OVF manifest', opts.stats), mf.name);
  } catch (e) {
    if (!isHyperwardError(e)) throw e;
    check.problems.push({ message: `the manifest cannot be read: ${e.message}` });
    return check;
  }
  check.problems.push(...parsed.problems);
  for (const e of parsed.entries) {
    const r: ManifestResult = {
      file: e.file,
      algorithm: e.algorithm,
      algorithmName: e.algorithmName,
      expected: e.digest,
      status: 'unchecked',
      line: e.line,
    };
    const f = lookup(store, e.file);
    if (f === undefined) r.status = 'missing';
    else if (f === mf || f === cert) {
      r.status = 'unreadable';
      r.error = 'the manifest cannot cover itself or the certificate file';
    } else if (opts.verifyDigests !== false) {
      try {
        r.actual = digestFile(store, f, e.algorithm, opts);
        r.status = r.actual === e.digest ? 'ok' : 'mismatch';
      } catch (err) {
        if (!isHyperwardError(err)) throw err;
        r.status = 'unreadable';
        r.error = err.message;
      }
    }
    check.entries.push(r);
  }
  if (!parsed.entries.some((e) => candidates(e.file).includes(descriptor.name))) {
    problems.push({ level: 'warning', message: 'the manifest does not cover the descriptor', file: mf.name });
  }
  return check;
}

function checkSignature(
  store: Store,
  cert: PackageFile,
  mf: PackageFile | undefined,
  opts: OpenOvaOptions,
): SignatureCheck & { name: string } {
  const failed = (reason: string): SignatureCheck & { name: string } => ({
    name: cert.name,
    status: 'invalid',
    reason,
    certificates: [],
    chain: { path: [], complete: false, trusted: false, problems: [] },
    problems: [],
  });
  let parsedCert;
  try {
    parsedCert = parseCertFile(
      readWhole(store, cert, MAX_CERT_BYTES, 'OVF certificate', opts.stats),
      cert.name,
    );
  } catch (e) {
    if (!isHyperwardError(e)) throw e;
    return failed(`the certificate file cannot be read: ${e.message}`);
  }
  if (mf === undefined) {
    const r = verifyCertFile(parsedCert, '', Buffer.alloc(0), {
      now: opts.now ?? new Date(),
      trustedRoots: opts.trustedRoots ?? defaultRoots(),
    });
    return {
      ...r,
      name: cert.name,
      status: 'invalid',
      reason: 'the package is signed but has no manifest to verify the signature against',
    };
  }
  let mfBytes: Buffer;
  try {
    mfBytes = readWhole(store, mf, MAX_MANIFEST_BYTES, 'OVF manifest', opts.stats);
  } catch (e) {
    if (!isHyperwardError(e)) throw e;
    return failed(`the manifest cannot be read: ${e.message}`);
  }
  const r = verifyCertFile(parsedCert, mf.name, mfBytes, {
    now: opts.now ?? new Date(),
    trustedRoots: opts.trustedRoots ?? defaultRoots(),
  });
  return { ...r, name: cert.name };
}

function resolveDisks(ova: Ova, store: Store, problems: PackageProblem[]): void {
  const env = ova.envelope!;
  for (const ref of env.files) {
    if (/^[A-Za-z][A-Za-z0-9+.-]*:/.test(ref.href)) {
      problems.push({
        level: 'warning',
        message: `file ${JSON.stringify(ref.href)} is remote (a URL) and was not read`,
        line: ref.line,
      });
      continue;
    }
    const present =
      ref.chunkSize !== undefined ? lookup(store, `${ref.href}.000000000`) : lookup(store, ref.href);
    if (present === undefined) {
      problems.push({
        level: 'error',
        message: `file ${JSON.stringify(ref.href)} (id ${ref.id}) is referenced but not in the package`,
        line: ref.line,
      });
    } else if (ref.size !== undefined && ref.chunkSize === undefined && present.size !== ref.size) {
      problems.push({
        level: 'error',
        message: `file ${JSON.stringify(ref.href)} is ${present.size} bytes; the descriptor says ${ref.size}`,
        line: ref.line,
      });
    }
  }
  for (const disk of env.disks) {
    const d: ApplianceDisk = { disk, parts: [] };
    ova.disks.push(d);
    if (disk.fileRef === undefined) {
      d.unreadable = 'the disk has no file (a blank disk created at deployment)';
      continue;
    }
    const file = env.files.find((f) => f.id === disk.fileRef);
    if (file === undefined) {
      d.unreadable = `its file ${JSON.stringify(disk.fileRef)} is not in References`;
      continue;
    }
    d.file = file;
    if (file.compression !== undefined) {
      d.unreadable = `the file is stored ${file.compression}-compressed, which cannot be read in place`;
    }
    if (file.chunkSize !== undefined) {
      for (let i = 0; i < MAX_CHUNKS; i++) {
        const part = lookup(store, `${file.href}.${String(i).padStart(9, '0')}`);
        if (part === undefined) break;
        d.parts.push(part);
      }
      const total = d.parts.reduce((s, p) => s + p.size, 0);
      if (d.parts.length === 0) d.unreadable ??= 'no chunk of the file is in the package';
      else if (file.size !== undefined && total !== file.size) {
        d.unreadable ??= `its chunks hold ${total} bytes; the descriptor says ${file.size}`;
      } else if (store.kind !== 'ova' && d.parts.length > 1) {
        d.unreadable ??= 'a chunked file of an unpacked package cannot be read in place';
      }
    } else {
      const part = lookup(store, file.href);
      if (part === undefined) d.unreadable ??= `its file ${JSON.stringify(file.href)} is not in the package`;
      else d.parts.push(part);
    }
  }
}

/** A context for a container inside an archive: it may not reach any other file. */
function memberContext(name: string, stats: ReadStats): OpenContext {
  const refuse = (what: string, from: string, layer: string): never => {
    throw new HyperwardError(
      'E_BACKING_REFUSED',
      `a disk inside an appliance archive cannot refer to another file (${what})`,
      { file: from, layer },
    );
  };
  return {
    stats,
    options: { allowOutside: false, maxChainDepth: DEFAULT_MAX_CHAIN_DEPTH },
    depth: 0,
    resolveRef: (ref, from, layer) => refuse(JSON.stringify(ref), from, layer),
    openSource: (p) => refuse(p, name, 'extent'),
    openBacking: (p, from, layer) => refuse(p, from, layer),
  };
}

function openApplianceDisk(ova: Ova, store: Store, diskId: string, opts: OpenDiskOptions): BlockDevice {
  const d = ova.disks.find((x) => x.disk.diskId === diskId);
  if (d === undefined) {
    throw new HyperwardError('E_NOT_FOUND', `no disk ${JSON.stringify(diskId)} in the DiskSection`, {
      file: ova.path,
    });
  }
  if (d.unreadable !== undefined) {
    throw new HyperwardError(
      'E_UNSUPPORTED_FORMAT',
      `disk ${JSON.stringify(diskId)} cannot be opened: ${d.unreadable}`,
      {
        file: ova.path,
      },
    );
  }
  const stats = opts.stats ?? newReadStats();
  if (store.kind === 'ovf') {
    // An unpacked package: the disk is an ordinary image file, opened under the usual path policy.
    const p = d.parts[0]!;
    const o: Parameters<typeof openImage>[1] = { stats };
    if (opts.allowOutside !== undefined) o.allowOutside = opts.allowOutside;
    return openImage(p.path!, o);
  }
  const ranges = d.parts.flatMap((p) => p.ranges ?? []);
  const name = shown(ova.path, d.file!.href);
  const src = new MemberSource(ova.path, name, ranges, stats);
  let ctx: OpenContext;
  try {
    ctx = memberContext(name, stats);
  } catch (e) {
    src.close();
    throw e;
  }
  return openSource(ctx, src);
}
