import assert from 'node:assert/strict';
import { test } from 'node:test';
import { debianHostTree, type HostTree } from '../../../test/helpers/kvm-host.js';
import { tlsNoVerify } from './host-tls-no-verify.js';

const QEMU = '/etc/libvirt/qemu.conf';
const LIBVIRTD = '/etc/libvirt/libvirtd.conf';

function run(t: HostTree) {
  const out = tlsNoVerify.run(t.inventory(), { params: {} });
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

function setTo0(t: HostTree, path: string, line: string): number {
  const n = t.uncomment(path, line);
  t.replace(path, `\n${line}\n`, `\n${line.replace(/= 1$/, '= 0')}\n`);
  return n;
}

test('default: libvirtd verifies client certificates, migration and backup TLS verify (built-in 1)', () =>
  withTree((t) => {
    const o = run(t);
    assert.equal(o.status, 'pass');
    assert.deepEqual(o.evidence, {
      file: LIBVIRTD,
      key: 'tls_no_verify_certificate',
      value: '0',
      isDefault: true,
    });
  }));

test('fail: tls_no_verify_certificate = 1 in libvirtd.conf', () =>
  withTree((t) => {
    const line = t.uncomment(LIBVIRTD, 'tls_no_verify_certificate = 1');
    const o = run(t);
    assert.equal(o.status, 'fail');
    assert.deepEqual(o.evidence, {
      file: LIBVIRTD,
      key: 'tls_no_verify_certificate',
      value: '1',
      line,
      isDefault: false,
    });
  }));

test('fail: default_tls_x509_verify = 0 turns verification off for migration and backup', () =>
  withTree((t) => {
    const line = setTo0(t, QEMU, 'default_tls_x509_verify = 1');
    const o = run(t);
    assert.equal(o.status, 'fail');
    assert.match(o.message, /^migration TLS.*; backup \(NBD\) TLS/);
    assert.deepEqual(o.evidence, {
      file: QEMU,
      key: 'default_tls_x509_verify',
      value: '0',
      line,
      isDefault: false,
    });
    // The specific key wins over the default.
    t.uncomment(QEMU, 'migrate_tls_x509_verify = 1');
    t.uncomment(QEMU, 'backup_tls_x509_verify = 1');
    assert.equal(run(t).status, 'pass');
  }));

test('fail: migrate_tls_x509_verify = 0', () =>
  withTree((t) => {
    const line = setTo0(t, QEMU, 'migrate_tls_x509_verify = 1');
    const o = run(t);
    assert.equal(o.status, 'fail');
    assert.deepEqual(o.evidence, {
      file: QEMU,
      key: 'migrate_tls_x509_verify',
      value: '0',
      line,
      isDefault: false,
    });
  }));

test('chardev TLS: judged once enabled; its default verifies, chardev_tls_x509_verify = 0 fails', () =>
  withTree((t) => {
    t.uncomment(QEMU, 'chardev_tls = 1');
    assert.equal(run(t).status, 'pass');
    setTo0(t, QEMU, 'chardev_tls_x509_verify = 1');
    assert.equal(run(t).status, 'fail');
  }));

test('VNC with TLS on a public address: its built-in default (0) does not verify clients', () =>
  withTree((t) => {
    t.uncomment(QEMU, 'vnc_tls = 1');
    assert.equal(run(t).status, 'pass', 'loopback VNC is not judged');
    t.uncomment(QEMU, 'vnc_listen = "0.0.0.0"');
    let o = run(t);
    assert.equal(o.status, 'fail');
    assert.deepEqual(o.evidence, { file: QEMU, key: 'vnc_tls_x509_verify', value: '0', isDefault: true });
    t.uncomment(QEMU, 'vnc_tls_x509_verify = 1');
    o = run(t);
    assert.equal(o.status, 'pass');
  }));

test('unknown: qemu.conf unreadable', () =>
  withTree((t) => {
    t.write(QEMU, 'vnc_tls = \n');
    assert.equal(run(t).status, 'unknown');
  }));
