import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, symlinkSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { attempt, EditedDevice, onlyHyperwardErrors } from '../../test/helpers/fuzz.js';
import { run, tempDir } from '../../test/helpers/tmp.js';
import { crc32cWithZeroedField } from '../disk/crc32c.js';
import { openImage } from '../disk/open.js';
import type { FileSystem } from './types.js';
import { Vfs } from './vfs.js';
import { openXfs } from './xfs.js';

const NUM_RUNS = 150;

/** Walks everything reachable, reading files (capped), links and names; bounded whatever the image says. */
function walk(fs: FileSystem): number {
  const seen = new Set<number>();
  let budget = 2500;
  let entries = 0;
  const visit = (dir: number, depth: number): void => {
    if (seen.has(dir) || depth > 16 || budget <= 0) return;
    seen.add(dir);
    const list = attempt(() => fs.readdir(dir)) ?? [];
    for (const e of list) {
      if (--budget <= 0) return;
      entries++;
      if (budget % 5 === 0 || !e.name.startsWith('entry-')) attempt(() => fs.lookup(dir, e.name));
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
  for (const p of [
    '/d-btree/entry-4321',
    '/d-node/entry-77',
    '/d-leaf/entry-5',
    '/long',
    '/big',
    '/nope/x',
  ]) {
    attempt(() => vfs.resolve(p));
    attempt(() => vfs.tryReadFile(p, 1024 * 1024));
  }
  return entries;
}

/** A structure worth aiming at: its byte range and, on v5, where its CRC32C lives. */
interface Region {
  name: string;
  start: number;
  length: number;
  crcAt?: number;
}

interface Target {
  version: 4 | 5;
  img: string;
  size: number;
  regions: Record<'superblock' | 'inode' | 'directory' | 'btree' | 'symlink', Region[]>;
}

function xfsDb(img: string, ...cmds: string[]): string {
  return run('xfs_db', ['-r', ...cmds.flatMap((c) => ['-c', c]), img]);
}

describe('xfs reader under mutated images (fast-check)', () => {
  let tmp: { dir: string; cleanup: () => void };
  const targets: Target[] = [];

  before(() => {
    tmp = tempDir('hyperward-xfsfz-');
    // Protofile: one directory per directory format, files, a btree-format directory, local and remote links.
    const data = join(tmp.dir, 'data');
    writeFileSync(data, Buffer.alloc(300 * 1024, 0x5a));
    const small = join(tmp.dir, 'small');
    writeFileSync(small, 'hello\n');
    const lines = ['/dev/null', '0 0', 'd--755 0 0'];
    for (const [dir, n] of [
      ['d-sf', 5],
      ['d-block', 50],
      ['d-leaf', 500],
      ['d-node', 700],
      ['d-btree', 5000],
    ] as const) {
      lines.push(`${dir} d--755 0 0`);
      for (let i = 0; i < n; i++) lines.push(` entry-${i} ---644 0 0 ${i % 97 === 0 ? small : '/dev/null'}`);
      lines.push(' $');
    }
    lines.push(`big ---644 0 0 ${data}`, `small ---600 1 2 ${small}`, 'short l--777 0 0 small');
    lines.push(`long l--777 0 0 ${'l'.repeat(900)}`, 'fifo p--644 0 0', '$');
    const proto = join(tmp.dir, 'proto');
    writeFileSync(proto, lines.join('\n') + '\n');

    for (const version of [5, 4] as const) {
      const img = join(tmp.dir, `v${version}.img`);
      writeFileSync(img, '');
      truncateSync(img, 300 * 1024 * 1024);
      const r = spawnSync('mkfs.xfs', [
        '-q',
        '-f',
        ...(version === 4 ? ['-m', 'crc=0'] : []),
        '-p',
        proto,
        img,
      ]);
      assert.equal(r.status, 0, r.stderr.toString());
      if (version === 5) {
        // mkfs.xfs 6.1 writes v5 remote symlinks without their header: let the kernel write it.
        const mnt = join(tmp.dir, 'mnt');
        mkdirSync(mnt);
        run('mount', ['-o', 'loop', img, mnt]);
        try {
          unlinkSync(join(mnt, 'long'));
          symlinkSync('l'.repeat(900), join(mnt, 'long'));
        } finally {
          run('umount', [mnt]);
        }
      }
      const num = (s: string, re: RegExp): number => Number(re.exec(s)?.[1]);
      const byteOfFsb = (fsb: number): number => num(xfsDb(img, `convert fsblock ${fsb} byte`), /\((\d+)\)/);
      const inodeAt = (path: string): number => {
        const ino = num(xfsDb(img, `path ${path}`, 'inode'), /current inode number is (\d+)/);
        return num(xfsDb(img, `convert inode ${ino} byte`), /\((\d+)\)/);
      };
      const extents = (path: string): Array<[number, number]> =>
        [...xfsDb(img, `path ${path}`, 'bmap').matchAll(/data offset (\d+) startblock (\d+)/g)].map((m) => [
          Number(m[1]),
          Number(m[2]),
        ]);
      const leafSpace = 2 ** 35 / 4096;
      const v5 = version === 5;
      const isize = v5 ? 512 : 256;
      const inode = (path: string): Region => ({
        name: `inode ${path}`,
        start: inodeAt(path),
        length: isize,
        ...(v5 ? { crcAt: 100 } : {}),
      });
      const block = (name: string, fsb: number, crcAt: number): Region => ({
        name,
        start: byteOfFsb(fsb),
        length: 4096,
        ...(v5 ? { crcAt } : {}),
      });
      const u = v5 ? 'u3' : 'u';
      const bmbt = num(xfsDb(img, 'path /d-btree', `print ${u}.bmbt.ptrs[1]`), /= (\d+)/);
      const leafOf = (path: string): number => extents(path).find(([o]) => o >= leafSpace)![1];
      targets.push({
        version,
        img,
        size: 300 * 1024 * 1024,
        regions: {
          superblock: [{ name: 'superblock', start: 0, length: 512, ...(v5 ? { crcAt: 224 } : {}) }],
          inode: ['/', '/d-btree', '/d-node', '/long', '/big', '/d-sf'].map(inode),
          directory: [
            block('block directory', extents('/d-block')[0]![1], 4),
            block('leaf directory leaf', leafOf('/d-leaf'), 12),
            block('node directory root', leafOf('/d-node'), 12),
            block('node directory data', extents('/d-node')[0]![1], 4),
          ],
          btree: [block('bmap btree leaf', bmbt, 64)],
          symlink: [block('remote symlink', extents('/long')[0]![1], 12)],
        },
      });
    }
  });
  after(() => tmp.cleanup());

  /** Opens the target with `edits` laid over it (cut to `size`) and walks it: only HyperwardErrors may escape. */
  function check(t: Target, edits: Map<number, number>, size = t.size): void {
    const raw = openImage(t.img, { format: 'raw' });
    try {
      onlyHyperwardErrors(() => walk(openXfs(new EditedDevice(raw, edits, size))));
    } finally {
      raw.close();
    }
  }

  /** Byte edits in a region; with `fixCrc` the region's CRC is recomputed so the parser looks past it. */
  function regionEdits(
    t: Target,
    r: Region,
    edits: Array<[number, number]>,
    fixCrc: boolean,
  ): Map<number, number> {
    const m = new Map<number, number>();
    for (const [o, v] of edits) m.set(r.start + (o % r.length), v);
    if (fixCrc && r.crcAt !== undefined) {
      const raw = openImage(t.img, { format: 'raw' });
      try {
        const b = Buffer.from(raw.read(r.start, r.length));
        for (const [o, v] of m) b[o - r.start] = v;
        const c = crc32cWithZeroedField(b, r.crcAt);
        for (let k = 0; k < 4; k++) m.set(r.start + r.crcAt + k, (c >>> (8 * k)) & 0xff);
      } finally {
        raw.close();
      }
    }
    return m;
  }

  it('walks the pristine images without errors', () => {
    for (const t of targets) {
      const raw = openImage(t.img, { format: 'raw' });
      try {
        const fs = openXfs(new EditedDevice(raw, new Map(), t.size));
        const vfs = new Vfs(fs);
        assert.equal(fs.readdir(vfs.resolve('/d-btree')!).length, 5000);
        assert.equal(vfs.readlink('/long'), 'l'.repeat(900), `v${t.version}`);
        assert.equal(vfs.readFile('/big').length, 300 * 1024);
        assert.ok(walk(fs) > 2000);
      } finally {
        raw.close();
      }
    }
  });

  for (const kind of ['superblock', 'inode', 'directory', 'btree', 'symlink'] as const) {
    it(`survives edits of ${kind === 'inode' ? 'inodes' : `the ${kind}`} (CRCs recomputed or not)`, () => {
      const arb = fc
        .tuple(fc.nat({ max: targets.length - 1 }), fc.nat(), fc.boolean())
        .chain(([ti, ri, fix]) =>
          fc.tuple(
            fc.constant(ti),
            fc.constant(ri),
            fc.constant(fix),
            fc.array(fc.tuple(fc.nat({ max: 65535 }), fc.nat({ max: 255 })), { minLength: 1, maxLength: 12 }),
          ),
        );
      fc.assert(
        fc.property(arb, ([ti, ri, fix, edits]) => {
          const t = targets[ti]!;
          const regions = t.regions[kind];
          const r = regions[ri % regions.length]!;
          check(t, regionEdits(t, r, edits, fix));
        }),
        { numRuns: NUM_RUNS },
      );
    });
  }

  it('survives edits of the fields that steer a walk (levels, counts, pointers)', () => {
    // Small values in the header words of btree, directory and inode structures, CRCs kept valid.
    const arb = fc.tuple(
      fc.nat({ max: targets.length - 1 }),
      fc.constantFrom('inode', 'directory', 'btree') as fc.Arbitrary<'inode' | 'directory' | 'btree'>,
      fc.nat(),
      fc.array(fc.tuple(fc.nat({ max: 127 }), fc.constantFrom(0, 1, 2, 3, 0x7f, 0x80, 0xff)), {
        minLength: 1,
        maxLength: 4,
      }),
    );
    fc.assert(
      fc.property(arb, ([ti, kind, ri, edits]) => {
        const t = targets[ti]!;
        const regions = t.regions[kind];
        const r = regions[ri % regions.length]!;
        check(t, regionEdits(t, r, edits, true));
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('survives edits anywhere near metadata, anywhere at all, and truncation', () => {
    // An edit lands within 64 KiB of a known structure (or, for a negative anchor, anywhere in the image).
    const arb = fc.tuple(
      fc.nat({ max: targets.length - 1 }),
      fc.array(
        fc.tuple(
          fc.integer({ min: -1, max: 63 }),
          fc.integer({ min: -65536, max: 65535 }),
          fc.nat(),
          fc.nat({ max: 255 }),
        ),
        {
          minLength: 1,
          maxLength: 24,
        },
      ),
      fc.option(fc.integer({ min: 0, max: 300 * 1024 * 1024 }), { nil: undefined }),
    );
    fc.assert(
      fc.property(arb, ([ti, edits, cut]) => {
        const t = targets[ti]!;
        const all = Object.values(t.regions).flat();
        const m = new Map<number, number>();
        for (const [anchor, delta, any, v] of edits) {
          const off = anchor < 0 ? any % t.size : all[anchor % all.length]!.start + delta;
          if (off >= 0 && off < t.size) m.set(off, v);
        }
        check(t, m, cut ?? t.size);
      }),
      { numRuns: NUM_RUNS },
    );
  });
});
