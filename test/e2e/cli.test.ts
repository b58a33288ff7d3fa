import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import {
  closeSync,
  mkdirSync,
  openSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import type { ScanReport } from '../../src/model/report.js';
import { BIN, hyperward, LAUNCHER } from '../helpers/cli.js';
import { writeQcow2WithL1PastEnd } from '../helpers/images.js';
import { run, tempDir } from '../helpers/tmp.js';

const tmp = tempDir('hyperward-cli-');
let good: string;

before(() => {
  // A tiny Debian-like root: os-release behind the usual /etc -> /usr/lib symlink, a host name, a dpkg database.
  const root = join(tmp.dir, 'root');
  mkdirSync(join(root, 'etc'), { recursive: true });
  mkdirSync(join(root, 'usr/lib'), { recursive: true });
  mkdirSync(join(root, 'var/lib/dpkg'), { recursive: true });
  writeFileSync(
    join(root, 'usr/lib/os-release'),
    'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n',
  );
  run('ln', ['-s', '../usr/lib/os-release', join(root, 'etc/os-release')]);
  writeFileSync(join(root, 'etc/hostname'), 'cli-test\n');
  writeFileSync(
    join(root, 'var/lib/dpkg/status'),
    'Package: zlib1g\nStatus: install ok installed\nArchitecture: amd64\nSource: zlib\nVersion: 1:1.2.13.dfsg-1\n\nPackage: libc6\nStatus: install ok installed\nArchitecture: amd64\nSource: glibc\nVersion: 2.36-9+deb12u9\n',
  );
  const raw = join(tmp.dir, 'disk.raw');
  run('mkfs.ext4', ['-q', '-F', '-d', root, raw, '8M']);
  good = join(tmp.dir, 'good.qcow2');
  run('qemu-img', ['convert', '-O', 'qcow2', raw, good]);
});
after(() => tmp.cleanup());

test('help shows examples; version prints', () => {
  const h = hyperward(['scan', 'image', '--help']);
  assert.equal(h.code, 0);
  assert.match(h.stdout.toString(), /Examples:/);
  assert.equal(hyperward(['--version']).code, 0);
});

test('the launcher npm links (bin/hyperward) runs the CLI directly, through a symlink and through npx', () => {
  const checkout = join(dirname(BIN), '..');
  const pkg = JSON.parse(readFileSync(join(checkout, 'package.json'), 'utf8')) as {
    version: string;
    bin: Record<string, string>;
  };
  assert.equal(pkg.bin.hyperward, './bin/hyperward', 'npm links the launcher');
  const linkDir = join(tmp.dir, 'node_modules', '.bin');
  mkdirSync(linkDir, { recursive: true });
  symlinkSync(LAUNCHER, join(linkDir, 'hyperward'));
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_EXTRA_CA_CERTS: join(tmp.dir, 'no-such-ca.pem') };
  for (const cmd of [LAUNCHER, join(linkDir, 'hyperward')]) {
    const r = spawnSync(cmd, ['--version'], { cwd: tmp.dir, env, encoding: 'utf8' });
    assert.equal(r.status, 0, `${cmd}: ${r.stderr}`);
    assert.equal(r.stdout.trim(), pkg.version);
    // Node never saw NODE_EXTRA_CA_CERTS: it warns about a file it cannot load.
    assert.doesNotMatch(r.stderr, /Ignoring extra certs/, cmd);
  }
  // Where NODE_OPTIONS makes Node trust another store, the variable is left to Node (which warns about the file).
  const openssl = spawnSync(LAUNCHER, ['--version'], {
    cwd: tmp.dir,
    env: { ...env, NODE_OPTIONS: '--use-openssl-ca' },
    encoding: 'utf8',
  });
  assert.equal(openssl.status, 0, openssl.stderr);
  assert.match(openssl.stderr, /Ignoring extra certs/);
  // npx (itself a Node program, so without the variable here) finds the package's own bin in a checkout.
  const plain: NodeJS.ProcessEnv = { ...process.env };
  delete plain.NODE_EXTRA_CA_CERTS;
  const viaNpx = spawnSync('npx', ['--no-install', 'hyperward', '--version'], {
    cwd: checkout,
    env: plain,
    encoding: 'utf8',
  });
  assert.equal(viaNpx.status, 0, viaNpx.stderr);
  assert.equal(viaNpx.stdout.trim(), pkg.version);
});

test('a disk with nothing readable on it fails the run only when asked (--fail-on info)', () => {
  const blank = join(tmp.dir, 'blank.raw');
  writeFileSync(blank, Buffer.alloc(1 << 20));
  const quiet = hyperward(['scan', 'image', '--format', 'json', '--no-vulns', blank]);
  assert.equal(quiet.code, 0, quiet.stderr);
  const rep = JSON.parse(quiet.stdout.toString()) as ScanReport;
  assert.deepEqual(
    rep.results[0]!.findings.map((f) => [f.checkId, f.status]),
    [['image.no-filesystem-found', 'unknown']],
  );
  assert.equal(hyperward(['scan', 'image', '-q', '--no-vulns', '--fail-on', 'info', blank]).code, 1);
});

test('scan image: JSON report of a whole-disk ext4 in qcow2', () => {
  const r = hyperward(['scan', 'image', '--format', 'json', good]);
  assert.equal(r.code, 0, r.stderr);
  const rep = JSON.parse(r.stdout.toString()) as ScanReport;
  const res = rep.results[0]!;
  assert.equal(res.os?.id, 'debian');
  assert.equal(res.os?.versionId, '12');
  assert.equal(res.hostname, 'cli-test');
  assert.deepEqual(
    res.packages.map((p) => `${p.name} ${p.version} ${p.sourceName}`),
    ['libc6 2.36-9+deb12u9 glibc', 'zlib1g 1:1.2.13.dfsg-1 zlib'],
  );
  assert.equal(res.image?.format, 'qcow2');
  assert.equal(res.image?.partitionScheme, 'none');
});

test('bad usage and unreadable inputs exit 2; the other images are still reported', () => {
  assert.equal(hyperward(['scan', 'image', '--format', 'nope', good]).code, 2);
  assert.equal(hyperward(['frobnicate']).code, 2);
  const missing = join(tmp.dir, 'missing.qcow2');
  const bad = join(tmp.dir, 'bad.qcow2');
  writeQcow2WithL1PastEnd(bad);
  const r = hyperward(['scan', 'image', '--format', 'json', missing, bad, good]);
  assert.equal(r.code, 2);
  const rep = JSON.parse(r.stdout.toString()) as ScanReport;
  assert.equal(rep.results.length, 3);
  assert.equal(rep.results[0]!.error?.code, 'E_NOT_FOUND');
  assert.match(rep.results[1]!.error?.message ?? '', /bad\.qcow2: qcow2 .*offset \d+/);
  assert.equal(rep.results[2]!.os?.id, 'debian');
  assert.match(r.stderr, /missing\.qcow2/);
});

test('image ls and cat read through the OS tree and its symlinks', () => {
  const ls = hyperward(['image', 'ls', good, '/etc']);
  assert.equal(ls.code, 0, ls.stderr);
  assert.deepEqual(ls.stdout.toString().trim().split('\n'), ['hostname', 'os-release']);
  const cat = hyperward(['image', 'cat', good, '/etc/os-release']);
  assert.equal(cat.code, 0, cat.stderr);
  assert.match(cat.stdout.toString(), /^PRETTY_NAME="Debian GNU\/Linux 12/);
  const long = hyperward(['image', 'ls', '-l', good, '/etc']);
  assert.match(long.stdout.toString(), /^l.* os-release -> \.\.\/usr\/lib\/os-release$/m);
  const nofile = hyperward(['image', 'cat', good, '/etc/shadow']);
  assert.equal(nofile.code, 2);
  assert.match(nofile.stderr, /no such file in the image: \/etc\/shadow/);
});

test('scanning never writes to the image', () => {
  const before = { hash: sha256File(good), mtime: statSync(good).mtimeMs };
  assert.equal(hyperward(['scan', 'image', '--format', 'cyclonedx', good]).code, 0);
  assert.equal(hyperward(['image', 'cat', good, '/var/lib/dpkg/status']).code, 0);
  assert.deepEqual({ hash: sha256File(good), mtime: statSync(good).mtimeMs }, before);
});

test('a part that cannot be read is a finding; the rest is still inventoried; --fail-on gates the exit code', () => {
  // GPT: 1 = the Debian root, 2 = a LUKS header, 3 = an ext4 whose inode table pointer is destroyed.
  const disk = join(tmp.dir, 'parts.raw');
  run('truncate', ['-s', '40M', disk]);
  run('sgdisk', ['-o', '-n', '1:2048:+16M', '-n', '2:0:+4M', '-n', '3:0:+8M', disk]);
  const parts = JSON.parse(run('sfdisk', ['--json', disk])) as {
    partitiontable: { partitions: Array<{ start: number; size: number }> };
  };
  const [p1, p2, p3] = parts.partitiontable.partitions.map((p) => p.start * 512);
  run('mkfs.ext4', ['-q', '-F', '-d', join(tmp.dir, 'root'), '-E', `offset=${p1}`, disk, '16M']);
  const luks = Buffer.alloc(4096);
  luks.write('LUKS\xba\xbe', 0, 'latin1');
  luks.writeUInt16BE(2, 6);
  writeAt(disk, luks, p2!);
  run('mkfs.ext4', ['-q', '-F', '-b', '4096', '-E', `offset=${p3}`, disk, '8M']);
  // Group descriptor 0 starts at block 1 (4 KiB blocks); its inode-table pointer is at +8. Point it past the end.
  const gd = Buffer.alloc(4);
  gd.writeUInt32LE(0x7fffffff, 0);
  writeAt(disk, gd, p3! + 4096 + 8);

  const r = hyperward(['scan', 'image', '--format', 'json', disk]);
  assert.equal(r.code, 0, r.stderr);
  const res = (JSON.parse(r.stdout.toString()) as ScanReport).results[0]!;
  assert.equal(res.os?.id, 'debian');
  assert.equal(res.packages.length, 2);
  const byCheck = new Map(res.findings.map((f) => [f.checkId, f]));
  assert.match(byCheck.get('image.filesystem-not-inspected')?.message ?? '', /partition 2: luks detected/);
  assert.match(byCheck.get('image.filesystem-unreadable')?.message ?? '', /partition 3: .*ext4/);
  assert.equal(hyperward(['scan', 'image', '--fail-on', 'medium', disk]).code, 1);
  assert.equal(hyperward(['scan', 'image', '--fail-on', 'high', disk]).code, 0);
  const table = hyperward(['scan', 'image', disk]).stdout.toString();
  assert.match(table, /MEDIUM\s+image\.filesystem-unreadable/);
});

test('the package version matches the tool version', () => {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  assert.equal(hyperward(['--version']).stdout.toString().trim(), pkg.version);
});

function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

function writeAt(path: string, data: Buffer, offset: number): void {
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, data, 0, data.length, offset);
  } finally {
    closeSync(fd);
  }
}

test('a backing file outside the image directory is refused unless --allow-backing-outside', () => {
  const dir = join(tmp.dir, 'elsewhere');
  mkdirSync(dir);
  const top = join(dir, 'top.qcow2');
  run('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', good, '-F', 'qcow2', top]);
  const refused = hyperward(['scan', 'image', '--format', 'json', top]);
  assert.equal(refused.code, 2);
  const res = (JSON.parse(refused.stdout.toString()) as ScanReport).results[0]!;
  assert.equal(res.error?.code, 'E_BACKING_REFUSED');
  assert.match(res.error?.message ?? '', /--allow-backing-outside/);
  const allowed = hyperward(['scan', 'image', '--format', 'json', '--allow-backing-outside', top]);
  assert.equal(allowed.code, 0, allowed.stderr);
  assert.equal((JSON.parse(allowed.stdout.toString()) as ScanReport).results[0]!.packages.length, 2);
});
