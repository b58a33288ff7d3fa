import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import type { ScanReport } from '../model/report.js';
import { existsSync } from 'node:fs';
import { DEFAULT_DB_MAX_AGE_DAYS, defaultDbPath, missingDbWarning } from '../vuln/defaults.js';
import { warn } from './say.js';

/** The options every package-yielding scan takes for vulnerability detection. */
export interface VulnCliOpts {
  db?: string;
  vex?: string[];
  dbMaxAge: number;
  /** False with `--no-vulns`. */
  vulns: boolean;
  quiet?: boolean;
}

function daysArg(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError('--db-max-age must be a number of days');
  return n;
}

/** Adds `--db`, `--vex`, `--db-max-age` and `--no-vulns` to a scan command. */
export function addVulnOptions(cmd: Command): Command {
  return cmd
    .option(
      '--db <file>',
      'advisory database (default: $HYPERWARD_DB, else ~/.cache/hyperward/advisories.db); fill it with `hyperward db import`',
    )
    .option(
      '--vex <file>',
      'an OpenVEX or CycloneDX VEX document: not_affected and fixed statements suppress matching findings (repeatable)',
      (v: string, prev: string[] | undefined) => [...(prev ?? []), v],
    )
    .option(
      '--db-max-age <days>',
      'warn when the advisory database was last imported longer ago than this',
      daysArg,
      Number(process.env.HYPERWARD_DB_MAX_AGE ?? DEFAULT_DB_MAX_AGE_DAYS),
    )
    .option('--no-vulns', 'do not look for vulnerabilities');
}

/**
 * Matches the report's packages against the advisory database and applies VEX, in place. Loads the matcher only
 * when it is used, so commands that do not need it start fast.
 */
export async function addVulnsToReport(report: ScanReport, o: VulnCliOpts, required = false): Promise<void> {
  if (!o.vulns) return;
  // No database and nothing else to apply: say so without loading the matcher and SQLite.
  const path = o.db ?? defaultDbPath();
  if (!required && (o.vex ?? []).length === 0 && !existsSync(path)) {
    report.advisoryDb = { path, present: false };
    if (!o.quiet) warn(missingDbWarning(path));
    return;
  }
  const { addVulnerabilities, openVulnContext } = await import('../scan/vulns.js');
  const ctx = openVulnContext({
    ...(o.db !== undefined ? { db: o.db } : {}),
    ...(o.vex !== undefined ? { vex: o.vex } : {}),
    maxAgeDays: o.dbMaxAge,
    required,
  });
  try {
    addVulnerabilities(report.results, ctx);
  } finally {
    ctx.close();
  }
  report.advisoryDb = ctx.status;
  if (!o.quiet) for (const w of ctx.warnings) warn(w);
}
