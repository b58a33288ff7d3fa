import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { isHyperwardError } from '../errors.js';
import { tempDir } from '../../test/helpers/tmp.js';
import { DirRoot } from './dir.js';

/** A root tree with a file outside it that no path may reach. */
function setup(): { root: string; outside: string; cleanup: () => void } {
  const t = tempDir('hyperward-dirroot-');
  const root = join(t.dir, 'root');
  const outside = join(t.dir, 'outside');
  mkdirSync(join(root, 'etc/libvirt'), { recursive: true });
  mkdirSync(join(root, 'usr/lib/systemd/system'), { recursive: true });
  mkdirSync(outside);
  writeFileSync(join(outside, 'secret'), 'host secret\n');
  writeFileSync(join(root, 'etc/hostname'), 'guest\n');
  writeFileSync(join(root, 'etc/libvirt/qemu.conf'), 'user = "libvirt-qemu"\n');
  writeFileSync(join(root, 'usr/lib/systemd/system/libvirtd.socket'), '[Socket]\nSocketMode=0666\n');
  return { root, outside, cleanup: t.cleanup };
}

test('reads files and lists directories of the tree', () => {
  const s = setup();
  try {
    const r = new DirRoot(s.root);
    assert.equal(r.tryReadFile('/etc/hostname')!.toString(), 'guest\n');
    assert.equal(r.tryReadFile('etc/hostname')!.toString(), 'guest\n');
    assert.deepEqual(r.list('/etc')!.sort(), ['hostname', 'libvirt']);
    assert.deepEqual(r.list('/')!.sort(), ['etc', 'usr']);
    assert.equal(r.tryReadFile('/etc/missing'), undefined);
    assert.equal(r.tryReadFile('/etc'), undefined, 'a directory is not a file');
    assert.equal(r.list('/etc/hostname'), undefined, 'a file is not a directory');
    assert.equal(r.list('/nope'), undefined);
    assert.equal(r.tryReadFile('/etc/hostname/x'), undefined);
  } finally {
    s.cleanup();
  }
});

test('`..` stops at the root, as in a chroot', () => {
  const s = setup();
  try {
    const r = new DirRoot(s.root);
    assert.equal(r.tryReadFile('/../../etc/hostname')!.toString(), 'guest\n');
    assert.equal(r.tryReadFile('/etc/../../../outside/secret'), undefined);
    assert.deepEqual(r.list('/..')!.sort(), ['etc', 'usr']);
  } finally {
    s.cleanup();
  }
});

test('symbolic links resolve inside the tree: absolute targets from the tree root, relative ones from the link', () => {
  const s = setup();
  try {
    // merged /usr: lib -> usr/lib; a systemd enablement link with an absolute target; an /etc/alternatives style chain.
    symlinkSync('usr/lib', join(s.root, 'lib'));
    mkdirSync(join(s.root, 'etc/systemd/system/sockets.target.wants'), { recursive: true });
    symlinkSync(
      '/lib/systemd/system/libvirtd.socket',
      join(s.root, 'etc/systemd/system/sockets.target.wants/libvirtd.socket'),
    );
    symlinkSync('/etc/hostname', join(s.root, 'etc/alias1'));
    symlinkSync('alias1', join(s.root, 'etc/alias2'));
    const r = new DirRoot(s.root);
    const unit = readFileSync(join(s.root, 'usr/lib/systemd/system/libvirtd.socket'));
    assert.deepEqual(r.tryReadFile('/etc/systemd/system/sockets.target.wants/libvirtd.socket'), unit);
    assert.deepEqual(r.tryReadFile('/lib/systemd/system/libvirtd.socket'), unit);
    assert.deepEqual(r.list('/lib/systemd/system'), ['libvirtd.socket']);
    assert.equal(r.tryReadFile('/etc/alias2')!.toString(), 'guest\n');
  } finally {
    s.cleanup();
  }
});

test('links that point outside the tree never reach the outside', () => {
  const s = setup();
  try {
    // An absolute target names the tree's own path, not the scanning machine's.
    symlinkSync(join(s.outside, 'secret'), join(s.root, 'etc/abs'));
    symlinkSync('../../outside/secret', join(s.root, 'etc/rel'));
    symlinkSync(s.outside, join(s.root, 'etc/dirlink'));
    symlinkSync('../../../../../../../../outside', join(s.root, 'etc/deep'));
    // A link to the host's /etc/hostname reads the tree's /etc/hostname.
    symlinkSync('/etc/hostname', join(s.root, 'etc/host-hostname'));
    const r = new DirRoot(s.root);
    for (const p of ['/etc/abs', '/etc/rel', '/etc/dirlink/secret', '/etc/deep/secret']) {
      assert.equal(r.tryReadFile(p), undefined, p);
    }
    assert.equal(r.list('/etc/dirlink'), undefined);
    assert.equal(r.tryReadFile('/etc/host-hostname')!.toString(), 'guest\n');
  } finally {
    s.cleanup();
  }
});

test('link loops and long chains end without hanging', () => {
  const s = setup();
  try {
    symlinkSync('b', join(s.root, 'etc/a'));
    symlinkSync('a', join(s.root, 'etc/b'));
    symlinkSync('.', join(s.root, 'etc/self'));
    let prev = 'hostname';
    for (let i = 0; i < 50; i++) {
      symlinkSync(prev, join(s.root, `etc/chain${i}`));
      prev = `chain${i}`;
    }
    const r = new DirRoot(s.root);
    assert.equal(r.tryReadFile('/etc/a'), undefined);
    assert.equal(r.list('/etc/a'), undefined);
    assert.equal(r.tryReadFile(`/etc/${'self/'.repeat(100)}hostname`), undefined, 'more than 40 hops');
    assert.equal(r.tryReadFile(`/etc/${'self/'.repeat(10)}hostname`)!.toString(), 'guest\n');
    assert.equal(r.tryReadFile('/etc/chain30')!.toString(), 'guest\n');
    assert.equal(r.tryReadFile('/etc/chain49'), undefined, '50 hops');
  } finally {
    s.cleanup();
  }
});

test('size caps: a file over the cap reads as absent; /proc-style files of unknown size are read to the cap', () => {
  const s = setup();
  try {
    writeFileSync(join(s.root, 'etc/big'), Buffer.alloc(10_000, 0x61));
    const r = new DirRoot(s.root);
    assert.equal(r.tryReadFile('/etc/big', 9_999), undefined);
    assert.equal(r.tryReadFile('/etc/big', 10_000)!.length, 10_000);
    const proc = new DirRoot('/proc/self');
    const status = proc.tryReadFile('/status', 1 << 20);
    assert.ok(status && /^Name:/m.test(status.toString()), 'reads a file whose stat size is 0');
    assert.equal(proc.tryReadFile('/status', 10), undefined);
  } finally {
    s.cleanup();
  }
});

test('a root that is missing or not a directory is an error', () => {
  const d = mkdtempSync(join(tmpdir(), 'hyperward-dirroot-'));
  writeFileSync(join(d, 'f'), 'x');
  for (const [p, code] of [
    [join(d, 'missing'), 'E_NOT_FOUND'],
    [join(d, 'f'), 'E_USAGE'],
  ] as const) {
    try {
      new DirRoot(p);
      assert.fail(`accepted ${p}`);
    } catch (e) {
      assert.ok(isHyperwardError(e) && e.code === code, String(e));
    }
  }
});

test('property: no path, however built from names, dots and slashes, leaves the tree', () => {
  const s = setup();
  try {
    symlinkSync('../..', join(s.root, 'etc/up'));
    symlinkSync(s.outside, join(s.root, 'etc/out'));
    symlinkSync('/', join(s.root, 'etc/rootlink'));
    const r = new DirRoot(s.root);
    const part = fc.constantFrom(
      '..',
      '.',
      'etc',
      'up',
      'out',
      'rootlink',
      'outside',
      'secret',
      'hostname',
      '',
      'libvirt',
    );
    fc.assert(
      fc.property(fc.array(part, { maxLength: 12 }), fc.boolean(), (parts, abs) => {
        const p = (abs ? '/' : '') + parts.join('/');
        const local = r.resolve(p);
        if (local !== undefined)
          assert.ok(local === r.root || local.startsWith(r.root + '/'), `${p} -> ${local}`);
        const buf = r.tryReadFile(p);
        if (buf !== undefined) assert.notEqual(buf.toString(), 'host secret\n', p);
        r.list(p);
      }),
      { numRuns: 500 },
    );
  } finally {
    s.cleanup();
  }
});
