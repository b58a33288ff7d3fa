/**
 * End to end: the sample Debian tree (fixtures/sample/root: os-release, fstab, a real dpkg status of 88 packages)
 * on the other filesystems Hyperward reads, each made by its own mkfs and filled through a kernel loop mount, then
 * converted to qcow2 — `scan image` must find the same OS and packages as on ext4.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parseDpkgStatus } from '../../src/inspect/dpkg.js';
import type { ScanReport } from '../../src/model/report.js';
import { hyperward } from '../helpers/cli.js';
import { run, tempDir } from '../helpers/tmp.js';

const SAMPLE = new URL('../../fixtures/sample/root/', import.meta.url).pathname;
const expected = parseDpkgStatus(
  readFileSync(join(SAMPLE, 'var/lib/dpkg/status'), 'utf8'),
  '/var/lib/dpkg/status',
)
  .map((p) => `${p.name} ${p.version}`)
  .sort();

let dir = '';
let cleanup = () => {};
before(() => ({ dir, cleanup } = tempDir('hyperward-fs-')));
after(() => cleanup());

interface Case {
  name: string;
  type: string;
  size: string;
  mkfs: string[];
  mountOptions?: string;
  /** A btrfs subvolume to create and put the tree in. */
  subvolume?: string;
}

/** mkfs on a sparse file, the sample tree copied in through a loop mount, then a qcow2 of it. */
function build(c: Case): string {
  const raw = join(dir, `${c.name}.raw`);
  const mnt = join(dir, `${c.name}.mnt`);
  run('truncate', ['-s', c.size, raw]);
  run(c.mkfs[0]!, [...c.mkfs.slice(1), raw]);
  mkdirSync(mnt);
  run('mount', ['-o', `loop${c.mountOptions ? `,${c.mountOptions}` : ''}`, raw, mnt]);
  try {
    let into = mnt;
    if (c.subvolume) {
      run('btrfs', ['subvolume', 'create', join(mnt, c.subvolume)]);
      into = join(mnt, c.subvolume);
    }
    run('cp', ['-a', `${SAMPLE}.`, into]);
  } finally {
    run('umount', [mnt]);
  }
  const qcow = join(dir, `${c.name}.qcow2`);
  run('qemu-img', ['convert', '-O', 'qcow2', raw, qcow]);
  return qcow;
}

const CASES: Case[] = [
  { name: 'xfs', type: 'xfs', size: '320M', mkfs: ['mkfs.xfs', '-q'] },
  { name: 'btrfs', type: 'btrfs', size: '256M', mkfs: ['mkfs.btrfs', '-q'] },
  // Ubuntu's layout: the OS in subvolume `@`, the default subvolume left at the top level; zstd-compressed.
  {
    name: 'btrfs-subvolume',
    type: 'btrfs',
    size: '256M',
    mkfs: ['mkfs.btrfs', '-q'],
    mountOptions: 'compress-force=zstd',
    subvolume: '@',
  },
];

for (const c of CASES) {
  test(`scan image reads the OS and packages from ${c.name}`, () => {
    const img = build(c);
    const r = hyperward(['scan', 'image', '--format', 'json', '--quiet', '--no-vulns', img]);
    assert.equal(r.code, 0, r.stderr);
    const res = (JSON.parse(r.stdout.toString()) as ScanReport).results[0]!;
    assert.equal(res.image?.filesystems[0]?.type, c.type);
    if (c.subvolume) assert.equal(res.image?.filesystems[0]?.subvolume, `/${c.subvolume}`);
    assert.equal(res.os?.id, 'debian');
    assert.deepEqual(res.packages.map((p) => `${p.name} ${p.version}`).sort(), expected);
  });
}

/** LVM commands that see only `dev` and keep no backups on the host (no device-mapper here: nothing activates). */
function lvm(dev: string, cmd: string, ...args: string[]): string {
  const config = `devices { global_filter = [ "a|^${dev}$|", "r|.*|" ] hints = "none" } backup { backup = 0 archive = 0 }`;
  return run(cmd, ['--config', config, ...args], {
    env: { ...process.env, LVM_SUPPRESS_FD_WARNINGS: '1' },
  });
}

test('a RHEL-like disk: /boot on ext4, the root on XFS in an LVM2 logical volume named by /dev/mapper', () => {
  const MiB = 1024 * 1024;
  const disk = join(dir, 'rhel.raw');
  run('truncate', ['-s', '700M', disk]);
  run('sgdisk', ['-n', '1:2048:+64M', '-t', '1:8300', '-n', '2:0:0', '-t', '2:8e00', disk]);
  const parts = JSON.parse(run('sfdisk', ['--json', disk])) as {
    partitiontable: { partitions: Array<{ start: number; size: number }> };
  };
  const [p1, p2] = parts.partitiontable.partitions as [
    { start: number; size: number },
    { start: number; size: number },
  ];
  const loop = run('losetup', [
    '--find',
    '--show',
    '-o',
    String(p2.start * 512),
    '--sizelimit',
    String(p2.size * 512),
    disk,
  ]).trim();
  let rootOffset: number;
  try {
    lvm(loop, 'pvcreate', '-q', loop);
    lvm(loop, 'vgcreate', '-q', 'rhel', loop);
    lvm(loop, 'lvcreate', '-q', '--driverloaded', 'n', '-an', '-Zn', '-L', '32M', '-n', 'swap', 'rhel');
    lvm(loop, 'lvcreate', '-q', '--driverloaded', 'n', '-an', '-Zn', '-L', '400M', '-n', 'root', 'rhel');
    const report = (cmd: string, key: string, fields: string, ...more: string[]) =>
      (
        JSON.parse(
          lvm(loop, cmd, '--reportformat', 'json', '--units', 'b', '--nosuffix', '-o', fields, ...more),
        ) as { report: Array<Record<string, Array<Record<string, string>>>> }
      ).report.flatMap((r) => r[key] ?? []);
    const peStart = Number(report('pvs', 'pv', 'pe_start')[0]!.pe_start);
    const extent = Number(report('vgs', 'vg', 'vg_extent_size')[0]!.vg_extent_size);
    const seg = report('lvs', 'lv', 'lv_name,seg_pe_ranges', '--driverloaded', 'n').find(
      (r) => r.lv_name === 'root',
    )!;
    const first = Number(/:(\d+)-/.exec(seg.seg_pe_ranges!)![1]);
    rootOffset = p2.start * 512 + peStart + first * extent;
  } finally {
    run('losetup', ['-d', loop]);
  }
  // The root filesystem: XFS with the sample tree and a RHEL-style fstab, written into the LV's extents.
  const boot = join(dir, 'boot.raw');
  run('truncate', ['-s', String(p1.size * 512), boot]);
  run('mkfs.ext4', ['-q', '-F', boot]);
  const bootUuid = run('blkid', ['-s', 'UUID', '-o', 'value', boot]).trim();
  const root = join(dir, 'lvroot.raw');
  run('truncate', ['-s', '400M', root]);
  run('mkfs.xfs', ['-q', root]);
  const mnt = join(dir, 'lvroot.mnt');
  mkdirSync(mnt);
  run('mount', ['-o', 'loop', root, mnt]);
  try {
    run('cp', ['-a', `${SAMPLE}.`, mnt]);
    writeFileSync(
      join(mnt, 'etc', 'fstab'),
      `/dev/mapper/rhel-root / xfs defaults 0 0\nUUID=${bootUuid} /boot ext4 defaults 1 2\n/dev/mapper/rhel-swap none swap defaults 0 0\n`,
    );
  } finally {
    run('umount', [mnt]);
  }
  const dd = (from: string, at: number) =>
    run('dd', [
      `if=${from}`,
      `of=${disk}`,
      'bs=1M',
      `seek=${at / MiB}`,
      'conv=notrunc,sparse',
      'status=none',
    ]);
  assert.equal(rootOffset % MiB, 0);
  dd(root, rootOffset);
  dd(boot, p1.start * 512);
  const img = join(dir, 'rhel.qcow2');
  run('qemu-img', ['convert', '-O', 'qcow2', disk, img]);

  const r = hyperward(['scan', 'image', '--format', 'json', '--quiet', '--no-vulns', img]);
  assert.equal(r.code, 0, r.stderr);
  const res = (JSON.parse(r.stdout.toString()) as ScanReport).results[0]!;
  const fss = res.image!.filesystems;
  const lvRoot = fss.find((f) => f.volume === 'rhel/root')!;
  assert.equal(lvRoot.type, 'xfs');
  assert.equal(lvRoot.root, true);
  assert.equal(lvRoot.mountpoint, '/');
  // The swap LV holds nothing (lvcreate -Zn, no mkswap): listed, of unknown content.
  assert.equal(fss.find((f) => f.volume === 'rhel/swap')?.type, 'unknown');
  assert.equal(fss.find((f) => f.partition === 1)?.mountpoint, '/boot');
  assert.equal(res.os?.id, 'debian');
  assert.deepEqual(res.packages.map((p) => `${p.name} ${p.version}`).sort(), expected);
  assert.deepEqual(
    res.findings.filter((f) => f.checkId === 'image.filesystem-unreadable'),
    [],
  );
});
