import { writeFileSync } from 'node:fs';
import { atLeast } from '../model/finding.js';
import type { ScanReport } from '../model/report.js';
import { loadWriter } from '../report/index.js';
import { scanImage } from '../scan/image.js';
import { newReadStats } from '../source/file.js';
import { VERSION } from '../version.js';
import { EXIT, type ScanImageOpts } from './main.js';
import { Progress } from './progress.js';

/** `hyperward scan image`: every image is scanned even when one fails; exit 2 if any could not be read. */
export async function runScanImage(images: string[], o: ScanImageOpts): Promise<number> {
  const writer = await loadWriter(o.format);
  const stats = newReadStats();
  const report: ScanReport = {
    tool: { name: 'hyperward', version: VERSION },
    createdAt: new Date().toISOString(),
    results: [],
  };
  const progress = new Progress('scanning', images.length, o.quiet);
  images.forEach((img, i) => {
    progress.update(i, img);
    const opts: Parameters<typeof scanImage>[1] = { stats, allowOutside: o.allowBackingOutside };
    if (o.partition !== undefined) opts.partition = o.partition;
    const r = scanImage(img, opts);
    if (r.error && !o.quiet) process.stderr.write(`hyperward: ${r.error.message} [${r.error.code}]\n`);
    report.results.push(r);
  });
  progress.done();
  const text = writer.write(report);
  if (o.output) writeFileSync(o.output, text);
  else process.stdout.write(text);
  if (o.stats)
    process.stderr.write(JSON.stringify({ bytesRead: stats.bytesRead, reads: stats.reads }) + '\n');
  if (report.results.some((r) => r.error)) return EXIT.usage;
  if (
    o.failOn &&
    report.results.some((r) =>
      r.findings.some((f) => f.status !== 'waived' && atLeast(f.severity, o.failOn!)),
    )
  ) {
    return EXIT.findings;
  }
  return EXIT.ok;
}
