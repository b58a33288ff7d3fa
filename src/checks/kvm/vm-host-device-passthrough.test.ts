import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CheckMetaSchema } from '../types.js';
import {
  fixtureDomain,
  fixturePath,
  fixtureText,
  inventoryOf,
  lineOf,
} from '../../../test/helpers/libvirt-fixtures.js';
import { vmHostDevicePassthrough as check } from './vm-host-device-passthrough.js';

const judge = (name: string, edit?: (x: string) => string) =>
  check.run(inventoryOf(fixtureDomain(name, edit)), { params: {} })[0]!;

test('metadata is valid', () => {
  CheckMetaSchema.parse(check.meta);
});

test('fail: PCI and USB <hostdev>', () => {
  const text = fixtureText('domains/hostdev-pci-address.xml');
  const o = judge('hostdev-pci-address');
  assert.equal(o.status, 'fail');
  assert.deepEqual(o.resource, { type: 'vm', id: `vm/${/<name>([^<]+)/.exec(text)![1]}` });
  assert.match(o.message, /pci 0000:06:12\.5/);
  assert.deepEqual(o.evidence, {
    file: fixturePath('domains/hostdev-pci-address.xml'),
    line: lineOf(text, '<hostdev'),
    key: 'hostdev',
    value: 'pci 0000:06:12.5',
  });
  assert.match(judge('hostdev-usb-address').message, /usb bus 14 device 6/);
});

test("fail: <interface type='hostdev'>", () => {
  const o = judge('net-virtio-network-portgroup', (x) =>
    x.replace(
      "<interface type='network'>\n      <mac address='22:11:22:33:44:55'/>",
      "<interface type='hostdev'>\n      <mac address='22:11:22:33:44:55'/>\n      <source>\n        <address type='pci' domain='0x0000' bus='0x03' slot='0x10' function='0x1'/>\n      </source>",
    ),
  );
  assert.equal(o.status, 'fail');
  assert.equal(o.evidence?.key, "interface[@type='hostdev']");
  assert.match(o.message, /interface hostdev pci 0000:03:10\.1/);
});

test('pass: no host device', () => {
  for (const n of ['graphics-vnc', 'net-virtio-network-portgroup', 'usb-redir'])
    assert.equal(judge(n).status, 'pass', n);
});
