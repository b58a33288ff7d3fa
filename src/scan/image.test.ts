import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { run, tempDir } from '../../test/helpers/tmp.js';
import { scanImage } from './image.js';

const NOW = new Date('2026-11-27T00:00:00Z');
/** `n` bytes that look random but are the same every run (SHA-256 in counter mode over `seed`). */
function seededBytes(seed: string, n: number): Buffer {
  const out = Buffer.alloc(n);
  for (let i = 0, off = 0; off < n; i++, off += 32) {
    createHash('sha256').update(`${seed}:${i}`).digest().copy(out, off);
  }
  return out;
}

const checks = (path: string): string[] => scanImage(path, { now: NOW }).findings.map((f) => f.checkId);

test('a file with nothing readable on it says so: no filesystem found, not an empty success', () => {
  const t = tempDir();
  try {
    const noise = join(t.dir, 'noise.img');
    writeFileSync(noise, seededBytes('hyperward-noise', 1 << 20));
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
  } finally {
    t.cleanup();
  }
});

test('a readable filesystem without an OS is "no OS found", not "no filesystem found"', () => {
  const t = tempDir();
  try {
    const tree = join(t.dir, 'tree');
    mkdirSync(join(tree, 'data'), { recursive: true });
    writeFileSync(join(tree, 'data', 'notes.txt'), 'just data\n');
    const img = join(t.dir, 'data.ext4');
    run('mkfs.ext4', ['-q', '-F', '-d', tree, img, '4M']);
    assert.deepEqual(checks(img), ['image.no-os-found']);
  } finally {
    t.cleanup();
  }
});
