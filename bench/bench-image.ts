/**
 * The benchmark's disk: a 4 GiB GPT disk whose ext4 root holds the fixtures' Debian base tree plus 2 GiB of
 * incompressible files spread over the filesystem, as qcow2 and as a monolithicSparse VMDK. Built with the
 * fixture builder's own functions and cached under `<repo>/.cache/bench/` (a stage committed by rename).
 */
import { mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { buildFixtures, repoRoot, rootFsOptions } from '../test/fixtures/build.js';
import { convert, makeGptDisk, qemuInfo, type ConversionSpec } from '../test/fixtures/disks.js';
import { copyTree, fingerprint } from '../test/fixtures/rootfs.js';
import {
  acquireLock,
  log,
  removeStaleTemps,
  shAsync,
  since,
  stage,
  writePrngFile,
} from '../test/fixtures/tools.js';

/** Bump when the bench image's recipe changes. */
const BENCH_RECIPE = 1;
const WHO = 'bench';
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** The large files added to the tree: path inside the image, size, and the seed of their bytes. */
const DATA_FILES: ReadonlyArray<{ path: string; size: number }> = [
  { path: '/srv/data/big-1g.bin', size: 1 * GiB },
  { path: '/home/alice/archive.bin', size: 256 * MiB },
  { path: '/opt/app/assets.bin', size: 256 * MiB },
  { path: '/var/backups/db-dump.bin', size: 256 * MiB },
  { path: '/usr/share/bench/media.bin', size: 256 * MiB },
];

/** The file `image cat` is timed on. */
export const CAT_PATH = '/srv/data/big-1g.bin';

/** One image of the benchmark. */
export interface BenchImage {
  name: string;
  path: string;
  format: string;
  subformat: string;
  virtualSize: number;
  /** Size of the image file (what a raw copy must at least read). */
  fileSize: number;
  /** Guest data the image holds: the sum of the extents `qemu-img map` reports as data. */
  dataBytes: number;
}

/** What the benchmark knows about its disk, independently of any tool under test. */
export interface BenchDisk {
  images: BenchImage[];
  /** Byte offset of the root ext4 in the virtual disk. */
  rootOffset: number;
  /** Installed packages (from the fixtures' dpkg-query oracle) and the OS. */
  packageCount: number;
  osId: string;
  osVersionId: string;
  /** SHA-256 and size of each added data file, by path. */
  files: Record<string, { sha256: string; size: number }>;
}

/** `qemu-img map --output=json`: total length of the extents holding data. */
async function dataBytes(path: string, qemuFormat: string): Promise<number> {
  const map = JSON.parse(
    await shAsync('qemu-img', ['map', '--output=json', '-f', qemuFormat, path]),
  ) as Array<{ length: number; data: boolean }>;
  return map.filter((e) => e.data).reduce((n, e) => n + e.length, 0);
}

/**
 * Builds (or reuses) the benchmark disk. The first build takes a few minutes (2 GiB of data to generate, write
 * into ext4 and convert twice); later calls only check the stamp.
 */
export async function buildBenchDisk(): Promise<BenchDisk> {
  const fixtures = await buildFixtures();
  const base = fixtures.trees['base'];
  if (base === undefined) throw new Error('fixtures have no base tree');
  const dir = join(repoRoot(), '.cache', 'bench');
  mkdirSync(dir, { recursive: true });
  const release = await acquireLock(join(dir, '.lock'), WHO);
  try {
    removeStaleTemps(dir);
    const key = { recipe: BENCH_RECIPE, tree: fingerprint(readFileSync(base.filesFile, 'utf8')) };
    const disk = await stage<BenchDisk>({
      dir: join(dir, 'images'),
      key,
      who: WHO,
      valid: (d, data) =>
        data.images.every((i) => {
          try {
            return statSync(join(d, i.name)).size === i.fileSize;
          } catch {
            return false;
          }
        }),
      build: async (tmp) => {
        const t0 = performance.now();
        const tree = join(tmp, 'tree');
        copyTree(base.root, tree);
        const files: BenchDisk['files'] = {};
        for (const f of DATA_FILES) {
          mkdirSync(dirname(join(tree, f.path)), { recursive: true });
          files[f.path] = {
            sha256: writePrngFile(join(tree, f.path), f.size, `bench${f.path}`),
            size: f.size,
          };
        }
        log(WHO, `tree with ${DATA_FILES.length} data files ready in ${since(t0)}; making the 4 GiB disk`);
        const facts = await makeGptDisk(join(tmp, 'bench.raw'), 4 * GiB, rootFsOptions(tree));
        rmSync(tree, { recursive: true, force: true });
        log(WHO, `bench.raw made in ${since(t0)}; converting`);
        const specs: ConversionSpec[] = [
          {
            name: 'bench.qcow2',
            from: 'bench.raw',
            format: 'qcow2',
            qemuFormat: 'qcow2',
            subformat: 'compat=1.1',
            args: [],
          },
          {
            name: 'bench.vmdk',
            from: 'bench.raw',
            format: 'vmdk',
            qemuFormat: 'vmdk',
            subformat: 'monolithicSparse',
            args: ['-o', 'subformat=monolithicSparse'],
          },
        ];
        const images: BenchImage[] = [];
        for (const s of specs) {
          await convert(tmp, s);
          const info = await qemuInfo(tmp, s.name, s.qemuFormat);
          images.push({
            name: s.name,
            path: s.name,
            format: s.format,
            subformat: s.subformat,
            virtualSize: info['virtual-size'],
            fileSize: statSync(join(tmp, s.name)).size,
            dataBytes: await dataBytes(join(tmp, s.name), s.qemuFormat),
          });
        }
        rmSync(join(tmp, 'bench.raw'));
        log(WHO, `bench images done in ${since(t0)}`);
        return {
          images,
          rootOffset: facts.rootOffset,
          packageCount: base.packageCount,
          osId: base.osRelease['ID'] ?? '',
          osVersionId: base.osRelease['VERSION_ID'] ?? '',
          files,
        };
      },
    });
    const imagesDir = join(dir, 'images');
    return { ...disk.data, images: disk.data.images.map((i) => ({ ...i, path: join(imagesDir, i.name) })) };
  } finally {
    release();
  }
}
