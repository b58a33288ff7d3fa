import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { run, tempDir } from '../../test/helpers/tmp.js';
import { imageComponents } from './image.js';
import { classifyFile, discoverImages, withoutComponents } from './library.js';

/** A small library built with the real tools, next to files that are not images. */
function buildLibrary(dir: string): void {
  const img = (name: string): string => join(dir, name);
  run('qemu-img', ['create', '-q', '-f', 'qcow2', img('blank.qcow2'), '64M']);
  run('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', 'blank.qcow2', '-F', 'qcow2', img('clone.qcow2')]);
  run('qemu-img', [
    'create',
    '-q',
    '-f',
    'vmdk',
    '-o',
    'subformat=twoGbMaxExtentFlat',
    img('split.vmdk'),
    '64M',
  ]);
  run('qemu-img', ['create', '-q', '-f', 'vpc', img('d.vhd'), '64M']);
  // A raw disk with a GPT, and a whole-disk ext4 file system without a table.
  run('truncate', ['-s', '16M', img('gpt.img')]);
  run('sgdisk', ['-o', '-n', '1:2048:0', img('gpt.img')]);
  run('truncate', ['-s', '16M', img('fs.raw')]);
  run('mkfs.ext4', ['-q', '-F', img('fs.raw')]);
  mkdirSync(join(dir, 'sub'));
  run('qemu-img', ['create', '-q', '-f', 'vdi', join(dir, 'sub', 'nested.vdi'), '32M']);
  // Not images: text, an all-zero raw file (nothing on it says disk), an empty file, a directory link loop.
  writeFileSync(img('README.txt'), 'library of templates\n');
  run('truncate', ['-s', '4M', img('zeros.bin')]);
  writeFileSync(img('empty'), '');
  symlinkSync('..', join(dir, 'sub', 'up'));
}

test('discovery finds images by content and names why everything else was left out', () => {
  const t = tempDir();
  const outside = tempDir();
  try {
    buildLibrary(t.dir);
    run('qemu-img', ['create', '-q', '-f', 'qcow2', join(outside.dir, 'secret.qcow2'), '8M']);
    symlinkSync(join(outside.dir, 'secret.qcow2'), join(t.dir, 'escape.qcow2'));
    symlinkSync(join(t.dir, 'blank.qcow2'), join(t.dir, 'alias.qcow2'));
    const d = discoverImages(t.dir);
    const rel = (p: string): string => relative(t.dir, p);
    assert.deepEqual(d.images.map(rel), [
      'blank.qcow2',
      'clone.qcow2',
      'd.vhd',
      'fs.raw',
      'gpt.img',
      'split.vmdk',
      'sub/nested.vdi',
    ]);
    const reasons = new Map(d.skipped.map((s) => [rel(s.path), s.reason]));
    assert.match(reasons.get('escape.qcow2') ?? '', /outside/);
    assert.equal(reasons.get('README.txt'), 'not a disk image');
    assert.equal(reasons.get('zeros.bin'), 'not a disk image');
    assert.equal(reasons.get('empty'), 'not a disk image');
    // A raw extent holding nothing is no image by content; the component pass says what it is (below).
    assert.equal(reasons.get('split-f001.vmdk'), 'not a disk image');
    assert.ok(!d.images.some((p) => p.endsWith('alias.qcow2')), 'a link to a listed image is listed once');
    assert.equal(reasons.get('alias.qcow2'), `same file as ${join(t.dir, 'blank.qcow2')}`);
    assert.ok(!d.images.some((p) => p.includes('/up/')), 'a directory loop is walked once');
  } finally {
    t.cleanup();
    outside.cleanup();
  }
});

test('extents are parts of their descriptor; backing files stay images of their own', () => {
  const t = tempDir();
  try {
    buildLibrary(t.dir);
    // A flat extent with data on it looks like a raw disk by content: it must still count as a part.
    run('qemu-img', [
      'create',
      '-q',
      '-f',
      'vmdk',
      '-o',
      'subformat=monolithicFlat',
      join(t.dir, 'm.vmdk'),
      '16M',
    ]);
    run('sgdisk', ['-o', join(t.dir, 'm-flat.vmdk')]);
    const d = discoverImages(t.dir);
    assert.ok(
      d.images.some((p) => p.endsWith('/m-flat.vmdk')),
      'the flat extent has a GPT: an image by content',
    );
    const kept = withoutComponents(d.images, (img) => imageComponents(img));
    const rel = (p: string): string => relative(t.dir, p);
    assert.deepEqual(
      kept.components.map((c) => [rel(c.path), rel(c.reason.replace(/^part of /, ''))]),
      [['m-flat.vmdk', 'm.vmdk']],
    );
    assert.ok(
      kept.images.some((p) => p.endsWith('/blank.qcow2')),
      'the backing file is scanned as an image',
    );
    assert.equal(kept.ownerOf(join(t.dir, 'split-f001.vmdk')), join(t.dir, 'split.vmdk'));
  } finally {
    t.cleanup();
  }
});

test('a descriptor naming another image as its extent does not hide that image; a plain tar is no appliance', () => {
  const t = tempDir();
  try {
    const victim = join(t.dir, 'victim.raw');
    run('truncate', ['-s', '16M', victim]);
    run('sgdisk', ['-o', '-n', '1:2048:0', victim]);
    // A hand-written descriptor whose only extent is the first MiB of victim.raw.
    writeFileSync(
      join(t.dir, 'evil.vmdk'),
      '# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType="monolithicFlat"\n' +
        'RW 2048 FLAT "victim.raw" 0\nddb.adapterType = "ide"\n',
    );
    run('tar', ['--format=ustar', '-cf', join(t.dir, 'backup.tar'), '-C', t.dir, 'evil.vmdk']);
    const d = discoverImages(t.dir);
    assert.ok(!d.images.some((p) => p.endsWith('backup.tar')));
    const kept = withoutComponents(d.images, (img) => imageComponents(img));
    assert.deepEqual(
      kept.images.map((p) => relative(t.dir, p)),
      ['evil.vmdk', 'victim.raw'],
      'both scanned',
    );
    assert.equal(kept.ownerOf(victim), join(t.dir, 'evil.vmdk'));
  } finally {
    t.cleanup();
  }
});

test('classifyFile tells images from other files', () => {
  const t = tempDir();
  try {
    buildLibrary(t.dir);
    assert.equal(classifyFile(join(t.dir, 'clone.qcow2')), 'image');
    assert.equal(classifyFile(join(t.dir, 'fs.raw')), 'image');
    assert.equal(classifyFile(join(t.dir, 'README.txt')), 'not-image');
    writeFileSync(
      join(t.dir, 'x.ovf'),
      '<?xml version="1.0"?>\n<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1"></Envelope>\n',
    );
    assert.equal(classifyFile(join(t.dir, 'x.ovf')), 'appliance');
    run('tar', ['--format=ustar', '-cf', join(t.dir, 'a.ova'), '-C', t.dir, 'x.ovf', 'README.txt']);
    assert.equal(classifyFile(join(t.dir, 'a.ova')), 'appliance');
    run('tar', ['--format=ustar', '-cf', join(t.dir, 'b.tar'), '-C', t.dir, 'README.txt']);
    assert.equal(classifyFile(join(t.dir, 'b.tar')), 'not-image', 'a tar without a descriptor is no OVA');
  } finally {
    t.cleanup();
  }
});
