/**
 * The Debian security tracker's JSON dump (`https://security-tracker.debian.org/tracker/data/json`) to
 * `Advisory`: one advisory per CVE (or `TEMP-…` id), key `debian-tracker:<id>`, with one affected entry per
 * source package and release the tracker calls affected. Pure: no I/O.
 *
 * The dump is one JSON document keyed package → issue → `{description, scope, debianbug, releases: {codename:
 * {status, fixed_version, urgency, nodsa, nodsa_reason, repositories}}}`. An issue can concern several source
 * packages (linux and linux-5.10, say), so advisories are assembled per issue: a first pass indexes which
 * packages name each issue (ids only), then advisories are built one at a time while the caller stores them.
 */
import { isJsonObject } from '../../json-guard.js';
import { debianCodename } from '../ecosystem.js';
import type { Advisory, AdvisoryReference, AffectedPackage } from '../types.js';
import {
  type IssueSink,
  cleanText,
  isPlainToken,
  isValidVersion,
  normalizeRating,
  OSV_LIMITS,
} from './osv.js';

/** Caps on one tracker dump: the real one has ~1,600 packages and ~100,000 package/issue pairs. */
export const TRACKER_LIMITS = {
  packages: 200_000,
  issuesPerPackage: 200_000,
  pairs: 5_000_000,
  releasesPerIssue: 64,
} as const;

/**
 * Whether a parsed JSON value is shaped like a tracker dump: an object of objects (packages) whose entries
 * (issues) hold `releases` objects. Looks at a few entries only.
 */
export function looksLikeDebianTracker(v: unknown): boolean {
  if (!isJsonObject(v) || 'id' in v || 'packages' in v) return false;
  let seen = 0;
  let withReleases = 0;
  for (const pkg in v) {
    const issues = v[pkg];
    if (!isJsonObject(issues)) return false;
    let n = 0;
    for (const id in issues) {
      const issue = issues[id];
      if (isJsonObject(issue) && isJsonObject(issue.releases)) withReleases++;
      if (++n >= 8) break;
    }
    if (++seen >= 16) break;
  }
  return withReleases > 0;
}

/** The Debian source package names the tracker uses (policy §5.6.1), loosely. */
function isPackageName(s: string): boolean {
  return s.length <= OSV_LIMITS.nameLength && /^[a-z0-9][a-z0-9.+~_-]*$/i.test(s);
}

/** One tracker release entry to an affected entry, or undefined when it says "not affected" or is unusable. */
function releaseEntry(
  pkg: string,
  id: string,
  codename: string,
  r: unknown,
  file: string,
  issues: IssueSink,
): AffectedPackage | undefined {
  const distro = debianCodename(codename);
  if (distro === undefined) return undefined; // a release this tool does not know (or "experimental")
  if (!isJsonObject(r)) {
    issues.push({
      file,
      record: `${pkg}/${id}/${codename}`,
      message: 'release entry is not an object; skipped',
    });
    return undefined;
  }
  const status = r.status;
  const fixed = r.fixed_version;
  const base = {
    ecosystem: `Debian:${distro.slice('debian:'.length)}`,
    distro,
    scheme: 'deb' as const,
    package: pkg,
    versions: [] as string[],
  };
  let entry: AffectedPackage;
  if (status === 'resolved') {
    if (fixed === '0') return undefined; // never affected
    if (typeof fixed !== 'string' || !isValidVersion('deb', fixed)) {
      const shown = JSON.stringify(typeof fixed === 'string' ? cleanText(fixed, 80) : (fixed ?? null));
      issues.push({
        file,
        record: `${pkg}/${id}/${codename}`,
        message: `resolved with fixed_version ${shown}, not a Debian version; skipped`,
      });
      return undefined;
    }
    entry = { ...base, ranges: [[{ introduced: '0' }, { fixed }]] };
  } else if (status === 'open' || status === 'undetermined') {
    entry = { ...base, ranges: [[{ introduced: '0' }]] };
    const reason = typeof r.nodsa_reason === 'string' ? r.nodsa_reason : '';
    // no-dsa (minor issue, not fixed by a DSA) and ignored are decisions not to fix; postponed is a fix to come.
    if ((typeof r.nodsa === 'string' && reason !== 'postponed') || reason === 'ignored') entry.wontFix = true;
    if (typeof r.urgency === 'string' && /^end-of-life/i.test(r.urgency)) entry.wontFix = true;
  } else {
    const shown = JSON.stringify(typeof status === 'string' ? cleanText(status, 40) : (status ?? null));
    issues.push({ file, record: `${pkg}/${id}/${codename}`, message: `unknown status ${shown}; skipped` });
    return undefined;
  }
  const urgency = normalizeRating(r.urgency);
  if (urgency !== undefined && urgency !== 'end-of-life') entry.distroSeverity = urgency;
  return entry;
}

/**
 * The advisories of one tracker dump, built one issue at a time (see the module comment). Problems with single
 * entries go to `issues`; the rest goes on.
 *
 * @param doc The parsed dump (check it with `looksLikeDebianTracker` first).
 * @param now ISO time of the import: the dump has no modification dates, so a changed issue is "modified" now.
 */
export function* debianTrackerAdvisories(
  doc: Record<string, unknown>,
  file: string,
  now: string,
  issues: IssueSink,
): Generator<Advisory> {
  // Pass 1: which packages name each issue.
  const byIssue = new Map<string, string[]>();
  let packages = 0;
  let pairs = 0;
  for (const pkg in doc) {
    if (++packages > TRACKER_LIMITS.packages) {
      issues.push({ file, message: `more than ${TRACKER_LIMITS.packages} packages; the rest is skipped` });
      break;
    }
    const entries = doc[pkg];
    if (!isPackageName(pkg) || !isJsonObject(entries)) {
      issues.push({
        file,
        record: cleanText(pkg, 80),
        message: 'not a package name with an object of issues; skipped',
      });
      continue;
    }
    let n = 0;
    for (const id in entries) {
      if (++n > TRACKER_LIMITS.issuesPerPackage || ++pairs > TRACKER_LIMITS.pairs) {
        issues.push({ file, record: pkg, message: 'too many issues; the rest of this package is skipped' });
        break;
      }
      if (!isPlainToken(id)) {
        issues.push({ file, record: `${pkg}/${cleanText(id, 80)}`, message: 'not an issue id; skipped' });
        continue;
      }
      const list = byIssue.get(id);
      if (list === undefined) byIssue.set(id, [pkg]);
      else list.push(pkg);
    }
  }

  // Pass 2: one advisory per issue.
  for (const [id, pkgs] of byIssue) {
    let summary: string | undefined;
    const bugs: number[] = [];
    const affected: AffectedPackage[] = [];
    for (const pkg of pkgs) {
      const issue = (doc[pkg] as Record<string, unknown>)[id];
      if (!isJsonObject(issue)) {
        issues.push({ file, record: `${pkg}/${id}`, message: 'issue entry is not an object; skipped' });
        continue;
      }
      if (summary === undefined && typeof issue.description === 'string') {
        const d = cleanText(issue.description, OSV_LIMITS.summaryLength);
        if (d !== '') summary = d;
      }
      const bug = issue.debianbug;
      if (typeof bug === 'number' && Number.isSafeInteger(bug) && bug > 0 && !bugs.includes(bug))
        bugs.push(bug);
      const releases = issue.releases;
      if (!isJsonObject(releases)) {
        if (releases !== undefined) {
          issues.push({ file, record: `${pkg}/${id}`, message: '"releases" is not an object; skipped' });
        }
        continue;
      }
      let r = 0;
      for (const codename in releases) {
        if (++r > TRACKER_LIMITS.releasesPerIssue) break;
        const e = releaseEntry(pkg, id, codename, releases[codename], file, issues);
        if (e !== undefined) affected.push(e);
      }
    }
    if (affected.length === 0) continue; // not affected anywhere this tool looks
    const references: AdvisoryReference[] = [
      { type: 'ADVISORY', url: `https://security-tracker.debian.org/tracker/${encodeURIComponent(id)}` },
      ...bugs.slice(0, 32).map((b) => ({ type: 'REPORT', url: `https://bugs.debian.org/${b}` })),
    ];
    const adv: Advisory = {
      key: `debian-tracker:${id}`,
      id,
      origin: 'debian-tracker',
      aliases: [],
      upstream: [],
      related: [],
      modified: now,
      severity: [],
      references,
      affected,
    };
    if (summary !== undefined) adv.summary = summary;
    yield adv;
  }
}
