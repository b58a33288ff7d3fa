/**
 * Image-library benchmark (issue 5, item 8): `hyperward scan image DIR` over a library of 20 disk images, cold
 * (an empty scan cache) and warm (the cache filled by the cold scan, nothing changed), as the CLI runs it
 * (node start-up, discovery, the JSON report). The library holds hard links to 20 of the test fixture images —
 * the same Debian system in every container format and subformat the block layer reads (qcow2 v2/v3, compressed,
 * backing chains, VMDK, VHD, VHDX, VDI, raw) — so nothing large is copied. Each run's results are checked: every
 * image found, every package list as long as dpkg-query's oracle, and the warm report equal to the cold one.
 * Never part of the test suite.
 *
 * Usage: npm run bench -- image-library [--runs N --jobs N --cold --update-doc]
 */
import { linkSync, mkdirSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fixturesDir, loadFixtureManifest } from '../test/fixtures/build.js';
import { log } from '../test/fixtures/tools.js';
import {
  benchCommand,
  dropCaches,
  exec,
  fmtMiB,
  fmtS,
  hyperwardLauncher,
  load1,
  machineFacts,
  measuredOn,
  median,
  runMain,
  timed,
  updateDoc,
  writeResults,
} from './common.js';

const WHO = 'bench:library';
const IMAGES = 20;

interface Options {
  runs: number;
  jobs?: number;
  cold: boolean;
  updateDoc: boolean;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { runs: 5, cold: false, updateDoc: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const num = (): number => {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v < 1) throw new Error(`${a} needs a positive integer`);
      return v;
    };
    if (a === '--runs') o.runs = num();
    else if (a === '--jobs') o.jobs = num();
    else if (a === '--cold') o.cold = true;
    else if (a === '--update-doc') o.updateDoc = true;
    else throw new Error(`unknown option ${a}`);
  }
  return o;
}

interface Report {
  results: Array<{ target: string; packages: unknown[]; error?: { message: string } }>;
  library?: { images: number; cached: number; inspected: number };
}

interface Run {
  seconds: number;
  bytesRead: number;
  cached: number;
  results: Report['results'];
}

/** The library: hard links to the first 20 fixture images (their extents and backing files too). */
function buildLibrary(dir: string): Map<string, number> {
  const m = loadFixtureManifest();
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const oracle = new Map<string, number>();
  for (const img of m.images.slice(0, IMAGES)) {
    for (const f of img.files) {
      const name = f.split('/').pop()!;
      try {
        linkSync(f, join(dir, name));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
    }
    const count = readFileSync(img.packagesFile, 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '').length;
    oracle.set(join(dir, img.path.split('/').pop()!), count);
  }
  if (oracle.size !== IMAGES) throw new Error(`only ${oracle.size} fixture images; run the fixture build`);
  return oracle;
}

function scan(lib: string, cache: string, jobs: number | undefined): Run {
  const bin = hyperwardLauncher();
  const args = ['scan', 'image', lib, '--format', 'json', '--stats', '--no-vulns', '-q', '--cache', cache];
  if (jobs !== undefined) args.push('-j', String(jobs));
  const { value: r, seconds } = timed(() => exec(bin, args, { okCodes: [0, 1] }));
  const report = JSON.parse(r.stdout) as Report;
  const stats = r.stderr
    .split('\n')
    .filter((l) => l.startsWith('{') && l.includes('bytesRead'))
    .map((l) => JSON.parse(l) as { bytesRead: number })
    .pop();
  return {
    seconds,
    bytesRead: stats?.bytesRead ?? NaN,
    cached: report.library?.cached ?? 0,
    results: report.results,
  };
}

/** What is wrong with a run's answer, or undefined when it is right. */
function check(run: Run, oracle: Map<string, number>, expectCached: number): string | undefined {
  if (run.results.length !== oracle.size) return `${run.results.length} results, ${oracle.size} images`;
  for (const r of run.results) {
    if (r.error) return `${r.target}: ${r.error.message}`;
    const want = oracle.get(r.target);
    if (want === undefined) return `unexpected image ${r.target}`;
    if (r.packages.length !== want) return `${r.target}: ${r.packages.length} packages, dpkg-query ${want}`;
  }
  if (run.cached !== expectCached) return `${run.cached} images from the cache, expected ${expectCached}`;
  return undefined;
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const loadStart = load1();
  const work = join(realpathSync(fixturesDir()), '..', 'bench-library');
  const lib = join(work, 'images');
  const oracle = buildLibrary(lib);
  // The scan cache leaves out files changed in the last two seconds; the links just made changed their ctime.
  await new Promise((r) => setTimeout(r, 2100));
  log(WHO, `library of ${oracle.size} images in ${lib}`);
  const cold: Run[] = [];
  const warm: Run[] = [];
  let wrong: string | undefined;
  for (let i = 0; i < o.runs; i++) {
    const cache = join(work, `cache-${i}.db`);
    for (const f of [cache, `${cache}-wal`, `${cache}-shm`]) rmSync(f, { force: true });
    if (o.cold) dropCaches();
    const c = scan(lib, cache, o.jobs);
    wrong ??= check(c, oracle, 0);
    if (o.cold) dropCaches();
    const w = scan(lib, cache, o.jobs);
    wrong ??= check(w, oracle, IMAGES);
    if (JSON.stringify(w.results) !== JSON.stringify(c.results))
      wrong ??= 'the warm report differs from the cold one';
    cold.push(c);
    warm.push(w);
    for (const f of [cache, `${cache}-wal`, `${cache}-shm`]) rmSync(f, { force: true });
    log(WHO, `run ${i + 1}: cold ${fmtS(c.seconds)} s, warm ${fmtS(w.seconds)} s`);
  }
  // Node's own start-up, which every CLI run pays and no cache can save.
  const nodeS = median(Array.from({ length: o.runs }, () => timed(() => exec('node', ['-e', ''])).seconds));
  const coldS = median(cold.map((r) => r.seconds));
  const warmS = median(warm.map((r) => r.seconds));
  const coldB = median(cold.map((r) => r.bytesRead));
  const warmB = median(warm.map((r) => r.bytesRead));
  const facts = machineFacts({ loadStart, jobs: o.jobs ?? 'default (CPUs, at most 4)' });
  const command = benchCommand('image-library', process.argv.slice(2));
  const md = [
    `${measuredOn(facts)}; load ${facts.loadStart} at the start, ${facts.loadEnd} at the end; page cache ${o.cold ? 'dropped before every scan' : 'warm'}; ${o.runs} runs, medians.`,
    `\`${command}\``,
    '',
    '| scan of the 20-image library | time | bytes read | images from the cache |',
    '|---|---|---|---|',
    `| cold (empty scan cache) | ${fmtS(coldS)} s | ${fmtMiB(coldB)} | 0 |`,
    `| warm (nothing changed) | ${fmtS(warmS)} s | ${fmtMiB(warmB)} | ${IMAGES} |`,
    `| \`node -e ''\` (start-up alone) | ${fmtS(nodeS)} s | — | — |`,
    '',
    `Warm rescan / cold scan: **${(warmS / coldS).toFixed(3)}×** in time (${(coldS / warmS).toFixed(1)}× faster), ` +
      `${((warmB / coldB) * 100).toFixed(1)} % of the bytes. Beyond Node's own start-up (\`node -e ''\`, ` +
      `${fmtS(nodeS)} s): ${((warmS - nodeS) / (coldS - nodeS)).toFixed(3)}×.` +
      (wrong
        ? ` **WRONG: ${wrong}**`
        : ' Every result checked against dpkg-query; warm report equal to the cold one.'),
    '',
  ].join('\n');
  process.stdout.write(md);
  writeResults('image-library', facts.date, { facts, command, nodeS, cold, warm, wrong }, md);
  if (o.updateDoc) updateDoc('image-library', md);
  if (wrong) process.exitCode = 1;
}

runMain(WHO, main);
