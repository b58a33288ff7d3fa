import assert from 'node:assert/strict';
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { emptyInventory } from '../../model/host.js';
import { readKvmHost } from '../../platform/kvm/host.js';
import { DirRoot } from '../../source/dir.js';
import { tempDir } from '../../../test/helpers/tmp.js';
import { CheckMetaSchema } from '../types.js';
import { debianHostTree } from '../../../test/helpers/kvm-host.js';
import { kvmHostChecks } from './host-index.js';

const REQUIRED = [
  'kvm.host.confinement-disabled',
  'kvm.host.qemu-runs-as-root',
  'kvm.host.seccomp-disabled',
  'kvm.host.namespaces-disabled',
  'kvm.host.console-listen-all-no-tls',
  'kvm.host.migration-tls-not-forced',
  'kvm.host.daemon-tcp-no-auth',
  'kvm.host.unix-socket-no-auth',
  'kvm.host.tls-no-verify',
];

test('the kvm.host checks: the required ids, valid metadata, one file and one test per check', () => {
  assert.deepEqual(kvmHostChecks.map((c) => c.meta.id).sort(), [...REQUIRED].sort());
  const files = new Set(readdirSync(fileURLToPath(new URL('.', import.meta.url))));
  for (const c of kvmHostChecks) {
    const parsed = CheckMetaSchema.safeParse(c.meta);
    assert.ok(parsed.success, `${c.meta.id}: ${parsed.success ? '' : parsed.error.message}`);
    assert.equal(c.meta.platform, 'kvm');
    assert.equal(c.meta.resourceType, 'host');
    const base = `host-${c.meta.id.slice('kvm.host.'.length)}`;
    assert.ok(files.has(`${base}.ts`) && files.has(`${base}.test.ts`), base);
  }
});

test('every check gives one outcome for a Debian 12 host as installed, and none without KVM', () => {
  const t = debianHostTree();
  try {
    const inv = t.inventory();
    const status = Object.fromEntries(
      kvmHostChecks.map((c) => [c.meta.id, c.run(inv, { params: {} }).map((o) => o.status)]),
    );
    // The packaged defaults: everything passes except that TLS is not forced for migrations.
    assert.deepEqual(
      status,
      Object.fromEntries(
        REQUIRED.map((id) => [id, [id === 'kvm.host.migration-tls-not-forced' ? 'fail' : 'pass']]),
      ),
    );
  } finally {
    t.cleanup();
  }
  for (const c of kvmHostChecks) assert.deepEqual(c.run(emptyInventory('none', 'files'), { params: {} }), []);
});

test('a machine with only the libvirt clients (/etc/libvirt, no daemon, no qemu.conf) is not judged', () => {
  const t = tempDir('hyperward-kvm-client-');
  try {
    mkdirSync(join(t.dir, 'etc/libvirt'), { recursive: true });
    const inv = emptyInventory('client', 'files');
    inv.kvm = readKvmHost(new DirRoot(t.dir))!.kvm;
    assert.equal(inv.kvm.libvirtInstalled, true);
    for (const c of kvmHostChecks) assert.deepEqual(c.run(inv, { params: {} }), [], c.meta.id);
  } finally {
    t.cleanup();
  }
});
