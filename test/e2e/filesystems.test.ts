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

/** mkfs on a sparse file, the sample tree copied in through a loop mount, then a qcow2 of it. */
function build(name: string, size: string, mkfs: string[]): string {
  const raw = join(dir, `${name}.raw`);
  const mnt = join(dir, `${name}.mnt`);
  run('truncate', ['-s', size, raw]);
  run(mkfs[0]!, [...mkfs.slice(1), raw]);
  mkdirSync(mnt);
  run('mount', ['-o', 'loop', raw, mnt]);
  try {
    run('cp', ['-a', `${SAMPLE}.`, mnt]);
  } finally {
    run('umount', [mnt]);
  }
  const qcow = join(dir, `${name}.qcow2`);
  run('qemu-img', ['convert', '-O', 'qcow2', raw, qcow]);
  return qcow;
}

for (const [name, size, mkfs] of [['xfs', '320M', ['mkfs.xfs', '-q']]] as const) {
  test(`scan image reads the OS and packages from ${name}`, () => {
    const img = build(name, size, [...mkfs]);
    const r = hyperward(['scan', 'image', '--format', 'json', '--quiet', '--no-vulns', img]);
    assert.equal(r.code, 0, r.stderr);
    const res = (JSON.parse(r.stdout.toString()) as ScanReport).results[0]!;
    assert.equal(res.image?.filesystems[0]?.type, name);
    assert.equal(res.os?.id, 'debian');
    assert.deepEqual(res.packages.map((p) => `${p.name} ${p.version}`).sort(), expected);
  });
}
