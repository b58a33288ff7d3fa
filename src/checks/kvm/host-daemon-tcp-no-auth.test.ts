import assert from 'node:assert/strict';
import { test } from 'node:test';
import { daemonTcpNoAuth } from './host-daemon-tcp-no-auth.js';
import { debianHostTree, fixtureText, type HostTree } from '../../../test/helpers/kvm-host.js';

const LIBVIRTD = '/etc/libvirt/libvirtd.conf';
const PROXYD = '/etc/libvirt/virtproxyd.conf';

function run(t: HostTree) {
  const out = daemonTcpNoAuth.run(t.inventory(), { params: {} });
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

function authNone(t: HostTree, path: string): number {
  const line = t.uncomment(path, 'auth_tcp = "sasl"');
  t.replace(path, '\nauth_tcp = "sasl"\n', '\nauth_tcp = "none"\n');
  return line;
}

test('default: TCP listening off and auth_tcp = "sasl"', () =>
  withTree((t) => {
    const o = run(t);
    assert.equal(o.status, 'pass');
    assert.deepEqual(o.evidence, { file: LIBVIRTD, key: 'auth_tcp', value: 'sasl', isDefault: true });
  }));

test('fail: listen_tcp = 1 with auth_tcp = "none"', () =>
  withTree((t) => {
    t.uncomment(LIBVIRTD, 'listen_tcp = 1');
    const line = authNone(t, LIBVIRTD);
    const o = run(t);
    assert.equal(o.status, 'fail');
    assert.deepEqual(o.evidence, { file: LIBVIRTD, key: 'auth_tcp', value: 'none', line, isDefault: false });
  }));

test('auth_tcp = "none" passes while TCP is off, and fails once libvirtd-tcp.socket is enabled (socket activation)', () =>
  withTree((t) => {
    authNone(t, LIBVIRTD);
    assert.equal(run(t).status, 'pass');
    t.symlink(
      '/lib/systemd/system/libvirtd-tcp.socket',
      '/etc/systemd/system/sockets.target.wants/libvirtd-tcp.socket',
    );
    const o = run(t);
    assert.equal(o.status, 'fail');
    assert.match(o.message, /libvirtd-tcp\.socket is enabled/);
  }));

test('pass: listen_tcp = 1 with SASL', () =>
  withTree((t) => {
    t.uncomment(LIBVIRTD, 'listen_tcp = 1');
    t.uncomment(LIBVIRTD, 'auth_tcp = "sasl"');
    assert.equal(run(t).status, 'pass');
  }));

test('virtproxyd.conf is judged too; an unreadable one is unknown', () =>
  withTree((t) => {
    t.write(PROXYD, fixtureText(LIBVIRTD));
    t.uncomment(PROXYD, 'listen_tcp = 1');
    const line = authNone(t, PROXYD);
    let o = run(t);
    assert.equal(o.status, 'fail');
    assert.deepEqual(o.evidence, { file: PROXYD, key: 'auth_tcp', value: 'none', line, isDefault: false });
    assert.match(o.message, /^virtproxyd:/);
    t.write(PROXYD, 'listen_tcp = yes\n');
    o = run(t);
    assert.equal(o.status, 'unknown');
    assert.deepEqual(o.evidence, { file: PROXYD });
  }));
