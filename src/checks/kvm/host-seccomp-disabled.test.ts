import assert from 'node:assert/strict';
import { test } from 'node:test';
import { debianHostTree, type HostTree } from '../../../test/helpers/kvm-host.js';
import { seccompDisabled } from './host-seccomp-disabled.js';

const QEMU = '/etc/libvirt/qemu.conf';

function run(t: HostTree) {
  const out = seccompDisabled.run(t.inventory(), { params: {} });
  assert.equal(out.length, 1);
  return out[0]!;
}

test('seccomp_sandbox: default passes, 0 fails, 1 passes, a string is unknown', () => {
  const t = debianHostTree();
  try {
    let o = run(t);
    assert.equal(o.status, 'pass');
    assert.deepEqual(o.evidence, { file: QEMU, key: 'seccomp_sandbox', value: '1', isDefault: true });
    const line = t.uncomment(QEMU, 'seccomp_sandbox = 1');
    o = run(t);
    assert.equal(o.status, 'pass');
    assert.equal(o.evidence!.line, line);
    t.replace(QEMU, '\nseccomp_sandbox = 1\n', '\nseccomp_sandbox = 0\n');
    o = run(t);
    assert.equal(o.status, 'fail');
    assert.deepEqual(o.evidence, { file: QEMU, key: 'seccomp_sandbox', value: '0', line, isDefault: false });
    t.replace(QEMU, '\nseccomp_sandbox = 0\n', '\nseccomp_sandbox = -1\n');
    assert.equal(run(t).status, 'pass', '-1: use the filter when QEMU has one');
    t.replace(QEMU, '\nseccomp_sandbox = -1\n', '\nseccomp_sandbox = "0"\n');
    assert.equal(run(t).status, 'unknown');
  } finally {
    t.cleanup();
  }
});
