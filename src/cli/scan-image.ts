import { statSync } from 'node:fs';
import { HyperwardError, isHyperwardError } from '../errors.js';
import type { ScanResult } from '../model/report.js';
import { scanImageBatch, type BatchMountOptions, type BatchOptions } from '../scan/image-batch.js';
import type { SkippedFile } from '../scan/library.js';
import type { ScanCache } from '../scan/scan-cache.js';
import { newReadStats, readTextFile } from '../source/file.js';
import type { ScanImageOpts } from './main.js';
import { emit, newReport } from './output.js';
import { Progress } from './progress.js';
import { addVulnsToReport } from './vulns.js';
import { warn } from './say.js';

/** What the arguments name: image files, and the images found in directories and storage pools. */
interface Targets {
  images: string[];
  skipped: SkippedFile[];
  /** Results for arguments that could not be expanded at all (a pool that cannot be read). */
  failed: ScanResult[];
  /** Some argument was a directory or a pool. */
  library: boolean;
}

function unreadable(target: string, e: HyperwardError): ScanResult {
  return { target, kind: 'image', packages: [], findings: [], error: { code: e.code, message: e.message } };
}

async function expandTargets(args: string[], o: ScanImageOpts): Promise<Targets> {
  const out: Targets = { images: [], skipped: [], failed: [], library: false };
  const found: string[] = [];
  for (const arg of args) {
    if (arg.startsWith('pool:')) {
      out.library = true;
      const { readPool } = await import('../source/virsh-pool.js');
      try {
        const pool = await readPool({ uri: o.connect, pool: arg.slice('pool:'.length) });
        for (const v of pool.volumes) {
          if (v.type === 'file' || v.type === 'block') found.push(v.path);
          else out.skipped.push({ path: v.path, reason: `${v.type} volume of pool ${pool.pool}: not read` });
        }
        for (const u of pool.unreadable) out.skipped.push({ path: u.volume, reason: u.message });
      } catch (e) {
        if (!isHyperwardError(e)) throw e;
        out.failed.push(unreadable(arg, e));
      }
      continue;
    }
    let isDir = false;
    try {
      isDir = statSync(arg).isDirectory();
    } catch {
      // Not there: the scan of the file reports it.
    }
    if (!isDir) {
      out.images.push(arg);
      continue;
    }
    out.library = true;
    const { discoverImages } = await import('../scan/library.js');
    try {
      const d = discoverImages(arg);
      found.push(...d.images);
      out.skipped.push(...d.skipped);
    } catch (e) {
      if (!isHyperwardError(e)) throw e;
      out.failed.push(unreadable(arg, e));
    }
  }
  if (found.length > 0) {
    // Files that are only parts of another image found with them (VMDK extents) are scanned as that image.
    const { withoutComponents } = await import('../scan/library.js');
    const { imageComponents } = await import('../scan/image.js');
    const mount = { allowOutside: o.allowBackingOutside };
    const kept = withoutComponents(found, (img) => imageComponents(img, mount));
    out.images.push(...kept.images);
    // A raw extent is no image by its content, but it is not a stray file either.
    out.skipped = out.skipped.map((f) => {
      const by = kept.ownerOf(f.path);
      return by !== undefined ? { path: f.path, reason: `part of ${by}` } : f;
    });
    out.skipped.push(...kept.components);
  }
  return out;
}

/** The PEM certificates of a `--trusted-roots` file (one or more `BEGIN CERTIFICATE` blocks). */
function readCertificates(path: string): string[] {
  const text = readTextFile(path, 4 * 1024 * 1024);
  const pems = text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (pems.length === 0) {
    throw new HyperwardError('E_USAGE', 'no PEM certificate (BEGIN CERTIFICATE) in the file', { file: path });
  }
  return pems.map((p) => `${p}\n`);
}

function openCache(o: ScanImageOpts, ScanCacheClass: typeof ScanCache): ScanCache | undefined {
  if (o.cache === false) return undefined;
  const path = typeof o.cache === 'string' ? o.cache : ScanCacheClass.defaultPath();
  try {
    return ScanCacheClass.open(path);
  } catch (e) {
    if (!isHyperwardError(e)) throw e;
    if (!o.quiet) warn(`scanning without a cache: ${e.message}`);
    return undefined;
  }
}

/**
 * `hyperward scan image`: every image is scanned even when one fails; exit 2 if any could not be read. Directories
 * and storage pools expand to the images they hold.
 */
export async function runScanImage(args: string[], o: ScanImageOpts): Promise<number> {
  const started = Date.now();
  const stats = newReadStats();
  const report = newReport();
  if (o.baseline !== undefined && o.baselineKey === undefined) {
    throw new HyperwardError('E_USAGE', '--baseline needs --baseline-key PUBLIC.pem to check its signature');
  }
  const { loadBaseline } =
    o.baseline !== undefined ? await import('./baseline-cmd.js') : { loadBaseline: undefined };
  const baseline = loadBaseline && o.baseline ? loadBaseline(o.baseline, o.baselineKey!) : undefined;
  const targets = await expandTargets(args, o);

  const mount: BatchMountOptions = { allowOutside: o.allowBackingOutside };
  if (o.partition !== undefined) mount.partition = o.partition;
  if (baseline) mount.baseline = baseline;
  if (o.verifyFiles) mount.verifyFiles = true;
  if (o.trustedRoots !== undefined) mount.trustedRoots = readCertificates(o.trustedRoots);
  // The cache (and SQLite with it) is loaded only when it is used.
  const cache =
    o.cache === false ? undefined : openCache(o, (await import('../scan/scan-cache.js')).ScanCache);
  const progress = new Progress('scanning', targets.images.length, o.quiet);
  const batch: BatchOptions = {
    mount,
    stats,
    staleness: {
      maxPackageAgeDays: o.maxPackageAge,
      maxAvAgeDays: o.maxAvAge,
      eolWarningDays: o.eolWarning,
    },
    onDone: (done, _total, path) => progress.update(done, path),
  };
  if (o.concurrency !== undefined) batch.concurrency = Math.max(1, o.concurrency);
  if (o.imageTimeout !== undefined) batch.imageTimeoutMs = Math.max(1, o.imageTimeout) * 1000;
  if (cache) batch.cache = cache;
  if (o.verifyFiles && targets.images.length === 1) {
    const bar = new Progress(`verifying files of ${targets.images[0]}`, 1, o.quiet);
    batch.onVerifyProgress = (done, total) => {
      bar.total = total;
      bar.update(done);
      if (done === total) bar.done();
    };
  }
  let outcome;
  try {
    outcome = await scanImageBatch(targets.images, batch);
  } finally {
    if (cache && !o.quiet) {
      for (const p of cache.problems) warn(`scan cache: ${p}`);
    }
    cache?.close();
  }
  progress.done();
  report.results.push(...targets.failed, ...outcome.results);
  if (targets.library) {
    const failed = report.results.filter((r) => r.error).length;
    report.library = {
      images: outcome.results.length,
      cached: outcome.cached,
      inspected: outcome.inspected,
      failed,
      skipped: targets.skipped,
      seconds: (Date.now() - started) / 1000,
    };
  }
  await addVulnsToReport(report, o);
  const code = await emit(report, o);
  if (targets.library && !o.quiet) {
    const l = report.library!;
    process.stderr.write(
      `hyperward: ${l.images} images (${l.cached} unchanged, from the cache), ${l.failed} unreadable, ` +
        `${l.skipped.length} other files skipped, in ${l.seconds.toFixed(1)} s\n`,
    );
  }
  if (o.stats)
    process.stderr.write(JSON.stringify({ bytesRead: stats.bytesRead, reads: stats.reads }) + '\n');
  return code;
}
