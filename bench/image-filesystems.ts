/**
 * Filesystem benchmark (issue #5): how long it takes to learn the OS and installed packages of a VM disk image
 * whose root is not a plain ext4 partition — a RHEL-like disk (XFS root in an LVM2 logical volume) and a
 * Fedora-like disk (btrfs, the OS in a subvolume) — each a 6 GiB qcow2 holding a Debian 12 root plus 2 GiB of other
 * data, by
 *   - Hyperward: `bin/hyperward scan image IMG --format json --stats` (the launcher a user runs);
 *   - the raw-copy approach: `qemu-img convert -O raw`, then the filesystem's own tool on the copy — for XFS the
 *     LVM2 tools to find the root LV and `xfs_db -r` (`path`, `bmap`, `convert`) to find the file's blocks, read
 *     from the copy; for btrfs `btrfs restore --path-regex` of the files into a temporary directory. Loop devices
 *     (`losetup -o`, read-only) reach the partition or LV inside the copy;
 *   - libguestfs: `virt-inspector -a IMG` (TCG appliance), where it is installed.
 * Every tool is spawned from this process, in the same run, interleaved; each method's package count and OS are
 * checked against `dpkg-query --admindir` on the source tree, and the raw peers' copy of the dpkg status file
 * against its SHA-256. Never part of the test suite.
 *
 * Usage: npm run bench -- image-filesystems [--runs N --raw-runs N --guestfs-runs N --no-guestfs --cold
 *                                            --layouts lvm-xfs,btrfs --update-doc]
 */
import { createHash } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync, readSync, rmSync } from 'node:fs';
import { join, posix } from 'node:path';
import { repoRoot } from '../test/fixtures/build.js';
import { parseOsRelease } from '../test/fixtures/rootfs.js';
import { log } from '../test/fixtures/tools.js';
import {
  buildFsBenchDisks,
  FS_LAYOUT,
  type FsBenchDisks,
  type FsBenchImage,
  type FsLayout,
} from './bench-image.js';
import {
  benchCommand,
  cell,
  debVersion,
  exec,
  fmtMiB,
  fmtS,
  load1,
  machineFacts,
  measuredOn,
  median,
  runMain,
  timed,
  toolVersion,
  updateDoc,
  writeResults,
} from './common.js';
import {
  countInstalled,
  guestfsInventory,
  hyperwardScan,
  inventoryMatches,
  PART_TYPES,
  rawCopy,
  rawPartitions,
  runInterleaved,
  type Method,
  type Run,
  type Summary,
} from './image-methods.js';
import { lvPlacement, withLoop } from './volumes.js';

const WHO = 'bench:fs';
const LAYOUTS: readonly FsLayout[] = ['lvm-xfs', 'btrfs'];

interface Options {
  runs: number;
  rawRuns: number;
  guestfsRuns: number;
  guestfs: boolean;
  cold: boolean;
  layouts: FsLayout[];
  updateDoc: boolean;
}

function parseArgs(argv: string[]): Options {
  const o: Options = {
    runs: 5,
    rawRuns: 5,
    guestfsRuns: 1,
    guestfs: true,
    cold: false,
    layouts: [...LAYOUTS],
    updateDoc: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const num = (): number => {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v < 1) throw new Error(`${a} needs a positive integer`);
      return v;
    };
    if (a === '--runs') o.runs = num();
    else if (a === '--raw-runs') o.rawRuns = num();
    else if (a === '--guestfs-runs') o.guestfsRuns = num();
    else if (a === '--no-guestfs') o.guestfs = false;
    else if (a === '--cold') o.cold = true;
    else if (a === '--update-doc') o.updateDoc = true;
    else if (a === '--layouts') {
      const names = (argv[++i] ?? '').split(',').filter((s) => s !== '');
      const bad = names.filter((n) => !(LAYOUTS as readonly string[]).includes(n));
      if (names.length === 0 || bad.length > 0) throw new Error(`--layouts takes ${LAYOUTS.join(',')}`);
      o.layouts = names as FsLayout[];
    } else throw new Error(`unknown option ${a}`);
  }
  return o;
}

/** The files every peer reads: os-release (a symlink into /usr/lib on Debian) and the dpkg database. */
const OS_RELEASE = '/etc/os-release';
const DPKG_STATUS = '/var/lib/dpkg/status';

/** An inventory run from the os-release and status files a peer extracted. */
function inventoryRun(
  seconds: number,
  copySeconds: number,
  osText: string,
  status: Buffer,
  verify: boolean,
): Run {
  const os = parseOsRelease(osText);
  const run: Run = { seconds, copySeconds, packages: countInstalled(status.toString('utf8')) };
  if (os['ID'] !== undefined) run.osId = os['ID'];
  if (os['VERSION_ID'] !== undefined) run.osVersionId = os['VERSION_ID'];
  if (verify) run.sha256 = createHash('sha256').update(status).digest('hex');
  return run;
}

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;

/**
 * Reads one file of the XFS on `dev` with `xfs_db -r`, which has no `cat`: `path` and `print` give the inode's
 * mode and size, `bmap` its extents, `convert fsblock N byte` their byte addresses, and the bytes are read from
 * the device (what `dd skip=…` would do). Symlinks are followed (their target is in the inode for short ones);
 * holes and unwritten extents read as zeros.
 */
function xfsDbCat(dev: string, path: string): Buffer {
  let p = path;
  for (let hops = 0; hops < 8; hops++) {
    const xfsDb = (...cmds: string[]): string =>
      exec('xfs_db', ['-r', ...cmds.flatMap((c) => ['-c', c]), dev]).stdout;
    const out = xfsDb('sb 0', 'print blocksize', `path ${p}`, 'print core.mode core.size', 'bmap');
    const mode = parseInt(/^core\.mode = (\d+)$/m.exec(out)?.[1] ?? 'x', 8);
    const size = Number(/^core\.size = (\d+)$/m.exec(out)?.[1]);
    const bs = Number(/^blocksize = (\d+)$/m.exec(out)?.[1]);
    if (!Number.isInteger(mode) || !Number.isSafeInteger(size) || !(bs > 0)) {
      throw new Error(`xfs_db: cannot read the inode of ${p}: ${cell(out, 200)}`);
    }
    if ((mode & S_IFMT) === S_IFLNK) {
      const target = /^u3\.symlink = "(.*)"$/m.exec(xfsDb(`path ${p}`, 'print u3.symlink'))?.[1];
      if (target === undefined) throw new Error(`xfs_db: cannot read the symlink ${p}`);
      p = posix.resolve(posix.dirname(p), target);
      continue;
    }
    if ((mode & S_IFMT) !== S_IFREG) throw new Error(`${p} is not a regular file (mode ${mode.toString(8)})`);
    const extents = [
      ...out.matchAll(/^data offset (\d+) startblock (\d+) \(\d+\/\d+\) count (\d+) flag (\d)$/gm),
    ]
      .map((m) => ({
        offset: Number(m[1]),
        block: Number(m[2]),
        count: Number(m[3]),
        unwritten: m[4] === '1',
      }))
      .filter((e) => !e.unwritten && e.offset * bs < size);
    const addrs =
      extents.length === 0
        ? []
        : [
            ...xfsDb(...extents.map((e) => `convert fsblock ${e.block} byte`)).matchAll(
              /^0x[0-9a-f]+ \((\d+)\)$/gm,
            ),
          ];
    if (addrs.length !== extents.length) throw new Error(`xfs_db: could not convert the extents of ${p}`);
    const buf = Buffer.alloc(size);
    const fd = openSync(dev, 'r');
    try {
      extents.forEach((e, i) => {
        const at = e.offset * bs;
        const len = Math.min(e.count * bs, size - at);
        if (readSync(fd, buf, at, len, Number(addrs[i]![1])) !== len) throw new Error(`short read of ${p}`);
      });
    } finally {
      closeSync(fd);
    }
    return buf;
  }
  throw new Error(`too many symlinks at ${path}`);
}

/**
 * RHEL-like disk, raw copy: `qemu-img convert -O raw`; `sfdisk --json` finds the LVM partition; on a read-only
 * loop device over it, `pvs`/`vgs`/`lvs` give the root LV's place; on a second one over the LV, `xfs_db -r` reads
 * os-release and the dpkg status file.
 */
function rawXfsInventory(img: string, tmpDir: string, verify: boolean): Run {
  const { value, seconds } = timed(() => {
    const { raw, seconds: copySeconds } = rawCopy(img, tmpDir);
    const pv = rawPartitions(raw).find((p) => (PART_TYPES.lvm as readonly string[]).includes(p.type));
    if (pv === undefined) throw new Error('no LVM partition in the raw copy');
    const lv = withLoop(raw, { offset: pv.start, size: pv.size }, (dev) =>
      lvPlacement(dev, FS_LAYOUT.vg, FS_LAYOUT.rootLv),
    );
    const files = withLoop(raw, { offset: pv.start + lv.offset, size: lv.size }, (dev) => ({
      os: xfsDbCat(dev, OS_RELEASE).toString('utf8'),
      status: xfsDbCat(dev, DPKG_STATUS),
    }));
    return { raw, copySeconds, ...files };
  });
  rmSync(value.raw, { force: true });
  return inventoryRun(seconds, value.copySeconds, value.os, value.status, verify);
}

/** A `btrfs restore --path-regex` that matches exactly `paths` and the directories leading to them. */
function restoreRegex(paths: readonly string[]): string {
  interface Node {
    children: Map<string, Node>;
  }
  const root: Node = { children: new Map() };
  for (const p of paths) {
    let n = root;
    for (const part of p.split('/').filter((x) => x !== '')) {
      let c = n.children.get(part);
      if (c === undefined) n.children.set(part, (c = { children: new Map() }));
      n = c;
    }
  }
  const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  // Each directory on the way is matched alone too (`(|…)`): restore walks down only into what matched.
  const render = (n: Node, sep: string): string =>
    [...n.children]
      .map(([name, c]) => sep + esc(name) + (c.children.size > 0 ? `(|${render(c, '/')})` : ''))
      .join('|');
  return `^/(|${render(root, '')})$`;
}

/**
 * Fedora-like disk, raw copy: `qemu-img convert -O raw`; `sfdisk --json` and `blkid -p` find the btrfs
 * partition; on a read-only loop device over it, `btrfs restore -s -S --path-regex` copies os-release (and the
 * file it links to) and the dpkg status file out of subvolume `root` into a temporary directory.
 */
function rawBtrfsInventory(img: string, tmpDir: string, verify: boolean): Run {
  const out = join(tmpDir, 'restored');
  const sub = FS_LAYOUT.rootSubvolume;
  const regex = restoreRegex([OS_RELEASE, '/usr/lib/os-release', DPKG_STATUS].map((p) => `/${sub}${p}`));
  const { value, seconds } = timed(() => {
    const { raw, seconds: copySeconds } = rawCopy(img, tmpDir);
    const part = rawPartitions(raw).find(
      (p) =>
        (PART_TYPES.linux as readonly string[]).includes(p.type) &&
        exec('blkid', ['-p', '-O', String(p.start), '-o', 'value', '-s', 'TYPE', raw], {
          okCodes: [0, 2],
        }).stdout.trim() === 'btrfs',
    );
    if (part === undefined) throw new Error('no btrfs partition in the raw copy');
    rmSync(out, { recursive: true, force: true });
    mkdirSync(out);
    withLoop(raw, { offset: part.start, size: part.size }, (dev) =>
      exec('btrfs', ['restore', '-s', '-S', '--path-regex', regex, dev, out]),
    );
    // The restored os-release is the relative symlink it was, so reading it follows it inside `out`.
    const os = readFileSync(join(out, sub, OS_RELEASE), 'utf8');
    const status = readFileSync(join(out, sub, DPKG_STATUS));
    return { raw, copySeconds, os, status };
  });
  rmSync(value.raw, { force: true });
  rmSync(out, { recursive: true, force: true });
  return inventoryRun(seconds, value.copySeconds, value.os, value.status, verify);
}

/** Why virt-inspector is not run, or undefined when it is. */
function guestfsSkipReason(o: Options): string | undefined {
  if (!o.guestfs) return 'not run (`--no-guestfs`)';
  try {
    exec('virt-inspector', ['--version']);
    return undefined;
  } catch {
    return 'not run: `virt-inspector` is not installed (`scripts/system-deps.sh --bench` installs it)';
  }
}

type Facts = ReturnType<typeof benchFacts>;

function benchFacts(loadStart: number) {
  return machineFacts({
    qemuImg: toolVersion('qemu-img', ['--version']),
    xfsprogs: debVersion('xfsprogs'),
    btrfsProgs: debVersion('btrfs-progs'),
    lvm2: debVersion('lvm2'),
    libguestfs: debVersion('libguestfs-tools'),
    loadStart,
  });
}

const RAW_LABEL: Record<FsLayout, string> = {
  'lvm-xfs': '`qemu-img convert -O raw` + LVM2 tools + `xfs_db -r`',
  btrfs: '`qemu-img convert -O raw` + `btrfs restore --path-regex`',
};

function markdown(
  summaries: Summary[],
  disks: FsBenchDisks,
  images: readonly FsBenchImage[],
  facts: Facts,
  o: Options,
  command: string,
  guestfsNote: string | undefined,
): string {
  const out: string[] = [];
  const hw = (image: string): Summary | undefined =>
    summaries.find((s) => s.image === image && s.method === 'hyperward-scan');
  const ratio = (s: Summary): string => {
    const h = hw(s.image);
    if (s.method === 'hyperward-scan' || !h?.medianSeconds || !s.medianSeconds) return '—';
    return `${(s.medianSeconds / h.medianSeconds).toFixed(1)}×`;
  };
  out.push(
    `${measuredOn(facts)}, ${facts.qemuImg}, xfsprogs ${facts.xfsprogs}, btrfs-progs ${facts.btrfsProgs}, ` +
      `lvm2 ${facts.lvm2}, libguestfs ${facts.libguestfs}. 1-minute load average ${facts.loadStart} at the ` +
      `start, ${facts.loadEnd} at the end (${facts.nproc} cores, shared). ` +
      (o.cold
        ? 'Cold cache: the page cache was dropped (`echo 3 > /proc/sys/vm/drop_caches`) before every timed run.'
        : 'Warm cache: every method ran once untimed first, and the image files fit in RAM, so all timed runs read from the page cache.'),
  );
  out.push('');
  out.push(`Reproduce: \`${command}\``);
  out.push('');
  out.push(
    '| image | method | median s | min s | runs | of which the raw copy, median s | packages | OS | bytes read | slower than Hyperward |',
  );
  out.push('| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |');
  for (const s of summaries) {
    const img = images.find((i) => i.name === s.image)!;
    const bytes =
      s.bytesRead !== undefined
        ? `${fmtMiB(s.bytesRead)} (${((100 * s.bytesRead) / img.dataBytes).toFixed(3)} % of the guest data)`
        : '—';
    const answer = s.error
      ? `failed: ${cell(s.error, 120)}`
      : `${s.packages ?? '—'}${s.correct ? '' : ' (WRONG)'}`;
    const copies = s.runs.flatMap((r) => (r.copySeconds === undefined ? [] : [r.copySeconds]));
    out.push(
      `| ${s.image} | ${s.label} | ${fmtS(s.medianSeconds)} | ${fmtS(s.minSeconds)} | ${s.runs.length} | ` +
        `${copies.length > 0 ? fmtS(median(copies)) : '—'} | ${answer} | ${s.os ?? '—'} | ${bytes} | ${ratio(s)} |`,
    );
  }
  out.push('');
  if (guestfsNote !== undefined) {
    out.push(`libguestfs \`virt-inspector\`: ${guestfsNote}.`);
    out.push('');
  }
  out.push(
    `Every answer was checked against the source tree: ${disks.packageCount} packages (\`dpkg-query --admindir\`), ` +
      `${disks.osId} ${disks.osVersionId}, and for the raw peers the SHA-256 of the \`${DPKG_STATUS}\` they ` +
      'extracted; WRONG marks a mismatch.',
  );
  out.push('');
  out.push('Images:');
  out.push('');
  for (const i of images) {
    out.push(
      `- ${i.name}: ${i.description}. qcow2 ${i.subformat}, ${(i.virtualSize / 2 ** 30).toFixed(0)} GiB virtual, ` +
        `${fmtMiB(i.fileSize)} file, ${fmtMiB(i.dataBytes)} of guest data.`,
    );
  }
  return out.join('\n') + '\n';
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const command = benchCommand('image-filesystems', process.argv.slice(2));
  const loadStart = load1();
  const disks = await buildFsBenchDisks();
  const tmpDir = join(repoRoot(), '.cache', 'bench', 'tmp-fs');
  rmSync(tmpDir, { recursive: true, force: true });
  mkdirSync(tmpDir, { recursive: true });
  const images = disks.images.filter((i) => o.layouts.includes(i.layout));
  const guestfsNote = guestfsSkipReason(o);
  if (guestfsNote !== undefined) log(WHO, `virt-inspector ${guestfsNote}`);

  const methodsFor = (img: FsBenchImage): Method[] => {
    const m: Method[] = [
      {
        id: 'hyperward-scan',
        label: 'Hyperward `scan image`',
        kind: 'inventory',
        runs: o.runs,
        run: () => hyperwardScan(img.path),
      },
      {
        id: `raw-${img.layout}`,
        label: RAW_LABEL[img.layout],
        kind: 'inventory',
        runs: o.rawRuns,
        run: (verify) =>
          img.layout === 'lvm-xfs'
            ? rawXfsInventory(img.path, tmpDir, verify)
            : rawBtrfsInventory(img.path, tmpDir, verify),
      },
    ];
    if (guestfsNote === undefined) {
      m.push({
        id: 'virt-inspector',
        label: 'libguestfs `virt-inspector` (TCG)',
        kind: 'inventory',
        runs: o.guestfsRuns,
        run: () => guestfsInventory(img.path),
      });
    }
    return m;
  };

  const summaries: Summary[] = [];
  for (const img of images) {
    summaries.push(
      ...(await runInterleaved(WHO, img, methodsFor(img), {
        cold: o.cold,
        // The raw peers also hand over the status file itself: it must be the tree's, byte for byte.
        correct: (m, v) =>
          inventoryMatches(v, disks) && (!m.id.startsWith('raw-') || v.sha256 === disks.statusSha256),
      })),
    );
  }
  rmSync(tmpDir, { recursive: true, force: true });

  const facts = benchFacts(loadStart);
  const md = markdown(summaries, disks, images, facts, o, command, guestfsNote);
  const json = { benchmark: 'image-filesystems', options: o, command, machine: facts, disks, summaries };
  writeResults('image-filesystems', facts.date, json, md);
  if (o.updateDoc) updateDoc('image-filesystems', md);
  process.stdout.write(md);
  const wrong = summaries.filter((s) => !s.correct);
  if (wrong.length > 0) {
    log(
      WHO,
      `NOT all methods gave the right answer: ${wrong.map((s) => `${s.image}/${s.method}`).join(', ')}`,
    );
    process.exitCode = 1;
  }
}

runMain(WHO, main);
