import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseFstab, specMatches } from './fstab.js';

test('fstab: comments, escapes, and spec kinds', () => {
  const e = parseFstab(
    '# <file system> <mount point> <type> <options> <dump> <pass>\nUUID=AB-12 / ext4 errors=remount-ro 0 1\n/dev/sda2 /my\\040data xfs defaults 0 2\n\nLABEL=swap none swap sw 0 0\n',
  );
  assert.equal(e.length, 3);
  assert.equal(e[1]!.mountpoint, '/my data');
  assert.ok(specMatches(e[0]!.spec, { uuid: 'ab-12' }));
  assert.ok(!specMatches(e[0]!.spec, { uuid: 'ab-13' }));
  assert.ok(specMatches('/dev/disk/by-partuuid/1234', { partUuid: '1234' }));
  assert.ok(specMatches('LABEL="root fs"', { label: 'root fs' }));
  assert.ok(!specMatches('/dev/sda1', { uuid: 'x' }));
});
