/**
 * ClamAV in a root filesystem: how old its signature databases are and whether anything keeps them up to date.
 *
 * A ClamAV database (`daily.cvd`, `main.cvd`, `bytecode.cvd`; `.cld` when freshclam has applied incremental
 * updates; `.cud` when built unsigned) starts with a 512-byte ASCII header, padded with spaces, that libclamav's
 * `cl_cvdparse` reads as colon-separated fields:
 *
 *     ClamAV-VDB:<build time>:<version>:<signatures>:<functionality level>:<md5>:<dsig>:<builder>:<build time, Unix s>
 *
 * The build time is written `%d %b %Y %H-%M %z` (`07 Mar 2017 08-02 -0500`); the last field, absent in very old
 * files, is the same instant in seconds, and is what ClamAV itself uses for its "older than 7 days" warning.
 * Only `daily` is rebuilt every day: `main` and `bytecode` legitimately stay months old.
 *
 * Configuration files (`freshclam.conf`, `clamd.conf`) are read as ClamAV's option parser reads them: one
 * `Name value` a line, `#` comments, a value optionally in double quotes; a file with an active `Example` line is
 * refused by ClamAV as a whole, and so is one with a line it cannot split.
 */
import { posix } from 'node:path';
import { HyperwardError } from '../errors.js';
import type { RootReader } from './system.js';

/** A root reader that can read the first bytes of a file without reading all of it (used when it can). */
export interface PrefixReader {
  readPrefix(path: string, length: number): Buffer | undefined;
}

export type ClamDbKind = 'cvd' | 'cld' | 'cud';

/** What a database header says. */
export interface CvdHeader {
  /** When the database was built: the seconds field when present and non-zero, else the text field. */
  buildTime: Date;
  /** The text field as written (`07 Mar 2017 08-02 -0500`). */
  buildTimeText: string;
  /** The text field parsed (minute precision), when it parses. */
  textTime?: Date;
  /** The seconds field, when present. */
  stime?: number;
  version: number;
  signatures: number;
  functionalityLevel: number;
  md5: string;
  /** Digital signature field; `X` or empty in unsigned (`.cud`) databases. */
  dsig: string;
  builder: string;
}

/** One signature database found in a database directory. */
export interface ClamDatabase extends CvdHeader {
  path: string;
  /** File name without extension: `daily`, `main`, `bytecode`, `safebrowsing`... */
  name: string;
  kind: ClamDbKind;
}

/** What freshclam's configuration says about updates. */
export interface FreshclamConfig {
  path: string;
  /** An active `Example` line: freshclam refuses the file and does not run. */
  example: boolean;
  /** False when freshclam would refuse the file (an `Example` line or a line it cannot parse). */
  valid: boolean;
  databaseMirrors: string[];
  privateMirrors: string[];
  /** `Checks` (updates a day in daemon mode); freshclam's daemon refuses values below 1. Absent: default 12. */
  checksPerDay?: number;
  /** `NotifyClamd`: the clamd.conf whose daemon is told to reload after an update. */
  notifyClamd?: string;
  databaseDirectory?: string;
  scriptedUpdates?: boolean;
}

/** Everything found of ClamAV in a root. */
export interface ClamAvInfo {
  /** Directories searched for databases (defaults plus every `DatabaseDirectory` configured). */
  databaseDirectories: string[];
  databases: ClamDatabase[];
  freshclam?: FreshclamConfig;
  /** clamd.conf files found. */
  clamdConfigs: string[];
  /**
   * What would run freshclam: `systemd:<wants link>`, `openrc:<runlevel entry>`, `sysv:<rc link>`,
   * `cron:<file>`.
   */
  updaters: string[];
  /** Files or lines that could not be read or parsed (each skipped, the rest read). */
  problems: HyperwardError[];
}

/** One option line of a ClamAV configuration file. */
export interface ClamConfEntry {
  name: string;
  value: string;
  line: number;
}

export interface ClamConf {
  entries: ClamConfEntry[];
  /** 1-based line of an active `Example` line (ClamAV stops reading there and refuses the file). */
  exampleLine?: number;
  /** Lines ClamAV would refuse the file for (missing argument, unclosed quote), and lines over the size cap. */
  problems: HyperwardError[];
}

const HEADER_BYTES = 512;
const MAGIC = 'ClamAV-VDB:';
const MAX_U32 = 0xffff_ffff;
const MAX_CONF_BYTES = 1024 * 1024;
const MAX_CONF_LINES = 100_000;
const MAX_CONF_LINE = 4096;
/** Largest database read whole when the root reader cannot read a prefix (daily.cvd is ~60 MiB). */
export const MAX_WHOLE_DATABASE = 256 * 1024 * 1024;
const MAX_DB_DIRS = 8;
const MAX_DBS_PER_DIR = 64;
const MAX_LIST = 1024;
const MAX_SCHEDULER_FILE = 64 * 1024;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Default database directories: distribution packages, then source installs. */
export const CLAMAV_DB_DIRS: readonly string[] = ['/var/lib/clamav', '/usr/local/share/clamav'];
/** Where freshclam.conf lives, in the order freshclam builds of the common distributions look. */
export const FRESHCLAM_CONF_PATHS: readonly string[] = [
  '/etc/clamav/freshclam.conf',
  '/etc/freshclam.conf',
  '/etc/clamd.d/freshclam.conf',
  '/usr/local/etc/freshclam.conf',
];
const CLAMD_CONF_PATHS: readonly string[] = [
  '/etc/clamav/clamd.conf',
  '/etc/clamd.conf',
  '/usr/local/etc/clamd.conf',
];

/**
 * Parses a `%d %b %Y %H-%M %z` build time (`07 Mar 2017 08-02 -0500`) to the instant it names; undefined when it
 * is not in that form or not a real date.
 */
export function parseCvdTime(text: string): Date | undefined {
  const m = /^(\d{1,2}) ([A-Z][a-z]{2}) (\d{4}) (\d{2})-(\d{2}) ([+-])(\d{2})(\d{2})$/.exec(text);
  if (!m) return undefined;
  const mon = MONTHS.indexOf(m[2]!);
  const day = Number(m[1]);
  const year = Number(m[3]);
  const hh = Number(m[4]);
  const mm = Number(m[5]);
  const offH = Number(m[7]);
  const offM = Number(m[8]);
  if (mon < 0 || hh > 23 || mm > 59 || offH > 23 || offM > 59) return undefined;
  const local = Date.UTC(year, mon, day, hh, mm);
  const check = new Date(Date.UTC(year, mon, day));
  if (check.getUTCFullYear() !== year || check.getUTCMonth() !== mon || check.getUTCDate() !== day)
    return undefined;
  const offset = (m[6] === '-' ? -1 : 1) * (offH * 60 + offM) * 60_000;
  return new Date(local - offset);
}

function uint(field: string | undefined): number | undefined {
  if (field === undefined || !/^\d{1,10}$/.test(field)) return undefined;
  const n = Number(field);
  return n <= MAX_U32 ? n : undefined;
}

/**
 * Parses the header of a ClamAV database (the first 512 bytes, or fewer in a truncated file). Throws a
 * HyperwardError naming the file, the field and its offset when the header is not one or a field is malformed.
 */
export function parseCvdHeader(buf: Buffer, file: string): CvdHeader {
  const layer = 'ClamAV database header';
  const head = buf.subarray(0, HEADER_BYTES);
  if (head.length < MAGIC.length || head.toString('latin1', 0, MAGIC.length) !== MAGIC) {
    throw new HyperwardError('E_UNSUPPORTED_FORMAT', 'not a ClamAV database (no ClamAV-VDB header)', {
      file,
      layer,
      offset: 0,
    });
  }
  // As cl_cvdhead: the header ends at the first line break (or NUL); trailing padding is dropped.
  let end = head.length;
  for (let i = 0; i < head.length; i++) {
    const c = head[i]!;
    if (c === 0 || c === 0x0a || c === 0x0d) {
      end = i;
      break;
    }
  }
  const text = head.toString('latin1', 0, end).replace(/[ ]+$/, '');
  const bad = /[^\x20-\x7e]/.exec(text);
  if (bad) {
    throw new HyperwardError('E_IMAGE_CORRUPT', 'header holds a byte that is not printable ASCII', {
      file,
      layer,
      offset: bad.index,
    });
  }
  const fields = text.split(':');
  const offsets: number[] = [];
  let at = 0;
  for (const f of fields) {
    offsets.push(at);
    at += f.length + 1;
  }
  const fail = (i: number, what: string): never => {
    throw new HyperwardError('E_IMAGE_CORRUPT', what, {
      file,
      layer: `${layer} field ${i}`,
      offset: offsets[i] ?? end,
    });
  };
  if (fields.length < 8) fail(fields.length, `header has ${fields.length} fields, at least 8 expected`);
  const buildTimeText = fields[1]!;
  const version = uint(fields[2]) ?? fail(2, `version '${fields[2]}' is not a number`);
  const signatures = uint(fields[3]) ?? fail(3, `signature count '${fields[3]}' is not a number`);
  const functionalityLevel = uint(fields[4]) ?? fail(4, `functionality level '${fields[4]}' is not a number`);
  const stimeField = fields[8];
  const stime = stimeField === undefined || stimeField === '' ? undefined : uint(stimeField);
  if (stimeField !== undefined && stimeField !== '' && stime === undefined) {
    fail(8, `build time in seconds '${stimeField}' is not a number`);
  }
  const textTime = parseCvdTime(buildTimeText);
  const buildTime =
    stime !== undefined && stime > 0
      ? new Date(stime * 1000)
      : (textTime ?? fail(1, `build time '${buildTimeText}' is not in the form '07 Mar 2017 08-02 -0500'`));
  const out: CvdHeader = {
    buildTime,
    buildTimeText,
    version,
    signatures,
    functionalityLevel,
    md5: fields[5]!,
    dsig: fields[6]!,
    builder: fields[7]!,
  };
  if (textTime) out.textTime = textTime;
  if (stime !== undefined) out.stime = stime;
  return out;
}

/**
 * Reads a ClamAV configuration file (`freshclam.conf`, `clamd.conf`) the way ClamAV's option parser does. Option
 * names are kept as written (ClamAV compares them case-sensitively); values have surrounding blanks and one pair
 * of double quotes removed.
 */
export function parseClamConf(text: string, file: string): ClamConf {
  const out: ClamConf = { entries: [], problems: [] };
  let lineNo = 0;
  let pos = 0;
  while (pos <= text.length) {
    if (++lineNo > MAX_CONF_LINES) {
      out.problems.push(
        new HyperwardError('E_LIMIT', `more than ${MAX_CONF_LINES} lines; the rest not read`, {
          file,
          line: lineNo,
        }),
      );
      break;
    }
    let nl = text.indexOf('\n', pos);
    if (nl < 0) nl = text.length;
    const raw = text.slice(pos, nl);
    pos = nl + 1;
    if (raw.length > MAX_CONF_LINE) {
      out.problems.push(
        new HyperwardError('E_LIMIT', `line longer than ${MAX_CONF_LINE} characters skipped`, {
          file,
          line: lineNo,
        }),
      );
      continue;
    }
    const line = raw.replace(/^[ \t]+/, '').replace(/[ \t\r]+$/, '');
    // ClamAV skips lines of one character or less and comments.
    if (line.length <= 1 || line.startsWith('#')) continue;
    if (line.startsWith('Example')) {
      out.exampleLine = lineNo;
      break;
    }
    const sp = /[ \t]/.exec(line);
    if (!sp) {
      out.problems.push(
        new HyperwardError('E_CONFIG_SYNTAX', `missing argument for option '${line.slice(0, 64)}'`, {
          file,
          line: lineNo,
        }),
      );
      continue;
    }
    const name = line.slice(0, sp.index);
    let value = line.slice(sp.index + 1).replace(/^[ \t]+/, '');
    if (value.startsWith('"')) {
      const close = value.lastIndexOf('"');
      if (close === 0) {
        out.problems.push(
          new HyperwardError('E_CONFIG_SYNTAX', `missing closing quote in option ${name}`, {
            file,
            line: lineNo,
          }),
        );
        continue;
      }
      value = value.slice(1, close);
      if (value === '') {
        out.problems.push(
          new HyperwardError('E_CONFIG_SYNTAX', `empty argument for option ${name}`, { file, line: lineNo }),
        );
        continue;
      }
    }
    out.entries.push({ name, value, line: lineNo });
  }
  return out;
}

/** C `atoi`: leading blanks, a sign, digits; 0 when there are none. Clamped to 32 bits. */
function atoi(s: string): number {
  const m = /^[ \t]*([+-]?\d+)/.exec(s);
  if (!m) return 0;
  const n = Number(m[1]);
  return Math.max(-0x8000_0000, Math.min(0x7fff_ffff, n));
}

/** ClamAV's boolean: `yes`, `true` (any case) or `1` are true, anything else false. */
function clamBool(s: string): boolean {
  return /^(yes|true)$/i.test(s) || s === '1';
}

/** The last value of a single-valued option. */
function last(conf: ClamConf, name: string): string | undefined {
  let v: string | undefined;
  for (const e of conf.entries) if (e.name === name) v = e.value;
  return v;
}

/** What a freshclam.conf says about updates (see `FreshclamConfig`). */
export function parseFreshclamConf(
  text: string,
  file: string,
): { config: FreshclamConfig; problems: HyperwardError[] } {
  const conf = parseClamConf(text, file);
  const config: FreshclamConfig = {
    path: file,
    example: conf.exampleLine !== undefined,
    valid: conf.exampleLine === undefined && !conf.problems.some((p) => p.code === 'E_CONFIG_SYNTAX'),
    databaseMirrors: conf.entries.filter((e) => e.name === 'DatabaseMirror').map((e) => e.value),
    privateMirrors: conf.entries.filter((e) => e.name === 'PrivateMirror').map((e) => e.value),
  };
  const checks = last(conf, 'Checks');
  if (checks !== undefined) config.checksPerDay = atoi(checks);
  const notify = last(conf, 'NotifyClamd');
  if (notify !== undefined) config.notifyClamd = notify;
  const dir = last(conf, 'DatabaseDirectory');
  if (dir !== undefined) config.databaseDirectory = dir;
  const scripted = last(conf, 'ScriptedUpdates');
  if (scripted !== undefined) config.scriptedUpdates = clamBool(scripted);
  const problems = [...conf.problems];
  if (conf.exampleLine !== undefined) {
    problems.push(
      new HyperwardError(
        'E_CONFIG_SYNTAX',
        "active 'Example' line: freshclam refuses this file and does not run",
        {
          file,
          line: conf.exampleLine,
        },
      ),
    );
  }
  return { config, problems };
}

function hasPrefixReader(root: RootReader): root is RootReader & PrefixReader {
  return typeof (root as Partial<PrefixReader>).readPrefix === 'function';
}

/** The first bytes of a file: by prefix read when the root can, else the whole file under a cap. */
function readHead(root: RootReader, path: string): Buffer | undefined {
  if (hasPrefixReader(root)) return root.readPrefix(path, HEADER_BYTES);
  return root.tryReadFile(path, MAX_WHOLE_DATABASE)?.subarray(0, HEADER_BYTES);
}

function kindOf(name: string): ClamDbKind | undefined {
  const m = /\.(cvd|cld|cud)$/i.exec(name);
  return m ? (m[1]!.toLowerCase() as ClamDbKind) : undefined;
}

function listCapped(root: RootReader, dir: string): string[] {
  return (root.list(dir) ?? []).slice(0, MAX_LIST);
}

/** Text of a small file, undefined when absent, not regular or too large. */
function smallText(root: RootReader, path: string, max = MAX_CONF_BYTES): string | undefined {
  return root.tryReadFile(path, max)?.toString('utf8');
}

/**
 * Finds what would run freshclam: an enabled systemd unit or timer (a `*.wants` link under `/etc/systemd/system`),
 * an OpenRC runlevel entry, a SysV `rc?.d` start link, or a cron job naming freshclam.
 */
export function findFreshclamUpdaters(root: RootReader): string[] {
  const out: string[] = [];
  const unit = /freshclam.*\.(service|timer)$/;
  for (const d of listCapped(root, '/etc/systemd/system')) {
    if (!d.endsWith('.wants')) continue;
    for (const n of listCapped(root, `/etc/systemd/system/${d}`)) {
      if (unit.test(n)) out.push(`systemd:/etc/systemd/system/${d}/${n}`);
    }
  }
  for (const lvl of listCapped(root, '/etc/runlevels').slice(0, 16)) {
    for (const n of listCapped(root, `/etc/runlevels/${lvl}`)) {
      if (/freshclam/.test(n)) out.push(`openrc:/etc/runlevels/${lvl}/${n}`);
    }
  }
  for (const rc of ['/etc/rc2.d', '/etc/rc3.d', '/etc/rc4.d', '/etc/rc5.d']) {
    for (const n of listCapped(root, rc)) if (/^S\d*.*freshclam/.test(n)) out.push(`sysv:${rc}/${n}`);
  }
  const cronFiles: string[] = ['/etc/crontab'];
  for (const d of [
    '/etc/cron.d',
    '/etc/cron.hourly',
    '/etc/cron.daily',
    '/var/spool/cron/crontabs',
    '/var/spool/cron',
  ]) {
    for (const n of listCapped(root, d).slice(0, 256)) cronFiles.push(`${d}/${n}`);
  }
  for (const f of cronFiles) {
    const t = smallText(root, f, MAX_SCHEDULER_FILE);
    if (t === undefined) continue;
    const active = t.split('\n').some((l) => !l.trimStart().startsWith('#') && /freshclam/.test(l));
    if (active) out.push(`cron:${f}`);
  }
  return out;
}

/**
 * Everything of ClamAV a root filesystem holds: freshclam.conf (the first of `FRESHCLAM_CONF_PATHS`), clamd.conf
 * files, the header of every `.cvd`/`.cld`/`.cud` in the default database directories and in every configured
 * `DatabaseDirectory`, and what would run freshclam. A file that cannot be read or parsed is a problem and the rest
 * is still read.
 *
 * Database headers are read with the root's `readPrefix` when it has one; otherwise the whole file is read, up to
 * `MAX_WHOLE_DATABASE` bytes, and a larger one is reported as a problem.
 */
export function readClamAv(root: RootReader): ClamAvInfo {
  const info: ClamAvInfo = {
    databaseDirectories: [],
    databases: [],
    clamdConfigs: [],
    updaters: [],
    problems: [],
  };
  const dirs = new Set<string>(CLAMAV_DB_DIRS);
  const addDir = (d: string | undefined): void => {
    if (d === undefined || !d.startsWith('/')) return;
    dirs.add(posix.normalize(d).replace(/(.)\/+$/, '$1'));
  };
  for (const path of FRESHCLAM_CONF_PATHS) {
    const text = smallText(root, path);
    if (text === undefined) continue;
    const { config, problems } = parseFreshclamConf(text, path);
    info.freshclam = config;
    info.problems.push(...problems);
    addDir(config.databaseDirectory);
    break;
  }
  const clamd = [...CLAMD_CONF_PATHS];
  for (const n of listCapped(root, '/etc/clamd.d').slice(0, 32).sort()) {
    if (n.endsWith('.conf') && n !== 'freshclam.conf') clamd.push(`/etc/clamd.d/${n}`);
  }
  for (const path of clamd) {
    const text = smallText(root, path);
    if (text === undefined) continue;
    info.clamdConfigs.push(path);
    const conf = parseClamConf(text, path);
    info.problems.push(...conf.problems);
    addDir(last(conf, 'DatabaseDirectory'));
  }
  info.databaseDirectories = [...dirs].slice(0, MAX_DB_DIRS);
  if (dirs.size > MAX_DB_DIRS) {
    info.problems.push(
      new HyperwardError('E_LIMIT', `more than ${MAX_DB_DIRS} database directories; the rest not read`, {}),
    );
  }
  for (const dir of info.databaseDirectories) {
    const names = (root.list(dir) ?? []).filter((n) => kindOf(n) !== undefined).sort();
    if (names.length > MAX_DBS_PER_DIR) {
      info.problems.push(
        new HyperwardError('E_LIMIT', `more than ${MAX_DBS_PER_DIR} databases; the rest not read`, {
          file: dir,
        }),
      );
    }
    for (const n of names.slice(0, MAX_DBS_PER_DIR)) {
      const path = dir === '/' ? `/${n}` : `${dir}/${n}`;
      const head = readHead(root, path);
      if (head === undefined) {
        info.problems.push(
          new HyperwardError(
            'E_LIMIT',
            `header not read: not a regular file, or larger than ${MAX_WHOLE_DATABASE} bytes and the root cannot read part of a file`,
            { file: path },
          ),
        );
        continue;
      }
      try {
        const h = parseCvdHeader(head, path);
        info.databases.push({ ...h, path, name: n.replace(/\.[^.]+$/, ''), kind: kindOf(n)! });
        if (
          h.textTime &&
          h.stime !== undefined &&
          h.stime > 0 &&
          Math.abs(h.textTime.getTime() - h.stime * 1000) > 86_400_000
        ) {
          info.problems.push(
            new HyperwardError(
              'E_IMAGE_CORRUPT',
              `build time '${h.buildTimeText}' and build time in seconds ${h.stime} differ by more than a day; the seconds are used`,
              { file: path, layer: 'ClamAV database header' },
            ),
          );
        }
      } catch (e) {
        if (!(e instanceof HyperwardError)) throw e;
        info.problems.push(e);
      }
    }
  }
  // What would run freshclam matters only where there is ClamAV; elsewhere it is a dozen directory reads for nothing.
  if (hasClamAv(info)) info.updaters = findFreshclamUpdaters(root);
  return info;
}

/** Whether a root has any trace of ClamAV (a database, freshclam.conf or clamd.conf). */
export function hasClamAv(info: ClamAvInfo): boolean {
  return info.databases.length > 0 || info.freshclam !== undefined || info.clamdConfigs.length > 0;
}
