import assert from 'node:assert/strict';
import { test } from 'node:test';
import { one, setVmxLine, vmx } from '../../../test/helpers/vmware.js';
import { check } from './vm-8.pci-passthrough.js';

/** A DirectPath I/O device added to a real file, as vSphere writes one. */
const addDevice =
  (present: string, spelling = 'pciPassthru0.present') =>
  (t: string): string =>
    setVmxLine(setVmxLine(t, 'pciPassthru0.id', '00000:059:00.0'), 'pciPassthru0.present', present, spelling);

test('pass: no passthrough device (the default: not present)', () => {
  const o = one(check, vmx('esx-in-the-wild-12.vmx'));
  assert.equal(o.status, 'pass');
  assert.deepEqual(o.evidence, {
    file: 'fixtures/vmware/vmx/esx-in-the-wild-12.vmx',
    key: 'pciPassthru*.present',
    value: 'not present',
    isDefault: true,
  });
});

test('pass: a hardening script\u2019s literal pciPassthru*.present key is not a device', () => {
  const o = one(check, vmx('esx-in-the-wild-14.vmx'));
  assert.equal(o.status, 'pass');
  assert.equal(o.evidence?.isDefault, true);
});

test('fail: a passthrough device, in any key case', () => {
  const o = one(check, vmx('esx-in-the-wild-12.vmx', addDevice('TRUE')));
  assert.equal(o.status, 'fail');
  assert.equal(o.evidence?.key, 'pciPassthru0.present');
  assert.match(o.message, /pciPassthru0/);
  const upper = one(check, vmx('esx-in-the-wild-12.vmx', addDevice('true', 'PCIPASSTHRU0.PRESENT')));
  assert.equal(upper.status, 'fail');
  assert.equal(upper.evidence?.key, 'PCIPASSTHRU0.PRESENT');
});

test('a device marked not present passes; a non-boolean is unknown', () => {
  const off = one(check, vmx('esx-in-the-wild-12.vmx', addDevice('FALSE')));
  assert.equal(off.status, 'pass');
  assert.equal(off.evidence?.key, 'pciPassthru0.present');
  assert.equal(one(check, vmx('esx-in-the-wild-12.vmx', addDevice('maybe'))).status, 'unknown');
});
