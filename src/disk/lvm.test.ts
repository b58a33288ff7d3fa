import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync, readSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { expectError } from '../../test/helpers/errors.js';
import { modPicker, pattern, xorshift32 } from '../../test/helpers/pattern.js';
import { sfdiskTable } from '../../test/helpers/sfdisk.js';
import { run, tempDir } from '../../test/helpers/tmp.js';
import { openExt4 } from '../fs/ext4.js';
import { Vfs } from '../fs/vfs.js';
import { readLvm, type LvmScan, type VolumeGroup } from './lvm.js';
import { readMetadataArea, readPvLabel } from './lvm/label.js';
import { openImage } from './open.js';
import { readPartitions } from './partition/index.js';
import { checkRange, type BlockDevice, type DeviceInfo } from './types.js';

const MiB = 1024 * 1024;
const LVM_ENV = { ...process.env, LVM_SUPPRESS_FD_WARNINGS: '1' };

/** One row of `lvs --segments --reportformat json` (every value is a string). */
interface LvsSeg {
  vg_name: string;
  lv_name: string;
  lv_uuid: string;
  lv_size: string;
  segtype: string;
  seg_start_pe: string;
  seg_size_pe: string;
  seg_pe_ranges: string;
  stripes: string;
  stripe_size: string;
}
interface PvsRow {
  pv_name: string;
  pv_uuid: string;
  pe_start: string;
  pv_pe_count: string;
  vg_name: string;
}
interface VgsRow {
  vg_name: string;
  vg_uuid: string;
  vg_seqno: string;
  vg_extent_size: string;
}

/** Loop devices over image files, and LVM commands that see only those (and keep no backups on the host). */
class LvmLab {
  readonly loops: string[] = [];
  /** Loop device -> backing file and the offset it starts at. */
  readonly backing = new Map<string, { file: string; offset: number }>();

  attach(file: string, offset = 0, size?: number): string {
    const range = size !== undefined ? ['-o', String(offset), '--sizelimit', String(size)] : [];
    const dev = run('losetup', ['--find', '--show', ...range, file]).trim();
    this.loops.push(dev);
    this.backing.set(dev, { file, offset });
    return dev;
  }

  private config(): string {
    const accept = this.loops.map((l) => `"a|^${l}$|"`).join(', ');
    return `devices { global_filter = [ ${accept}, "r|.*|" ] hints = "none" } backup { backup = 0 archive = 0 }`;
  }

  lvm(cmd: string, ...args: string[]): string {
    return run(cmd, ['--config', this.config(), ...args], { env: LVM_ENV });
  }

  /** An LVM report as JSON rows. */
  report<T>(cmd: string, key: string, ...args: string[]): T[] {
    const out = this.lvm(cmd, '--reportformat', 'json', '--units', 'b', '--nosuffix', ...args);
    const doc = JSON.parse(out) as { report: Array<Record<string, T[]>> };
    return doc.report.flatMap((r) => r[key] ?? []);
  }

  detachAll(): void {
    for (const l of this.loops.splice(0)) spawnSync('losetup', ['-d', l]);
  }
}

/** `seg_pe_ranges` as device, first and last extent: `/dev/loop0:0-1 /dev/loop1:0-1`. */
function ranges(s: string): Array<{ dev: string; from: number; to: number }> {
  return s
    .trim()
    .split(/\s+/)
    .filter((x) => x !== '')
    .map((r) => {
      const m = /^(.*):(\d+)-(\d+)$/.exec(r);
      assert.ok(m !== null, r);
      return { dev: m[1]!, from: Number(m[2]), to: Number(m[3]) };
    });
}

/** A piece of an LV in LV order: `length` bytes at `offset` of `file`. */
interface Piece {
  file: string;
  offset: number;
  length: number;
}

/**
 * Where an LV's bytes live, in LV order, from LVM's report alone: a linear segment is its extents in order; a
 * striped one takes `stripe_size` chunks from its stripes in turn (device-mapper's striped target).
 */
function layout(lab: LvmLab, segs: LvsSeg[], pvs: PvsRow[], extent: number): Piece[] {
  const out: Piece[] = [];
  const sorted = [...segs].sort((a, b) => Number(a.seg_start_pe) - Number(b.seg_start_pe));
  for (const seg of sorted) {
    const rs = ranges(seg.seg_pe_ranges).map((r) => {
      const b = lab.backing.get(r.dev)!;
      const peStart = Number(pvs.find((p) => p.pv_name === r.dev)!.pe_start);
      return {
        file: b.file,
        start: b.offset + peStart + r.from * extent,
        bytes: (r.to - r.from + 1) * extent,
      };
    });
    if (rs.length === 1) {
      out.push({ file: rs[0]!.file, offset: rs[0]!.start, length: rs[0]!.bytes });
      continue;
    }
    const chunk = Number(seg.stripe_size);
    for (let off = 0; off < rs[0]!.bytes; off += chunk) {
      for (const r of rs) out.push({ file: r.file, offset: r.start + off, length: chunk });
    }
  }
  return out;
}

function readPieces(pieces: Piece[]): Buffer {
  const bufs: Buffer[] = [];
  for (const p of pieces) {
    const fd = openSync(p.file, 'r');
    const b = Buffer.alloc(p.length);
    readSync(fd, b, 0, p.length, p.offset);
    closeSync(fd);
    bufs.push(b);
  }
  return Buffer.concat(bufs);
}

function writePieces(pieces: Piece[], data: Buffer): void {
  let at = 0;
  for (const p of pieces) {
    if (at >= data.length) break;
    const fd = openSync(p.file, 'r+');
    writeSync(fd, data, at, Math.min(p.length, data.length - at), p.offset);
    closeSync(fd);
    at += p.length;
  }
}

/** A device over a file with some byte ranges replaced (damage, or an old copy of the metadata). */
class OverlayDevice implements BlockDevice {
  readonly format = 'raw';
  readonly size: number;
  readonly info: DeviceInfo;
  constructor(
    private readonly inner: BlockDevice,
    private readonly patches: Array<{ offset: number; data: Buffer }>,
    readonly name = `${inner.name} (patched)`,
  ) {
    this.size = inner.size;
    this.info = { ...inner.info, format: 'raw' };
  }
  read(offset: number, length: number): Buffer {
    checkRange(this, offset, length);
    const out = this.inner.read(offset, length);
    for (const p of this.patches) {
      const from = Math.max(offset, p.offset);
      const to = Math.min(offset + length, p.offset + p.data.length);
      if (from < to) p.data.copy(out, from - offset, from - p.offset, to - p.offset);
    }
    return out;
  }
  close(): void {}
}

function randomUuid(seed: number): string {
  const chars = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  const next = xorshift32(seed);
  let s = '';
  for (let i = 0; i < 32; i++) s += chars[next() % chars.length];
  return [6, 4, 4, 4, 4, 4, 6]
    .reduce<{ parts: string[]; at: number }>(
      (acc, n) => ({ parts: [...acc.parts, s.slice(acc.at, acc.at + n)], at: acc.at + n }),
      { parts: [], at: 0 },
    )
    .parts.join('-');
}

/** LV sections in LVM's metadata syntax, to add kinds of LV that cannot be created without device-mapper. */
function lvText(name: string, visible: boolean, extents: number, body: string, seed: number): string {
  return `
${name} {
id = "${randomUuid(seed)}"
status = ["READ", "WRITE"${visible ? ', "VISIBLE"' : ''}]
flags = []
segment_count = 1
segment1 {
start_extent = 0
extent_count = ${extents}
${body}
}
}
`;
}
const linear = (pe: number): string => `type = "striped"\nstripe_count = 1\nstripes = [ "pv0", ${pe} ]`;

/** The source tree for the ext4 filesystems put on LVs. */
function buildTree(root: string): void {
  mkdirSync(join(root, 'etc'), { recursive: true });
  mkdirSync(join(root, 'var/lib'), { recursive: true });
  writeFileSync(join(root, 'etc/os-release'), 'ID=hyperward\nVERSION_ID=1\n');
  writeFileSync(join(root, 'var/lib/big'), pattern(3 * MiB + 777, 5));
  for (let i = 0; i < 50; i++) writeFileSync(join(root, `var/lib/f${i}`), pattern(i * 1000 + 1, i));
}

function sha(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

describe('LVM2 reader against volume groups made by LVM', () => {
  let tmp: { dir: string; cleanup: () => void };
  const lab = new LvmLab();
  const devices: BlockDevice[] = [];
  const tag = `${process.pid.toString(36)}x${(Date.now() % 1e6).toString(36)}`;
  const vg1 = `hwa${tag}`;
  const vg2 = `hwc${tag}`;
  const vg3 = `hwd${tag}`;
  const vg4 = `hwe${tag}`;
  let files: Record<'a' | 'b' | 'c' | 'd' | 'e', string>;
  let partStart = 0;
  let lvs: LvsSeg[] = [];
  let pvs: PvsRow[] = [];
  let vgs: VgsRow[] = [];
  let staleA: Buffer;
  let pvckE = '';
  const open = (path: string): BlockDevice => {
    const d = openImage(path, { format: 'raw' });
    devices.push(d);
    return d;
  };
  /** The PV devices as the scanner would see them: whole files, and the GPT partition of disk c. */
  const pvDevices = (): Record<'a' | 'b' | 'c' | 'd' | 'e', BlockDevice> => {
    const disk = open(files.c);
    const part = readPartitions(disk).partitions[0]!;
    assert.equal(part.start, partStart);
    return { a: open(files.a), b: open(files.b), c: part.device, d: open(files.d), e: open(files.e) };
  };
  const segsOf = (vg: string, lv: string): LvsSeg[] =>
    lvs.filter((s) => s.vg_name === vg && s.lv_name === lv);
  const extentOf = (vg: string): number => Number(vgs.find((v) => v.vg_name === vg)!.vg_extent_size);

  before(() => {
    tmp = tempDir('hyperward-lvm-');
    const f = (n: string, size: number): string => {
      const p = join(tmp.dir, n);
      run('truncate', ['-s', String(size), p]);
      return p;
    };
    files = {
      a: f('pv-a.img', 64 * MiB),
      b: f('pv-b.img', 64 * MiB),
      c: f('disk-c.img', 48 * MiB),
      d: f('pv-d.img', 32 * MiB),
      e: f('pv-e.img', 16 * MiB),
    };
    run('sgdisk', ['-n', '1:2048:0', '-t', '1:8e00', files.c]);
    const part = sfdiskTable(files.c).partitions![0]!;
    partStart = part.start * 512;
    try {
      const A = lab.attach(files.a);
      const B = lab.attach(files.b);
      const C = lab.attach(files.c, partStart, part.size * 512);
      const D = lab.attach(files.d);
      const E = lab.attach(files.e);

      // VG 1 over two PVs (the second with two metadata areas): a linear LV in two segments, striped LVs.
      lab.lvm('pvcreate', '-q', A);
      lab.lvm('pvcreate', '-q', '--pvmetadatacopies', '2', B);
      lab.lvm('vgcreate', '-q', '-s', '4m', vg1, A, B);
      const lvcreate = (...a: string[]): string =>
        lab.lvm('lvcreate', '-q', '--driverloaded', 'n', '-an', '-Zn', ...a);
      lvcreate('-L', '8M', '-n', 'lin', vg1);
      staleA = readFileSync(files.a).subarray(0, MiB);
      lvcreate('-L', '4M', '-n', 'gap', vg1);
      lab.lvm('lvextend', '-q', '--driverloaded', 'n', '-L', '+8M', `${vg1}/lin`);
      lvcreate('-i', '2', '-I', '64k', '-L', '16M', '-n', 'str', vg1);
      lvcreate('-i', '2', '-I', '4k', '-L', '16M', '-n', 'sfs', vg1);

      // VG 2 on a GPT partition.
      lab.lvm('pvcreate', '-q', C);
      lab.lvm('vgcreate', '-q', '-s', '1m', vg2, C);
      lvcreate('-L', '20M', '-n', 'data', vg2);

      // VG 3 (its label in sector 3, not 1): kinds of LV that need device-mapper to create, written by vgcfgrestore from edited metadata.
      lab.lvm('pvcreate', '-q', '--labelsector', '3', D);
      lab.lvm('vgcreate', '-q', '-s', '1m', vg3, D);
      lvcreate('-L', '4M', '-n', 'orig', vg3);
      const backup = join(tmp.dir, 'vg3.vg');
      lab.lvm('vgcfgbackup', '-q', '-f', backup, vg3);
      let extra = '';
      let seed = 1;
      const add = (name: string, visible: boolean, extents: number, body: string): void => {
        extra += lvText(name, visible, extents, body, seed++);
      };
      add('snap', true, 2, linear(4));
      add('snapshot0', false, 4, 'type = "snapshot"\nchunk_size = 8\norigin = "orig"\ncow_store = "snap"');
      add('r1_rmeta_0', false, 1, linear(6));
      add('r1_rimage_0', false, 2, linear(7));
      add('r1_rmeta_1', false, 1, linear(9));
      add('r1_rimage_1', false, 2, linear(10));
      add(
        'r1',
        true,
        2,
        'type = "raid1"\ndevice_count = 2\nregion_size = 1024\nraids = [ "r1_rmeta_0", "r1_rimage_0", "r1_rmeta_1", "r1_rimage_1" ]',
      );
      add('m1_mimage_0', false, 1, linear(12));
      add('m1_mimage_1', false, 1, linear(13));
      add(
        'm1',
        true,
        1,
        'type = "mirror"\nmirror_count = 2\nregion_size = 1024\nmirrors = [ "m1_mimage_0", 0, "m1_mimage_1", 0 ]',
      );
      add('pool_tmeta', false, 1, linear(14));
      add('pool_tdata', false, 2, linear(15));
      add('lvol0_pmspare', false, 1, linear(17));
      add(
        'pool',
        true,
        2,
        'type = "thin-pool"\nmetadata = "pool_tmeta"\npool = "pool_tdata"\ntransaction_id = 1\nchunk_size = 128\ndiscards = "passdown"\nzero_new_blocks = 1',
      );
      add('thin1', true, 3, 'type = "thin"\nthin_pool = "pool"\ntransaction_id = 0\ndevice_id = 1');
      add('zz', true, 2, 'type = "zero"');
      add('err', true, 1, 'type = "error"');
      const text = readFileSync(backup, 'utf8');
      const at = text.indexOf('{', text.indexOf('logical_volumes {')) + 1;
      writeFileSync(backup, text.slice(0, at) + extra + text.slice(at));
      lab.lvm('vgcfgrestore', '-q', '--force', '-f', backup, vg3);

      // VG 4: a small metadata area, rewritten until the current copy wraps around its circular buffer.
      lab.lvm('pvcreate', '-q', '--metadatasize', '32k', '--dataalignment', '64k', E);
      lab.lvm('vgcreate', '-q', '-s', '1m', vg4, E);
      for (let i = 0; i < 80; i++) {
        lvcreate('-L', '1M', '-n', `l${i}`, vg4);
        if (i % 3 !== 0) lab.lvm('lvremove', '-q', '-f', `${vg4}/l${i}`);
        pvckE = lab.lvm('pvck', '--dump', 'headers', E);
        const mdaSize = Number(/mda_header_1\.size (\d+)/.exec(pvckE)![1]);
        const off = Number(/mda_header_1\.raw_locn\[0\]\.offset (\d+)/.exec(pvckE)![1]);
        const len = Number(/mda_header_1\.raw_locn\[0\]\.size (\d+)/.exec(pvckE)![1]);
        if (off + len > mdaSize) break;
      }

      lvs = lab.report<LvsSeg>(
        'lvs',
        'seg',
        '--driverloaded',
        'n',
        '--segments',
        '-a',
        '-o',
        'vg_name,lv_name,lv_uuid,lv_size,segtype,seg_start_pe,seg_size_pe,seg_pe_ranges,stripes,stripe_size',
        vg1,
        vg2,
        vg3,
        vg4,
      );
      pvs = lab.report<PvsRow>('pvs', 'pv', '-o', 'pv_name,pv_uuid,pe_start,pv_pe_count,vg_name');
      vgs = lab.report<VgsRow>(
        'vgs',
        'vg',
        '-o',
        'vg_name,vg_uuid,vg_seqno,vg_extent_size',
        vg1,
        vg2,
        vg3,
        vg4,
      );
    } finally {
      lab.detachAll();
    }
    // Known bytes in the extents of VG 1's PVs, then an ext4 spread over the striped LV `sfs` and one in VG 2's
    // `data`.
    for (const row of pvs.filter((p) => p.vg_name === vg1)) {
      const { file } = lab.backing.get(row.pv_name)!;
      const length = Number(row.pv_pe_count) * extentOf(vg1);
      const fd = openSync(file, 'r+');
      writeSync(fd, pattern(length, file.length + length), 0, length, Number(row.pe_start));
      closeSync(fd);
    }
    const tree = join(tmp.dir, 'tree');
    buildTree(tree);
    for (const [vg, lv] of [
      [vg1, 'sfs'],
      [vg2, 'data'],
    ] as const) {
      const img = join(tmp.dir, `${lv}.ext4`);
      const size = Number(segsOf(vg, lv)[0]!.lv_size);
      run('mkfs.ext4', ['-q', '-F', '-b', '4096', '-d', tree, img, `${size / 1024}k`]);
      writePieces(layout(lab, segsOf(vg, lv), pvs, extentOf(vg)), readFileSync(img));
    }
  });

  after(() => {
    lab.detachAll();
    for (const d of devices) d.close();
    tmp?.cleanup();
  });

  it('finds every volume group, PV and LV that LVM reports, with the same geometry', () => {
    const d = pvDevices();
    const scan = readLvm([d.a, d.b, d.c, d.d, d.e]);
    const byFile = new Map<string, string>([
      [files.a, 'a'],
      [files.b, 'b'],
      [files.c, 'c'],
      [files.d, 'd'],
      [files.e, 'e'],
    ]);
    assert.deepEqual(scan.vgs.map((v) => v.name).sort(), [vg1, vg2, vg3, vg4].sort());
    for (const row of vgs) {
      const vg = scan.vgs.find((v) => v.name === row.vg_name)!;
      assert.equal(vg.uuid, row.vg_uuid);
      assert.equal(vg.seqno, Number(row.vg_seqno));
      assert.equal(vg.extentSize, Number(row.vg_extent_size));
      const rows = pvs.filter((p) => p.vg_name === row.vg_name);
      assert.deepEqual(vg.pvs.map((p) => p.uuid).sort(), rows.map((p) => p.pv_uuid).sort());
      for (const p of rows) {
        const pv = vg.pvs.find((x) => x.uuid === p.pv_uuid)!;
        assert.equal(pv.peStart, Number(p.pe_start), `pe_start of ${p.pv_name}`);
        assert.equal(pv.peCount, Number(p.pv_pe_count));
        assert.equal(pv.deviceHint, p.pv_name);
        // The device found for the PV is the file the loop device was over.
        assert.equal(pv.device?.info.files[0], lab.backing.get(p.pv_name)!.file);
      }
      const names = [...new Set(lvs.filter((s) => s.vg_name === row.vg_name).map((s) => s.lv_name))];
      assert.deepEqual(
        vg.lvs.map((l) => l.name).sort(),
        names.map((n) => n.replace(/^\[(.*)\]$/, '$1')).sort(),
      );
      for (const shown of names) {
        const name = shown.replace(/^\[(.*)\]$/, '$1');
        const lv = vg.lvs.find((l) => l.name === name)!;
        const segs = segsOf(row.vg_name, shown).sort(
          (x, y) => Number(x.seg_start_pe) - Number(y.seg_start_pe),
        );
        assert.equal(lv.uuid, segs[0]!.lv_uuid);
        assert.equal(lv.visible, shown === name, `visibility of ${name}`);
        assert.equal(lv.size, Number(segs[0]!.lv_size), `size of ${name}`);
        assert.equal(lv.segments.length, segs.length, `segments of ${name}`);
        lv.segments.forEach((seg, i) => {
          const want = segs[i]!;
          const type = seg.type === 'striped' && seg.stripes.length === 1 ? 'linear' : seg.type;
          assert.equal(type, want.segtype, `type of ${name}`);
          assert.equal(seg.startExtent, Number(want.seg_start_pe));
          assert.equal(seg.extentCount, Number(want.seg_size_pe));
          if (seg.type !== 'striped') return;
          assert.equal(seg.stripes.length, Number(want.stripes));
          if (seg.stripes.length > 1) assert.equal(seg.stripeSize, Number(want.stripe_size));
          const got = seg.stripes.map((s) => {
            const pv = vg.pvs.find((p) => p.name === s.pv)!;
            const len = seg.extentCount / seg.stripes.length;
            return `${byFile.get(pv.device!.info.files[0]!)}:${s.startExtent}-${s.startExtent + len - 1}`;
          });
          const expected = ranges(want.seg_pe_ranges).map(
            (r) => `${byFile.get(lab.backing.get(r.dev)!.file)}:${r.from}-${r.to}`,
          );
          assert.deepEqual(got, expected, `extents of ${name}`);
        });
      }
    }
    assert.ok(
      lvs.some((s) => s.lv_name === 'lin' && s.seg_start_pe === '2'),
      'lin has a second segment',
    );
    // Only the deliberately unsupported LVs of VG 3 are issues.
    assert.deepEqual(
      scan.issues.filter((i) => i.vg !== vg3),
      [],
    );
  });

  it('reads linear and striped LVs byte for byte, across segments and stripes', () => {
    const d = pvDevices();
    const scan = readLvm([d.b, d.a]);
    const vg = scan.vgs.find((v) => v.name === vg1)!;
    for (const name of ['lin', 'str', 'gap']) {
      const dev = vg.lvs.find((l) => l.name === name)!.open();
      assert.equal(dev.format, 'lvm-lv');
      assert.equal(dev.name, `${vg1}/${name}`);
      const want = readPieces(layout(lab, segsOf(vg1, name), pvs, extentOf(vg1)));
      assert.equal(dev.size, want.length);
      assert.ok(dev.read(0, dev.size).equals(want), `${name} whole`);
      const r = modPicker(xorshift32(name.length * 31));
      for (let i = 0; i < 60; i++) {
        const off = r(want.length);
        const len = Math.min(r(200_000), want.length - off);
        assert.ok(dev.read(off, len).equals(want.subarray(off, off + len)), `${name} at ${off}+${len}`);
      }
      expectError(() => dev.read(dev.size - 1, 2), 'E_IMAGE_CORRUPT');
    }
  });

  it('reads an ext4 on a striped LV and on an LV inside a GPT partition', () => {
    const d = pvDevices();
    const scan = readLvm([d.a, d.b, d.c]);
    const tree = join(tmp.dir, 'tree');
    for (const [vgName, lvName] of [
      [vg1, 'sfs'],
      [vg2, 'data'],
    ] as const) {
      const lv = scan.vgs.find((v) => v.name === vgName)!.lvs.find((l) => l.name === lvName)!;
      const vfs = new Vfs(openExt4(lv.open()));
      assert.equal(
        vfs.readFile('/etc/os-release').toString(),
        readFileSync(join(tree, 'etc/os-release'), 'utf8'),
      );
      assert.equal(sha(vfs.readFile('/var/lib/big')), sha(readFileSync(join(tree, 'var/lib/big'))));
      for (let i = 0; i < 50; i++) {
        assert.ok(vfs.readFile(`/var/lib/f${i}`).equals(readFileSync(join(tree, `var/lib/f${i}`))), `f${i}`);
      }
    }
  });

  it('reports snapshots, RAID, mirrors, thin and error segments as unsupported and refuses to open them', () => {
    const d = pvDevices();
    assert.equal(readPvLabel(d.d)!.sector, 3, 'pvcreate --labelsector 3');
    assert.equal(readPvLabel(d.a)!.sector, 1);
    const scan = readLvm([d.d]);
    const vg = scan.vgs.find((v) => v.name === vg3)!;
    const refused = new Map<string, string>();
    for (const lv of vg.lvs) {
      try {
        lv.open();
      } catch (e) {
        refused.set(lv.name, (e as Error).message);
        assert.equal((e as { code?: string }).code, 'E_UNSUPPORTED_FORMAT', lv.name);
      }
    }
    assert.deepEqual(
      [...refused.keys()].sort(),
      ['err', 'm1', 'pool', 'r1', 'snap', 'thin1'].sort(),
      'unsupported LVs',
    );
    assert.match(refused.get('thin1')!, /thin/);
    assert.match(refused.get('pool')!, /thin/);
    assert.match(refused.get('r1')!, /RAID/);
    assert.match(refused.get('m1')!, /mirror/);
    assert.match(refused.get('snap')!, /snapshot of orig/);
    assert.ok(
      !vg.lvs.some((l) => l.name === 'snapshot0'),
      'the internal snapshot LV is not listed, as lvs -a',
    );
    // Each refused LV is an issue too; nothing else is.
    assert.deepEqual(scan.issues.map((i) => i.lv).sort(), [...refused.keys()].sort());
    assert.ok(scan.issues.every((i) => i.code === 'E_UNSUPPORTED_FORMAT' && i.vg === vg3));
    // The origin reads (its extents hold its current data); the sub-volumes are plain linear LVs, hidden; a zero segment reads as zeros.
    assert.equal(vg.lvs.find((l) => l.name === 'orig')!.open().size, 4 * MiB);
    const img = vg.lvs.find((l) => l.name === 'r1_rimage_0')!;
    assert.equal(img.visible, false);
    assert.equal(img.open().size, 2 * MiB);
    const zz = vg.lvs.find((l) => l.name === 'zz')!.open();
    assert.ok(zz.read(12345, 100_000).equals(Buffer.alloc(100_000)));
  });

  it('reads metadata that wraps around the end of the circular buffer', () => {
    assert.match(pvckE, /raw_locn\[0\]/);
    const d = pvDevices();
    const label = readPvLabel(d.e)!;
    const copy = readMetadataArea(d.e, label.metadataAreas[0]!)!;
    assert.equal(copy.wrapped, true, 'the current copy wraps (pvck agrees)');
    const scan = readLvm([d.e]);
    assert.deepEqual(scan.issues, []);
    const vg = scan.vgs[0]!;
    assert.equal(vg.name, vg4);
    assert.equal(vg.seqno, Number(vgs.find((v) => v.vg_name === vg4)!.vg_seqno));
    const names = [...new Set(lvs.filter((s) => s.vg_name === vg4).map((s) => s.lv_name))].sort();
    assert.deepEqual(vg.lvs.map((l) => l.name).sort(), names);
  });

  it('without one PV: LVs wholly on the other still open, the rest are refused as missing', () => {
    const d = pvDevices();
    const scan: LvmScan = readLvm([d.a]);
    const vg: VolumeGroup = scan.vgs.find((v) => v.name === vg1)!;
    const bDev = pvs.find((p) => p.vg_name === vg1 && lab.backing.get(p.pv_name)?.file === files.b)!;
    assert.ok(scan.issues.some((i) => i.code === 'E_NOT_FOUND' && i.message.includes(bDev.pv_uuid)));
    for (const lv of vg.lvs) {
      const usesB = segsOf(vg1, lv.name).some((s) => s.seg_pe_ranges.includes(`${bDev.pv_name}:`));
      if (usesB) expectError(() => lv.open(), 'E_NOT_FOUND');
      else assert.equal(lv.open().size, lv.size, lv.name);
    }
    assert.ok(
      vg.lvs.some((l) => l.name === 'str' && l.unsupported !== undefined),
      'str needs both PVs',
    );
  });

  it('reports damaged labels and metadata areas, and uses another copy', () => {
    const d = pvDevices();
    const labelB = readPvLabel(d.b)!;
    assert.equal(labelB.metadataAreas.length, 2, 'B has two metadata areas');
    const labelA = readPvLabel(d.a)!;
    const flip = (dev: BlockDevice, offset: number): OverlayDevice => {
      const b = dev.read(offset, 1);
      b[0] = b[0]! ^ 0x01;
      return new OverlayDevice(dev, [{ offset, data: b }]);
    };
    // A label with a bad checksum: B is not a PV, so VG 1 misses it.
    let scan = readLvm([d.a, flip(d.b, labelB.sector * 512 + 100)]);
    assert.ok(scan.issues.some((i) => i.code === 'E_IMAGE_CORRUPT' && /label checksum/.test(i.message)));
    assert.ok(scan.issues.some((i) => i.code === 'E_NOT_FOUND'));
    // B's first metadata area damaged (header, then text): the other copies serve, the damage is reported.
    const mda1 = labelB.metadataAreas[0]!.offset;
    scan = readLvm([flip(d.b, mda1 + 40), d.a]);
    assert.ok(scan.issues.some((i) => /header checksum/.test(i.message)));
    assert.equal(scan.vgs.find((v) => v.name === vg1)!.lvs.length, 4);
    const copy = readMetadataArea(d.b, labelB.metadataAreas[0]!)!;
    scan = readLvm([flip(d.b, copy.textOffset + 10), d.a]);
    assert.ok(scan.issues.some((i) => /metadata checksum/.test(i.message)));
    assert.equal(scan.vgs.find((v) => v.name === vg1)!.lvs.length, 4);
    // Every copy damaged: no VG, one issue per copy.
    const copyA = readMetadataArea(d.a, labelA.metadataAreas[0]!)!;
    const copyB2 = readMetadataArea(d.b, labelB.metadataAreas[1]!)!;
    const b3 = new OverlayDevice(flip(d.b, copy.textOffset + 10), [
      { offset: copyB2.textOffset + 3, data: Buffer.from('#') },
    ]);
    scan = readLvm([flip(d.a, copyA.textOffset + 5), b3]);
    assert.equal(scan.vgs.length, 0);
    assert.equal(scan.issues.filter((i) => /metadata checksum/.test(i.message)).length, 3);
  });

  it('uses the newest metadata copy and reports older ones', () => {
    const d = pvDevices();
    // A as it was after the first lvcreate: same PV, older metadata.
    const old = new OverlayDevice(d.a, [{ offset: 0, data: staleA }], 'pv-a (old metadata)');
    const scan = readLvm([old, d.b]);
    const vg = scan.vgs.find((v) => v.name === vg1)!;
    assert.equal(vg.seqno, Number(vgs.find((v) => v.vg_name === vg1)!.vg_seqno));
    assert.equal(vg.lvs.length, 4);
    const older = scan.issues.filter((i) => /is older/.test(i.message));
    assert.equal(older.length, 1);
    assert.equal(older[0]!.device, 'pv-a (old metadata)');
    // Only the old copy: the VG as it was then.
    const alone = readLvm([old]).vgs[0]!;
    assert.deepEqual(
      alone.lvs.map((l) => l.name),
      ['lin'],
    );
  });

  it('ignores devices that are not PVs', () => {
    const zeros = join(tmp.dir, 'zeros.img');
    writeFileSync(zeros, Buffer.alloc(MiB));
    const scan = readLvm([open(zeros), open(files.c)]);
    assert.deepEqual(scan, { vgs: [], issues: [] });
  });
});
