/**
 * Staleness of a system: how long since a package was last installed or upgraded, whether its OS release is past
 * its end of life, and whether its ClamAV signatures are current and kept current.
 *
 * Readers here (`readPackageActivity`) take a root filesystem; `stalenessFindings` is a pure function of what they
 * read, the OS identity and a caller-given `now`, and never looks at the clock.
 *
 * Where the last package activity comes from, in order:
 * - dpkg's log, `/var/log/dpkg.log` and its rotations (`dpkg.log.1`, `dpkg.log.N.gz`): the newest `install`,
 *   `upgrade` or `status installed` line. dpkg writes local time without a zone; it is taken as UTC (at most a
 *   day off, which a threshold in days tolerates).
 * - the RPM database: the newest INSTALLTIME of any package (`gpg-pubkey` key entries left out).
 * - apk: its `installed` database records each package's build time (`t:`), not when it was installed, so it says
 *   nothing about updates; only the database file's modification time would, and that is used only when the root
 *   reader can give it (`mtime`). Otherwise there is no answer, and a note says why.
 */
import { zlib } from '../dependency.js';
import { HyperwardError, isHyperwardError } from '../errors.js';
import type { Evidence, Finding, Severity } from '../model/finding.js';
import { fingerprint } from '../model/finding.js';
import type { OsInfo } from '../model/inventory.js';
import { APK_DB_PATHS } from './apk.js';
import { hasClamAv, type ClamAvInfo, type ClamDatabase, type PrefixReader } from './clamav.js';
import { endOfLife, eolTable, type EolTable } from './eol.js';
import { readRpmDatabase, type RpmDatabase } from './rpm/index.js';
import type { RootReader } from './system.js';

/** A root reader that can give a file's modification time (Unix seconds); used when it can. */
export interface MtimeReader {
  mtime(path: string): number | undefined;
}

/** Optional abilities of a root reader that staleness checks use when present. */
export type RootReaderExtras = Partial<PrefixReader & MtimeReader>;

/** The newest package install or upgrade found. */
export interface PackageActivity {
  when: Date;
  /** The file it was read from: `/var/log/dpkg.log.2.gz`, `/var/lib/rpm/rpmdb.sqlite`... */
  source: string;
  manager: 'dpkg' | 'rpm' | 'apk';
  /** 1-based line in `source` (logs). */
  line?: number;
  /** What happened: the log line after its time stamp, or `install NAME-VERSION-RELEASE.ARCH` for rpm. */
  entry?: string;
}

/** The newest package activity, and what could not be read or why there is no answer. */
export interface PackageActivityResult {
  last?: PackageActivity;
  problems: HyperwardError[];
  /** Why nothing was found, where there is a reason worth telling (apk, dpkg without a log). */
  notes: string[];
}

/** Package databases the caller has already read, so they are not read again. */
export interface PackagesSource {
  /** The rpm database (`readRpmDatabase`), or null when the root has none. Absent: read it here. */
  rpm?: RpmDatabase | null;
}

const DAY_MS = 86_400_000;
const MAX_LOG_FILES = 32;
const MAX_LOG_BYTES = 64 * 1024 * 1024;
const MAX_LOG_TOTAL = 256 * 1024 * 1024;
const LOG_NAME = /^dpkg\.log(?:\.(\d{1,4}))?(\.gz)?$/;

/** The newest install/upgrade of one dpkg log, and the lines that were not in dpkg's log format. */
export interface DpkgLogScan {
  newest?: { when: Date; line: number; entry: string };
  /** Lines with a time stamp dpkg never writes or none at all. */
  badLines: number;
  firstBadLine?: number;
}

function logTime(s: string): Date | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/.exec(s);
  if (!m) return undefined;
  const [y, mo, d, h, mi, se] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  if (h > 23 || mi > 59 || se > 60) return undefined;
  const t = new Date(Date.UTC(y, mo - 1, d, h, mi, Math.min(se, 59)));
  if (t.getUTCFullYear() !== y || t.getUTCMonth() !== mo - 1 || t.getUTCDate() !== d) return undefined;
  return t;
}

/**
 * Scans dpkg log text (dpkg(1) `--log`: `YYYY-MM-DD HH:MM:SS ACTION ...`) for the newest `install PKG OLD NEW`,
 * `upgrade PKG OLD NEW` or `status installed PKG VERSION` line. Other actions (`configure`, `trigproc`, `remove`,
 * `startup`, `conffile`, other states) are not installs or updates and are passed over.
 */
export function scanDpkgLog(text: string): DpkgLogScan {
  const out: DpkgLogScan = { badLines: 0 };
  let pos = 0;
  let lineNo = 0;
  while (pos < text.length) {
    let nl = text.indexOf('\n', pos);
    if (nl < 0) nl = text.length;
    const line = text.slice(pos, nl).replace(/\r$/, '');
    pos = nl + 1;
    lineNo++;
    if (line === '') continue;
    const when = line.length >= 20 && line[19] === ' ' ? logTime(line.slice(0, 19)) : undefined;
    if (!when) {
      out.badLines++;
      out.firstBadLine ??= lineNo;
      continue;
    }
    const rest = line.slice(20);
    const f = rest.split(' ');
    const counts =
      ((f[0] === 'install' || f[0] === 'upgrade') && f.length >= 4 && f[1] !== '') ||
      (f[0] === 'status' && f[1] === 'installed' && f.length >= 4 && f[2] !== '');
    if (!counts) continue;
    if (!out.newest || when.getTime() >= out.newest.when.getTime()) {
      out.newest = { when, line: lineNo, entry: rest.slice(0, 512) };
    }
  }
  return out;
}

/** dpkg log files of a root, newest rotation first (`dpkg.log`, `dpkg.log.1`, `dpkg.log.2.gz`, ...). */
function dpkgLogFiles(root: RootReader): { files: string[]; more: boolean } {
  const names = (root.list('/var/log') ?? [])
    .map((n) => ({ n, m: LOG_NAME.exec(n) }))
    .filter((x): x is { n: string; m: RegExpExecArray } => x.m !== null)
    .sort((a, b) => Number(a.m[1] ?? 0) - Number(b.m[1] ?? 0) || a.n.localeCompare(b.n));
  return {
    files: names.slice(0, MAX_LOG_FILES).map((x) => `/var/log/${x.n}`),
    more: names.length > MAX_LOG_FILES,
  };
}

function fromDpkgLogs(root: RootReader, out: PackageActivityResult): PackageActivity | undefined {
  const { files, more } = dpkgLogFiles(root);
  if (more) {
    out.problems.push(
      new HyperwardError('E_LIMIT', `more than ${MAX_LOG_FILES} dpkg logs; older ones not read`, {
        file: '/var/log',
      }),
    );
  }
  let best: PackageActivity | undefined;
  let budget = MAX_LOG_TOTAL;
  for (const file of files) {
    const raw = root.tryReadFile(file, MAX_LOG_BYTES);
    if (raw === undefined) {
      out.problems.push(
        new HyperwardError('E_LIMIT', `not read: not a regular file or larger than ${MAX_LOG_BYTES} bytes`, {
          file,
        }),
      );
      continue;
    }
    let data = raw;
    if (raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b) {
      try {
        data = zlib().gunzipSync(raw, { maxOutputLength: Math.min(MAX_LOG_BYTES, budget) });
      } catch (e) {
        const tooBig = (e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE';
        out.problems.push(
          new HyperwardError(
            tooBig ? 'E_LIMIT' : 'E_UNSUPPORTED_FORMAT',
            tooBig
              ? `decompresses to more than ${Math.min(MAX_LOG_BYTES, budget)} bytes; not read`
              : `not a readable gzip file: ${(e as Error).message}`,
            { file, layer: 'gzip' },
          ),
        );
        continue;
      }
    }
    budget -= data.length;
    const scan = scanDpkgLog(data.toString('utf8'));
    if (scan.badLines > 0) {
      out.problems.push(
        new HyperwardError('E_CONFIG_SYNTAX', `${scan.badLines} line(s) not in dpkg's log format skipped`, {
          file,
          ...(scan.firstBadLine !== undefined ? { line: scan.firstBadLine } : {}),
        }),
      );
    }
    if (scan.newest && (!best || scan.newest.when.getTime() > best.when.getTime())) {
      best = {
        when: scan.newest.when,
        source: file,
        manager: 'dpkg',
        line: scan.newest.line,
        entry: scan.newest.entry,
      };
    }
    if (budget <= 0) {
      out.problems.push(
        new HyperwardError('E_LIMIT', `dpkg logs past ${MAX_LOG_TOTAL} bytes in all; older ones not read`, {
          file,
        }),
      );
      break;
    }
  }
  return best;
}

function fromRpm(db: RpmDatabase): PackageActivity | undefined {
  let best: PackageActivity | undefined;
  for (const p of db.packages) {
    if (p.name === 'gpg-pubkey' || p.installTime === undefined || p.installTime <= 0) continue;
    const when = new Date(p.installTime * 1000);
    if (!best || when.getTime() > best.when.getTime()) {
      const evr = `${p.epoch !== undefined ? `${p.epoch}:` : ''}${p.version}-${p.release}`;
      best = {
        when,
        source: db.path,
        manager: 'rpm',
        entry: `install ${p.name}-${evr}${p.arch ? `.${p.arch}` : ''}`,
      };
    }
  }
  return best;
}

function exists(root: RootReader, path: string): boolean {
  const slash = path.lastIndexOf('/');
  return root.list(path.slice(0, slash) || '/')?.includes(path.slice(slash + 1)) ?? false;
}

/**
 * The newest package install or upgrade of a root (see the module comment for the sources, in order), with the
 * problems met on the way. Never throws for a damaged log or database: that is a problem, and the next source is
 * tried.
 */
export function readPackageActivity(
  root: RootReader,
  packagesSource: PackagesSource = {},
): PackageActivityResult {
  const out: PackageActivityResult = { problems: [], notes: [] };
  const dpkg = fromDpkgLogs(root, out);
  if (dpkg) return { ...out, last: dpkg };
  if (exists(root, '/var/lib/dpkg/status')) {
    out.notes.push(
      'dpkg status present but no install or upgrade in /var/log/dpkg.log* (logs removed or rotated away)',
    );
  }
  let db: RpmDatabase | undefined;
  if ('rpm' in packagesSource) {
    db = packagesSource.rpm ?? undefined;
  } else {
    try {
      db = readRpmDatabase(root);
    } catch (e) {
      if (!isHyperwardError(e)) throw e;
      out.problems.push(e);
    }
    if (db) out.problems.push(...db.problems);
  }
  if (db) {
    const rpm = fromRpm(db);
    if (rpm) return { ...out, last: rpm };
    out.notes.push(`no package with an install time in ${db.path}`);
  }
  const apk = APK_DB_PATHS.find((p) => exists(root, p));
  if (apk !== undefined) {
    const mt = (root as RootReader & RootReaderExtras).mtime?.(apk);
    if (mt !== undefined && Number.isFinite(mt) && mt > 0) {
      return {
        ...out,
        last: {
          when: new Date(mt * 1000),
          source: apk,
          manager: 'apk',
          entry: 'modification time of the installed database',
        },
      };
    }
    out.notes.push(
      `${apk} records each package's build time (t:), not its install time, and the root reader gives no modification time`,
    );
  }
  return out;
}

/** The newest package install or upgrade of a root, or undefined when no source says (see `readPackageActivity`). */
export function lastPackageActivity(
  root: RootReader,
  packagesSource?: PackagesSource,
): PackageActivity | undefined {
  return readPackageActivity(root, packagesSource).last;
}

/** What `stalenessFindings` judges. Leave a part out to skip its check. */
export interface StalenessInput {
  /** The scanned target (image path, host name); resources are `<target>#packages`, `#os`, `#clamav`. */
  target: string;
  /** Resource type of the findings: `image` (default) or `host`. */
  resourceType?: string;
  /** The moment to judge against (never the clock). */
  now: Date;
  os?: OsInfo;
  packages?: PackageActivityResult;
  clamav?: ClamAvInfo;
  /** End-of-life table (default: the one shipped). */
  eolTable?: EolTable;
}

export interface StalenessOptions {
  /** Days since the last package install or update beyond which packages are stale (default 30). */
  maxPackageAgeDays?: number;
  /** Days since the daily ClamAV database was built beyond which signatures are stale (default 7, as ClamAV). */
  maxAvAgeDays?: number;
  /** Days before the end of regular support at which the OS release is flagged (default 90). */
  eolWarningDays?: number;
}

export const STALENESS_CHECKS = {
  packagesStale: 'image.packages-stale',
  osEol: 'image.os-eol',
  avSignaturesStale: 'image.av-signatures-stale',
  avNoUpdates: 'image.av-no-updates',
} as const;

const isoDay = (d: Date): string => d.toISOString().slice(0, 10);
const printable = (s: string): string => s.replace(/\p{Cc}/gu, '?');
const days = (ms: number): number => Math.floor(ms / DAY_MS);

/**
 * Findings for staleness: `image.packages-stale`, `image.os-eol`, `image.av-signatures-stale` and
 * `image.av-no-updates`. Every check that has its input gives one finding (a pass included); a check whose input
 * says nothing gives `unknown`. ClamAV checks run only when the root has ClamAV. Fingerprints depend on the check
 * and the target only, so they stay the same from one scan to the next.
 */
export function stalenessFindings(input: StalenessInput, opts: StalenessOptions = {}): Finding[] {
  const maxPkg = opts.maxPackageAgeDays ?? 30;
  const maxAv = opts.maxAvAgeDays ?? 7;
  const warn = opts.eolWarningDays ?? 90;
  const type = input.resourceType ?? 'image';
  const now = input.now.getTime();
  const out: Finding[] = [];
  const make = (
    checkId: string,
    part: string,
    severity: Severity,
    status: Finding['status'],
    title: string,
    message: string,
    extra: { evidence?: Evidence; remediation?: string; url?: string } = {},
  ): void => {
    const id = `${input.target}#${part}`;
    const f: Finding = {
      id: fingerprint(checkId, type, id),
      checkId,
      severity,
      status,
      title,
      // Log lines, file names and header fields come from the image: no terminal control characters out.
      message: printable(message),
      resource: { type, id },
    };
    if (type === 'image') f.platform = 'image';
    if (extra.evidence) {
      f.evidence = { ...extra.evidence };
      if (f.evidence.value !== undefined) f.evidence.value = printable(f.evidence.value);
    }
    if (extra.remediation) f.remediation = extra.remediation;
    if (extra.url) f.references = [{ type: 'url', id: extra.url, url: extra.url }];
    out.push(f);
  };

  if (input.packages) {
    const title = 'Packages not updated recently';
    const fix = `Apply the distribution's updates at least every ${maxPkg} days.`;
    const last = input.packages.last;
    if (!last) {
      const why = input.packages.notes.join('; ') || 'no dpkg log, rpm install time or apk database';
      make(
        STALENESS_CHECKS.packagesStale,
        'packages',
        'info',
        'unknown',
        title,
        `last package update not known: ${why}`,
      );
    } else {
      const age = days(now - last.when.getTime());
      const evidence: Evidence = {
        file: last.source,
        key: 'last package install or upgrade',
        value: last.when.toISOString(),
      };
      if (last.line !== undefined) evidence.line = last.line;
      if (last.when.getTime() - now > DAY_MS) {
        make(
          STALENESS_CHECKS.packagesStale,
          'packages',
          'info',
          'unknown',
          title,
          `newest package record (${last.when.toISOString()}) lies in the future; clock or log not trustworthy`,
          { evidence },
        );
      } else if (age > maxPkg) {
        make(
          STALENESS_CHECKS.packagesStale,
          'packages',
          'medium',
          'fail',
          title,
          `no package installed or upgraded for ${age} days (last ${isoDay(last.when)}, ${last.manager}${last.entry ? `: ${last.entry}` : ''}); threshold ${maxPkg} days`,
          { evidence, remediation: fix },
        );
      } else {
        make(
          STALENESS_CHECKS.packagesStale,
          'packages',
          'info',
          'pass',
          title,
          `last package install or upgrade ${Math.max(age, 0)} days ago (${isoDay(last.when)})`,
          { evidence },
        );
      }
    }
  }

  if (input.os) {
    const os = input.os;
    const title = 'Operating system release at or near end of life';
    const e = endOfLife(os, input.now, input.eolTable ?? eolTable());
    const product = e.product !== undefined ? (input.eolTable ?? eolTable()).products[e.product] : undefined;
    const label = `${e.productName ?? os.name ?? os.id} ${e.release ?? os.versionId ?? ''}`.trim();
    const evidence: Evidence = { file: os.source, key: 'release', value: os.prettyName ?? label };
    const url = product?.page;
    const ref = url !== undefined ? { url } : {};
    const upgrade = 'Upgrade to a supported release of the distribution.';
    if (e.status === 'unknown') {
      make(STALENESS_CHECKS.osEol, 'os', 'info', 'unknown', title, e.reason ?? 'end of life not known', {
        evidence,
        ...ref,
      });
    } else if (e.status === 'eol') {
      const ext = e.extended
        ? `; extended support (${product?.extendedMeans ?? 'extended'}) ended ${isoDay(e.extended)}`
        : '';
      make(
        STALENESS_CHECKS.osEol,
        'os',
        'high',
        'fail',
        title,
        `${label}: ${product?.eolMeans ?? 'support'} was ${isoDay(e.eol!)} (${-e.daysLeft!} days ago)${ext}`,
        { evidence, remediation: upgrade, ...ref },
      );
    } else if (e.status === 'extended-only') {
      make(
        STALENESS_CHECKS.osEol,
        'os',
        'info',
        'fail',
        title,
        `${label}: regular support ended ${isoDay(e.eol!)}; only ${product?.extendedMeans ?? 'extended support'} remains, until ${isoDay(e.extended!)} (${e.extendedDaysLeft} days)`,
        {
          evidence,
          remediation: `${upgrade} Extended support covers fewer packages and may need a subscription.`,
          ...ref,
        },
      );
    } else if (e.daysLeft !== undefined && e.daysLeft <= warn) {
      make(
        STALENESS_CHECKS.osEol,
        'os',
        'medium',
        'fail',
        title,
        `${label}: ${product?.eolMeans ?? 'support'} is ${isoDay(e.eol!)}, in ${e.daysLeft} days`,
        { evidence, remediation: upgrade, ...ref },
      );
    } else {
      const until = e.eol
        ? `until ${isoDay(e.eol)} (${e.daysLeft} days)`
        : `(${e.reason ?? 'no end announced'})`;
      make(STALENESS_CHECKS.osEol, 'os', 'info', 'pass', title, `${label}: supported ${until}`, {
        evidence,
        ...ref,
      });
    }
  }

  if (input.clamav && hasClamAv(input.clamav)) {
    const av = input.clamav;
    const title = 'Antivirus signatures out of date';
    const daily = av.databases
      .filter((d) => d.name === 'daily')
      .sort((a, b) => b.buildTime.getTime() - a.buildTime.getTime() || b.version - a.version)[0];
    const refresh =
      "Run freshclam (or the distribution's ClamAV updater) so the daily database is at most a day old.";
    if (!daily) {
      make(
        STALENESS_CHECKS.avSignaturesStale,
        'clamav',
        'medium',
        'fail',
        title,
        `ClamAV is configured but there is no daily database (daily.cvd/daily.cld) in ${av.databaseDirectories.join(', ')}`,
        { remediation: refresh, evidence: avEvidence(av) },
      );
    } else {
      const evidence: Evidence = {
        file: daily.path,
        key: 'build time',
        value: `${daily.buildTime.toISOString()} (version ${daily.version})`,
      };
      const age = days(now - daily.buildTime.getTime());
      if (daily.buildTime.getTime() - now > DAY_MS) {
        make(
          STALENESS_CHECKS.avSignaturesStale,
          'clamav',
          'info',
          'unknown',
          title,
          `daily database build time ${daily.buildTime.toISOString()} lies in the future`,
          { evidence },
        );
      } else if (age > maxAv) {
        make(
          STALENESS_CHECKS.avSignaturesStale,
          'clamav',
          age > 30 ? 'high' : 'medium',
          'fail',
          title,
          `ClamAV daily database version ${daily.version} was built ${age} days ago (${isoDay(daily.buildTime)}); threshold ${maxAv} days`,
          { evidence, remediation: refresh },
        );
      } else {
        make(
          STALENESS_CHECKS.avSignaturesStale,
          'clamav',
          'info',
          'pass',
          title,
          `ClamAV daily database version ${daily.version} built ${Math.max(age, 0)} days ago`,
          { evidence },
        );
      }
    }

    const reasons: string[] = [];
    const fc = av.freshclam;
    if (!fc)
      reasons.push(
        `no freshclam.conf (looked in ${['/etc/clamav', '/etc', '/etc/clamd.d', '/usr/local/etc'].join(', ')})`,
      );
    else {
      if (fc.example) reasons.push(`${fc.path} still has its 'Example' line, so freshclam refuses to run`);
      else if (!fc.valid) reasons.push(`${fc.path} has lines freshclam cannot parse, so it refuses to run`);
      if (fc.checksPerDay !== undefined && fc.checksPerDay <= 0)
        reasons.push(`${fc.path} sets Checks ${fc.checksPerDay}; freshclam's daemon refuses to start`);
      if (av.updaters.length === 0)
        reasons.push(
          'nothing runs freshclam (no enabled systemd unit or timer, OpenRC or SysV entry, or cron job)',
        );
    }
    const title2 = 'Antivirus signature updates not configured';
    const evidence: Evidence = fc
      ? { file: fc.path, key: 'updaters', value: av.updaters.join(', ') || '(none)' }
      : avEvidence(av);
    if (reasons.length > 0) {
      make(STALENESS_CHECKS.avNoUpdates, 'clamav', 'medium', 'fail', title2, reasons.join('; '), {
        evidence,
        remediation:
          'Configure freshclam (remove the Example line, set DatabaseMirror) and enable the clamav-freshclam service or a cron job.',
      });
    } else {
      make(
        STALENESS_CHECKS.avNoUpdates,
        'clamav',
        'info',
        'pass',
        title2,
        `freshclam configured (${fc!.path}) and run by ${av.updaters.join(', ')}`,
        { evidence },
      );
    }
  }
  return out;
}

function avEvidence(av: ClamAvInfo): Evidence {
  const db: ClamDatabase | undefined = av.databases[0];
  return db
    ? { file: db.path, key: 'database', value: `${db.name} version ${db.version}` }
    : { key: 'database directories', value: av.databaseDirectories.join(', ') };
}
