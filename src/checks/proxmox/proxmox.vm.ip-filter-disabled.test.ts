import assert from 'node:assert/strict';
import { test } from 'node:test';
import { emptyInventory } from '../../model/host.js';
import { parseProxmoxVm } from '../../platform/proxmox/qemu-server.js';
import { fixtureText, inventoryFromTree } from '../../../test/helpers/proxmox-tree.js';
import check from './proxmox.vm.ip-filter-disabled.js';

const run = (files: Record<string, string>) => check.run(inventoryFromTree(files).inv, { params: {} });
const HOMELAB_100 = fixtureText('qemu-server/HomeLab_100.conf');

test('pass: an ipfilter-net0 set (pve-firewall test-vm-ipfilter1/100.fw), or ipfilter: 1 (test-vm-ipfilter2/200.fw)', () => {
  const [set] = run({
    '/etc/pve/qemu-server/100.conf': HOMELAB_100,
    '/etc/pve/firewall/100.fw': fixtureText('firewall/test-vm-ipfilter1_100.fw'),
  });
  assert.equal(set!.status, 'pass');
  assert.match(set!.message, /ipfilter-net0/);
  const [opt] = run({
    '/etc/pve/qemu-server/200.conf': fixtureText('qemu-server/HomeLab_200.conf'),
    '/etc/pve/firewall/200.fw': fixtureText('firewall/test-vm-ipfilter2_200.fw'),
  });
  assert.equal(opt!.status, 'pass');
  assert.deepEqual(opt!.evidence, { file: '/etc/pve/firewall/200.fw', key: 'ipfilter', value: '1', line: 4 });
});

test('fail, default: ipfilter off and no ipfilter set (pve-firewall test-group1/100.fw), or no <vmid>.fw', () => {
  const [o] = run({
    '/etc/pve/qemu-server/100.conf': HOMELAB_100,
    '/etc/pve/firewall/100.fw': fixtureText('firewall/test-group1_100.fw'),
  });
  assert.equal(o!.status, 'fail');
  assert.deepEqual(o!.evidence, {
    file: '/etc/pve/firewall/100.fw',
    key: 'ipfilter',
    value: '0',
    isDefault: true,
  });
  assert.equal(run({ '/etc/pve/qemu-server/100.conf': HOMELAB_100 })[0]!.status, 'fail');
});

test('fail: interfaces without firewall=1 are never IP-filtered (qemu-server test netdev.conf)', () => {
  const [o] = run({
    '/etc/pve/qemu-server/100.conf': fixtureText('qemu-server/netdev.conf'),
    '/etc/pve/firewall/100.fw': fixtureText('firewall/test-vm-ipfilter2_200.fw'),
  });
  assert.equal(o!.status, 'fail');
  assert.equal(o!.evidence!.key, 'net0.firewall');
});

test('a firewalled NIC only in a snapshot does not need a set; the current NICs do', () => {
  const base = fixtureText('qemu-server/parse-config-input_snapshots.conf');
  const edited = base.replace(
    '[win19_5_2]\n',
    '[win19_5_2]\nnet2: virtio=BC:24:11:00:00:02,bridge=vnet0,firewall=1\n',
  );
  const fw = '[OPTIONS]\nenable: 1\n\n[IPSET ipfilter-net0]\n10.0.0.5\n\n[IPSET ipfilter-net1]\n10.0.0.6\n';
  const [o] = run({ '/etc/pve/qemu-server/111.conf': edited, '/etc/pve/firewall/111.fw': fw });
  assert.equal(o!.status, 'pass');
  const [missing] = run({
    '/etc/pve/qemu-server/111.conf': edited,
    '/etc/pve/firewall/111.fw': fw.replace('[IPSET ipfilter-net1]\n10.0.0.6\n', ''),
  });
  assert.equal(missing!.status, 'fail');
  assert.match(missing!.message, /net1 has no ipfilter/);
});

test('unknown: a loose qemu-server file', () => {
  const inv = emptyInventory('config', 'files');
  inv.proxmoxVms.push(parseProxmoxVm(HOMELAB_100, '100.conf'));
  assert.equal(check.run(inv, { params: {} })[0]!.status, 'unknown');
});
