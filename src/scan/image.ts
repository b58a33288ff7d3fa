import { openImage, type OpenImageOptions } from '../disk/open.js';
import { readPartitions } from '../disk/partition/index.js';
import { ownFiles, type BlockDevice } from '../disk/types.js';
import { HyperwardError, isHyperwardError } from '../errors.js';
import { readLvm } from '../disk/lvm.js';
import { listBtrfsSubvolumes, openBtrfs } from '../fs/btrfs.js';
import { openFilesystem, probeContent, READABLE } from '../fs/probe.js';
import { Vfs } from '../fs/vfs.js';
import { parseFstab, specMatches, type FstabEntry } from '../inspect/fstab.js';
import { baselineFindings, compareToBaseline, type Manifest } from '../inspect/baseline.js';
import { readClamAv, type ClamAvInfo } from '../inspect/clamav.js';
import { integrityFindings, verifyPackagedFiles } from '../inspect/integrity.js';
import {
  readPackageActivity,
  stalenessFindings,
  type PackageActivityResult,
  type StalenessOptions,
} from '../inspect/staleness.js';
import { inspectSystem } from '../inspect/system.js';
import { fingerprint, type Finding, type Severity } from '../model/finding.js';
import type { FilesystemInfo, ImageInfo, PartitionInfo } from '../model/inventory.js';
import type { ScanResult } from '../model/report.js';
import {
  applianceComponents,
  applianceKind,
  inspectAppliance,
  judgeAppliance,
  mountAppliance,
  type ImageSteps,
} from './appliance.js';
import { Mounts } from './mounts.js';

export interface MountOptions extends OpenImageOptions {
  /** The moment staleness is judged against; now by default. */
  now?: Date;
  /** Staleness thresholds (`--max-package-age` and friends). */
  staleness?: StalenessOptions;
  /** Compare every packaged file with the package manager's digests (reads every packaged file). */
  verifyFiles?: boolean;
  /** Progress of `verifyFiles`: files done of the total. */
  onVerifyProgress?: (done: number, total: number) => void;
  /** A verified baseline manifest: report files added, removed and changed since it was taken. */
  baseline?: Manifest;
  /** Use only this partition (0 = the whole disk) as the root, as `--partition N`. */
  partition?: number;
  /** For an appliance: trusted roots (PEM) for its signature's chain; default Node's bundled Mozilla store. */
  trustedRoots?: readonly string[];
  /** For `mountImage` of an appliance: the disk to mount (`ovf:diskId`); default the one holding the OS root. */
  disk?: string;
}

/** One filesystem of an image: what it is and, when it could be read, a path view of it. */
export interface ImageVolume {
  info: FilesystemInfo;
  vfs?: Vfs;
  /** Why it could not be read. */
  error?: { code: string; message: string };
  partUuid?: string;
  partLabel?: string;
  /** Volume group and logical volume, for a filesystem on an LVM logical volume. */
  lv?: [vg: string, lv: string];
  /** It holds OS markers (os-release, fstab, dpkg database). */
  looksLikeRoot?: boolean;
}

/** An opened image: its device, partitions and filesystems, and the OS root assembled from its fstab. */
export interface MountedImage {
  dev: BlockDevice;
  info: ImageInfo;
  volumes: ImageVolume[];
  /** The volume holding the OS root, if one was found. */
  rootVolume?: ImageVolume;
  /** The OS tree with its other filesystems at their fstab mount points. */
  root?: Mounts;
  close(): void;
}

function looksLikeRoot(vfs: Vfs): boolean {
  return [
    '/etc/os-release',
    '/usr/lib/os-release',
    '/etc/fstab',
    '/var/lib/dpkg/status',
    '/etc/debian_version',
    '/var/lib/rpm',
    '/usr/lib/sysimage/rpm',
    '/lib/apk/db/installed',
  ].some((p) => vfs.resolve(p) !== undefined);
}

/** The fstab of a root candidate; a damaged one counts as absent (the root is then chosen by its markers). */
function readFstab(vfs: Vfs): FstabEntry[] {
  try {
    const buf = vfs.tryReadFile('/etc/fstab', 1024 * 1024);
    return buf === undefined ? [] : parseFstab(buf.toString('utf8'));
  } catch (e) {
    if (isHyperwardError(e)) return [];
    throw e;
  }
}

/**
 * Opens an image and finds its filesystems and OS root without booting or mounting anything. Errors in one
 * filesystem are recorded on its volume and the rest goes on; errors opening the image itself throw. An appliance
 * (OVA archive, OVF descriptor; told by content) mounts one of its disks: `opts.disk`, else the one holding the OS
 * root.
 *
 * @example
 * const m = mountImage('vm.qcow2');
 * try {
 *   console.log(m.root?.tryReadFile('/etc/os-release')?.toString());
 * } finally {
 *   m.close();
 * }
 */
export function mountImage(path: string, opts: MountOptions = {}): MountedImage {
  if (applianceKind(path, opts.stats) !== undefined) return mountAppliance(path, opts, mountDevice);
  return mountDevice(openImage(path, opts), opts);
}

/**
 * Finds the partitions, filesystems and OS root of an opened device — an image file, or a disk read in place inside
 * an appliance archive. Takes ownership of `dev`: it is closed when this throws, and by the result's `close()`.
 */
export function mountDevice(dev: BlockDevice, opts: Pick<MountOptions, 'partition'> = {}): MountedImage {
  try {
    const table = readPartitions(dev);
    const partitions: PartitionInfo[] = table.partitions.map((p) => {
      const info: PartitionInfo = {
        index: p.index,
        start: p.start,
        size: p.size,
        scheme: p.scheme,
        type: p.type,
      };
      if (p.typeName !== undefined) info.typeName = p.typeName;
      if (p.name !== undefined) info.name = p.name;
      if (p.uuid !== undefined) info.uuid = p.uuid;
      return info;
    });
    const candidates: Array<{ index: number; device: BlockDevice; partUuid?: string; partLabel?: string }> =
      table.scheme === 'none'
        ? [{ index: 0, device: dev }]
        : table.partitions
            .filter((p) => p.typeName !== 'extended')
            .map((p) => {
              const c: { index: number; device: BlockDevice; partUuid?: string; partLabel?: string } = {
                index: p.index,
                device: p.device,
              };
              if (p.uuid !== undefined) c.partUuid = p.uuid;
              if (p.name !== undefined) c.partLabel = p.name;
              return c;
            });
    const wanted = opts.partition;
    const volumes: ImageVolume[] = [];
    const pvs: Array<{ index: number; device: BlockDevice }> = [];
    for (const c of candidates) {
      if (wanted !== undefined && c.index !== wanted) continue;
      const vol = probeVolume({ partition: c.index, type: 'unknown' }, c.device);
      if (c.partUuid !== undefined) vol.partUuid = c.partUuid;
      if (c.partLabel !== undefined) vol.partLabel = c.partLabel;
      if (vol.info.type === 'lvm2-pv') pvs.push({ index: c.index, device: c.device });
      volumes.push(vol);
    }
    volumes.push(...lvmVolumes(pvs));
    if (wanted !== undefined && volumes.length === 0) {
      const have = candidates.map((c) => c.index).join(', ') || 'none';
      throw new HyperwardError('E_USAGE', `no partition ${wanted} (partitions: ${have})`, { file: dev.name });
    }
    const info: ImageInfo = {
      format: dev.info.format,
      virtualSize: dev.size,
      files: dev.info.files,
      partitionScheme: table.scheme,
      partitions,
      filesystems: volumes.map((v) => v.info),
    };
    if (dev.info.subformat !== undefined) info.subformat = dev.info.subformat;
    const mounted: MountedImage = { dev, info, volumes, close: () => dev.close() };
    assembleRoot(mounted);
    return mounted;
  } catch (e) {
    dev.close();
    throw e;
  }
}

/** Probes one partition (or logical volume) and opens the filesystem on it when this version reads it. */
function probeVolume(info: FilesystemInfo, device: BlockDevice): ImageVolume {
  const vol: ImageVolume = { info };
  try {
    const type = probeContent(device);
    vol.info.type = type;
    if (READABLE.has(type)) {
      const fs = openFilesystem(device, type);
      if (fs.uuid !== undefined) vol.info.uuid = fs.uuid;
      if (fs.label !== undefined && fs.label !== '') vol.info.label = fs.label;
      let vfs = new Vfs(fs);
      // Read the root directory and the usual OS markers now, so a filesystem damaged there is reported as this
      // volume's error rather than failing the image.
      vol.looksLikeRoot = looksLikeRoot(vfs);
      if (!vol.looksLikeRoot && type === 'btrfs') {
        // Fedora and Ubuntu keep the OS in a named subvolume (`root`, `@`) and leave the default at the top level.
        const sub = btrfsRootSubvolume(device);
        if (sub) {
          vfs = sub.vfs;
          vol.looksLikeRoot = true;
          vol.info.subvolume = sub.path;
        }
      }
      vol.vfs = vfs;
    } else if (type !== 'unknown' && type !== 'lvm2-pv') {
      vol.info.note = `${type} detected; this version does not inspect it`;
    }
  } catch (e) {
    if (!isHyperwardError(e)) throw e;
    vol.error = { code: e.code, message: e.message };
  }
  return vol;
}

/**
 * The visible logical volumes of the image's LVM2 physical volumes (every volume group, linear and striped LVs),
 * each probed like a partition; an LV that cannot be opened (thin, RAID, a missing PV) and every problem with the
 * LVM metadata become volumes with an error, so they are reported, never skipped.
 */
function lvmVolumes(pvs: ReadonlyArray<{ index: number; device: BlockDevice }>): ImageVolume[] {
  if (pvs.length === 0) return [];
  const out: ImageVolume[] = [];
  const scan = readLvm(pvs.map((p) => p.device));
  const indexOf = (dev: BlockDevice | undefined): number =>
    pvs.find((p) => p.device === dev)?.index ?? pvs[0]!.index;
  for (const vg of scan.vgs) {
    for (const lv of vg.lvs) {
      if (!lv.visible) continue;
      const firstPv = lv.segments[0]?.stripes?.[0]?.pv;
      const info: FilesystemInfo = {
        partition: indexOf(vg.pvs.find((p) => p.name === firstPv)?.device),
        type: 'unknown',
        volume: `${vg.name}/${lv.name}`,
      };
      let vol: ImageVolume;
      try {
        vol = probeVolume(info, lv.open());
      } catch (e) {
        if (!isHyperwardError(e)) throw e;
        vol = { info, error: { code: e.code, message: e.message } };
      }
      vol.lv = [vg.name, lv.name];
      out.push(vol);
    }
  }
  for (const issue of scan.issues) {
    const pv = pvs.find((p) => p.device.name === issue.device);
    const info: FilesystemInfo = { partition: pv?.index ?? pvs[0]!.index, type: 'lvm2-pv' };
    if (issue.vg !== undefined) info.volume = issue.lv !== undefined ? `${issue.vg}/${issue.lv}` : issue.vg;
    out.push({ info, error: { code: issue.code, message: `LVM2: ${issue.message}` } });
  }
  return out;
}

/** Subvolumes tried when looking for a btrfs OS root, at most. */
const MAX_SUBVOLUMES_TRIED = 64;

/** The first subvolume of a btrfs filesystem that holds an OS root, opened. */
function btrfsRootSubvolume(device: BlockDevice): { path: string; vfs: Vfs } | undefined {
  for (const s of listBtrfsSubvolumes(device).slice(0, MAX_SUBVOLUMES_TRIED)) {
    if (s.isDefault) continue;
    try {
      const vfs = new Vfs(openBtrfs(device, { subvolumeId: s.id }));
      if (looksLikeRoot(vfs)) return { path: s.path, vfs };
    } catch (e) {
      if (!isHyperwardError(e)) throw e;
    }
  }
  return undefined;
}

/** Picks the root volume (the one whose fstab mounts itself at `/`, else the first that looks like a root). */
function assembleRoot(m: MountedImage): void {
  const readable = m.volumes.filter((v) => v.vfs !== undefined);
  const roots = readable.filter((v) => v.looksLikeRoot === true);
  const id = (v: ImageVolume): Parameters<typeof specMatches>[1] => {
    const out: Parameters<typeof specMatches>[1] = {};
    if (v.info.uuid !== undefined) out.uuid = v.info.uuid;
    if (v.info.label !== undefined) out.label = v.info.label;
    if (v.partUuid !== undefined) out.partUuid = v.partUuid;
    if (v.partLabel !== undefined) out.partLabel = v.partLabel;
    if (v.lv !== undefined) out.lv = v.lv;
    return out;
  };
  let root: ImageVolume | undefined;
  let fstab: FstabEntry[] = [];
  for (const r of roots) {
    const entries = readFstab(r.vfs!);
    const self = entries.find((e) => e.mountpoint === '/' && specMatches(e.spec, id(r)));
    if (self) {
      root = r;
      fstab = entries;
      break;
    }
  }
  if (!root) {
    root =
      roots.find(
        (r) =>
          r.vfs!.resolve('/etc/os-release') !== undefined ||
          r.vfs!.resolve('/usr/lib/os-release') !== undefined,
      ) ?? roots[0];
    if (root) fstab = readFstab(root.vfs!);
  }
  if (!root) return;
  root.info.root = true;
  root.info.mountpoint = '/';
  const others: Array<{ at: string; vfs: Vfs }> = [];
  for (const e of fstab) {
    if (!e.mountpoint.startsWith('/') || e.mountpoint === '/') continue;
    const v = m.volumes.find((x) => x !== root && specMatches(e.spec, id(x)));
    if (!v) continue;
    v.info.mountpoint = e.mountpoint;
    if (v.vfs) others.push({ at: e.mountpoint, vfs: v.vfs });
  }
  m.rootVolume = root;
  m.root = new Mounts(root.vfs!, others);
}

function finding(
  checkId: string,
  severity: Severity,
  title: string,
  message: string,
  target: string,
  resourceId: string,
): Finding {
  return {
    id: fingerprint(checkId, 'image', `${target}#${resourceId}`),
    checkId,
    severity,
    status: 'unknown',
    title,
    message,
    resource: { type: 'image', id: `${target}#${resourceId}` },
  };
}

/** What staleness is judged from, read from the image (see `stalenessFindings`). */
export interface StalenessFacts {
  packages: PackageActivityResult;
  clamav: ClamAvInfo;
}

/**
 * What an image holds, without the judgements that depend on the moment of the scan: the part a scan cache
 * keeps. `judgeImage` completes it.
 */
export interface InspectedImage {
  result: ScanResult;
  /** Absent when no OS root was found. */
  staleness?: StalenessFacts;
}

/**
 * Inspects one disk image: container, partitions, filesystems, OS, installed packages, and (when asked) file
 * integrity and a baseline. An appliance (OVA archive, OVF descriptor; told by content) is one result with its
 * `appliance` facts and integrity findings, every disk scanned like an image (see scan/appliance.ts). Never throws
 * for a bad image: what could not be read is in `error` (the image as a whole) or in findings (one part of it).
 */
export function inspectImage(path: string, opts: MountOptions = {}): InspectedImage {
  if (applianceKind(path, opts.stats) !== undefined) return inspectAppliance(path, opts, IMAGE_STEPS);
  const result: ScanResult = { target: path, kind: 'image', packages: [], findings: [] };
  const out: InspectedImage = { result };
  let d: DeviceInspection;
  try {
    d = inspectDevice(openImage(path, opts), path, opts, out, true);
  } catch (e) {
    if (!isHyperwardError(e)) throw e;
    result.error = { code: e.code, message: e.message };
    return out;
  }
  if (!d.root && d.readable) result.findings.push(noOsFinding(path));
  else if (!d.readable && result.findings.length === 0)
    result.findings.push(noFilesystemFinding(path, d.info));
  return out;
}

/** What `inspectDevice` found on one disk. */
export interface DeviceInspection {
  info: ImageInfo;
  /** It holds an OS root. */
  root: boolean;
  /** Some filesystem on it could be read. */
  readable: boolean;
}

/**
 * Mounts one opened disk (and closes it): the volumes that could not be read or are not inspected become findings
 * on `target`; when `withRoot`, the disk's facts become the result's `image`, and its OS root, when it has one,
 * is inventoried into `out` (OS, packages, staleness facts, `verifyFiles`, `baseline`). Throws what mounting throws.
 */
export function inspectDevice(
  dev: BlockDevice,
  target: string,
  opts: MountOptions,
  out: InspectedImage,
  withRoot: boolean,
): DeviceInspection {
  const result = out.result;
  const m = mountDevice(dev, opts);
  try {
    if (withRoot) result.image = m.info;
    for (const v of m.volumes) {
      const where =
        v.info.volume !== undefined
          ? `logical volume ${v.info.volume}`
          : v.info.partition === 0
            ? 'whole disk'
            : `partition ${v.info.partition}`;
      if (v.error) {
        result.findings.push(
          finding(
            'image.filesystem-unreadable',
            'medium',
            'Filesystem could not be read',
            `${where}: ${v.error.message}`,
            target,
            where,
          ),
        );
      } else if (v.info.note) {
        result.findings.push(
          finding(
            'image.filesystem-not-inspected',
            'info',
            'Filesystem present but not inspected',
            `${where}: ${v.info.note}`,
            target,
            where,
          ),
        );
      }
    }
    if (m.root && withRoot) inspectRoot(m.root, target, opts, out);
    return { info: m.info, root: m.root !== undefined, readable: m.volumes.some((v) => v.vfs) };
  } finally {
    m.close();
  }
}

/** The OS inventory of a root into `out`: OS, packages, staleness facts, `verifyFiles`, `baseline`. */
function inspectRoot(root: Mounts, target: string, opts: MountOptions, out: InspectedImage): void {
  const result = out.result;
  try {
    const { problems, ...inv } = inspectSystem(root);
    Object.assign(result, inv);
    // Staleness facts: the last package change and antivirus databases (judged by `judgeImage`).
    out.staleness = { packages: readPackageActivity(root), clamav: readClamAv(root) };
    if (opts.verifyFiles) {
      const v = verifyPackagedFiles(root, opts.onVerifyProgress ? { onProgress: opts.onVerifyProgress } : {});
      result.findings.push(...integrityFindings(v, target));
    }
    if (opts.baseline) {
      const diff = compareToBaseline(opts.baseline, root);
      result.findings.push(...baselineFindings(diff, target, opts.baseline));
    }
    problems.forEach((e) =>
      result.findings.push(
        finding(
          'image.inspection-failed',
          'medium',
          'Part of a package database could not be read',
          e.message,
          target,
          `${e.location.file ?? 'packages'}@${e.location.offset ?? e.location.layer ?? ''}`,
        ),
      ),
    );
  } catch (e) {
    if (!isHyperwardError(e)) throw e;
    result.findings.push(
      finding('image.inspection-failed', 'medium', 'OS inspection failed', e.message, target, 'root'),
    );
  }
}

function noOsFinding(target: string): Finding {
  return finding(
    'image.no-os-found',
    'info',
    'No operating system found',
    'no filesystem holds an OS root (no os-release, fstab or dpkg database)',
    target,
    'root',
  );
}

/**
 * Nothing on the disk could be read and nothing said why (no damaged or uninspected filesystem): the file is not a
 * disk image of a kind this version reads, or its contents are unformatted, encrypted or of an unknown kind.
 */
function noFilesystemFinding(target: string, info: ImageInfo): Finding {
  const parts = info.partitions.length;
  const table =
    info.partitionScheme === 'none'
      ? 'no partition table'
      : `${info.partitionScheme === 'gpt' ? 'a GPT' : 'an MBR'} partition table (${parts} partition${parts === 1 ? '' : 's'})`;
  return finding(
    'image.no-filesystem-found',
    'info',
    'No filesystem found',
    `${info.format} image with ${table} and no filesystem this version recognises: not a disk image, or its ` +
      'contents are unformatted, encrypted or of an unknown kind',
    target,
    'disk',
  );
}

/** The image steps an appliance's disks go through (passed in, so scan/appliance.ts need not import this module). */
const IMAGE_STEPS: ImageSteps = Object.freeze({ inspectDevice, noOsFinding, noFilesystemFinding });

export interface JudgeOptions {
  /** The moment staleness is judged against. */
  now: Date;
  staleness?: StalenessOptions;
}

/**
 * Completes an inspected image with what depends on the moment of the scan: staleness of packages, the OS
 * release's end of life, antivirus signatures. Returns its result.
 */
export function judgeImage(inspected: InspectedImage, opts: JudgeOptions): ScanResult {
  const { result, staleness } = inspected;
  if (result.appliance) judgeAppliance(result, opts.now);
  if (staleness) {
    result.findings.push(
      ...stalenessFindings(
        {
          target: result.target,
          now: opts.now,
          ...(result.os ? { os: result.os } : {}),
          packages: staleness.packages,
          clamav: staleness.clamav,
        },
        opts.staleness,
      ),
    );
  }
  return result;
}

/**
 * Scans one disk image: `inspectImage`, then `judgeImage` at `opts.now` (default now). Never throws for a bad
 * image.
 */
export function scanImage(path: string, opts: MountOptions = {}): ScanResult {
  const judge: JudgeOptions = { now: opts.now ?? new Date() };
  if (opts.staleness) judge.staleness = opts.staleness;
  return judgeImage(inspectImage(path, opts), judge);
}

/**
 * The files an image reads that are not images of their own: the extents of a VMDK descriptor (its backing chain
 * is left out: a backing file is an image, the template of its clones); for an unpacked OVF package, the
 * descriptor's disks, manifest and certificate. Empty when the image does not open.
 */
export function imageComponents(path: string, opts: OpenImageOptions = {}): string[] {
  if (applianceKind(path, opts.stats) === 'ovf') return applianceComponents(path, opts);
  let dev: BlockDevice;
  try {
    dev = openImage(path, opts);
  } catch (e) {
    if (isHyperwardError(e)) return [];
    throw e;
  }
  try {
    return ownFiles(dev.info);
  } finally {
    dev.close();
  }
}
