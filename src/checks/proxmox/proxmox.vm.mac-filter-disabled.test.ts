import assert from 'node:assert/strict';
import { test } from 'node:test';
import { emptyInventory } from '../../model/host.js';
import { parseProxmoxVm } from '../../platform/proxmox/qemu-server.js';
import { fixtureText, inventoryFromTree } from '../../../test/helpers/proxmox-tree.js';
import check from './proxmox.vm.mac-filter-disabled.js';

const FW = '/etc/pve/firewall/100.fw';
const VM = { '/etc/pve/qemu-server/100.conf': fixtureText('qemu-server/HomeLab_100.conf') };
const BASE = fixtureText('firewall/test-group1_100.fw');
const run = (files: Record<string, string>) =>
  check.run(inventoryFromTree({ ...VM, ...files }).inv, { params: {} });

test('pass, default: no macfilter option (pve-firewall test-group1/100.fw), or no <vmid>.fw, is on', () => {
  const [o] = run({ [FW]: BASE });
  assert.equal(o!.status, 'pass');
  assert.deepEqual(o!.evidence, { file: FW, key: 'macfilter', value: '1', isDefault: true });
  assert.equal(run({})[0]!.status, 'pass');
});

test('fail: macfilter: 0; pass: macfilter: 1 (minimal edits)', () => {
  const [o] = run({ [FW]: BASE.replace('enable: 1', 'enable: 1\nmacfilter: 0') });
  assert.equal(o!.status, 'fail');
  assert.deepEqual(o!.evidence, { file: FW, key: 'macfilter', value: '0', line: 4 });
  assert.equal(run({ [FW]: BASE.replace('enable: 1', 'enable: 1\nmacfilter: 1') })[0]!.status, 'pass');
});

test('a NIC only in a snapshot is not current: nothing to filter', () => {
  const conf = `${fixtureText('qemu-server/minimal-defaults.conf')}\n[before]\nnet0: virtio=BC:24:11:00:00:01,bridge=vmbr0\n`;
  const [o] = run({ '/etc/pve/qemu-server/100.conf': conf, [FW]: BASE.replace('enable: 1', 'macfilter: 0') });
  assert.equal(o!.status, 'pass');
});

test('unknown: a loose qemu-server file', () => {
  const inv = emptyInventory('config', 'files');
  inv.proxmoxVms.push(parseProxmoxVm(fixtureText('qemu-server/HomeLab_100.conf'), '100.conf'));
  assert.equal(check.run(inv, { params: {} })[0]!.status, 'unknown');
});
