import assert from 'node:assert/strict';
import { test } from 'node:test';
import { consoleListenAllNoTls } from './host-console-listen-all-no-tls.js';
import { debianHostTree, type HostTree } from '../../../test/helpers/kvm-host.js';

const QEMU = '/etc/libvirt/qemu.conf';

function run(t: HostTree) {
  const out = consoleListenAllNoTls.run(t.inventory(), { params: {} });
  assert.equal(out.length, 1);
  return out[0]!;
}

function withTree(fn: (t: HostTree) => void): void {
  const t = debianHostTree();
  try {
    fn(t);
  } finally {
    t.cleanup();
  }
}

test('default: VNC and SPICE listen on 127.0.0.1', () =>
  withTree((t) => {
    const o = run(t);
    assert.equal(o.status, 'pass');
    assert.deepEqual(o.evidence, { file: QEMU, key: 'vnc_listen', value: '127.0.0.1', isDefault: true });
  }));

test('fail: vnc_listen = "0.0.0.0" without vnc_tls; pass once vnc_tls = 1 or vnc_auto_unix_socket = 1', () =>
  withTree((t) => {
    const line = t.uncomment(QEMU, 'vnc_listen = "0.0.0.0"');
    let o = run(t);
    assert.equal(o.status, 'fail');
    assert.deepEqual(o.evidence, { file: QEMU, key: 'vnc_listen', value: '0.0.0.0', line, isDefault: false });
    assert.match(o.message, /VNC.*vnc_tls = 0 \(default\)/);
    const tls = t.uncomment(QEMU, 'vnc_tls = 1');
    o = run(t);
    assert.equal(o.status, 'pass');
    assert.match(o.message, new RegExp(`vnc_tls = 1 \\(${QEMU}:${tls}\\)`));
    t.replace(QEMU, '\nvnc_tls = 1\n', '\nvnc_tls = 0\n');
    assert.equal(run(t).status, 'fail');
    t.uncomment(QEMU, 'vnc_auto_unix_socket = 1');
    assert.equal(run(t).status, 'pass');
  }));

test('fail: spice_listen on :: or a routable address without spice_tls', () =>
  withTree((t) => {
    const line = t.uncomment(QEMU, 'spice_listen = "0.0.0.0"');
    t.replace(QEMU, '\nspice_listen = "0.0.0.0"\n', '\nspice_listen = "::"\n');
    const o = run(t);
    assert.equal(o.status, 'fail');
    assert.deepEqual(o.evidence, { file: QEMU, key: 'spice_listen', value: '::', line, isDefault: false });
    t.replace(QEMU, '\nspice_listen = "::"\n', '\nspice_listen = "192.0.2.10"\n');
    assert.equal(run(t).status, 'fail');
    t.replace(QEMU, '\nspice_listen = "192.0.2.10"\n', '\nspice_listen = "::1"\n');
    assert.equal(run(t).status, 'pass');
    t.replace(QEMU, '\nspice_listen = "::1"\n', '\nspice_listen = 0\n');
    assert.equal(run(t).status, 'unknown');
  }));
