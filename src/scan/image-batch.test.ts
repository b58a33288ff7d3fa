import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fixtureImage, loadFixtureManifest } from '../../test/fixtures/build.js';
import { writeQcow2WithL1PastEnd } from '../../test/helpers/images.js';
import { run, tempDir } from '../../test/helpers/tmp.js';
import type { ScanResult } from '../model/report.js';
import { newReadStats } from '../source/file.js';
import { scanImage } from './image.js';
import { scanImageBatch } from './image-batch.js';
import { ScanCache } from './scan-cache.js';

const manifest = loadFixtureManifest();
const NOW = new Date('2026-11-26T00:00:00Z');
const images = ['gpt-v3.qcow2', 'gpt-dynamic.vhdx', 'mbr.raw'].map((n) => fixtureImage(manifest, n).path);
const oracleCount = readFileSync(fixtureImage(manifest, 'mbr.raw').packagesFile, 'utf8')
  .split('\n')
  .filter((l) => l.trim() !== '').length;

const stalenessOf = (r: ScanResult): string | undefined =>
  r.findings.find((f) => f.checkId === 'image.packages-stale')?.status;

test('worker threads and this thread find the same; a corrupt image fails alone', async () => {
  const t = tempDir();
  try {
    const bad = join(t.dir, 'bad.qcow2');
    writeQcow2WithL1PastEnd(bad);
    const paths = [images[0]!, bad, images[1]!, images[2]!];
    const expected = paths.map((p) => scanImage(p, { now: NOW }));
    const stats = newReadStats();
    const batch = await scanImageBatch(paths, { concurrency: 2, now: NOW, stats });
    assert.deepEqual(batch.results, expected);
    assert.equal(batch.inspected, 4);
    assert.ok(batch.results[1]!.error, 'the corrupt image has an error');
    assert.ok(batch.results[3]!.packages.length > 50, 'and the images after it are scanned');
    assert.ok(stats.bytesRead > 0, "the workers' reads are counted");
  } finally {
    t.cleanup();
  }
});

test('a warm cache answers unchanged images, and staleness is judged again on every run', async () => {
  const t = tempDir();
  const cache = ScanCache.open(join(t.dir, 'cache.db'));
  // Long after the fixtures were built, so their last package install is stale by the default threshold.
  const NOW = new Date(Date.now() + 400 * 86_400_000);
  try {
    const cold = await scanImageBatch(images, { concurrency: 1, now: NOW, cache });
    assert.equal(cold.cached, 0);
    const stats = newReadStats();
    const warm = await scanImageBatch(images, { concurrency: 2, now: NOW, cache, stats });
    assert.equal(warm.cached, images.length);
    assert.equal(warm.inspected, 0);
    assert.deepEqual(warm.results, cold.results);
    assert.ok(stats.bytesRead < 1024 * 1024, `a warm rescan reads headers only (${stats.bytesRead} bytes)`);
    // Other options are another key: --verify-files is inspected afresh.
    const verified = await scanImageBatch([images[0]!], { now: NOW, cache, mount: { verifyFiles: true } });
    assert.equal(verified.cached, 0);
    // The thresholds and the clock apply to cached results too.
    const strict = await scanImageBatch(images, {
      now: NOW,
      cache,
      staleness: { maxPackageAgeDays: 100_000 },
    });
    assert.equal(strict.cached, images.length);
    assert.deepEqual(cold.results.map(stalenessOf), ['fail', 'fail', 'fail']);
    assert.deepEqual(strict.results.map(stalenessOf), ['pass', 'pass', 'pass']);
  } finally {
    cache.close();
    t.cleanup();
  }
});

test('block devices and files written in the last seconds are scanned but never cached', async () => {
  const t = tempDir();
  const cache = ScanCache.open(join(t.dir, 'cache.db'));
  // A read-only loop device over a fixture image: sysfs gives its size, and its inode times say nothing of writes.
  const loop = run('losetup', ['--find', '--show', '--read-only', images[2]!]).trim();
  try {
    const fresh = join(t.dir, 'fresh.qcow2');
    run('qemu-img', ['create', '-q', '-f', 'qcow2', fresh, '16M']);
    for (let i = 0; i < 2; i++) {
      const b = await scanImageBatch([loop, fresh], { now: NOW, cache });
      assert.equal(b.cached, 0, `run ${i + 1}: nothing from the cache`);
      assert.equal(b.results[0]!.packages.length, oracleCount, 'the loop device is read whole');
      assert.equal(b.results[0]!.image?.virtualSize, statSync(images[2]!).size);
    }
    assert.equal(cache.info().entries, 0);
  } finally {
    run('losetup', ['-d', loop]);
    cache.close();
    t.cleanup();
  }
});

test('an image that takes longer than the time limit fails alone; its worker is replaced', async () => {
  // Workers need far longer than 5 ms to start: both images time out, and the batch still ends.
  const b = await scanImageBatch([images[0]!, images[1]!, images[2]!], {
    concurrency: 2,
    now: NOW,
    imageTimeoutMs: 5,
  });
  assert.deepEqual(
    b.results.map((r) => r.error?.message.replace(/^.*: /, '')),
    ['timed out after 0.005 s', 'timed out after 0.005 s', 'timed out after 0.005 s'],
  );
  const ok = await scanImageBatch([images[0]!, images[1]!], {
    concurrency: 2,
    now: NOW,
    imageTimeoutMs: 600_000,
  });
  assert.ok(ok.results.every((r) => r.error === undefined && r.packages.length > 0));
});
