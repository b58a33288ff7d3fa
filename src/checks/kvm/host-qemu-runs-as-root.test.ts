import assert from 'node:assert/strict';
import { test } from 'node:test';
import { debianHostTree, lineOf, type HostTree } from '../../../test/helpers/kvm-host.js';
import { qemuRunsAsRoot, qemuUid } from './host-qemu-runs-as-root.js';

const QEMU = '/etc/libvirt/qemu.conf';

function run(t: HostTree) {
  const out = qemuRunsAsRoot.run(t.inventory(), { params: {} });
  assert.equal(out.length, 1);
  return out[0]!;
}

function withTree(fn: (t: HostTree) => void, packages = true): void {
  const t = debianHostTree({ packages });
  try {
    fn(t);
  } finally {
    t.cleanup();
  }
}

function setUser(t: HostTree, value: string): number {
  const line = t.uncomment(QEMU, 'user = "libvirt-qemu"');
  t.replace(QEMU, '\nuser = "libvirt-qemu"\n', `\nuser = ${value}\n`);
  return line;
}

test('default (Debian 12): no user in qemu.conf, the Debian build runs QEMU as libvirt-qemu', () =>
  withTree((t) => {
    const o = run(t);
    assert.equal(o.status, 'pass');
    assert.deepEqual(o.evidence, { file: QEMU, key: 'user', value: 'libvirt-qemu', isDefault: true });
    assert.match(o.message, /uid 64055/);
  }));

test('default without the dpkg database: taken from the shipped "#user = ..." line; unknown when that is gone', () =>
  withTree((t) => {
    let o = run(t);
    assert.equal(o.status, 'pass');
    assert.match(o.message, new RegExp(`${QEMU}:${lineOf(t.read(QEMU), '#user = "libvirt-qemu"')}`));
    t.replace(QEMU, '\n#user = "libvirt-qemu"\n', '\n#user = "libvirt-qemu" # edited\n');
    o = run(t);
    assert.equal(o.status, 'unknown');
    assert.deepEqual(o.evidence, { file: QEMU, key: 'user', isDefault: true });
  }, false));

test('fail: user = "root", "+0", or a name whose uid is 0', () =>
  withTree((t) => {
    const line = setUser(t, '"root"');
    const o = run(t);
    assert.equal(o.status, 'fail');
    assert.deepEqual(o.evidence, { file: QEMU, key: 'user', value: 'root', line, isDefault: false });
    t.replace(QEMU, '\nuser = "root"\n', '\nuser = "+0"\n');
    assert.equal(run(t).status, 'fail');
    t.replace(QEMU, '\nuser = "+0"\n', '\nuser = "toor"\n');
    assert.equal(run(t).status, 'pass', 'toor is not in /etc/passwd');
    t.write('/etc/passwd', `${t.read('/etc/passwd')}toor:x:0:0::/root:/bin/sh\n`);
    assert.equal(run(t).status, 'fail');
  }));

test('pass: an unprivileged name or uid', () =>
  withTree((t) => {
    setUser(t, '"+64055"');
    assert.equal(run(t).status, 'pass');
  }));

test('unknown: user given as a number rather than a string', () =>
  withTree((t) => {
    setUser(t, '0');
    assert.equal(run(t).status, 'unknown');
  }));

test('uid resolution follows qemu.conf: "+N" is a uid, otherwise a name first, then a number', () => {
  const passwd = { file: '/etc/passwd', uids: { '0': 1000, qemu: 107 } };
  assert.equal(qemuUid('+0', passwd), 0);
  assert.equal(qemuUid('0', passwd), 1000);
  assert.equal(qemuUid('0', undefined), 0);
  assert.equal(qemuUid('qemu', passwd), 107);
  assert.equal(qemuUid('root', undefined), 0);
  assert.equal(qemuUid('nobody-here', passwd), undefined);
});
