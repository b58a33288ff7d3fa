import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fixtureText, inventoryFromTree } from '../../../test/helpers/proxmox-tree.js';
import check from './proxmox.cluster.migration-insecure.js';

const DC = '/etc/pve/datacenter.cfg';
const BASE = fixtureText('datacenter/brucewinter_datacenter.cfg');
const VM = { '/etc/pve/qemu-server/100.conf': fixtureText('qemu-server/HomeLab_100.conf') };
const run = (files: Record<string, string | Buffer>) =>
  check.run(inventoryFromTree({ ...VM, ...files }).inv, { params: {} });

test('pass, default: a real datacenter.cfg without migration, or none at all, means secure', () => {
  const [o] = run({ [DC]: BASE });
  assert.equal(o!.status, 'pass');
  assert.deepEqual(o!.evidence, { file: DC, key: 'migration.type', value: 'secure', isDefault: true });
  const [none] = run({});
  assert.equal(none!.status, 'pass');
  assert.match(none!.message, /does not exist/);
});

test('fail: migration: type=insecure; the deprecated migration_unsecure: 1 (minimal edits)', () => {
  const [o] = run({ [DC]: `${BASE}migration: type=insecure,network=10.10.10.0/24\n` });
  assert.equal(o!.status, 'fail');
  assert.equal(o!.evidence!.value, 'insecure');
  assert.equal(o!.evidence!.line, BASE.split('\n').length);
  const [legacy] = run({ [DC]: `${BASE}migration_unsecure: 1\n` });
  assert.equal(legacy!.status, 'fail');
  assert.equal(legacy!.evidence!.key, 'migration_unsecure');
});

test('pass: type=secure, which wins over migration_unsecure as in PVE::DataCenterConfig', () => {
  const [o] = run({ [DC]: `${BASE}migration: type=secure,network=10.10.10.0/24\nmigration_unsecure: 1\n` });
  assert.equal(o!.status, 'pass');
  assert.equal(o!.evidence!.value, 'secure');
  const [net] = run({ [DC]: `${BASE}migration: network=10.10.10.0/24\n` });
  assert.equal(net!.status, 'pass', 'a migration line without type= keeps the secure default');
});

test('unknown: datacenter.cfg unreadable, or its migration value unusable', () => {
  const [bad] = run({ [DC]: Buffer.concat([Buffer.from(BASE), Buffer.from([0xff, 0xfe])]) });
  assert.equal(bad!.status, 'unknown');
  const [dup] = run({ [DC]: `${BASE}migration: type=secure,type=insecure\n` });
  assert.equal(dup!.status, 'unknown');
});
