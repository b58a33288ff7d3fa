import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fixtureText, inventoryFromTree } from '../../../test/helpers/proxmox-tree.js';
import check from './proxmox.vm.raw-qemu-args.js';

const run = (files: Record<string, string>) => check.run(inventoryFromTree(files).inv, { params: {} });

test('fail: args: (technomagniaque/pve qemu-server/222.conf)', () => {
  const text = fixtureText('qemu-server/technomagniaque-pve_222.conf');
  const [o] = run({ '/etc/pve/qemu-server/222.conf': text });
  assert.equal(o!.status, 'fail');
  assert.deepEqual(o!.resource, { type: 'vm', id: 'vm/222' });
  const line = text.split('\n').findIndex((l) => l.startsWith('args: ')) + 1;
  assert.equal(o!.evidence!.line, line);
  assert.equal(o!.evidence!.value, text.split('\n')[line - 1]!.slice('args: '.length));
  assert.match(o!.message, /HACK-SEQUOIA/);
});

test('pass: no args: (absent is the default: none)', () => {
  const [o] = run({
    '/etc/pve/qemu-server/101.conf': fixtureText('qemu-server/technomagniaque-pve_101.conf'),
  });
  assert.equal(o!.status, 'pass');
  assert.equal(o!.evidence, undefined);
});

test('args: in a snapshot is not current; in [PENDING] it is noted', () => {
  const base = fixtureText('qemu-server/parse-config-input_snapshots.conf');
  const snap = base.replace(
    '[static-network]\n',
    '[static-network]\nargs: -serial tcp::4444,server,nowait\n',
  );
  assert.notEqual(snap, base);
  assert.equal(run({ '/etc/pve/qemu-server/111.conf': snap })[0]!.status, 'pass');
  const [p] = run({ '/etc/pve/qemu-server/111.conf': `${base}\n[PENDING]\nargs: -no-reboot\n` });
  assert.equal(p!.status, 'pass');
  assert.match(p!.message, /pending .*args: -no-reboot/);
});
