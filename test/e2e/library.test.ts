/**
 * Image libraries end to end: `scan image DIR` and `scan image pool:NAME` through the built CLI, on a directory of
 * real images (hard links to the fixture images, so nothing large is copied), with the scan cache.
 */
import assert from 'node:assert/strict';
import {
  linkSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout } from 'node:timers/promises';
import { fixtureImage, fixturesDir, loadFixtureManifest } from '../fixtures/build.js';
import { hyperward } from '../helpers/cli.js';
import { run } from '../helpers/tmp.js';
import type { ScanReport } from '../../src/model/report.js';

const manifest = loadFixtureManifest();
const LINKED = ['gpt-v3.qcow2', 'gpt-dynamic.vhdx', 'gpt-2gsparse.vmdk', 'mbr.raw'];
let lib = '';
let cache = '';

before(async () => {
  // Under the fixtures' own directory: hard links need the same filesystem.
  const parent = join(realpathSync(fixturesDir()), '..', 'e2e-library');
  mkdirSync(parent, { recursive: true });
  lib = mkdtempSync(join(parent, 'lib-'));
  cache = join(lib, '..', `${lib.split('/').pop()}.cache.db`);
  for (const name of LINKED) {
    for (const f of fixtureImage(manifest, name).files) linkSync(f, join(lib, f.split('/').pop()!));
  }
  run('qemu-img', ['create', '-q', '-f', 'qcow2', join(lib, 'blank.qcow2'), '64M']);
  writeFileSync(join(lib, 'notes.txt'), 'templates of the web tier\n');
  // Files changed in the last two seconds are not cached (a later write within the same timestamp tick would go
  // unseen): let the links' and the new image's times age past that.
  await setTimeout(2100);
});

after(() => {
  rmSync(lib, { recursive: true, force: true });
  rmSync(cache, { force: true });
  rmSync(`${cache}-wal`, { force: true });
  rmSync(`${cache}-shm`, { force: true });
});

function scan(extra: string[]): { report: ScanReport; bytesRead: number; stderr: string; code: number } {
  const r = hyperward(['scan', 'image', '--format', 'json', '--stats', '--cache', cache, ...extra]);
  const stats = r.stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { bytesRead: number })
    .pop();
  assert.ok(stats, `--stats printed: ${r.stderr}`);
  return {
    report: JSON.parse(r.stdout.toString('utf8')) as ScanReport,
    bytesRead: stats.bytesRead,
    stderr: r.stderr,
    code: r.code,
  };
}

const oracleCount = (name: string): number =>
  readFileSync(fixtureImage(manifest, name).packagesFile, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '').length;

test('a directory is scanned as one job; a warm rescan reads almost nothing; a changed image alone is read again', () => {
  const cold = scan(['-j', '2', lib]);
  assert.equal(cold.code, 0, cold.stderr);
  const byName = new Map(cold.report.results.map((r) => [r.target.split('/').pop()!, r]));
  assert.deepEqual([...byName.keys()].sort(), ['blank.qcow2', ...LINKED].sort());
  for (const name of LINKED) assert.equal(byName.get(name)!.packages.length, oracleCount(name), name);
  const l = cold.report.library!;
  assert.equal(l.images, 5);
  assert.equal(l.cached, 0);
  const skipped = new Map(l.skipped.map((s) => [s.path.split('/').pop()!, s.reason]));
  assert.equal(skipped.get('notes.txt'), 'not a disk image');
  assert.equal(skipped.get('gpt-2gsparse-s001.vmdk'), `part of ${join(lib, 'gpt-2gsparse.vmdk')}`);
  assert.match(cold.stderr, /5 images \(0 unchanged, from the cache\), 0 unreadable, 2 other files skipped/);

  const warm = scan(['-j', '2', lib]);
  assert.equal(warm.report.library!.cached, 5);
  assert.equal(warm.report.library!.inspected, 0);
  assert.deepEqual(warm.report.results, cold.report.results);
  // A warm rescan reads only what opening each image reads (headers, L1 tables, allocation tables).
  const libraryBytes = readdirSync(lib).reduce((n, f) => n + statSync(join(lib, f)).size, 0);
  assert.ok(
    warm.bytesRead * 10 < cold.bytesRead && warm.bytesRead * 1000 < libraryBytes,
    `warm rescan read ${warm.bytesRead} bytes, the cold scan ${cold.bytesRead}, of ${libraryBytes}`,
  );

  run('qemu-io', ['-c', 'write -P 0x42 1M 64k', join(lib, 'blank.qcow2')]);
  const changed = scan([lib]);
  assert.equal(changed.report.library!.cached, 4);
  assert.equal(changed.report.library!.inspected, 1);

  const uncached = scan(['--no-cache', lib]);
  assert.equal(uncached.report.library!.cached, 0);
});

test('a libvirt storage pool is scanned volume by volume (real virsh, test driver)', () => {
  const nodeXml = join(lib, '..', `${lib.split('/').pop()}.node.xml`);
  const vol = (name: string, format: string): string =>
    `<volume type='file'><name>${name}</name><capacity unit='MiB'>1</capacity>` +
    `<target><path>${join(lib, name)}</path><format type='${format}'/></target></volume>`;
  writeFileSync(
    nodeXml,
    `<node><pool type='dir'><name>templates</name><uuid>9f1c0b7e-3c55-4f44-9d0e-0a1b2c3d4e5f</uuid>` +
      `<target><path>${lib}</path></target>${vol('gpt-v3.qcow2', 'qcow2')}${vol('mbr.raw', 'raw')}</pool></node>`,
  );
  try {
    const r = scan(['--connect', `test://${nodeXml}`, 'pool:templates']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      r.report.results.map((x) => [x.target, x.packages.length]),
      [
        [join(lib, 'gpt-v3.qcow2'), oracleCount('gpt-v3.qcow2')],
        [join(lib, 'mbr.raw'), oracleCount('mbr.raw')],
      ],
    );
    const missing = scan(['--connect', `test://${nodeXml}`, 'pool:nosuch']);
    assert.equal(missing.code, 2);
    assert.match(missing.report.results[0]!.error!.message, /nosuch/);
  } finally {
    rmSync(nodeXml, { force: true });
  }
});
