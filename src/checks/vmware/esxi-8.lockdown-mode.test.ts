import assert from 'node:assert/strict';
import { test } from 'node:test';
import { check } from './esxi-8.lockdown-mode.js';
import { esxiHosts, hostWithSwitches, oneHost } from '../../../test/helpers/vmware.js';

const apiHost = (lockdownMode?: string) => {
  const h = hostWithSwitches({});
  if (lockdownMode !== undefined) h.lockdownMode = lockdownMode;
  return h;
};

test('pass: normal or strict lockdown, as HostAccessManager reports it', () => {
  for (const m of ['lockdownNormal', 'lockdownStrict']) {
    const o = oneHost(check, apiHost(m));
    assert.equal(o.status, 'pass', m);
    assert.deepEqual(o.resource, { type: 'host', id: 'host/esx01.lab.example' });
    assert.deepEqual(o.evidence, { file: 'vsphere://vc.lab.example', key: 'lockdownMode', value: m });
  }
});

test('fail: lockdown disabled (the installation default)', () => {
  const o = oneHost(check, apiHost('lockdownDisabled'));
  assert.equal(o.status, 'fail');
});

test('unknown: an advanced-settings export does not carry lockdown mode; neither does an unknown value', () => {
  for (const h of [...esxiHosts('esxcli-advanced-list.txt'), ...esxiHosts('powercli-advanced.csv')]) {
    const o = oneHost(check, h);
    assert.equal(o.status, 'unknown');
    assert.match(o.message, /not known/);
  }
  assert.equal(oneHost(check, apiHost('lockdownSomething')).status, 'unknown');
});

test('mode names are matched case-insensitively', () => {
  assert.equal(oneHost(check, apiHost('LOCKDOWNNORMAL')).status, 'pass');
  assert.equal(oneHost(check, apiHost('LockdownDisabled')).status, 'fail');
});
