/**
 * Vulnerability detection as a step of every scan that yields packages (images, hosts, SBOMs): open the advisory
 * database, judge its age, match each result's packages, apply VEX statements. One place, so every face (CLI,
 * library) does the same.
 */
import { DB_IMPORT_HINT, DEFAULT_DB_MAX_AGE_DAYS, missingDbWarning } from '../vuln/defaults.js';
import { existsSync } from 'node:fs';
import { HyperwardError } from '../errors.js';
import type { AdvisoryDbStatus, ScanResult } from '../model/report.js';
import { AdvisoryDb, SCHEMA_VERSION } from '../vuln/db/store.js';
import { matchCpes, type CpeIndex } from '../vuln/cpe-match.js';
import { matchInventory } from '../vuln/match.js';
import type { AdvisoryIndex } from '../vuln/types.js';
import { applyVex, loadVex, type VexDocument } from '../vuln/vex.js';

export { DEFAULT_DB_MAX_AGE_DAYS };

export interface VulnOptions {
  /** The database file; default `AdvisoryDb.defaultPath()` (`$HYPERWARD_DB` or the user's cache directory). */
  db?: string;
  /** OpenVEX / CycloneDX VEX documents. */
  vex?: readonly string[];
  /** Warn when the last import is older than this many days. */
  maxAgeDays?: number;
  /** Without a database, fail (`scan sbom`) instead of warning and going on. */
  required?: boolean;
  now?: Date;
}

/** An open database (or none), its status for the report, and what to tell the user. */
export interface VulnContext {
  index?: AdvisoryIndex;
  status: AdvisoryDbStatus;
  vex: VexDocument[];
  warnings: string[];
  close(): void;
}

/**
 * Opens the advisory database and the VEX documents. A missing database is a warning (vulnerabilities are not
 * checked) unless `required`; a stale one is a warning. VEX documents that cannot be read throw: the user named
 * them, silently ignoring one would report suppressed problems as open.
 */
export function openVulnContext(o: VulnOptions = {}): VulnContext {
  const path = o.db ?? AdvisoryDb.defaultPath();
  const vex = (o.vex ?? []).map((p) => loadVex(p));
  const warnings: string[] = [];
  if (!existsSync(path)) {
    if (o.required) {
      throw new HyperwardError('E_NOT_FOUND', `no advisory database: ${DB_IMPORT_HINT}`, { file: path });
    }
    warnings.push(missingDbWarning(path));
    return { status: { path, present: false }, vex, warnings, close: () => {} };
  }
  const db = AdvisoryDb.open(path, { readonly: true });
  const info = db.info();
  if (info.schemaVersion < SCHEMA_VERSION) {
    warnings.push(
      `the advisory database ${path} was written by an older Hyperward (schema ${info.schemaVersion}): matching is slower until \`hyperward db import\` upgrades it in place`,
    );
  } else if (info.verdicts.state !== 'current' && info.advisories > 0) {
    warnings.push(
      `the advisory database's verdict file ${info.verdicts.path} is ${info.verdicts.state === 'missing' ? 'missing' : 'out of date'}: matching is slower (the findings are the same) until \`hyperward db import\` writes it`,
    );
  }
  const maxAge = o.maxAgeDays ?? DEFAULT_DB_MAX_AGE_DAYS;
  const now = (o.now ?? new Date()).getTime();
  const status: AdvisoryDbStatus = { path, present: true, advisories: info.advisories };
  if (info.lastImport !== undefined) {
    status.lastImport = info.lastImport;
    const age = (now - Date.parse(info.lastImport)) / 86_400_000;
    status.ageDays = Math.round(age * 10) / 10;
    status.stale = age > maxAge;
    if (status.stale) {
      warnings.push(
        `the advisory database ${path} was last imported ${status.ageDays} days ago (more than ${maxAge}): import fresh advisories with hyperward db import`,
      );
    }
  }
  if (info.advisories === 0) warnings.push(`the advisory database ${path} holds no advisories`);
  return { index: db, status, vex, warnings, close: () => db.close() };
}

/**
 * Matches every result's packages and an appliance's CPE candidates, and applies VEX. A result that could not be
 * read has no packages to match; an appliance whose archive is damaged still has the product its descriptor named,
 * so its CPE candidates are matched all the same.
 */
export function addVulnerabilities(results: ScanResult[], ctx: VulnContext): void {
  for (const r of results) {
    const cpes = r.appliance?.cpes ?? [];
    const packages = r.error ? 0 : r.packages.length;
    if (packages === 0 && cpes.length === 0) continue;
    if (ctx.index && packages > 0) {
      const m = matchInventory(r, ctx.index, { target: r.target });
      r.findings.push(...m.findings);
      for (const n of m.notes) ctx.warnings.push(`${r.target}: ${n}`);
    }
    // An appliance's product, by its CPE candidates, against NVD records: where the OS is closed, this is all
    // there is to match.
    if (ctx.index && cpes.length > 0 && isCpeIndex(ctx.index)) {
      const m = matchCpes(ctx.index, cpes, { target: r.target });
      // Candidates are spellings of the same product, most likely first: one finding per CVE, the first's.
      const seen = new Set<string>();
      r.findings.push(...m.findings.filter((f) => !seen.has(f.checkId) && seen.add(f.checkId)));
      for (const n of m.notes) ctx.warnings.push(`${r.target}: ${n}`);
    }
    if (ctx.vex.length > 0) r.findings = applyVex(r.findings, ctx.vex);
  }
}

function isCpeIndex(index: AdvisoryIndex): index is AdvisoryIndex & CpeIndex {
  return typeof (index as Partial<CpeIndex>).cpeLookup === 'function';
}
