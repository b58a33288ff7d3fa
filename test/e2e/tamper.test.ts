/**
 * End to end: tamper evidence on real Debian images. A copy of the debootstrap tree has one binary changed; the
 * image made from it is checked against dpkg's own digests (`--verify-files`) and against a signed baseline of the
 * untouched image (`image keygen`, `image baseline`, `scan image --baseline`).
 */
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { ScanReport } from '../../src/model/report.js';
import { loadFixtureManifest } from '../fixtures/build.js';
import { hyperward } from '../helpers/cli.js';
import { run, tempDir } from '../helpers/tmp.js';

const manifest = loadFixtureManifest();
const tree = Object.values(manifest.trees)[0]!;
let dir = '';
let cleanup = () => {};
let clean = '';
let tampered = '';

function ext4Image(root: string, name: string): string {
  const raw = join(dir, `${name}.raw`);
  run('truncate', ['-s', '512M', raw]);
  // A fixed mkfs time: the root directory and lost+found, which mkfs itself makes, are then alike in both images.
  run('mkfs.ext4', ['-q', '-F', '-d', root, raw], {
    env: { ...process.env, E2FSPROGS_FAKE_TIME: '1764115200' },
  });
  return raw;
}

before(() => {
  ({ dir, cleanup } = tempDir('hyperward-tamper-'));
  clean = ext4Image(tree.root, 'clean');
  const copy = join(dir, 'tree');
  run('cp', ['-a', tree.root, copy]);
  appendFileSync(join(copy, 'usr/bin/dash'), Buffer.from('implant'));
  tampered = ext4Image(copy, 'tampered');
});
after(() => cleanup());

const scan = (args: string[]): { code: number; rep: ScanReport; stderr: string } => {
  const r = hyperward(['scan', 'image', '--format', 'json', '--quiet', '--no-vulns', ...args]);
  return { code: r.code, rep: JSON.parse(r.stdout.toString() || '{}') as ScanReport, stderr: r.stderr };
};

test('--verify-files finds the changed binary by its dpkg md5sum, and nothing in the clean image', () => {
  const bad = scan(['--verify-files', tampered]);
  assert.equal(bad.code, 0, bad.stderr);
  const modified = bad.rep.results[0]!.findings.filter((f) => f.checkId === 'image.file-modified');
  assert.deepEqual(
    modified.map((f) => [f.resource.id, f.severity]),
    [['/bin/dash', 'high']], // dpkg's md5sums name it under /bin (merged /usr),
  );
  const good = scan(['--verify-files', clean]);
  assert.deepEqual(
    good.rep.results[0]!.findings.filter((f) => /^image\.file-(modified|missing)$/.test(f.checkId)),
    [],
  );
});

test('a signed baseline of the clean image reports exactly the changed file; a forged baseline is refused', () => {
  const prefix = join(dir, 'ops');
  assert.equal(hyperward(['image', 'keygen', prefix]).code, 0);
  const base = join(dir, 'clean.baseline.json');
  const made = hyperward(['image', 'baseline', '--key', `${prefix}.key`, '-o', base, clean]);
  assert.equal(made.code, 0, made.stderr);
  const same = scan(['--baseline', base, '--baseline-key', `${prefix}.pub`, clean]);
  assert.deepEqual(
    same.rep.results[0]!.findings.filter((f) => f.checkId.startsWith('image.baseline-')),
    [],
  );
  const diff = scan(['--baseline', base, '--baseline-key', `${prefix}.pub`, tampered]);
  const changed = diff.rep.results[0]!.findings.filter((f) => f.checkId.startsWith('image.baseline-'));
  assert.equal(changed.length, 1);
  assert.equal(changed[0]!.checkId, 'image.baseline-changed');
  assert.match(JSON.stringify(changed[0]), /\/usr\/bin\/dash/);
  // One byte of the manifest changed: the signature no longer verifies.
  const text = readFileSync(base, 'utf8');
  const forged = join(dir, 'forged.json');
  writeFileSync(forged, text.replace('/usr/bin/dash', '/usr/bin/dasH'));
  const refused = hyperward([
    'scan',
    'image',
    '--baseline',
    forged,
    '--baseline-key',
    `${prefix}.pub`,
    clean,
  ]);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /E_AUTH/);
});
