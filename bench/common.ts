/**
 * What every benchmark shares: running a tool and timing it, medians, the machine facts a table is headed with,
 * number formatting, the results files under `bench/results/`, and rewriting one marked section of BENCHMARKS.md.
 * Nothing here runs at import time.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, freemem, loadavg, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../test/fixtures/build.js';
import { writeFileAtomic } from '../test/fixtures/tools.js';

/** The median of `xs`; NaN when there is none. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length === 0 ? NaN : s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/**
 * The command a user runs: the launcher `bin/hyperward`, which `npx hyperward` and an installed `hyperward` run
 * (it starts Node on `bin/hyperward.js`; see the launcher for what it does with `NODE_EXTRA_CA_CERTS`).
 */
export function hyperwardLauncher(): string {
  return join(repoRoot(), 'bin', 'hyperward');
}

/** Runs `fn` and measures it with `performance.now()`. */
export function timed<T>(fn: () => T): { value: T; seconds: number } {
  const t0 = performance.now();
  const value = fn();
  return { value, seconds: (performance.now() - t0) / 1000 };
}

/** spawnSync that throws with the command line and the tail of stderr when the exit code is not in `okCodes`. */
export function exec(
  cmd: string,
  args: readonly string[],
  opts: { env?: NodeJS.ProcessEnv; stdoutFd?: number; okCodes?: readonly number[] } = {},
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

/** Empties the page cache (root only) so a run starts cold; throws where the kernel refuses. */
export function dropCaches(): void {
  exec('sync', []);
  writeFileSync('/proc/sys/vm/drop_caches', '3');
}

/** The first line a tool prints (e.g. its `--version`), or `unavailable`. */
export function toolVersion(cmd: string, args: readonly string[]): string {
  try {
    return exec(cmd, args).stdout.split('\n')[0]!.trim();
  } catch {
    return 'unavailable';
  }
}

/** The installed version of a Debian package, or `unavailable`. */
export function debVersion(pkg: string): string {
  return toolVersion('dpkg-query', ['-W', '-f', '${Version}', pkg]) || 'unavailable';
}

/** The version of an npm package installed in the checkout, or `unknown`. */
export function npmVersion(pkg: string): string {
  try {
    const j = JSON.parse(readFileSync(join(repoRoot(), 'node_modules', pkg, 'package.json'), 'utf8')) as {
      version?: string;
    };
    return j.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** The current 1-minute load average, rounded to hundredths: other work on the machine shows here. */
export function load1(): number {
  return Math.round((loadavg()[0] ?? 0) * 100) / 100;
}

/** Facts every benchmark table is headed with. */
export interface MachineFacts {
  date: string;
  nproc: number;
  cpu: string;
  memoryGiB: number;
  freeMemoryGiB: number;
  kernel: string;
  node: string;
  /** 1-minute load average when the facts were taken (at the end of the run). */
  loadEnd: number;
}

/** The machine's facts now, plus a benchmark's own (tool versions, load at the start, …). */
export function machineFacts<E extends Record<string, string | number>>(extra: E): MachineFacts & E {
  return {
    date: new Date().toISOString(),
    nproc: availableParallelism(),
    cpu: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    freeMemoryGiB: Math.round((freemem() / 2 ** 30) * 10) / 10,
    kernel: release(),
    node: process.version,
    loadEnd: load1(),
    ...extra,
  };
}

/** `Measured DATE on N × CPU, M GiB RAM, Linux K, Node V` — the start of every table's heading sentence. */
export function measuredOn(f: MachineFacts): string {
  return `Measured ${f.date} on ${f.nproc} × ${f.cpu}, ${f.memoryGiB} GiB RAM, Linux ${f.kernel}, Node ${f.node}`;
}

/** Seconds for a table: three decimals below 10 s, one above; `—` when there is no figure. */
export const fmtS = (s: number | undefined): string =>
  s === undefined || Number.isNaN(s) ? '—' : s < 10 ? s.toFixed(3) : s.toFixed(1);
export const fmtMiB = (b: number): string => `${(b / 2 ** 20).toFixed(1)} MiB`;
/** A note fit for one table cell: one line, pipes escaped, at most `max` characters. */
export const cell = (s: string, max = 160): string =>
  s.replace(/\s+/g, ' ').replace(/\|/g, '\\|').slice(0, max);

/** How the harness was invoked, as the command that reproduces it (`npm run bench -- NAME ARGS`). */
export function benchCommand(name: string | undefined, argv: readonly string[]): string {
  const args = [...(name === undefined ? [] : [name]), ...argv];
  return `npm run bench${args.length > 0 ? ` -- ${args.join(' ')}` : ''}`;
}

/**
 * Writes a run's results to `bench/results/`: `NAME-STAMP.json` (kept), `LATEST.json` and `LATEST.md` (replaced),
 * where STAMP is the compact form of `date` and LATEST defaults to `NAME-latest`.
 */
export function writeResults(
  name: string,
  date: string,
  json: unknown,
  md: string,
  latest = `${name}-latest`,
): void {
  const dir = join(repoRoot(), 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const stamp = date.replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  const text = JSON.stringify(json, null, 2) + '\n';
  writeFileSync(join(dir, `${name}-${stamp}.json`), text);
  writeFileSync(join(dir, `${latest}.json`), text);
  writeFileSync(join(dir, `${latest}.md`), md);
}

/** Replaces the text between `<!-- MARKER:start -->` and `<!-- MARKER:end -->` in BENCHMARKS.md with `section`. */
export function updateDoc(marker: string, section: string): void {
  const start = `<!-- ${marker}:start -->`;
  const end = `<!-- ${marker}:end -->`;
  const path = join(repoRoot(), 'BENCHMARKS.md');
  const text = readFileSync(path, 'utf8');
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  if (a < 0 || b < a) throw new Error(`BENCHMARKS.md has no ${start} … ${end} section`);
  writeFileAtomic(path, text.slice(0, a + start.length) + '\n' + section + text.slice(b));
}

/**
 * Variables of this workplace's environment that a standard Debian machine does not set and that change a tool's own
 * time. `NODE_EXTRA_CA_CERTS` (here it names the system's whole CA bundle, ~140 certificates) makes Node 20 read and
 * parse that file before any script runs: `node -e ''` takes ~30 ms longer with it on these machines (54 vs 23 ms).
 * Only Node reads it, so it taxes Hyperward and none of the peers.
 */
export const MACHINE_ONLY_ENV = ['NODE_EXTRA_CA_CERTS'] as const;

let machineEnvironment: NodeJS.ProcessEnv | undefined;

/**
 * The variables of `MACHINE_ONLY_ENV` the harness found set (name → value), after `runMain` removed them from the
 * environment every child inherits. Empty when the machine sets none of them.
 */
export function machineOnlyEnv(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of MACHINE_ONLY_ENV) {
    const v = machineEnvironment?.[k];
    if (v !== undefined) out[k] = v;
  }
  return out;
}

/** The environment as the harness was started with it: for a row that shows what `MACHINE_ONLY_ENV` costs. */
export function asStartedEnv(): NodeJS.ProcessEnv {
  return machineEnvironment ?? process.env;
}

/**
 * Runs a benchmark's `main`, printing a failure's stack under the benchmark's prefix and exiting 1. Every tool it
 * spawns runs in the environment of a standard Debian machine: the variables of `MACHINE_ONLY_ENV` are removed
 * first (see `machineOnlyEnv`), and a benchmark that wants their cost shown runs a row with `asStartedEnv()`.
 */
export function runMain(who: string, main: () => Promise<void>): void {
  machineEnvironment ??= { ...process.env };
  for (const k of MACHINE_ONLY_ENV) Reflect.deleteProperty(process.env, k);
  main().catch((e: unknown) => {
    process.stderr.write(`[${who}] failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  });
}
