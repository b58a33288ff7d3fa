/**
 * The SQLite backend: hostile schemas are refused, odd rows are reported and skipped, WAL recovery agrees with
 * SQLite's own, and mutated databases and logs fail only with HyperwardErrors. Agreement with rpm on real
 * databases is in index.test.ts.
 */
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { applyEdits, byteEdits, byteEditsIn, onlyHyperwardErrors } from '../../../test/helpers/fuzz.js';
import { tempDir } from '../../../test/helpers/tmp.js';
import { isHyperwardError } from '../../errors.js';
import { recordsFromBlobs } from './index.js';
import { applySqliteWal, readSqlitePackages } from './sqlite.js';

const MARINER = join(import.meta.dirname, '../../../fixtures/rpmdb/mariner2-rpmdb.sqlite');

/** Some real header blobs. */
function blobs(n: number): Buffer[] {
  const image = readFileSync(MARINER);
  image[18] = image[19] = 1;
  const db = new Database(image, { readonly: true });
  const rows = db.prepare('SELECT blob FROM Packages ORDER BY hnum LIMIT ?').pluck().all(n) as Buffer[];
  db.close();
  return rows;
}

/** A database image made by SQLite from a schema and rows. */
function build(sql: string, rows: Array<[number, unknown]> = []): Buffer {
  const db = new Database(':memory:');
  db.exec(sql);
  if (rows.length > 0) {
    const ins = db.prepare('INSERT INTO Packages (hnum, blob) VALUES (?, ?)');
    for (const [h, b] of rows) ins.run(h, b);
  }
  const out = db.serialize();
  db.close();
  return out;
}

const TABLE = 'CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)';

describe('rpm SQLite backend', () => {
  let tmp: { dir: string; cleanup: () => void };
  before(() => {
    tmp = tempDir('hyperward-rpmsqlite-');
  });
  after(() => tmp.cleanup());

  it('refuses databases without a real Packages table', () => {
    const refuse = (buf: Buffer, what: string): void => {
      assert.throws(
        () => readSqlitePackages(buf, 'rpmdb.sqlite'),
        (e: unknown) => isHyperwardError(e) && e.location.file === 'rpmdb.sqlite',
        what,
      );
    };
    refuse(build('CREATE TABLE Other (x)'), 'no table');
    refuse(
      build('CREATE TABLE T (hnum INTEGER, blob BLOB); CREATE VIEW Packages AS SELECT * FROM T'),
      'a view',
    );
    refuse(build('CREATE TABLE Packages (id INTEGER, data BLOB)'), 'other columns');
    refuse(build('CREATE VIRTUAL TABLE Packages USING fts5(hnum, blob)'), 'a virtual table');
    refuse(Buffer.alloc(4096), 'not SQLite');
    const damaged = build(TABLE, [[1, blobs(1)[0]]]);
    damaged.fill(0xee, 100, 4096); // the schema page
    refuse(damaged, 'damaged schema page');
  });

  it('reports and skips rows that cannot be headers', () => {
    const [a, b] = blobs(2);
    const buf = build(TABLE.replace('BLOB NOT NULL', 'BLOB'), [
      [1, a],
      [2, 'text, not a blob'],
      [3, Buffer.alloc(3)],
      [4, b],
      [5, null],
    ]);
    const set = readSqlitePackages(buf, 'rpmdb.sqlite');
    assert.deepEqual(
      set.blobs.map((x) => x.instance),
      [1, 4],
    );
    assert.equal(set.problems.length, 3);
    const db = recordsFromBlobs(set, 'rpmdb.sqlite', 'sqlite');
    assert.equal(db.packages.length, 2);
  });

  it('recovers committed WAL frames as SQLite does, and not the uncommitted tail', () => {
    const dir = join(tmp.dir, 'wal');
    mkdirSync(dir);
    const path = join(dir, 'rpmdb.sqlite');
    copyFileSync(MARINER, path);
    const w = new Database(path);
    w.pragma('journal_mode = WAL');
    w.pragma('wal_autocheckpoint = 0');
    w.pragma('foreign_keys = OFF');
    const base = readFileSync(path);
    w.prepare('DELETE FROM Packages WHERE hnum <= 10').run();
    const afterFirst = readFileSync(`${path}-wal`).length;
    w.prepare('DELETE FROM Packages WHERE hnum <= 50').run();
    const wal = readFileSync(`${path}-wal`);
    w.close();
    assert.ok(wal.length > afterFirst);
    const cut = wal.subarray(0, afterFirst + 100); // the second transaction torn mid-frame
    const ours = readSqlitePackages(base, 'rpmdb.sqlite', cut).blobs.length;
    // SQLite's own recovery of the same two files.
    const check = join(tmp.dir, 'check');
    mkdirSync(check);
    writeFileSync(join(check, 'x.sqlite'), base);
    writeFileSync(join(check, 'x.sqlite-wal'), cut);
    const s = new Database(join(check, 'x.sqlite'));
    const theirs = (s.prepare('SELECT count(*) FROM Packages').pluck().get() as number) ?? -1;
    s.close();
    assert.equal(ours, theirs);
    assert.equal(ours, 119);
  });

  it('mutated databases and logs fail only with HyperwardErrors (property)', () => {
    const rows = blobs(6).map((b, i): [number, unknown] => [i + 1, b]);
    const db = build(TABLE, rows);
    const page = db.readUInt16BE(16) === 1 ? 65536 : db.readUInt16BE(16);
    const arb = fc.oneof(byteEditsIn(0, 100, 6), byteEditsIn(100, page * 2, 10), byteEdits(db.length, 20));
    fc.assert(
      fc.property(arb, (edits) =>
        onlyHyperwardErrors(() => {
          const set = readSqlitePackages(applyEdits(db, edits), 'rpmdb.sqlite');
          recordsFromBlobs(set, 'rpmdb.sqlite', 'sqlite');
        }),
      ),
      { numRuns: 150 },
    );
    // A log: any bytes after a valid-looking header are either applied whole or not at all.
    const walHeader = Buffer.alloc(32);
    walHeader.writeUInt32BE(0x377f0682, 0);
    walHeader.writeUInt32BE(3007000, 4);
    walHeader.writeUInt32BE(page, 8);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3 * (page + 24) }), fc.boolean(), (bytes, header) =>
        onlyHyperwardErrors(() => {
          const wal = header ? Buffer.concat([walHeader, Buffer.from(bytes)]) : Buffer.from(bytes);
          const r = applySqliteWal(db, wal, 'rpmdb.sqlite');
          readSqlitePackages(r.db, 'rpmdb.sqlite');
        }),
      ),
      { numRuns: 100 },
    );
  });
});
