import { isHyperwardError } from '../errors.js';
import type { ScanResult } from '../model/report.js';
import { readSbom } from '../sbom/read.js';
import type { ScanSbomOpts } from './main.js';
import { emit, newReport } from './output.js';
import { addVulnsToReport } from './vulns.js';
import { say } from './say.js';

/**
 * `hyperward scan sbom FILE…`: every operating system an SBOM describes becomes one result, matched like an image's
 * packages. A document that cannot be read is reported as such and the others go on (exit 2).
 */
export async function runScanSbom(files: string[], o: ScanSbomOpts): Promise<number> {
  const report = newReport();
  for (const file of files) {
    try {
      for (const inv of readSbom(file)) {
        const r: ScanResult = {
          target: inv.target,
          kind: 'sbom',
          packages: inv.packages,
          findings: [],
        };
        if (inv.os) r.os = inv.os;
        if (inv.hostname) r.hostname = inv.hostname;
        report.results.push(r);
        if (!o.quiet) for (const n of inv.notes) say(`${file}: ${n}`);
      }
    } catch (e) {
      if (!isHyperwardError(e)) throw e;
      report.results.push({
        target: file,
        kind: 'sbom',
        error: { code: e.code, message: e.message },
        packages: [],
        findings: [],
      });
    }
  }
  await addVulnsToReport(report, o, true);
  return emit(report, o);
}
