import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fixtureText, lineOf, one, setVmxLine, vmx } from '../../../test/helpers/vmware.js';
import { check } from './vm-8.deactivate-console-copy.js';

const KEY = 'isolation.tools.copy.disable';

test('pass: a hardened VM sets it ("true")', () => {
  const o = one(check, vmx('esx-in-the-wild-14.vmx'));
  assert.equal(o.status, 'pass');
  assert.deepEqual(o.resource, { type: 'vm', id: 'vm/wild14' });
  assert.equal(o.evidence?.line, lineOf(fixtureText('vmx/esx-in-the-wild-14.vmx'), KEY));
  assert.equal(o.evidence?.value, 'true');
  assert.equal(o.evidence?.isDefault, undefined);
});

test('default: absent means TRUE, so it passes with the default as evidence', () => {
  const o = one(check, vmx('esx-in-the-wild-12.vmx'));
  assert.equal(o.status, 'pass');
  assert.deepEqual(o.evidence, {
    file: 'fixtures/vmware/vmx/esx-in-the-wild-12.vmx',
    key: 'isolation.tools.copy.disable',
    value: 'TRUE',
    isDefault: true,
  });
});

test('fail: set to FALSE', () => {
  const o = one(
    check,
    vmx('esx-in-the-wild-14.vmx', (t) => setVmxLine(t, KEY, 'FALSE')),
  );
  assert.equal(o.status, 'fail');
  assert.equal(o.evidence?.value, 'FALSE');
});

test('keys are case-insensitive; a non-boolean value is unknown', () => {
  const upper = one(
    check,
    vmx('esx-in-the-wild-12.vmx', (t) => setVmxLine(t, KEY, 'false', 'ISOLATION.TOOLS.COPY.DISABLE')),
  );
  assert.equal(upper.status, 'fail');
  assert.equal(upper.evidence?.key, 'ISOLATION.TOOLS.COPY.DISABLE');
  assert.equal(
    one(
      check,
      vmx('esx-in-the-wild-12.vmx', (t) => setVmxLine(t, KEY, 'yes please')),
    ).status,
    'unknown',
  );
});
