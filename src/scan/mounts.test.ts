import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { run, tempDir } from '../../test/helpers/tmp.js';
import { readClamAv } from '../inspect/clamav.js';
import { newReadStats } from '../source/file.js';
import { mountImage } from './image.js';

test('an image root reads a ClamAV header without reading the database, and gives modification times', () => {
  const t = tempDir();
  try {
    const root = join(t.dir, 'root');
    mkdirSync(join(root, 'etc'), { recursive: true });
    mkdirSync(join(root, 'var', 'lib', 'clamav'), { recursive: true });
    writeFileSync(join(root, 'etc', 'os-release'), 'ID=debian\nVERSION_ID="12"\n');
    // A real daily.cvd header (fixtures/clamav/README.md) followed by 24 MiB standing in for the signatures.
    const head = readFileSync(new URL('../../fixtures/clamav/daily-23182.cvd-head', import.meta.url));
    const db = join(root, 'var', 'lib', 'clamav', 'daily.cvd');
    writeFileSync(db, Buffer.concat([head.subarray(0, 512), randomBytes(24 * 1024 * 1024)]));
    utimesSync(join(root, 'etc', 'os-release'), 1_700_000_000, 1_700_000_000);
    const img = join(t.dir, 'disk.raw');
    run('mkfs.ext4', ['-q', '-F', '-d', root, img, '64M']);

    const stats = newReadStats();
    const m = mountImage(img, { stats });
    try {
      const before = stats.bytesRead;
      const clam = readClamAv(m.root!);
      assert.deepEqual(
        clam.databases.map((d) => [d.name, d.version]),
        [['daily', 23182]],
      );
      const read = stats.bytesRead - before;
      assert.ok(read < 1024 * 1024, `the header is read, not the 24 MiB database (${read} bytes read)`);
      assert.equal(m.root!.mtime('/etc/os-release'), 1_700_000_000);
      assert.equal(m.root!.mtime('/nonexistent'), undefined);
      assert.equal(m.root!.readPrefix('/etc', 10), undefined, 'a directory has no prefix');
    } finally {
      m.close();
    }
  } finally {
    t.cleanup();
  }
});
