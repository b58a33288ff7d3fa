/**
 * Alpine's installed-package database, `lib/apk/db/installed` (apk-tools 3 also reads `usr/lib/apk/db/installed`),
 * as apk-tools' `apk_db_fdb_read` reads it: one record per package, records separated by a blank line, each line
 * `X:value` with a one-letter field.
 *
 * Package fields: `P` name, `V` version, `A` arch, `o` origin (the source package), `m` maintainer, `I` installed
 * size in bytes, `S` package size, `t` build time, `c` aports commit, `L` licence, `C` package checksum.
 * File records follow: `F` a directory (relative to /), `M` its owner and mode (`uid:gid:octal-mode[:xattr
 * digest]`), `R` a file in the last directory, `a` that file's owner and mode, `Z` its content checksum; `f`
 * carries flags (`S`: the package's `Q1` checksums are SHA-256 truncated to 160 bits, not SHA-1).
 *
 * Checksums are `Q1`/`Q2` + base64 or `X1`/`X2` + hex (SHA-1 / SHA-256, as apk's `apk_blob_pull_digest`), or
 * 32 hex digits (MD5, apk-tools 1). The file records are kept in `ApkInstalledRecord.files` for tamper checks.
 * A malformed line is reported (file and line) and skipped; the rest of the database is read.
 */
import { HyperwardError } from '../errors.js';
import type { Package } from '../model/inventory.js';
import type { RootReader } from './system.js';

/** Where apk keeps its installed database, the apk-tools 2 location first. */
export const APK_DB_PATHS: readonly string[] = ['/lib/apk/db/installed', '/usr/lib/apk/db/installed'];

const MAX_DB_BYTES = 256 * 1024 * 1024;
const MAX_PACKAGES = 500_000;
const MAX_LINE = 64 * 1024;

export type ApkDigestAlgorithm = 'md5' | 'sha1' | 'sha256' | 'sha256-160';

/** A checksum as apk records it, decoded. */
export interface ApkChecksum {
  algorithm: ApkDigestAlgorithm;
  /** Lower-case hex of the digest bytes. */
  hex: string;
  /** The text as it appears in the database, e.g. `Q1Kja2+POZKxEkUOZqwSjC6kmaED4=`. */
  raw: string;
}

/** One directory or file a package owns. */
export interface ApkFile {
  /** Absolute path, e.g. `/etc/apk/keys/x.rsa.pub`. */
  path: string;
  type: 'dir' | 'file';
  uid?: number;
  gid?: number;
  /** Permission bits (`0o755`), when the database records them (only when not the default). */
  mode?: number;
  /** Digest of the extended attributes, when the ACL line carries one. */
  xattrs?: ApkChecksum;
  /** Content checksum (files; for symlinks apk hashes the target). */
  digest?: ApkChecksum;
}

/** Everything kept of one installed apk package. */
export interface ApkInstalledRecord {
  name: string;
  version: string;
  arch: string;
  /** The origin (source) package name. */
  origin?: string;
  maintainer?: string;
  license?: string;
  /** Installed size in bytes (`I:`). */
  installedSize?: number;
  /** Package file size in bytes (`S:`). */
  size?: number;
  /** Build time, Unix seconds (`t:`). */
  buildTime?: number;
  /** aports commit (`c:`). */
  commit?: string;
  /** Checksum of the package's control data (`C:`), how apk identifies the exact build. */
  checksum?: ApkChecksum;
  /** `f:` flags as written (`f` broken files, `s` broken script, `x` broken xattrs, `S` SHA-256-160). */
  flags?: string;
  files: ApkFile[];
  /** 1-based line where the record starts. */
  line: number;
}

const HEX = /^[0-9a-fA-F]+$/;
const B64 = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * Decodes an apk checksum string. `sha256_160` says the package is flagged `f:S`, whose 20-byte digests are
 * truncated SHA-256 rather than SHA-1. Undefined when the text is not a checksum apk would accept.
 */
export function parseApkChecksum(raw: string, sha256_160 = false): ApkChecksum | undefined {
  let bytes: Buffer;
  if ((raw[0] === 'Q' || raw[0] === 'X') && (raw[1] === '1' || raw[1] === '2')) {
    const body = raw.slice(2);
    if (raw[0] === 'Q') {
      if (!B64.test(body) || body.length % 4 !== 0) return undefined;
      bytes = Buffer.from(body, 'base64');
    } else {
      if (!HEX.test(body) || body.length % 2 !== 0) return undefined;
      bytes = Buffer.from(body, 'hex');
    }
  } else if (raw.length === 32 && HEX.test(raw)) {
    return { algorithm: 'md5', hex: raw.toLowerCase(), raw };
  } else {
    return undefined;
  }
  // apk takes a `1` digest of SHA-256 length as SHA-256 too (`apk_blob_pull_digest`).
  let algorithm: ApkDigestAlgorithm;
  if (bytes.length === 32) algorithm = 'sha256';
  else if (bytes.length === 20 && raw[1] === '1') algorithm = sha256_160 ? 'sha256-160' : 'sha1';
  else return undefined;
  return { algorithm, hex: bytes.toString('hex'), raw };
}

/** `uid:gid:octal-mode[:xattr-digest]` of an `M:` or `a:` line. */
function parseAcl(
  value: string,
): { uid: number; gid: number; mode: number; xattrs?: ApkChecksum } | undefined {
  const m = /^(\d{1,10}):(\d{1,10}):([0-7]{1,7})(?::(\S+))?$/.exec(value);
  if (!m) return undefined;
  const out: { uid: number; gid: number; mode: number; xattrs?: ApkChecksum } = {
    uid: Number(m[1]),
    gid: Number(m[2]),
    mode: parseInt(m[3]!, 8),
  };
  if (m[4] !== undefined) {
    const x = parseApkChecksum(m[4]);
    if (x) out.xattrs = x;
  }
  return out;
}

const nonNegative = (v: string): number | undefined => {
  if (!/^\d{1,15}$/.test(v)) return undefined;
  return Number(v);
};

/**
 * Every record of an installed database with its file list, and a HyperwardError (with line) for each line
 * that had to be skipped. Records without a name or version are reported and left out.
 */
export function parseApkInstalledRecords(
  text: string,
  file: string,
): { records: ApkInstalledRecord[]; problems: HyperwardError[] } {
  const records: ApkInstalledRecord[] = [];
  const problems: HyperwardError[] = [];
  const problem = (line: number, message: string): void => {
    problems.push(
      new HyperwardError('E_FS_CORRUPT', message, { file, layer: 'apk installed database', line }),
    );
  };
  let cur: Partial<ApkInstalledRecord> & { files: ApkFile[]; line: number } = { files: [], line: 1 };
  let started = false;
  let dir: ApkFile | undefined;
  let entry: ApkFile | undefined;
  let sha256_160 = false;
  let limited = false;

  const flush = (line: number): void => {
    if (started) {
      if (!cur.name || !cur.version) {
        problem(cur.line, `record without ${cur.name ? 'version' : 'name'} skipped`);
      } else if (records.length >= MAX_PACKAGES) {
        if (!limited) {
          problems.push(
            new HyperwardError('E_LIMIT', `more than ${MAX_PACKAGES} packages; the rest skipped`, {
              file,
              layer: 'apk installed database',
              line,
            }),
          );
          limited = true;
        }
      } else {
        records.push({
          ...cur,
          name: cur.name,
          version: cur.version,
          arch: cur.arch ?? '',
        } as ApkInstalledRecord);
      }
    }
    cur = { files: [], line: line + 1 };
    started = false;
    dir = undefined;
    entry = undefined;
    sha256_160 = false;
  };

  let pos = 0;
  let lineNo = 0;
  while (pos <= text.length && !limited) {
    let nl = text.indexOf('\n', pos);
    if (nl < 0) nl = text.length;
    lineNo++;
    const line = text.charCodeAt(nl - 1) === 13 ? text.slice(pos, nl - 1) : text.slice(pos, nl);
    pos = nl + 1;
    if (line.length < 2) {
      // apk ends a record at any line shorter than "X:".
      flush(lineNo);
      continue;
    }
    if (line[1] !== ':' || line.length > MAX_LINE) {
      problem(lineNo, line.length > MAX_LINE ? 'line too long; skipped' : 'line is not "X:value"; skipped');
      continue;
    }
    started = true;
    const field = line[0]!;
    const value = line.slice(2);
    switch (field) {
      case 'P':
        cur.name = value;
        break;
      case 'V':
        cur.version = value;
        break;
      case 'A':
        cur.arch = value;
        break;
      case 'o':
        cur.origin = value;
        break;
      case 'm':
        cur.maintainer = value;
        break;
      case 'L':
        cur.license = value;
        break;
      case 'c':
        cur.commit = value;
        break;
      case 'I':
      case 'S':
      case 't': {
        const n = nonNegative(value);
        if (n === undefined) {
          problem(lineNo, `field ${field} is not a number`);
          break;
        }
        if (field === 'I') cur.installedSize = n;
        else if (field === 'S') cur.size = n;
        else cur.buildTime = n;
        break;
      }
      case 'C': {
        const c = parseApkChecksum(value);
        if (c) cur.checksum = c;
        else problem(lineNo, 'package checksum is not a checksum');
        break;
      }
      case 'f':
        cur.flags = value;
        if (value.includes('S')) sha256_160 = true;
        break;
      case 'F': {
        const rel = value.replace(/^\/+|\/+$/g, '');
        dir = { path: `/${rel}`, type: 'dir' };
        entry = undefined;
        cur.files.push(dir);
        break;
      }
      case 'R': {
        if (dir === undefined) {
          problem(lineNo, 'file before any directory (F:); skipped');
          break;
        }
        if (value === '' || value.includes('/')) {
          problem(lineNo, 'file name is empty or has a slash; skipped');
          entry = undefined;
          break;
        }
        entry = { path: dir.path === '/' ? `/${value}` : `${dir.path}/${value}`, type: 'file' };
        cur.files.push(entry);
        break;
      }
      case 'M':
      case 'a': {
        const target = field === 'M' ? dir : entry;
        if (target === undefined) {
          problem(
            lineNo,
            `${field}: without the ${field === 'M' ? 'directory' : 'file'} it belongs to; skipped`,
          );
          break;
        }
        const acl = parseAcl(value);
        if (!acl) {
          problem(lineNo, `${field}: is not uid:gid:mode`);
          break;
        }
        target.uid = acl.uid;
        target.gid = acl.gid;
        target.mode = acl.mode;
        if (acl.xattrs) target.xattrs = acl.xattrs;
        break;
      }
      case 'Z': {
        if (entry === undefined) {
          problem(lineNo, 'Z: without the file it belongs to; skipped');
          break;
        }
        const d = parseApkChecksum(value, sha256_160);
        if (d) entry.digest = d;
        else problem(lineNo, 'file checksum is not a checksum');
        break;
      }
      default:
        // Index fields Hyperward does not keep: T U D p i k r q s g ...
        break;
    }
  }
  if (!limited) flush(lineNo);
  return { records, problems };
}

/** The inventory package of a record: the origin is the source package, at the binary's version. */
export function apkInventoryPackage(rec: ApkInstalledRecord, source: string): Package {
  const pkg: Package = {
    ecosystem: 'apk',
    name: rec.name,
    version: rec.version,
    arch: rec.arch,
    sourceName: rec.origin || rec.name,
    sourceVersion: rec.version,
    source,
  };
  if (rec.maintainer) pkg.maintainer = rec.maintainer;
  if (rec.installedSize !== undefined) pkg.installedSize = Math.ceil(rec.installedSize / 1024);
  return pkg;
}

/**
 * Installed packages of an apk `installed` database. Malformed lines and records are skipped; use
 * `parseApkInstalledRecords` to see them.
 *
 * @example
 * parseApkInstalled('P:musl\nV:1.2.4-r2\nA:x86_64\no:musl\n', '/lib/apk/db/installed')[0]?.version; // '1.2.4-r2'
 */
export function parseApkInstalled(text: string, file: string): Package[] {
  return parseApkInstalledRecords(text, file).records.map((r) => apkInventoryPackage(r, file));
}

/**
 * The apk database of a root filesystem (the first of `APK_DB_PATHS` present), with records and problems;
 * undefined when there is none.
 */
export function readApkDatabase(
  root: RootReader,
): { path: string; records: ApkInstalledRecord[]; problems: HyperwardError[] } | undefined {
  for (const path of APK_DB_PATHS) {
    const buf = root.tryReadFile(path, MAX_DB_BYTES);
    if (buf === undefined) {
      const slash = path.lastIndexOf('/');
      if (root.list(path.slice(0, slash))?.includes(path.slice(slash + 1))) {
        const why = `not read: not a regular file or larger than ${MAX_DB_BYTES} bytes`;
        return { path, records: [], problems: [new HyperwardError('E_LIMIT', why, { file: path })] };
      }
      continue;
    }
    return { path, ...parseApkInstalledRecords(buf.toString('utf8'), path) };
  }
  return undefined;
}

/** Installed apk packages of a root filesystem, or undefined when it has no apk database. */
export function readApk(root: RootReader): Package[] | undefined {
  const db = readApkDatabase(root);
  return db?.records.map((r) => apkInventoryPackage(r, db.path));
}
