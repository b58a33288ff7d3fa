/**
 * Operating-system end of life from a table shipped with Hyperward (`eol-data.json`), copied from endoflife.date:
 * for each release of Debian, Ubuntu, RHEL, CentOS Linux, Rocky Linux, AlmaLinux, Alpine, SLES, openSUSE Leap and
 * Fedora, the day regular security support ends and, where the vendor sells or runs one, the day extended support
 * (Debian LTS, Ubuntu ESM/Pro, RHEL ELS, SLES LTSS) ends. The table's `_source` fields name the repository, file
 * and commit every row came from and the day it was retrieved; a scan never goes to the network for it.
 *
 * A support period runs through the day the table names (UTC): on that day a release is still supported, the day
 * after it is not. Dates are compared with the `now` the caller gives, never with the clock.
 */
import type { OsInfo } from '../model/inventory.js';
import eolData from './eol-data.json' with { type: 'json' };

/** One release line of a product, as the table stores it (dates `YYYY-MM-DD`). */
export interface EolRelease {
  /** endoflife.date's `releaseCycle`: `12`, `22.04`, `3.18`, `15.5`. */
  cycle: string;
  codename?: string;
  releaseDate?: string;
  /** End of regular security support; null when the source announced no date yet. */
  eol: string | null;
  /** End of extended support (`eoes`), where there is one. */
  extended?: string;
}

/** One distribution of the table. */
export interface EolProduct {
  name: string;
  /** The endoflife.date page of the product. */
  page: string;
  /** os-release `ID`s that mean this product. */
  osIds: string[];
  /**
   * How many leading components of `VERSION_ID` name a release, tried in order: `[1]` for RHEL (`9.3` is 9),
   * `[2]` for Alpine (`3.18.4` is 3.18), `[2, 1]` for Debian (`3.1` is 3.1, `6.0` is 6).
   */
  versionParts: number[];
  /** What `eol` means for this product (whose support ends). */
  eolMeans: string;
  extendedMeans?: string;
  _source: Array<{ repository: string; path: string; commit: string; rows?: string[]; note?: string }>;
  releases: EolRelease[];
}

export interface EolTable {
  _source: {
    description: string;
    project: string;
    licence: string;
    retrieved: string;
    retrievedWith: string;
  };
  products: Record<string, EolProduct>;
}

/** The table shipped with Hyperward. */
export function eolTable(): EolTable {
  return eolData as EolTable;
}

export type EolStatus = 'supported' | 'extended-only' | 'eol' | 'unknown';

/** Where a release stands on a given day. */
export interface EndOfLife {
  status: EolStatus;
  /** The table's product key (`debian`, `opensuse-leap`...) and name, when the OS is one the table covers. */
  product?: string;
  productName?: string;
  /** The release line matched (`12`, `22.04`), when one was. */
  release?: string;
  /** Last day of regular security support (UTC midnight); absent when no end is announced (or `unknown`). */
  eol?: Date;
  /** Last day of extended support (UTC midnight), where there is extended support. */
  extended?: Date;
  /** Whole days of regular support left (0 on the last day, negative once ended). */
  daysLeft?: number;
  /** Whole days of extended support left, where there is extended support. */
  extendedDaysLeft?: number;
  /** Why the status is `unknown`, or a remark (no end date announced). */
  reason?: string;
  /** The table row's provenance: `eol-data.json debian 12 (repository path@commit)`. */
  source?: string;
}

const DAY_MS = 86_400_000;

/** Parses a strict `YYYY-MM-DD` calendar date to UTC midnight; undefined for anything else (2023-02-30 too). */
export function parseIsoDay(s: string): Date | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  if (!m) return undefined;
  const y = Number(m[1]);
  const mo = Number(m[2]);
  const d = Number(m[3]);
  const t = Date.UTC(y, mo - 1, d);
  const back = new Date(t);
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d)
    return undefined;
  return back;
}

function startOfDay(now: Date): number {
  return Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
}

/** The first `n` dot-separated components of a version (all of them when it has fewer). */
function leading(version: string, n: number): string {
  return version.split('.').slice(0, n).join('.');
}

/** A numeric release version from os-release: `VERSION_ID`, else the number `VERSION` starts with. */
function numericVersion(os: OsInfo): string | undefined {
  if (os.versionId !== undefined && os.versionId !== '') return os.versionId.trim();
  const m = /^\s*(\d+(?:\.\d+)*)/.exec(os.version ?? '');
  return m?.[1];
}

/** The product of the table an OS belongs to, or why it has none. */
export function eolProductOf(
  os: OsInfo,
  table: EolTable = eolTable(),
): { key: string; product: EolProduct } | { reason: string } {
  const id = os.id.toLowerCase();
  if (id === 'centos' && /stream/i.test(`${os.name ?? ''} ${os.prettyName ?? ''}`)) {
    return { reason: 'CentOS Stream is not in the end-of-life table (only CentOS Linux is)' };
  }
  for (const [key, product] of Object.entries(table.products)) {
    if (product.osIds.includes(id)) return { key, product };
  }
  return { reason: `operating system '${os.id}' is not in the end-of-life table` };
}

/** The release line of a product an OS is on: by version number, else by code name (Debian, Ubuntu). */
export function findEolRelease(os: OsInfo, product: EolProduct): EolRelease | undefined {
  const version = numericVersion(os);
  if (version !== undefined) {
    // Pre-release builds (`3.21.0_alpha20240807` on Alpine edge, `13~beta`) are not the release they lead to.
    if (!/^\d+(\.\d+)*$/.test(version)) return undefined;
    for (const n of product.versionParts) {
      const key = leading(version, n);
      const hit = product.releases.find((r) => r.cycle === key);
      if (hit) return hit;
    }
    return undefined;
  }
  const code = os.versionCodename?.trim().toLowerCase();
  if (code) return product.releases.find((r) => r.codename?.split(/\s+/)[0]?.toLowerCase() === code);
  return undefined;
}

/**
 * Where the OS release stands on `now`: `supported` (regular security support; `daysLeft` to its end),
 * `extended-only` (regular support over, extended support — LTS, ESM, ELS, LTSS — still running), `eol` (all
 * over), or `unknown` (a distribution or release the table does not know; `reason` says which).
 *
 * @example
 * endOfLife({ id: 'debian', idLike: [], family: 'debian', source: '/etc/os-release', versionId: '12' },
 *   new Date('2027-01-01T00:00:00Z')).status // 'extended-only'
 */
export function endOfLife(os: OsInfo, now: Date, table: EolTable = eolTable()): EndOfLife {
  const p = eolProductOf(os, table);
  if ('reason' in p) return { status: 'unknown', reason: p.reason };
  const base = { product: p.key, productName: p.product.name };
  const rel = findEolRelease(os, p.product);
  if (!rel) {
    const what = os.versionId ?? os.versionCodename ?? os.version ?? '(no version)';
    return {
      ...base,
      status: 'unknown',
      reason: `${p.product.name} release '${what}' is not in the end-of-life table`,
    };
  }
  const src = p.product._source.find((s) => s.rows?.includes(rel.cycle)) ?? p.product._source[0];
  const source = `eol-data.json ${p.key} ${rel.cycle}${src ? ` (${src.repository} ${src.path}@${src.commit})` : ''}`;
  const today = startOfDay(now);
  const out: EndOfLife = { ...base, release: rel.cycle, status: 'supported', source };
  const ext = rel.extended !== undefined ? parseIsoDay(rel.extended) : undefined;
  if (ext) {
    out.extended = ext;
    out.extendedDaysLeft = Math.round((ext.getTime() - today) / DAY_MS);
  }
  if (rel.eol === null) {
    out.reason = `no end of support announced for ${p.product.name} ${rel.cycle}`;
    return out;
  }
  const eol = parseIsoDay(rel.eol);
  if (!eol)
    return {
      ...base,
      release: rel.cycle,
      status: 'unknown',
      reason: `bad date '${rel.eol}' in the table`,
      source,
    };
  out.eol = eol;
  out.daysLeft = Math.round((eol.getTime() - today) / DAY_MS);
  if (out.daysLeft >= 0) return out;
  out.status = out.extendedDaysLeft !== undefined && out.extendedDaysLeft >= 0 ? 'extended-only' : 'eol';
  return out;
}
