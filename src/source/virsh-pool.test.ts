import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { isHyperwardError } from '../errors.js';
import { run, tempDir } from '../../test/helpers/tmp.js';
import { readPool, remoteHost, volumePaths } from './virsh-pool.js';

/** A libvirt test-driver node with one directory pool holding real image files. */
function node(dir: string): string {
  run('qemu-img', ['create', '-q', '-f', 'qcow2', join(dir, 'web 01.qcow2'), '16M']);
  run('qemu-img', ['create', '-q', '-f', 'raw', join(dir, 'db.raw'), '16M']);
  const xml = `<node>
  <pool type='dir'>
    <name>images</name>
    <uuid>35bb2ad9-388a-cdfe-461a-b8907f6e53fe</uuid>
    <target><path>${dir}</path></target>
    <volume type='file'><name>web 01.qcow2</name><capacity unit='MiB'>16</capacity>
      <target><path>${dir}/web 01.qcow2</path><format type='qcow2'/></target></volume>
    <volume type='file'><name>db.raw</name><capacity unit='MiB'>16</capacity></volume>
  </pool>
</node>`;
  const file = join(dir, 'node.xml');
  writeFileSync(file, xml);
  return `test://${file}`;
}

test('reads the volumes of a storage pool through the real virsh (test driver), names with spaces included', async () => {
  const t = tempDir();
  try {
    const uri = node(t.dir);
    const pool = await readPool({ uri, pool: 'images' });
    assert.equal(pool.type, 'dir');
    assert.equal(pool.target, t.dir);
    assert.deepEqual(pool.volumes.map((v) => [v.name, v.path, v.type, v.format ?? '']).sort(), [
      ['db.raw', join(t.dir, 'db.raw'), 'file', 'raw'],
      ['web 01.qcow2', join(t.dir, 'web 01.qcow2'), 'file', 'qcow2'],
    ]);
    assert.deepEqual(pool.unreadable, []);
    await assert.rejects(
      readPool({ uri, pool: 'nosuch' }),
      (e: unknown) => isHyperwardError(e) && /nosuch/.test(e.message),
    );
    await assert.rejects(
      readPool({ uri, pool: '--help' }),
      (e: unknown) => isHyperwardError(e) && e.code === 'E_USAGE',
    );
  } finally {
    t.cleanup();
  }
});

test('a remote connection is refused: its volume paths are not files of this machine', async () => {
  assert.equal(remoteHost('qemu:///system'), undefined);
  assert.equal(remoteHost('test:///tmp/node.xml'), undefined);
  assert.equal(remoteHost('qemu+ssh://root@kvm01:2222/system'), 'kvm01');
  assert.equal(remoteHost('qemu+tls://kvm02.example.org/system'), 'kvm02.example.org');
  await assert.rejects(
    readPool({
      uri: 'qemu+ssh://kvm01/system',
      pool: 'default',
      exec: () => Promise.reject(new Error('ran')),
    }),
    (e: unknown) => isHyperwardError(e) && e.code === 'E_USAGE' && /remote/.test(e.message),
  );
});

test('volumePaths: a path is read from the target directory on, whatever the name holds', () => {
  const listing = ` Name            Path
------------------------------------------
 a b  /c.qcow2    /var/lib/images/a b  /c.qcow2
 net1             pool/net1
`;
  assert.deepEqual(volumePaths(listing, '/var/lib/images'), {
    paths: ['/var/lib/images/a b  /c.qcow2'],
    unlisted: ['net1'],
  });
  assert.deepEqual(volumePaths('---\n v1   rel/v1\n', 'rel'), { paths: [], unlisted: ['v1'] });
  const row = fc
    .tuple(
      fc.string({ maxLength: 20 }),
      fc.constantFrom(' rel/', ' /abs/', ' ', '/'),
      fc.string({ maxLength: 20 }),
    )
    .map((p) => p.join(''));
  fc.assert(
    fc.property(
      fc.array(row, { maxLength: 8 }),
      fc.constantFrom(undefined, 'rel', '/abs', '/'),
      (rows, target) => {
        const text = rows.join('\n');
        const r = volumePaths(text, target ?? undefined);
        for (const p of r.paths) assert.ok(p.startsWith('/'), `a path starts with / (${JSON.stringify(p)})`);
      },
    ),
  );
});
