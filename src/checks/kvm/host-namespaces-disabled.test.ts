import assert from 'node:assert/strict';
import { test } from 'node:test';
import { debianHostTree, type HostTree } from '../../../test/helpers/kvm-host.js';
import { namespacesDisabled } from './host-namespaces-disabled.js';

const QEMU = '/etc/libvirt/qemu.conf';

function run(t: HostTree) {
  const out = namespacesDisabled.run(t.inventory(), { params: {} });
  assert.equal(out.length, 1);
  return out[0]!;
}

test('namespaces: default passes, [] fails, the documented list passes, other values are unknown', () => {
  const t = debianHostTree();
  try {
    let o = run(t);
    assert.equal(o.status, 'pass');
    assert.deepEqual(o.evidence, { file: QEMU, key: 'namespaces', value: '["mount"]', isDefault: true });
    const line = t.uncomment(QEMU, 'namespaces = [ "mount" ]');
    o = run(t);
    assert.equal(o.status, 'pass');
    assert.equal(o.evidence!.line, line);
    t.replace(QEMU, '\nnamespaces = [ "mount" ]\n', '\nnamespaces = [ ]\n');
    o = run(t);
    assert.equal(o.status, 'fail');
    assert.deepEqual(o.evidence, { file: QEMU, key: 'namespaces', value: '[]', line, isDefault: false });
    t.replace(QEMU, '\nnamespaces = [ ]\n', '\nnamespaces = "mount"\n');
    assert.equal(run(t).status, 'unknown');
    t.replace(QEMU, '\nnamespaces = "mount"\n', '\nnamespaces = [ "net" ]\n');
    assert.equal(run(t).status, 'unknown');
  } finally {
    t.cleanup();
  }
});
