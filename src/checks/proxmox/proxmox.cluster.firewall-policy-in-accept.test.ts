import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fixtureText, inventoryFromTree } from '../../../test/helpers/proxmox-tree.js';
import check from './proxmox.cluster.firewall-policy-in-accept.js';

const CLUSTER_FW = '/etc/pve/firewall/cluster.fw';
const VM = { '/etc/pve/qemu-server/100.conf': fixtureText('qemu-server/HomeLab_100.conf') };
const run = (files: Record<string, string>) =>
  check.run(inventoryFromTree({ ...VM, ...files }).inv, { params: {} });

test('pass, default: no policy_in (pve-firewall test-group1/cluster.fw) or no cluster.fw means DROP', () => {
  const [o] = run({ [CLUSTER_FW]: fixtureText('firewall/test-group1_cluster.fw') });
  assert.equal(o!.status, 'pass');
  assert.deepEqual(o!.evidence, { file: CLUSTER_FW, key: 'policy_in', value: 'DROP', isDefault: true });
  assert.equal(run({})[0]!.status, 'pass');
});

test('fail: policy_in: ACCEPT; pass: an explicit DROP (minimal edits of test-default-rules1/cluster.fw)', () => {
  const base = fixtureText('firewall/test-default-rules1_cluster.fw');
  const [o] = run({ [CLUSTER_FW]: `${base}\npolicy_in: ACCEPT\n` });
  assert.equal(o!.status, 'fail');
  assert.equal(o!.evidence!.line, base.split('\n').length + 1);
  const [d] = run({ [CLUSTER_FW]: `${base}\npolicy_in: drop\n` });
  assert.equal(d!.status, 'pass');
  assert.equal(d!.evidence!.isDefault, undefined);
  const [junk] = run({ [CLUSTER_FW]: `${base}\npolicy_in: allow\n` });
  assert.equal(junk!.status, 'pass');
  assert.match(junk!.message, /skips the line/);
});

test('unknown: cluster.fw exists but cannot be read', () => {
  const [o] = run({ [CLUSTER_FW]: '[OPTIONS]\npolicy_in: ACCEPT\n\0' });
  assert.equal(o!.status, 'unknown');
});
