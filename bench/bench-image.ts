/**
 * The image benchmarks' disks, built with the fixture builder's own functions and cached under
 * `<repo>/.cache/bench/` (stages committed by rename). Every one holds the fixtures' Debian base tree plus the
 * same 2 GiB of incompressible files spread over the filesystem:
 *   - `buildBenchDisk` (image-inventory): a 4 GiB GPT disk with an ext4 root, as qcow2 and monolithicSparse VMDK;
 *   - `buildFsBenchDisks` (image-filesystems): a 6 GiB RHEL-like disk (/boot ext4, LVM2 with swap and an XFS root
 *     LV) and a 6 GiB Fedora-like disk (/boot ext4, btrfs with `root` and `home` subvolumes, zstd), as qcow2.
 */
import { mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { buildFixtures, repoRoot, rootFsOptions } from '../test/fixtures/build.js';
import {
  convert,
  freshFile,
  GUIDS,
  makeGptDisk,
  mkExt4,
  qemuInfo,
  readPartitions,
  type ConversionSpec,
} from '../test/fixtures/disks.js';
import { copyTree, fingerprint } from '../test/fixtures/rootfs.js';
import {
  acquireLock,
  log,
  removeStaleTemps,
  sh,
  shAsync,
  since,
  stage,
  writePrngFile,
} from '../test/fixtures/tools.js';
import type { RawPartition } from './image-methods.js';
import { lvm, lvPlacement, withLoop } from './volumes.js';

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

/** Copies the base tree to `tree` and adds DATA_FILES to it; returns their hashes and sizes by path. */
function dataTree(baseRoot: string, tree: string): BenchDisk['files'] {
  copyTree(baseRoot, tree);
  const files: BenchDisk['files'] = {};
  for (const f of DATA_FILES) {
    mkdirSync(dirname(join(tree, f.path)), { recursive: true });
    files[f.path] = { sha256: writePrngFile(join(tree, f.path), f.size, `bench${f.path}`), size: f.size };
  }
  return files;
}

/** Converts each spec's raw disk inside `dir` and describes the result. */
async function convertAll(dir: string, specs: readonly ConversionSpec[]): Promise<BenchImage[]> {
  const images: BenchImage[] = [];
  for (const s of specs) {
    await convert(dir, s);
    const info = await qemuInfo(dir, s.name, s.qemuFormat);
    images.push({
      name: s.name,
      path: s.name,
      format: s.format,
      subformat: s.subformat,
      virtualSize: info['virtual-size'],
      fileSize: statSync(join(dir, s.name)).size,
      dataBytes: await dataBytes(join(dir, s.name), s.qemuFormat),
    });
  }
  return images;
}

/** A qcow2 v3 conversion of `from`. */
const qcow2 = (name: string, from: string): ConversionSpec => ({
  name,
  from,
  format: 'qcow2',
  qemuFormat: 'qcow2',
  subformat: 'compat=1.1',
  args: [],
});

/** True when every image file of a cached stage still has the size it was built with. */
const imagesIntact = (d: string, images: readonly BenchImage[]): boolean =>
  images.every((i) => {
    try {
      return statSync(join(d, i.name)).size === i.fileSize;
    } catch {
      return false;
    }
  });

/** Runs `build` on a cached stage `<repo>/.cache/bench/<name>` under the bench lock. */
async function benchStage<D extends { images: BenchImage[] }>(
  name: string,
  key: unknown,
  build: (tmp: string) => Promise<D>,
): Promise<D> {
  const dir = join(repoRoot(), '.cache', 'bench');
  mkdirSync(dir, { recursive: true });
  const release = await acquireLock(join(dir, '.lock'), WHO);
  try {
    removeStaleTemps(dir);
    const imagesDir = join(dir, name);
    const built = await stage<D>({
      dir: imagesDir,
      key,
      who: WHO,
      valid: (d, data) => imagesIntact(d, data.images),
      build,
    });
    return { ...built.data, images: built.data.images.map((i) => ({ ...i, path: join(imagesDir, i.name) })) };
  } finally {
    release();
  }
}

/**
 * Builds (or reuses) the benchmark disk. The first build takes a few minutes (2 GiB of data to generate, write
 * into ext4 and convert twice); later calls only check the stamp.
 */
export async function buildBenchDisk(): Promise<BenchDisk> {
  const fixtures = await buildFixtures();
  const base = fixtures.trees['base'];
  if (base === undefined) throw new Error('fixtures have no base tree');
  const key = { recipe: BENCH_RECIPE, tree: fingerprint(readFileSync(base.filesFile, 'utf8')) };
  return benchStage<BenchDisk>('images', key, async (tmp) => {
    const t0 = performance.now();
    const tree = join(tmp, 'tree');
    const files = dataTree(base.root, tree);
    log(WHO, `tree with ${DATA_FILES.length} data files ready in ${since(t0)}; making the 4 GiB disk`);
    const facts = await makeGptDisk(join(tmp, 'bench.raw'), 4 * GiB, rootFsOptions(tree));
    rmSync(tree, { recursive: true, force: true });
    log(WHO, `bench.raw made in ${since(t0)}; converting`);
    const images = await convertAll(tmp, [
      qcow2('bench.qcow2', 'bench.raw'),
      {
        name: 'bench.vmdk',
        from: 'bench.raw',
        format: 'vmdk',
        qemuFormat: 'vmdk',
        subformat: 'monolithicSparse',
        args: ['-o', 'subformat=monolithicSparse'],
      },
    ]);
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
  });
}

// ---------------------------------------------------------------------------------------------------------------
// The filesystem benchmark's disks.

/** Bump when the filesystem bench images' recipe changes. */
const FS_RECIPE = 1;
const FS_DISK_SIZE = 6 * GiB;
/** RHEL 9's and Fedora's installers give /boot 1 GiB. */
const BOOT_SIZE = 1 * GiB;
const SWAP_SIZE = 512 * MiB;

/** What a user of the raw-copy approach is assumed to know of the layouts (the distributions' conventions). */
export const FS_LAYOUT = {
  /** RHEL's installer: volume group `rhel`, logical volumes `root` and `swap`. */
  vg: 'rhel',
  rootLv: 'root',
  swapLv: 'swap',
  /** Fedora's installer: the OS in subvolume `root`, /home in subvolume `home`. */
  rootSubvolume: 'root',
  homeSubvolume: 'home',
} as const;

const FS_UUIDS = {
  boot: '5b0c7d1e-3f2a-4c6b-9d8e-7a6b5c4d3e01',
  xfs: '5b0c7d1e-3f2a-4c6b-9d8e-7a6b5c4d3e02',
  swap: '5b0c7d1e-3f2a-4c6b-9d8e-7a6b5c4d3e03',
  btrfs: '5b0c7d1e-3f2a-4c6b-9d8e-7a6b5c4d3e04',
} as const;

export type FsLayout = 'lvm-xfs' | 'btrfs';

/** One image of the filesystem benchmark. */
export interface FsBenchImage extends BenchImage {
  layout: FsLayout;
  /** One line on what the disk holds, for the report. */
  description: string;
}

/** What the filesystem benchmark knows about its disks, independently of any tool under test. */
export interface FsBenchDisks {
  images: FsBenchImage[];
  /** Installed packages per the fixtures' `dpkg-query --admindir` oracle, and the OS. */
  packageCount: number;
  osId: string;
  osVersionId: string;
  /** SHA-256 of /var/lib/dpkg/status in the source tree. */
  statusSha256: string;
  /** SHA-256 and size of each added data file, by path. */
  files: Record<string, { sha256: string; size: number }>;
}

/** A GPT disk of FS_DISK_SIZE: partition 1 a 1 GiB ext4 /boot, partition 2 the rest with type `type2`. */
async function bootAndRest(
  file: string,
  type2: string,
  name2: string,
  bootTree: string,
): Promise<RawPartition[]> {
  freshFile(file, FS_DISK_SIZE);
  const end1 = 2048 + BOOT_SIZE / 512 - 1;
  // sgdisk -q writes nothing on this machine: keep it verbose and drop the output.
  sh('sgdisk', [
    '-o',
    '-U',
    GUIDS.disk,
    '-n',
    `1:2048:${end1}`,
    '-t',
    '1:8300',
    '-c',
    '1:boot',
    '-n',
    '2:0:0',
    '-t',
    `2:${type2}`,
    '-c',
    `2:${name2}`,
    file,
  ]);
  const parts = readPartitions(file).parts;
  const boot = parts[0]!;
  await mkExt4(file, boot.start, boot.size, {
    uuid: FS_UUIDS.boot,
    label: 'boot',
    blockSize: 4096,
    tree: bootTree,
  });
  return parts.map((p) => ({ start: p.start, size: p.size, type: p.type }));
}

/** Mounts `dev` on `mnt` (created if needed) for `fn`, unmounting afterwards whatever happens. */
function withMount<T>(dev: string, mnt: string, options: string, fn: () => T): T {
  mkdirSync(mnt, { recursive: true });
  sh('mount', [...(options ? ['-o', options] : []), dev, mnt]);
  try {
    return fn();
  } finally {
    sh('umount', [mnt]);
  }
}

/** Copies the entries of `tree` named by `names` into `to` (which exists), keeping everything. */
function copyEntries(tree: string, names: readonly string[], to: string): void {
  if (names.length > 0) sh('cp', ['-a', ...names.map((n) => join(tree, n)), to]);
}

/**
 * The RHEL-like disk: /boot ext4; an LVM2 PV holding VG `rhel` with a 512 MiB swap LV (mkswap) and the root LV
 * over the rest, XFS made by mkfs.xfs and filled through a kernel mount (`cp -a`), with RHEL's fstab.
 */
async function makeLvmXfsDisk(file: string, tree: string, bootTree: string): Promise<void> {
  const [, pv] = await bootAndRest(file, '8E00', 'lvm', bootTree);
  if (pv === undefined) throw new Error('no second partition');
  const { vg, rootLv, swapLv } = FS_LAYOUT;
  const { root, swap } = withLoop(file, { offset: pv.start, size: pv.size, writable: true }, (dev) => {
    lvm(dev, 'pvcreate', ['-q', dev]);
    lvm(dev, 'vgcreate', ['-q', vg, dev]);
    const create = ['-q', '--driverloaded', 'n', '-an', '-Zn'];
    lvm(dev, 'lvcreate', [...create, '-L', `${SWAP_SIZE}b`, '-n', swapLv, vg]);
    lvm(dev, 'lvcreate', [...create, '-l', '100%FREE', '-n', rootLv, vg]);
    return { root: lvPlacement(dev, vg, rootLv), swap: lvPlacement(dev, vg, swapLv) };
  });
  withLoop(file, { offset: pv.start + swap.offset, size: swap.size, writable: true }, (dev) =>
    sh('mkswap', ['-U', FS_UUIDS.swap, dev]),
  );
  withLoop(file, { offset: pv.start + root.offset, size: root.size, writable: true }, (dev) => {
    sh('mkfs.xfs', ['-q', '-f', '-m', `uuid=${FS_UUIDS.xfs}`, dev]);
    const mnt = `${file}.mnt`;
    withMount(dev, mnt, '', () => {
      copyEntries(tree, readdirSync(tree), mnt);
      writeFileSync(
        join(mnt, 'etc/fstab'),
        `/dev/mapper/${vg}-${rootLv}   /       xfs     defaults        0 0\n` +
          `UUID=${FS_UUIDS.boot} /boot                   ext4    defaults        1 2\n` +
          `/dev/mapper/${vg}-${swapLv}   none    swap    defaults        0 0\n`,
      );
    });
    rmSync(mnt, { recursive: true });
  });
}

/**
 * The Fedora-like disk: /boot ext4; btrfs over the rest with the OS in subvolume `root` and /home in subvolume
 * `home`, written through a kernel mount with `compress=zstd:1` (Fedora's default), with Fedora's fstab.
 */
async function makeBtrfsDisk(file: string, tree: string, bootTree: string): Promise<void> {
  const [, part] = await bootAndRest(file, '8300', 'root', bootTree);
  if (part === undefined) throw new Error('no second partition');
  const { rootSubvolume: rs, homeSubvolume: hs } = FS_LAYOUT;
  withLoop(file, { offset: part.start, size: part.size, writable: true }, (dev) => {
    sh('mkfs.btrfs', ['-q', '-f', '-U', FS_UUIDS.btrfs, '-L', 'fedora', dev]);
    const mnt = `${file}.mnt`;
    withMount(dev, mnt, 'compress=zstd:1', () => {
      sh('btrfs', ['subvolume', 'create', join(mnt, rs)]);
      sh('btrfs', ['subvolume', 'create', join(mnt, hs)]);
      copyEntries(
        tree,
        readdirSync(tree).filter((n) => n !== 'home'),
        join(mnt, rs),
      );
      mkdirSync(join(mnt, rs, 'home'), { mode: 0o755 });
      copyEntries(join(tree, 'home'), readdirSync(join(tree, 'home')), join(mnt, hs));
      const opts = (sub: string): string => `subvol=${sub},compress=zstd:1`;
      writeFileSync(
        join(mnt, rs, 'etc/fstab'),
        `UUID=${FS_UUIDS.btrfs} /                       btrfs   ${opts(rs)} 0 0\n` +
          `UUID=${FS_UUIDS.boot} /boot                   ext4    defaults        1 2\n` +
          `UUID=${FS_UUIDS.btrfs} /home                   btrfs   ${opts(hs)} 0 0\n`,
      );
    });
    rmSync(mnt, { recursive: true });
  });
}

/**
 * Builds (or reuses) the filesystem benchmark's two disks (a few minutes the first time: 2 GiB of data to
 * generate, copy through two kernel mounts and convert twice); later calls only check the stamp.
 */
export async function buildFsBenchDisks(): Promise<FsBenchDisks> {
  const fixtures = await buildFixtures();
  const base = fixtures.trees['base'];
  if (base === undefined) throw new Error('fixtures have no base tree');
  const statusSha256 = base.hashes['/var/lib/dpkg/status'];
  if (statusSha256 === undefined) throw new Error('fixtures have no hash of /var/lib/dpkg/status');
  const key = {
    recipe: FS_RECIPE,
    tree: fingerprint(readFileSync(base.filesFile, 'utf8')),
    tools: ['xfsprogs', 'btrfs-progs', 'lvm2'].map((p) => sh('dpkg-query', ['-W', '-f', '${Version}', p])),
  };
  return benchStage<FsBenchDisks>('fs-images', key, async (tmp) => {
    const t0 = performance.now();
    const tree = join(tmp, 'tree');
    const files = dataTree(base.root, tree);
    const bootTree = join(tmp, 'boot');
    mkdirSync(bootTree);
    writeFileSync(join(bootTree, 'README'), 'hyperward bench: the /boot partition, not the root\n');
    log(WHO, `tree with ${DATA_FILES.length} data files ready in ${since(t0)}; making the LVM + XFS disk`);
    await makeLvmXfsDisk(join(tmp, 'rhel-lvm-xfs.raw'), tree, bootTree);
    log(WHO, `rhel-lvm-xfs.raw made in ${since(t0)}; making the btrfs disk`);
    await makeBtrfsDisk(join(tmp, 'fedora-btrfs.raw'), tree, bootTree);
    rmSync(tree, { recursive: true, force: true });
    log(WHO, `fedora-btrfs.raw made in ${since(t0)}; converting`);
    const [lvmXfs, btrfs] = await convertAll(tmp, [
      qcow2('rhel-lvm-xfs.qcow2', 'rhel-lvm-xfs.raw'),
      qcow2('fedora-btrfs.qcow2', 'fedora-btrfs.raw'),
    ]);
    for (const f of ['rhel-lvm-xfs.raw', 'fedora-btrfs.raw']) rmSync(join(tmp, f));
    log(WHO, `filesystem bench images done in ${since(t0)}`);
    const size = `${FS_DISK_SIZE / GiB} GiB GPT`;
    return {
      images: [
        {
          ...lvmXfs!,
          layout: 'lvm-xfs',
          description:
            `${size}: 1 GiB ext4 /boot; LVM2 PV with VG \`${FS_LAYOUT.vg}\`: 512 MiB swap LV, ` +
            `XFS root LV over the rest (\`/dev/mapper/${FS_LAYOUT.vg}-${FS_LAYOUT.rootLv}\` in fstab)`,
        },
        {
          ...btrfs!,
          layout: 'btrfs',
          description:
            `${size}: 1 GiB ext4 /boot; btrfs with subvolumes \`${FS_LAYOUT.rootSubvolume}\` (/) and ` +
            `\`${FS_LAYOUT.homeSubvolume}\` (/home), written with compress=zstd:1`,
        },
      ],
      packageCount: base.packageCount,
      osId: base.osRelease['ID'] ?? '',
      osVersionId: base.osRelease['VERSION_ID'] ?? '',
      statusSha256,
      files,
    };
  });
}
