import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fixtureText, lineOf, one, setVmxLine, vmx } from '../../../test/helpers/vmware.js';
import { check } from './vm-8.restrict-host-info.js';

const KEY = 'tools.guestlib.enableHostInfo';

test('pass: a hardened VM sets it "False"', () => {
  const o = one(check, vmx('esx-in-the-wild-14.vmx'));
  assert.equal(o.status, 'pass');
  assert.equal(o.evidence?.line, lineOf(fixtureText('vmx/esx-in-the-wild-14.vmx'), KEY));
});

test('fail: set TRUE', () => {
  const o = one(
    check,
    vmx('esx-in-the-wild-14.vmx', (t) => setVmxLine(t, KEY, 'TRUE')),
  );
  assert.equal(o.status, 'fail');
});

test('default: absent means FALSE, which passes', () => {
  const o = one(check, vmx('esx-in-the-wild-17.vmx'));
  assert.equal(o.status, 'pass');
  assert.deepEqual(o.evidence, {
    file: 'fixtures/vmware/vmx/esx-in-the-wild-17.vmx',
    key: 'tools.guestlib.enableHostInfo',
    value: 'FALSE',
    isDefault: true,
  });
});

test('keys are case-insensitive', () => {
  const o = one(
    check,
    vmx('esx-in-the-wild-17.vmx', (t) => setVmxLine(t, KEY, 'true', 'TOOLS.GUESTLIB.ENABLEHOSTINFO')),
  );
  assert.equal(o.status, 'fail');
});
