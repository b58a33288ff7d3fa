import assert from 'node:assert/strict';
import { test } from 'node:test';
import { debianHostTree, lineOf, type HostTree } from '../../../test/helpers/kvm-host.js';
import { unixSocketNoAuth } from './host-unix-socket-no-auth.js';

const LIBVIRTD = '/etc/libvirt/libvirtd.conf';

function run(t: HostTree) {
  const out = unixSocketNoAuth.run(t.inventory(), { params: {} });
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

function authNone(t: HostTree): number {
  const line = t.uncomment(LIBVIRTD, 'auth_unix_rw = "polkit"');
  t.replace(LIBVIRTD, '\nauth_unix_rw = "polkit"\n', '\nauth_unix_rw = "none"\n');
  return line;
}

test('default: auth_unix_rw is polkit', () =>
  withTree((t) => {
    const o = run(t);
    assert.equal(o.status, 'pass');
    assert.deepEqual(o.evidence, { file: LIBVIRTD, key: 'auth_unix_rw', value: 'polkit', isDefault: true });
  }));

test('fail: auth_unix_rw = "none" under socket activation, where Debian\'s libvirtd.socket sets SocketMode=0666', () =>
  withTree((t) => {
    const line = authNone(t);
    const o = run(t);
    assert.equal(o.status, 'fail');
    assert.deepEqual(o.evidence, {
      file: LIBVIRTD,
      key: 'auth_unix_rw',
      value: 'none',
      line,
      isDefault: false,
    });
    const unit = '/lib/systemd/system/libvirtd.socket';
    assert.match(
      o.message,
      new RegExp(`SocketMode=0666 \\(${unit}:${lineOf(t.read(unit), 'SocketMode=0666')}\\)`),
    );
  }));

test('pass: auth_unix_rw = "none" with a drop-in restricting the socket to a group', () =>
  withTree((t) => {
    authNone(t);
    t.write(
      '/etc/systemd/system/libvirtd.socket.d/override.conf',
      '[Socket]\nSocketMode=0660\nSocketGroup=libvirt\n',
    );
    const o = run(t);
    assert.equal(o.status, 'pass');
    assert.match(o.message, /group "libvirt"/);
  }));

test('without socket activation the daemon applies unix_sock_rw_perms: its default 0700 passes, 0777 fails', () =>
  withTree((t) => {
    t.remove('/etc/systemd/system/sockets.target.wants/libvirtd.socket');
    authNone(t);
    assert.equal(run(t).status, 'pass');
    t.uncomment(LIBVIRTD, 'unix_sock_rw_perms = "0770"');
    t.uncomment(LIBVIRTD, 'unix_sock_group = "libvirt"');
    assert.equal(run(t).status, 'pass');
    t.replace(LIBVIRTD, '\nunix_sock_rw_perms = "0770"\n', '\nunix_sock_rw_perms = "0777"\n');
    assert.equal(run(t).status, 'fail');
    t.replace(LIBVIRTD, '\nunix_sock_rw_perms = "0777"\n', '\nunix_sock_rw_perms = "rwx"\n');
    assert.equal(run(t).status, 'unknown');
  }));
