export interface FstabEntry {
  /** `UUID=…`, `LABEL=…`, `PARTUUID=…`, `/dev/sda1`, `/dev/disk/by-uuid/…`... */
  spec: string;
  mountpoint: string;
  type: string;
  options: string[];
}

const MAX_ENTRIES = 10_000;

/** fstab(5): whitespace-separated fields, `#` comments, octal escapes such as `\040` for a space. */
export function parseFstab(text: string): FstabEntry[] {
  const unescape = (s: string): string =>
    s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  const out: FstabEntry[] = [];
  for (const raw of text.split('\n')) {
    if (out.length >= MAX_ENTRIES) break;
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const f = line.split(/\s+/);
    if (f.length < 2) continue;
    out.push({
      spec: unescape(f[0]!),
      mountpoint: unescape(f[1]!),
      type: f[2] ?? 'auto',
      options: (f[3] ?? 'defaults').split(','),
    });
  }
  return out;
}

/** What a filesystem offers to be matched against an fstab `spec`. */
export interface FsIdentity {
  uuid?: string;
  label?: string;
  partUuid?: string;
  partLabel?: string;
  /** Volume group and logical volume, for a filesystem on an LVM logical volume. */
  lv?: [vg: string, lv: string];
}

/**
 * True when an fstab `spec` names this filesystem (by UUID, LABEL, PARTUUID, PARTLABEL, /dev/disk/by-*, or an LVM
 * device path).
 */
export function specMatches(spec: string, id: FsIdentity): boolean {
  const eq = (a: string | undefined, b: string): boolean =>
    a !== undefined && a.toLowerCase() === b.toLowerCase();
  const m = /^(UUID|LABEL|PARTUUID|PARTLABEL)=(.*)$/.exec(spec.replace(/"/g, ''));
  if (m) {
    const v = m[2]!;
    switch (m[1]) {
      case 'UUID':
        return eq(id.uuid, v);
      case 'LABEL':
        return id.label === v;
      case 'PARTUUID':
        return eq(id.partUuid, v);
      default:
        return id.partLabel === v;
    }
  }
  const d = /^\/dev\/disk\/by-(uuid|label|partuuid|partlabel)\/(.+)$/.exec(spec);
  if (d) return specMatches(`${d[1]!.toUpperCase()}=${d[2]!}`, id);
  // LVM logical volumes by device path: /dev/VG/LV, or /dev/mapper/VG-LV with dashes in names doubled.
  if (id.lv !== undefined) {
    const [vg, lv] = id.lv;
    const mapper = `${vg.replace(/-/g, '--')}-${lv.replace(/-/g, '--')}`;
    return spec === `/dev/${vg}/${lv}` || spec === `/dev/mapper/${mapper}`;
  }
  return false;
}
