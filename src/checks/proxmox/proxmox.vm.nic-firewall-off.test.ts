import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fixtureText, inventoryFromTree } from '../../../test/helpers/proxmox-tree.js';
import check from './proxmox.vm.nic-firewall-off.js';

const run = (files: Record<string, string>) => check.run(inventoryFromTree(files).inv, { params: {} });

test('pass: every netN has firewall=1 (HomeLab 100.conf; qemu-server snapshots.conf with two NICs)', () => {
  assert.equal(
    run({ '/etc/pve/qemu-server/100.conf': fixtureText('qemu-server/HomeLab_100.conf') })[0]!.status,
    'pass',
  );
  const [o] = run({
    '/etc/pve/qemu-server/111.conf': fixtureText('qemu-server/parse-config-input_snapshots.conf'),
  });
  assert.equal(o!.status, 'pass');
  assert.match(o!.message, /net0, net1/);
});

test('fail, default: no firewall option means off (qemu-server test netdev.conf)', () => {
  const text = fixtureText('qemu-server/netdev.conf');
  const [o] = run({ '/etc/pve/qemu-server/100.conf': text });
  assert.equal(o!.status, 'fail');
  assert.deepEqual(o!.evidence, {
    file: '/etc/pve/qemu-server/100.conf',
    key: 'net0.firewall',
    value: '0',
    isDefault: true,
    line: text.split('\n').findIndex((l) => l.startsWith('net0:')) + 1,
  });
  assert.match(o!.message, /net0 \(bridge vmbr0\) has no firewall option/);
});

test('fail: firewall=0 set explicitly (minimal edit of HomeLab 100.conf)', () => {
  const text = fixtureText('qemu-server/HomeLab_100.conf').replace('firewall=1', 'firewall=0');
  const [o] = run({ '/etc/pve/qemu-server/100.conf': text });
  assert.equal(o!.status, 'fail');
  assert.equal(o!.evidence!.value, '0');
  assert.equal(o!.evidence!.isDefault, undefined);
});

test('no NIC: pass; a NIC only in a snapshot is not current, nor is an unfirewalled NIC there', () => {
  assert.equal(
    run({ '/etc/pve/qemu-server/1.conf': fixtureText('qemu-server/minimal-defaults.conf') })[0]!.status,
    'pass',
  );
  const base = fixtureText('qemu-server/parse-config-input_snapshots.conf');
  // In one snapshot section only, drop the firewall flag from the NIC.
  const start = base.indexOf('[machine_version_5_1]');
  const edited = base.slice(0, start) + base.slice(start).replace('bridge=vnet0,firewall=1', 'bridge=vnet0');
  assert.notEqual(edited, base);
  assert.equal(run({ '/etc/pve/qemu-server/111.conf': edited })[0]!.status, 'pass');
  const snapNic =
    fixtureText('qemu-server/minimal-defaults.conf') +
    '\n[before]\nnet0: virtio=BC:24:11:00:00:01,bridge=vmbr0\n';
  assert.equal(run({ '/etc/pve/qemu-server/1.conf': snapNic })[0]!.status, 'pass');
});

test('unknown: a NIC that is not a valid property string', () => {
  const text = fixtureText('qemu-server/HomeLab_100.conf').replace('firewall=1', 'firewall=1,firewall=0');
  const [o] = run({ '/etc/pve/qemu-server/100.conf': text });
  assert.equal(o!.status, 'unknown');
  assert.match(o!.message, /duplicate key/);
});
