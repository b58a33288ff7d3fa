import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fixtureText, lineOf, one, setVmxLine, vmx } from '../../../test/helpers/vmware.js';
import { check } from './vm-8.vmotion-encrypted.js';

const KEY = 'migrate.encryptionMode';

test('fail: ESXi 8 writes "opportunistic" by default', () => {
  const o = one(check, vmx('esx-in-the-wild-12.vmx'));
  assert.equal(o.status, 'fail');
  assert.equal(o.evidence?.line, lineOf(fixtureText('vmx/esx-in-the-wild-12.vmx'), KEY));
});

test('pass: set to required', () => {
  const o = one(
    check,
    vmx('esx-in-the-wild-12.vmx', (t) => setVmxLine(t, KEY, 'required')),
  );
  assert.equal(o.status, 'pass');
});

test('default: absent means opportunistic, which fails', () => {
  const o = one(check, vmx('esx-in-the-wild-14.vmx'));
  assert.equal(o.status, 'fail');
  assert.equal(o.evidence?.isDefault, true);
  assert.equal(o.evidence?.value, 'opportunistic');
});

test('case-insensitive keys and values; disabled fails; other values are unknown', () => {
  assert.equal(
    one(
      check,
      vmx('esx-in-the-wild-12.vmx', (t) => setVmxLine(t, KEY, 'REQUIRED', 'MIGRATE.ENCRYPTIONMODE')),
    ).status,
    'pass',
  );
  assert.equal(
    one(
      check,
      vmx('esx-in-the-wild-12.vmx', (t) => setVmxLine(t, KEY, 'disabled')),
    ).status,
    'fail',
  );
  assert.equal(
    one(
      check,
      vmx('esx-in-the-wild-12.vmx', (t) => setVmxLine(t, KEY, 'sometimes')),
    ).status,
    'unknown',
  );
});
