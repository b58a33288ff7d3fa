/**
 * NVD CVE records (CVE API 2.0 JSON) for `db import`: the API's response shape, also that of NVD's yearly 2.0
 * feeds (`{ "format": "NVD_CVE", "vulnerabilities": [{ "cve": {…} }] }`), and one record per file as the
 * `nvd-json-data-feeds` repositories lay them out (`CVE-2016/CVE-2016-07xx/CVE-2016-0762.json`, the `cve` object
 * alone). Told apart from OSV by content: a CVE id with `lastModified` (OSV has `modified`).
 *
 * Only what CPE matching needs is kept (`CveRecord`): id, dates, status, the English description, CVSS vectors,
 * reference links, and every `vulnerable: true` `cpeMatch` entry of every configuration with its version bounds.
 * Every list and string is capped (`NVD_LIMITS`); a malformed record is an issue naming the file and the record, a
 * malformed `cpeMatch` entry an issue while the rest of the record is kept.
 */
import { HyperwardError } from '../../errors.js';
import { isJsonObject } from '../../json-guard.js';
import {
  MAX_CPE_LENGTH,
  MAX_VERSION_LENGTH,
  parseCpe23,
  type CpeMatchEntry,
  type CveRecord,
} from '../cpe-match.js';
import { MAX_DETAILS, type AdvisoryReference, type ImportIssue, type SeverityVector } from '../types.js';
import { cleanText, type IssueSink } from './osv.js';

/** Caps on one NVD record: far above real records, low enough that a hostile one cannot exhaust memory. */
export const NVD_LIMITS = {
  timestampLength: 64,
  statusLength: 64,
  descriptions: 64,
  configurations: 1024,
  nodes: 4096,
  matches: 50_000,
  metrics: 64,
  vectorLength: 256,
  references: 1024,
  urlLength: 2048,
  /** Records in one response document. */
  records: 2_000_000,
} as const;

const CVE_ID = /^CVE-\d{4}-\d{4,19}$/;

/** One NVD `cve` object: a CVE id and `lastModified` (and no OSV `modified`). */
export function looksLikeNvdCve(v: unknown): boolean {
  return (
    isJsonObject(v) &&
    typeof v.id === 'string' &&
    CVE_ID.test(v.id) &&
    typeof v.lastModified === 'string' &&
    !('modified' in v)
  );
}

/** An NVD API 2.0 response or yearly feed: `vulnerabilities` whose items hold a `cve` object. */
export function looksLikeNvdResponse(v: unknown): boolean {
  if (!isJsonObject(v) || !Array.isArray(v.vulnerabilities)) return false;
  if (v.format === 'NVD_CVE') return true;
  const first: unknown = v.vulnerabilities[0];
  return isJsonObject(first) && looksLikeNvdCve(first.cve);
}

function malformed(file: string, record: string | undefined, message: string): HyperwardError {
  return new HyperwardError('E_CONFIG_SYNTAX', record ? `${record}: ${message}` : message, {
    file,
    layer: 'NVD CVE record',
  });
}

function tooMany(file: string, record: string, what: string, max: number): HyperwardError {
  return new HyperwardError('E_LIMIT', `${record}: more than ${max} ${what}`, {
    file,
    layer: 'NVD CVE record',
  });
}

function optionalString(o: Record<string, unknown>, k: string, max: number): string | undefined {
  const v = o[k];
  return typeof v === 'string' && v.length > 0 && v.length <= max ? v : undefined;
}

const METRICS: ReadonlyArray<[string, SeverityVector['type']]> = [
  ['cvssMetricV40', 'CVSS_V4'],
  ['cvssMetricV31', 'CVSS_V3'],
  ['cvssMetricV30', 'CVSS_V3'],
  ['cvssMetricV2', 'CVSS_V2'],
];

/**
 * Parses one NVD `cve` object into a `CveRecord`.
 * @throws HyperwardError `E_CONFIG_SYNTAX` (malformed: no id, no `lastModified`, lists that are not lists) or
 * `E_LIMIT` (past `NVD_LIMITS`), naming the file and the record.
 */
export function parseNvdCve(v: unknown, file: string, issues: IssueSink): CveRecord {
  if (!isJsonObject(v)) throw malformed(file, undefined, 'a CVE record is not an object');
  const id = typeof v.id === 'string' && CVE_ID.test(v.id) ? v.id : undefined;
  if (id === undefined) throw malformed(file, undefined, '"id" is not a CVE id');
  const modified = optionalString(v, 'lastModified', NVD_LIMITS.timestampLength);
  if (modified === undefined) throw malformed(file, id, '"lastModified" is missing or not a timestamp');
  const rec: CveRecord = { key: `nvd:${id}`, id, modified, severity: [], references: [], matches: [] };
  const published = optionalString(v, 'published', NVD_LIMITS.timestampLength);
  if (published !== undefined) rec.published = published;
  const status = optionalString(v, 'vulnStatus', NVD_LIMITS.statusLength);
  if (status !== undefined) rec.status = status;

  const list = (k: string, max: number): unknown[] => {
    const x = v[k];
    if (x === undefined || x === null) return [];
    if (!Array.isArray(x)) throw malformed(file, id, `"${k}" is not a list`);
    if (x.length > max) throw tooMany(file, id, k, max);
    return x;
  };
  for (const d of list('descriptions', NVD_LIMITS.descriptions)) {
    if (isJsonObject(d) && d.lang === 'en' && typeof d.value === 'string') {
      const text = cleanText(d.value, MAX_DETAILS);
      if (text !== '') rec.description = text;
      break;
    }
  }

  const metrics = v.metrics;
  if (isJsonObject(metrics)) {
    for (const [k, type] of METRICS) {
      const m = metrics[k];
      if (!Array.isArray(m)) continue;
      if (m.length > NVD_LIMITS.metrics) throw tooMany(file, id, `${k} entries`, NVD_LIMITS.metrics);
      for (const x of m) {
        const data = isJsonObject(x) ? x.cvssData : undefined;
        const vector = isJsonObject(data) ? data.vectorString : undefined;
        if (typeof vector !== 'string' || vector.length > NVD_LIMITS.vectorLength) continue;
        if (!rec.severity.some((s) => s.vector === vector)) rec.severity.push({ type, vector });
      }
    }
  }

  for (const r of list('references', NVD_LIMITS.references)) {
    const url = isJsonObject(r) ? r.url : undefined;
    if (typeof url !== 'string' || url.length > NVD_LIMITS.urlLength || !/^https?:\/\//i.test(url)) continue;
    if (!rec.references.some((x) => x.url === url)) {
      const ref: AdvisoryReference = { type: 'WEB', url };
      rec.references.push(ref);
    }
  }

  let nodes = 0;
  for (const c of list('configurations', NVD_LIMITS.configurations)) {
    const ns = isJsonObject(c) ? c.nodes : undefined;
    if (!Array.isArray(ns)) throw malformed(file, id, 'a configuration without "nodes"');
    for (const n of ns) {
      if (++nodes > NVD_LIMITS.nodes) throw tooMany(file, id, 'configuration nodes', NVD_LIMITS.nodes);
      const ms = isJsonObject(n) ? n.cpeMatch : undefined;
      if (!Array.isArray(ms)) throw malformed(file, id, 'a configuration node without "cpeMatch"');
      for (const m of ms) {
        if (!isJsonObject(m) || m.vulnerable !== true) continue;
        if (rec.matches.length >= NVD_LIMITS.matches)
          throw tooMany(file, id, 'vulnerable CPE matches', NVD_LIMITS.matches);
        const entry = matchEntry(m);
        if (typeof entry === 'string') issues.push({ file, record: id, message: entry });
        else rec.matches.push(entry);
      }
    }
  }
  return rec;
}

/** One vulnerable `cpeMatch` object as a stored entry, or why it cannot be used. */
function matchEntry(m: Record<string, unknown>): CpeMatchEntry | string {
  const criteria = m.criteria;
  if (typeof criteria !== 'string') return 'a cpeMatch entry without "criteria" skipped';
  const name = parseCpe23(criteria);
  if (!name)
    return `cpeMatch criteria '${criteria.slice(0, 120)}' is not a CPE 2.3 formatted string; skipped`;
  if (name.vendor === '*' || name.product === '*')
    return `cpeMatch criteria '${criteria.slice(0, 120)}' names no vendor or product; skipped`;
  const entry: CpeMatchEntry = {
    criteria: criteria.slice(0, MAX_CPE_LENGTH),
    part: name.part,
    vendor: name.vendor,
    product: name.product,
    version: name.version,
    update: name.update,
  };
  for (const k of [
    'versionStartIncluding',
    'versionStartExcluding',
    'versionEndIncluding',
    'versionEndExcluding',
  ] as const) {
    const b = m[k];
    if (b === undefined || b === null) continue;
    if (typeof b !== 'string' || b.length === 0 || b.length > MAX_VERSION_LENGTH)
      return `cpeMatch ${criteria.slice(0, 120)}: "${k}" is not a version; skipped`;
    entry[k] = b;
  }
  return entry;
}

/**
 * The records of one parsed document, NVD response or single record; problems with one record become issues
 * and the others are read.
 */
export function nvdRecords(v: unknown, file: string, issues: IssueSink): CveRecord[] {
  const out: CveRecord[] = [];
  const one = (x: unknown, where: string): void => {
    try {
      out.push(parseNvdCve(x, file, issues));
    } catch (e) {
      if (!(e instanceof HyperwardError)) throw e;
      const id = isJsonObject(x) && typeof x.id === 'string' ? x.id.slice(0, 64) : where;
      const issue: ImportIssue = { file, record: id, message: e.message.replace(`${file}: `, '') };
      issues.push(issue);
    }
  };
  if (looksLikeNvdCve(v)) {
    one(v, '');
    return out;
  }
  const list = isJsonObject(v) && Array.isArray(v.vulnerabilities) ? v.vulnerabilities : [];
  if (list.length > NVD_LIMITS.records) {
    issues.push({ file, message: `more than ${NVD_LIMITS.records} records; the rest skipped` });
  }
  list.slice(0, NVD_LIMITS.records).forEach((item: unknown, i) => {
    one(isJsonObject(item) ? item.cve : undefined, `vulnerabilities[${i}]`);
  });
  return out;
}
