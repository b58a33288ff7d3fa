/**
 * Alpine's secdb (`https://secdb.alpinelinux.org/v3.19/main.json`) to `Advisory`: one advisory per fixed id
 * (CVE, `XSA-…`...) of one branch and repository, key `alpine-secdb:v3.19/main:<id>`, with one affected entry
 * per origin package and fixing version: range [introduced 0, fixed]. Pure: no I/O.
 *
 * A secdb file says only which version of an origin (source) package fixed which ids; `secfixes` version `0`
 * lists ids the branch was never affected by, which are skipped.
 */
import { isJsonObject } from '../../json-guard.js';
import { normalizeEcosystem } from '../ecosystem.js';
import type { Advisory, AffectedPackage } from '../types.js';
import { type IssueSink, cleanText, isPlainToken, isValidVersion } from './osv.js';

export const SECDB_LIMITS = {
  packages: 100_000,
  versionsPerPackage: 10_000,
  idsPerVersion: 10_000,
  ids: 1_000_000,
} as const;

/** Whether a parsed JSON value is shaped like a secdb file: an object with `packages` and `distroversion`. */
export function looksLikeAlpineSecdb(v: unknown): boolean {
  return isJsonObject(v) && 'packages' in v && 'distroversion' in v;
}

/** An advisory id inside a secfixes entry: `CVE-2024-1234`, `XSA-123`, `GHSA-xxxx-…`, `ALPINE-13661`. */
const ID = /^[A-Z][A-Z0-9]*(?:-[A-Za-z0-9._:]+)+$/;

/**
 * The advisories of one secdb file. Problems with single packages or versions go to `issues`; a file whose
 * branch cannot be placed yields nothing and one issue.
 *
 * @param now ISO time of the import: secdb has no dates, so a changed entry is "modified" now.
 */
export function alpineSecdbAdvisories(
  doc: Record<string, unknown>,
  file: string,
  now: string,
  issues: IssueSink,
): Advisory[] {
  const branch = doc.distroversion;
  const ref = typeof branch === 'string' ? normalizeEcosystem(`Alpine:${branch}`) : undefined;
  if (typeof branch !== 'string' || ref === undefined) {
    const shown = typeof branch === 'string' ? cleanText(branch, 40) : typeof branch;
    issues.push({
      file,
      message: `secdb "distroversion" ${JSON.stringify(shown)} is not an Alpine branch (vX.Y)`,
    });
    return [];
  }
  const repo =
    typeof doc.reponame === 'string' && /^[\w.-]{1,64}$/.test(doc.reponame) ? doc.reponame : 'unknown';
  if (!Array.isArray(doc.packages)) {
    issues.push({ file, message: 'secdb "packages" is not an array' });
    return [];
  }
  if (doc.packages.length > SECDB_LIMITS.packages) {
    issues.push({ file, message: `more than ${SECDB_LIMITS.packages} packages; the rest is skipped` });
  }
  const byId = new Map<string, AffectedPackage[]>();
  const seen = new Set<string>();
  for (const [i, p] of doc.packages.slice(0, SECDB_LIMITS.packages).entries()) {
    const pkg = isJsonObject(p) ? p.pkg : undefined;
    const name = isJsonObject(pkg) ? pkg.name : undefined;
    if (!isJsonObject(pkg) || !isPlainToken(name)) {
      issues.push({ file, record: `packages[${i}]`, message: 'no "pkg" with a plain "name"; skipped' });
      continue;
    }
    const secfixes = pkg.secfixes;
    if (!isJsonObject(secfixes)) {
      if (secfixes !== undefined)
        issues.push({ file, record: name, message: '"secfixes" is not an object; skipped' });
      continue;
    }
    let versions = 0;
    for (const version in secfixes) {
      if (++versions > SECDB_LIMITS.versionsPerPackage) {
        issues.push({ file, record: name, message: 'too many secfixes versions; the rest is skipped' });
        break;
      }
      if (version === '0') continue; // never affected
      const ids = secfixes[version];
      if (!isValidVersion('apk', version)) {
        const shown = JSON.stringify(cleanText(version, 80));
        issues.push({ file, record: `${name} ${shown}`, message: 'not a valid apk version; skipped' });
        continue;
      }
      if (!Array.isArray(ids)) {
        issues.push({
          file,
          record: `${name} ${version}`,
          message: 'the fixed ids are not an array; skipped',
        });
        continue;
      }
      for (const entry of ids.slice(0, SECDB_LIMITS.idsPerVersion)) {
        if (typeof entry !== 'string') continue;
        for (const token of entry.slice(0, 4096).split(/\s+/)) {
          if (token.length > 128 || !ID.test(token)) continue; // notes such as "(partially)"
          let list = byId.get(token);
          if (list === undefined) {
            if (byId.size >= SECDB_LIMITS.ids) continue;
            byId.set(token, (list = []));
          }
          const pair = `${token}\u0000${name}\u0000${version}`;
          if (seen.has(pair)) continue; // the same id twice under one version
          seen.add(pair);
          list.push({
            ecosystem: `Alpine:${branch}`,
            distro: ref.distro,
            scheme: 'apk',
            package: name,
            ranges: [[{ introduced: '0' }, { fixed: version }]],
            versions: [],
          });
        }
      }
    }
  }
  const out: Advisory[] = [];
  for (const [id, affected] of byId) {
    out.push({
      key: `alpine-secdb:${branch}/${repo}:${id}`,
      id,
      origin: 'alpine-secdb',
      aliases: [],
      upstream: [],
      related: [],
      modified: now,
      severity: [],
      references: id.startsWith('CVE-')
        ? [{ type: 'ADVISORY', url: `https://security.alpinelinux.org/vuln/${encodeURIComponent(id)}` }]
        : [],
      affected,
    });
  }
  return out;
}
