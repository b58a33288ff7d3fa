import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, openSync, statSync, utimesSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { isHyperwardError } from '../errors.js';
import { run, tempDir } from '../../test/helpers/tmp.js';
import { imageFingerprint, ScanCache } from './scan-cache.js';

test('the fingerprint is stable for an unchanged file and changes with any write, even one that keeps size and mtime', () => {
  const t = tempDir();
  try {
    const img = join(t.dir, 'a.qcow2');
    run('qemu-img', ['create', '-q', '-f', 'qcow2', img, '64M']);
    const first = imageFingerprint([img], 'm', { partition: 1 });
    assert.equal(imageFingerprint([img], 'm', { partition: 1 }), first, 'same image, same options');
    assert.notEqual(imageFingerprint([img], 'm', { partition: 2 }), first, 'options are part of the key');
    assert.notEqual(
      imageFingerprint([img], 'n', { partition: 1 }),
      first,
      'the metadata digest is part of it',
    );
    // Overwrite one byte in the middle of the file and put mtime back.
    const before = statSync(img);
    const fd = openSync(img, 'r+');
    writeSync(fd, Buffer.from([0x5a]), 0, 1, Math.floor(before.size / 2));
    closeSync(fd);
    utimesSync(img, before.atime, before.mtime);
    assert.equal(statSync(img).size, before.size);
    assert.notEqual(imageFingerprint([img], 'm', { partition: 1 }), first, 'ctime gives the write away');
  } finally {
    t.cleanup();
  }
});

test('the fingerprint covers every file of a backing chain, and a copy is another image', () => {
  const t = tempDir();
  try {
    const base = join(t.dir, 'base.qcow2');
    const top = join(t.dir, 'top.qcow2');
    run('qemu-img', ['create', '-q', '-f', 'qcow2', base, '64M']);
    run('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', 'base.qcow2', '-F', 'qcow2', top]);
    const key = imageFingerprint([top, base], 'm', {});
    run('qemu-io', ['-c', 'write -P 0x11 0 4k', base]);
    assert.notEqual(
      imageFingerprint([top, base], 'm', {}),
      key,
      'a write to the backing file changes the key',
    );
    const copy = join(t.dir, 'copy.qcow2');
    copyFileSync(top, copy);
    assert.notEqual(imageFingerprint([copy, base], 'm', {}), imageFingerprint([top, base], 'm', {}));
  } finally {
    t.cleanup();
  }
});

test('entries round-trip with their dates, survive reopening, and the least recently used go beyond the budget', () => {
  const t = tempDir();
  try {
    const path = join(t.dir, 'cache.db');
    let clock = 1000;
    const c = ScanCache.open(path, { budgetBytes: 4000, now: () => clock });
    const value = { result: { target: 'x', when: new Date('2026-01-02T03:04:05Z') }, n: [1, 2, 3] };
    c.put('k1', 'x', value);
    assert.deepEqual(c.get('k1'), value);
    assert.equal(c.get('nope'), undefined);
    c.close();
    const again = ScanCache.open(path, { budgetBytes: 4000, now: () => clock });
    const back = again.get('k1') as typeof value;
    assert.ok(back.result.when instanceof Date);
    assert.equal(back.result.when.toISOString(), '2026-01-02T03:04:05.000Z');
    // Incompressible entries of ~1.5 KB each: only two fit in 4000 bytes; the least recently used go.
    const blob = (): string => randomBytes(1500).toString('hex');
    for (const k of ['a', 'b', 'c']) {
      clock += 10;
      again.put(k, k, blob());
      if (k === 'b') {
        clock += 1;
        again.get('a'); // a is used after b was stored: b is now the least recently used
      }
    }
    assert.equal(again.get('b'), undefined, 'b was dropped');
    assert.notEqual(again.get('c'), undefined);
    assert.ok(again.info().bytes <= 4000);
    // A damaged entry is a miss, and says why.
    const raw = new Database(path);
    raw.prepare("UPDATE entries SET body = x'00ff00ff' WHERE key = 'c'").run();
    raw.close();
    assert.equal(again.get('c'), undefined);
    assert.equal(again.problems.length, 1);
    assert.match(again.problems[0]!, /cache\.db/);
    again.clear();
    assert.equal(again.info().entries, 0);
    again.close();
  } finally {
    t.cleanup();
  }
});

test('a SQLite file that is not a scan cache is refused with a clear error naming it', () => {
  const t = tempDir();
  try {
    const path = join(t.dir, 'other.db');
    const db = new Database(path);
    db.exec('CREATE TABLE t (x)');
    db.close();
    assert.throws(
      () => ScanCache.open(path),
      (e: unknown) => isHyperwardError(e) && e.code === 'E_IO' && e.message.includes(path),
    );
    const junk = join(t.dir, 'junk.db');
    writeFileSync(junk, Buffer.alloc(8192, 0x41));
    assert.throws(
      () => ScanCache.open(junk),
      (e: unknown) => isHyperwardError(e) && e.message.includes(junk),
    );
  } finally {
    t.cleanup();
  }
});

test('a process killed while writing leaves the cache readable with every entry it committed', async () => {
  const t = tempDir();
  try {
    const path = join(t.dir, 'cache.db');
    ScanCache.open(path).close();
    const script = `
      import { ScanCache } from ${JSON.stringify(new URL('./scan-cache.ts', import.meta.url).href)};
      const c = ScanCache.open(${JSON.stringify(path)});
      for (let i = 0; ; i++) { c.put('k' + i, 't', { i, pad: 'x'.repeat(20000 + (i % 7) * 1000) }); if (i === 20) process.stdout.write('go\\n'); }
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', () => resolve());
      child.on('exit', (code) => reject(new Error(`writer exited early (${code})`)));
    });
    child.kill('SIGKILL');
    await new Promise((r) => child.on('exit', r));
    const c = ScanCache.open(path);
    const { entries } = c.info();
    assert.ok(entries >= 21, `entries committed before the kill are there (${entries})`);
    for (let i = 0; i < entries; i++) {
      const v = c.get(`k${i}`) as { i: number } | undefined;
      assert.equal(v?.i, i, `entry k${i} reads back`);
    }
    c.close();
  } finally {
    t.cleanup();
  }
});
