import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { test } from 'node:test';
import { fixtureText, inventoryFromTree } from '../../../test/helpers/proxmox-tree.js';
import { assess } from '../engine.js';
import { BUILTIN_PROFILES } from '../profile.js';
import { CheckMetaSchema } from '../types.js';
import { proxmoxChecks } from './index.js';

test('every proxmox check has valid metadata, a unique id, its own file and a test beside it', () => {
  const files = readdirSync(new URL('./', import.meta.url));
  const ids = new Set<string>();
  for (const c of proxmoxChecks) {
    const parsed = CheckMetaSchema.safeParse(c.meta);
    assert.ok(parsed.success, `${c.meta.id}: ${parsed.success ? '' : parsed.error.message}`);
    assert.equal(c.meta.platform, 'proxmox');
    assert.match(c.meta.id, /^proxmox\.(vm|cluster|host)\./);
    assert.ok(!ids.has(c.meta.id), c.meta.id);
    ids.add(c.meta.id);
    assert.ok(files.includes(`${c.meta.id}.ts`), `${c.meta.id}.ts`);
    assert.ok(files.includes(`${c.meta.id}.test.ts`), `${c.meta.id}.test.ts`);
    assert.ok((c.meta.references.urls ?? []).length > 0, `${c.meta.id} cites its source`);
  }
  for (const id of [
    'proxmox.vm.host-device-passthrough',
    'proxmox.vm.raw-qemu-args',
    'proxmox.vm.nic-firewall-off',
    'proxmox.cluster.firewall-disabled',
  ]) {
    assert.ok(ids.has(id), id);
  }
});

test('assessing a Proxmox VE tree: one finding per check and resource, unreadable files as their own', () => {
  const { inv } = inventoryFromTree({
    '/etc/pve/corosync.conf': fixtureText('cluster/pve-firewall-test_corosync.conf'),
    '/etc/pve/datacenter.cfg': fixtureText('datacenter/brucewinter_datacenter.cfg'),
    '/etc/pve/firewall/cluster.fw': fixtureText('firewall/test-group1_cluster.fw'),
    '/etc/pve/firewall/100.fw': fixtureText('firewall/test-group1_100.fw'),
    '/etc/pve/nodes/prox1/host.fw': fixtureText('firewall/test-basic1_host.fw'),
    '/etc/pve/nodes/prox1/qemu-server/100.conf': fixtureText('qemu-server/HomeLab_100.conf'),
    '/etc/pve/nodes/prox1/qemu-server/200.conf': fixtureText('qemu-server/HomeLab_200.conf'),
    '/etc/pve/nodes/prox1/qemu-server/222.conf': fixtureText('qemu-server/technomagniaque-pve_222.conf'),
    '/etc/pve/nodes/prox1/qemu-server/300.conf': 'junk without a colon\n',
  });
  const findings = assess(inv, proxmoxChecks, BUILTIN_PROFILES.default!);
  const byCheck = (id: string) => findings.filter((f) => f.checkId === id);
  const vmChecks = proxmoxChecks.filter((c) => c.meta.resourceType === 'vm');
  for (const c of vmChecks) assert.equal(byCheck(c.meta.id).length, 3, c.meta.id);
  assert.equal(byCheck('proxmox.cluster.firewall-disabled')[0]!.status, 'pass');
  assert.equal(byCheck('proxmox.cluster.firewall-disabled')[0]!.resource.id, 'cluster/cloud');
  const status = (id: string, vm: string) => byCheck(id).find((f) => f.resource.id === `vm/${vm}`)!.status;
  assert.equal(status('proxmox.vm.raw-qemu-args', '222'), 'fail');
  assert.equal(status('proxmox.vm.raw-qemu-args', '100'), 'pass');
  assert.equal(status('proxmox.vm.host-device-passthrough', '200'), 'fail');
  assert.equal(status('proxmox.vm.nic-firewall-off', '222'), 'fail');
  assert.equal(status('proxmox.vm.vm-firewall-disabled', '100'), 'pass');
  assert.equal(status('proxmox.vm.vm-firewall-disabled', '200'), 'fail');
  const unreadable = findings.filter((f) => f.checkId === 'hyperward.unreadable');
  assert.deepEqual(
    unreadable.map((f) => f.resource.id),
    ['/etc/pve/nodes/prox1/qemu-server/300.conf'],
  );
  for (const f of findings.filter((x) => x.platform === 'proxmox')) {
    assert.match(f.resource.id, /^(vm|cluster|host)\//);
    assert.ok(f.references!.length > 0);
  }
});
