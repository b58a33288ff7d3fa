import { spawnSync } from 'node:child_process';
import { linkSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { applyEdits, attempt, byteEdits, byteEditsIn, onlyHyperwardErrors } from '../../test/helpers/fuzz.js';
import { run, tempDir } from '../../test/helpers/tmp.js';
import { openImage } from '../disk/open.js';
import { openExt4 } from './ext4.js';
import type { FileSystem } from './types.js';
import { Vfs } from './vfs.js';

const NUM_RUNS = 200;

/** Walks everything reachable, reading every file (capped), link and name; bounded whatever the image says. */
function walk(fs: FileSystem): void {
  const seen = new Set<number>();
  let budget = 2000;
  const visit = (dir: number, depth: number): void => {
    if (seen.has(dir) || depth > 16 || budget <= 0) return;
    seen.add(dir);
    const entries = attempt(() => fs.readdir(dir)) ?? [];
    for (const e of entries) {
      if (--budget <= 0) return;
      attempt(() => fs.lookup(dir, e.name));
      const st = attempt(() => fs.stat(e.ino));
      if (st === undefined) continue;
      if (st.type === 'file') {
        attempt(() => fs.read(e.ino, 0, Math.min(st.size, 64 * 1024)));
        attempt(() => fs.read(e.ino, Math.max(0, st.size - 5000), 10_000));
      } else if (st.type === 'symlink') {
        attempt(() => fs.readlink(e.ino));
      } else if (st.type === 'dir') {
        visit(e.ino, depth + 1);
      }
    }
  };
  visit(fs.rootIno, 0);
  const vfs = new Vfs(fs);
  for (const p of ['/d/file-77', '/a/b/up', '/a/b/h', '/slow', '/frag', '/big', '/nope/x']) {
    attempt(() => vfs.resolve(p));
    attempt(() => vfs.tryReadFile(p, 1024 * 1024));
  }
}

interface Target {
  name: string;
  image: Buffer;
  /** Byte ranges worth aiming at: [from, to). */
  regions: Record<string, [number, number]>;
  /** Offsets of extent headers (magic 0xF30A) in the image. */
  extentHeaders: number[];
}

/** Parses `dumpe2fs` for group 0's descriptor blocks and inode table. */
function layout(img: string): { blockSize: number; gdt: [number, number]; itable: [number, number] } {
  const out = run('dumpe2fs', [img]);
  const blockSize = Number(/Block size:\s+(\d+)/.exec(out)![1]);
  const gdt = /Group descriptors at (\d+)-(\d+)/.exec(out)!;
  const it = /Inode table at (\d+)-(\d+)/.exec(out)!;
  return {
    blockSize,
    gdt: [Number(gdt[1]) * blockSize, (Number(gdt[2]) + 1) * blockSize],
    itable: [Number(it[1]) * blockSize, (Number(it[2]) + 1) * blockSize],
  };
}

function dirBlocks(img: string, path: string, blockSize: number): [number, number] {
  const blocks = run('debugfs', ['-R', `blocks ${path}`, img])
    .trim()
    .split(/\s+/)
    .map(Number);
  const first = Math.min(...blocks);
  const last = Math.max(...blocks);
  return [first * blockSize, (last + 1) * blockSize];
}

/** The first 64 bytes of a directory's first block: for an htree, the `.`/`..` entries and the index header. */
function dirHead(img: string, path: string, blockSize: number): [number, number] {
  const first = Number(run('debugfs', ['-R', `bmap ${path} 0`, img]).trim());
  return [first * blockSize, first * blockSize + 64];
}

describe('ext4 reader under mutated images (fast-check)', () => {
  let tmp: { dir: string; cleanup: () => void };
  const targets: Target[] = [];

  before(() => {
    tmp = tempDir('hyperward-ext4fz-');
    const src = join(tmp.dir, 'src');
    mkdirSync(join(src, 'd'), { recursive: true });
    mkdirSync(join(src, 'a/b'), { recursive: true });
    writeFileSync(join(src, 'd/base'), 'base\n');
    for (let i = 0; i < 150; i++) linkSync(join(src, 'd/base'), join(src, `d/file-${i}`));
    // Six separated blocks: more extents than the inode holds, so the tree gets an index level.
    const frag = Buffer.alloc(41 * 1024);
    for (let i = 0; i < 6; i++) frag.fill(i + 1, i * 8192, i * 8192 + 1024);
    writeFileSync(join(src, 'frag'), frag);
    writeFileSync(join(src, 'big'), Buffer.alloc(300 * 1024, 0x5a));
    writeFileSync(join(src, 'a/b/h'), 'hello\n');
    writeFileSync(join(src, 'tiny'), 'tiny inline file\n');
    symlinkSync('../../d/base', join(src, 'a/b/up'));
    symlinkSync('q'.repeat(90), join(src, 'slow'));
    symlinkSync('/a/b/h', join(src, 'fast'));

    const make = (name: string, mkfs: string, args: string[]): void => {
      const img = join(tmp.dir, `${name}.img`);
      run(mkfs, ['-q', '-F', '-b', '1024', '-N', '64', ...args, '-d', src, img, '1M']);
      const r = spawnSync('e2fsck', ['-fyD', img]);
      assert.ok(r.status === 0 || r.status === 1, `e2fsck ${r.status}`);
      const l = layout(img);
      const image = readFileSync(img);
      const extentHeaders: number[] = [];
      for (let off = 0; off + 12 <= image.length; off += 4) {
        if (image.readUInt16LE(off) === 0xf30a && image.readUInt16LE(off + 6) <= 5) extentHeaders.push(off);
      }
      targets.push({
        name,
        image,
        regions: {
          superblock: [1024, 2048],
          descriptors: l.gdt,
          inodes: [l.itable[0], Math.min(l.itable[1], l.itable[0] + 64 * 256)],
          directory: dirBlocks(img, '/d', l.blockSize),
          'htree root': dirHead(img, '/d', l.blockSize),
          root: dirBlocks(img, '/', l.blockSize),
        },
        extentHeaders,
      });
    };
    make('ext4', 'mkfs.ext4', ['-O', '^has_journal']);
    make('ext2', 'mkfs.ext2', []);
    make('inline', 'mkfs.ext4', ['-O', '^has_journal,inline_data']);
    // The ext4 image must really have an indexed extent tree and an htree, or the mutations miss them.
    assert.match(run('debugfs', ['-R', 'ex /frag', join(tmp.dir, 'ext4.img')]), /^\s*0\/\s*1/m);
    assert.match(run('debugfs', ['-R', 'htree /d', join(tmp.dir, 'ext4.img')]), /Root node dump/);
  });
  after(() => tmp.cleanup());

  /** Writes the mutated image to a file and walks it through the real raw device. */
  function check(image: Buffer): void {
    const path = join(tmp.dir, 'mutated.img');
    writeFileSync(path, image);
    const dev = openImage(path, { format: 'raw' });
    try {
      onlyHyperwardErrors(() => walk(openExt4(dev)));
    } finally {
      dev.close();
    }
  }

  it('walks the pristine images without errors', () => {
    for (const t of targets) {
      const path = join(tmp.dir, 'pristine.img');
      writeFileSync(path, t.image);
      const dev = openImage(path, { format: 'raw' });
      try {
        const fs = openExt4(dev);
        assert.equal(fs.readdir(new Vfs(fs).resolve('/d')!).length, 151, t.name);
        assert.equal(new Vfs(fs).readFile('/frag').length, 41 * 1024);
        walk(fs);
      } finally {
        dev.close();
      }
    }
  });

  for (const region of ['superblock', 'descriptors', 'inodes', 'directory', 'htree root', 'root'] as const) {
    it(`survives edits in the ${region}`, () => {
      const arb = fc.integer({ min: 0, max: 2 }).chain((ti) => {
        const [from, to] = targets[ti]!.regions[region]!;
        return fc.tuple(fc.constant(ti), byteEditsIn(from, to, 12));
      });
      fc.assert(
        fc.property(arb, ([ti, edits]) => check(applyEdits(targets[ti]!.image, edits))),
        { numRuns: NUM_RUNS },
      );
    });
  }

  it('survives edits of extent headers and entries', () => {
    const t = targets[0]!;
    assert.ok(t.extentHeaders.length >= 3, `${t.extentHeaders.length} extent headers`);
    const arb = fc
      .array(fc.tuple(fc.constantFrom(...t.extentHeaders), fc.nat({ max: 59 }), fc.nat({ max: 255 })), {
        minLength: 1,
        maxLength: 6,
      })
      .map((xs) => xs.map(([h, d, v]): [number, number] => [h + d, v]));
    fc.assert(
      fc.property(arb, (edits) => check(applyEdits(t.image, edits))),
      { numRuns: NUM_RUNS },
    );
  });

  it('survives edits anywhere and truncation', () => {
    const arb = fc.tuple(
      fc.integer({ min: 0, max: 2 }),
      byteEdits(targets[0]!.image.length, 24),
      fc.option(fc.integer({ min: 0, max: targets[0]!.image.length }), { nil: undefined }),
    );
    fc.assert(
      fc.property(arb, ([ti, edits, cut]) => {
        const img = applyEdits(targets[ti]!.image, edits);
        check(cut === undefined ? img : img.subarray(0, cut));
      }),
      { numRuns: NUM_RUNS },
    );
  });
});
