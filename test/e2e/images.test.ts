/**
 * End to end on real Debian disk images: every container format and subformat, MBR/GPT/none, 512- and
 * 4096-byte sectors, a backing chain. The oracles are the tree the images were made from (debootstrap) and
 * `dpkg-query --admindir` over it — see test/fixtures/build.ts.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import type { Vfs } from '../../src/fs/vfs.js';
import type { ScanReport } from '../../src/model/report.js';
import { mountImage } from '../../src/scan/image.js';
import { loadFixtureManifest } from '../fixtures/build.js';
import { hyperward } from '../helpers/cli.js';

const manifest = loadFixtureManifest();

function expectedPackages(file: string): string[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .sort();
}

function sha256(buf: Buffer): string {
  return createHash('sha256').update(buf).digest('hex');
}

for (const img of manifest.images) {
  const tree = manifest.trees[img.tree]!;
  test(`${img.name}: scan image finds the OS, host name and every package dpkg-query lists`, () => {
    const r = hyperward(['scan', 'image', '--format', 'json', '--quiet', img.path]);
    assert.equal(r.code, 0, r.stderr);
    const res = (JSON.parse(r.stdout.toString()) as ScanReport).results[0]!;
    assert.equal(res.error, undefined);
    assert.equal(res.image?.format, img.format);
    assert.equal(res.image?.partitionScheme, img.scheme);
    assert.equal(res.image?.virtualSize, img.virtualSize);
    assert.equal(res.os?.id, tree.osRelease.ID);
    assert.equal(res.os?.versionId, tree.osRelease.VERSION_ID);
    assert.equal(res.os?.prettyName, tree.osRelease.PRETTY_NAME);
    assert.equal(res.hostname, tree.hostname);
    const root = res.image?.filesystems.find((f) => f.root);
    assert.equal(root?.partition, img.rootPartition ?? 0);
    assert.equal(root?.uuid, img.fsUuid);
    const got = res.packages
      .map((p) => [p.name, p.version, p.arch, p.sourceName, p.sourceVersion].join('\t'))
      .sort();
    assert.deepEqual(got, expectedPackages(img.packagesFile));
    for (const name of tree.notInstalled) assert.ok(!res.packages.some((p) => p.name === name), name);
  });

  test(`${img.name}: files read through the image hash equal to the originals`, () => {
    const m = mountImage(img.path, { allowOutside: false });
    try {
      assert.ok(m.root, 'OS root found');
      for (const [path, hash] of Object.entries(tree.hashes)) {
        const l = m.root.locate(path);
        assert.equal(sha256(Buffer.concat([...l.vfs.chunks(l.path)])), hash, path);
      }
    } finally {
      m.close();
    }
  });
}

/** Every entry of the tree: type, mode, owner, size, link target (and content hash when `hashes`). */
function walkTree(vfs: Vfs, withHashes: boolean): Map<string, string> {
  const out = new Map<string, string>();
  const letter = {
    file: 'f',
    dir: 'd',
    symlink: 'l',
    chardev: 'c',
    blockdev: 'b',
    fifo: 'p',
    socket: 's',
    unknown: '?',
  };
  const visit = (dir: string, ino: number): void => {
    for (const e of vfs.fs.readdir(ino)) {
      const path = dir === '/' ? `/${e.name}` : `${dir}/${e.name}`;
      const st = vfs.fs.stat(e.ino);
      let extra = '-';
      if (st.type === 'symlink') extra = vfs.fs.readlink(e.ino);
      else if (st.type === 'file' && withHashes) extra = sha256(vfs.fs.read(e.ino, 0, st.size));
      const size = st.type === 'file' || st.type === 'symlink' ? String(st.size) : '-';
      out.set(
        path,
        [
          letter[st.type],
          (st.mode & 0o7777).toString(8),
          st.uid,
          st.gid,
          size,
          st.mtime,
          withHashes || st.type === 'symlink' ? extra : '-',
        ].join('\t'),
      );
      if (st.type === 'dir') visit(path, e.ino);
    }
  };
  visit('/', vfs.fs.rootIno);
  return out;
}

function expectedTree(file: string, withHashes: boolean): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const [path, type, mode, uid, gid, size, , mtime, extra] = line.split('\t');
    const keep = withHashes || type === 'l' ? extra! : '-';
    out.set(
      path!,
      [
        type,
        Number.parseInt(mode!, 8).toString(8),
        uid,
        gid,
        size,
        mtime,
        type === 'f' || type === 'l' ? keep : '-',
      ].join('\t'),
    );
  }
  return out;
}

// The whole tree (7,000+ entries) with content hashes through three different container stacks, and the metadata
// of every entry through every image.
for (const img of manifest.images) {
  const deep = ['gpt.raw', 'gpt-zstd.qcow2', 'gpt-dynamic.vhdx'].includes(img.name);
  test(`${img.name}: the whole tree matches the source tree${deep ? ', contents included' : ''}`, () => {
    const m = mountImage(img.path);
    try {
      const got = walkTree(m.rootVolume!.vfs!, deep);
      got.delete('/lost+found');
      const want = expectedTree(manifest.trees[img.tree]!.filesFile, deep);
      assert.equal(got.size, want.size);
      for (const [path, line] of want) assert.equal(got.get(path), line, path);
    } finally {
      m.close();
    }
  });
}
