import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fixtureText, inventoryFromTree } from '../../../test/helpers/proxmox-tree.js';
import check from './proxmox.host.firewall-disabled.js';

const run = (files: Record<string, string>) => check.run(inventoryFromTree(files).inv, { params: {} });
const VM = fixtureText('qemu-server/HomeLab_100.conf');

test('pass: enable: 1 (pve-firewall test-basic1/host.fw); default: a node without host.fw is on', () => {
  const out = run({
    '/etc/pve/nodes/prox1/host.fw': fixtureText('firewall/test-basic1_host.fw'),
    '/etc/pve/nodes/prox1/qemu-server/100.conf': VM,
    '/etc/pve/nodes/prox2/qemu-server/101.conf': VM,
  });
  assert.deepEqual(
    out.map((o) => [o.resource.id, o.status, o.evidence?.isDefault ?? false]),
    [
      ['host/prox1', 'pass', false],
      ['host/prox2', 'pass', true],
    ],
  );
  assert.deepEqual(out[1]!.evidence, {
    file: '/etc/pve/nodes/prox2/host.fw',
    key: 'enable',
    value: '1',
    isDefault: true,
  });
});

test('fail: enable: 0 (pve-firewall example/host.fw)', () => {
  const text = fixtureText('firewall/example_host.fw');
  const [o] = run({ '/etc/pve/nodes/pve/host.fw': text });
  assert.equal(o!.status, 'fail');
  assert.equal(o!.evidence!.line, text.split('\n').indexOf('enable: 0') + 1);
});

test('unknown: host.fw exists but cannot be read', () => {
  const [o] = run({ '/etc/pve/nodes/pve/host.fw': '[OPTIONS]\nenable: 0\n\0' });
  assert.equal(o!.status, 'unknown');
});
