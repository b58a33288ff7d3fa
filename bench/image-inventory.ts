/**
 * Image-inventory benchmark: how long it takes to learn the OS and installed packages of a 4 GiB Debian disk
 * image (2 GiB of it other data), and to read one 1 GiB file out of it, by
 *   - Hyperward: `bin/hyperward scan image IMG --format json --stats` and `image cat IMG PATH` (the launcher a user runs);
 *   - the raw-copy approach: `qemu-img convert -O raw` then `debugfs` on the copy (the copy is the point);
 *   - libguestfs: `virt-inspector -a IMG` (TCG appliance).
 * Every tool is spawned the same way from this process, in the same run, interleaved; each method's package
 * count and the cat's SHA-256 are checked against the builder's oracle. Never part of the test suite.
 *
 * Usage: npm run bench [-- --runs N --raw-runs N --guestfs-runs N --no-guestfs --cold --images qcow2,vmdk
 *                          --update-doc]
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, mkdirSync, openSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../test/fixtures/build.js';
import { parseOsRelease } from '../test/fixtures/rootfs.js';
import { log, sha256File } from '../test/fixtures/tools.js';
import { buildBenchDisk, CAT_PATH, type BenchDisk, type BenchImage } from './bench-image.js';
import {
  asStartedEnv,
  benchCommand,
  cell,
  debVersion,
  exec,
  fmtMiB,
  fmtS,
  hyperwardLauncher,
  machineFacts,
  type MachineFacts,
  machineOnlyEnv,
  measuredOn,
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

const WHO = 'bench';

interface Options {
  runs: number;
  rawRuns: number;
  guestfsRuns: number;
  guestfs: boolean;
  cold: boolean;
  images: string[];
  updateDoc: boolean;
}

function parseArgs(argv: string[]): Options {
  const o: Options = {
    runs: 5,
    rawRuns: 5,
    guestfsRuns: 1,
    guestfs: true,
    cold: false,
    images: ['qcow2', 'vmdk'],
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
    else if (a === '--images') o.images = (argv[++i] ?? '').split(',').filter((s) => s !== '');
    else throw new Error(`unknown option ${a}`);
  }
  return o;
}

/** Streams `image cat` into SHA-256 (the verifying run) — the timed runs send it to /dev/null instead. */
function hyperwardCatHash(img: string, path: string): Promise<{ sha256: string; seconds: number }> {
  const bin = hyperwardLauncher();
  return new Promise((resolvePromise, reject) => {
    const t0 = performance.now();
    const child = spawn(bin, ['image', 'cat', img, path], { stdio: ['ignore', 'pipe', 'pipe'] });
    const hash = createHash('sha256');
    let err = '';
    child.stdout.on('data', (b: Buffer) => hash.update(b));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const tail = err
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l !== '' && !l.startsWith('at '))
        .slice(-3)
        .join(' | ');
      if (code !== 0) reject(new Error(`hyperward image cat: exit ${code}: ${tail}`));
      else resolvePromise({ sha256: hash.digest('hex'), seconds: (performance.now() - t0) / 1000 });
    });
  });
}

function hyperwardCat(img: string, path: string): Run {
  const bin = hyperwardLauncher();
  const devNull = openSync('/dev/null', 'w');
  try {
    const { seconds } = timed(() => exec(bin, ['image', 'cat', img, path], { stdoutFd: devNull }));
    return { seconds };
  } finally {
    closeSync(devNull);
  }
}

/** The raw copy a user without Hyperward makes (`qemu-img convert -O raw`), then find the Linux partition. */
function rawCopyAndRoot(img: string, tmpDir: string): { raw: string; offset: number } {
  const { raw } = rawCopy(img, tmpDir);
  const linux = rawPartitions(raw).find((p) => (PART_TYPES.linux as readonly string[]).includes(p.type));
  if (linux === undefined) throw new Error('no Linux partition in the raw copy');
  return { raw, offset: linux.start };
}

/** `debugfs -R 'cat PATH'`, following a symlink the way a user would (debugfs's cat does not). */
function debugfsCat(target: string, path: string): string {
  let p = path;
  for (let hops = 0; hops < 8; hops++) {
    const st = exec('debugfs', ['-R', `stat ${p}`, target]).stdout;
    const link = /Fast link dest: "([^"]*)"/.exec(st)?.[1];
    if (link === undefined) return exec('debugfs', ['-R', `cat ${p}`, target]).stdout;
    p = link.startsWith('/') ? link : `${p.slice(0, p.lastIndexOf('/'))}/${link}`;
  }
  throw new Error(`too many symlinks at ${path}`);
}

function rawInventory(img: string, tmpDir: string): Run {
  const { value, seconds } = timed(() => {
    const { raw, offset } = rawCopyAndRoot(img, tmpDir);
    const target = `${raw}?offset=${offset}`;
    const os = parseOsRelease(debugfsCat(target, '/etc/os-release'));
    const status = exec('debugfs', ['-R', 'cat /var/lib/dpkg/status', target]).stdout;
    return { os, packages: countInstalled(status), raw };
  });
  rmSync(value.raw, { force: true });
  const run: Run = { seconds, packages: value.packages };
  if (value.os['ID'] !== undefined) run.osId = value.os['ID'];
  if (value.os['VERSION_ID'] !== undefined) run.osVersionId = value.os['VERSION_ID'];
  return run;
}

function rawCat(img: string, path: string, tmpDir: string, verify: boolean): Run {
  const out = join(tmpDir, 'dumped.bin');
  const { value, seconds } = timed(() => {
    const { raw, offset } = rawCopyAndRoot(img, tmpDir);
    rmSync(out, { force: true });
    exec('debugfs', ['-R', `dump ${path} ${out}`, `${raw}?offset=${offset}`]);
    return raw;
  });
  rmSync(value, { force: true });
  const run: Run = { seconds };
  if (verify) run.sha256 = sha256File(out);
  rmSync(out, { force: true });
  return run;
}

type Kind = 'inventory' | 'cat';

/** The row of Hyperward's scan run in the environment the harness was started with (`asStartedEnv`). */
const MACHINE_ENV_ROW = 'hyperward-scan-machine-env';

/** An error message fit for one table cell. */
const failed = (s: string): string => `failed: ${cell(s, 120)}`;

type Facts = ReturnType<typeof benchFacts>;

function benchFacts(): MachineFacts & Record<'qemuImg' | 'e2fsprogs' | 'libguestfs', string> {
  return machineFacts({
    qemuImg: toolVersion('qemu-img', ['--version']),
    e2fsprogs: debVersion('e2fsprogs'),
    libguestfs: debVersion('libguestfs-tools'),
  });
}

function markdown(
  summaries: Array<Summary<Kind>>,
  disk: BenchDisk,
  facts: Facts,
  o: Options,
  command: string,
): string {
  const out: string[] = [];
  const hw = (image: string, kind: string): Summary<Kind> | undefined =>
    summaries.find((s) => s.image === image && s.kind === kind && s.method.startsWith('hyperward'));
  const ratio = (s: Summary<Kind>): string => {
    const h = hw(s.image, s.kind);
    if (s.method.startsWith('hyperward') || !h?.medianSeconds || !s.medianSeconds) return '—';
    return `${(s.medianSeconds / h.medianSeconds).toFixed(1)}×`;
  };
  out.push(
    `${measuredOn(facts)}, ${facts.qemuImg}, e2fsprogs ${facts.e2fsprogs}, libguestfs ${facts.libguestfs}. ` +
      (o.cold
        ? 'Cold cache: the page cache was dropped (`echo 3 > /proc/sys/vm/drop_caches`) before every timed run.'
        : 'Warm cache: every method ran once untimed first, and the image files fit in RAM, so all timed runs read from the page cache.'),
  );
  out.push('');
  out.push(`Reproduce: \`${command}\``);
  out.push('');
  out.push('#### OS + package inventory');
  out.push('');
  out.push(
    '| image | method | median s | min s | runs | packages | OS | bytes read | slower than Hyperward |',
  );
  out.push('| --- | --- | ---: | ---: | ---: | ---: | --- | ---: | ---: |');
  for (const s of summaries.filter((x) => x.kind === 'inventory')) {
    const img = disk.images.find((i) => i.name === s.image)!;
    const bytes =
      s.bytesRead !== undefined
        ? `${fmtMiB(s.bytesRead)} (${((100 * s.bytesRead) / img.fileSize).toFixed(2)} % of the file)`
        : '—';
    out.push(
      `| ${s.image} | ${s.label} | ${fmtS(s.medianSeconds)} | ${fmtS(s.minSeconds)} | ${s.runs.length} | ` +
        `${s.error ? failed(s.error) : `${s.packages}${s.correct ? '' : ' (WRONG)'}`} | ${s.os ?? '—'} | ${bytes} | ${ratio(s)} |`,
    );
  }
  const onMachine = summaries.filter((x) => x.kind === 'inventory' && x.method === MACHINE_ENV_ROW);
  if (onMachine.length > 0) {
    const vars = Object.entries(machineOnlyEnv())
      .map(([k, v]) => `\`${k}=${v}\``)
      .join(', ');
    const against = onMachine.map((m) => {
      const raw = summaries.find((x) => x.image === m.image && x.method === 'raw-debugfs');
      const r =
        raw?.medianSeconds && m.medianSeconds ? `${(raw.medianSeconds / m.medianSeconds).toFixed(1)}×` : '—';
      return `${m.image} ${fmtS(m.medianSeconds)} s (the raw copy ${r} slower)`;
    });
    out.push('');
    out.push(
      `Every method ran in the environment of a standard Debian machine. This workplace also sets ${vars}, which ` +
        'Node reads before any script, on every start, unless the launcher `bin/hyperward` (what `npx hyperward` ' +
        'runs) hands it on to the vSphere client instead; the rows "as this machine sets it" run Hyperward in the ' +
        `machine's environment: ${against.join(', ')}.`,
    );
  }
  out.push('');
  out.push(`#### Reading one file: \`${CAT_PATH}\` (1 GiB, incompressible)`);
  out.push('');
  out.push('| image | method | median s | min s | runs | throughput | SHA-256 | slower than Hyperward |');
  out.push('| --- | --- | ---: | ---: | ---: | ---: | --- | ---: |');
  const catSize = disk.files[CAT_PATH]?.size ?? 0;
  for (const s of summaries.filter((x) => x.kind === 'cat')) {
    const tp = s.medianSeconds ? `${(catSize / 2 ** 20 / s.medianSeconds).toFixed(0)} MiB/s` : '—';
    out.push(
      `| ${s.image} | ${s.label} | ${fmtS(s.medianSeconds)} | ${fmtS(s.minSeconds)} | ${s.runs.length} | ${tp} | ` +
        `${s.error ? failed(s.error) : s.correct ? 'matches' : 'WRONG'} | ${ratio(s)} |`,
    );
  }
  out.push('');
  out.push('Images:');
  out.push('');
  for (const i of disk.images) {
    out.push(
      `- ${i.name}: ${i.format} ${i.subformat}, ${(i.virtualSize / 2 ** 30).toFixed(0)} GiB virtual, ` +
        `${fmtMiB(i.fileSize)} file, ${fmtMiB(i.dataBytes)} of guest data; ${disk.packageCount} packages (${disk.osId} ${disk.osVersionId}).`,
    );
  }
  return out.join('\n') + '\n';
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const command = benchCommand(undefined, process.argv.slice(2));
  const disk = await buildBenchDisk();
  const tmpDir = join(repoRoot(), '.cache', 'bench', 'tmp');
  rmSync(tmpDir, { recursive: true, force: true });
  mkdirSync(tmpDir, { recursive: true });
  const images = disk.images.filter((i) => o.images.includes(i.format));
  const catSha = disk.files[CAT_PATH]?.sha256;

  const methodsFor = (img: BenchImage): Array<Method<Kind>> => {
    const m: Array<Method<Kind>> = [
      {
        id: 'hyperward-scan',
        label: 'Hyperward `scan image`',
        kind: 'inventory',
        runs: o.runs,
        run: () => hyperwardScan(img.path),
      },
      ...(Object.keys(machineOnlyEnv()).length === 0
        ? []
        : [
            {
              id: MACHINE_ENV_ROW,
              label: `Hyperward \`scan image\` (the launcher), ${Object.keys(machineOnlyEnv()).join(', ')} as this machine sets it`,
              kind: 'inventory' as const,
              runs: o.runs,
              run: () => hyperwardScan(img.path, asStartedEnv()),
            },
          ]),
      {
        id: 'raw-debugfs',
        label: '`qemu-img convert -O raw` + `debugfs`',
        kind: 'inventory',
        runs: o.rawRuns,
        run: () => rawInventory(img.path, tmpDir),
      },
      {
        id: 'hyperward-cat',
        label: 'Hyperward `image cat`',
        kind: 'cat',
        runs: o.runs,
        run: async (verify) => {
          if (!verify) return hyperwardCat(img.path, CAT_PATH);
          const r = await hyperwardCatHash(img.path, CAT_PATH);
          return { seconds: r.seconds, sha256: r.sha256 };
        },
      },
      {
        id: 'raw-debugfs-dump',
        label: '`qemu-img convert -O raw` + `debugfs dump`',
        kind: 'cat',
        runs: o.rawRuns,
        run: (verify) => rawCat(img.path, CAT_PATH, tmpDir, verify),
      },
    ];
    if (o.guestfs) {
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

  const summaries: Array<Summary<Kind>> = [];
  for (const img of images) {
    summaries.push(
      ...(await runInterleaved(WHO, img, methodsFor(img), {
        cold: o.cold,
        correct: (m, v) => (m.kind === 'inventory' ? inventoryMatches(v, disk) : v.sha256 === catSha),
      })),
    );
  }
  rmSync(tmpDir, { recursive: true, force: true });

  const facts = benchFacts();
  const md = markdown(summaries, disk, facts, o, command);
  const json = { benchmark: 'image-inventory', options: o, command, machine: facts, disk, summaries };
  writeResults('image-inventory', facts.date, json, md, o.cold ? 'image-inventory-cold-latest' : undefined);
  if (o.updateDoc) updateDoc(o.cold ? 'image-inventory-cold' : 'image-inventory', md);
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
