import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  mkdirSync,
  symlinkSync,
  linkSync,
  writeFileSync,
  readFileSync,
  openSync,
  readSync,
  closeSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { attempt, EditedDevice, onlyHyperwardErrors } from '../../test/helpers/fuzz.js';
import { run, tempDir } from '../../test/helpers/tmp.js';
import { crc32c } from '../disk/crc32c.js';
import { openImage } from '../disk/open.js';
import { type BlockDevice } from '../disk/types.js';
import { listBtrfsSubvolumes, openBtrfs } from './btrfs.js';
import type { FileSystem } from './types.js';
import { Vfs } from './vfs.js';

const NUM_RUNS = 150;
/** What one walk of a mutated image may read: far more than a pristine walk needs, far less than unbounded. */
const READ_BUDGET = 96 * 1024 * 1024;
const MAX_READS = 100_000;
const SUPER = 0x10000;

/** Walks everything reachable, reading files (capped), links and names; bounded whatever the image says. */
function walk(fs: FileSystem): void {
  const seen = new Set<number>();
  let budget = 1500;
  const visit = (dir: number, depth: number): void => {
    if (seen.has(dir) || depth > 12 || budget <= 0) return;
    seen.add(dir);
    for (const e of attempt(() => fs.readdir(dir)) ?? []) {
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
  for (const p of ['/d/file-77', '/link', '/big', '/nope/x', '/z', '/l', '/s']) {
    attempt(() => vfs.tryReadFile(p, 1024 * 1024));
  }
}

interface Target {
  path: string;
  size: number;
  nodeSize: number;
  /** Byte ranges worth aiming at, [from, to), and the checksummed block each lies in. */
  regions: Record<string, { from: number; to: number; block: number; blockSize: number }>;
}

function dumpSuper(img: string): string {
  return run('btrfs', ['inspect-internal', 'dump-super', img]);
}

function dumpTree(img: string, tree: string): string {
  return run('btrfs', ['inspect-internal', 'dump-tree', '-t', tree, img]);
}

/** The physical offset of the (single) copy of a logical address. */
function physical(img: string, logical: number): number {
  const m = /physical (\d+)/.exec(run('btrfs-map-logical', ['-l', String(logical), img]));
  return Number(m![1]);
}

/** Edits plus, when asked, a fresh crc32c of the block they touch (so the parser, not the checksum, meets them). */
function withChecksum(
  dev: BlockDevice,
  edits: Array<[number, number]>,
  block: number,
  blockSize: number,
): Map<number, number> {
  const map = new Map(edits);
  const b = Buffer.from(dev.read(block, blockSize));
  for (const [o, v] of map) if (o >= block && o < block + blockSize) b[o - block] = v;
  const sum = Buffer.alloc(4);
  sum.writeUInt32LE(crc32c(b.subarray(32)));
  for (let i = 0; i < 4; i++) map.set(block + i, sum[i]!);
  return map;
}

function edits(from: number, to: number, max: number): fc.Arbitrary<Array<[number, number]>> {
  return fc.array(fc.tuple(fc.integer({ min: from, max: to - 1 }), fc.nat({ max: 255 })), {
    minLength: 1,
    maxLength: max,
  });
}

describe('btrfs reader under mutated images (fast-check)', () => {
  let tmp: { dir: string; cleanup: () => void };
  let plain: Target;
  let compressed: Target | undefined;
  let noMount: string | undefined;

  before(() => {
    tmp = tempDir('hyperward-btrfsfz-');
    const src = join(tmp.dir, 'src');
    mkdirSync(join(src, 'd'), { recursive: true });
    for (let i = 0; i < 300; i++) writeFileSync(join(src, 'd', `file-${i}`), `${i}\n`);
    writeFileSync(join(src, 'big'), Buffer.alloc(300_000, 0x5a));
    writeFileSync(join(src, 'small'), 'small inline file\n');
    symlinkSync('d/file-1', join(src, 'link'));
    linkSync(join(src, 'small'), join(src, 'd/hard'));

    // Single metadata: each tree block has one copy, so an edit is not hidden by the other.
    const img = join(tmp.dir, 'plain.img');
    writeFileSync(img, '');
    run('mkfs.btrfs', [
      '-q',
      '-f',
      '-m',
      'single',
      '-d',
      'single',
      '-n',
      '4096',
      '--rootdir',
      src,
      '--shrink',
      img,
    ]);
    const sup = dumpSuper(img);
    const sysSize = Number(/sys_array_size\s+(\d+)/.exec(sup)![1]);
    const root = Number(/^root\s+(\d+)/m.exec(sup)![1]);
    const chunkRoot = Number(/^chunk_root\s+(\d+)/m.exec(sup)![1]);
    const fsTree = dumpTree(img, '5');
    const fsNode = /^node (\d+) level [1-7]/m.exec(fsTree);
    assert.ok(fsNode !== null, 'the fs tree has an internal node');
    const fsLeaf = Number(/^leaf (\d+)/m.exec(fsTree)![1]);
    const block = (logical: number): { from: number; to: number; block: number; blockSize: number } => {
      const p = physical(img, logical);
      return { from: p + 32, to: p + 4096, block: p, blockSize: 4096 };
    };
    plain = {
      path: img,
      size: readFileSync(img).length,
      nodeSize: 4096,
      regions: {
        superblock: { from: SUPER + 32, to: SUPER + 0x32b, block: SUPER, blockSize: 4096 },
        'system chunk array': {
          from: SUPER + 0x32b,
          to: SUPER + 0x32b + sysSize,
          block: SUPER,
          blockSize: 4096,
        },
        'chunk tree leaf': block(chunkRoot),
        'root tree leaf': block(root),
        'fs tree node': block(Number(fsNode[1])),
        'fs tree leaf': block(fsLeaf),
      },
    };

    // A kernel-written image with zlib, lzo and zstd extents, regular and inline (when loop mounts work).
    noMount = process.getuid?.() === 0 ? undefined : 'not root';
    if (noMount === undefined) {
      const cimg = join(tmp.dir, 'compressed.img');
      writeFileSync(cimg, '');
      run('truncate', ['-s', '128M', cimg]);
      run('mkfs.btrfs', ['-q', '-f', '-m', 'single', cimg]);
      const mnt = join(tmp.dir, 'mnt');
      mkdirSync(mnt);
      const r = spawnSync('mount', ['-o', 'loop,compress-force=zlib', cimg, mnt], { encoding: 'utf8' });
      if (r.status !== 0) {
        noMount = `mount -o loop failed: ${r.stderr.trim()}`;
      } else {
        try {
          let text = '';
          for (let i = 0; i < 8000; i++) text += `line ${i} ${i % 13} ${'abc'.repeat(i % 7)}\n`;
          for (const [alg, name] of [
            ['zlib', 'z'],
            ['lzo', 'l'],
            ['zstd', 's'],
          ] as const) {
            run('mount', ['-o', `remount,compress-force=${alg}`, mnt]);
            writeFileSync(join(mnt, name), text);
            writeFileSync(join(mnt, `${name}-inline`), text.slice(0, 1500));
            run('sync', []);
          }
        } finally {
          run('umount', [mnt]);
        }
        const tree = dumpTree(cimg, '5');
        for (const code of [1, 2, 3]) assert.match(tree, new RegExp(`extent compression ${code}`));
        // The data of the compressed extents, through the single DATA chunk.
        const chunk =
          /CHUNK_ITEM (\d+)\)[^\n]*\n\s*length (\d+) [^\n]*type DATA\|single[\s\S]*?offset (\d+)/.exec(
            dumpTree(cimg, 'chunk'),
          )!;
        const starts = [
          ...tree.matchAll(/extent data disk byte (\d+) nr (\d+)\n[^\n]*\n\s*extent compression [123]/g),
        ];
        const lo = Math.min(...starts.map((m) => Number(m[1])));
        const hi = Math.max(...starts.map((m) => Number(m[1]) + Number(m[2])));
        const toPhys = (l: number): number => Number(chunk[3]) + (l - Number(chunk[1]));
        const leafOfInline = Number(/^leaf (\d+)/m.exec(tree)![1]);
        compressed = {
          path: cimg,
          size: 128 * 1024 * 1024,
          nodeSize: 16384,
          regions: {
            'compressed extents': { from: toPhys(lo), to: toPhys(hi), block: -1, blockSize: 0 },
            'fs tree leaf with inline extents': {
              from: physical(cimg, leafOfInline) + 32,
              to: physical(cimg, leafOfInline) + 16384,
              block: physical(cimg, leafOfInline),
              blockSize: 16384,
            },
          },
        };
      }
    }
  });
  after(() => tmp.cleanup());

  function check(t: Target, map: ReadonlyMap<number, number>, size = t.size): void {
    const inner = openImage(t.path, { format: 'raw' });
    try {
      const dev = new EditedDevice(inner, map, Math.min(size, inner.size), {
        maxBytes: READ_BUDGET,
        maxReads: MAX_READS,
      });
      onlyHyperwardErrors(() => {
        attempt(() => listBtrfsSubvolumes(dev));
        walk(openBtrfs(dev));
      });
    } finally {
      inner.close();
    }
  }

  it('walks the pristine images without errors', (t) => {
    for (const target of [plain, compressed]) {
      if (target === undefined) continue;
      const dev = openImage(target.path, { format: 'raw' });
      try {
        const fs = openBtrfs(
          new EditedDevice(dev, new Map(), dev.size, { maxBytes: READ_BUDGET, maxReads: MAX_READS }),
        );
        walk(fs);
        const vfs = new Vfs(fs);
        if (target === plain) {
          assert.equal(vfs.readdir('/d').length, 301);
          assert.equal(vfs.readFile('/big').length, 300_000);
        } else {
          const z = vfs.readFile('/z');
          assert.ok(z.equals(vfs.readFile('/l')) && z.equals(vfs.readFile('/s')));
          assert.ok(vfs.readFile('/l-inline').equals(z.subarray(0, 1500)));
        }
      } finally {
        dev.close();
      }
    }
    if (compressed === undefined) t.diagnostic(`compressed image not built: ${noMount}`);
  });

  for (const region of [
    'superblock',
    'system chunk array',
    'chunk tree leaf',
    'root tree leaf',
    'fs tree node',
    'fs tree leaf',
  ]) {
    it(`survives edits in the ${region} (raw, and re-signed so the parser meets them)`, () => {
      const r = plain.regions[region]!;
      const dev = openImage(plain.path, { format: 'raw' });
      try {
        fc.assert(
          fc.property(edits(r.from, r.to, 12), fc.boolean(), (e, resign) => {
            check(plain, resign ? withChecksum(dev, e, r.block, r.blockSize) : new Map(e));
          }),
          { numRuns: NUM_RUNS },
        );
      } finally {
        dev.close();
      }
    });
  }

  it('survives edits of key pointers and item headers in place (re-signed)', () => {
    // Aim at the fields that steer a walk: a node's child addresses/levels and a leaf's item offsets/sizes.
    const node = plain.regions['fs tree node']!;
    const leaf = plain.regions['fs tree leaf']!;
    const dev = openImage(plain.path, { format: 'raw' });
    try {
      const arb = fc.oneof(
        fc.tuple(fc.constant(node), fc.nat({ max: 30 }), fc.integer({ min: 17, max: 32 })),
        fc.tuple(fc.constant(leaf), fc.nat({ max: 30 }), fc.integer({ min: 17, max: 24 })),
      );
      fc.assert(
        fc.property(fc.array(fc.tuple(arb, fc.nat({ max: 255 })), { minLength: 1, maxLength: 4 }), (xs) => {
          const isNode = xs[0]![0][0] === node;
          const r = isNode ? node : leaf;
          const size = isNode ? 33 : 25;
          const e = xs.map(([[, i, f], v]): [number, number] => [r.block + 101 + i * size + f, v]);
          check(plain, withChecksum(dev, e, r.block, r.blockSize));
        }),
        { numRuns: NUM_RUNS },
      );
    } finally {
      dev.close();
    }
  });

  it('survives edits anywhere and truncation', () => {
    fc.assert(
      fc.property(
        edits(0, plain.size, 24),
        fc.option(fc.integer({ min: 0, max: plain.size }), { nil: undefined }),
        (e, cut) => check(plain, new Map(e), cut),
      ),
      { numRuns: NUM_RUNS },
    );
  });

  it('survives edits of zlib, lzo and zstd extents, compressed and inline', (t) => {
    if (compressed === undefined) {
      t.skip(`btrfs loop mounts are unavailable here (${noMount})`);
      return;
    }
    const c = compressed;
    const data = c.regions['compressed extents']!;
    const leaf = c.regions['fs tree leaf with inline extents']!;
    const dev = openImage(c.path, { format: 'raw' });
    try {
      fc.assert(
        fc.property(edits(data.from, data.to, 16), (e) => check(c, new Map(e))),
        { numRuns: NUM_RUNS },
      );
      fc.assert(
        fc.property(edits(leaf.from, leaf.to, 8), (e) =>
          check(c, withChecksum(dev, e, leaf.block, leaf.blockSize)),
        ),
        { numRuns: NUM_RUNS },
      );
    } finally {
      dev.close();
    }
    // The compressed bytes really are read: a damaged extent shows as different content or an error.
    const buf = Buffer.alloc(64);
    const fd = openSync(c.path, 'r');
    readSync(fd, buf, 0, 64, data.from);
    closeSync(fd);
    assert.ok(buf.some((b) => b !== 0));
  });
});
