import assert from 'node:assert/strict';
import { test } from 'node:test';
import { emptyInventory } from '../../model/host.js';
import { parseProxmoxVm } from '../../platform/proxmox/qemu-server.js';
import { fixtureText, inventoryFromTree } from '../../../test/helpers/proxmox-tree.js';
import check from './proxmox.vm.firewall-policy-in-accept.js';

const FW = '/etc/pve/firewall/100.fw';
const VM = { '/etc/pve/qemu-server/100.conf': fixtureText('qemu-server/HomeLab_100.conf') };
const BASE = fixtureText('firewall/test-group1_100.fw');
const run = (files: Record<string, string>) =>
  check.run(inventoryFromTree({ ...VM, ...files }).inv, { params: {} });

test('pass, default: no policy_in (pve-firewall test-group1/100.fw), or no <vmid>.fw, is DROP', () => {
  const [o] = run({ [FW]: BASE });
  assert.equal(o!.status, 'pass');
  assert.deepEqual(o!.evidence, { file: FW, key: 'policy_in', value: 'DROP', isDefault: true });
  assert.equal(run({})[0]!.status, 'pass');
});

test('fail: policy_in: ACCEPT; pass: policy_in: REJECT (minimal edits)', () => {
  const [o] = run({ [FW]: BASE.replace('enable: 1', 'enable: 1\npolicy_in: ACCEPT') });
  assert.equal(o!.status, 'fail');
  assert.equal(o!.evidence!.line, 4);
  const [r] = run({ [FW]: BASE.replace('enable: 1', 'enable: 1\npolicy_in: REJECT') });
  assert.equal(r!.status, 'pass');
  assert.equal(r!.evidence!.value, 'REJECT');
});

test("the policy is the VM firewall file's, whatever the snapshots of the VM hold", () => {
  const conf = fixtureText('qemu-server/parse-config-input_snapshots.conf');
  const [o] = run({
    '/etc/pve/qemu-server/100.conf': conf,
    [FW]: BASE.replace('enable: 1', 'policy_in: ACCEPT'),
  });
  assert.equal(o!.status, 'fail');
});

test('unknown: a loose qemu-server file', () => {
  const inv = emptyInventory('config', 'files');
  inv.proxmoxVms.push(parseProxmoxVm(fixtureText('qemu-server/HomeLab_100.conf'), '100.conf'));
  assert.equal(check.run(inv, { params: {} })[0]!.status, 'unknown');
});
