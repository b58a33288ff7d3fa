import assert from 'node:assert/strict';
import { test } from 'node:test';
import { emptyInventory } from '../../model/host.js';
import { parseProxmoxVm } from '../../platform/proxmox/qemu-server.js';
import { fixtureText, inventoryFromTree } from '../../../test/helpers/proxmox-tree.js';
import check from './proxmox.vm.host-device-passthrough.js';

const run = (files: Record<string, string>) => check.run(inventoryFromTree(files).inv, { params: {} });
const conf = (fixture: string, vmid = '100') => ({
  [`/etc/pve/nodes/pve/qemu-server/${vmid}.conf`]: fixtureText(`qemu-server/${fixture}`),
});

test('fail: hostpciN (qemu-server test q35-linux-hostpci.conf)', () => {
  const text = fixtureText('qemu-server/q35-linux-hostpci.conf');
  const [o] = run(conf('q35-linux-hostpci.conf'));
  assert.equal(o!.status, 'fail');
  assert.deepEqual(o!.resource, { type: 'vm', id: 'vm/100' });
  const keys = [...text.matchAll(/^(hostpci\d+):/gm)].map((m) => m[1]!);
  for (const k of keys) assert.match(o!.message, new RegExp(`\\b${k}\\b`));
  assert.equal(o!.evidence!.key, 'hostpci0');
  assert.equal(o!.evidence!.line, text.split('\n').findIndex((l) => l.startsWith('hostpci0:')) + 1);
  assert.equal(o!.evidence!.file, '/etc/pve/nodes/pve/qemu-server/100.conf');
});

test('fail: mapped PCI devices, and host USB (but not SPICE USB) devices', () => {
  assert.equal(run(conf('q35-linux-hostpci-mapping.conf'))[0]!.status, 'fail');
  const [usb] = run(conf('qemu-xhci-7.1.conf'));
  assert.equal(usb!.status, 'fail');
  assert.match(usb!.message, /usb13 \(USB device 1-14\)/);
  assert.doesNotMatch(usb!.message, /usb1 |usb5/);
  assert.equal(usb!.evidence!.key, 'usb13');
  const [homelab] = run(conf('HomeLab_200.conf', '200'));
  assert.equal(homelab!.status, 'fail');
  assert.match(homelab!.message, /hostpci0.*usb0.*usb1/);
  assert.match(homelab!.message, /Docker/, 'the VM name is in the message');
});

test('pass: SPICE USB redirection only, and no device at all (absent = none passed through)', () => {
  const [spice] = run(conf('spice-usb3.conf'));
  assert.equal(spice!.status, 'pass');
  const [spice2] = run(conf('technomagniaque-pve_101.conf', '101'));
  assert.equal(spice2!.status, 'pass');
  const [none] = run(conf('HomeLab_100.conf'));
  assert.equal(none!.status, 'pass');
});

test('a device only in a snapshot is not judged as current; a pending one is noted', () => {
  const base = fixtureText('qemu-server/parse-config-input_snapshots.conf');
  const snapOnly = base.replace('[win19_5_2]\n', '[win19_5_2]\nhostpci0: 0f:f2.0\nusb0: host=8087:0033\n');
  assert.notEqual(snapOnly, base);
  const [o] = run({ '/etc/pve/qemu-server/111.conf': snapOnly });
  assert.equal(o!.status, 'pass');
  const pending = `${base}\n[PENDING]\nhostpci0: 0f:f2.0\n`;
  const [p] = run({ '/etc/pve/qemu-server/111.conf': pending });
  assert.equal(p!.status, 'pass');
  assert.match(p!.message, /pending .*hostpci0/);
});

test('a loose qemu-server file is judged without a host', () => {
  const inv = emptyInventory('config', 'files');
  inv.proxmoxVms.push(parseProxmoxVm(fixtureText('qemu-server/HomeLab_200.conf'), 'HomeLab_200.conf'));
  const [o] = check.run(inv, { params: {} });
  assert.equal(o!.status, 'fail');
  assert.deepEqual(o!.resource, { type: 'vm', id: 'vm/HomeLab_200' });
});
