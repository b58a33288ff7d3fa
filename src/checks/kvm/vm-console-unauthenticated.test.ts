import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { CheckMetaSchema, type CheckOutcome } from '../types.js';
import {
  DEBIAN_QEMU_CONF,
  fixtureDomain,
  fixturePath,
  fixtureText,
  hostWithQemuConf,
  inventoryOf,
  lineOf,
  replaceOnce,
} from '../../../test/helpers/libvirt-fixtures.js';
import type { LibvirtDomain } from '../../model/kvm.js';
import { isLoopback } from './host-common.js';
import { vmConsoleUnauthenticated as check } from './vm-console-unauthenticated.js';

const uncomment = (line: string) => replaceOnce(`#${line}`, line);
const confText = readFileSync(DEBIAN_QEMU_CONF, 'utf8');

function judge(dom: LibvirtDomain, kvm?: ReturnType<typeof hostWithQemuConf>): CheckOutcome {
  const inv = inventoryOf(dom);
  if (kvm) inv.kvm = kvm;
  const out = check.run(inv, { params: {} });
  assert.equal(out.length, 1);
  assert.deepEqual(out[0]!.resource, { type: 'vm', id: `vm/${dom.name}` });
  return out[0]!;
}

test('metadata is valid', () => {
  CheckMetaSchema.parse(check.meta);
  assert.equal(check.meta.id, 'kvm.vm.console-unauthenticated');
});

test('fail: VNC on a non-loopback address, as attribute and <listen> child, without a password', () => {
  const text = fixtureText('domains/graphics-vnc.xml');
  const addr = /<listen type='address' address='([^']+)'/.exec(text)![1]!;
  const o = judge(fixtureDomain('graphics-vnc'));
  assert.equal(o.status, 'fail');
  assert.match(
    o.message,
    new RegExp(
      `VNC display \\(line ${lineOf(text, '<graphics')}\\) listens on ${addr.replace(/\./g, '\\.')} with no password`,
    ),
  );
  assert.deepEqual(o.evidence, {
    file: fixturePath('domains/graphics-vnc.xml'),
    line: lineOf(text, "<listen type='address'"),
    key: "graphics[@type='vnc']/listen/@address",
    value: addr,
  });
  assert.equal(judge(fixtureDomain('graphics-vnc-no-listen-attr')).status, 'fail');
});

test("fail: listen type='network' takes a network's address and counts as reachable", () => {
  const o = judge(fixtureDomain('graphics-listen-network'));
  assert.equal(o.status, 'fail');
  assert.match(o.message, /the address of libvirt network Bobsnetwork/);
  assert.equal(o.evidence?.value, 'Bobsnetwork');
});

test('pass: loopback, UNIX socket, listen none, no display', () => {
  for (const name of [
    'graphics-vnc-sasl',
    'graphics-spice',
    'graphics-vnc-socket',
    'graphics-vnc-none',
    'qemu-ns',
  ]) {
    const o = judge(fixtureDomain(name));
    assert.equal(o.status, 'pass', `${name}: ${o.message}`);
  }
  assert.equal(judge(fixtureDomain('qemu-ns')).message, 'no VNC or SPICE display');
  assert.match(judge(fixtureDomain('graphics-vnc-socket')).message, /socket \/tmp\/vnc\.sock/);
  const text = fixtureText('domains/graphics-vnc.xml');
  const addr = /listen='([^']+)'/.exec(text)![1]!;
  for (const lo of ['127.0.0.1', '127.1.2.3', '::1', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1', 'localhost']) {
    assert.equal(judge(fixtureDomain('graphics-vnc', (x) => x.replaceAll(addr, lo))).status, 'pass', lo);
  }
  for (const open of ['0.0.0.0', '::', '192.0.2.7', 'vmhost.example.org']) {
    assert.equal(judge(fixtureDomain('graphics-vnc', (x) => x.replaceAll(addr, open))).status, 'fail', open);
  }
});

test('pass: a passwd on the display, or an empty one (which disables access)', () => {
  const withPw = fixtureDomain('graphics-vnc', replaceOnce("autoport='no'", "autoport='no' passwd='s3cret'"));
  const o = judge(withPw);
  assert.equal(o.status, 'pass');
  assert.match(o.message, /but a passwd is set/);
  assert.ok(!JSON.stringify(o).includes('s3cret'));
  const empty = judge(fixtureDomain('graphics-vnc', replaceOnce("autoport='no'", "autoport='no' passwd=''")));
  assert.equal(empty.status, 'pass');
  assert.match(empty.message, /disabling access/);
});

test("default: no listen address means qemu.conf's spice_listen, built-in 127.0.0.1 when qemu.conf sets none", () => {
  // usb-redir has <graphics type='spice'/> with no listen and no passwd.
  // Debian's shipped qemu.conf, everything commented out: the built-in default.
  const shipped = judge(fixtureDomain('usb-redir'), hostWithQemuConf());
  assert.equal(shipped.status, 'pass');
  assert.match(shipped.message, /127\.0\.0\.1 \(spice_listen default\)/);
  assert.deepEqual(shipped.evidence, {
    file: '/etc/libvirt/qemu.conf',
    key: 'spice_listen',
    value: '127.0.0.1',
    isDefault: true,
  });
});

test('unknown: no listen address and no host read (a loose domain XML), so qemu.conf is not known', () => {
  const o = judge(fixtureDomain('usb-redir'));
  assert.equal(o.status, 'unknown');
  assert.match(
    o.message,
    /SPICE display \(line \d+\): no listen address is set, so it comes from the host's qemu\.conf \(spice_listen, default 127\.0\.0\.1\), which was not read/,
  );
  assert.equal(o.evidence, undefined, 'no evidence points at a qemu.conf that was not read');
  // An explicit address, a socket or listen none does not need the host.
  assert.equal(judge(fixtureDomain('graphics-vnc')).status, 'fail');
  assert.equal(judge(fixtureDomain('graphics-vnc-socket')).status, 'pass');
  // <listen type='address'/> without an address falls back to qemu.conf too.
  const bare = fixtureDomain(
    'usb-redir',
    replaceOnce("<graphics type='spice'/>", "<graphics type='vnc'><listen type='address'/></graphics>"),
  );
  const b = judge(bare);
  assert.equal(b.status, 'unknown');
  assert.match(b.message, /VNC display .*vnc_listen, default 127\.0\.0\.1/);
  // ...and with the host's qemu.conf read, the same display is judged.
  assert.equal(judge(bare, hostWithQemuConf()).status, 'pass');
  assert.equal(judge(bare, hostWithQemuConf(uncomment('vnc_listen = "0.0.0.0"'))).status, 'fail');
});

test("default: qemu.conf's spice_listen = 0.0.0.0 exposes a display that sets no address", () => {
  const kvm = hostWithQemuConf(uncomment('spice_listen = "0.0.0.0"'));
  const o = judge(fixtureDomain('usb-redir'), kvm);
  assert.equal(o.status, 'fail');
  const edited = uncomment('spice_listen = "0.0.0.0"')(confText);
  assert.deepEqual(o.evidence, {
    file: '/etc/libvirt/qemu.conf',
    line: lineOf(edited, '\nspice_listen = "0.0.0.0"') + 1,
    key: 'spice_listen',
    value: '0.0.0.0',
  });
  // ...unless qemu.conf sets a default password, or serves SPICE on a UNIX socket.
  assert.equal(
    judge(
      fixtureDomain('usb-redir'),
      hostWithQemuConf(uncomment('spice_listen = "0.0.0.0"'), uncomment('spice_password = "XYZ12345"')),
    ).status,
    'pass',
  );
  const sock = judge(
    fixtureDomain('usb-redir'),
    hostWithQemuConf(uncomment('spice_listen = "0.0.0.0"'), uncomment('spice_auto_unix_socket = 1')),
  );
  assert.equal(sock.status, 'pass');
  assert.match(sock.message, /spice_auto_unix_socket = 1/);
  // An explicit address in the domain is not affected by the socket default.
  assert.equal(
    judge(fixtureDomain('graphics-vnc'), hostWithQemuConf(uncomment('vnc_auto_unix_socket = 1'))).status,
    'fail',
  );
});

test('qemu.conf authentication: vnc_password, vnc_sasl, vnc_tls with client certificate verification', () => {
  const vnc = fixtureDomain('graphics-vnc');
  const pw = judge(vnc, hostWithQemuConf(uncomment('vnc_password = "XYZ12345"')));
  assert.equal(pw.status, 'pass');
  assert.ok(!pw.message.includes('XYZ12345'));
  assert.equal(judge(vnc, hostWithQemuConf(uncomment('vnc_sasl = 1'))).status, 'pass');
  assert.equal(
    judge(vnc, hostWithQemuConf(uncomment('vnc_tls = 1'), uncomment('vnc_tls_x509_verify = 1'))).status,
    'pass',
  );
  // TLS alone only encrypts: vnc_tls_x509_verify defaults to 0.
  assert.equal(judge(vnc, hostWithQemuConf(uncomment('vnc_tls = 1'))).status, 'fail');
  assert.equal(judge(vnc, hostWithQemuConf(replaceOnce('#vnc_sasl = 1', 'vnc_sasl = 0'))).status, 'fail');
});

test('unknown: qemu.conf unreadable when the default decides; passwords redacted by virsh', () => {
  const kvm = hostWithQemuConf();
  kvm.qemuConfState = 'unreadable';
  delete kvm.qemuConf;
  const o = judge(fixtureDomain('usb-redir'), kvm);
  assert.equal(o.status, 'unknown');
  assert.match(o.message, /qemu\.conf could not be read/);
  // An explicit address does not need qemu.conf.
  assert.equal(judge(fixtureDomain('graphics-vnc'), kvm).status, 'fail');

  const redacted = fixtureDomain('graphics-vnc');
  redacted.passwordsRedacted = true;
  const r = judge(redacted);
  assert.equal(r.status, 'unknown');
  assert.match(r.message, /without secrets/);

  // What virsh prints for a display with a password: passwd gone, passwdValidTo and connected kept.
  const timeout = fixtureDomain('graphics-spice-timeout', (x) =>
    replaceOnce("passwd='sercet' ", "listen='0.0.0.0' ")(x),
  );
  timeout.passwordsRedacted = true;
  const t = judge(timeout);
  assert.equal(t.status, 'pass');
  assert.match(t.message, /libvirt prints only for a set password/);
});

test('isLoopback', () => {
  for (const a of ['127.0.0.1', '127.255.0.9', '::1', '[::1]', '::ffff:127.0.0.2', 'LOCALHOST'])
    assert.ok(isLoopback(a), a);
  for (const a of [
    '0.0.0.0',
    '::',
    '10.0.0.1',
    '::ffff:10.0.0.1',
    '128.0.0.1',
    '1270.0.0.1',
    'host',
    '',
    ':::',
  ]) {
    assert.ok(!isLoopback(a), a);
  }
});
