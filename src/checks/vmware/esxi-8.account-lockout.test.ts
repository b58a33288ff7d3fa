import assert from 'node:assert/strict';
import { test } from 'node:test';
import { check } from './esxi-8.account-lockout.js';
import { dropEsxcliBlock, esxiHosts, oneHost } from '../../../test/helpers/vmware.js';

test('pass: 5 (the guide\u2019s baseline); the STIG value 3 fails it', () => {
  const [h] = esxiHosts('esxcli-advanced-list.txt');
  assert.equal(oneHost(check, h!).status, 'pass');
  const stig = oneHost(check, h!, { maxFailures: 3 });
  assert.equal(stig.status, 'fail');
  assert.match(stig.message, /more than the 3/);
});

test('fail: 10 failures on esx02 of a PowerCLI export; 0 turns locking off', () => {
  const hosts = esxiHosts('powercli-advanced.csv');
  const o = oneHost(check, hosts[1]!);
  assert.equal(o.status, 'fail');
  assert.equal(o.resource.id, 'host/esx02.lab.example');
  assert.equal(o.evidence?.value, '10');
  const [zero] = esxiHosts('esxcli-advanced-delta.txt', {}, (t) => t.replace('Int Value: 3', 'Int Value: 0'));
  assert.match(oneHost(check, zero!).message, /never lock/);
  assert.equal(oneHost(check, zero!).status, 'fail');
});

test('default: absent from a --delta export means 5, which passes; absent elsewhere is unknown', () => {
  const drop = (t: string): string => dropEsxcliBlock(t, '/Security/AccountLockFailures');
  const [complete] = esxiHosts('esxcli-advanced-delta.txt', { complete: true }, drop);
  const o = oneHost(check, complete!);
  assert.equal(o.status, 'pass');
  assert.equal(o.evidence?.isDefault, true);
  assert.equal(o.evidence?.value, '5');
  assert.equal(oneHost(check, complete!, { maxFailures: 3 }).status, 'fail');
  const [partial] = esxiHosts('esxcli-advanced-delta.txt', {}, drop);
  const u = oneHost(check, partial!);
  assert.equal(u.status, 'unknown');
  assert.match(u.message, /not in fixtures\/vmware\/esxi\/esxcli-advanced-delta.txt/);
});

test('setting names are case-insensitive; non-integers are unknown', () => {
  const [h] = esxiHosts('esxcli-advanced-delta.txt', {}, (t) =>
    t.replace('/Security/AccountLockFailures', '/SECURITY/accountlockfailures'),
  );
  const o = oneHost(check, h!);
  assert.equal(o.status, 'pass');
  assert.equal(o.evidence?.key, 'SECURITY.accountlockfailures');
  const [bad] = esxiHosts('powercli-advanced.csv', {}, (t) => t.replace('"5","VMHost"', '"five","VMHost"'));
  assert.equal(oneHost(check, bad!).status, 'unknown');
});
