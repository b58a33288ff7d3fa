/**
 * Read-only LVM2 reader: finds physical volumes among a set of devices, reads each volume group's current text
 * metadata, and opens its logical volumes as block devices, without device-mapper.
 *
 * Covers: the LVM2 label and PV header, metadata areas (both copies when a PV has two) with their circular
 * buffers, LVM's checksums, the text metadata format, several PVs per VG and several VGs at once, linear and
 * striped segments (a linear segment is a striped one with one stripe) and `zero` segments. Thin pools and thin
 * volumes, RAID, mirrors, snapshots (the copy-on-write store is not the snapshot's contents), cache, writecache,
 * VDO and integrity are recognised and reported as unsupported: such a volume is listed, with the reason, and
 * refuses to open.
 *
 * Hostile input: every problem is collected as an issue and the rest goes on: a damaged label, metadata area or
 * metadata text skips that copy (another PV's copy may still serve), a damaged volume group or logical volume
 * is reported and left out or marked unreadable. Sizes, counts and nesting are capped.
 */
import { HyperwardError, corrupt, isHyperwardError, type ErrorCode } from '../errors.js';
import { checkRange, type BlockDevice, type DeviceInfo } from './types.js';
import {
  asList,
  parseLvmConfig,
  section,
  setting,
  type ConfigScalar,
  type ConfigSection,
  type ConfigValue,
} from './lvm/config.js';
import { SECTOR, formatLvmUuid, readMetadataArea, readPvLabel, type PvLabel } from './lvm/label.js';

const MAX_PVS = 4096;
const MAX_LVS = 16384;
const MAX_SEGMENTS = 65536;
/** LVM's own limit on stripes per segment. */
const MAX_STRIPES = 128;

/** Something that could not be read, or can be read but not opened; the scan reports it and goes on. */
export interface LvmIssue {
  code: ErrorCode;
  message: string;
  /** The device the problem was found on, when it is about one. */
  device?: string;
  vg?: string;
  lv?: string;
}

export interface PhysicalVolume {
  /** The PV's name inside the VG metadata (`pv0`, `pv1`, ...). */
  name: string;
  /** PV UUID as LVM prints it (with dashes). */
  uuid: string;
  /** The device carrying this PV's label, or undefined when it was not among the devices given (missing). */
  device?: BlockDevice;
  /** The device path LVM last saw the PV at (a hint only). */
  deviceHint?: string;
  /** Byte offset of the first physical extent on the device. */
  peStart: number;
  peCount: number;
}

/** One stripe of a segment: a PV (by its name in the VG) and the first physical extent used on it. */
export interface StripeArea {
  pv: string;
  startExtent: number;
}

export interface LvSegment {
  /** First logical extent of the LV the segment covers. */
  startExtent: number;
  extentCount: number;
  /** Segment type as in the metadata: `striped`, `zero`, `thin`, `raid1`, `snapshot`, ... */
  type: string;
  /** For `striped` segments: the stripes in order (one for a linear segment). */
  stripes: StripeArea[];
  /** For striped segments with more than one stripe: the chunk size in bytes. */
  stripeSize?: number;
}

export interface LogicalVolume {
  vg: string;
  name: string;
  uuid: string;
  /** False for LVs LVM hides (sub-volumes of RAID, thin pools, snapshots...). */
  visible: boolean;
  status: string[];
  /** Size in bytes. */
  size: number;
  segments: LvSegment[];
  /** Why `open` refuses this LV, when it does (unsupported segment type, missing PV, damaged segment). */
  unsupported?: string;
  /**
   * The LV as a block device (format `lvm-lv`, name `vg/lv`). Throws E_UNSUPPORTED_FORMAT for unsupported segment
   * types, E_NOT_FOUND when a PV it needs is missing, E_IMAGE_CORRUPT for damaged segments.
   */
  open(): BlockDevice;
}

export interface VolumeGroup {
  name: string;
  uuid: string;
  seqno: number;
  /** Extent size in bytes. */
  extentSize: number;
  pvs: PhysicalVolume[];
  lvs: LogicalVolume[];
}

export interface LvmScan {
  vgs: VolumeGroup[];
  issues: LvmIssue[];
}

interface Candidate {
  dev: BlockDevice;
  text: string;
  vgName: string;
  vgId: string;
  seqno: number;
  vg: ConfigSection;
}

interface PvOnDisk {
  dev: BlockDevice;
  label: PvLabel;
}

/** A snapshot segment (in an internal LV such as `snapshot0`): its origin and copy-on-write store LVs. */
interface Snapshot {
  lv: string;
  origin?: string;
  cow?: string;
}

/** A reason an LV cannot be opened, with the error code `open` throws. */
interface Refusal {
  code: ErrorCode;
  message: string;
}

/** Reads typed settings from a metadata section, throwing E_IMAGE_CORRUPT (with the line) when one is wrong. */
class Fields {
  constructor(
    private readonly file: string,
    private readonly sec: ConfigSection,
    private readonly what: string,
  ) {}

  private bad(key: string, msg: string): HyperwardError {
    const line = this.sec.settings.find((s) => s.key === key)?.line ?? this.sec.line;
    return new HyperwardError('E_IMAGE_CORRUPT', `${this.what}: ${key} ${msg}`, {
      file: this.file,
      layer: 'LVM text metadata',
      line,
    });
  }

  private get(key: string): ConfigValue {
    const v = setting(this.sec, key);
    if (v === undefined) throw this.bad(key, 'is missing');
    return v;
  }

  int(key: string, min = 0): number {
    const v = this.get(key);
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) {
      throw this.bad(key, `must be an integer of at least ${min}`);
    }
    return v;
  }

  str(key: string): string {
    const v = this.get(key);
    if (typeof v !== 'string') throw this.bad(key, 'must be a string');
    return v;
  }

  optStr(key: string): string | undefined {
    return setting(this.sec, key) === undefined ? undefined : this.str(key);
  }

  /** A list of strings; a single string counts as a list of one (LVM does not tell them apart). */
  strings(key: string): string[] {
    const v = setting(this.sec, key);
    if (v === undefined) return [];
    const out: string[] = [];
    for (const x of asList(v)) {
      if (typeof x !== 'string') throw this.bad(key, 'must be a list of strings');
      out.push(x);
    }
    return out;
  }

  /** A list of values; a scalar counts as a list of one. */
  array(key: string): ConfigScalar[] {
    return asList(this.get(key));
  }

  /** An E_IMAGE_CORRUPT error about this section. */
  corrupt(message: string): HyperwardError {
    return new HyperwardError('E_IMAGE_CORRUPT', `${this.what}: ${message}`, {
      file: this.file,
      layer: 'LVM text metadata',
      line: this.sec.line,
    });
  }
}

/** A logical volume read through its segments, straight from the PV devices. */
class LvDevice implements BlockDevice {
  readonly format = 'lvm-lv';
  readonly name: string;
  readonly size: number;
  readonly info: DeviceInfo;
  /** Byte offset in the LV where each segment starts, for the binary search. */
  private readonly starts: number[];

  constructor(
    private readonly lv: LogicalVolume,
    private readonly extentSize: number,
    private readonly pvs: ReadonlyMap<string, PhysicalVolume>,
  ) {
    this.name = `${lv.vg}/${lv.name}`;
    this.size = lv.size;
    this.starts = lv.segments.map((s) => s.startExtent * extentSize);
    const files: string[] = [];
    for (const pv of pvs.values())
      for (const f of pv.device?.info.files ?? []) if (!files.includes(f)) files.push(f);
    this.info = {
      format: 'lvm-lv',
      virtualSize: lv.size,
      files,
      vg: lv.vg,
      lv: lv.name,
      segments: lv.segments.length,
      segmentTypes: [...new Set(lv.segments.map((s) => s.type))],
    };
  }

  read(offset: number, length: number): Buffer {
    checkRange(this, offset, length);
    const out = Buffer.alloc(length);
    const end = offset + length;
    let pos = offset;
    let i = this.segmentAt(offset);
    while (pos < end) {
      const seg = this.lv.segments[i]!;
      const segStart = this.starts[i]!;
      const segEnd = segStart + seg.extentCount * this.extentSize;
      if (pos >= segEnd) {
        i++;
        continue;
      }
      let n = Math.min(end, segEnd) - pos;
      if (seg.type !== 'zero') {
        const o = pos - segStart;
        const k = seg.stripes.length;
        let area = seg.stripes[0]!;
        let inArea = o;
        if (k > 1) {
          const ss = seg.stripeSize!;
          const chunk = Math.floor(o / ss);
          area = seg.stripes[chunk % k]!;
          const within = o - chunk * ss;
          inArea = Math.floor(chunk / k) * ss + within;
          n = Math.min(n, ss - within);
        }
        const pv = this.pvs.get(area.pv)!;
        const dev = pv.device!;
        dev.read(pv.peStart + area.startExtent * this.extentSize + inArea, n).copy(out, pos - offset);
      }
      pos += n;
    }
    return out;
  }

  private segmentAt(offset: number): number {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  close(): void {
    // The PV devices belong to the caller.
  }
}

/** Segment types that have a name in LVM but are not read here, with a word on what they are. */
function describeType(type: string): string {
  if (type === 'thin' || type === 'thin-pool') return `thin provisioning (${type})`;
  if (type.startsWith('raid')) return `RAID (${type})`;
  if (type === 'mirror') return 'mirror';
  if (type === 'snapshot') return 'snapshot';
  if (type === 'cache' || type === 'cache-pool' || type === 'writecache') return `cache (${type})`;
  if (type === 'vdo' || type === 'vdo-pool') return `VDO (${type})`;
  return type;
}

function issueFrom(e: unknown, ctx: Omit<LvmIssue, 'code' | 'message'>): LvmIssue {
  if (!isHyperwardError(e)) throw e;
  return { code: e.code, message: e.message, ...ctx };
}

/** Parses one metadata copy down to its VG section and identity. */
function candidate(dev: BlockDevice, text: string): Candidate {
  const doc = parseLvmConfig(text, dev.name);
  const top = new Fields(dev.name, doc, 'metadata');
  const contents = top.optStr('contents');
  if (contents !== undefined && contents !== 'Text Format Volume Group') {
    throw new HyperwardError('E_UNSUPPORTED_FORMAT', `metadata contents ${JSON.stringify(contents)}`, {
      file: dev.name,
      layer: 'LVM text metadata',
    });
  }
  if (setting(doc, 'version') !== undefined && top.int('version') !== 1) {
    throw new HyperwardError('E_UNSUPPORTED_FORMAT', 'metadata version is not 1', {
      file: dev.name,
      layer: 'LVM text metadata',
    });
  }
  if (doc.sections.length !== 1) {
    throw corrupt(`metadata holds ${doc.sections.length} volume groups, not one`, {
      file: dev.name,
      layer: 'LVM text metadata',
    });
  }
  const vg = doc.sections[0]!;
  const f = new Fields(dev.name, vg, `volume group ${vg.name}`);
  return { dev, text, vgName: vg.name, vgId: f.str('id'), seqno: f.int('seqno'), vg };
}

/** Builds a VG from its chosen metadata copy; LV-level problems become issues and unopenable LVs. */
function buildVg(c: Candidate, pvsOnDisk: ReadonlyMap<string, PvOnDisk>, issues: LvmIssue[]): VolumeGroup {
  const file = c.dev.name;
  const vgName = c.vgName;
  const f = new Fields(file, c.vg, `volume group ${vgName}`);
  const extentSectors = f.int('extent_size', 1);
  const extentSize = extentSectors * SECTOR;
  if (!Number.isSafeInteger(extentSize)) throw corrupt('extent size is out of range', { file });

  const pvs = new Map<string, PhysicalVolume>();
  const pvSec = section(c.vg, 'physical_volumes');
  if (pvSec === undefined) throw corrupt(`volume group ${vgName} has no physical_volumes`, { file });
  if (pvSec.sections.length > MAX_PVS) {
    throw new HyperwardError('E_LIMIT', `volume group ${vgName} has more than ${MAX_PVS} PVs`, { file });
  }
  for (const s of pvSec.sections) {
    try {
      const pf = new Fields(file, s, `PV ${s.name}`);
      const uuid = pf.str('id');
      const pv: PhysicalVolume = {
        name: s.name,
        uuid,
        peStart: pf.int('pe_start') * SECTOR,
        peCount: pf.int('pe_count'),
      };
      const hint = pf.optStr('device');
      if (hint !== undefined) pv.deviceHint = hint;
      const onDisk = pvsOnDisk.get(uuid.replace(/-/g, ''));
      if (onDisk !== undefined) pv.device = onDisk.dev;
      if (pvs.has(s.name)) {
        issues.push({ code: 'E_IMAGE_CORRUPT', message: `PV name ${s.name} appears twice`, vg: vgName });
        continue;
      }
      pvs.set(s.name, pv);
      if (pv.device === undefined) {
        issues.push({
          code: 'E_NOT_FOUND',
          message: `PV ${s.name} (${uuid}${hint !== undefined ? `, last seen as ${hint}` : ''}) is missing`,
          vg: vgName,
        });
      } else if (!Number.isSafeInteger(pv.peStart + pv.peCount * extentSize)) {
        throw corrupt('extents are out of range', { file });
      } else if (pv.peStart + pv.peCount * extentSize > pv.device.size) {
        issues.push({
          code: 'E_IMAGE_CORRUPT',
          message: `PV ${s.name} claims ${pv.peCount} extents after byte ${pv.peStart}, past the end of its device (${pv.device.size} bytes)`,
          vg: vgName,
          device: pv.device.name,
        });
      }
    } catch (e) {
      issues.push(issueFrom(e, { vg: vgName }));
    }
  }

  const vg: VolumeGroup = {
    name: vgName,
    uuid: f.str('id'),
    seqno: c.seqno,
    extentSize,
    pvs: [...pvs.values()],
    lvs: [],
  };
  const lvSec = section(c.vg, 'logical_volumes');
  const lvSecs = lvSec?.sections ?? [];
  if (lvSecs.length > MAX_LVS) {
    throw new HyperwardError('E_LIMIT', `volume group ${vgName} has more than ${MAX_LVS} LVs`, { file });
  }
  const refusals = new Map<LogicalVolume, Refusal>();
  const snapshots: Snapshot[] = [];
  const names = new Set<string>();
  for (const s of lvSecs) {
    if (names.has(s.name)) {
      issues.push({ code: 'E_IMAGE_CORRUPT', message: `LV name appears twice`, vg: vgName, lv: s.name });
      continue;
    }
    names.add(s.name);
    try {
      const lv = buildLv(file, vgName, s, extentSize, pvs, refusals, snapshots);
      vg.lvs.push(lv);
    } catch (e) {
      issues.push(issueFrom(e, { vg: vgName, lv: s.name }));
    }
  }
  // LVM describes a snapshot by an internal LV (`snapshot0`) whose segment names the origin and the
  // copy-on-write store, and shows the store's LV as the snapshot. The store is an ordinary-looking linear LV,
  // but its bytes are only the snapshot's changes: it is the one reported, and the internal LV is not listed.
  for (const snap of snapshots) {
    const inner = vg.lvs.findIndex((x) => x.name === snap.lv);
    if (inner >= 0) vg.lvs.splice(inner, 1);
    const store = vg.lvs.find((x) => x.name === snap.cow);
    if (store === undefined) {
      issues.push({
        code: 'E_IMAGE_CORRUPT',
        message: `snapshot ${snap.lv} names a copy-on-write store ${snap.cow ?? '(none)'} that does not exist`,
        vg: vgName,
        lv: snap.lv,
      });
      continue;
    }
    const message = `it is a snapshot${snap.origin !== undefined ? ` of ${snap.origin}` : ''}; snapshots are not supported (its extents hold only the copy-on-write changes)`;
    refusals.set(store, { code: 'E_UNSUPPORTED_FORMAT', message });
    store.unsupported = message;
    // LVM stores the copy-on-write LV without VISIBLE and shows the snapshot as visible when its origin is.
    const origin = vg.lvs.find((x) => x.name === snap.origin);
    store.visible = origin?.visible ?? true;
  }
  for (const lv of vg.lvs) {
    const r = refusals.get(lv);
    if (r !== undefined)
      issues.push({ code: r.code, message: `cannot open: ${r.message}`, vg: vgName, lv: lv.name });
  }
  return vg;
}

function buildLv(
  file: string,
  vgName: string,
  s: ConfigSection,
  extentSize: number,
  pvs: ReadonlyMap<string, PhysicalVolume>,
  refusals: Map<LogicalVolume, Refusal>,
  snapshots: Snapshot[],
): LogicalVolume {
  const what = `LV ${s.name}`;
  const lf = new Fields(file, s, what);
  const status = lf.strings('status');
  const segSecs = s.sections.filter((x) => /^segment\d+$/.test(x.name));
  if (segSecs.length > MAX_SEGMENTS) {
    throw new HyperwardError('E_LIMIT', `${what} has more than ${MAX_SEGMENTS} segments`, { file });
  }
  let refusal: Refusal | undefined;
  const refuse = (code: ErrorCode, message: string): void => {
    refusal ??= { code, message };
  };
  const segments: LvSegment[] = [];
  for (const ss of segSecs) {
    const sf = new Fields(file, ss, `${what} ${ss.name}`);
    const seg: LvSegment = {
      startExtent: sf.int('start_extent'),
      extentCount: sf.int('extent_count', 1),
      type: sf.str('type'),
      stripes: [],
    };
    segments.push(seg);
    if (seg.type === 'striped' || seg.type === 'linear') {
      try {
        stripedSegment(sf, seg, extentSize, pvs);
      } catch (e) {
        if (!isHyperwardError(e)) throw e;
        refuse(e.code, e.message);
      }
    } else if (seg.type !== 'zero') {
      if (seg.type === 'snapshot') {
        const snap: Snapshot = { lv: s.name };
        if (typeof setting(ss, 'cow_store') === 'string') snap.cow = setting(ss, 'cow_store') as string;
        if (typeof setting(ss, 'origin') === 'string') snap.origin = setting(ss, 'origin') as string;
        snapshots.push(snap);
      }
      refuse('E_UNSUPPORTED_FORMAT', `segment type ${describeType(seg.type)} is not supported`);
    }
  }
  segments.sort((a, b) => a.startExtent - b.startExtent);
  let next = 0;
  for (const seg of segments) {
    if (seg.startExtent !== next) {
      refuse(
        'E_IMAGE_CORRUPT',
        `segments do not follow each other (extent ${seg.startExtent}, expected ${next})`,
      );
      break;
    }
    next += seg.extentCount;
  }
  const size = next * extentSize;
  if (!Number.isSafeInteger(size)) throw corrupt(`${what} size is out of range`, { file });
  if (segments.length === 0) refuse('E_IMAGE_CORRUPT', 'the LV has no segments');
  const lv: LogicalVolume = {
    vg: vgName,
    name: s.name,
    uuid: lf.optStr('id') ?? '',
    visible: status.includes('VISIBLE'),
    status,
    size,
    segments,
    open: () => {
      const r = refusals.get(lv);
      if (r !== undefined) {
        throw new HyperwardError(r.code, r.message, {
          file: `${vgName}/${s.name}`,
          layer: 'LVM logical volume',
        });
      }
      return new LvDevice(lv, extentSize, pvs);
    },
  };
  if (refusal !== undefined) {
    refusals.set(lv, refusal);
    lv.unsupported = refusal.message;
  }
  return lv;
}

/** Fills in a striped (or linear) segment's stripes and checks each lies on a present PV, inside its extents. */
function stripedSegment(
  sf: Fields,
  seg: LvSegment,
  extentSize: number,
  pvs: ReadonlyMap<string, PhysicalVolume>,
): void {
  const count = sf.int('stripe_count', 1);
  if (count > MAX_STRIPES) throw sf.corrupt(`${count} stripes is more than LVM allows`);
  const list = sf.array('stripes');
  if (list.length !== 2 * count) throw sf.corrupt(`stripes lists ${list.length / 2} areas, not ${count}`);
  if (seg.extentCount % count !== 0) {
    throw sf.corrupt(`${seg.extentCount} extents do not divide into ${count} stripes`);
  }
  const areaLen = seg.extentCount / count;
  if (count > 1) {
    const ss = sf.int('stripe_size', 1) * SECTOR;
    if ((areaLen * extentSize) % ss !== 0) {
      throw sf.corrupt(`stripe size ${ss} does not divide the stripe length ${areaLen * extentSize}`);
    }
    seg.stripeSize = ss;
  }
  for (let i = 0; i < count; i++) {
    const pvName = list[2 * i];
    const start = list[2 * i + 1];
    if (
      typeof pvName !== 'string' ||
      typeof start !== 'number' ||
      !Number.isSafeInteger(start) ||
      start < 0
    ) {
      throw sf.corrupt(`stripe ${i} is not a PV name and an extent`);
    }
    seg.stripes.push({ pv: pvName, startExtent: start });
    const pv = pvs.get(pvName);
    if (pv === undefined) throw sf.corrupt(`stripe ${i} names an unknown PV ${pvName}`);
    if (pv.device === undefined) {
      throw new HyperwardError('E_NOT_FOUND', `PV ${pvName} (${pv.uuid}) is missing`, { layer: 'LVM' });
    }
    if (start + areaLen > pv.peCount) {
      throw sf.corrupt(
        `stripe ${i} uses extents ${start}..${start + areaLen - 1} of ${pvName}, which has ${pv.peCount}`,
      );
    }
    const endByte = pv.peStart + (start + areaLen) * extentSize;
    if (!Number.isSafeInteger(endByte) || endByte > pv.device.size) {
      throw sf.corrupt(`stripe ${i} lies past the end of ${pv.device.name}`);
    }
  }
}

/**
 * Finds the LVM2 physical volumes among `devices` (whole disks or partitions), reads the current metadata of
 * every volume group they belong to, and describes its logical volumes, each openable as a block device.
 * Never throws for bad input: every problem is in `issues`, and what could be read is returned.
 *
 * @example
 * const { vgs, issues } = readLvm(partitions.map((p) => p.device));
 * const root = vgs.find((v) => v.name === 'vg0')?.lvs.find((l) => l.name === 'root')?.open();
 */
export function readLvm(devices: BlockDevice[]): LvmScan {
  const issues: LvmIssue[] = [];
  const pvsOnDisk = new Map<string, PvOnDisk>();
  const copies: Array<{ dev: BlockDevice; text: string }> = [];
  for (const dev of devices) {
    let label: PvLabel | undefined;
    try {
      label = readPvLabel(dev);
    } catch (e) {
      issues.push(issueFrom(e, { device: dev.name }));
      continue;
    }
    if (label === undefined) continue;
    const seen = pvsOnDisk.get(label.uuid);
    if (seen !== undefined) {
      issues.push({
        code: 'E_IMAGE_CORRUPT',
        message: `PV ${formatLvmUuid(label.uuid)} is on ${seen.dev.name} too (a copied disk?); this copy is ignored`,
        device: dev.name,
      });
      continue;
    }
    pvsOnDisk.set(label.uuid, { dev, label });
    for (const area of label.metadataAreas) {
      try {
        const copy = readMetadataArea(dev, area);
        if (copy !== undefined) copies.push({ dev, text: copy.text });
      } catch (e) {
        issues.push(issueFrom(e, { device: dev.name }));
      }
    }
  }

  // Parse each distinct text once; group the copies by VG UUID and keep the newest.
  const parsed = new Map<string, Candidate | undefined>();
  const best = new Map<string, Candidate>();
  const all: Candidate[] = [];
  for (const { dev, text } of copies) {
    let c: Candidate | undefined;
    if (parsed.has(text)) {
      const p = parsed.get(text);
      c = p === undefined ? undefined : { ...p, dev };
    } else {
      try {
        c = candidate(dev, text);
      } catch (e) {
        issues.push(issueFrom(e, { device: dev.name }));
      }
      parsed.set(text, c);
    }
    if (c === undefined) continue;
    all.push(c);
    const b = best.get(c.vgId);
    if (b === undefined || c.seqno > b.seqno) best.set(c.vgId, c);
  }
  for (const c of all) {
    const b = best.get(c.vgId)!;
    if (c.seqno < b.seqno) {
      issues.push({
        code: 'E_IMAGE_CORRUPT',
        message: `metadata copy of volume group ${c.vgName} is older (seqno ${c.seqno}) than the one used (${b.seqno})`,
        device: c.dev.name,
        vg: c.vgName,
      });
    }
  }

  const vgs: VolumeGroup[] = [];
  for (const c of best.values()) {
    try {
      vgs.push(buildVg(c, pvsOnDisk, issues));
    } catch (e) {
      issues.push(issueFrom(e, { vg: c.vgName, device: c.dev.name }));
    }
  }
  const byName = new Map<string, number>();
  for (const vg of vgs) byName.set(vg.name, (byName.get(vg.name) ?? 0) + 1);
  for (const [name, n] of byName) {
    if (n > 1)
      issues.push({
        code: 'E_IMAGE_CORRUPT',
        message: `${n} different volume groups are named ${name}`,
        vg: name,
      });
  }
  return { vgs, issues };
}
