/**
 * Scans many images as one job: each image's fingerprint is looked up in the scan cache first; the rest are
 * inspected several at a time in worker threads (or in this thread for one image), and stored. What depends on the
 * moment of the scan (staleness) is judged afterwards for every image, cached or not, so a cached result is never
 * stale in that sense.
 */
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { dependency } from '../dependency.js';
import { openImage } from '../disk/open.js';
import type { ScanResult } from '../model/report.js';
import type { StalenessOptions } from '../inspect/staleness.js';
import { newReadStats, type ReadStats } from '../source/file.js';
import {
  imageComponents,
  inspectImage,
  judgeImage,
  type InspectedImage,
  type MountOptions,
} from './image.js';
import { applianceKind } from './appliance.js';
import type { ScanCache } from './scan-cache.js';

/** The mount options a worker can be sent (no callbacks, no shared counters). */
export type BatchMountOptions = Omit<MountOptions, 'onVerifyProgress' | 'stats' | 'now'>;

export interface WorkerRequest {
  id: number;
  path: string;
  mount: BatchMountOptions;
}

export type WorkerReply =
  | { id: number; inspected: InspectedImage; stats: ReadStats; crash?: undefined }
  | { id: number; crash: string; stats: ReadStats; inspected?: undefined };

export interface BatchOptions {
  mount?: BatchMountOptions;
  /** For one image scanned in this thread: progress of `--verify-files`. */
  onVerifyProgress?: MountOptions['onVerifyProgress'];
  /** The moment staleness is judged against (default now). */
  now?: Date;
  staleness?: StalenessOptions;
  /** Images inspected at once (default: the number of CPUs, at most 4). 1 = all in this thread. */
  concurrency?: number;
  cache?: ScanCache;
  /** Bytes read by every image, cached lookups included. */
  stats?: ReadStats;
  /**
   * Longest one image may take in a worker before it fails (`timed out`) and its worker is replaced; default
   * `DEFAULT_IMAGE_TIMEOUT_MS`. Images scanned in this thread (`concurrency` 1) run to the end.
   */
  imageTimeoutMs?: number;
  /** Called as each image is done, in completion order. */
  onDone?: (done: number, total: number, path: string, cached: boolean) => void;
}

export interface BatchResult {
  /** One result per image, in the order given. */
  results: ScanResult[];
  /** Images answered from the cache. */
  cached: number;
  /** Images inspected. */
  inspected: number;
}

/** Worker heap limit, so one hostile image cannot take the machine's memory. */
const WORKER_HEAP_MB = 2048;
/** Default per-image time limit in a worker: 10 minutes (`--verify-files` on a large image reads a lot). */
export const DEFAULT_IMAGE_TIMEOUT_MS = 10 * 60 * 1000;
/** Most worker threads, whatever `-j` says (each may take `WORKER_HEAP_MB`). */
export const MAX_WORKERS = 16;
/** Files modified this recently are not cached (see `imageKeyParts`). */
const RACY_MS = 2000;

/**
 * Opens an image (headers and metadata only) for its cache key: the files it reads (itself, its extents, its
 * backing chain) and a digest of every byte the open read. Undefined when it does not open: the scan reports why.
 */
function imageKeyParts(
  path: string,
  mount: BatchMountOptions,
  stats: ReadStats,
): { files: string[]; digest: string } | undefined {
  const hash = createHash('sha256');
  const tapped: ReadStats = {
    bytesRead: 0,
    reads: 0,
    tap: (file, offset, bytes) => hash.update(`${file}@${offset}:${bytes.length}\n`).update(bytes),
  };
  try {
    const opts: Parameters<typeof openImage>[1] = { stats: tapped };
    if (mount.allowOutside !== undefined) opts.allowOutside = mount.allowOutside;
    const dev = openImage(path, opts);
    let files: string[];
    try {
      files = [...dev.info.files];
    } finally {
      dev.close();
    }
    // An unpacked OVF package: its descriptor opens as a raw file; the disks, manifest and certificate it names
    // are files of the image too.
    if (dev.info.format === 'raw' && applianceKind(path) === 'ovf') {
      for (const f of imageComponents(path, opts)) if (!files.includes(f)) files.push(f);
    }
    // Not cached: block devices (their inode times do not change when their contents do), and files changed in
    // the last seconds (a write within the timestamps' granularity would leave the key unchanged: "racily clean").
    const recent = Date.now() - RACY_MS;
    for (const f of files) {
      const st = statSync(f);
      if (!st.isFile() || st.mtimeMs > recent || st.ctimeMs > recent) return undefined;
    }
    return { files, digest: hash.digest('hex') };
  } catch {
    // Whatever stops the key (a damaged header, a file gone meanwhile, a bug) only means no cache for this image:
    // the scan itself reports what is wrong.
    return undefined;
  } finally {
    stats.bytesRead += tapped.bytesRead;
    stats.reads += tapped.reads;
  }
}

/** Starts a worker running image-worker; under tsx (tests, development) it first registers tsx's loader. */
function startWorker(): Worker {
  const ts = import.meta.url.endsWith('.ts');
  const entry = new URL(ts ? './image-worker.ts' : './image-worker.js', import.meta.url);
  const resourceLimits = { maxOldGenerationSizeMb: WORKER_HEAP_MB };
  // Loaded here, not with this module: a scan of one image starts no worker, and node:worker_threads takes ~5 ms.
  const { Worker } = dependency<typeof import('node:worker_threads')>('node:worker_threads');
  if (!ts) return new Worker(entry, { resourceLimits });
  const boot = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(entry.href)}); });`;
  return new Worker(boot, { eval: true, resourceLimits });
}

/**
 * Scans `paths` (see the module comment). Never throws for a bad image: its result carries the error. A worker
 * that dies (a crash, the heap limit) fails only the image it was on.
 */
export async function scanImageBatch(paths: readonly string[], o: BatchOptions = {}): Promise<BatchResult> {
  const mount = o.mount ?? {};
  const stats = o.stats ?? newReadStats();
  const now = o.now ?? new Date();
  const total = paths.length;
  const inspected: Array<InspectedImage | undefined> = new Array<InspectedImage | undefined>(total);
  const keys: Array<string | undefined> = new Array<string | undefined>(total);
  let done = 0;
  let cached = 0;
  const finish = (i: number, value: InspectedImage, fromCache: boolean): void => {
    inspected[i] = value;
    done++;
    o.onDone?.(done, total, paths[i]!, fromCache);
  };

  const todo: number[] = [];
  // Options that change what is found (the thresholds and the clock do not: they are judged after the cache),
  // hashed once: a baseline may hold millions of entries.
  const optionsDigest = o.cache
    ? createHash('sha256')
        .update(JSON.stringify(mount) ?? '')
        .digest('hex')
    : '';
  paths.forEach((path, i) => {
    if (o.cache) {
      const parts = imageKeyParts(path, mount, stats);
      if (parts) {
        const key = o.cache.key(parts.files, parts.digest, optionsDigest);
        keys[i] = key;
        const hit = o.cache.get(key) as InspectedImage | undefined;
        if (hit && typeof hit === 'object' && hit.result?.target !== undefined) {
          hit.result.target = path;
          cached++;
          finish(i, hit, true);
          return;
        }
      }
    }
    todo.push(i);
  });

  const store = (i: number, value: InspectedImage): void => {
    const key = keys[i];
    // An image that could not be read at all may be readable next time (permissions, a missing backing file).
    if (o.cache && key !== undefined && value.result.error === undefined) {
      o.cache.put(key, paths[i]!, value);
    }
  };

  const workers = Math.min(
    todo.length,
    MAX_WORKERS,
    Math.max(1, o.concurrency ?? Math.min(4, availableParallelism())),
  );
  if (workers <= 1) {
    for (const i of todo) {
      const opts: MountOptions = { ...mount, stats };
      if (o.onVerifyProgress && total === 1) opts.onVerifyProgress = o.onVerifyProgress;
      let value: InspectedImage;
      try {
        value = inspectImage(paths[i]!, opts);
      } catch (e) {
        // A bug met on one image fails that image, as it would in a worker; the others are still scanned.
        value = {
          result: crashed(paths[i]!, `the scan failed: ${e instanceof Error ? e.message : String(e)}`),
        };
      }
      store(i, value);
      finish(i, value, false);
    }
  } else {
    await runInWorkers(
      todo,
      workers,
      (i) => paths[i]!,
      mount,
      stats,
      (i, value) => {
        store(i, value);
        finish(i, value, false);
      },
      o.imageTimeoutMs ?? DEFAULT_IMAGE_TIMEOUT_MS,
    );
  }

  const results = inspected.map((v, i) => {
    const value = v ?? { result: crashed(paths[i]!, 'not scanned') };
    return judgeImage(value, { now, ...(o.staleness ? { staleness: o.staleness } : {}) });
  });
  return { results, cached, inspected: todo.length };
}

function crashed(path: string, message: string): ScanResult {
  return {
    target: path,
    kind: 'image',
    packages: [],
    findings: [],
    error: { code: 'E_INTERNAL', message: `${path}: ${message}` },
  };
}

/** Runs the images at `indexes` on `n` workers, one image per worker at a time. */
function runInWorkers(
  indexes: readonly number[],
  n: number,
  pathOf: (i: number) => string,
  mount: BatchMountOptions,
  stats: ReadStats,
  onResult: (i: number, value: InspectedImage) => void,
  timeoutMs: number,
): Promise<void> {
  return new Promise((resolve) => {
    let next = 0;
    let running = 0;
    interface State {
      current?: number;
      timer?: NodeJS.Timeout;
    }
    const launch = (): void => {
      const w = startWorker();
      const state: State = {};
      running++;
      let ended = false;
      const assign = (): boolean => {
        if (next >= indexes.length) return false;
        const i = indexes[next++]!;
        state.current = i;
        const req: WorkerRequest = { id: i, path: pathOf(i), mount };
        w.postMessage(req);
        // The watchdog: an image that takes too long (a hang on hostile input) fails alone, its worker replaced.
        state.timer = setTimeout(() => fail(`timed out after ${timeoutMs / 1000} s`), timeoutMs);
        return true;
      };
      const end = (): void => {
        if (ended) return;
        ended = true;
        clearTimeout(state.timer);
        running--;
        void w.terminate();
        if (running === 0 && next >= indexes.length) resolve();
      };
      w.on('message', (reply: WorkerReply) => {
        if (ended) return;
        clearTimeout(state.timer);
        stats.bytesRead += reply.stats.bytesRead;
        stats.reads += reply.stats.reads;
        state.current = undefined;
        onResult(
          reply.id,
          reply.inspected ?? { result: crashed(pathOf(reply.id), `the scan failed: ${reply.crash}`) },
        );
        if (!assign()) end();
      });
      const fail = (why: string): void => {
        if (ended) return;
        if (state.current !== undefined) {
          const i = state.current;
          state.current = undefined;
          onResult(i, { result: crashed(pathOf(i), why) });
        }
        end();
        // Replace the lost worker while there is work left.
        if (next < indexes.length) launch();
      };
      w.on('error', (e) => fail(`the scan failed: ${e.message}`));
      w.on('exit', (code) => fail(`the scan's worker exited (code ${code})`));
      if (!assign()) end();
    };
    for (let k = 0; k < n; k++) launch();
    if (n === 0) resolve();
  });
}
