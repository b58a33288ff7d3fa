import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { debianHostTree, fixtureText, FIXTURE_PACKAGES, lineOf } from '../../../test/helpers/kvm-host.js';
import type { RootReader } from '../../inspect/system.js';
import { DirRoot } from '../../source/dir.js';
import { onlyHyperwardErrors } from '../../../test/helpers/fuzz.js';
import { tempDir } from '../../../test/helpers/tmp.js';
import { readFileSync } from 'node:fs';
import { parseUnitSocketSection, readKvmHost } from './host.js';

function controlField(pkg: string, field: string): string {
  const text = readFileSync(join(FIXTURE_PACKAGES, `${pkg}.control`), 'utf8');
  return new RegExp(`^${field}: (.*)$`, 'm').exec(text)![1]!;
}

test('a Debian 12 libvirt host as installed: files, daemon, sockets, polkit, packages, AppArmor, QEMU user default', () => {
  const t = debianHostTree();
  try {
    const { kvm, unreadable } = t.scan();
    assert.deepEqual(unreadable, []);
    assert.equal(kvm.libvirtInstalled, true);
    assert.equal(kvm.qemuConfState, 'parsed');
    assert.equal(Object.keys(kvm.qemuConf!.entries).length, 0, 'the shipped qemu.conf sets nothing');
    assert.deepEqual(
      kvm.daemons.map((d) => d.name),
      ['libvirtd'],
    );
    const d = kvm.daemons[0]!;
    assert.equal(d.confState, 'parsed');
    assert.equal(d.sockets.main!.file, '/lib/systemd/system/libvirtd.socket');
    assert.equal(d.sockets.main!.enabled, true);
    const unitText = fixtureText('/lib/systemd/system/libvirtd.socket');
    assert.deepEqual(d.sockets.main!.socketMode, {
      key: 'SocketMode',
      value: '0666',
      file: '/lib/systemd/system/libvirtd.socket',
      line: lineOf(unitText, 'SocketMode=0666'),
    });
    assert.equal(d.sockets.tcp!.enabled, false);
    assert.equal(d.sockets.tls!.enabled, false);

    assert.deepEqual(kvm.polkitRules, [
      {
        path: '/usr/share/polkit-1/rules.d/60-libvirt.rules',
        size: Buffer.byteLength(fixtureText('/usr/share/polkit-1/rules.d/60-libvirt.rules')),
        actions: ['org.libvirt.unix.manage'],
        groups: ['libvirt'],
        grantsWithoutAuth: true,
      },
    ]);
    assert.deepEqual(
      kvm.packages.map((p) => `${p.name} ${p.version}`).sort(),
      ['libvirt-daemon', 'libvirt-daemon-driver-qemu', 'libvirt-daemon-system', 'qemu-system-x86']
        .map((n) => `${n} ${controlField(n, 'Version')}`)
        .sort(),
    );
    assert.equal(kvm.mac.apparmorInstalled, `package apparmor ${controlField('apparmor', 'Version')}`);
    assert.equal(kvm.mac.apparmorLibvirtTemplate, '/etc/apparmor.d/libvirt/TEMPLATE.qemu');
    assert.equal(kvm.mac.selinux, undefined);
    assert.equal(kvm.qemuUserDefault!.value, 'libvirt-qemu');
    assert.match(kvm.qemuUserDefault!.basis, /libvirt-daemon/);
    assert.equal(kvm.passwd!.uids['libvirt-qemu'], 64055);
    assert.deepEqual(kvm.hooks, []);
  } finally {
    t.cleanup();
  }
});

test('without the dpkg database the QEMU user default comes from the shipped "#user = ..." line', () => {
  const t = debianHostTree({ packages: false });
  try {
    const { kvm } = t.scan();
    assert.deepEqual(kvm.packages, []);
    assert.equal(kvm.qemuUserDefault!.value, 'libvirt-qemu');
    assert.equal(
      kvm.qemuUserDefault!.line,
      lineOf(fixtureText('/etc/libvirt/qemu.conf'), '#user = "libvirt-qemu"'),
    );
    t.replace('/etc/libvirt/qemu.conf', '#user = "libvirt-qemu"', '#user = "someone"  # edited');
    assert.equal(t.scan().kvm.qemuUserDefault, undefined);
  } finally {
    t.cleanup();
  }
});

test('modular daemons, drop-ins, masked units, hooks and SELinux are read', () => {
  const t = debianHostTree();
  try {
    const libvirtd = fixtureText('/etc/libvirt/libvirtd.conf');
    t.write('/etc/libvirt/virtproxyd.conf', libvirtd);
    t.write('/etc/libvirt/virtqemud.conf', libvirtd);
    t.uncomment('/etc/libvirt/virtqemud.conf', 'auth_unix_rw = "polkit"');
    t.write('/usr/sbin/virtqemud', '');
    // A drop-in in /etc overrides the vendor unit; a later-named one overrides an earlier one.
    t.write(
      '/etc/systemd/system/libvirtd.socket.d/10-mode.conf',
      '[Socket]\nSocketMode=0660\nSocketGroup=libvirt\n',
    );
    t.write('/etc/systemd/system/libvirtd.socket.d/20-mode.conf', '[Socket]\nSocketMode=0600\n');
    t.write('/lib/systemd/system/libvirtd.socket.d/20-mode.conf', '[Socket]\nSocketMode=0777\n');
    // virtproxyd-tcp.socket masked (a link to /dev/null), virtproxyd.socket enabled.
    t.write(
      '/lib/systemd/system/virtproxyd.socket',
      '[Socket]\nListenStream=/run/libvirt/libvirt-sock\nSocketMode=0666\n',
    );
    t.write('/lib/systemd/system/virtproxyd-tcp.socket', '[Socket]\nListenStream=16509\n');
    t.symlink('/dev/null', '/etc/systemd/system/virtproxyd-tcp.socket');
    t.symlink(
      '/lib/systemd/system/virtproxyd.socket',
      '/etc/systemd/system/sockets.target.wants/virtproxyd.socket',
    );
    t.write('/etc/libvirt/hooks/qemu', '#!/bin/sh\nexit 0\n');
    t.write('/etc/libvirt/hooks/network.d/10-fw', '#!/bin/sh\n');
    t.write('/etc/selinux/config', '# comment\nSELINUX=enforcing\nSELINUXTYPE=targeted\n');
    const { kvm, unreadable } = t.scan();
    assert.deepEqual(unreadable, []);
    assert.deepEqual(
      kvm.daemons.map((d) => d.name),
      ['libvirtd', 'virtqemud', 'virtproxyd'],
    );
    const [libvirtdD, qemud, proxyd] = kvm.daemons as [
      (typeof kvm.daemons)[0],
      (typeof kvm.daemons)[0],
      (typeof kvm.daemons)[0],
    ];
    assert.equal(libvirtdD.sockets.main!.socketMode!.value, '0600');
    assert.equal(
      libvirtdD.sockets.main!.socketMode!.file,
      '/etc/systemd/system/libvirtd.socket.d/20-mode.conf',
    );
    assert.equal(libvirtdD.sockets.main!.socketGroup!.value, 'libvirt');
    assert.equal(qemud.binary, '/usr/sbin/virtqemud');
    assert.equal(qemud.conf!.entries.auth_unix_rw!.line, lineOf(libvirtd, '#auth_unix_rw = "polkit"'));
    assert.equal(proxyd.sockets.main!.enabled, true);
    assert.equal(proxyd.sockets.tcp, undefined, 'masked');
    assert.deepEqual(kvm.hooks, [
      { path: '/etc/libvirt/hooks/network.d', kind: 'dir' },
      { path: '/etc/libvirt/hooks/network.d/10-fw', kind: 'file', size: 10 },
      { path: '/etc/libvirt/hooks/qemu', kind: 'file', size: 17 },
    ]);
    assert.deepEqual(kvm.mac.selinux, {
      key: 'SELINUX',
      value: 'enforcing',
      file: '/etc/selinux/config',
      line: 2,
    });
  } finally {
    t.cleanup();
  }
});

test('a configuration file libvirt would reject, or one too large to read, is unreadable and the rest is read', () => {
  const t = debianHostTree();
  try {
    t.replace('/etc/libvirt/qemu.conf', '#vnc_listen = "0.0.0.0"', 'vnc_listen = "0.0.0.0');
    const line = lineOf(t.read('/etc/libvirt/qemu.conf'), 'vnc_listen = "0.0.0.0');
    t.write('/etc/libvirt/virtproxyd.conf', '#'.repeat(11 * 1024 * 1024));
    const { kvm, unreadable } = t.scan();
    assert.equal(kvm.qemuConfState, 'unreadable');
    assert.equal(kvm.qemuConf, undefined);
    assert.deepEqual(unreadable.map((u) => u.file).sort(), [
      '/etc/libvirt/qemu.conf',
      '/etc/libvirt/virtproxyd.conf',
    ]);
    const q = unreadable.find((u) => u.file === '/etc/libvirt/qemu.conf')!;
    assert.equal(q.code, 'E_UNSUPPORTED_FORMAT');
    assert.match(q.message, new RegExp(`line ${line}:`));
    assert.equal(unreadable.find((u) => u.file === '/etc/libvirt/virtproxyd.conf')!.code, 'E_LIMIT');
    assert.equal(kvm.daemons.find((d) => d.name === 'virtproxyd')!.confState, 'unreadable');
    assert.equal(kvm.daemons.find((d) => d.name === 'libvirtd')!.confState, 'parsed');
  } finally {
    t.cleanup();
  }
});

test('a root without libvirt or QEMU has no KVM host; QEMU alone is a host without libvirt', () => {
  const t = tempDir('hyperward-kvm-none-');
  try {
    mkdirSync(join(t.dir, 'etc'), { recursive: true });
    writeFileSync(join(t.dir, 'etc/hostname'), 'plain\n');
    assert.equal(readKvmHost(new DirRoot(t.dir)), undefined);
    mkdirSync(join(t.dir, 'usr/bin'), { recursive: true });
    writeFileSync(join(t.dir, 'usr/bin/qemu-system-x86_64'), '');
    const r = readKvmHost(new DirRoot(t.dir))!;
    assert.equal(r.kvm.libvirtInstalled, false);
    assert.equal(r.kvm.qemuConfState, 'absent');
    assert.deepEqual(r.kvm.daemons, []);
  } finally {
    t.cleanup();
  }
});

test('systemd [Socket] parsing: section scoping, comments and later assignments', () => {
  const text =
    '[Unit]\nSocketMode=0600\n[Socket]\n# SocketMode=0600\n; x\nSocketMode = 0666\nSocketGroup=kvm\n[Install]\nSocketGroup=no\n';
  assert.deepEqual(parseUnitSocketSection(text, 'u'), [
    { key: 'SocketMode', value: '0666', file: 'u', line: 6 },
    { key: 'SocketGroup', value: 'kvm', file: 'u', line: 7 },
  ]);
});

test('property: hostile file contents anywhere the reader looks never escape as anything but unreadable entries', () => {
  const paths = [
    '/etc/libvirt/qemu.conf',
    '/etc/libvirt/libvirtd.conf',
    '/etc/libvirt/virtproxyd.conf',
    '/etc/passwd',
    '/etc/selinux/config',
    '/lib/systemd/system/libvirtd.socket',
    '/etc/systemd/system/libvirtd.socket.d/x.conf',
    '/usr/share/polkit-1/rules.d/60-libvirt.rules',
    '/var/lib/dpkg/status',
  ];
  const files = new Map<string, Buffer>();
  const t = debianHostTree();
  try {
    for (const p of paths) {
      try {
        files.set(p, Buffer.from(t.read(p)));
      } catch {
        files.set(p, Buffer.from('[Socket]\nSocketMode=0600\n'));
      }
    }
  } finally {
    t.cleanup();
  }
  const dirs = new Map<string, string[]>();
  for (const p of paths) {
    const slash = p.lastIndexOf('/');
    const d = p.slice(0, slash);
    dirs.set(d, [...(dirs.get(d) ?? []), p.slice(slash + 1)]);
  }
  dirs.set('/etc/systemd/system/sockets.target.wants', ['libvirtd.socket']);
  fc.assert(
    fc.property(
      fc.constantFrom(...paths),
      fc.uint8Array({ maxLength: 2000 }),
      fc.boolean(),
      (path, bytes, append) => {
        const mem = new Map(files);
        mem.set(path, append ? Buffer.concat([mem.get(path)!, Buffer.from(bytes)]) : Buffer.from(bytes));
        const root: RootReader = {
          tryReadFile: (p, max) => {
            const b = mem.get(p);
            return b !== undefined && (max === undefined || b.length <= max) ? b : undefined;
          },
          list: (p) => dirs.get(p),
        };
        onlyHyperwardErrors(() => {
          const r = readKvmHost(root)!;
          assert.ok(r.kvm.libvirtInstalled);
          for (const u of r.unreadable) assert.ok(paths.includes(u.file), u.file);
        });
      },
    ),
    { numRuns: 300 },
  );
});

test('hook scripts are read only up to a small cap: a large one is recorded as unread, never read in full', () => {
  const t = debianHostTree();
  try {
    const small = '#!/bin/sh\nexit 0\n';
    // A real-looking large hook: a shell script of 1 MiB (a big embedded payload, as some vendors ship).
    const large = `#!/bin/sh\n${'# padding line of a large hook script\n'.repeat(28_000)}exit 0\n`;
    assert.ok(large.length > 1024 * 1024);
    t.write('/etc/libvirt/hooks/qemu', small);
    t.write('/etc/libvirt/hooks/daemon', large);
    const dir = new DirRoot(t.dir);
    const asked = new Map<string, number | undefined>();
    const spy: RootReader = {
      tryReadFile(path, maxBytes) {
        if (path.startsWith('/etc/libvirt/hooks/')) asked.set(path, maxBytes);
        return dir.tryReadFile(path, maxBytes);
      },
      list: (path) => dir.list(path),
    };
    const { kvm } = readKvmHost(spy)!;
    assert.deepEqual(kvm.hooks, [
      { path: '/etc/libvirt/hooks/daemon', kind: 'unread' },
      { path: '/etc/libvirt/hooks/qemu', kind: 'file', size: Buffer.byteLength(small) },
    ]);
    assert.deepEqual([...asked.keys()].sort(), ['/etc/libvirt/hooks/daemon', '/etc/libvirt/hooks/qemu']);
    for (const [path, cap] of asked) {
      assert.ok(cap !== undefined && cap <= 64 * 1024, `${path} read with cap ${cap}`);
    }
  } finally {
    t.cleanup();
  }
});
