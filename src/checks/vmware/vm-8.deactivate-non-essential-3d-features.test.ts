import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fixtureText, lineOf, one, setVmxLine, vmx } from '../../../test/helpers/vmware.js';
import { check } from './vm-8.deactivate-non-essential-3d-features.js';

const KEY = 'mks.enable3d';

test('pass: a hardened VM sets mks.enable3d "False"', () => {
  const o = one(check, vmx('esx-in-the-wild-14.vmx'));
  assert.equal(o.status, 'pass');
  assert.equal(o.evidence?.line, lineOf(fixtureText('vmx/esx-in-the-wild-14.vmx'), KEY));
});

test('fail: a real Fusion VM with 3D on', () => {
  const o = one(check, vmx('fusion-in-the-wild-1.vmx'));
  assert.equal(o.status, 'fail');
  assert.equal(o.resource.id, 'vm/ATTM_VM');
  assert.equal(o.evidence?.value, 'TRUE');
});

test('default: absent means FALSE, which passes', () => {
  const o = one(check, vmx('esx-in-the-wild-12.vmx'));
  assert.equal(o.status, 'pass');
  assert.equal(o.evidence?.isDefault, true);
  assert.equal(o.evidence?.value, 'FALSE');
});

test('keys are case-insensitive', () => {
  const o = one(
    check,
    vmx('esx-in-the-wild-12.vmx', (t) => setVmxLine(t, KEY, 'TRUE', 'MKS.Enable3D')),
  );
  assert.equal(o.status, 'fail');
  assert.equal(o.evidence?.key, 'MKS.Enable3D');
});
