/**
 * What the image benchmarks (`image-inventory.ts`, `image-filesystems.ts`) share: the methods every one of them
 * times — Hyperward's `scan image`, the raw copy a user without an image-aware reader makes, libguestfs's
 * `virt-inspector` — and the interleaved runner that warms each method up, checks its answer and times it.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { log } from '../test/fixtures/tools.js';
import { dropCaches, exec, hyperwardLauncher, median, timed } from './common.js';

/** One timed execution of a method. */
export interface Run {
  seconds: number;
  packages?: number;
  osId?: string;
  osVersionId?: string;
  bytesRead?: number;
  reads?: number;
  sha256?: string;
  /** For a raw-copy peer: the part of `seconds` spent making the copy (`qemu-img convert -O raw`). */
  copySeconds?: number;
}

/** A way of answering one question about one image. */
export interface Method<K extends string = string> {
  id: string;
  label: string;
  kind: K;
  runs: number;
  /** Runs it once; `verify` asks for the extra work that checks the answer (e.g. hashing the output). */
  run: (verify: boolean) => Promise<Run> | Run;
}

/** The outcome of one method on one image. */
export interface Summary<K extends string = string> {
  image: string;
  format: string;
  method: string;
  label: string;
  kind: K;
  runs: Run[];
  medianSeconds?: number;
  minSeconds?: number;
  packages?: number;
  os?: string;
  bytesRead?: number;
  reads?: number;
  /** The answer matched the oracle. */
  correct: boolean;
  error?: string;
}

/**
 * Runs `methods` on one image: each once untimed first (it warms the page cache alike for all, builds
 * libguestfs's appliance, and gives the answer `correct` judges — extra checking work is done only there), then
 * `runs` timed rounds interleaved across methods, with an untimed `sync` after each run so one run's write-back
 * (the raw copies) does not land in the next one's time. `cold` drops the page cache before every timed run.
 */
export async function runInterleaved<K extends string>(
  who: string,
  image: { name: string; format: string },
  methods: ReadonlyArray<Method<K>>,
  opts: { cold: boolean; correct: (m: Method<K>, verified: Run) => boolean },
): Promise<Array<Summary<K>>> {
  const state = methods.map((m) => ({
    m,
    runs: [] as Run[],
    error: undefined as string | undefined,
    verified: undefined as Run | undefined,
  }));
  for (const s of state) {
    log(who, `${image.name}: ${s.m.id} (warm-up and check)`);
    try {
      s.verified = await s.m.run(true);
    } catch (e) {
      s.error = (e as Error).message;
      log(who, `${image.name}: ${s.m.id} failed: ${s.error}`);
    }
  }
  const rounds = Math.max(0, ...methods.map((m) => m.runs));
  for (let r = 0; r < rounds; r++) {
    for (const s of state) {
      if (s.error !== undefined || r >= s.m.runs) continue;
      try {
        if (opts.cold) dropCaches();
        const run = await s.m.run(false);
        exec('sync', []);
        s.runs.push(run);
        log(who, `${image.name}: ${s.m.id} run ${r + 1}: ${run.seconds.toFixed(3)} s`);
      } catch (e) {
        s.error = (e as Error).message;
        log(who, `${image.name}: ${s.m.id} failed: ${s.error}`);
      }
    }
  }
  return state.map((s) => {
    const times = s.runs.map((x) => x.seconds);
    const v = s.verified;
    const sum: Summary<K> = {
      image: image.name,
      format: image.format,
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
      sum.correct = s.error === undefined && opts.correct(s.m, v);
    }
    return sum;
  });
}

/** The oracle's answer to the inventory question. */
export interface InventoryOracle {
  packageCount: number;
  osId: string;
  osVersionId: string;
}

/** True when an inventory run found the oracle's package count and OS. */
export function inventoryMatches(v: Run, o: InventoryOracle): boolean {
  return (
    v.packages === o.packageCount &&
    (v.osId ?? '').toLowerCase() === o.osId &&
    (v.osVersionId ?? '') === o.osVersionId
  );
}

/** Installed packages in a dpkg `status` file (stanzas whose Status ends in `installed`). */
export function countInstalled(status: string): number {
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

/**
 * `bin/hyperward scan image IMG --format json --stats --no-cache --no-vulns`: packages, OS, and the bytes it
 * read. `--no-cache`: with its scan cache, a rescan of an unchanged image reads only the image's headers and returns
 * the stored inventory — the benchmark times reading the inventory from the image. `--no-vulns`: the peers match no
 * advisories, and an advisory database on the machine must not change the figure.
 */
export function hyperwardScan(img: string, env?: NodeJS.ProcessEnv): Run {
  const bin = hyperwardLauncher();
  const { value: r, seconds } = timed(() =>
    exec(bin, ['scan', 'image', img, '--format', 'json', '--stats', '--no-cache', '--no-vulns'], {
      okCodes: [0, 1],
      ...(env === undefined ? {} : { env }),
    }),
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

/** One partition of a raw copy, in bytes, as `sfdisk --json` lists it (GPT type GUIDs upper-cased). */
export interface RawPartition {
  start: number;
  size: number;
  type: string;
}

/**
 * The copy a user without Hyperward makes: `qemu-img convert -O raw IMG TMP/copy.raw`. Returns its path and how
 * long the conversion took.
 */
export function rawCopy(img: string, tmpDir: string): { raw: string; seconds: number } {
  const raw = join(tmpDir, 'copy.raw');
  rmSync(raw, { force: true });
  const { seconds } = timed(() => exec('qemu-img', ['convert', '-O', 'raw', img, raw]));
  return { raw, seconds };
}

/** The partitions of a raw disk, per `sfdisk --json`. */
export function rawPartitions(raw: string): RawPartition[] {
  const table = JSON.parse(exec('sfdisk', ['--json', raw]).stdout) as {
    partitiontable: {
      sectorsize?: number;
      partitions?: Array<{ start: number; size: number; type: string }>;
    };
  };
  const ss = table.partitiontable.sectorsize ?? 512;
  return (table.partitiontable.partitions ?? []).map((p) => ({
    start: p.start * ss,
    size: p.size * ss,
    type: p.type.toUpperCase(),
  }));
}

/** GPT and MBR type codes of the partitions the peers look for. */
export const PART_TYPES = {
  linux: ['0FC63DAF-8483-4772-8E79-3D69D8477DE4', '83'],
  lvm: ['E6D6D379-F507-44C2-A23C-238F2A3DF928', '8E'],
} as const;

const GUESTFS_ENV = {
  ...process.env,
  LIBGUESTFS_BACKEND: 'direct',
  LIBGUESTFS_BACKEND_SETTINGS: 'force_tcg',
};

/** `virt-inspector --no-icon -a IMG` under TCG (the only way its appliance boots here): packages and OS. */
export function guestfsInventory(img: string): Run {
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
