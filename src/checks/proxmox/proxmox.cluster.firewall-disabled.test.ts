import assert from 'node:assert/strict';
import { test } from 'node:test';
import { emptyInventory } from '../../model/host.js';
import { parseProxmoxVm } from '../../platform/proxmox/qemu-server.js';
import { fixtureText, inventoryFromTree } from '../../../test/helpers/proxmox-tree.js';
import check from './proxmox.cluster.firewall-disabled.js';

const CLUSTER_FW = '/etc/pve/firewall/cluster.fw';
const VM = { '/etc/pve/nodes/pve/qemu-server/100.conf': fixtureText('qemu-server/HomeLab_100.conf') };
const run = (files: Record<string, string>) =>
  check.run(inventoryFromTree({ ...VM, ...files }).inv, { params: {} });

test('pass: enable: 1 (pve-firewall test-group1/cluster.fw), resource named by corosync.conf', () => {
  const text = fixtureText('firewall/test-group1_cluster.fw');
  const [o] = run({
    [CLUSTER_FW]: text,
    '/etc/pve/corosync.conf': fixtureText('cluster/pve-firewall-test_corosync.conf'),
  });
  assert.equal(o!.status, 'pass');
  assert.deepEqual(o!.resource, { type: 'cluster', id: 'cluster/cloud' });
  assert.deepEqual(o!.evidence, {
    file: CLUSTER_FW,
    key: 'enable',
    value: '1',
    line: text.split('\n').indexOf('enable: 1') + 1,
  });
});

test('fail: enable: 0 (minimal edit of a real file)', () => {
  const [o] = run({
    [CLUSTER_FW]: fixtureText('firewall/test-group1_cluster.fw').replace('enable: 1', 'enable: 0'),
  });
  assert.equal(o!.status, 'fail');
  assert.equal(o!.evidence!.value, '0');
  assert.equal(o!.evidence!.isDefault, undefined);
});

test('fail, default: no cluster.fw, or one without enable, means disabled', () => {
  const [absent] = run({});
  assert.equal(absent!.status, 'fail');
  assert.deepEqual(absent!.evidence, { file: CLUSTER_FW, key: 'enable', value: '0', isDefault: true });
  assert.match(absent!.message, /does not exist/);
  const noEnable = fixtureText('firewall/test-ipset1_cluster.fw').replace('enable: 1\n', '');
  const [o] = run({ [CLUSTER_FW]: noEnable });
  assert.equal(o!.status, 'fail');
  assert.equal(o!.evidence!.isDefault, true);
});

test('fail: a pending activation timestamp, and a value pve-firewall cannot read', () => {
  const base = fixtureText('firewall/test-group1_cluster.fw');
  const [ts] = run({ [CLUSTER_FW]: base.replace('enable: 1', 'enable: 1700000000') });
  assert.equal(ts!.status, 'fail');
  assert.match(ts!.message, /pending activation/);
  const [yes] = run({ [CLUSTER_FW]: base.replace('enable: 1', 'enable: yes') });
  assert.equal(yes!.status, 'fail');
  assert.equal(yes!.evidence!.isDefault, true);
});

test('unknown: cluster.fw exists but cannot be read; nothing without a Proxmox host', () => {
  const [o] = run({ [CLUSTER_FW]: `[OPTIONS]\nenable: 1\n${'#'.repeat(5 * 1024 * 1024)}` });
  assert.equal(o!.status, 'unknown');
  const loose = emptyInventory('config', 'files');
  loose.proxmoxVms.push(parseProxmoxVm(fixtureText('qemu-server/HomeLab_100.conf'), '100.conf'));
  assert.deepEqual(check.run(loose, { params: {} }), []);
});

test('unknown: a disk image whose /etc/pve is an empty mount point (the pmxcfs database is not read)', () => {
  const { inv } = inventoryFromTree({
    '/etc/pve/': '',
    '/var/lib/pve-cluster/config.db': 'SQLite format 3\0',
  });
  const [o] = check.run(inv, { params: {} });
  assert.equal(o!.status, 'unknown');
});
