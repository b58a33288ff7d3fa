import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fixtureText, lineOf, one, setVmxLine, vmx } from '../../../test/helpers/vmware.js';
import { check } from './vm-8.vmrc-lock.js';

const KEY = 'tools.guest.desktop.autolock';

test('pass: an ESXi 8 VM with autolock TRUE', () => {
  const o = one(check, vmx('esx-in-the-wild-12.vmx'));
  assert.equal(o.status, 'pass');
  assert.equal(o.evidence?.line, lineOf(fixtureText('vmx/esx-in-the-wild-12.vmx'), KEY));
});

test('fail: a real VM with autolock FALSE', () => {
  const o = one(check, vmx('esx-in-the-wild-13.vmx'));
  assert.equal(o.status, 'fail');
  assert.equal(o.evidence?.value, 'FALSE');
  assert.equal(o.resource.id, 'vm/Test-Mig-VM-1 (01ce57d0-4e20-41a5-8b6c-bcbf49a032ec)');
});

test('default: absent means FALSE, which fails', () => {
  const o = one(check, vmx('esx-in-the-wild-14.vmx'));
  assert.equal(o.status, 'fail');
  assert.equal(o.evidence?.isDefault, true);
  assert.equal(o.evidence?.value, 'FALSE');
  assert.match(o.message, /default applies/);
});

test('keys are case-insensitive', () => {
  const o = one(
    check,
    vmx('esx-in-the-wild-14.vmx', (t) => setVmxLine(t, KEY, 'True', 'TOOLS.GUEST.DESKTOP.AUTOLOCK')),
  );
  assert.equal(o.status, 'pass');
  assert.equal(o.evidence?.key, 'TOOLS.GUEST.DESKTOP.AUTOLOCK');
});
