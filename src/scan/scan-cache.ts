/**
 * The scan cache: what a scan of an image found, stored under a fingerprint of the image that costs almost nothing
 * to compute, so a rescan of an unchanged image (or a whole unchanged library) reads a few kilobytes per image.
 *
 * The fingerprint covers, for every file the image reads (the image, its VMDK extents, its backing chain): device,
 * inode, size, modification and status-change times (ctime cannot be set back by a user, so any write to the file
 * changes it); the SHA-256 of every byte that opening the image read (its headers, descriptor, L1 table or block
 * allocation table: what opening costs anyway, and nothing more); the analyzer's version and revision; and every
 * option that changes what a scan finds. What depends on
 * the moment of the scan (staleness) or on the advisory database (vulnerabilities) is not cached: it is judged
 * again on every run from the cached inventory.
 *
 * The store is one SQLite file (WAL, one transaction per write), so a killed process leaves it intact; a damaged
 * or foreign file is reported once and the scan goes on without a cache. Entries are compressed and the least
 * recently used are dropped beyond a size budget.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deserialize, serialize } from 'node:v8';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import Database from 'better-sqlite3';
import { userCacheDir } from '../cache-dir.js';
import { HyperwardError } from '../errors.js';
import { VERSION } from '../version.js';

/**
 * Bump when what a scan finds changes for the same image (a new inspector, a fixed parser). Keys also carry a
 * digest of the analyzer's own code (`codeDigest`), so a changed build never serves another build's results even
 * when this is forgotten.
 */
export const ANALYZER_REVISION = 2;
/** Largest entry, serialized; bigger results are not cached (and a stored one that inflates past it is a miss). */
const MAX_ENTRY_BYTES = 256 * 1024 * 1024;
/** Default size budget of the whole cache (compressed bytes). */
export const DEFAULT_CACHE_BUDGET = 512 * 1024 * 1024;

const APPLICATION_ID = 0x48577343; // 'HWsC'
const SCHEMA_VERSION = 1;
const SCHEMA = `
CREATE TABLE entries (
  key TEXT PRIMARY KEY,
  target TEXT NOT NULL,
  created INTEGER NOT NULL,
  used INTEGER NOT NULL,
  size INTEGER NOT NULL,
  body BLOB NOT NULL
) WITHOUT ROWID;
CREATE INDEX entries_used ON entries(used);
`;

/** Identity of one file, as hashed into a fingerprint: device, inode, size, mtime and ctime in nanoseconds. */
function fileIdentity(path: string): string {
  let st;
  try {
    st = statSync(path, { bigint: true });
  } catch (e) {
    throw new HyperwardError('E_IO', `cannot stat: ${(e as Error).message}`, {
      file: path,
      layer: 'scan cache',
    });
  }
  return [st.dev, st.ino, st.size, st.mtimeNs, st.ctimeNs].join(':');
}

/**
 * The cache key of an image: its files' identities, the digest of the header and metadata blocks opening it read
 * (see the module comment), the analyzer's version and revision, and the options that change the result.
 *
 * @param files the files the image reads, top first (`DeviceInfo.files` of the opened image)
 * @param metadataDigest a digest of the bytes read while opening the image
 * @param options every option that changes what a scan of this image finds, as a JSON-able value
 */
export function imageFingerprint(
  files: readonly string[],
  metadataDigest: string,
  options: unknown,
  code = '',
): string {
  const h = createHash('sha256');
  h.update(`hyperward ${VERSION} r${ANALYZER_REVISION} v8 ${process.versions.v8} code ${code}\n`);
  h.update(JSON.stringify(options ?? null) + '\n');
  h.update(metadataDigest + '\n');
  for (const f of files) h.update(`${f}\n${fileIdentity(f)}\n`);
  return h.digest('hex');
}

/**
 * A digest of the code that analyses images: every JavaScript file of the bundle this module was built into (the
 * CLI's `dist/cli/`), or, run from sources or the per-file build, every module of the source tree it belongs to
 * (tests excluded). A few milliseconds, once per run that uses the cache.
 */
export function codeDigest(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const bundled = existsSync(join(here, 'image-worker.js')) && existsSync(join(here, 'hyperward.cjs'));
  const root = bundled ? here : dirname(here);
  const files: string[] = [];
  const walk = (dir: string, depth: number): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory() && !bundled && depth < 8) walk(p, depth + 1);
      else if (e.isFile() && /\.(?:[cm]?js|ts|json)$/.test(e.name) && !/\.test\.|\.d\.ts$/.test(e.name)) {
        files.push(p);
      }
    }
  };
  walk(root, 0);
  const h = createHash('sha256');
  for (const f of files.sort()) h.update(`${relative(root, f)}\n`).update(readFileSync(f));
  return h.digest('hex').slice(0, 32);
}

export interface ScanCacheOptions {
  /** Compressed bytes kept at most; the least recently used entries go first. */
  budgetBytes?: number;
  /** The clock, for `used` times (tests). */
  now?: () => number;
}

/**
 * A scan cache file. Values are anything the structured-clone algorithm takes (dates included); `get` returns
 * undefined for a miss and for an entry that no longer decodes.
 */
export class ScanCache {
  private readonly getStmt;
  private readonly touchStmt;
  private readonly putStmt;
  private readonly budget: number;
  private readonly now: () => number;

  private constructor(
    readonly path: string,
    private readonly db: Database.Database,
    opts: ScanCacheOptions,
  ) {
    this.budget = opts.budgetBytes ?? DEFAULT_CACHE_BUDGET;
    this.now = opts.now ?? Date.now;
    this.getStmt = db.prepare<[string], { body: Buffer }>('SELECT body FROM entries WHERE key = ?');
    this.touchStmt = db.prepare<[number, string]>('UPDATE entries SET used = ? WHERE key = ?');
    this.putStmt = db.prepare<[string, string, number, number, number, Buffer]>(
      'INSERT OR REPLACE INTO entries (key, target, created, used, size, body) VALUES (?, ?, ?, ?, ?, ?)',
    );
  }

  /**
   * The default cache file: `$HYPERWARD_SCAN_CACHE`, else `${XDG_CACHE_HOME:-$HOME/.cache}/hyperward/scan-cache.db`.
   */
  static defaultPath(env: NodeJS.ProcessEnv = process.env): string {
    const explicit = env.HYPERWARD_SCAN_CACHE;
    if (explicit !== undefined && explicit !== '') return explicit;
    return join(userCacheDir(env), 'scan-cache.db');
  }

  /**
   * Opens or creates the cache at `path`.
   * @throws HyperwardError `E_IO` naming the file when it cannot be created, is not a Hyperward scan cache, or has
   *   another schema (the caller goes on without a cache).
   */
  static open(path: string, opts: ScanCacheOptions = {}): ScanCache {
    const where = { file: path, layer: 'scan cache' };
    let db: Database.Database;
    try {
      mkdirSync(dirname(resolve(path)), { recursive: true });
      db = new Database(path, { timeout: 10_000 });
    } catch (e) {
      throw new HyperwardError('E_IO', `cannot open the scan cache: ${(e as Error).message}`, where, {
        cause: e,
      });
    }
    try {
      const appId = db.pragma('application_id', { simple: true }) as number;
      const version = db.pragma('user_version', { simple: true }) as number;
      if (appId === 0 && version === 0) {
        db.exec('BEGIN IMMEDIATE');
        try {
          if ((db.pragma('user_version', { simple: true }) as number) === 0) {
            const tables = db.prepare('SELECT count(*) FROM sqlite_schema').pluck().get() as number;
            if (tables !== 0) throw new Error('not a Hyperward scan cache');
            db.exec(SCHEMA);
            db.pragma(`application_id = ${APPLICATION_ID}`);
            db.pragma(`user_version = ${SCHEMA_VERSION}`);
          }
          db.exec('COMMIT');
        } catch (e) {
          if (db.inTransaction) db.exec('ROLLBACK');
          throw e;
        }
      } else if (appId !== APPLICATION_ID) {
        throw new Error('not a Hyperward scan cache');
      } else if (version !== SCHEMA_VERSION) {
        throw new Error(
          `scan cache schema ${version}, this Hyperward uses ${SCHEMA_VERSION}: delete the file`,
        );
      }
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      return new ScanCache(path, db, opts);
    } catch (e) {
      db.close();
      throw new HyperwardError('E_IO', (e as Error).message, where, { cause: e });
    }
  }

  private code: string | undefined;

  /** The key of an image in this cache: `imageFingerprint` with the digest of the code that runs. */
  key(files: readonly string[], metadataDigest: string, options: unknown): string {
    this.code ??= codeDigest();
    return imageFingerprint(files, metadataDigest, options, this.code);
  }

  /** The value stored under `key`, or undefined (a miss, or an entry that no longer decodes). */
  get(key: string): unknown {
    try {
      const row = this.getStmt.get(key);
      if (row === undefined) return undefined;
      const value: unknown = deserialize(inflateRawSync(row.body, { maxOutputLength: MAX_ENTRY_BYTES }));
      this.touchStmt.run(this.now(), key);
      return value;
    } catch (e) {
      this.problem(e);
      return undefined;
    }
  }

  /** Stores `value` under `key` (one transaction), then trims the cache to its budget. */
  put(key: string, target: string, value: unknown): void {
    try {
      const raw = serialize(value);
      if (raw.length > MAX_ENTRY_BYTES) return;
      const body = deflateRawSync(raw, { level: 1 });
      const t = this.now();
      this.putStmt.run(key, target, t, t, body.length, body);
      this.trim();
    } catch (e) {
      this.problem(e);
    }
  }

  /**
   * What went wrong while reading or writing entries (a damaged entry, a full disk, a lock held too long): the
   * scan went on without the cache for those images. At most the first ten are kept.
   */
  readonly problems: string[] = [];

  private problem(e: unknown): void {
    if (this.problems.length < 10) this.problems.push(`${this.path}: ${(e as Error).message}`);
  }

  /** Drops the least recently used entries while the cache is over its budget. */
  private trim(): void {
    const total = this.db.prepare('SELECT coalesce(sum(size), 0) FROM entries').pluck().get() as number;
    if (total <= this.budget) return;
    let excess = total - this.budget;
    const victims: string[] = [];
    for (const r of this.db
      .prepare<[], { key: string; size: number }>('SELECT key, size FROM entries ORDER BY used, key')
      .iterate()) {
      if (excess <= 0) break;
      victims.push(r.key);
      excess -= r.size;
    }
    const del = this.db.prepare<[string]>('DELETE FROM entries WHERE key = ?');
    this.db.transaction(() => victims.forEach((k) => del.run(k)))();
  }

  /** Entries and their compressed bytes. */
  info(): { entries: number; bytes: number } {
    const r = this.db
      .prepare<[], { n: number; b: number }>('SELECT count(*) AS n, coalesce(sum(size), 0) AS b FROM entries')
      .get();
    return { entries: r?.n ?? 0, bytes: r?.b ?? 0 };
  }

  /** Deletes every entry. */
  clear(): void {
    this.db.exec('DELETE FROM entries');
  }

  close(): void {
    this.db.close();
  }
}
