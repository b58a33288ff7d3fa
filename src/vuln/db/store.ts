/**
 * The offline advisory database: one SQLite file (better-sqlite3) that `db import` fills and every scan reads.
 *
 * Layout (schema version `SCHEMA_VERSION`, kept in `PRAGMA user_version`; `PRAGMA application_id` marks the file
 * as Hyperward's):
 * - `advisories`: one row per advisory — `rid` (stable integer id), `key` (unique), `id`, `origin`, `modified`,
 *   `withdrawn` and a content `hash`: what an import compares;
 * - `bodies`: the JSON of the remaining fields of each advisory (details, references...), by `rid`: read only to
 *   give a whole record back (`advisory`, `record`), never while matching;
 * - `affected`: one row per affected entry, clustered by (`distro`, `package`) — a WITHOUT ROWID table whose key
 *   is (distro, package, advisory rid, position in the record), so all entries of one package sit together and
 *   come in the order their advisories were first stored. Each row carries the advisory's `key`, `entry` (the
 *   JSON of the rest of the `AffectedPackage`) and `facts`: the JSON of what matching needs of the advisory
 *   (`MatchFacts` without the key — vulnerability ids, CVSS vectors already scored, alias ids, one-line summary,
 *   links), derived at import time by `matchFactsOf`. The facts are repeated on each entry of an advisory (a
 *   third more file) so that matching reads a package's rows as one run of pages, with no JOIN and no lookup
 *   elsewhere in the file: on a fresh connection those random reads were most of the time. Indexed on the
 *   advisory for updates. What `lookup`, `record` and the packing below read;
 * - `match_rows`: what matching reads — one row per (`distro`, `package`), a WITHOUT ROWID table, whose `data` packs
 *   every affected entry of that package with the facts of their advisories (`packed.ts`: range events as
 *   positions in a table of the row's versions sorted once at import, facts decoded only for the advisories a
 *   match needs). Derived from `affected` by each import for the pairs it touched (every pair when the rows were
 *   packed by another `PACKED_FORMAT`, kept in `meta` as `match_version`, or the facts were derived again), in the
 *   import's transaction. Its `verdicts` (schema 4) are what the row says about every installed version at once
 *   (`verdict.ts`), worked out from `data` in the same transaction (`verdict_version` in `meta`);
 * - the verdict file (`verdictFilePath`: the database file's name, symbolic links followed, and `-verdicts`): every
 *   row's `verdicts`, by distro and package, in a keyed file (`keyed-file.ts`) that a scan reads with a few
 *   positioned reads instead of a query per batch of names. Written atomically after every import, tagged (JSON)
 *   with a random `verdict_generation` that the import's transaction stores in `meta`, the formats it was made by,
 *   and — when the WAL is empty after the import's checkpoint — the database file's identity (device, inode,
 *   size, modification and change times). A read-only handle opened by the file's header trusts the verdict file
 *   while the database file is still the one its tag names and nothing waits in the WAL; otherwise it asks SQLite
 *   for the generation. A file that is not the database's (an import killed between its commit and the file's
 *   rename, a file copied from elsewhere, one damaged at its head) is not used, and matching evaluates the packed
 *   rows instead, with the same findings. Findings are built from packed rows read in one read transaction with
 *   the generation, which must be the verdicts' (an import that commits between deciding and building is an
 *   error, never findings of two imports mixed); a handle that lives on checks its verdict file again on every
 *   match;
 * - `cve_records` and `cpe_affected`: NVD CVE records (`import/nvd.ts`), matched by CPE rather than by package —
 *   one row per record (`key` `nvd:CVE-…`, `modified`, content `hash`, and `body`, the JSON of the `CveRecord`
 *   without its matches), and one row per vulnerable `cpeMatch` entry keyed by (vendor, product) for
 *   `cpeLookup`;
 * - `sources`: what each import read (path, kind, time, records); `meta`: the time of the last import, the counts
 *   `info` reports (computed once per import) and `facts_version`, the `FACTS_VERSION` the facts were derived
 *   with (an import by a newer derivation re-derives every row; a reader of other facts derives them itself).
 *
 * Matching an inventory reads the verdicts of its package names from the verdict file (`verdictRows`) and decides
 * from them alone; building the findings then reads the packed rows of the packages with vulnerabilities, in one
 * query (`matchRows` with the verdicts' generation). Without a usable verdict file, matching reads the packed rows of all its names in one query
 * per distro release and evaluates them. A file whose packed rows cannot be used (another `PACKED_FORMAT` or `FACTS_VERSION`) is matched
 * from its affected rows instead (`lookupMany`, which keeps the facts it read for `matchFacts`), with the same
 * findings.
 *
 * An import runs as one write transaction (`beginImport` … `commit`) in WAL mode: a process killed midway leaves
 * uncommitted frames in the WAL that SQLite discards on the next open, so the previous contents stay intact, and
 * scans can read the old contents while an import runs.
 *
 * Schema history: 1 (advisory bodies and facts in one column, affected rows in insertion order, matched through a
 * JOIN) is refused with a request to import again: its rows cannot be matched without the facts. 2 (no
 * `match_rows`) and 3 (no `verdicts`) are upgraded in place when opened for an import, which packs every row when
 * it commits; opened read-only they are read as they are (more slowly), and scans ask for an import.
 */
import { createHash, randomUUID } from 'node:crypto';
import {
  closeSync,
  constants as fsConstants,
  fstatSync,
  realpathSync,
  mkdirSync,
  openSync,
  readSync,
  statSync,
  type BigIntStats,
} from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { HyperwardError } from '../../errors.js';
import { Lru } from '../../lru.js';
import { scoreVector } from '../cvss.js';
import { defaultDbPath } from '../defaults.js';
import { MAX_ENTRIES_PER_PRODUCT, type CpeIndex, type CpeMatchEntry, type CveRecord } from '../cpe-match.js';
import { FACTS_VERSION, hasFactsShape, matchFactsOf } from '../facts.js';
import { encodePackedRow, PACKED_FORMAT, PackedRow, type PackedInput } from '../packed.js';
import { ratingSource } from '../severity.js';
import { encodeVerdicts, NO_VERDICTS, VERDICT_FORMAT, VerdictRow } from '../verdict.js';
import { KeyedFile, writeKeyedFile } from './keyed-file.js';
import type { CvssScore } from '../../model/finding.js';
import type { PackageEcosystem } from '../../model/inventory.js';
import type {
  Advisory,
  AdvisoryRecord,
  AdvisoryIndex,
  AdvisoryOrigin,
  AffectedHit,
  AffectedPackage,
  DistroKey,
  MatchFacts,
} from '../types.js';

/** The schema this code writes and reads. */
export const SCHEMA_VERSION = 4;
/** `PRAGMA application_id` of a Hyperward advisory database: "HWAD". */
export const APPLICATION_ID = 0x48574144;

const ORIGINS: readonly AdvisoryOrigin[] = ['osv', 'debian-tracker', 'alpine-secdb', 'nvd'];

/**
 * The packed match rows (`packed.ts`), one per (distro, package): added by schema 3; with the verdicts worked out
 * from each (`verdict.ts`) since schema 4.
 */
const MATCH_ROWS = `CREATE TABLE match_rows (
  distro TEXT NOT NULL,
  package TEXT NOT NULL,
  data BLOB NOT NULL,
  verdicts BLOB,
  PRIMARY KEY (distro, package)
) STRICT, WITHOUT ROWID;`;

/** The verdict file beside a database (`verdictRows`). */
export function verdictFilePath(dbPath: string): string {
  return `${dbPath}-verdicts`;
}

const SCHEMA = `
CREATE TABLE advisories (
  rid INTEGER PRIMARY KEY,
  key TEXT NOT NULL UNIQUE,
  id TEXT NOT NULL,
  origin TEXT NOT NULL,
  modified TEXT NOT NULL,
  withdrawn TEXT,
  hash TEXT NOT NULL
) STRICT;
CREATE TABLE bodies (
  rid INTEGER PRIMARY KEY REFERENCES advisories(rid),
  body TEXT NOT NULL
) STRICT;
CREATE TABLE affected (
  distro TEXT NOT NULL,
  package TEXT NOT NULL,
  advisory INTEGER NOT NULL REFERENCES advisories(rid),
  seq INTEGER NOT NULL,
  key TEXT NOT NULL,
  entry TEXT NOT NULL,
  facts TEXT NOT NULL,
  PRIMARY KEY (distro, package, advisory, seq)
) STRICT, WITHOUT ROWID;
CREATE INDEX affected_by_advisory ON affected(advisory);
${MATCH_ROWS}
CREATE TABLE cve_records (
  rid INTEGER PRIMARY KEY,
  key TEXT NOT NULL UNIQUE,
  modified TEXT NOT NULL,
  hash TEXT NOT NULL,
  body TEXT NOT NULL
) STRICT;
CREATE TABLE cpe_affected (
  vendor TEXT NOT NULL,
  product TEXT NOT NULL,
  record INTEGER NOT NULL REFERENCES cve_records(rid),
  seq INTEGER NOT NULL,
  entry TEXT NOT NULL,
  PRIMARY KEY (vendor, product, record, seq)
) STRICT, WITHOUT ROWID;
CREATE INDEX cpe_affected_by_record ON cpe_affected(record);
CREATE TABLE sources (
  path TEXT NOT NULL,
  kind TEXT NOT NULL,
  imported_at TEXT NOT NULL,
  records INTEGER NOT NULL,
  PRIMARY KEY (path, kind)
) STRICT, WITHOUT ROWID;
CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT, WITHOUT ROWID;
`;

/** Package names per `lookupMany` query (bounds the JSON list bound to it). */
const LOOKUP_BATCH = 4096;
/** Advisory keys per `matchFacts` query. */
const FACTS_BATCH = 4096;
/** Facts `lookupMany` keeps for `matchFacts`. */
const MAX_FACTS_MEMO = 262_144;
/**
 * Page size of a new database: matching reads each package's rows as one run of pages, and on a fresh connection
 * every page is one read from the file; 16 KiB pages make a quarter of the reads of SQLite's default 4 KiB.
 */
const PAGE_SIZE = 16_384;

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
  /**
   * The verdict file beside the database (`verdictRows`): `current` when it is the file of the rows the last import
   * packed; `missing`, or `stale` (written for other rows, damaged at its head, or the rows are from an older
   * Hyperward) when matching goes without it — slower, with the same findings — until the next import writes it.
   */
  verdicts: { path: string; state: 'current' | 'missing' | 'stale' };
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
  /** Stores one NVD CVE record, by the same rules as `put`. */
  putCve(rec: CveRecord): PutOutcome;
  /** Records that `records` advisories of `kind` were read from `path`. */
  source(path: string, kind: AdvisoryOrigin, records: number): void;
  /**
   * Commits everything, stamping `importedAt` as the time of the last import, then writes the verdict file beside
   * the database. Returns what went wrong with the verdict file, if anything: the import has committed by then, and
   * scans go without the file (more slowly, the same findings) until the next import writes it.
   */
  commit(): string | undefined;
  /** Discards everything since `beginImport`. */
  rollback(): void;
}

interface Existing {
  rid: number;
  hash: string;
  modified: string;
}

const ADVISORY_SQL =
  'SELECT a.rid AS rid, a.key AS key, a.id AS id, a.origin AS origin, a.modified AS modified, ' +
  'a.withdrawn AS withdrawn, b.body AS body FROM advisories a JOIN bodies b ON b.rid = a.rid WHERE a.key = ?';

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

/**
 * `affectedOf` for the thousands of rows of `lookupMany`: the parsed entry itself with its distro and package
 * added, not a copy (the fields absent from the JSON are absent from the object either way).
 */
function affectedInPlace(distro: string, pkg: string, entry: string): AffectedPackage {
  const e = JSON.parse(entry) as AffectedPackage;
  e.distro = distro;
  e.package = pkg;
  return e;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Whether `s` is well-formed UTF-16 (no lone surrogate), so it survives JSON and UTF-8 unchanged. */
function wellFormed(s: string): boolean {
  return !LONE_SURROGATE.test(s);
}

/** The stored JSON of an advisory's facts: everything but the key, which is the row's. */
function factsJson(f: MatchFacts): string {
  const { key: _key, ...rest } = f;
  return JSON.stringify(rest);
}

/** The facts stored for `key`. */
function factsFrom(path: string, key: string, json: string): MatchFacts {
  let f: unknown;
  try {
    f = JSON.parse(json);
  } catch {
    f = undefined;
  }
  if (!hasFactsShape(f)) {
    throw new HyperwardError('E_IO', `the stored facts of advisory ${JSON.stringify(key)} are damaged`, {
      file: path,
      layer: 'advisory database',
    });
  }
  f.key = key;
  return f;
}

/** `scoreVector` memoised for one import or one re-derivation: feeds repeat the same vectors. */
function vectorScorer(): (vector: string) => CvssScore | undefined {
  const cache = new Map<string, CvssScore | null>();
  return (vector) => {
    let s = cache.get(vector);
    if (s === undefined) {
      s = scoreVector(vector) ?? null;
      if (cache.size < 65_536) cache.set(vector, s);
    }
    return s ?? undefined;
  };
}

/**
 * Re-derives every advisory's facts from its stored record when they were derived by another `FACTS_VERSION`
 * (an import by a newer Hyperward into an older file): inside the import's transaction, once.
 */
function rederiveFacts(db: Database.Database, score: (vector: string) => CvssScore | undefined): boolean {
  const stored = db.prepare<[], string>("SELECT value FROM meta WHERE name = 'facts_version'").pluck().get();
  // Unset: every row was stored by this transaction (the first import of the file), with the current facts.
  if (stored === undefined || stored === String(FACTS_VERSION)) return false;
  const set = db.prepare<[string, number]>('UPDATE affected SET facts = ? WHERE advisory = ?');
  const page = db.prepare<[number], AdvisoryRow>(
    'SELECT a.rid AS rid, a.key AS key, a.id AS id, a.origin AS origin, a.modified AS modified, ' +
      'a.withdrawn AS withdrawn, b.body AS body FROM advisories a JOIN bodies b ON b.rid = a.rid ' +
      'WHERE a.rid > ? ORDER BY a.rid LIMIT 1000',
  );
  for (let after = 0; ;) {
    const rows = page.all(after);
    if (rows.length === 0) return true;
    for (const row of rows) set.run(factsJson(matchFactsOf(recordOf(row), score)), row.rid);
    after = rows[rows.length - 1]!.rid;
  }
}

/** The version scheme of a packed row's entries: the first known one among them (a distro has one). */
function rowScheme(entries: readonly AffectedPackage[]): PackageEcosystem {
  for (const e of entries)
    if (e.scheme === 'deb' || e.scheme === 'rpm' || e.scheme === 'apk') return e.scheme;
  return 'deb';
}

/**
 * Packs the match rows (`packed.ts`) of the (distro, package) pairs an import touched — of every pair when the
 * file's rows were packed by another `PACKED_FORMAT` or the facts were derived again — inside the import's
 * transaction, from the affected rows just written: the `match_rows` table is derived from `affected`, never
 * written otherwise.
 */
function packRows(db: Database.Database, dirty: ReadonlySet<string>, all: boolean): void {
  const rows = db
    .prepare<[string, string], [string, string, string]>(
      'SELECT key, entry, facts FROM affected WHERE distro = ? AND package = ? ORDER BY advisory, seq',
    )
    .raw();
  const put = db.prepare<[string, string, Buffer, Buffer]>(
    'INSERT INTO match_rows (distro, package, data, verdicts) VALUES (?, ?, ?, ?) ' +
      'ON CONFLICT (distro, package) DO UPDATE SET data = excluded.data, verdicts = excluded.verdicts',
  );
  const drop = db.prepare<[string, string]>('DELETE FROM match_rows WHERE distro = ? AND package = ?');
  let pairs: Array<[string, string]>;
  if (all) {
    db.exec('DELETE FROM match_rows');
    pairs = db
      .prepare<[], [string, string]>('SELECT DISTINCT distro, package FROM affected ORDER BY distro, package')
      .raw()
      .all();
  } else {
    pairs = [...dirty].sort().map((k) => {
      const cut = k.indexOf('\0');
      return [k.slice(0, cut), k.slice(cut + 1)];
    });
  }
  for (const [distro, pkg] of pairs) {
    const inputs: PackedInput[] = [];
    for (const [key, json, factsJson] of rows.all(distro, pkg)) {
      const entry = affectedOf(distro, pkg, json);
      inputs.push({ key, entry, json, facts: JSON.parse(factsJson) as PackedInput['facts'], factsJson });
    }
    if (inputs.length === 0) {
      drop.run(distro, pkg);
      continue;
    }
    const data = encodePackedRow(rowScheme(inputs.map((x) => x.entry)), inputs);
    put.run(distro, pkg, data, encodeVerdicts(new PackedRow(data, '', distro, pkg), ratingSource(distro)));
  }
}

/** The formats a verdict file's verdicts were worked out by; a file of others is not used. */
const VERDICT_VERSIONS = `${FACTS_VERSION}.${PACKED_FORMAT}.${VERDICT_FORMAT}`;

/** What a verdict file's tag says (JSON): the generation, the formats, the database file's identity. */
interface VerdictTag {
  g: string;
  v: string;
  f?: string;
}

function parseVerdictTag(text: string): VerdictTag | undefined {
  try {
    const t = JSON.parse(text) as Partial<VerdictTag> | null;
    if (typeof t !== 'object' || t === null || typeof t.g !== 'string' || typeof t.v !== 'string')
      return undefined;
    if (t.f !== undefined && typeof t.f !== 'string') return undefined;
    return t as VerdictTag;
  } catch {
    return undefined;
  }
}

/**
 * The identity of a database file as it is now — device, inode, size, modification and change times in
 * nanoseconds — or undefined when its WAL holds something (what the file says is then not all there is). Any commit
 * changes it: an import writes the WAL, and its checkpoint the file.
 */
function fileIdentity(path: string): string | undefined {
  try {
    // SQLite keeps the WAL beside the file a symbolic link leads to.
    const wal = statSync(`${realpathSync.native(path)}-wal`, { bigint: true, throwIfNoEntry: false });
    if (wal !== undefined && wal.size > 0n) return undefined;
    const st = statSync(path, { bigint: true });
    return st.isFile() ? identityOf(st) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A read-only database file's identity (`fileIdentity`) and real path when its header says it is a Hyperward
 * advisory database of this schema — SQLite's magic string, `user_version` (offset 60) and `application_id` (offset
 * 68) — else undefined (the caller then opens it with SQLite, which says what is wrong).
 */
function headerIdentity(path: string): { identity: string; real: string } | undefined {
  let fd: number | undefined;
  try {
    const real = realpathSync.native(path);
    const wal = statSync(`${real}-wal`, { bigint: true, throwIfNoEntry: false });
    if (wal !== undefined && wal.size > 0n) return undefined;
    // Non-blocking: a FIFO named by mistake must not hang the scan (it is not a regular file: `open` refuses it).
    // The real path: the file whose WAL was looked at, whatever a symbolic link on the way says later.
    fd = openSync(real, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
    const before = fstatSync(fd, { bigint: true });
    if (!before.isFile()) return undefined;
    const head = Buffer.alloc(100);
    if (readSync(fd, head, 0, 100, 0) !== 100) return undefined;
    if (head.toString('latin1', 0, 16) !== 'SQLite format 3\0') return undefined;
    if (head.readUInt32BE(60) !== SCHEMA_VERSION || head.readUInt32BE(68) !== APPLICATION_ID)
      return undefined;
    // Changed while it was read: not the file the identity names.
    const after = fstatSync(fd, { bigint: true });
    const identity = identityOf(before);
    return identityOf(after) === identity ? { identity, real } : undefined;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function identityOf(st: BigIntStats): string {
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
}

/**
 * The verdict file's sections (one per distribution release) from `(distro, package, verdicts)` rows sorted by
 * distro: a row without verdicts (packed before schema 4) gets the "none" verdict.
 */
function* sectionsOf(
  rows: Iterable<[string, string, Buffer | null]>,
): Generator<[string, Iterable<[string, Uint8Array]>]> {
  const it = rows[Symbol.iterator]();
  let next = it.next();
  while (!next.done) {
    const distro = next.value[0];
    function* entries(): Generator<[string, Uint8Array]> {
      while (!next.done && next.value[0] === distro) {
        yield [next.value[1], next.value[2] ?? NO_VERDICTS];
        next = it.next();
      }
    }
    const section = entries();
    yield [distro, section];
    // Whatever the writer did not read of this section is skipped.
    for (const _ of section) void _;
  }
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
  const cves = db.prepare<[], number>('SELECT count(*) FROM cve_records').pluck().get()!;
  stats.counts.nvd = cves;
  stats.advisories += cves;
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
export class AdvisoryDb implements AdvisoryIndex, CpeIndex {
  private readonly cache = new Lru<string, AdvisoryRecord | null>(16_384);
  private lookupStmt: Database.Statement<[string, string], { key: string; entry: string }> | undefined;
  private lookupManyStmt: Database.Statement<[string, string], [string, string, string, string]> | undefined;
  /**
   * The facts (JSON) of the advisories the last `lookupMany` returned, for `matchFacts` (a plain map: it is
   * filled for thousands of rows per scan, and emptied by the next call or past `MAX_FACTS_MEMO` entries).
   */
  private readonly factsMemo = new Map<string, string>();
  private factsStmt: Database.Statement<[string], [string, string | null]> | undefined;
  private advisoryStmt: Database.Statement<[string], AdvisoryRow> | undefined;
  private cpeStmt: Database.Statement<[string, string, number], [number, string, string, string]> | undefined;
  /** `facts_version` of the file, read once. */
  private factsVersion: number | undefined;
  private packedStmt: Database.Statement<[string, string], [string, Buffer]> | undefined;
  private packedOneStmt: Database.Statement<[string, string], Buffer> | undefined;
  /** Whether the file's match rows can be used (packed by this `PACKED_FORMAT`, from this `FACTS_VERSION`). */
  private packedUsable: boolean | undefined;
  /** Whether `readingRows` set the larger page cache. */
  private rowCache = false;
  /** The `verdict_generation` of usable rows with verdicts (`rowsUsable`). */
  private generation: string | undefined;
  /** The verdict file, once looked for: null when there is none this database can vouch for. */
  private verdicts: KeyedFile | null | undefined;
  private verdictState: AdvisoryDbInfo['verdicts']['state'] = 'missing';
  /** The tag of the verdict file in use, and how it was found to be the database's. */
  private verdictTag: VerdictTag | undefined;
  private verifiedBy: 'identity' | 'generation' = 'generation';

  private constructor(
    /** The database file, as given. */
    readonly path: string,
    /** The SQLite connection; undefined until first needed when the file was opened by its header alone. */
    private conn: Database.Database | undefined,
    readonly readonly: boolean,
    /** The file's identity (`fileIdentity`) when it was opened by its header alone. */
    private readonly identity: string | undefined = undefined,
    /** The file's real path (symbolic links resolved) when it was opened by its header alone. */
    private readonly realPath: string | undefined = undefined,
  ) {}

  /** The SQLite connection, opened (and checked as `open` checks it) on first use. */
  private get db(): Database.Database {
    if (this.closed) {
      throw new HyperwardError('E_USAGE', 'the advisory database was closed', { file: this.path });
    }
    // A handle opened by its header connects to the file it opened, even if a symbolic link on the way to it has
    // been pointed elsewhere since: its identity, its verdict file and its rows are one database's.
    return (this.conn ??= AdvisoryDb.connect(this.realPath ?? this.path, this.readonly, this.path));
  }

  private closed = false;

  /**
   * Whether the SQLite connection has been made: a read-only file is opened by its header, and matching through a
   * current verdict file decides without SQLite (building the findings reads the packed rows, and connects).
   */
  get connected(): boolean {
    return this.conn !== undefined;
  }

  /**
   * The default database file: `$HYPERWARD_DB`, else `${XDG_CACHE_HOME:-$HOME/.cache}/hyperward/advisories.db`.
   */
  static defaultPath(env: NodeJS.ProcessEnv = process.env): string {
    return defaultDbPath(env);
  }

  /**
   * Opens (and, for writing, creates) the database at `path`. Read-only, a file whose 100-byte header says it is a
   * Hyperward database of this schema, with nothing in its WAL, is opened by that header alone: the SQLite
   * connection is made when first needed, and damage past the header is reported then (by the call that needs it),
   * not here.
   * @throws HyperwardError `E_NOT_FOUND` when opening read-only a file that does not exist; `E_IO` naming the file
   * when it is not a SQLite database, is corrupt, belongs to something else, or has a schema newer than this
   * code (an upgrade of Hyperward reads it) or older.
   */
  static open(path: string, opts: { readonly?: boolean } = {}): AdvisoryDb {
    const ro = opts.readonly === true;
    // Read-only, a file whose header says it is this schema's, with nothing waiting in its WAL, is opened by its
    // header alone: matching through the verdict file needs no SQLite (opening it and reading its schema is ~0.8 ms,
    // as long as matching itself); the connection is made when something asks the database.
    if (ro) {
      const head = headerIdentity(path);
      if (head !== undefined) return new AdvisoryDb(path, undefined, ro, head.identity, head.real);
    }
    const st = statSync(path, { throwIfNoEntry: false });
    if (st === undefined && ro) {
      throw new HyperwardError('E_NOT_FOUND', 'no advisory database here: run `hyperward db import` first', {
        file: path,
        layer: 'advisory database',
      });
    }
    // SQLite would wait on a FIFO for a writer, or read a device until it ends: only regular files are databases.
    if (st !== undefined && !st.isFile()) {
      throw new HyperwardError('E_IO', 'not a regular file, so not an advisory database', {
        file: path,
        layer: 'advisory database',
      });
    }
    return new AdvisoryDb(path, AdvisoryDb.connect(path, ro), ro);
  }

  /** Opens the SQLite connection and checks (or, for writing, creates or upgrades) the schema. */
  private static connect(path: string, ro: boolean, shown = path): Database.Database {
    const where = { file: shown, layer: 'advisory database' };
    let db: Database.Database;
    try {
      if (!ro) mkdirSync(dirname(resolve(path)), { recursive: true });
      db = new Database(path, { readonly: ro, fileMustExist: ro, timeout: 10_000 });
    } catch (e) {
      throw dbError(shown, e, 'opening');
    }
    try {
      // One statement for the three (each pragma call prepares one: a scan opens the file once, in ~0.3 ms).
      const [appId, version, tables] = db
        .prepare<[], [number, number, number]>(
          'SELECT (SELECT application_id FROM pragma_application_id), ' +
            '(SELECT user_version FROM pragma_user_version), (SELECT count(*) FROM sqlite_schema)',
        )
        .raw()
        .get()!;
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
      } else if ((version === 2 || version === 3) && !ro) {
        AdvisoryDb.migrate(db, path, version);
      } else if (version === 2 || version === 3) {
        // Read as it is: schema 2 has no packed rows, so matching reads its affected rows (`lookupMany`), schema 3 no
        // verdicts, so matching evaluates its packed rows; slower but the same. `info().schemaVersion` lets the
        // caller ask for an import, which upgrades the file in place.
      } else if (version >= 1 && version < SCHEMA_VERSION) {
        throw new HyperwardError(
          'E_IO',
          `database schema ${version} was written by an older Hyperward (this one reads ${SCHEMA_VERSION}): delete the file and run \`hyperward db import\` again, or import into another file with --db`,
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
      }
      return db;
    } catch (e) {
      db.close();
      throw dbError(shown, e, 'opening');
    }
  }

  private static create(db: Database.Database, path: string): void {
    // Takes effect only while the file is empty, so before the transaction that writes the schema.
    db.pragma(`page_size = ${PAGE_SIZE}`);
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

  /**
   * Schema 2 → 4: adds the `match_rows` table, left empty; 3 → 4: adds its `verdicts` column, left empty. The import
   * that opened the file packs every row when it commits (no `match_version` or `verdict_version` yet), and until
   * then matching reads what it read before.
   */
  private static migrate(db: Database.Database, path: string, from: number): void {
    db.exec('BEGIN IMMEDIATE');
    try {
      if ((db.pragma('user_version', { simple: true }) as number) === from) {
        if (from === 2) db.exec(MATCH_ROWS);
        else db.exec('ALTER TABLE match_rows ADD COLUMN verdicts BLOB');
        db.exec("DELETE FROM meta WHERE name IN ('match_version', 'verdict_version', 'verdict_generation')");
        db.pragma(`user_version = ${SCHEMA_VERSION}`);
      }
      db.exec('COMMIT');
    } catch (e) {
      if (db.inTransaction) db.exec('ROLLBACK');
      throw dbError(path, e, `upgrading the schema from ${from} to ${SCHEMA_VERSION}`);
    }
  }

  /** Every affected entry for one source or binary package of one distribution release (exact keys). */
  lookup(distro: DistroKey, pkg: string): AffectedHit[] {
    try {
      this.lookupStmt ??= this.db.prepare<[string, string], { key: string; entry: string }>(
        'SELECT key, entry FROM affected WHERE distro = ? AND package = ? ORDER BY advisory, seq',
      );
      return this.lookupStmt
        .all(distro, pkg)
        .map((r) => ({ advisoryKey: r.key, affected: affectedOf(distro, pkg, r.entry) }));
    } catch (e) {
      throw dbError(this.path, e, `looking up ${distro} ${pkg}`);
    }
  }

  /**
   * `lookup` for many packages of one distribution release, in one query per `LOOKUP_BATCH` names: the rows of each
   * package are contiguous in the table. Names without hits are absent from the map. The facts read with the rows
   * are kept (LRU) for `matchFacts`.
   */
  lookupMany(distro: DistroKey, packages: readonly string[]): Map<string, AffectedHit[]> {
    const out = new Map<string, AffectedHit[]>();
    const names = [...new Set(packages)];
    const memo = this.factsMemo;
    memo.clear();
    try {
      this.readingRows();
      this.lookupManyStmt ??= this.db
        .prepare<[string, string], [string, string, string, string]>(
          'SELECT package, key, entry, facts FROM affected WHERE distro = ? AND package IN ' +
            '(SELECT value FROM json_each(?)) ORDER BY package, advisory, seq',
        )
        .raw();
      for (let i = 0; i < names.length; i += LOOKUP_BATCH) {
        const batch = names.slice(i, i + LOOKUP_BATCH);
        // A name that is not well-formed UTF-16 cannot travel through JSON to SQLite unchanged: ask for it alone.
        const plain = batch.filter((n) => wellFormed(n));
        for (const n of batch) if (!wellFormed(n)) out.set(n, this.lookup(distro, n));
        let list: AffectedHit[] | undefined;
        let current = '';
        for (const [pkg, key, entry, facts] of this.lookupManyStmt.iterate(distro, JSON.stringify(plain))) {
          if (memo.size < MAX_FACTS_MEMO) memo.set(key, facts);
          if (list === undefined || pkg !== current) {
            current = pkg;
            list = [];
            out.set(pkg, list);
          }
          list.push({ advisoryKey: key, affected: affectedInPlace(distro, pkg, entry) });
        }
      }
    } catch (e) {
      throw dbError(this.path, e, `looking up ${names.length} packages of ${distro}`);
    }
    for (const [name, list] of out) if (list.length === 0) out.delete(name);
    return out;
  }

  /**
   * The packed match rows (`packed.ts`) of many packages of one distribution release, by package name (names
   * without entries absent), in one query per `LOOKUP_BATCH` names; undefined when the file's rows cannot be used
   * (packed by another Hyperward, or from facts of another `FACTS_VERSION`: `lookupMany` answers then).
   */
  matchRows(
    distro: DistroKey,
    packages: readonly string[],
    generation?: string,
  ): Map<string, PackedRow> | undefined {
    if (generation === undefined) return this.readMatchRows(distro, packages);
    // The rows must be the ones the verdicts were worked out from: the generation is read in the same read
    // transaction as the rows, so an import that commits meanwhile cannot slip in between.
    let out: Map<string, PackedRow> | undefined;
    try {
      this.db.transaction(() => {
        const now = this.db
          .prepare<[], string>("SELECT value FROM meta WHERE name = 'verdict_generation'")
          .pluck()
          .get();
        if (now !== generation) {
          throw new HyperwardError(
            'E_IO',
            'the advisory database changed while this scan matched (an import committed in between): scan again',
            { file: this.path, layer: 'advisory database' },
          );
        }
        out = this.readMatchRows(distro, packages);
      })();
    } catch (e) {
      throw dbError(this.path, e, `looking up ${packages.length} packages of ${distro}`);
    }
    return out;
  }

  private readMatchRows(distro: DistroKey, packages: readonly string[]): Map<string, PackedRow> | undefined {
    const out = new Map<string, PackedRow>();
    const names = [...new Set(packages)];
    try {
      if (!this.rowsUsable()) return undefined;
      this.readingRows();
      this.packedStmt ??= this.db
        .prepare<[string, string], [string, Buffer]>(
          'SELECT package, data FROM match_rows WHERE distro = ? AND package IN (SELECT value FROM json_each(?))',
        )
        .raw();
      for (let i = 0; i < names.length; i += LOOKUP_BATCH) {
        const batch = names.slice(i, i + LOOKUP_BATCH);
        // A name that is not well-formed UTF-16 cannot travel through JSON to SQLite unchanged: ask for it alone.
        for (const n of batch) {
          if (wellFormed(n)) continue;
          this.packedOneStmt ??= this.db
            .prepare<[string, string], Buffer>('SELECT data FROM match_rows WHERE distro = ? AND package = ?')
            .pluck();
          const data = this.packedOneStmt.get(distro, n);
          if (data !== undefined) out.set(n, new PackedRow(data, this.path, distro, n));
        }
        const plain = batch.filter((n) => wellFormed(n));
        for (const [pkg, data] of this.packedStmt.all(distro, JSON.stringify(plain))) {
          out.set(pkg, new PackedRow(data, this.path, distro, pkg));
        }
      }
    } catch (e) {
      throw dbError(this.path, e, `looking up ${names.length} packages of ${distro}`);
    }
    return out;
  }

  /**
   * A larger page cache of SQLite's own for reading many rows (`matchRows`, `lookupMany`), set before the first
   * such read: a match through the verdict file reads none. Matching reads one packed row per package, a few KiB
   * each. Not memory-mapped, although that read the rows of a 1,000-package inventory in 5.5 ms against 7 ms: a
   * file truncated under a mapping (a database replaced by `cp` while a scan runs) kills the process with SIGBUS
   * instead of giving an error.
   */
  private readingRows(): void {
    if (this.rowCache || !this.readonly) return;
    this.rowCache = true;
    this.db.pragma('cache_size = -65536');
  }

  /**
   * Whether the packed rows can be used (packed by this `PACKED_FORMAT` from facts of this `FACTS_VERSION`), and
   * which generation of verdicts goes with them (`verdict_generation`, when worked out by this `VERDICT_FORMAT`).
   */
  private rowsUsable(): boolean {
    if (this.packedUsable === undefined) {
      const meta = new Map(
        this.db
          .prepare<[], [string, string]>(
            'SELECT name, value FROM meta WHERE name IN ' +
              "('facts_version', 'match_version', 'verdict_version', 'verdict_generation')",
          )
          .raw()
          .all(),
      );
      this.packedUsable =
        meta.get('facts_version') === String(FACTS_VERSION) &&
        meta.get('match_version') === String(PACKED_FORMAT);
      this.generation =
        this.packedUsable && meta.get('verdict_version') === String(VERDICT_FORMAT)
          ? meta.get('verdict_generation')
          : undefined;
    }
    return this.packedUsable;
  }

  /**
   * The matcher's facts of many advisories by key (unknown keys absent): those `lookupMany` read lately, the others
   * in one query per `FACTS_BATCH` keys; derived from the stored record when the database holds facts of another
   * `FACTS_VERSION` (or, for an advisory without affected entries, none).
   */
  matchFacts(keys: readonly string[]): Map<string, MatchFacts> {
    const out = new Map<string, MatchFacts>();
    const wanted = [...new Set(keys)];
    try {
      this.factsVersion ??= Number(
        this.db.prepare<[], string>("SELECT value FROM meta WHERE name = 'facts_version'").pluck().get() ??
          FACTS_VERSION,
      );
      let score: ((vector: string) => CvssScore | undefined) | undefined;
      const derive = (k: string): void => {
        const adv = this.advisory(k);
        if (adv) out.set(k, matchFactsOf(adv, (score ??= vectorScorer())));
      };
      if (this.factsVersion !== FACTS_VERSION) {
        for (const k of wanted) derive(k);
        return out;
      }
      const rest: string[] = [];
      for (const k of wanted) {
        const json = this.factsMemo.get(k);
        if (json !== undefined) out.set(k, factsFrom(this.path, k, json));
        else rest.push(k);
      }
      this.factsStmt ??= this.db
        .prepare<[string], [string, string | null]>(
          'SELECT a.key, (SELECT f.facts FROM affected f WHERE f.advisory = a.rid LIMIT 1) FROM advisories a ' +
            'WHERE a.key IN (SELECT value FROM json_each(?))',
        )
        .raw();
      for (let i = 0; i < rest.length; i += FACTS_BATCH) {
        const batch = rest.slice(i, i + FACTS_BATCH);
        for (const k of batch) if (!wellFormed(k)) derive(k);
        const plain = batch.filter((k) => wellFormed(k));
        for (const [key, json] of this.factsStmt.all(JSON.stringify(plain))) {
          if (json !== null) out.set(key, factsFrom(this.path, key, json));
          else derive(key);
        }
      }
    } catch (e) {
      throw dbError(this.path, e, `reading the facts of ${wanted.length} advisories`);
    }
    return out;
  }

  /**
   * The NVD records naming one (vendor, product), bound as in a CPE 2.3 string and lower-cased, with each
   * vulnerable entry of theirs for it; at most `MAX_ENTRIES_PER_PRODUCT` entries, in the order stored.
   */
  cpeLookup(vendor: string, product: string): Array<{ record: CveRecord; entry: CpeMatchEntry }> {
    try {
      this.cpeStmt ??= this.db
        .prepare<[string, string, number], [number, string, string, string]>(
          'SELECT a.record, r.key, r.body, a.entry FROM cpe_affected a JOIN cve_records r ON r.rid = a.record ' +
            'WHERE a.vendor = ? AND a.product = ? ORDER BY a.record, a.seq LIMIT ?',
        )
        .raw();
      const records = new Map<number, CveRecord>();
      const out: Array<{ record: CveRecord; entry: CpeMatchEntry }> = [];
      for (const [rid, key, body, entry] of this.cpeStmt.all(vendor, product, MAX_ENTRIES_PER_PRODUCT)) {
        let record = records.get(rid);
        if (record === undefined) {
          record = { ...(JSON.parse(body) as Omit<CveRecord, 'matches'>), key, matches: [] };
          records.set(rid, record);
        }
        out.push({ record, entry: JSON.parse(entry) as CpeMatchEntry });
      }
      return out;
    } catch (e) {
      throw dbError(this.path, e, `looking up CPE ${vendor}:${product}`);
    }
  }

  /** The advisory stored under `key`, without its affected entries; cached (LRU), one prepared statement. */
  advisory(key: string): AdvisoryRecord | undefined {
    const cached = this.cache.get(key);
    if (cached !== undefined) return cached ?? undefined;
    let adv: AdvisoryRecord | undefined;
    try {
      this.advisoryStmt ??= this.db.prepare<[string], AdvisoryRow>(ADVISORY_SQL);
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
      const row = this.db.prepare<[string], AdvisoryRow>(ADVISORY_SQL).get(key);
      if (row === undefined) return undefined;
      const entries = this.db
        .prepare<[number], { distro: string; package: string; entry: string }>(
          'SELECT distro, package, entry FROM affected WHERE advisory = ? ORDER BY seq',
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
      const schemaVersion = this.db.pragma('user_version', { simple: true }) as number;
      const out: AdvisoryDbInfo = {
        path: this.path,
        schemaVersion,
        sources,
        ...stats,
        verdicts: {
          path: this.verdictFile(),
          state: schemaVersion < 4 ? 'stale' : (this.openVerdicts(), this.verdictState),
        },
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
    const insert = db.prepare<[string, string, string, string, string | null, string]>(
      'INSERT INTO advisories (key, id, origin, modified, withdrawn, hash) VALUES (?, ?, ?, ?, ?, ?)',
    );
    const update = db.prepare<[string, string, string, string | null, string, number]>(
      'UPDATE advisories SET id = ?, origin = ?, modified = ?, withdrawn = ?, hash = ? WHERE rid = ?',
    );
    const putBody = db.prepare<[number | bigint, string]>(
      'INSERT INTO bodies (rid, body) VALUES (?, ?) ON CONFLICT (rid) DO UPDATE SET body = excluded.body',
    );
    const dropAffected = db.prepare<[number]>('DELETE FROM affected WHERE advisory = ?');
    const pairsOf = db
      .prepare<[number], [string, string]>('SELECT DISTINCT distro, package FROM affected WHERE advisory = ?')
      .raw();
    /** The (distro, package) pairs whose match rows this import must pack again. */
    const dirty = new Set<string>();
    const addAffected = db.prepare<[string, string, number | bigint, number, string, string, string]>(
      'INSERT INTO affected (distro, package, advisory, seq, key, entry, facts) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    const score = vectorScorer();
    const findCve = db.prepare<[string], Existing>(
      'SELECT rid, hash, modified FROM cve_records WHERE key = ?',
    );
    const insertCve = db.prepare<[string, string, string, string]>(
      'INSERT INTO cve_records (key, modified, hash, body) VALUES (?, ?, ?, ?)',
    );
    const updateCve = db.prepare<[string, string, string, number]>(
      'UPDATE cve_records SET modified = ?, hash = ?, body = ? WHERE rid = ?',
    );
    const dropCpe = db.prepare<[number]>('DELETE FROM cpe_affected WHERE record = ?');
    const addCpe = db.prepare<[string, string, number | bigint, number, string]>(
      'INSERT INTO cpe_affected (vendor, product, record, seq, entry) VALUES (?, ?, ?, ?, ?)',
    );
    const addSource = db.prepare<[string, string, string, number]>(
      'INSERT INTO sources (path, kind, imported_at, records) VALUES (?, ?, ?, ?) ' +
        'ON CONFLICT (path, kind) DO UPDATE SET imported_at = excluded.imported_at, records = excluded.records',
    );
    const setMeta = db.prepare<[string, string]>(
      'INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value',
    );
    const cache = this.cache;
    const memo = this.factsMemo;
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
            rid = insert.run(adv.key, adv.id, adv.origin, adv.modified, withdrawn, hash).lastInsertRowid;
          } else if (old.hash === hash || olderThan(adv.modified, old.modified)) {
            return 'unchanged';
          } else {
            rid = old.rid;
            update.run(adv.id, adv.origin, adv.modified, withdrawn, hash, old.rid);
            for (const [d, p] of pairsOf.all(old.rid)) dirty.add(`${d}\0${p}`);
            dropAffected.run(old.rid);
          }
          putBody.run(rid, body);
          for (const p of adv.affected) dirty.add(`${p.distro}\0${p.package}`);
          if (adv.affected.length > 0) {
            const facts = factsJson(matchFactsOf(adv, score));
            adv.affected.forEach((p, i) =>
              addAffected.run(p.distro, p.package, rid, i, adv.key, entries[i]!, facts),
            );
          }
          return old === undefined ? 'added' : 'updated';
        }),
      putCve: (rec) =>
        guard(`storing ${rec.key}`, () => {
          const { matches, ...rest } = rec;
          const body = JSON.stringify(rest);
          const entries = matches.map((m) => JSON.stringify(m));
          const hash = contentHash(rec.id, 'nvd', undefined, body, entries);
          const old = findCve.get(rec.key);
          let rid: number | bigint;
          if (old === undefined) {
            rid = insertCve.run(rec.key, rec.modified, hash, body).lastInsertRowid;
          } else if (old.hash === hash || olderThan(rec.modified, old.modified)) {
            return 'unchanged';
          } else {
            rid = old.rid;
            updateCve.run(rec.modified, hash, body, old.rid);
            dropCpe.run(old.rid);
          }
          matches.forEach((m, i) => addCpe.run(m.vendor, m.product, rid, i, entries[i]!));
          return old === undefined ? 'added' : 'updated';
        }),
      source: (p, kind, records) =>
        guard('recording a source', () => void addSource.run(p, kind, importedAt, records)),
      commit: () =>
        guard('committing the import', () => {
          const rederived = rederiveFacts(db, score);
          setMeta.run('facts_version', String(FACTS_VERSION));
          const packed = db
            .prepare<[], string>("SELECT value FROM meta WHERE name = 'match_version'")
            .pluck()
            .get();
          const verdicts = db
            .prepare<[], string>("SELECT value FROM meta WHERE name = 'verdict_version'")
            .pluck()
            .get();
          const all = rederived || packed !== String(PACKED_FORMAT) || verdicts !== String(VERDICT_FORMAT);
          packRows(db, dirty, all);
          setMeta.run('match_version', String(PACKED_FORMAT));
          setMeta.run('verdict_version', String(VERDICT_FORMAT));
          // Every import writes the verdict file anew (a second or two): the file names the database file it goes
          // with, which every commit changes (see `openVerdicts`).
          const nextGeneration = randomUUID();
          setMeta.run('verdict_generation', nextGeneration);
          setMeta.run('stats', JSON.stringify(computeStats(db)));
          setMeta.run('last_import', importedAt);
          db.exec('COMMIT');
          open = false;
          cache.clear();
          memo.clear();
          this.factsVersion = undefined;
          this.packedUsable = undefined;
          this.closeVerdicts();
          try {
            db.pragma('wal_checkpoint(TRUNCATE)');
          } catch {
            // A reader holds the WAL: the next writer checkpoints.
          }
          return this.writeVerdictFile(nextGeneration);
        }),
      rollback: () => {
        if (!open) return;
        open = false;
        cache.clear();
        memo.clear();
        try {
          if (db.inTransaction) db.exec('ROLLBACK');
        } catch (e) {
          throw dbError(path, e, 'rolling back the import');
        }
      },
    };
  }

  /**
   * Writes the verdict file of the committed (and checkpointed) rows atomically (`keyed-file.ts`), tagged
   * (`VerdictTag`) with their generation, the formats they were worked out by and — when nothing is left in the WAL —
   * the database file's identity. Undefined when written; else what went wrong: the import stands, and scans match
   * without verdicts (slower, the same findings) until an import writes the file.
   */
  private writeVerdictFile(generation: string): string | undefined {
    const file = this.verdictFile();
    try {
      const rows = this.db
        .prepare<[], [string, string, Buffer | null]>(
          'SELECT distro, package, verdicts FROM match_rows ORDER BY distro, package',
        )
        .raw();
      const tag: VerdictTag = { g: generation, v: VERDICT_VERSIONS };
      const identity = fileIdentity(this.path);
      if (identity !== undefined) tag.f = identity;
      const it = rows.iterate();
      try {
        writeKeyedFile(file, JSON.stringify(tag), sectionsOf(it));
      } finally {
        // A write that failed midway leaves the query open, and an open query keeps the connection busy (it could
        // not even be closed): end it whatever happened.
        it.return?.();
      }
      return undefined;
    } catch (e) {
      return `the verdict file could not be written (${(e as Error).message}); scans match without it, more slowly, until the next import`;
    }
  }

  /**
   * The verdicts (`verdict.ts`) of many packages of one distribution release, from the verdict file beside the
   * database, by package name: every name the database has entries for is present (a row the matcher must evaluate
   * itself has the "none" verdict). Undefined when the file is missing, damaged at its head, or not the file of
   * this database's rows (its tag is not the `verdict_generation` the last import recorded): the matcher then
   * evaluates the packed rows.
   */
  verdictRows(distro: DistroKey, packages: readonly string[]): Map<string, VerdictRow> | undefined {
    if (this.closed) {
      throw new HyperwardError('E_USAGE', 'the advisory database was closed', { file: this.path });
    }
    // A handle that lives on (a library's) may see an import commit between two matches: the file is checked again.
    if (this.verdicts && !this.verdictsStillCurrent()) this.closeVerdicts();
    const file = this.openVerdicts();
    if (file === null) return undefined;
    const generation = this.verdictTag!.g;
    const out = new Map<string, VerdictRow>();
    for (const [name, blob] of file.lookup(distro, packages)) {
      out.set(name, new VerdictRow(blob, file.path, distro, name, generation));
    }
    return out;
  }

  /** The verdict file beside the database file itself (as SQLite keeps its WAL beside it, through symbolic links). */
  private verdictFile(): string {
    try {
      return verdictFilePath(this.realPath ?? realpathSync.native(this.path));
    } catch {
      return verdictFilePath(this.path);
    }
  }

  /** Whether the verdict file in use is still the database's: as it was checked when it was opened. */
  private verdictsStillCurrent(): boolean {
    const tag = this.verdictTag;
    if (tag === undefined) return false;
    if (this.verifiedBy === 'identity') return fileIdentity(this.realPath ?? this.path) === tag.f;
    this.packedUsable = undefined;
    return this.rowsUsable() && this.generation === tag.g;
  }

  /**
   * The verdict file, opened once if it is the file of this database's rows (`verdictRows`), else null. It is when
   * its tag names the formats of this code and either the database file as it is now (device, inode, size, times:
   * no import has committed since the file was written — no SQLite needed) or, asked of the database, the generation
   * its last import stored.
   */
  private openVerdicts(): KeyedFile | null {
    if (this.verdicts !== undefined) return this.verdicts;
    this.verdicts = null;
    this.verdictState = 'stale';
    let file: KeyedFile | undefined;
    try {
      file = KeyedFile.open(this.verdictFile());
    } catch {
      // A damaged or unreadable verdict file is no verdict file: the packed rows say the same, more slowly.
      return null;
    }
    if (file === undefined) {
      this.verdictState = 'missing';
      return null;
    }
    const tag = parseVerdictTag(file.tag);
    let current = false;
    try {
      if (tag !== undefined && tag.v === VERDICT_VERSIONS) {
        if (this.conn === undefined && this.identity !== undefined && tag.f === this.identity) {
          current = true;
          this.verifiedBy = 'identity';
        } else {
          // What the database says now (an import may have committed since this handle last asked).
          this.packedUsable = undefined;
          if (this.rowsUsable() && this.generation === tag.g) {
            current = true;
            this.verifiedBy = 'generation';
          }
        }
      }
    } catch (e) {
      file.close();
      throw dbError(this.path, e, 'reading what the verdicts go with');
    }
    if (!current) {
      file.close();
      return null;
    }
    this.verdictState = 'current';
    this.verdictTag = tag;
    return (this.verdicts = file);
  }

  private closeVerdicts(): void {
    if (this.verdicts) this.verdicts.close();
    this.verdicts = undefined;
    this.verdictTag = undefined;
  }

  /** Closes the file. */
  close(): void {
    this.closeVerdicts();
    this.lookupStmt = undefined;
    this.lookupManyStmt = undefined;
    this.factsStmt = undefined;
    this.factsVersion = undefined;
    this.packedStmt = undefined;
    this.packedOneStmt = undefined;
    this.packedUsable = undefined;
    this.factsMemo.clear();
    this.advisoryStmt = undefined;
    this.cpeStmt = undefined;
    this.cache.clear();
    this.closed = true;
    if (this.conn?.open) this.conn.close();
  }
}
