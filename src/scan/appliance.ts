/**
 * Virtual appliances in `scan image`: an OVA archive (told by its tar header) or an unpacked OVF descriptor (told by
 * an XML root element `Envelope` in the OVF namespace) — by content, never by name.
 *
 * One appliance is one result, as Trivy and syft give one result per artifact: its `appliance` field carries what
 * the descriptor says (product, vendor, versions, virtual systems, networks, disks), how the manifest and signature
 * checked out, and CPE candidates for the product. Every disk of the DiskSection is scanned like any image from its
 * bytes inside the archive (nothing is extracted); the OS and packages come from the first disk (in DiskSection
 * order) that holds an OS root, and `image` is that disk's container, partitions and filesystems. Each disk's own
 * image facts are in `appliance.disks`. A disk's fstab mount points on another disk are not assembled: each disk is
 * mounted on its own.
 *
 * An archive whose tar structure is damaged, or whose descriptor cannot be read, is a target that could not be
 * read (`error`, exit 2), though the integrity findings and whatever could be read are reported with it.
 */
import { statSync } from 'node:fs';
import {
  APPLIANCE_CHECKS,
  applianceFindings,
  certificateValidityFinding,
  validityAt,
} from '../appliance/findings.js';
import { applianceCpeCandidates } from '../appliance/cpe.js';
import { openOva, type Ova, type OpenOvaOptions } from '../appliance/ova.js';
import type { OvfEnvelope } from '../appliance/ovf.js';
import type { OpenImageOptions } from '../disk/open.js';
import { looksLikeTar, parseTarHeader, TAR_BLOCK } from '../disk/tar.js';
import { ownFiles, type BlockDevice } from '../disk/types.js';
import { HyperwardError, isHyperwardError } from '../errors.js';
import { fingerprint, type Finding, type Severity } from '../model/finding.js';
import type {
  ApplianceCertificate,
  ApplianceDiskInfo,
  ApplianceInfo,
  ApplianceSystem,
  ImageInfo,
} from '../model/inventory.js';
import type { ScanResult } from '../model/report.js';
import { FileSource, type ReadStats } from '../source/file.js';
import type { InspectedImage, MountedImage, MountOptions } from './image.js';

export type ApplianceKind = 'ova' | 'ovf';

/** Bytes of an XML file searched for the OVF `Envelope` root (comments and a long prolog may come first). */
const XML_SNIFF_BYTES = 64 * 1024;
/** Disks of one appliance scanned, at most; the rest are listed as not scanned. */
export const MAX_APPLIANCE_DISKS = 64;
/** Most virtual systems, networks, CPE candidates and failed manifest entries kept in the report. */
const MAX_LISTED = 1024;
const MAX_CPES = 32;
const MAX_FAILED = 100;

/**
 * Tells an OVA (a tar archive) or an OVF descriptor (XML whose root is an OVF `Envelope`) by content. Reads one
 * 512-byte block, and up to 64 KiB more only when that block starts like XML. Undefined for anything else, a
 * directory and a file that cannot be opened (opening it as an image then reports why).
 */
export function applianceKind(path: string, stats?: ReadStats): ApplianceKind | undefined {
  let src: FileSource;
  try {
    if (statSync(path).isDirectory()) return undefined;
    src = new FileSource(path, stats);
  } catch (e) {
    if (isHyperwardError(e) || (e as NodeJS.ErrnoException).code !== undefined) return undefined;
    throw e;
  }
  try {
    const head = src.read(0, Math.min(src.size, TAR_BLOCK), 'header');
    if (looksLikeTar(head)) return 'ova';
    const start = head.toString('latin1').replace(/^\uFEFF|^\xEF\xBB\xBF/, '');
    if (!/^\s*</.test(start)) return undefined;
    const text = src.read(0, Math.min(src.size, XML_SNIFF_BYTES), 'header').toString('utf8');
    return isOvfEnvelope(text) ? 'ovf' : undefined;
  } finally {
    src.close();
  }
}

/** Tar members looked at for a descriptor before a tar archive is judged not to be an OVA. */
const OVA_SNIFF_MEMBERS = 8;

/**
 * Whether a tar archive holds an OVF descriptor among its first members (the OVF specification puts it first;
 * some tools put a directory or a PAX header before it). Scanning a library, any other tar archive (a backup) is
 * left out as no appliance; named on its own, it is reported as not an OVA.
 */
export function tarHasDescriptor(path: string): boolean {
  const src = new FileSource(path);
  try {
    if (src.size < TAR_BLOCK) return false;
    return descriptorAmongFirstMembers(src, src.read(0, TAR_BLOCK, 'tar header'));
  } finally {
    src.close();
  }
}

function descriptorAmongFirstMembers(src: FileSource, first: Buffer): boolean {
  let block = first;
  let at = 0;
  for (let i = 0; i < OVA_SNIFF_MEMBERS; i++) {
    const h = parseTarHeader(block);
    if (typeof h === 'string') return false;
    const name = h.prefix !== '' ? `${h.prefix}/${h.name}` : h.name;
    if (/\.ovf$/i.test(name) && (h.typeflag === '0' || h.typeflag === '\0')) return true;
    at += TAR_BLOCK + Math.ceil(h.size / TAR_BLOCK) * TAR_BLOCK;
    if (!Number.isSafeInteger(at) || at + TAR_BLOCK > src.size) return false;
    block = src.read(at, TAR_BLOCK, 'tar header');
  }
  return false;
}

/** True when the first element of the XML text is an `Envelope` whose namespace is OVF's (1.x or 2.x). */
export function isOvfEnvelope(text: string): boolean {
  // Skip the prolog: the XML declaration, comments, processing instructions and blanks before the root.
  const prolog = /^\uFEFF?(?:\s+|<\?[^]*?\?>|<!--[^]*?-->)*/.exec(text);
  const rest = text.slice(prolog?.[0].length ?? 0);
  const root = /^<(?:([A-Za-z_][\w.-]*):)?Envelope\b([^>]*)>/.exec(rest);
  if (root === null) return false;
  const prefix = root[1];
  const attr = prefix === undefined ? 'xmlns' : `xmlns:${prefix}`;
  const ns = new RegExp(`\\s${attr.replace('.', '\\.')}\\s*=\\s*["']([^"']*)["']`).exec(root[2]!);
  return ns !== null && /^http:\/\/schemas\.dmtf\.org\/ovf\/envelope\/[12]\/?$/.test(ns[1]!);
}

/** What `inspectAppliance` needs from the image scanner (passed in, so this module does not import it back). */
export interface ImageSteps {
  /** Mounts and inspects one disk (see `inspectDevice` in image.ts); closes it. */
  inspectDevice(
    dev: BlockDevice,
    target: string,
    opts: MountOptions,
    out: InspectedImage,
    withRoot: boolean,
  ): { info: ImageInfo; root: boolean; readable: boolean };
  /** The finding for an image in which no filesystem holds an OS. */
  noOsFinding(target: string): Finding;
  /** The finding for a disk on which nothing is readable and no other finding says why. */
  noFilesystemFinding(target: string, info: ImageInfo): Finding;
}

function finding(
  checkId: string,
  severity: Severity,
  status: Finding['status'],
  title: string,
  message: string,
  target: string,
  resourceId: string,
): Finding {
  return {
    id: fingerprint(checkId, 'appliance', `${target}#${resourceId}`),
    checkId,
    severity,
    status,
    title,
    message,
    resource: { type: 'appliance', id: `${target}#${resourceId}` },
    platform: 'image',
  };
}

function openOptions(opts: MountOptions, verifyDigests: boolean): OpenOvaOptions {
  const o: OpenOvaOptions = { verifyDigests };
  if (opts.stats) o.stats = opts.stats;
  if (opts.now) o.now = opts.now;
  if (opts.trustedRoots) o.trustedRoots = opts.trustedRoots;
  return o;
}

/**
 * Scans an appliance (see the module comment). Never throws for a bad package: what could not be read is in
 * `error` (the archive or descriptor) or in findings (one disk).
 */
export function inspectAppliance(path: string, opts: MountOptions, steps: ImageSteps): InspectedImage {
  const result: ScanResult = { target: path, kind: 'image', packages: [], findings: [] };
  const out: InspectedImage = { result };
  let ova: Ova;
  try {
    ova = openOva(path, openOptions(opts, true));
  } catch (e) {
    if (!isHyperwardError(e)) throw e;
    result.error = { code: e.code, message: e.message };
    return out;
  }
  const appliance = describeAppliance(ova);
  result.appliance = appliance;
  // Certificate validity depends on the moment of the scan: `judgeAppliance` decides it.
  result.findings.push(...applianceFindings(ova).filter((f) => f.checkId !== APPLIANCE_CHECKS.certExpired));

  let rootFound = false;
  let readable = false;
  ova.disks.forEach((d, i) => {
    const info = appliance.disks[i]!;
    const where = `disk ${d.disk.diskId}`;
    const unreadable = (code: string, message: string): void => {
      info.error = { code, message };
      result.findings.push(
        finding(
          'appliance.disk-unreadable',
          'medium',
          'unknown',
          'Appliance disk could not be read',
          `${where}: ${message}`,
          path,
          where,
        ),
      );
    };
    if (i >= MAX_APPLIANCE_DISKS) {
      unreadable('E_LIMIT', `not scanned: the appliance has more than ${MAX_APPLIANCE_DISKS} disks`);
      return;
    }
    if (d.unreadable !== undefined) {
      unreadable('E_UNSUPPORTED_FORMAT', d.unreadable);
      return;
    }
    try {
      const dev = ova.openDisk(d.disk.diskId, opts.stats ? { stats: opts.stats } : {});
      const target = `${path}!${d.file?.href ?? d.disk.diskId}`;
      const said = result.findings.length;
      const r = steps.inspectDevice(dev, target, opts, out, !rootFound);
      info.image = r.info;
      readable ||= r.readable;
      if (!r.readable && result.findings.length === said) {
        result.findings.push(steps.noFilesystemFinding(target, r.info));
      }
      if (r.root && !rootFound) {
        info.root = true;
        rootFound = true;
      } else if (r.root) {
        // Its filesystems say where that OS mounts them, but the inventory is not from them.
        for (const f of r.info.filesystems) delete f.root;
        const first = appliance.disks.find((x) => x.root === true)!;
        result.findings.push(
          finding(
            'appliance.additional-os',
            'info',
            'unknown',
            'Appliance disk holds another OS',
            `${where} holds an OS root too; only the OS of disk ${first.diskId} was inventoried`,
            path,
            where,
          ),
        );
      }
    } catch (e) {
      if (!isHyperwardError(e)) throw e;
      unreadable(e.code, e.message);
    }
  });
  if (!rootFound) {
    const first = appliance.disks.find((x) => x.image !== undefined);
    if (first?.image !== undefined) result.image = first.image;
    if (readable) result.findings.push(steps.noOsFinding(path));
  }

  // The archive itself damaged, or no descriptor: the target could not be read as a whole. An archive cut on a
  // member boundary is sound up to its end: it counts as damaged when a disk is lost with what was cut off.
  const lost = appliance.disks.filter((x) => x.error !== undefined).length;
  const archiveEnd = ova.kind === 'ova' ? statSync(path).size : 0;
  const damage =
    ova.problems.find((p) => p.level === 'error' && p.layer !== undefined) ??
    (lost > 0
      ? ova.problems.find((p) => p.layer !== undefined && (p.offset ?? 0) >= archiveEnd - 2 * TAR_BLOCK)
      : undefined);
  if (damage !== undefined) {
    const e = new HyperwardError(
      'E_IMAGE_CORRUPT',
      `the appliance archive is damaged: ${damage.message.replace(/^archive: /, '')}` +
        (lost > 0 ? `; ${lost} of ${appliance.disks.length} disk(s) could not be read` : ''),
      {
        file: damage.file ?? path,
        layer: damage.layer!,
        ...(damage.offset !== undefined ? { offset: damage.offset } : {}),
      },
    );
    result.error = { code: e.code, message: e.message };
  } else if (ova.envelopeError !== undefined) {
    result.error = { code: ova.envelopeError.code, message: ova.envelopeError.message };
  }
  return out;
}

/**
 * Opens an appliance's disk and mounts it: `diskId` (an `ovf:diskId`), else the first disk that holds an OS root,
 * else the first that opens. Digests are not verified (this is for reading files, as `image ls` does).
 */
export function mountAppliance(
  path: string,
  opts: MountOptions & { disk?: string },
  mountDevice: (dev: BlockDevice, opts: MountOptions) => MountedImage,
): MountedImage {
  const ova = openOva(path, openOptions(opts, false));
  if (ova.envelopeError !== undefined) {
    throw new HyperwardError(
      ova.envelopeError.code === 'E_LIMIT' ? 'E_LIMIT' : 'E_UNSUPPORTED_FORMAT',
      ova.envelopeError.message,
    );
  }
  const ids = ova.disks.map((d) => d.disk.diskId);
  const open = (id: string): MountedImage =>
    mountDevice(ova.openDisk(id, opts.stats ? { stats: opts.stats } : {}), opts);
  if (opts.disk !== undefined) {
    if (!ids.includes(opts.disk)) {
      throw new HyperwardError(
        'E_USAGE',
        `no disk ${JSON.stringify(opts.disk)} in the appliance (disks: ${ids.join(', ') || 'none'})`,
        { file: path },
      );
    }
    return open(opts.disk);
  }
  let fallback: MountedImage | undefined;
  let firstError: unknown;
  for (const id of ids.slice(0, MAX_APPLIANCE_DISKS)) {
    let m: MountedImage;
    try {
      m = open(id);
    } catch (e) {
      if (!isHyperwardError(e)) throw e;
      firstError ??= e;
      continue;
    }
    if (m.root !== undefined) {
      fallback?.close();
      return m;
    }
    if (fallback === undefined) fallback = m;
    else m.close();
  }
  if (fallback !== undefined) return fallback;
  if (firstError !== undefined) throw firstError;
  throw new HyperwardError('E_UNSUPPORTED_FORMAT', 'the appliance has no disk that can be read', {
    file: path,
  });
}

/**
 * The files of an unpacked OVF package (real paths): the descriptor, manifest, certificate and the disks it
 * references, with the files each disk reads (VMDK extents). Empty when it cannot be opened.
 */
export function applianceComponents(path: string, opts: OpenImageOptions = {}): string[] {
  let ova: Ova;
  try {
    ova = openOva(path, { verifyDigests: false, ...(opts.stats ? { stats: opts.stats } : {}) });
  } catch (e) {
    if (isHyperwardError(e)) return [];
    throw e;
  }
  const out = new Set(ova.files.flatMap((f) => (f.path !== undefined ? [f.path] : [])));
  for (const d of ova.disks.slice(0, MAX_APPLIANCE_DISKS)) {
    if (d.unreadable !== undefined) continue;
    try {
      const dev = ova.openDisk(d.disk.diskId, {
        ...(opts.stats ? { stats: opts.stats } : {}),
        ...(opts.allowOutside !== undefined ? { allowOutside: opts.allowOutside } : {}),
      });
      try {
        for (const f of ownFiles(dev.info)) out.add(f);
      } finally {
        dev.close();
      }
    } catch (e) {
      if (!isHyperwardError(e)) throw e;
    }
  }
  return [...out];
}

/**
 * Completes an appliance's result with what depends on the moment of the scan: whether its signing certificates
 * are within their validity period at `now`.
 */
export function judgeAppliance(result: ScanResult, now: Date): void {
  const sig = result.appliance?.signature;
  const signer = sig?.chain[0];
  if (sig === undefined || signer === undefined || sig.status === 'unsigned') return;
  const f = certificateValidityFinding(
    { file: sig.name ?? result.target, signer, chain: sig.chain },
    validityAt(now),
    result.target,
  );
  sig.expired = f.status === 'fail';
  result.findings.push(f);
}

/** The report's view of an opened appliance (disks without their image facts yet). */
export function describeAppliance(ova: Ova): ApplianceInfo {
  const env = ova.envelope;
  const info = { kind: ova.kind, descriptor: ova.descriptor } as ApplianceInfo;
  if (env !== undefined) {
    info.ovfVersion = env.version;
    const product = env.products.find((p) => p.product !== undefined);
    if (product !== undefined) {
      for (const k of ['product', 'vendor', 'version', 'fullVersion', 'productUrl', 'vendorUrl'] as const) {
        const v = product[k];
        if (v !== undefined && v !== '') info[k] = v;
      }
    }
  }
  info.systems = env === undefined ? [] : systems(env);
  info.networks = (env?.networks ?? []).slice(0, MAX_LISTED).map((n) => {
    const x: { name: string; description?: string } = { name: n.name };
    if (n.description !== undefined) x.description = n.description;
    return x;
  });
  info.disks = ova.disks.map((d) => {
    const x: ApplianceDiskInfo = { diskId: d.disk.diskId };
    if (d.file !== undefined) x.file = d.file.href;
    if (d.disk.capacityBytes !== undefined) x.capacityBytes = d.disk.capacityBytes;
    if (d.disk.format !== undefined) x.format = d.disk.format;
    return x;
  });
  info.manifest = manifestStatus(ova);
  info.signature = signatureStatus(ova);
  info.cpes = [];
  const seen = new Set<string>();
  for (const section of env === undefined ? [] : applianceCpeCandidates(env)) {
    for (const c of section.candidates) {
      if (seen.has(c.cpe) || info.cpes.length >= MAX_CPES) continue;
      seen.add(c.cpe);
      info.cpes.push({ cpe: c.cpe, confidence: c.confidence, basis: c.basis });
    }
  }
  return info;
}

function systems(env: OvfEnvelope): ApplianceSystem[] {
  return env.systems
    .filter((s) => s.kind === 'system')
    .slice(0, MAX_LISTED)
    .map((s) => {
      const x = { id: s.id } as ApplianceSystem;
      if (s.name !== undefined) x.name = s.name;
      const osType = s.os?.osType ?? s.os?.description;
      if (osType !== undefined) x.osType = osType;
      if (s.os?.id !== undefined) x.osId = s.os.id;
      const hw = s.hardware[0];
      if (hw?.cpus !== undefined) x.cpus = hw.cpus;
      if (hw?.memoryBytes !== undefined) x.memoryBytes = hw.memoryBytes;
      x.nics = (hw?.nics ?? []).slice(0, MAX_LISTED).map((n) => {
        const nic: ApplianceSystem['nics'][number] = {};
        if (n.item.name !== undefined) nic.name = n.item.name;
        const network = n.network?.name ?? n.connection;
        if (network !== undefined) nic.network = network;
        if (n.adapterType !== undefined) nic.adapterType = n.adapterType;
        return nic;
      });
      x.disks = [];
      for (const d of (hw?.drives ?? []).slice(0, MAX_LISTED)) {
        if (d.disk === undefined) continue;
        const disk: { diskId: string; capacityBytes?: number } = { diskId: d.disk.diskId };
        if (d.disk.capacityBytes !== undefined) disk.capacityBytes = d.disk.capacityBytes;
        x.disks.push(disk);
      }
      return x;
    });
}

function manifestStatus(ova: Ova): ApplianceInfo['manifest'] {
  const m = ova.manifest;
  if (m === undefined)
    return { status: 'absent', algorithms: [], weak: false, entries: 0, failed: [], uncovered: [] };
  const failed = m.entries.filter(
    (e) => e.status === 'mismatch' || e.status === 'missing' || e.status === 'unreadable',
  );
  const status: ApplianceInfo['manifest']['status'] =
    failed.length > 0
      ? 'failed'
      : m.entries.length === 0
        ? 'empty'
        : m.entries.some((e) => e.status === 'unchecked')
          ? 'unchecked'
          : 'verified';
  return {
    status,
    name: m.name,
    algorithms: [...new Set(m.entries.map((e) => e.algorithmName))],
    weak: m.entries.some((e) => e.algorithm === 'sha1'),
    entries: m.entries.length,
    failed: failed.slice(0, MAX_FAILED).map((e) => ({ file: e.file, status: e.status })),
    uncovered: m.uncovered.slice(0, MAX_FAILED),
  };
}

function signatureStatus(ova: Ova): ApplianceInfo['signature'] {
  const s = ova.signature;
  if (s === undefined) return { status: 'unsigned', chain: [] };
  const out: ApplianceInfo['signature'] = { status: s.status, name: s.name, chain: [] };
  if (s.reason !== undefined) out.reason = s.reason;
  if (s.algorithm !== undefined) out.algorithm = s.algorithm.toUpperCase();
  const path = s.chain.path.length > 0 ? s.chain.path : [s.signer ?? 0];
  for (const i of path) {
    const c = s.certificates[i];
    if (c === undefined) continue;
    const cert: ApplianceCertificate = {
      subject: c.subject,
      issuer: c.issuer,
      serialNumber: c.serialNumber,
      validFrom: c.validFrom,
      validTo: c.validTo,
      fingerprint256: c.fingerprint256,
      selfSigned: c.selfSigned,
    };
    out.chain.push(cert);
  }
  out.trusted = s.chain.trusted;
  if (s.chain.root !== undefined) out.trustedRoot = s.chain.root;
  return out;
}
