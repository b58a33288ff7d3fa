import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { isHyperwardError } from '../../errors.js';
import { applyEdits, byteEdits, onlyHyperwardErrors } from '../../../test/helpers/fuzz.js';
import {
  fixturePath,
  fixtureText,
  LIBVIRT_FIXTURES,
  lineOf,
} from '../../../test/helpers/libvirt-fixtures.js';
import { parseDomainXml, QEMU_NAMESPACE } from './domain.js';

const names = readdirSync(join(LIBVIRT_FIXTURES, 'domains'))
  .filter((f) => f.endsWith('.xml'))
  .map((f) => f.slice(0, -4))
  .sort();

/**
 * Lines of every start tag `<tag` at the given indentation (libvirt's fixtures indent domain children by 2 spaces
 * and devices by 4), in order.
 */
function tagLines(text: string, tag: string, indent = 4): number[] {
  return [...text.matchAll(new RegExp(`^ {${indent}}<${tag}[\\s/>]`, 'gm'))].map(
    (m) => text.slice(0, m.index).split('\n').length,
  );
}

test('every domain fixture: name, uuid, type and each device kind match the file, with their lines', () => {
  assert.ok(names.length >= 20);
  for (const name of names) {
    const text = fixtureText(`domains/${name}.xml`);
    const file = fixturePath(`domains/${name}.xml`);
    const dom = parseDomainXml(text, file);
    assert.equal(dom.file, file);
    assert.equal(dom.name, /<name>([^<]*)<\/name>/.exec(text)?.[1], name);
    assert.equal(dom.uuid, /<uuid>([^<]*)<\/uuid>/.exec(text)?.[1], name);
    assert.equal(dom.type, /<domain type='([^']*)'/.exec(text)?.[1], name);
    assert.equal(dom.line, lineOf(text, '<domain'));
    assert.equal(dom.passwordsRedacted, false);
    assert.deepEqual(
      dom.graphics.map((g) => g.line),
      tagLines(text, 'graphics'),
      name,
    );
    assert.deepEqual(
      dom.disks.map((d) => d.line),
      tagLines(text, 'disk'),
      name,
    );
    assert.deepEqual(
      dom.hostdevs.map((h) => h.line),
      tagLines(text, 'hostdev'),
      name,
    );
    assert.deepEqual(
      dom.interfaces.map((i) => i.line),
      tagLines(text, 'interface'),
      name,
    );
    assert.deepEqual(
      dom.redirdevs.map((r) => r.line),
      tagLines(text, 'redirdev'),
      name,
    );
    assert.deepEqual(
      dom.seclabels.map((s) => s.line),
      tagLines(text, 'seclabel', 2),
      name,
    );
    // Only device-level ones: <channel> inside SPICE <graphics> and <serial> inside <disk> are something else.
    const chardevLines = ['serial', 'console', 'parallel', 'channel']
      .flatMap((t) => tagLines(text, t))
      .sort((a, b) => a - b);
    assert.deepEqual(
      dom.chardevs.map((c) => c.line).sort((a, b) => a - b),
      chardevLines,
      name,
    );
    assert.equal(dom.disks.filter((d) => d.shareable).length, text.split('<shareable/>').length - 1, name);
    assert.equal(dom.disks.filter((d) => d.readonly).length, text.split('<readonly/>').length - 1, name);
  }
});

test('graphics: listen attribute, listen children, socket and password state', () => {
  const vncText = fixtureText('domains/graphics-vnc.xml');
  const [vnc] = parseDomainXml(vncText, 'graphics-vnc.xml').graphics;
  const addr = /listen='([^']+)'/.exec(vncText)![1]!;
  assert.equal(vnc!.type, 'vnc');
  assert.equal(vnc!.listenAttr, addr);
  assert.deepEqual(vnc!.listens, [
    { type: 'address', address: addr, line: lineOf(vncText, "<listen type='address'") },
  ]);
  assert.equal(vnc!.passwd, 'absent');

  const net = parseDomainXml(fixtureText('domains/graphics-listen-network.xml'), 'n.xml').graphics[0]!;
  assert.equal(net.listens[0]?.type, 'network');
  assert.equal(net.listens[0]?.network, 'Bobsnetwork');

  const sock = parseDomainXml(fixtureText('domains/graphics-vnc-socket.xml'), 's.xml').graphics[0]!;
  assert.deepEqual([sock.listens[0]?.type, sock.listens[0]?.socket], ['socket', '/tmp/vnc.sock']);

  const spiceText = fixtureText('domains/graphics-spice-timeout.xml');
  const spiceDom = parseDomainXml(spiceText, 't.xml');
  const spice = spiceDom.graphics[0]!;
  assert.equal(spice.passwd, 'set');
  assert.equal(spice.passwdValidTo, /passwdValidTo='([^']+)'/.exec(spiceText)![1]);
  assert.equal(spice.connected, 'disconnect');
  // The password itself is never kept anywhere in the result.
  const secret = /passwd='([^']+)'/.exec(spiceText)![1]!;
  assert.ok(!JSON.stringify(spiceDom).includes(secret));

  const empty = parseDomainXml(spiceText.replace(`passwd='${secret}'`, "passwd=''"), 't.xml').graphics[0]!;
  assert.equal(empty.passwd, 'empty');
});

test('QEMU namespace elements are found by namespace, not by prefix', () => {
  const text = fixtureText('domains/qemu-ns.xml');
  const dom = parseDomainXml(text, 'qemu-ns.xml');
  const args = [...text.matchAll(/<qemu:arg value='([^']*)'/g)].map((m) => m[1]);
  const env = [...text.matchAll(/<qemu:env name='([^']*)'/g)].map((m) => m[1]);
  assert.deepEqual(
    dom.qemuPassthrough.map((q) => q.element),
    ['commandline', 'capabilities'],
  );
  assert.deepEqual(dom.qemuPassthrough[0]!.args, args);
  assert.deepEqual(dom.qemuPassthrough[0]!.env, env);
  assert.equal(dom.qemuPassthrough[0]!.line, lineOf(text, '<qemu:commandline>'));
  assert.equal(
    dom.qemuPassthrough[1]!.items,
    text.split('<qemu:add').length - 1 + text.split('<qemu:del').length - 1,
  );

  const alt = parseDomainXml(fixtureText('domains/qemu-ns-alt.xml'), 'alt.xml');
  assert.deepEqual(alt.qemuPassthrough[0]!.args, args);
  // Another prefix bound to the same namespace is the same thing.
  const renamed = parseDomainXml(
    text.replaceAll('qemu:', 'q:').replace('xmlns:qemu=', 'xmlns:q='),
    'renamed.xml',
  );
  assert.deepEqual(renamed.qemuPassthrough[0]!.args, args);
  // The prefix alone, bound to another namespace, is not libvirt's.
  const other = parseDomainXml(text.replace(QEMU_NAMESPACE, 'urn:other'), 'other.xml');
  assert.deepEqual(other.qemuPassthrough, []);
});

test('hostdev sources, chardev endpoints, redirdevs, interfaces and seclabels', () => {
  const pciText = fixtureText('domains/hostdev-pci-address.xml');
  const m =
    /<address domain='0x([0-9a-f]+)' bus='0x([0-9a-f]+)' slot='0x([0-9a-f]+)' function='0x([0-9a-f]+)'/.exec(
      pciText,
    )!;
  const pci = parseDomainXml(pciText, 'p.xml').hostdevs[0]!;
  assert.deepEqual(
    [pci.mode, pci.type, pci.managed, pci.source],
    ['subsystem', 'pci', 'yes', `pci ${m[1]}:${m[2]}:${m[3]}.${m[4]}`],
  );
  const usbText = fixtureText('domains/hostdev-usb-address.xml');
  const u = /<address bus='(\d+)' device='(\d+)'/.exec(usbText)!;
  assert.equal(parseDomainXml(usbText, 'u.xml').hostdevs[0]!.source, `usb bus ${u[1]} device ${u[2]}`);

  const tel = parseDomainXml(fixtureText('domains/serial-tcp-telnet-chardev.xml'), 't.xml');
  assert.deepEqual(
    tel.chardevs.map((c) => [
      c.device,
      c.type,
      c.protocol,
      c.sources[0]?.mode,
      c.sources[0]?.host,
      c.sources[0]?.service,
    ]),
    [
      ['serial', 'tcp', 'telnet', 'bind', '127.0.0.1', '9999'],
      ['console', 'tcp', 'telnet', 'bind', '127.0.0.1', '9999'],
    ],
  );
  const udp = parseDomainXml(fixtureText('domains/serial-udp-chardev.xml'), 'u.xml');
  assert.deepEqual(
    udp.chardevs.map((c) => c.sources.length),
    [2, 1, 2],
  );

  const redir = parseDomainXml(fixtureText('domains/usb-redir.xml'), 'r.xml');
  assert.deepEqual(
    redir.redirdevs.map((r) => [r.bus, r.type]),
    [
      ['usb', 'tcp'],
      ['usb', 'spicevmc'],
    ],
  );
  assert.equal(redir.redirfilter, undefined);
  const filtered = parseDomainXml(fixtureText('domains/usb-redir-filter.xml'), 'f.xml');
  assert.deepEqual(
    filtered.redirfilter?.rules.map((r) => r.allow),
    ['yes', 'no'],
  );

  const netText = fixtureText('domains/net-virtio-network-portgroup.xml');
  const nets = parseDomainXml(netText, 'n.xml').interfaces;
  assert.deepEqual(
    nets.map((i) => i.mac),
    [...netText.matchAll(/<mac address='([^']+)'/g)].map((x) => x[1]),
  );
  assert.deepEqual(
    nets.map((i) => i.source),
    [...netText.matchAll(/<source network='([^']+)'/g)].map((x) => x[1]),
  );
  assert.ok(nets.every((i) => i.type === 'network' && i.filterref === undefined));
  const withFilter = parseDomainXml(
    netText.replace(
      "<model type='virtio'/>",
      "<model type='virtio'/>\n      <filterref filter='clean-traffic'>\n        <parameter name='IP' value='10.0.0.1'/>\n      </filterref>",
    ),
    'n.xml',
  ).interfaces[0]!;
  assert.deepEqual(withFilter.filterref?.parameters, [{ name: 'IP', value: '10.0.0.1' }]);
  assert.equal(withFilter.filterref?.filter, 'clean-traffic');

  assert.deepEqual(
    parseDomainXml(fixtureText('domains/seclabel-dac-none.xml'), 's.xml').seclabels.map((s) => [
      s.type,
      s.model,
    ]),
    [['none', 'dac']],
  );
});

test('interface type=hostdev also counts as a passed-through device', () => {
  const text = fixtureText('domains/net-virtio-network-portgroup.xml').replace(
    "<interface type='network'>\n      <mac address='22:11:22:33:44:55'/>",
    "<interface type='hostdev' managed='yes'>\n      <mac address='22:11:22:33:44:55'/>\n      <source>\n        <address type='pci' domain='0x0000' bus='0x03' slot='0x10' function='0x1'/>\n      </source>",
  );
  const dom = parseDomainXml(text, 'h.xml');
  assert.deepEqual(
    dom.hostdevs.map((h) => [h.mode, h.source, h.line]),
    [['interface', 'pci 0000:03:10.1', lineOf(text, "<interface type='hostdev'")]],
  );
});

test('not a domain, no name, hostile XML: HyperwardError naming the file', () => {
  const cases: Array<[string, RegExp]> = [
    [fixtureText('networks/nat-network.xml'), /root element is <network>, not a libvirt <domain>/],
    ["<domain type='kvm'><uuid>x</uuid></domain>", /without a <name>/],
    ["<domain xmlns='urn:x'><name>a</name></domain>", /not a libvirt <domain>/],
    ['<!DOCTYPE d [<!ENTITY n "x">]><domain><name>&n;</name></domain>', /DOCTYPE/],
    [`<domain><name>${'x'.repeat(3 * 1024 * 1024)}</name></domain>`, /exceeds the 2097152 cap/],
  ];
  for (const [text, re] of cases) {
    try {
      parseDomainXml(text, '/etc/libvirt/qemu/evil.xml');
      assert.fail('no error');
    } catch (e) {
      assert.ok(isHyperwardError(e), String(e));
      assert.match(e.message, /^\/etc\/libvirt\/qemu\/evil\.xml: /);
      assert.match(e.message, re);
    }
  }
});

test('property: mutated domain fixtures parse or fail with HyperwardError', () => {
  const originals = names.map((n) => readFileSync(fixturePath(`domains/${n}.xml`)));
  fc.assert(
    fc.property(fc.nat({ max: originals.length - 1 }), fc.integer({ min: 0, max: 2 ** 31 }), (i, seed) => {
      const o = originals[i]!;
      const edits = fc.sample(byteEdits(o.length, 8), { numRuns: 1, seed })[0]!;
      onlyHyperwardErrors(() => parseDomainXml(applyEdits(o, edits), 'mutated.xml'));
    }),
    { numRuns: 300 },
  );
});

test('property: spliced device elements never break the reader', () => {
  const base = fixtureText('domains/disk-shared.xml');
  const piece = fc.constantFrom(
    "<graphics type='vnc' listen=''/>",
    '<graphics/>',
    '<listen/>',
    '<hostdev/>',
    "<hostdev type='pci'><source/></hostdev>",
    "<hostdev type='usb'><source><vendor/></source></hostdev>",
    "<hostdev mode='capabilities' type='storage'><source><block>/dev/x</block></source></hostdev>",
    '<interface/>',
    '<interface><filterref/></interface>',
    "<serial type='tcp'><source/></serial>",
    '<redirdev/>',
    '<redirfilter><usbdev/></redirfilter>',
    '<disk><shareable/><source/></disk>',
    "<channel type='udp'/>",
    '<seclabel/>',
    "<disk type='network'><source protocol='rbd'/></disk>",
    "<hostdev type='scsi'><source protocol='iscsi'/></hostdev>",
    "<hostdev type='mdev'><source><address/></source></hostdev>",
    "<hostdev type='scsi_host'><source/></hostdev>",
  );
  fc.assert(
    fc.property(fc.array(piece, { maxLength: 12 }), (pieces) => {
      const dom = parseDomainXml(base.replace('<devices>', `<devices>${pieces.join('')}`), 'spliced.xml');
      assert.equal(dom.hostdevs.length, pieces.filter((p) => p.startsWith('<hostdev')).length);
    }),
    { numRuns: 200 },
  );
});
