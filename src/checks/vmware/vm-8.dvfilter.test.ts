import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fixtureText, lineOf, one, setVmxLine, vmx } from '../../../test/helpers/vmware.js';
import { check } from './vm-8.dvfilter.js';

test('default: no filter on a real VM passes', () => {
  const o = one(check, vmx('esx-in-the-wild-13.vmx'));
  assert.equal(o.status, 'pass');
  assert.equal(o.evidence?.isDefault, true);
  assert.equal(o.evidence?.key, 'ethernet*.filter*.name');
});

test('fail: a dvfilter attached to ethernet0', () => {
  const edit = (t: string): string => setVmxLine(t, 'ethernet0.filter0.name', 'dvfilter-generic-vmware');
  const o = one(check, vmx('esx-in-the-wild-13.vmx', edit));
  assert.equal(o.status, 'fail');
  assert.equal(
    o.evidence?.line,
    lineOf(edit(fixtureText('vmx/esx-in-the-wild-13.vmx')), 'ethernet0.filter0.name'),
  );
  assert.match(o.message, /dvfilter-generic-vmware/);
});

test('pass: other ethernet keys are not filters', () => {
  const o = one(
    check,
    vmx('esx-in-the-wild-13.vmx', (t) => setVmxLine(t, 'ethernet0.filterX', 'y')),
  );
  assert.equal(o.status, 'pass');
});

test('keys are case-insensitive', () => {
  const o = one(
    check,
    vmx('esx-in-the-wild-13.vmx', (t) =>
      setVmxLine(t, 'ethernet1.filter4.name', 'nsx', 'ETHERNET1.FILTER4.NAME'),
    ),
  );
  assert.equal(o.status, 'fail');
  assert.equal(o.evidence?.key, 'ETHERNET1.FILTER4.NAME');
});
