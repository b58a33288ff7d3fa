/**
 * End to end: the sample Debian tree (fixtures/sample/root: os-release, fstab, a real dpkg status of 88 packages)
 * on the other filesystems Hyperward reads, each made by its own mkfs and filled through a kernel loop mount, then
 * converted to qcow2 — `scan image` must find the same OS and packages as on ext4.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
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
