/**
 * End to end: `scan image` judges how stale a real Debian image is — the newest install or upgrade in its
 * dpkg.log (read here with a plain text scan of the tree the image was made from, not with Hyperward), and the end
 * of life of its release from the shipped table.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { ScanReport } from '../../src/model/report.js';
import { fixtureImage, loadFixtureManifest } from '../fixtures/build.js';
import { hyperward } from '../helpers/cli.js';

const manifest = loadFixtureManifest();
const img = fixtureImage(manifest, 'gpt-v3.qcow2');
const tree = manifest.trees[img.tree]!;

test('scan image reports the last package change from dpkg.log and the release end of life', () => {
  const log = readFileSync(join(tree.root, 'var/log/dpkg.log'), 'utf8').split('\n');
  // dpkg writes `YYYY-MM-DD HH:MM:SS install|upgrade|status installed …`; the newest such line wins.
  let newest = '';
  let line = 0;
  log.forEach((l, i) => {
    const m = /^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) (install|upgrade|status installed) /.exec(l);
    if (m && m[1]! >= newest) {
      newest = m[1]!;
      line = i + 1;
    }
  });
  assert.ok(newest !== '', 'debootstrap wrote a dpkg.log');
  const r = hyperward(['scan', 'image', '--format', 'json', '--quiet', '--no-vulns', img.path]);
  assert.equal(r.code, 0, r.stderr);
  const res = (JSON.parse(r.stdout.toString()) as ScanReport).results[0]!;
  const stale = res.findings.find((f) => f.checkId === 'image.packages-stale')!;
  assert.equal(stale.evidence?.file, '/var/log/dpkg.log');
  assert.equal(stale.evidence?.value, `${newest.replace(' ', 'T')}.000Z`);
  assert.equal(stale.evidence?.line, line);
  const eol = res.findings.find((f) => f.checkId === 'image.os-eol')!;
  assert.equal(eol.evidence?.file, '/etc/os-release');
  assert.match(eol.message, new RegExp(`Debian ${tree.osRelease.VERSION_ID}`));
});
