/**
 * Block-level helpers for the filesystem benchmark's builder and its raw-copy peer: loop devices over a byte range
 * of a file, and LVM2 on this machine, which has no device-mapper — volume groups are created and read with
 * `--driverloaded n` and never activated, so a logical volume is found by where its extents lie in the PV.
 */
import { exec } from './common.js';

/**
 * Runs `fn` with a loop device over `[offset, offset + size)` of `file`, detaching it afterwards whatever happens.
 * Read-only unless `writable`.
 */
export function withLoop<T>(
  file: string,
  range: { offset: number; size: number; writable?: boolean },
  fn: (dev: string) => T,
): T {
  const dev = exec('losetup', [
    '--find',
    '--show',
    ...(range.writable ? [] : ['--read-only']),
    '-o',
    String(range.offset),
    '--sizelimit',
    String(range.size),
    file,
  ]).stdout.trim();
  try {
    return fn(dev);
  } finally {
    exec('losetup', ['-d', dev]);
  }
}

/** Runs an LVM2 command that sees only `dev` and keeps no metadata backups on the host. */
export function lvm(dev: string, cmd: string, args: readonly string[]): string {
  const config =
    `devices { global_filter = [ "a|^${dev}$|", "r|.*|" ] hints = "none" } ` +
    'backup { backup = 0 archive = 0 }';
  return exec(cmd, ['--config', config, ...args], { env: { ...process.env, LVM_SUPPRESS_FD_WARNINGS: '1' } })
    .stdout;
}

/** One report of `pvs`/`vgs`/`lvs --reportformat json --units b --nosuffix -o FIELDS` on `dev`. */
function lvmReport(
  dev: string,
  cmd: 'pvs' | 'vgs' | 'lvs',
  fields: string,
  more: readonly string[] = [],
): Array<Record<string, string>> {
  const key = cmd.slice(0, 2);
  const out = JSON.parse(
    lvm(dev, cmd, ['--reportformat', 'json', '--units', 'b', '--nosuffix', '-o', fields, ...more]),
  ) as { report: Array<Record<string, Array<Record<string, string>>>> };
  return out.report.flatMap((r) => r[key] ?? []);
}

/** Where a logical volume lies inside its physical volume (`dev`): byte offset from the PV's start, and size. */
export interface LvPlace {
  offset: number;
  size: number;
}

/**
 * Finds logical volume `vg/lv` on the PV `dev` from the LVM metadata (`pvs -o pe_start`, `vgs -o
 * vg_extent_size`, `lvs -o seg_pe_ranges`). Only a linear LV of one segment on this PV has one place; anything
 * else throws.
 */
export function lvPlacement(dev: string, vg: string, lv: string): LvPlace {
  const peStart = Number(lvmReport(dev, 'pvs', 'pe_start')[0]?.['pe_start']);
  const extent = Number(
    lvmReport(dev, 'vgs', 'vg_name,vg_extent_size').find((r) => r['vg_name'] === vg)?.['vg_extent_size'],
  );
  const segs = lvmReport(dev, 'lvs', 'vg_name,lv_name,segtype,seg_pe_ranges', ['--driverloaded', 'n']).filter(
    (r) => r['vg_name'] === vg && r['lv_name'] === lv,
  );
  if (segs.length !== 1 || segs[0]!['segtype'] !== 'linear') {
    throw new Error(`${vg}/${lv}: expected one linear segment, found ${JSON.stringify(segs)}`);
  }
  const m = /:(\d+)-(\d+)$/.exec(segs[0]!['seg_pe_ranges'] ?? '');
  if (!m || !Number.isFinite(peStart) || !Number.isFinite(extent)) {
    throw new Error(`${vg}/${lv}: cannot read its place from ${JSON.stringify(segs[0])}`);
  }
  const first = Number(m[1]);
  const last = Number(m[2]);
  return { offset: peStart + first * extent, size: (last - first + 1) * extent };
}
