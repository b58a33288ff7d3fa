import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { attempt, byteEdits, byteEditsIn, onlyHyperwardErrors } from '../../test/helpers/fuzz.js';
import { pattern } from '../../test/helpers/pattern.js';
import { run, tempDir } from '../../test/helpers/tmp.js';
import { openImage } from '../disk/open.js';
import { checkRange, type BlockDevice, type DeviceInfo } from '../disk/types.js';
import { openFat } from './fat.js';
import type { FileSystem } from './types.js';
import { Vfs } from './vfs.js';

const NUM_RUNS = 200;
const MTOOLS_ENV = { ...process.env, TZ: 'UTC', MTOOLS_SKIP_CHECK: '1' };

/** Walks everything reachable, reading every file (capped) and name; bounded whatever the image says. */
function walk(fs: FileSystem): void {
  const seen = new Set<number>();
  let budget = 1000;
  const visit = (dir: number, depth: number): void => {
    if (seen.has(dir) || depth > 12 || budget <= 0) return;
    seen.add(dir);
    const entries = attempt(() => fs.readdir(dir)) ?? [];
    for (const e of entries) {
      if (--budget <= 0) return;
      attempt(() => fs.lookup(dir, e.name));
      attempt(() => fs.lookup(dir, e.name.toUpperCase()));
      const st = attempt(() => fs.stat(e.ino));
      if (st === undefined) continue;
      if (st.type === 'file') {
        attempt(() => fs.read(e.ino, 0, Math.min(st.size, 64 * 1024)));
        attempt(() => fs.read(e.ino, Math.max(0, st.size - 5000), 10_000));
      } else if (st.type === 'dir') {
        visit(e.ino, depth + 1);
      }
      attempt(() => fs.readlink(e.ino));
    }
  };
  attempt(() => fs.stat(fs.rootIno));
  visit(fs.rootIno, 0);
  const vfs = new Vfs(fs);
  for (const p of ['/d/a long file name 7.txt', '/A/B/H', '/big', '/frag', '/nope/x']) {
    attempt(() => vfs.resolve(p));
    attempt(() => vfs.tryReadFile(p, 1024 * 1024));
  }
}

/**
 * A read-only device over a pristine image with byte edits laid over it and an optional cut, with the same
 * range checks as the file-backed devices; the images are up to 34 MiB, so no copy is made per run.
 */
class MutatedDevice implements BlockDevice {
  readonly format = 'raw';
  readonly name = 'mutated.img';
  readonly size: number;
  readonly info: DeviceInfo;
  constructor(
    private readonly base: Buffer,
    private readonly edits: ReadonlyArray<readonly [number, number]>,
    cut?: number,
  ) {
    this.size = cut ?? base.length;
    this.info = { format: 'raw', virtualSize: this.size, files: [] };
  }
  read(offset: number, length: number): Buffer {
    checkRange(this, offset, length);
    const out = Buffer.from(this.base.subarray(offset, offset + length));
    for (const [at, v] of this.edits) if (at >= offset && at < offset + length) out[at - offset] = v;
    return out;
  }
  close(): void {}
}

interface Target {
  name: string;
  image: Buffer;
  regions: Record<string, [number, number]>;
}

function fsckLayout(img: string): {
  fatAt: number;
  fatBytes: number;
  dataAt: number;
  clusterSize: number;
  rootAt?: number;
} {
  const out = run('fsck.fat', ['-n', '-v', img]);
  const num = (re: RegExp): number => Number(re.exec(out)![1]);
  const root = /Root directory starts at byte (\d+)/.exec(out);
  return {
    fatAt: num(/First FAT starts at byte (\d+)/),
    fatBytes: num(/(\d+) bytes per FAT/),
    dataAt: num(/Data area starts at byte (\d+)/),
    clusterSize: num(/(\d+) bytes per cluster/),
    ...(root !== null ? { rootAt: Number(root[1]) } : {}),
  };
}

function firstCluster(img: string, path: string): number {
  const out = run('mshowfat', ['-i', img, `::${path}`], { env: MTOOLS_ENV });
  return Number(/<(\d+)/.exec(out)![1]);
}

describe('FAT reader under mutated images (fast-check)', () => {
  let tmp: { dir: string; cleanup: () => void };
  const targets: Target[] = [];

  before(() => {
    tmp = tempDir('hyperward-fatfz-');
    const src = join(tmp.dir, 'src');
    mkdirSync(join(src, 'd'), { recursive: true });
    mkdirSync(join(src, 'a/b'), { recursive: true });
    for (let i = 0; i < 40; i++) writeFileSync(join(src, `d/a long file name ${i}.txt`), `file ${i}\n`);
    writeFileSync(join(src, 'd/SHORT.TXT'), 'short\n');
    writeFileSync(join(src, 'a/b/h'), 'hello\n');
    writeFileSync(join(src, 'big'), pattern(40_000, 3));
    writeFileSync(join(src, 'empty'), '');
    const make = (name: string, args: string[], kib: number): void => {
      const img = join(tmp.dir, `${name}.img`);
      run('mkfs.vfat', ['-C', '-n', 'FUZZ', ...args, img, String(kib)]);
      const top = readdirSync(src).map((n) => join(src, n));
      run('mcopy', ['-s', '-m', '-i', img, ...top, '::/'], { env: MTOOLS_ENV });
      run('mdel', ['-i', img, '::/d/a long file name 3.txt'], { env: MTOOLS_ENV });
      const l = fsckLayout(img);
      const dirAt = l.dataAt + (firstCluster(img, '/d') - 2) * l.clusterSize;
      const rootAt = l.rootAt ?? l.dataAt + (firstCluster(img, '/') - 2) * l.clusterSize;
      targets.push({
        name,
        image: readFileSync(img),
        regions: {
          'boot sector': [0, 512],
          FAT: [l.fatAt, l.fatAt + Math.min(l.fatBytes, 4096)],
          root: [rootAt, rootAt + Math.min(l.clusterSize, 2048)],
          directory: [dirAt, dirAt + l.clusterSize],
        },
      });
    };
    make('fat12', ['-F', '12', '-s', '1'], 1024);
    make('fat16', ['-F', '16', '-s', '1'], 8 * 1024);
    make('fat32', ['-F', '32', '-s', '1'], 34 * 1024);
  });
  after(() => tmp.cleanup());

  function check(image: Buffer, edits: ReadonlyArray<readonly [number, number]>, cut?: number): void {
    onlyHyperwardErrors(() => walk(openFat(new MutatedDevice(image, edits, cut))));
  }

  it('walks the pristine images without errors', () => {
    for (const t of targets) {
      const path = join(tmp.dir, 'pristine.img');
      writeFileSync(path, t.image);
      const dev = openImage(path, { format: 'raw' });
      try {
        const fs = openFat(dev);
        assert.equal(fs.label, 'FUZZ');
        assert.equal(fs.readdir(new Vfs(fs).resolve('/d')!).length, 40, t.name);
        assert.ok(new Vfs(fs).readFile('/big').equals(pattern(40_000, 3)));
        walk(fs);
      } finally {
        dev.close();
      }
    }
  });

  for (const region of ['boot sector', 'FAT', 'root', 'directory'] as const) {
    it(`survives edits in the ${region}`, () => {
      const arb = fc.integer({ min: 0, max: targets.length - 1 }).chain((ti) => {
        const [from, to] = targets[ti]!.regions[region]!;
        return fc.tuple(fc.constant(ti), byteEditsIn(from, to, 12));
      });
      fc.assert(
        fc.property(arb, ([ti, edits]) => check(targets[ti]!.image, edits)),
        { numRuns: NUM_RUNS },
      );
    });
  }

  it('survives edits anywhere and truncation', () => {
    const arb = fc.integer({ min: 0, max: targets.length - 1 }).chain((ti) => {
      const len = targets[ti]!.image.length;
      return fc.tuple(
        fc.constant(ti),
        byteEdits(len, 24),
        fc.option(fc.integer({ min: 0, max: len }), { nil: undefined }),
      );
    });
    fc.assert(
      fc.property(arb, ([ti, edits, cut]) => check(targets[ti]!.image, edits, cut)),
      { numRuns: NUM_RUNS },
    );
  });
});
