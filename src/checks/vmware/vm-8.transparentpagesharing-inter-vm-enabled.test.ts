import assert from 'node:assert/strict';
import { test } from 'node:test';
import { one, setVmxLine, vmx } from '../../../test/helpers/vmware.js';
import { check } from './vm-8.transparentpagesharing-inter-vm-enabled.js';

test('default: not present on a real VM, which passes', () => {
  const o = one(check, vmx('esx-in-the-wild-14.vmx'));
  assert.equal(o.status, 'pass');
  assert.deepEqual(o.evidence, {
    file: 'fixtures/vmware/vmx/esx-in-the-wild-14.vmx',
    key: 'sched.mem.pshare.salt',
    value: 'not present',
    isDefault: true,
  });
});

test('pass on every real ESXi fixture', () => {
  for (const f of ['esx-in-the-wild-12.vmx', 'esx-in-the-wild-13.vmx', 'esx-in-the-wild-17.vmx']) {
    assert.equal(one(check, vmx(f)).status, 'pass', f);
  }
});

test('fail: a salt is set', () => {
  const o = one(
    check,
    vmx('esx-in-the-wild-14.vmx', (t) => setVmxLine(t, 'sched.mem.pshare.salt', 'shared-group-1')),
  );
  assert.equal(o.status, 'fail');
  assert.equal(o.evidence?.value, 'shared-group-1');
});

test('keys are case-insensitive', () => {
  const o = one(
    check,
    vmx('esx-in-the-wild-14.vmx', (t) =>
      setVmxLine(t, 'sched.mem.pshare.salt', 'x', 'SCHED.MEM.PSHARE.SALT'),
    ),
  );
  assert.equal(o.status, 'fail');
  assert.equal(o.evidence?.key, 'SCHED.MEM.PSHARE.SALT');
});
