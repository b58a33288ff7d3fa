import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { errorCode } from '../../test/helpers/errors.js';
import { run, tempDir } from '../../test/helpers/tmp.js';
import { openImage } from '../disk/open.js';
import type { BlockDevice } from '../disk/types.js';
import { openExt4 } from './ext4.js';
import { Vfs } from './vfs.js';

/** Path resolution over a real ext4 image whose symlinks try to leave it. */
describe('Vfs symlink resolution (chroot semantics) on a real ext4 image', () => {
  let tmp: { dir: string; cleanup: () => void };
  let dev: BlockDevice;
  let vfs: Vfs;

  before(() => {
    tmp = tempDir('hyperward-vfs-');
    const src = join(tmp.dir, 'src');
    mkdirSync(join(src, 'etc'), { recursive: true });
    mkdirSync(join(src, 'a/b/c'), { recursive: true });
    writeFileSync(join(src, 'etc/x'), 'inside the image\n');
    symlinkSync('/etc/x', join(src, 'abs'));
    symlinkSync('/', join(src, 'absroot'));
    symlinkSync('..', join(src, 'dotdot'));
    symlinkSync('../../..', join(src, 'a/b/c/up'));
    symlinkSync('../../../../../../../../etc/x', join(src, 'a/b/c/escape'));
    symlinkSync('b/c', join(src, 'a/rel'));
    // A host file that exists on every Linux machine but not in the image.
    symlinkSync('/../../../../etc/passwd', join(src, 'hostpasswd'));
    symlinkSync('../../../../../../proc/self/environ', join(src, 'a/b/c/procenv'));
    symlinkSync('loop2', join(src, 'loop1'));
    symlinkSync('loop1', join(src, 'loop2'));
    symlinkSync('self', join(src, 'self'));
    symlinkSync('selfdir/x', join(src, 'selfdir'));
    symlinkSync('a/b', join(src, 'todir'));
    // Chains: p0 -> p1 -> ... -> p39 -> /etc/x is 40 links (the limit); q0..q40 is 41.
    for (let i = 0; i < 40; i++) symlinkSync(i === 39 ? '/etc/x' : `p${i + 1}`, join(src, `p${i}`));
    for (let i = 0; i < 41; i++) symlinkSync(i === 40 ? '/etc/x' : `q${i + 1}`, join(src, `q${i}`));
    const img = join(tmp.dir, 'vfs.img');
    run('mkfs.ext4', ['-q', '-F', '-d', src, img, '8M']);
    dev = openImage(img, { format: 'raw' });
    vfs = new Vfs(openExt4(dev));
  });
  after(() => {
    dev.close();
    tmp.cleanup();
  });

  it('restarts absolute targets at the image root', () => {
    const x = vfs.resolve('/etc/x');
    assert.notEqual(x, undefined);
    assert.equal(vfs.resolve('/abs'), x);
    assert.equal(vfs.readFile('/abs').toString(), 'inside the image\n');
    assert.equal(vfs.resolve('/absroot'), vfs.fs.rootIno);
    assert.equal(vfs.resolve('/absroot/absroot/etc/x'), x);
    assert.equal(vfs.lstat('/abs').type, 'symlink');
    assert.equal(vfs.stat('/abs').type, 'file');
    assert.equal(vfs.readlink('/abs'), '/etc/x');
  });

  it('keeps .. at the image root, whether written in the path or in a link', () => {
    const x = vfs.resolve('/etc/x');
    assert.equal(vfs.resolve('/../../../etc/x'), x);
    assert.equal(vfs.resolve('/dotdot'), vfs.fs.rootIno);
    assert.equal(vfs.resolve('/dotdot/dotdot/etc/x'), x);
    assert.equal(vfs.resolve('/a/b/c/up'), vfs.fs.rootIno);
    assert.equal(vfs.resolve('/a/b/c/up/etc/x'), x);
    assert.equal(vfs.resolve('/a/b/c/escape'), x);
    assert.equal(vfs.resolve('/a/rel/escape'), x);
    assert.equal(vfs.resolve('/a/rel/up/a/rel/up/abs'), x);
  });

  it('never reaches host files', () => {
    assert.equal(vfs.resolve('/hostpasswd'), undefined);
    assert.equal(vfs.tryReadFile('/hostpasswd'), undefined);
    assert.equal(
      errorCode(() => vfs.readFile('/hostpasswd')),
      'E_NOT_FOUND',
    );
    assert.equal(vfs.resolve('/a/b/c/procenv'), undefined);
    assert.equal(vfs.resolve('/etc/passwd'), undefined);
  });

  it('stops symlink loops and over-long chains with E_LIMIT', () => {
    assert.equal(
      errorCode(() => vfs.resolve('/loop1')),
      'E_LIMIT',
    );
    assert.equal(
      errorCode(() => vfs.resolve('/self')),
      'E_LIMIT',
    );
    assert.equal(
      errorCode(() => vfs.resolve('/selfdir')),
      'E_LIMIT',
    );
    assert.equal(
      errorCode(() => vfs.resolve('/q0')),
      'E_LIMIT',
    );
    assert.equal(vfs.resolve('/p0'), vfs.resolve('/etc/x'));
    // Not following the last link never loops.
    assert.equal(vfs.lstat('/loop1').type, 'symlink');
  });

  it('follows POSIX rules for files in the middle of a path, and trailing slashes', () => {
    assert.equal(vfs.resolve('/etc/x/..'), undefined, 'ENOTDIR: .. after a file');
    assert.equal(vfs.resolve('/etc/x/'), undefined, 'ENOTDIR: trailing slash after a file');
    assert.equal(vfs.resolve('/etc/x/.'), undefined);
    const dir = vfs.resolve('/a/b');
    assert.notEqual(dir, undefined);
    assert.equal(vfs.resolve('/todir', false) === dir, false, 'lstat of the link is the link');
    assert.equal(vfs.resolve('/todir/', false), dir, 'a trailing slash follows the link even for lstat');
  });
});
