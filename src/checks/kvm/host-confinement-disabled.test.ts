import assert from 'node:assert/strict';
import { test } from 'node:test';
import { emptyInventory } from '../../model/host.js';
import { confinementDisabled } from './host-confinement-disabled.js';
import { debianHostTree, type HostTree } from '../../../test/helpers/kvm-host.js';

const QEMU = '/etc/libvirt/qemu.conf';

function run(t: HostTree) {
  const out = confinementDisabled.run(t.inventory(), { params: {} });
  assert.equal(out.length, 1);
  assert.deepEqual(out[0]!.resource, { type: 'host', id: 'host/kvm1' });
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

test('default (Debian 12 as shipped): no security_driver, libvirt probes AppArmor, installed with its guest template', () =>
  withTree((t) => {
    const o = run(t);
    assert.equal(o.status, 'pass');
    assert.deepEqual(o.evidence, { file: QEMU, key: 'security_driver', value: 'apparmor', isDefault: true });
  }));

test('default without any MAC framework on the host: libvirt falls back to no confinement', () =>
  withTree((t) => {
    t.write(
      '/var/lib/dpkg/status',
      t.read('/var/lib/dpkg/status').replace(/Package: apparmor\n[\s\S]*?\n\n/, ''),
    );
    let o = run(t);
    assert.equal(o.status, 'fail');
    assert.deepEqual(o.evidence, { file: QEMU, key: 'security_driver', value: 'none', isDefault: true });
    t.write('/etc/selinux/config', 'SELINUX=permissive\n');
    o = run(t);
    assert.equal(o.status, 'fail');
    assert.match(o.message, /permissive/);
    t.write('/etc/selinux/config', 'SELINUX=enforcing\n');
    o = run(t);
    assert.equal(o.status, 'pass');
    assert.equal(o.evidence!.value, 'selinux');
  }));

test('AppArmor disabled in the running kernel: the probe finds nothing', () =>
  withTree((t) => {
    t.write('/sys/module/apparmor/parameters/enabled', 'N\n');
    assert.equal(run(t).status, 'fail');
    t.write('/sys/module/apparmor/parameters/enabled', 'Y\n');
    assert.equal(run(t).status, 'pass');
  }));

test('fail: security_driver = "none"', () =>
  withTree((t) => {
    const line = t.uncomment(QEMU, 'security_driver = "selinux"');
    t.replace(QEMU, '\nsecurity_driver = "selinux"\n', '\nsecurity_driver = "none"\n');
    const o = run(t);
    assert.equal(o.status, 'fail');
    assert.deepEqual(o.evidence, {
      file: QEMU,
      key: 'security_driver',
      value: 'none',
      line,
      isDefault: false,
    });
  }));

test('fail: security_default_confined = 0, even with a driver', () =>
  withTree((t) => {
    t.uncomment(QEMU, 'security_driver = "selinux"');
    const line = t.uncomment(QEMU, 'security_default_confined = 1');
    t.replace(QEMU, '\nsecurity_default_confined = 1\n', '\nsecurity_default_confined = 0\n');
    const o = run(t);
    assert.equal(o.status, 'fail');
    assert.deepEqual(o.evidence, {
      file: QEMU,
      key: 'security_default_confined',
      value: '0',
      line,
      isDefault: false,
    });
  }));

test('pass: an explicit driver, as a string or as the documented list', () =>
  withTree((t) => {
    const line = t.uncomment(QEMU, 'security_driver = "selinux"');
    let o = run(t);
    assert.equal(o.status, 'pass');
    assert.equal(o.evidence!.line, line);
    t.replace(QEMU, '\nsecurity_driver = "selinux"\n', '\nsecurity_driver = [ "selinux", "apparmor" ]\n');
    o = run(t);
    assert.equal(o.status, 'pass');
    assert.equal(o.evidence!.value, '["selinux", "apparmor"]');
  }));

test('unknown: a value libvirt rejects, or an unreadable qemu.conf', () =>
  withTree((t) => {
    t.uncomment(QEMU, 'security_driver = "selinux"');
    t.replace(QEMU, '\nsecurity_driver = "selinux"\n', '\nsecurity_driver = 1\n');
    assert.equal(run(t).status, 'unknown');
    t.replace(QEMU, '\nsecurity_driver = 1\n', '\nsecurity_driver = "selinux\n');
    const o = run(t);
    assert.equal(o.status, 'unknown');
    assert.deepEqual(o.evidence, { file: QEMU });
  }));

test('not applicable without libvirt', () => {
  assert.deepEqual(confinementDisabled.run(emptyInventory('x', 'files'), { params: {} }), []);
});
