import type { ScanReport, ScanResult } from '../model/report.js';
import type { Writer } from './types.js';

/** Aligns rows into columns separated by two spaces; the first row is the header. */
export function columns(rows: string[][]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows
    .map((row) =>
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export function humanSize(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

function section(r: ScanResult): string {
  const out: string[] = [];
  const img = r.image;
  const head = img
    ? `${r.target} (${[img.format, img.subformat].filter(Boolean).join(' ')}, ${humanSize(img.virtualSize)}, ${img.partitionScheme === 'none' ? 'no partition table' : img.partitionScheme})`
    : r.target;
  out.push(head, '='.repeat(Math.min(head.length, 100)));
  if (r.error) {
    out.push(`error: ${r.error.message} [${r.error.code}]`);
    return out.join('\n');
  }
  const facts: string[][] = [];
  if (r.os)
    facts.push(['OS', r.os.prettyName ?? [r.os.name ?? r.os.id, r.os.versionId].filter(Boolean).join(' ')]);
  if (r.hostname) facts.push(['Hostname', r.hostname]);
  for (const fs of img?.filesystems ?? []) {
    const where = fs.partition === 0 ? 'disk' : `part ${fs.partition}`;
    const bits = [
      fs.type,
      fs.mountpoint ? `at ${fs.mountpoint}` : '',
      fs.uuid ? `uuid ${fs.uuid}` : '',
      fs.note ?? '',
    ];
    facts.push([`Filesystem (${where})`, bits.filter(Boolean).join(', ')]);
  }
  if (r.kind === 'image' || r.packages.length > 0) facts.push(['Packages', String(r.packages.length)]);
  out.push(columns(facts.map(([k, v]) => [`${k}:`, v!])));
  if (r.packages.length > 0) {
    out.push('');
    out.push(
      columns([
        ['NAME', 'VERSION', 'ARCH', 'SOURCE'],
        ...r.packages.map((p) => [
          p.name,
          p.version,
          p.arch,
          p.sourceName === p.name && p.sourceVersion === p.version
            ? ''
            : `${p.sourceName} ${p.sourceVersion}`,
        ]),
      ]),
    );
  }
  if (r.findings.length > 0) {
    const shown = r.findings.filter((f) => f.status !== 'pass');
    const count = (s: string): number => r.findings.filter((f) => f.status === s).length;
    out.push(
      '',
      `Findings: ${count('fail')} failed, ${count('unknown')} unknown, ${count('waived')} waived, ${count('pass')} passed`,
    );
    if (shown.length > 0) {
      out.push(
        columns([
          ['STATUS', 'SEVERITY', 'CHECK', 'RESOURCE', 'MESSAGE'],
          ...shown.map((f) => [
            f.status.toUpperCase(),
            f.severity.toUpperCase(),
            f.checkId,
            f.resource.id,
            f.message,
          ]),
        ]),
      );
    }
  }
  return out.join('\n');
}

/** Human-readable summary for a terminal. */
export const tableWriter: Writer = {
  format: 'table',
  extension: 'txt',
  write: (report: ScanReport) => report.results.map(section).join('\n\n') + '\n',
};
