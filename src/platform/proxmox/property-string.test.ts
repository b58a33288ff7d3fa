import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { NIC_MODELS, parsePropertyString } from './property-string.js';
import { fixtureText } from '../../../test/helpers/proxmox-tree.js';

/** The value of `key:` in a real fixture. */
function valueOf(fixture: string, key: string): string {
  const line = fixtureText(fixture)
    .split('\n')
    .find((l) => l.startsWith(`${key}: `))!;
  return line.slice(key.length + 2);
}

test('real values: net, usb, hostpci, disks', () => {
  const net = parsePropertyString(valueOf('qemu-server/netdev.conf', 'net0'), {
    defaultKey: 'model',
    nicModels: true,
  });
  assert.ok(net.ok);
  assert.deepEqual(
    { ...net.props },
    { model: 'virtio', macaddr: 'A2:C0:43:77:08:A0', bridge: 'vmbr0', mtu: '900' },
  );
  const usb = parsePropertyString(valueOf('qemu-server/spice-usb3.conf', 'usb1'), { defaultKey: 'host' });
  assert.ok(usb.ok);
  assert.deepEqual({ ...usb.props }, { host: 'spice', usb3: '1' });
  const map = parsePropertyString(valueOf('qemu-server/q35-linux-hostpci-mapping.conf', 'hostpci1'), {
    defaultKey: 'host',
  });
  assert.ok(map.ok);
  assert.deepEqual({ ...map.props }, { mapping: 'someGpu', mdev: 'some-model' });
  const disk = parsePropertyString(valueOf('qemu-server/HomeLab_200.conf', 'scsi1'), { defaultKey: 'file' });
  assert.ok(disk.ok);
  assert.equal(disk.props.file, 'sda1:200/vm-200-disk-0.qcow2');
  assert.equal(disk.props.size, '2000G');
});

test('a bare NIC model and errors Proxmox also refuses', () => {
  const bare = parsePropertyString('e1000,bridge=vmbr1', { defaultKey: 'model', nicModels: true });
  assert.ok(bare.ok);
  assert.deepEqual({ ...bare.props }, { model: 'e1000', bridge: 'vmbr1' });
  for (const [text, format] of [
    ['bridge=vmbr0,bridge=vmbr1', { defaultKey: 'model' }],
    ['virtio=AA:BB:CC:DD:EE:FF,e1000=AA:BB:CC:DD:EE:00', { defaultKey: 'model', nicModels: true }],
    ['00:1a.1,00:1a.2', { defaultKey: 'host' }],
    ['spice', {}],
    ['firewall=', { defaultKey: 'model' }],
    ['=1', { defaultKey: 'model' }],
  ] as const) {
    const r = parsePropertyString(text, format);
    assert.equal(r.ok, false, text);
  }
  // `__proto__` is an ordinary key.
  const p = parsePropertyString('__proto__=x,a=b');
  assert.ok(p.ok);
  assert.equal(Object.getPrototypeOf(p.props), null);
  assert.equal(p.props.__proto__, 'x');
});

test('property: key=value lists round-trip; the unnamed part lands on the default key', () => {
  const key = fc.stringMatching(/^[a-z][a-z0-9_-]{0,10}$/).filter((k) => k !== 'dflt' && !NIC_MODELS.has(k));
  const value = fc.stringMatching(/^[^,\n]{1,20}$/).filter((v) => !/^\s*$/.test(v));
  fc.assert(
    fc.property(
      fc.dictionary(key, value, { maxKeys: 10 }),
      fc.option(
        value.filter((v) => !v.includes('=')),
        { nil: undefined },
      ),
      (props, first) => {
        const parts = Object.entries(props).map(([k, v]) => `${k}=${v}`);
        if (first !== undefined) parts.unshift(first);
        const r = parsePropertyString(parts.join(','), { defaultKey: 'dflt' });
        assert.ok(r.ok, parts.join(','));
        const expected: Record<string, string> = { ...props };
        if (first !== undefined) expected.dflt = first;
        assert.deepEqual({ ...r.props }, expected);
      },
    ),
    { numRuns: 400 },
  );
});

test('property: hostile strings return a result, never throw', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 300 }), fc.boolean(), (s, nic) => {
      const r = parsePropertyString(s, nic ? { defaultKey: 'model', nicModels: true } : {});
      assert.equal(typeof r.ok, 'boolean');
    }),
    { numRuns: 400 },
  );
  assert.equal(parsePropertyString('a=1,'.repeat(5000)).ok, false);
});
