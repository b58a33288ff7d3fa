/**
 * Header blobs: the semantics rpm gives them (dribble entries replacing region entries, damaged blobs skipped)
 * checked against rpm 4.18 reading the same blobs from an SQLite database, and mutated blobs that must only
 * ever fail with a HyperwardError.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { applyEdits, byteEdits, byteEditsIn, onlyHyperwardErrors } from '../../../test/helpers/fuzz.js';
import { tempDir } from '../../../test/helpers/tmp.js';
import { isHyperwardError } from '../../errors.js';
import { RpmHeader, RpmTag, RpmType } from './header.js';
import { parseRpmDatabase } from './index.js';
import { rpmRecordFromHeader } from './package.js';

const FIXTURES = join(import.meta.dirname, '../../../fixtures/rpmdb');

/** The header blobs of the Mariner database (hnum order), read with SQLite directly. */
function marinerBlobs(): Buffer[] {
  const image = readFileSync(join(FIXTURES, 'mariner2-rpmdb.sqlite'));
  image[18] = image[19] = 1;
  const db = new Database(image, { readonly: true });
  const rows = db.prepare('SELECT blob FROM Packages ORDER BY hnum').pluck().all() as Buffer[];
  db.close();
  return rows;
}

/** `blob` with one more entry after all others (a "dribble", as rpm adds INSTALLTIME at install). */
function withDribble(blob: Buffer, tag: number, value: string): Buffer {
  const il = blob.readUInt32BE(0);
  const dl = blob.readUInt32BE(4);
  const index = blob.subarray(8, 8 + il * 16);
  const data = blob.subarray(8 + il * 16);
  const entry = Buffer.alloc(16);
  entry.writeInt32BE(tag, 0);
  entry.writeUInt32BE(RpmType.STRING, 4);
  entry.writeInt32BE(dl, 8);
  entry.writeUInt32BE(1, 12);
  const str = Buffer.from(`${value}\0`, 'utf8');
  const head = Buffer.alloc(8);
  head.writeUInt32BE(il + 1, 0);
  head.writeUInt32BE(dl + str.length, 4);
  return Buffer.concat([head, index, entry, data, str]);
}

describe('header semantics, with rpm as the oracle', () => {
  let tmp: { dir: string; cleanup: () => void };
  before(() => {
    tmp = tempDir('hyperward-rpmhdr-');
  });
  after(() => tmp.cleanup());

  it('dribbles replace region entries; damaged blobs are skipped as rpm skips them', () => {
    const blobs = marinerBlobs();
    copyFileSync(join(FIXTURES, 'mariner2-rpmdb.sqlite'), join(tmp.dir, 'rpmdb.sqlite'));
    const w = new Database(join(tmp.dir, 'rpmdb.sqlite'));
    w.pragma('foreign_keys = OFF');
    const set = w.prepare('UPDATE Packages SET blob = ? WHERE hnum = ?');
    set.run(withDribble(blobs[0]!, RpmTag.NAME, 'renamed-by-dribble'), 1);
    set.run(withDribble(blobs[2]!, RpmTag.VENDOR, 'Dribble Vendor'), 3);
    set.run(blobs[4]!.subarray(0, blobs[4]!.length - 1), 5); // one byte short
    const broken = Buffer.from(blobs[6]!);
    broken.writeUInt32BE(0xffff_ff00, 8 + 16 * 3 + 8); // an entry's offset far outside the store
    set.run(broken, 7);
    w.close();

    const want = execFileSync('rpm', ['--dbpath', tmp.dir, '-qa', '--qf', '%{NAME}\\t%{VENDOR}\\n'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    })
      .trim()
      .split('\n')
      .sort();
    const db = parseRpmDatabase(readFileSync(join(tmp.dir, 'rpmdb.sqlite')), 'rpmdb.sqlite');
    const got = db.packages.map((p) => `${p.name}\t${p.vendor ?? '(none)'}`).sort();
    assert.deepEqual(got, want);
    assert.ok(got.includes('renamed-by-dribble\tMicrosoft Corporation'));
    assert.ok(got.some((l) => l.endsWith('\tDribble Vendor')));
    assert.equal(got.length, 127);
    assert.deepEqual(
      db.problems.map((p) => [p.code, p.location.layer]),
      [
        ['E_FS_CORRUPT', 'rpm header 5'],
        ['E_FS_CORRUPT', 'rpm header 7'],
      ],
    );
  });
});

describe('header validation', () => {
  const blob = marinerBlobs()[10]!;

  it('refuses blobs whose size, region or entries do not add up', () => {
    const cases: Array<[string, Buffer]> = [
      ['short', blob.subarray(0, 7)],
      ['truncated', blob.subarray(0, blob.length - 3)],
      ['padded', Buffer.concat([blob, Buffer.alloc(4)])],
      ['no entries', Buffer.from([0, 0, 0, 0, 0, 0, 0, 0])],
    ];
    const il = blob.readUInt32BE(0);
    const mutate = (off: number, v: number): Buffer => {
      const b = Buffer.from(blob);
      b.writeUInt32BE(v >>> 0, off);
      return b;
    };
    cases.push(['region trailer outside', mutate(8 + 8, blob.readUInt32BE(4))]);
    cases.push(['region type', mutate(8 + 4, RpmType.INT32)]);
    cases.push(['tag below 100', mutate(8 + 16, 42)]);
    cases.push(['type 10', mutate(8 + 16 + 4, 10)]);
    cases.push(['misaligned int32', mutate(8 + 16 * (il - 1) + 8, 1)]);
    for (const [what, b] of cases) {
      assert.throws(
        () => RpmHeader.parse(b, { file: 'x' }),
        (e: unknown) => isHyperwardError(e) && e.code === 'E_FS_CORRUPT' && e.location.file === 'x',
        what,
      );
    }
    const h = RpmHeader.parse(blob);
    assert.equal(h.regionTag, RpmTag.HEADERIMMUTABLE);
    assert.equal(h.string(RpmTag.NAME), rpmRecordFromHeader(h, 11).name);
    assert.equal(h.number(RpmTag.NAME), undefined);
    assert.equal(h.strings(RpmTag.INSTALLTIME), undefined);
  });

  it('mutated header blobs fail only with HyperwardErrors (property)', () => {
    const blobs = marinerBlobs().filter((_, i) => i % 9 === 0);
    const check = (b: Buffer): void =>
      onlyHyperwardErrors(() => {
        const h = RpmHeader.parse(b, { file: 'fuzz' });
        const rec = rpmRecordFromHeader(h, 1);
        for (const t of h.tags()) {
          h.string(t);
          h.strings(t);
          h.numbers(t);
          h.bytes(t);
        }
        assert.ok(rec.files.length <= b.length);
      });
    const arb = fc.integer({ min: 0, max: blobs.length - 1 }).chain((i) => {
      const b = blobs[i]!;
      const indexEnd = Math.min(b.length, 8 + b.readUInt32BE(0) * 16);
      return fc.tuple(fc.constant(i), fc.oneof(byteEditsIn(0, indexEnd, 8), byteEdits(b.length, 16)));
    });
    fc.assert(
      fc.property(arb, ([i, edits]) => check(applyEdits(blobs[i]!, edits))),
      { numRuns: 400 },
    );
    // Truncations and random bytes too.
    fc.assert(
      fc.property(fc.integer({ min: 0, max: blobs.length - 1 }), fc.nat(), (i, cut) => {
        const b = blobs[i]!;
        check(b.subarray(0, cut % b.length));
      }),
      { numRuns: 100 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 600 }), (bytes) => check(Buffer.from(bytes))),
      { numRuns: 200 },
    );
  });
});
