import assert from 'node:assert/strict';
import { test } from 'node:test';
import { debianHostTree, type HostTree } from '../../../test/helpers/kvm-host.js';
import { migrationTlsNotForced } from './host-migration-tls-not-forced.js';

const QEMU = '/etc/libvirt/qemu.conf';

function run(t: HostTree) {
  const out = migrationTlsNotForced.run(t.inventory(), { params: {} });
  assert.equal(out.length, 1);
  return out[0]!;
}

test('migrate_tls_force: the default (0) fails, 1 passes, an explicit 0 fails with its line', () => {
  const t = debianHostTree();
  try {
    let o = run(t);
    assert.equal(o.status, 'fail');
    assert.deepEqual(o.evidence, { file: QEMU, key: 'migrate_tls_force', value: '0', isDefault: true });
    const line = t.uncomment(QEMU, 'migrate_tls_force = 0');
    o = run(t);
    assert.equal(o.status, 'fail');
    assert.deepEqual(o.evidence, {
      file: QEMU,
      key: 'migrate_tls_force',
      value: '0',
      line,
      isDefault: false,
    });
    t.replace(QEMU, '\nmigrate_tls_force = 0\n', '\nmigrate_tls_force = 1\n');
    o = run(t);
    assert.equal(o.status, 'pass');
    assert.equal(o.evidence!.line, line);
    t.replace(QEMU, '\nmigrate_tls_force = 1\n', '\nmigrate_tls_force = 2\n');
    assert.equal(run(t).status, 'unknown');
  } finally {
    t.cleanup();
  }
});
