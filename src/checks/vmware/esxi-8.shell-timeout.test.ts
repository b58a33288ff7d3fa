import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadProfile, selectChecks } from '../profile.js';
import { check } from './esxi-8.shell-timeout.js';
import { vmwareChecks } from './index.js';
import { dropEsxcliBlock, esxiHosts, inventory, oneHost } from '../../../test/helpers/vmware.js';

test('fail: 0 in a full esxcli listing means the services never stop', () => {
  const [h] = esxiHosts('esxcli-advanced-list.txt');
  const o = oneHost(check, h!);
  assert.equal(o.status, 'fail');
  assert.match(o.message, /never time out/);
  assert.equal(o.evidence?.file, 'fixtures/vmware/esxi/esxcli-advanced-list.txt');
  assert.equal(o.evidence?.key, 'UserVars.ESXiShellTimeOut');
  assert.equal(o.evidence?.isDefault, undefined);
});

test('pass: 600 in a PowerCLI export; 900 fails the 600 baseline and passes a 900 parameter', () => {
  const [esx01] = esxiHosts('powercli-advanced.csv');
  assert.equal(oneHost(check, esx01!).status, 'pass');
  assert.equal(oneHost(check, esx01!).resource.id, 'host/esx01.lab.example');
  const [delta] = esxiHosts('esxcli-advanced-delta.txt', { complete: true });
  assert.equal(oneHost(check, delta!).status, 'fail');
  assert.equal(oneHost(check, delta!, { maxSeconds: 900 }).status, 'pass');
  const stig = selectChecks(vmwareChecks, loadProfile('stig')).find(
    (c) => c.check.meta.id === check.meta.id,
  )!;
  assert.equal(stig.params['maxSeconds'], 600);
  assert.equal(check.run(inventory({ esxi: [delta!] }), { params: stig.params })[0]!.status, 'fail');
});

test('default: absent from a --delta export means the default 0, which fails; absent elsewhere is unknown', () => {
  const drop = (t: string): string => dropEsxcliBlock(t, '/UserVars/ESXiShellTimeOut');
  const [complete] = esxiHosts('esxcli-advanced-delta.txt', { complete: true }, drop);
  const o = oneHost(check, complete!);
  assert.equal(o.status, 'fail');
  assert.deepEqual(o.evidence, {
    file: 'fixtures/vmware/esxi/esxcli-advanced-delta.txt',
    key: 'UserVars.ESXiShellTimeOut',
    value: '0',
    isDefault: true,
  });
  const [partial] = esxiHosts('esxcli-advanced-delta.txt', {}, drop);
  assert.equal(oneHost(check, partial!).status, 'unknown');
});

test('setting names are case-insensitive', () => {
  const [h] = esxiHosts('powercli-advanced.csv', {}, (t) =>
    t.replace('"UserVars.ESXiShellTimeOut"', '"USERVARS.ESXISHELLTIMEOUT"'),
  );
  const o = oneHost(check, h!);
  assert.equal(o.status, 'pass');
  assert.equal(o.evidence?.key, 'USERVARS.ESXISHELLTIMEOUT');
});
