import assert from 'node:assert/strict';
import { test } from 'node:test';
import { check } from './esxi-8.network-bpdu.js';
import { esxiHosts, fixtureText, oneHost } from '../../../test/helpers/vmware.js';

test('pass: Net.BlockGuestBPDU = 1 in a full esxcli listing', () => {
  const [h] = esxiHosts('esxcli-advanced-list.txt');
  const o = oneHost(check, h!);
  assert.equal(o.status, 'pass');
  const lines = fixtureText('esxi/esxcli-advanced-list.txt').split('\n');
  assert.equal(lines[o.evidence!.line! - 1], '   Int Value: 1');
  const path = lines
    .slice(0, o.evidence!.line)
    .reverse()
    .find((l) => l.includes('Path:'));
  assert.equal(path, '   Path: /Net/BlockGuestBPDU');
});

test('fail: 0 on esx02 of a PowerCLI export', () => {
  const o = oneHost(check, esxiHosts('powercli-advanced.csv')[1]!);
  assert.equal(o.status, 'fail');
  assert.equal(o.evidence?.value, '0');
});

test('default: absent from a --delta export means 1, which passes; absent elsewhere is unknown', () => {
  const [complete] = esxiHosts('esxcli-advanced-delta.txt', { complete: true });
  const o = oneHost(check, complete!);
  assert.equal(o.status, 'pass');
  assert.deepEqual(o.evidence, {
    file: 'fixtures/vmware/esxi/esxcli-advanced-delta.txt',
    key: 'Net.BlockGuestBPDU',
    value: '1',
    isDefault: true,
  });
  assert.equal(oneHost(check, esxiHosts('esxcli-advanced-delta.txt')[0]!).status, 'unknown');
});

test('setting names are case-insensitive', () => {
  const [h] = esxiHosts('esxcli-advanced-list.txt', {}, (t) =>
    t
      .replace('/Net/BlockGuestBPDU', '/NET/BLOCKGUESTBPDU')
      .replace('Int Value: 1\n   Default Int Value: 1', 'Int Value: 0\n   Default Int Value: 1'),
  );
  const o = oneHost(check, h!);
  assert.equal(o.status, 'fail');
  assert.equal(o.evidence?.key, 'NET.BLOCKGUESTBPDU');
});
