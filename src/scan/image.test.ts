import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { pattern } from '../../test/helpers/pattern.js';
import { run, tempDir } from '../../test/helpers/tmp.js';
import { scanImage } from './image.js';

const NOW = new Date('2026-11-27T00:00:00Z');
const t = tempDir();
after(() => t.cleanup());

test('a file with nothing readable on it says so: no filesystem found, not an empty success', () => {
  // Incompressible bytes, the same every run.
  const noise = join(t.dir, 'noise.img');
  writeFileSync(noise, pattern(1 << 20, 0x5eed));
  const r = scanImage(noise, { now: NOW });
  assert.equal(r.error, undefined, 'not an error: the image opened');
  const f = r.findings.find((x) => x.checkId === 'image.no-filesystem-found');
  assert.ok(f, `a no-filesystem finding: ${JSON.stringify(r.findings.map((x) => x.checkId))}`);
  assert.equal(f.status, 'unknown');
  assert.match(f.message, /^raw image with no partition table/);

  // A GPT disk whose only partition was never formatted: the table is named, the partition counted.
  const gpt = join(t.dir, 'gpt.raw');
  writeFileSync(gpt, Buffer.alloc(0));
  run('truncate', ['-s', '8M', gpt]);
  run('sgdisk', ['-o', '-n', '1:2048:0', '-t', '1:8300', gpt]);
  const g = scanImage(gpt, { now: NOW }).findings.find((x) => x.checkId === 'image.no-filesystem-found');
  assert.match(g?.message ?? '', /^raw image with a GPT partition table \(1 partition\)/);
});

test('a readable filesystem without an OS is "no OS found", not "no filesystem found"', () => {
  const tree = join(t.dir, 'tree');
  mkdirSync(join(tree, 'data'), { recursive: true });
  writeFileSync(join(tree, 'data', 'notes.txt'), 'just data\n');
  const img = join(t.dir, 'data.ext4');
  run('mkfs.ext4', ['-q', '-F', '-d', tree, img, '4M']);
  const checks = scanImage(img, { now: NOW }).findings.map((f) => f.checkId);
  assert.deepEqual(checks, ['image.no-os-found']);
});
