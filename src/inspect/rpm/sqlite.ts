/**
 * rpm's SQLite database, `rpmdb.sqlite` (rpm ≥ 4.16: Fedora 33+, RHEL 9, CBL-Mariner, Amazon Linux 2023):
 * table `Packages (hnum INTEGER PRIMARY KEY, blob BLOB)` holds one header blob per installed package.
 *
 * The file is opened from a Buffer (`new Database(buf)` deserializes a private in-memory copy), so the image is
 * never touched and no journal or lock file is created. rpm keeps the database in WAL mode; the copy's header is
 * switched to rollback mode (an in-memory database cannot open a WAL), after the committed frames of a
 * `rpmdb.sqlite-wal` beside it, when there is one, have been applied, as SQLite itself would on opening.
 *
 * Hostile files: SQLite checks its own structures (with `cell_size_check` on); the schema is not trusted
 * (`trusted_schema` off), `Packages` must be a real table with `hnum` and `blob` columns, and rows and blob sizes
 * are capped. Any SQLite error becomes a HyperwardError.
 */
import type Database from 'better-sqlite3';
import { dependency } from '../../dependency.js';
import { HyperwardError, type ErrorLocation } from '../../errors.js';
import { HEADER_DATA_MAX, HEADER_TAGS_MAX } from './header.js';
import type { RpmBlob, RpmBlobSet } from './types.js';

const SQLITE_MAGIC = Buffer.from('SQLite format 3\0', 'latin1');
const WAL_MAGIC_LE = 0x377f0682;
const WAL_MAGIC_BE = 0x377f0683;
const WAL_HEADER = 32;
const WAL_FRAME_HEADER = 24;
/** More installed packages than any real system has. */
export const MAX_SQLITE_PACKAGES = 500_000;
const MAX_BLOB = 8 + HEADER_TAGS_MAX * 16 + HEADER_DATA_MAX;
/** A database rebuilt from its WAL may not grow beyond this. */
const MAX_DB_BYTES = 2 * 1024 * 1024 * 1024;

/** Whether `buf` starts with the SQLite file magic. */
export function isSqlite(buf: Buffer): boolean {
  return buf.length >= 100 && buf.subarray(0, 16).equals(SQLITE_MAGIC);
}

/** Page size of a database from its header (bytes 16–17, big-endian; 1 means 65536). */
function dbPageSize(db: Buffer): number {
  const v = db.readUInt16BE(16);
  return v === 1 ? 65536 : v;
}

/** SQLite's WAL checksum over `buf[start, end)` (8-byte aligned), continuing from `s`. */
function walChecksum(
  buf: Buffer,
  start: number,
  end: number,
  bigEndian: boolean,
  s: [number, number],
): [number, number] {
  let s0 = s[0];
  let s1 = s[1];
  for (let i = start; i < end; i += 8) {
    const x0 = bigEndian ? buf.readUInt32BE(i) : buf.readUInt32LE(i);
    const x1 = bigEndian ? buf.readUInt32BE(i + 4) : buf.readUInt32LE(i + 4);
    s0 = (s0 + x0 + s1) >>> 0;
    s1 = (s1 + x1 + s0) >>> 0;
  }
  return [s0, s1];
}

/**
 * The database as SQLite would see it after recovering `wal`: frames whose salts and running checksums are
 * valid, up to the last commit frame, are laid over the main file. A WAL that does not belong to the database
 * (bad magic, other page size, bad header checksum) is ignored and reported in `problem`.
 */
export function applySqliteWal(
  db: Buffer,
  wal: Buffer,
  file: string,
): { db: Buffer; frames: number; problem?: HyperwardError } {
  const where: ErrorLocation = { file: `${file}-wal`, layer: 'sqlite wal' };
  const ignore = (
    message: string,
    offset?: number,
  ): { db: Buffer; frames: number; problem: HyperwardError } => ({
    db,
    frames: 0,
    problem: new HyperwardError(
      'E_FS_CORRUPT',
      `${message}; WAL ignored`,
      offset === undefined ? where : { ...where, offset },
    ),
  });
  if (wal.length === 0) return { db, frames: 0 };
  if (wal.length < WAL_HEADER) return ignore(`WAL of ${wal.length} bytes`);
  const magic = wal.readUInt32BE(0);
  if (magic !== WAL_MAGIC_LE && magic !== WAL_MAGIC_BE) return ignore('bad WAL magic', 0);
  const bigEndian = magic === WAL_MAGIC_BE;
  const pageSize = wal.readUInt32BE(8);
  if (pageSize !== dbPageSize(db)) return ignore(`WAL page size ${pageSize} differs from the database's`, 8);
  const salt1 = wal.readUInt32BE(16);
  const salt2 = wal.readUInt32BE(20);
  let sum = walChecksum(wal, 0, 24, bigEndian, [0, 0]);
  if (sum[0] !== wal.readUInt32BE(24) || sum[1] !== wal.readUInt32BE(28))
    return ignore('bad WAL header checksum', 24);
  const frameSize = WAL_FRAME_HEADER + pageSize;
  const pages = new Map<number, number>(); // page number -> frame offset, committed frames only
  const pending = new Map<number, number>();
  let dbPages = 0;
  let frames = 0;
  for (let off = WAL_HEADER; off + frameSize <= wal.length; off += frameSize) {
    const pgno = wal.readUInt32BE(off);
    const commit = wal.readUInt32BE(off + 4);
    if (pgno === 0 || wal.readUInt32BE(off + 8) !== salt1 || wal.readUInt32BE(off + 12) !== salt2) break;
    sum = walChecksum(wal, off, off + 8, bigEndian, sum);
    sum = walChecksum(wal, off + WAL_FRAME_HEADER, off + frameSize, bigEndian, sum);
    if (sum[0] !== wal.readUInt32BE(off + 16) || sum[1] !== wal.readUInt32BE(off + 20)) break;
    pending.set(pgno, off);
    if (commit !== 0) {
      for (const [p, o] of pending) pages.set(p, o);
      pending.clear();
      dbPages = commit;
      frames++;
    }
  }
  if (dbPages === 0) return { db, frames: 0 };
  // Every page of the result is in the main file or in a frame; a larger claim is not SQLite's.
  if (dbPages > Math.ceil(db.length / pageSize) + pages.size || dbPages * pageSize > MAX_DB_BYTES) {
    return ignore(`WAL claims a database of ${dbPages} pages`);
  }
  const out = Buffer.alloc(dbPages * pageSize);
  db.copy(out, 0, 0, Math.min(db.length, out.length));
  for (const [p, o] of pages) {
    if (p <= dbPages) wal.copy(out, (p - 1) * pageSize, o + WAL_FRAME_HEADER, o + frameSize);
  }
  return { db: out, frames };
}

/**
 * The header blobs of an `rpmdb.sqlite`, in `hnum` order. `wal` is the content of `rpmdb.sqlite-wal`, if any.
 */
export function readSqlitePackages(buf: Buffer, file: string, wal?: Buffer): RpmBlobSet {
  const where: ErrorLocation = { file, layer: 'rpm sqlite' };
  if (!isSqlite(buf))
    throw new HyperwardError('E_UNSUPPORTED_FORMAT', 'not an SQLite database', { ...where, offset: 0 });
  const problems: HyperwardError[] = [];
  let image = buf;
  if (wal !== undefined) {
    const r = applySqliteWal(buf, wal, file);
    image = r.db;
    if (r.problem) problems.push(r.problem);
  }
  // A private copy whose header says "rollback journal" (bytes 18/19 = 1): SQLite cannot open WAL in memory.
  const copy = Buffer.from(image);
  if (copy[18] === 2) copy[18] = 1;
  if (copy[19] === 2) copy[19] = 1;
  // SQLite is loaded here, for the images that hold an RPM database, not by every scan; outside the try below, so a
  // broken installation is not blamed on the image.
  const Sqlite = dependency<typeof Database>('better-sqlite3');
  let db: Database.Database | undefined;
  try {
    db = new Sqlite(copy, { readonly: true });
    db.pragma('trusted_schema = OFF');
    db.pragma('cell_size_check = ON');
    db.pragma('query_only = ON');
    const t = db.prepare("SELECT type, sql FROM sqlite_schema WHERE name = 'Packages'").get() as
      { type?: unknown; sql?: unknown } | undefined;
    // A view or a virtual table would run code of the file's choosing; rpm only ever creates a plain table.
    if (t?.type !== 'table' || /^\s*CREATE\s+VIRTUAL/i.test(String(t.sql))) {
      throw new HyperwardError('E_FS_CORRUPT', 'no plain Packages table', where);
    }
    const cols = (
      db.prepare("SELECT name FROM pragma_table_info('Packages')").all() as Array<{ name: unknown }>
    ).map((c) => String(c.name));
    if (!cols.includes('hnum') || !cols.includes('blob')) {
      throw new HyperwardError('E_FS_CORRUPT', `Packages table has columns ${cols.join(', ')}`, where);
    }
    const blobs: RpmBlob[] = [];
    const rows = db
      .prepare('SELECT hnum, length(blob) AS len FROM Packages ORDER BY hnum')
      .iterate() as IterableIterator<{
      hnum: unknown;
      len: unknown;
    }>;
    const one = db.prepare('SELECT blob FROM Packages WHERE hnum = ?').pluck();
    const wanted: number[] = [];
    for (const r of rows) {
      if (wanted.length >= MAX_SQLITE_PACKAGES) {
        problems.push(
          new HyperwardError('E_LIMIT', `more than ${MAX_SQLITE_PACKAGES} packages; the rest skipped`, where),
        );
        break;
      }
      const hnum = Number(r.hnum);
      const len = Number(r.len);
      if (!Number.isSafeInteger(hnum) || hnum <= 0) {
        problems.push(new HyperwardError('E_FS_CORRUPT', `row with hnum ${String(r.hnum)} skipped`, where));
        continue;
      }
      if (!Number.isSafeInteger(len) || len < 8 || len > MAX_BLOB) {
        problems.push(
          new HyperwardError('E_FS_CORRUPT', `hnum ${hnum}: blob of ${String(r.len)} bytes skipped`, {
            ...where,
            layer: `rpm sqlite hnum ${hnum}`,
          }),
        );
        continue;
      }
      wanted.push(hnum);
    }
    for (const hnum of wanted) {
      let blob: unknown;
      try {
        blob = one.get(hnum);
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        problems.push(
          new HyperwardError('E_FS_CORRUPT', `hnum ${hnum}: ${message}`, {
            ...where,
            layer: `rpm sqlite hnum ${hnum}`,
          }),
        );
        continue;
      }
      if (!Buffer.isBuffer(blob)) {
        problems.push(
          new HyperwardError('E_FS_CORRUPT', `hnum ${hnum}: blob is not a BLOB`, {
            ...where,
            layer: `rpm sqlite hnum ${hnum}`,
          }),
        );
        continue;
      }
      blobs.push({ instance: hnum, blob });
    }
    return { blobs, problems };
  } catch (err) {
    if (err instanceof HyperwardError) throw err;
    const message = err instanceof Error ? err.message : String(err);
    throw new HyperwardError('E_FS_CORRUPT', `SQLite cannot read the database: ${message}`, where, {
      cause: err,
    });
  } finally {
    db?.close();
  }
}
