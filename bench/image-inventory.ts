/**
 * Image-inventory benchmark: how long it takes to learn the OS and installed packages of a 4 GiB Debian disk
 * image (2 GiB of it other data), and to read one 1 GiB file out of it, by
 *   - Hyperward: `node bin/hyperward.js scan image IMG --format json --stats` and `image cat IMG PATH`;
 *   - the raw-copy approach: `qemu-img convert -O raw` then `debugfs` on the copy (the copy is the point);
 *   - libguestfs: `virt-inspector -a IMG` (TCG appliance).
 * Every tool is spawned the same way from this process, in the same run, interleaved; each method's package
 * count and the cat's SHA-256 are checked against the builder's oracle. Never part of the test suite.
 *
 * Usage: npm run bench [-- --runs N --raw-runs N --guestfs-runs N --no-guestfs --cold --images qcow2,vmdk
 *                          --update-doc]
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, freemem, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../test/fixtures/build.js';
import { parseOsRelease } from '../test/fixtures/rootfs.js';
import { log, sha256File, writeFileAtomic } from '../test/fixtures/tools.js';
import { buildBenchDisk, CAT_PATH, type BenchDisk, type BenchImage } from './bench-image.js';

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

/** One timed execution of a method. */
interface Run {
  seconds: number;
  packages?: number;
  osId?: string;
  osVersionId?: string;
  bytesRead?: number;
  reads?: number;
  sha256?: string;
  error?: string;
}

/** A way of answering one question about one image. */
interface Method {
  id: string;
  label: string;
  kind: 'inventory' | 'cat';
  runs: number;
  /** Runs it once; `verify` asks for the extra work that checks the answer (e.g. hashing the cat output). */
  run: (verify: boolean) => Promise<Run> | Run;
}

function timed<T>(fn: () => T): { value: T; seconds: number } {
  const t0 = performance.now();
  const value = fn();
  return { value, seconds: (performance.now() - t0) / 1000 };
}

/** spawnSync that throws with the tail of stderr on failure. */
function exec(
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; stdoutFd?: number; okCodes?: number[] } = {},
): { stdout: string; stderr: string; status: number } {
  const r = spawnSync(cmd, args, {
    env: opts.env ?? process.env,
    stdio: ['ignore', opts.stdoutFd ?? 'pipe', 'pipe'],
    encoding: 'utf8',
    maxBuffer: 512 * 1024 * 1024,
  });
  const status = r.status ?? -1;
  if (r.error || !(opts.okCodes ?? [0]).includes(status)) {
    const tail = (r.stderr ?? '')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('at ') && !l.startsWith('['))
      .slice(-3)
      .join(' | ');
    throw new Error(
      `${cmd} ${args.join(' ')}: ${r.error?.message ?? `exit ${status}`}${tail ? `: ${tail}` : ''}`,
    );
  }
  return { stdout: r.stdout ?? '', stderr: r.stderr ?? '', status };
}

function countInstalled(status: string): number {
  let n = 0;
  for (const stanza of status.split(/\n\n+/)) {
    const m = /^Status:\s*(\S+)\s+(\S+)\s+(\S+)\s*$/m.exec(stanza);
    if (/^Package:/m.test(stanza) && m?.[3] === 'installed') n++;
  }
  return n;
}

interface ScanJson {
  results?: Array<{
    os?: { id?: string; versionId?: string } | null;
    packages?: unknown[];
    error?: { message?: string } | null;
  }>;
}

function hyperwardScan(img: string): Run {
  const bin = join(repoRoot(), 'bin', 'hyperward.js');
  const { value: r, seconds } = timed(() =>
    exec('node', [bin, 'scan', 'image', img, '--format', 'json', '--stats'], { okCodes: [0, 1] }),
  );
  const report = JSON.parse(r.stdout) as ScanJson;
  const res = report.results?.[0];
  if (res === undefined) throw new Error('the report has no result');
  if (res.error) throw new Error(`hyperward reported: ${res.error.message ?? 'an error'}`);
  const statsLine = r.stderr
    .trim()
    .split('\n')
    .reverse()
    .find((l) => l.startsWith('{') && l.includes('bytesRead'));
  const stats = statsLine ? (JSON.parse(statsLine) as { bytesRead?: number; reads?: number }) : {};
  const run: Run = { seconds, packages: res.packages?.length ?? 0 };
  if (res.os?.id !== undefined) run.osId = res.os.id;
  if (res.os?.versionId !== undefined) run.osVersionId = res.os.versionId;
  if (stats.bytesRead !== undefined) run.bytesRead = stats.bytesRead;
  if (stats.reads !== undefined) run.reads = stats.reads;
  return run;
}

/** Streams `image cat` into SHA-256 (the verifying run) — the timed runs send it to /dev/null instead. */
function hyperwardCatHash(img: string, path: string): Promise<{ sha256: string; seconds: number }> {
  const bin = join(repoRoot(), 'bin', 'hyperward.js');
  return new Promise((resolvePromise, reject) => {
    const t0 = performance.now();
    const child = spawn('node', [bin, 'image', 'cat', img, path], { stdio: ['ignore', 'pipe', 'pipe'] });
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
  const bin = join(repoRoot(), 'bin', 'hyperward.js');
  const devNull = openSync('/dev/null', 'w');
  try {
    const { seconds } = timed(() => exec('node', [bin, 'image', 'cat', img, path], { stdoutFd: devNull }));
    return { seconds };
  } finally {
    closeSync(devNull);
  }
}

/** The raw copy a user without Hyperward makes: `qemu-img convert -O raw`, then find the Linux partition. */
function rawCopy(img: string, tmpDir: string): { raw: string; offset: number } {
  const raw = join(tmpDir, 'copy.raw');
  rmSync(raw, { force: true });
  exec('qemu-img', ['convert', '-O', 'raw', img, raw]);
  const table = JSON.parse(exec('sfdisk', ['--json', raw]).stdout) as {
    partitiontable: { sectorsize?: number; partitions?: Array<{ start: number; type: string }> };
  };
  const ss = table.partitiontable.sectorsize ?? 512;
  const linux = (table.partitiontable.partitions ?? []).find((p) =>
    ['0FC63DAF-8483-4772-8E79-3D69D8477DE4', '83'].includes(p.type.toUpperCase()),
  );
  if (linux === undefined) throw new Error('no Linux partition in the raw copy');
  return { raw, offset: linux.start * ss };
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
    const { raw, offset } = rawCopy(img, tmpDir);
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
    const { raw, offset } = rawCopy(img, tmpDir);
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

const GUESTFS_ENV = {
  ...process.env,
  LIBGUESTFS_BACKEND: 'direct',
  LIBGUESTFS_BACKEND_SETTINGS: 'force_tcg',
};

function guestfsInventory(img: string): Run {
  const { value: r, seconds } = timed(() =>
    exec('virt-inspector', ['--no-icon', '-a', img], { env: GUESTFS_ENV }),
  );
  const xml = r.stdout;
  const run: Run = { seconds, packages: (xml.match(/<application>/g) ?? []).length };
  const distro = /<distro>([^<]*)<\/distro>/.exec(xml)?.[1];
  const major = /<major_version>([^<]*)<\/major_version>/.exec(xml)?.[1];
  if (distro !== undefined) run.osId = distro;
  if (major !== undefined) run.osVersionId = major;
  return run;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Empties the page cache (root only) so a run starts cold; throws where the kernel refuses. */
function dropCaches(): void {
  exec('sync', []);
  writeFileSync('/proc/sys/vm/drop_caches', '3');
}

interface Summary {
  image: string;
  format: string;
  method: string;
  label: string;
  kind: 'inventory' | 'cat';
  runs: Run[];
  medianSeconds?: number;
  minSeconds?: number;
  packages?: number;
  os?: string;
  bytesRead?: number;
  reads?: number;
  /** The answer matched the oracle (package count, OS, cat SHA-256). */
  correct: boolean;
  error?: string;
}

function machineFacts(): Record<string, string | number> {
  const first = (cmd: string, args: string[]): string => {
    try {
      return exec(cmd, args).stdout.split('\n')[0]!.trim();
    } catch {
      return 'unavailable';
    }
  };
  return {
    date: new Date().toISOString(),
    nproc: Number(first('nproc', [])),
    cpu: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    freeMemoryGiB: Math.round((freemem() / 2 ** 30) * 10) / 10,
    kernel: release(),
    node: process.version,
    qemuImg: first('qemu-img', ['--version']),
    e2fsprogs: first('dpkg-query', ['-W', '-f', '${Version}', 'e2fsprogs']),
    libguestfs: first('dpkg-query', ['-W', '-f', '${Version}', 'libguestfs-tools']),
  };
}

const fmtS = (s: number | undefined): string =>
  s === undefined ? '—' : s < 10 ? s.toFixed(3) : s.toFixed(1);
const fmtMiB = (b: number): string => `${(b / 2 ** 20).toFixed(1)} MiB`;
/** An error message fit for one table cell. */
const cell = (s: string): string => `failed: ${s.replace(/\s+/g, ' ').replace(/\|/g, '\\|').slice(0, 120)}`;

function markdown(
  summaries: Summary[],
  disk: BenchDisk,
  facts: Record<string, string | number>,
  o: Options,
  command: string,
): string {
  const out: string[] = [];
  const hw = (image: string, kind: string): Summary | undefined =>
    summaries.find((s) => s.image === image && s.kind === kind && s.method.startsWith('hyperward'));
  const ratio = (s: Summary): string => {
    const h = hw(s.image, s.kind);
    if (s.method.startsWith('hyperward') || !h?.medianSeconds || !s.medianSeconds) return '—';
    return `${(s.medianSeconds / h.medianSeconds).toFixed(1)}×`;
  };
  out.push(
    `Measured ${facts['date']} on ${facts['nproc']} × ${facts['cpu']}, ${facts['memoryGiB']} GiB RAM, Linux ${facts['kernel']}, ` +
      `Node ${facts['node']}, ${facts['qemuImg']}, e2fsprogs ${facts['e2fsprogs']}, libguestfs ${facts['libguestfs']}. ` +
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
        `${s.error ? cell(s.error) : `${s.packages}${s.correct ? '' : ' (WRONG)'}`} | ${s.os ?? '—'} | ${bytes} | ${ratio(s)} |`,
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
        `${s.error ? cell(s.error) : s.correct ? 'matches' : 'WRONG'} | ${ratio(s)} |`,
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

/** The section of BENCHMARKS.md that `--update-doc` rewrites: one for warm runs, one for `--cold` runs. */
function updateDoc(section: string, cold: boolean): void {
  const name = cold ? 'image-inventory-cold' : 'image-inventory';
  const start = `<!-- ${name}:start -->`;
  const end = `<!-- ${name}:end -->`;
  const path = join(repoRoot(), 'BENCHMARKS.md');
  const text = readFileSync(path, 'utf8');
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  if (a < 0 || b < a) throw new Error(`BENCHMARKS.md has no ${start} … ${end} section`);
  writeFileAtomic(path, text.slice(0, a + start.length) + '\n' + section + text.slice(b));
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
  const disk = await buildBenchDisk();
  const tmpDir = join(repoRoot(), '.cache', 'bench', 'tmp');
  rmSync(tmpDir, { recursive: true, force: true });
  mkdirSync(tmpDir, { recursive: true });
  const images = disk.images.filter((i) => o.images.includes(i.format));
  const catSha = disk.files[CAT_PATH]?.sha256;

  const methodsFor = (img: BenchImage): Method[] => {
    const m: Method[] = [
      {
        id: 'hyperward-scan',
        label: 'Hyperward `scan image`',
        kind: 'inventory',
        runs: o.runs,
        run: () => hyperwardScan(img.path),
      },
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

  const summaries: Summary[] = [];
  for (const img of images) {
    const methods = methodsFor(img);
    const state = methods.map((m) => ({
      m,
      runs: [] as Run[],
      error: undefined as string | undefined,
      verified: undefined as Run | undefined,
    }));
    // Untimed first run of each method: warms the page cache alike for all, builds libguestfs's appliance,
    // and checks the answer (the cat's hash is computed only here, so the timed runs do no extra work).
    for (const s of state) {
      log(WHO, `${img.name}: ${s.m.id} (warm-up and check)`);
      try {
        s.verified = await s.m.run(true);
      } catch (e) {
        s.error = (e as Error).message;
        log(WHO, `${img.name}: ${s.m.id} failed: ${s.error}`);
      }
    }
    const rounds = Math.max(...methods.map((m) => m.runs));
    for (let r = 0; r < rounds; r++) {
      for (const s of state) {
        if (s.error !== undefined || r >= s.m.runs) continue;
        try {
          if (o.cold) dropCaches();
          const run = await s.m.run(false);
          // Flush what the run wrote (the raw copies) so its write-back does not land in the next run's time.
          exec('sync', []);
          s.runs.push(run);
          log(WHO, `${img.name}: ${s.m.id} run ${r + 1}: ${run.seconds.toFixed(3)} s`);
        } catch (e) {
          s.error = (e as Error).message;
          log(WHO, `${img.name}: ${s.m.id} failed: ${s.error}`);
        }
      }
    }
    for (const s of state) {
      const times = s.runs.map((x) => x.seconds);
      const v = s.verified;
      const sum: Summary = {
        image: img.name,
        format: img.format,
        method: s.m.id,
        label: s.m.label,
        kind: s.m.kind,
        runs: s.runs,
        correct: false,
      };
      if (times.length > 0) {
        sum.medianSeconds = median(times);
        sum.minSeconds = Math.min(...times);
      }
      if (s.error !== undefined) sum.error = s.error;
      if (v !== undefined) {
        if (v.packages !== undefined) sum.packages = v.packages;
        if (v.osId !== undefined) sum.os = `${v.osId} ${v.osVersionId ?? ''}`.trim();
        const last = s.runs[s.runs.length - 1] ?? v;
        if (last.bytesRead !== undefined) sum.bytesRead = last.bytesRead;
        if (last.reads !== undefined) sum.reads = last.reads;
        sum.correct =
          s.m.kind === 'inventory'
            ? v.packages === disk.packageCount &&
              (v.osId ?? '').toLowerCase() === disk.osId &&
              (v.osVersionId ?? '') === disk.osVersionId
            : v.sha256 === catSha;
      }
      summaries.push(sum);
    }
  }
  rmSync(tmpDir, { recursive: true, force: true });

  const facts = machineFacts();
  const md = markdown(summaries, disk, facts, o, command);
  const resultsDir = join(repoRoot(), 'bench', 'results');
  mkdirSync(resultsDir, { recursive: true });
  const stamp = String(facts['date'])
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  const json =
    JSON.stringify(
      { benchmark: 'image-inventory', options: o, command, machine: facts, disk, summaries },
      null,
      2,
    ) + '\n';
  writeFileSync(join(resultsDir, `image-inventory-${stamp}.json`), json);
  const latest = o.cold ? 'image-inventory-cold-latest' : 'image-inventory-latest';
  writeFileSync(join(resultsDir, `${latest}.json`), json);
  writeFileSync(join(resultsDir, `${latest}.md`), md);
  if (o.updateDoc) updateDoc(md, o.cold);
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

main().catch((e: unknown) => {
  process.stderr.write(`[${WHO}] failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
});
