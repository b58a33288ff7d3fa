import assert from 'node:assert/strict';
import { test } from 'node:test';
import { emptyInventory } from '../../model/host.js';
import { parseProxmoxVm } from '../../platform/proxmox/qemu-server.js';
import { fixtureText, inventoryFromTree } from '../../../test/helpers/proxmox-tree.js';
import check from './proxmox.vm.vm-firewall-disabled.js';

const FW = '/etc/pve/firewall/100.fw';
const VM = { '/etc/pve/qemu-server/100.conf': fixtureText('qemu-server/HomeLab_100.conf') };
const run = (files: Record<string, string>) =>
  check.run(inventoryFromTree({ ...VM, ...files }).inv, { params: {} });

test('pass: enable: 1 in <vmid>.fw (pve-firewall test-group1/100.fw)', () => {
  const [o] = run({ [FW]: fixtureText('firewall/test-group1_100.fw') });
  assert.equal(o!.status, 'pass');
  assert.deepEqual(o!.evidence, { file: FW, key: 'enable', value: '1', line: 3 });
});

test('fail, default: no <vmid>.fw, or one without enable, leaves the VM firewall off', () => {
  const [none] = run({});
  assert.equal(none!.status, 'fail');
  assert.deepEqual(none!.evidence, { file: FW, key: 'enable', value: '0', isDefault: true });
  assert.match(none!.message, /does not exist/);
  const [noEnable] = run({ [FW]: fixtureText('firewall/test-group1_100.fw').replace('enable: 1\n', '') });
  assert.equal(noEnable!.status, 'fail');
  assert.equal(noEnable!.evidence!.isDefault, true);
});

test('fail: enable: 0, and a value pve-firewall skips', () => {
  const base = fixtureText('firewall/test-group1_100.fw');
  const [zero] = run({ [FW]: base.replace('enable: 1', 'enable: 0') });
  assert.equal(zero!.status, 'fail');
  assert.equal(zero!.evidence!.isDefault, undefined);
  const [yes] = run({ [FW]: base.replace('enable: 1', 'enable: yes') });
  assert.equal(yes!.status, 'fail');
  assert.match(yes!.message, /skips the line/);
});

test('no NIC in the current config (only in a snapshot): nothing to filter', () => {
  const conf = `${fixtureText('qemu-server/minimal-defaults.conf')}\n[before]\nnet0: virtio=BC:24:11:00:00:01,bridge=vmbr0,firewall=1\n`;
  const [o] = run({ '/etc/pve/qemu-server/100.conf': conf });
  assert.equal(o!.status, 'pass');
  assert.match(o!.message, /no network interface/);
});

test('unknown: a loose file (no /etc/pve/firewall), or an unreadable <vmid>.fw', () => {
  const inv = emptyInventory('config', 'files');
  inv.proxmoxVms.push(parseProxmoxVm(fixtureText('qemu-server/HomeLab_100.conf'), '100.conf'));
  const [loose] = check.run(inv, { params: {} });
  assert.equal(loose!.status, 'unknown');
  assert.match(loose!.message, /read on its own/);
  const [o] = run({ [FW]: '[OPTIONS]\nenable: 1\n\0' });
  assert.equal(o!.status, 'unknown');
});
