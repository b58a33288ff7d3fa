/**
 * The offline advisory database: one SQLite file (better-sqlite3) that `db import` fills and every scan reads.
 *
 * Layout (schema version `SCHEMA_VERSION`, kept in `PRAGMA user_version`; `PRAGMA application_id` marks the file
 * as Hyperward's):
 * - `advisories`: one row per advisory — `rid` (stable integer id), `key` (unique), `id`, `origin`, `modified`,
 *   `withdrawn`, a content `hash`, and `body`, the JSON of the remaining fields;
 * - `affected`: one row per affected entry — the advisory's `rid`, `distro`, `package` and `entry`, the JSON of
 *   the rest of the `AffectedPackage`; indexed on (distro, package) for `lookup`, and on the advisory for updates;
 * - `sources`: what each import read (path, kind, time, records); `meta`: the time of the last import and the
 *   counts `info` reports, computed once per import.
 *
 * An import runs as one write transaction (`beginImport` … `commit`) in WAL mode: a process killed midway leaves
 * uncommitted frames in the WAL that SQLite discards on the next open, so the previous contents stay intact, and
 * scans can read the old contents while an import runs.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { HyperwardError } from '../../errors.js';
import { Lru } from '../../lru.js';
import type {
  Advisory,
  AdvisoryRecord,
  AdvisoryIndex,
  AdvisoryOrigin,
  AffectedHit,
  AffectedPackage,
  DistroKey,
} from '../types.js';

/** The schema this code writes and reads. */
export const SCHEMA_VERSION = 1;
/** `PRAGMA application_id` of a Hyperward advisory database: "HWAD". */
export const APPLICATION_ID = 0x48574144;

const ORIGINS: readonly AdvisoryOrigin[] = ['osv', 'debian-tracker', 'alpine-secdb'];

const SCHEMA = `
CREATE TABLE advisories (
  rid INTEGER PRIMARY KEY,
  key TEXT NOT NULL UNIQUE,
  id TEXT NOT NULL,
  origin TEXT NOT NULL,
  modified TEXT NOT NULL,
  withdrawn TEXT,
  hash TEXT NOT NULL,
  body TEXT NOT NULL
) STRICT;
CREATE TABLE affected (
  advisory INTEGER NOT NULL REFERENCES advisories(rid),
  distro TEXT NOT NULL,
  package TEXT NOT NULL,
  entry TEXT NOT NULL
) STRICT;
CREATE INDEX affected_by_package ON affected(distro, package);
CREATE INDEX affected_by_advisory ON affected(advisory);
CREATE TABLE sources (
  path TEXT NOT NULL,
  kind TEXT NOT NULL,
  imported_at TEXT NOT NULL,
  records INTEGER NOT NULL,
  PRIMARY KEY (path, kind)
) STRICT, WITHOUT ROWID;
CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT, WITHOUT ROWID;
`;

/** What `AdvisoryDb.info` reports. */
export interface AdvisoryDbInfo {
  path: string;
  schemaVersion: number;
  sources: Array<{ path: string; kind: AdvisoryOrigin; importedAt: string; records: number }>;
  /** Advisories in all. */
  advisories: number;
  /** Advisories per feed. */
  counts: Record<AdvisoryOrigin, number>;
  /** Advisories flagged withdrawn (kept, and left to the matcher to skip). */
  withdrawn: number;
  affectedRows: number;
  /** ISO time of the last completed import. */
  lastImport?: string;
  /** Advisories per distribution release, most first. */
  distros: Array<{ distro: DistroKey; advisories: number }>;
}

/** What storing one advisory did. */
export type PutOutcome = 'added' | 'updated' | 'unchanged';

/** The one write transaction of an import. */
export interface ImportTransaction {
  /**
   * Stores one advisory: new key → added; same content → unchanged; changed content with a `modified` not older
   * than the stored one → updated (its affected rows replaced); older → unchanged (the newer one is kept).
   */
  put(adv: Advisory): PutOutcome;
  /** Records that `records` advisories of `kind` were read from `path`. */
  source(path: string, kind: AdvisoryOrigin, records: number): void;
  /** Commits everything, stamping `importedAt` as the time of the last import. */
  commit(): void;
  /** Discards everything since `beginImport`. */
  rollback(): void;
}

interface Existing {
  rid: number;
  hash: string;
  modified: string;
}

interface AdvisoryRow {
  rid: number;
  key: string;
  id: string;
  origin: string;
  modified: string;
  withdrawn: string | null;
  body: string;
}

/** The fields of an `Advisory` kept in `body`. */
type Body = Pick<
  Advisory,
  | 'aliases'
  | 'upstream'
  | 'related'
  | 'summary'
  | 'details'
  | 'published'
  | 'severity'
  | 'distroSeverity'
  | 'references'
>;
/** The fields of an `AffectedPackage` kept in `entry`. */
type Entry = Omit<AffectedPackage, 'distro' | 'package'>;

function isSqliteError(e: unknown): e is Error & { code: string } {
  const code = (e as { code?: unknown } | null)?.code;
  return e instanceof Error && typeof code === 'string' && code.startsWith('SQLITE_');
}

/** A SQLite failure as a HyperwardError naming the database file. */
function dbError(path: string, e: unknown, doing: string): HyperwardError {
  if (e instanceof HyperwardError) return e;
  const code = isSqliteError(e) ? e.code : '';
  const msg = e instanceof Error ? e.message : String(e);
  if (code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT')) {
    return new HyperwardError(
      'E_IO',
      `not a SQLite database, or a corrupt one (${msg}) while ${doing}: delete it and run \`hyperward db import\` again`,
      { file: path, layer: 'advisory database' },
      { cause: e },
    );
  }
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return new HyperwardError(
      'E_IO',
      `the database is locked (another import running?) while ${doing}`,
      {
        file: path,
        layer: 'advisory database',
      },
      { cause: e },
    );
  }
  return new HyperwardError(
    'E_IO',
    `${doing}: ${msg}`,
    { file: path, layer: 'advisory database' },
    { cause: e },
  );
}

function contentHash(
  id: string,
  origin: string,
  withdrawn: string | undefined,
  body: string,
  entries: string[],
): string {
  const h = createHash('sha256');
  h.update(JSON.stringify([id, origin, withdrawn ?? null, body]));
  for (const e of entries) h.update('\n').update(e);
  return h.digest('base64url').slice(0, 32);
}

/** `a` is strictly older than `b` (ISO times; string order when one does not parse). */
function olderThan(a: string, b: string): boolean {
  const x = Date.parse(a);
  const y = Date.parse(b);
  return Number.isFinite(x) && Number.isFinite(y) ? x < y : a < b;
}

/** An advisory row as the matcher sees it (no affected entries). */
function recordOf(row: AdvisoryRow): AdvisoryRecord {
  const b = JSON.parse(row.body) as Body;
  const adv: AdvisoryRecord = {
    key: row.key,
    id: row.id,
    origin: row.origin as AdvisoryOrigin,
    aliases: b.aliases,
    upstream: b.upstream ?? [],
    related: b.related,
    modified: row.modified,
    severity: b.severity,
    references: b.references,
  };
  if (b.summary !== undefined) adv.summary = b.summary;
  if (b.details !== undefined) adv.details = b.details;
  if (b.published !== undefined) adv.published = b.published;
  if (row.withdrawn !== null) adv.withdrawn = row.withdrawn;
  if (b.distroSeverity !== undefined) adv.distroSeverity = b.distroSeverity;
  return adv;
}

function bodyOf(a: Advisory): string {
  const b: Body = {
    aliases: a.aliases,
    upstream: a.upstream,
    related: a.related,
    summary: a.summary,
    details: a.details,
    published: a.published,
    severity: a.severity,
    distroSeverity: a.distroSeverity,
    references: a.references,
  };
  return JSON.stringify(b);
}

function entryOf(p: AffectedPackage): string {
  const e: Entry = {
    ecosystem: p.ecosystem,
    scheme: p.scheme,
    ranges: p.ranges,
    versions: p.versions,
    arches: p.arches,
    module: p.module,
    distroSeverity: p.distroSeverity,
    wontFix: p.wontFix,
  };
  return JSON.stringify(e);
}

function affectedOf(distro: string, pkg: string, entry: string): AffectedPackage {
  const e = JSON.parse(entry) as Entry;
  const out: AffectedPackage = {
    ecosystem: e.ecosystem,
    distro,
    scheme: e.scheme,
    package: pkg,
    ranges: e.ranges,
    versions: e.versions,
  };
  if (e.arches !== undefined) out.arches = e.arches;
  if (e.module !== undefined) out.module = e.module;
  if (e.distroSeverity !== undefined) out.distroSeverity = e.distroSeverity;
  if (e.wontFix !== undefined) out.wontFix = e.wontFix;
  return out;
}

/** The counts of `AdvisoryDbInfo`, kept in `meta` under `stats` by each import. */
type Stats = Pick<AdvisoryDbInfo, 'advisories' | 'counts' | 'withdrawn' | 'affectedRows' | 'distros'>;

function emptyStats(): Stats {
  const counts = Object.fromEntries(ORIGINS.map((o) => [o, 0])) as Record<AdvisoryOrigin, number>;
  return { advisories: 0, counts, withdrawn: 0, affectedRows: 0, distros: [] };
}

/** Counts every advisory and affected row: once per import, inside its transaction. */
function computeStats(db: Database.Database): Stats {
  const stats = emptyStats();
  for (const r of db
    .prepare<[], { origin: string; n: number }>(
      'SELECT origin, count(*) AS n FROM advisories GROUP BY origin',
    )
    .all()) {
    if ((ORIGINS as readonly string[]).includes(r.origin)) stats.counts[r.origin as AdvisoryOrigin] = r.n;
    stats.advisories += r.n;
  }
  stats.withdrawn = db
    .prepare<[], number>('SELECT count(*) FROM advisories WHERE withdrawn IS NOT NULL')
    .pluck()
    .get()!;
  stats.affectedRows = db.prepare<[], number>('SELECT count(*) FROM affected').pluck().get()!;
  stats.distros = db
    .prepare<[], { distro: string; advisories: number }>(
      'SELECT distro, count(DISTINCT advisory) AS advisories FROM affected GROUP BY distro ' +
        'ORDER BY advisories DESC, distro',
    )
    .all();
  return stats;
}

/**
 * The advisory database. Open it with `AdvisoryDb.open`; scans use it through `AdvisoryIndex` (`lookup`,
 * `advisory`), `db import` through `beginImport`.
 *
 * @example
 * const db = AdvisoryDb.open(AdvisoryDb.defaultPath(), { readonly: true });
 * for (const hit of db.lookup('debian:12', 'openssl')) console.log(hit.advisoryKey, hit.affected.ranges);
 * db.close();
 */
export class AdvisoryDb implements AdvisoryIndex {
  private readonly cache = new Lru<string, AdvisoryRecord | null>(16_384);
  private lookupStmt: Database.Statement<[string, string], { key: string; entry: string }> | undefined;
  private advisoryStmt: Database.Statement<[string], AdvisoryRow> | undefined;

  private constructor(
    /** The database file, as given. */
    readonly path: string,
    private readonly db: Database.Database,
    readonly readonly: boolean,
  ) {}

  /**
   * The default database file: `$HYPERWARD_DB`, else `${XDG_CACHE_HOME:-$HOME/.cache}/hyperward/advisories.db`.
   */
  static defaultPath(env: NodeJS.ProcessEnv = process.env): string {
    const explicit = env.HYPERWARD_DB;
    if (explicit !== undefined && explicit !== '') return explicit;
    const xdg = env.XDG_CACHE_HOME;
    const cache = xdg !== undefined && isAbsolute(xdg) ? xdg : join(env.HOME || homedir(), '.cache');
    return join(cache, 'hyperward', 'advisories.db');
  }

  /**
   * Opens (and, for writing, creates) the database at `path`.
   * @throws HyperwardError `E_NOT_FOUND` when opening read-only a file that does not exist; `E_IO` naming the file
   * when it is not a SQLite database, is corrupt, belongs to something else, or has a schema newer than this
   * code (an upgrade of Hyperward reads it) or older.
   */
  static open(path: string, opts: { readonly?: boolean } = {}): AdvisoryDb {
    const ro = opts.readonly === true;
    const where = { file: path, layer: 'advisory database' };
    if (ro && !existsSync(path)) {
      throw new HyperwardError(
        'E_NOT_FOUND',
        'no advisory database here: run `hyperward db import` first',
        where,
      );
    }
    let db: Database.Database;
    try {
      if (!ro) mkdirSync(dirname(resolve(path)), { recursive: true });
      db = new Database(path, { readonly: ro, fileMustExist: ro, timeout: 10_000 });
    } catch (e) {
      throw dbError(path, e, 'opening');
    }
    try {
      const appId = db.pragma('application_id', { simple: true }) as number;
      const version = db.pragma('user_version', { simple: true }) as number;
      const tables = db.prepare('SELECT count(*) FROM sqlite_schema').pluck().get() as number;
      if (appId === 0 && version === 0 && tables === 0) {
        if (ro)
          throw new HyperwardError(
            'E_NOT_FOUND',
            'the advisory database is empty: run `hyperward db import`',
            where,
          );
        AdvisoryDb.create(db, path);
      } else if (appId !== APPLICATION_ID) {
        throw new HyperwardError('E_IO', 'this SQLite file is not a Hyperward advisory database', where);
      } else if (version > SCHEMA_VERSION) {
        throw new HyperwardError(
          'E_IO',
          `database schema ${version} is newer than this Hyperward reads (${SCHEMA_VERSION}): upgrade Hyperward, or import into another file with --db`,
          where,
        );
      } else if (version !== SCHEMA_VERSION) {
        throw new HyperwardError(
          'E_IO',
          `unknown database schema ${version} (this Hyperward reads ${SCHEMA_VERSION}): delete the file and import again`,
          where,
        );
      }
      if (!ro) {
        db.pragma('journal_mode = WAL');
        db.pragma('synchronous = NORMAL');
      } else {
        // Matching reads pages all over the file: map it rather than copy each page through read(), and keep
        // more of it in SQLite's own cache.
        db.pragma('mmap_size = 1073741824');
        db.pragma('cache_size = -65536');
      }
      return new AdvisoryDb(path, db, ro);
    } catch (e) {
      db.close();
      throw dbError(path, e, 'opening');
    }
  }

  private static create(db: Database.Database, path: string): void {
    db.exec('BEGIN IMMEDIATE');
    try {
      // Another process may have created it between our check and the lock.
      if ((db.pragma('user_version', { simple: true }) as number) === 0) {
        db.pragma('journal_mode = WAL');
        db.exec(SCHEMA);
        db.pragma(`application_id = ${APPLICATION_ID}`);
        db.pragma(`user_version = ${SCHEMA_VERSION}`);
      }
      db.exec('COMMIT');
    } catch (e) {
      if (db.inTransaction) db.exec('ROLLBACK');
      throw dbError(path, e, 'creating the schema');
    }
  }

  /** Every affected entry for one source or binary package of one distribution release (exact keys). */
  lookup(distro: DistroKey, pkg: string): AffectedHit[] {
    try {
      this.lookupStmt ??= this.db.prepare<[string, string], { key: string; entry: string }>(
        'SELECT a.key AS key, f.entry AS entry FROM affected f JOIN advisories a ON a.rid = f.advisory ' +
          'WHERE f.distro = ? AND f.package = ? ORDER BY f.rowid',
      );
      return this.lookupStmt
        .all(distro, pkg)
        .map((r) => ({ advisoryKey: r.key, affected: affectedOf(distro, pkg, r.entry) }));
    } catch (e) {
      throw dbError(this.path, e, `looking up ${distro} ${pkg}`);
    }
  }

  /** The advisory stored under `key`, without its affected entries; cached (LRU), one prepared statement. */
  advisory(key: string): AdvisoryRecord | undefined {
    const cached = this.cache.get(key);
    if (cached !== undefined) return cached ?? undefined;
    let adv: AdvisoryRecord | undefined;
    try {
      this.advisoryStmt ??= this.db.prepare<[string], AdvisoryRow>(
        'SELECT rid, key, id, origin, modified, withdrawn, body FROM advisories WHERE key = ?',
      );
      const row = this.advisoryStmt.get(key);
      if (row !== undefined) adv = recordOf(row);
    } catch (e) {
      throw dbError(this.path, e, `reading advisory ${key}`);
    }
    this.cache.set(key, adv ?? null);
    return adv;
  }

  /** The whole advisory stored under `key`, its affected entries included (not cached: for export and tests). */
  record(key: string): Advisory | undefined {
    try {
      const row = this.db
        .prepare<[string], AdvisoryRow>(
          'SELECT rid, key, id, origin, modified, withdrawn, body FROM advisories WHERE key = ?',
        )
        .get(key);
      if (row === undefined) return undefined;
      const entries = this.db
        .prepare<[number], { distro: string; package: string; entry: string }>(
          'SELECT distro, package, entry FROM affected WHERE advisory = ? ORDER BY rowid',
        )
        .all(row.rid);
      return { ...recordOf(row), affected: entries.map((e) => affectedOf(e.distro, e.package, e.entry)) };
    } catch (e) {
      throw dbError(this.path, e, `reading advisory ${key}`);
    }
  }

  /** ISO time of the last completed import, or undefined before the first. Cheap: for every scan's age check. */
  lastImport(): string | undefined {
    try {
      const v = this.db
        .prepare<[], string>("SELECT value FROM meta WHERE name = 'last_import'")
        .pluck()
        .get();
      return v ?? undefined;
    } catch (e) {
      throw dbError(this.path, e, 'reading the time of the last import');
    }
  }

  /** Sources, counts per feed and per distribution release, and the last import. */
  info(): AdvisoryDbInfo {
    try {
      // The counts are computed once per import, in its transaction (see `computeStats`): a scan that checks the
      // database's age pays for two small reads, not for a pass over every row.
      const raw = this.db.prepare<[], string>("SELECT value FROM meta WHERE name = 'stats'").pluck().get();
      const stats = raw === undefined ? emptyStats() : (JSON.parse(raw) as Stats);
      const sources = this.db
        .prepare<[], { path: string; kind: string; importedAt: string; records: number }>(
          'SELECT path, kind, imported_at AS importedAt, records FROM sources ORDER BY imported_at DESC, path, kind',
        )
        .all()
        .map((s) => ({ ...s, kind: s.kind as AdvisoryOrigin }));
      const out: AdvisoryDbInfo = {
        path: this.path,
        schemaVersion: this.db.pragma('user_version', { simple: true }) as number,
        sources,
        ...stats,
      };
      const last = this.lastImport();
      if (last !== undefined) out.lastImport = last;
      return out;
    } catch (e) {
      throw dbError(this.path, e, 'reading the database summary');
    }
  }

  /**
   * Starts the one write transaction of an import (`BEGIN IMMEDIATE`: a second import waits, then fails).
   * @param importedAt ISO time stamped on the sources and as the last import.
   * @param opts.cacheKiB SQLite page cache for the transaction (default 128 MiB): a larger one spills fewer
   * uncommitted pages to the WAL.
   */
  beginImport(importedAt: string, opts: { cacheKiB?: number } = {}): ImportTransaction {
    if (this.readonly)
      throw new HyperwardError('E_USAGE', 'the database was opened read-only', { file: this.path });
    const db = this.db;
    const path = this.path;
    try {
      const kib = opts.cacheKiB ?? 131_072;
      if (!Number.isSafeInteger(kib) || kib < 64) {
        throw new HyperwardError('E_USAGE', `import cache of ${kib} KiB: give a whole number of at least 64`);
      }
      db.pragma(`cache_size = -${kib}`);
      db.exec('BEGIN IMMEDIATE');
    } catch (e) {
      throw dbError(path, e, 'starting the import');
    }
    const find = db.prepare<[string], Existing>('SELECT rid, hash, modified FROM advisories WHERE key = ?');
    const insert = db.prepare<[string, string, string, string, string | null, string, string]>(
      'INSERT INTO advisories (key, id, origin, modified, withdrawn, hash, body) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    const update = db.prepare<[string, string, string, string | null, string, string, number]>(
      'UPDATE advisories SET id = ?, origin = ?, modified = ?, withdrawn = ?, hash = ?, body = ? WHERE rid = ?',
    );
    const dropAffected = db.prepare<[number]>('DELETE FROM affected WHERE advisory = ?');
    const addAffected = db.prepare<[number | bigint, string, string, string]>(
      'INSERT INTO affected (advisory, distro, package, entry) VALUES (?, ?, ?, ?)',
    );
    const addSource = db.prepare<[string, string, string, number]>(
      'INSERT INTO sources (path, kind, imported_at, records) VALUES (?, ?, ?, ?) ' +
        'ON CONFLICT (path, kind) DO UPDATE SET imported_at = excluded.imported_at, records = excluded.records',
    );
    const setMeta = db.prepare<[string, string]>(
      'INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value',
    );
    const cache = this.cache;
    let open = true;
    const guard = <T>(doing: string, fn: () => T): T => {
      if (!open)
        throw new HyperwardError('E_INTERNAL', 'the import transaction is already finished', { file: path });
      try {
        return fn();
      } catch (e) {
        throw dbError(path, e, doing);
      }
    };
    return {
      put: (adv) =>
        guard(`storing ${adv.key}`, () => {
          const body = bodyOf(adv);
          const entries = adv.affected.map(entryOf);
          const hash = contentHash(adv.id, adv.origin, adv.withdrawn, body, entries);
          const old = find.get(adv.key);
          const withdrawn = adv.withdrawn ?? null;
          let rid: number | bigint;
          if (old === undefined) {
            rid = insert.run(
              adv.key,
              adv.id,
              adv.origin,
              adv.modified,
              withdrawn,
              hash,
              body,
            ).lastInsertRowid;
          } else if (old.hash === hash || olderThan(adv.modified, old.modified)) {
            return 'unchanged';
          } else {
            rid = old.rid;
            update.run(adv.id, adv.origin, adv.modified, withdrawn, hash, body, old.rid);
            dropAffected.run(old.rid);
          }
          adv.affected.forEach((p, i) => addAffected.run(rid, p.distro, p.package, entries[i]!));
          return old === undefined ? 'added' : 'updated';
        }),
      source: (p, kind, records) =>
        guard('recording a source', () => void addSource.run(p, kind, importedAt, records)),
      commit: () =>
        guard('committing the import', () => {
          setMeta.run('stats', JSON.stringify(computeStats(db)));
          setMeta.run('last_import', importedAt);
          db.exec('COMMIT');
          open = false;
          cache.clear();
          try {
            db.pragma('wal_checkpoint(TRUNCATE)');
          } catch {
            // A reader holds the WAL: the next writer checkpoints.
          }
        }),
      rollback: () => {
        if (!open) return;
        open = false;
        cache.clear();
        try {
          if (db.inTransaction) db.exec('ROLLBACK');
        } catch (e) {
          throw dbError(path, e, 'rolling back the import');
        }
      },
    };
  }

  /** Closes the file. */
  close(): void {
    this.lookupStmt = undefined;
    this.advisoryStmt = undefined;
    this.cache.clear();
    if (this.db.open) this.db.close();
  }
}
