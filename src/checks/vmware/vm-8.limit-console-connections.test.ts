import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fixtureText, lineOf, one, setVmxLine, vmx } from '../../../test/helpers/vmware.js';
import { check } from './vm-8.limit-console-connections.js';

const KEY = 'RemoteDisplay.maxConnections';

test('pass: a hardened VM limits the console to 1 connection', () => {
  const o = one(check, vmx('esx-in-the-wild-14.vmx'));
  assert.equal(o.status, 'pass');
  assert.equal(o.evidence?.line, lineOf(fixtureText('vmx/esx-in-the-wild-14.vmx'), KEY));
});

test('fail: an ESXi 8 VM as created, with -1 written', () => {
  const o = one(check, vmx('esx-in-the-wild-12.vmx'));
  assert.equal(o.status, 'fail');
  assert.match(o.message, /unlimited/);
  assert.equal(o.evidence?.value, '-1');
});

test('default: absent means -1, which fails', () => {
  const o = one(check, vmx('esx-in-the-wild-13.vmx'));
  assert.equal(o.status, 'fail');
  assert.equal(o.evidence?.isDefault, true);
  assert.equal(o.evidence?.value, '-1');
});

test('the maxConnections parameter; case-insensitive keys; non-integers are unknown', () => {
  const three = vmx('esx-in-the-wild-12.vmx', (t) => setVmxLine(t, KEY, '3', 'REMOTEDISPLAY.MAXCONNECTIONS'));
  assert.equal(one(check, three).status, 'fail');
  assert.equal(one(check, three, { maxConnections: 3 }).status, 'pass');
  assert.equal(one(check, three).evidence?.key, 'REMOTEDISPLAY.MAXCONNECTIONS');
  assert.equal(
    one(
      check,
      vmx('esx-in-the-wild-12.vmx', (t) => setVmxLine(t, KEY, '0')),
    ).status,
    'fail',
  );
  assert.equal(
    one(
      check,
      vmx('esx-in-the-wild-12.vmx', (t) => setVmxLine(t, KEY, 'one')),
    ).status,
    'unknown',
  );
});
