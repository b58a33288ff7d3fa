/**
 * Installed RPM packages of a root filesystem, from whichever database backend it has: SQLite
 * (`rpmdb.sqlite`), NDB (`Packages.db`) or Berkeley DB (`Packages`), at `/usr/lib/sysimage/rpm` or
 * `/var/lib/rpm`. The backend is told by the file's magic, not its name.
 *
 * `readRpmDb` gives inventory packages; `readRpmDatabase` gives the full records (install times, files with
 * digests, modes, sizes and flags) and every problem met, each a HyperwardError with file, layer and offset, for
 * the scan to report.
 */
import { HyperwardError, isHyperwardError } from '../../errors.js';
import type { Package } from '../../model/inventory.js';
import type { RootReader } from '../system.js';
import { readBdbPackages } from './bdb.js';
import { RpmHeader } from './header.js';
import { readNdbPackages } from './ndb.js';
import { rpmInventoryPackage, rpmRecordFromHeader, type RpmPackageRecord } from './package.js';
import { isSqlite, readSqlitePackages } from './sqlite.js';
import type { RpmBlobSet } from './types.js';

export type { RpmFile, RpmPackageRecord } from './package.js';
export { RpmFileFlag, RpmFileState, parseSourceRpm, rpmEvr } from './package.js';

export type RpmBackend = 'sqlite' | 'ndb' | 'bdb';

/** Where rpm keeps its database, most specific first (the order rpm's own default `_dbpath`s took over time). */
export const RPM_DB_PATHS: readonly string[] = [
  '/usr/lib/sysimage/rpm/rpmdb.sqlite',
  '/var/lib/rpm/rpmdb.sqlite',
  '/usr/lib/sysimage/rpm/Packages.db',
  '/var/lib/rpm/Packages.db',
  '/usr/lib/sysimage/rpm/Packages',
  '/var/lib/rpm/Packages',
];

/** Largest database file read (a RHEL 7 server's Berkeley DB `Packages` is ~150 MiB). */
export const MAX_RPM_DB_BYTES = 768 * 1024 * 1024;

/** One rpm database as read: its packages and the problems met. */
export interface RpmDatabase {
  path: string;
  backend: RpmBackend;
  packages: RpmPackageRecord[];
  /** Records, pages or blobs that could not be read (each skipped) — never silently dropped. */
  problems: HyperwardError[];
}

/** The backend a database file belongs to, from its magic bytes. */
export function detectRpmBackend(buf: Buffer): RpmBackend | undefined {
  if (isSqlite(buf)) return 'sqlite';
  if (buf.length >= 4 && buf.readUInt32LE(0) === 0x506d7052) return 'ndb';
  if (buf.length >= 16) {
    const m = buf.readUInt32LE(12);
    if (m === 0x061561 || m === 0x61150600) return 'bdb';
  }
  return undefined;
}

/** Parses every blob of a backend into package records; a blob that fails is reported and skipped. */
export function recordsFromBlobs(set: RpmBlobSet, file: string, backend: RpmBackend): RpmDatabase {
  const packages: RpmPackageRecord[] = [];
  const problems = [...set.problems];
  for (const b of set.blobs) {
    const where = {
      file,
      layer: `rpm header ${b.instance}`,
      ...(b.offset !== undefined ? { offset: b.offset } : {}),
    };
    try {
      packages.push(rpmRecordFromHeader(RpmHeader.parse(b.blob, where), b.instance, where));
    } catch (err) {
      if (!isHyperwardError(err)) throw err;
      problems.push(err);
    }
  }
  packages.sort((a, b) => a.instance - b.instance);
  return { path: file, backend, packages, problems };
}

/**
 * Reads one rpm database file of any backend. `wal` is the SQLite write-ahead log beside it, if any. Throws a
 * HyperwardError when the file as a whole cannot be read.
 */
export function parseRpmDatabase(buf: Buffer, file: string, opts: { wal?: Buffer } = {}): RpmDatabase {
  const backend = detectRpmBackend(buf);
  switch (backend) {
    case 'sqlite':
      return recordsFromBlobs(readSqlitePackages(buf, file, opts.wal), file, backend);
    case 'ndb':
      return recordsFromBlobs(readNdbPackages(buf, file), file, backend);
    case 'bdb':
      return recordsFromBlobs(readBdbPackages(buf, file), file, backend);
    default:
      throw new HyperwardError('E_UNSUPPORTED_FORMAT', 'not an rpm database (SQLite, NDB or Berkeley DB)', {
        file,
        offset: 0,
      });
  }
}

function exists(root: RootReader, path: string): boolean {
  const slash = path.lastIndexOf('/');
  return root.list(path.slice(0, slash) || '/')?.includes(path.slice(slash + 1)) ?? false;
}

/**
 * The rpm database of a root filesystem: the first of `RPM_DB_PATHS` that can be read. A file that exists but
 * is too large or unreadable is recorded and the next path tried; when none can be read but some exist, the
 * result has no packages and says why in `problems`. Undefined when there is no rpm database at all.
 */
export function readRpmDatabase(root: RootReader): RpmDatabase | undefined {
  const failures: HyperwardError[] = [];
  let firstFailed: { path: string; backend: RpmBackend } | undefined;
  for (const path of RPM_DB_PATHS) {
    const buf = root.tryReadFile(path, MAX_RPM_DB_BYTES);
    if (buf === undefined) {
      if (exists(root, path)) {
        failures.push(
          new HyperwardError(
            'E_LIMIT',
            `not read: not a regular file or larger than ${MAX_RPM_DB_BYTES} bytes`,
            {
              file: path,
            },
          ),
        );
        firstFailed ??= {
          path,
          backend: path.endsWith('.sqlite') ? 'sqlite' : path.endsWith('.db') ? 'ndb' : 'bdb',
        };
      }
      continue;
    }
    try {
      const wal =
        detectRpmBackend(buf) === 'sqlite' ? root.tryReadFile(`${path}-wal`, MAX_RPM_DB_BYTES) : undefined;
      const db = parseRpmDatabase(buf, path, wal !== undefined ? { wal } : {});
      db.problems.unshift(...failures);
      return db;
    } catch (err) {
      if (!isHyperwardError(err)) throw err;
      failures.push(err);
      firstFailed ??= { path, backend: detectRpmBackend(buf) ?? 'bdb' };
    }
  }
  if (firstFailed === undefined) return undefined;
  return { ...firstFailed, packages: [], problems: failures };
}

/** Inventory packages of a database (`gpg-pubkey` key entries left out). */
export function rpmPackages(db: RpmDatabase): Package[] {
  const out: Package[] = [];
  for (const rec of db.packages) {
    const p = rpmInventoryPackage(rec, db.path);
    if (p) out.push(p);
  }
  return out;
}

/**
 * Installed RPM packages of a root filesystem, or undefined when it has no rpm database. Problems with single
 * records are dropped here; use `readRpmDatabase` to report them. When a database exists but none of it can
 * be read, the first error is thrown.
 */
export function readRpmDb(root: RootReader): Package[] | undefined {
  const db = readRpmDatabase(root);
  if (db === undefined) return undefined;
  if (db.packages.length === 0 && db.problems.length > 0) throw db.problems[0]!;
  return rpmPackages(db);
}
