import { HyperwardError } from '../errors.js';
import { scanImage } from '../scan/image.js';
import { newReadStats } from '../source/file.js';
import type { ScanImageOpts } from './main.js';
import { emit, newReport } from './output.js';
import { Progress } from './progress.js';
import { addVulnsToReport } from './vulns.js';

/** `hyperward scan image`: every image is scanned even when one fails; exit 2 if any could not be read. */
export async function runScanImage(images: string[], o: ScanImageOpts): Promise<number> {
  const stats = newReadStats();
  const report = newReport();
  if (o.baseline !== undefined && o.baselineKey === undefined) {
    throw new HyperwardError('E_USAGE', '--baseline needs --baseline-key PUBLIC.pem to check its signature');
  }
  const { loadBaseline } =
    o.baseline !== undefined ? await import('./baseline-cmd.js') : { loadBaseline: undefined };
  const baseline = loadBaseline && o.baseline ? loadBaseline(o.baseline, o.baselineKey!) : undefined;
  const progress = new Progress('scanning', images.length, o.quiet);
  images.forEach((img, i) => {
    progress.update(i, img);
    const opts: Parameters<typeof scanImage>[1] = { stats, allowOutside: o.allowBackingOutside };
    if (o.partition !== undefined) opts.partition = o.partition;
    if (baseline) opts.baseline = baseline;
    if (o.verifyFiles) {
      const bar = new Progress(`verifying files of ${img}`, 1, o.quiet);
      opts.verifyFiles = true;
      opts.onVerifyProgress = (done, total) => {
        bar.total = total;
        bar.update(done);
        if (done === total) bar.done();
      };
    }
    report.results.push(scanImage(img, opts));
  });
  progress.done();
  await addVulnsToReport(report, o);
  const code = await emit(report, o);
  if (o.stats)
    process.stderr.write(JSON.stringify({ bytesRead: stats.bytesRead, reads: stats.reads }) + '\n');
  return code;
}
