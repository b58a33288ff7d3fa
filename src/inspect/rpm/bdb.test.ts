/**
 * The Berkeley DB hash reader on the real EL8 `Packages` (one package whose header spans 20 overflow pages) and
 * on damaged copies of it: loops, bad pages and bad items are reported and skipped, never followed for ever,
 * and mutated files fail only with HyperwardErrors. Agreement with rpm on whole databases is in index.test.ts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { applyEdits, byteEditsIn, onlyHyperwardErrors } from '../../../test/helpers/fuzz.js';
import { isHyperwardError } from '../../errors.js';
import { bucketPage, readBdbHash, readBdbHashMeta, readBdbPackages } from './bdb.js';
import { recordsFromBlobs } from './index.js';

const EL8 = readFileSync(join(import.meta.dirname, '../../../fixtures/rpmdb/el8-libuuid-Packages'));
const PAGE = 4096;

/** A copy with the 32-bit little-endian value at `off` replaced. */
function patch32(buf: Buffer, off: number, v: number): Buffer {
  const b = Buffer.from(buf);
  b.writeUInt32LE(v >>> 0, off);
  return b;
}

/** The page of the one record's value chain start, and the chain itself, as the file lays them out. */
function layout(): { hashPages: number[]; overflow: number[] } {
  const meta = readBdbHashMeta(EL8, 'x');
  const hashPages = [0, 1].map((b) => bucketPage(meta, b));
  const overflow: number[] = [];
  for (let p = 1; p <= meta.lastPage; p++) if (EL8[p * PAGE + 25] === 7) overflow.push(p);
  return { hashPages, overflow };
}

describe('Berkeley DB hash reader', () => {
  it('reads the meta page and the one package of the real EL8 database', () => {
    const meta = readBdbHashMeta(EL8, 'Packages');
    assert.equal(meta.littleEndian, true);
    assert.equal(meta.pageSize, PAGE);
    assert.equal(meta.lastPage, EL8.length / PAGE - 1);
    const { entries, problems } = readBdbHash(EL8, 'Packages');
    assert.deepEqual(problems, []);
    // rpm's next-instance record (key 0) and the package (key 1), as db5.3_dump lists them.
    assert.deepEqual(
      entries.map((e) => e.key.toString('hex')),
      ['00000000', '01000000'],
    );
    const set = readBdbPackages(EL8, 'Packages');
    assert.equal(set.blobs.length, 1);
    assert.equal(set.blobs[0]!.instance, 1);
    // The value is the whole header: 8 + 16·il + dl bytes.
    const blob = set.blobs[0]!.blob;
    assert.equal(blob.length, 8 + 16 * blob.readUInt32BE(0) + blob.readUInt32BE(4));
  });

  it('refuses what is not a usable hash database', () => {
    const expect = (buf: Buffer, code: string): void => {
      assert.throws(
        () => readBdbPackages(buf, 'Packages'),
        (e: unknown) => isHyperwardError(e) && e.code === code,
        code,
      );
    };
    expect(EL8.subarray(0, 100), 'E_FS_CORRUPT');
    expect(patch32(EL8, 12, 0x053162), 'E_UNSUPPORTED_FORMAT'); // btree
    expect(patch32(EL8, 12, 0x12345678), 'E_UNSUPPORTED_FORMAT');
    expect(patch32(EL8, 16, 7), 'E_UNSUPPORTED_FORMAT'); // hash version
    expect(patch32(EL8, 20, 3000), 'E_FS_CORRUPT'); // page size
    expect(patch32(EL8, 32, 1000), 'E_FS_CORRUPT'); // last page beyond the file
    expect(patch32(EL8, 72, 1000), 'E_FS_CORRUPT'); // max bucket beyond the last page
    const enc = Buffer.from(EL8);
    enc[24] = 1;
    expect(enc, 'E_ENCRYPTED');
  });

  it('reports loops and broken chains, and goes on', () => {
    const { hashPages, overflow } = layout();
    // A bucket page whose next page is itself.
    const loop = patch32(EL8, hashPages[0]! * PAGE + 16, hashPages[0]!);
    const r1 = readBdbPackages(loop, 'Packages');
    assert.equal(r1.blobs.length, 1);
    assert.equal(r1.problems.length, 1);
    assert.match(r1.problems[0]!.message, /reached twice/);
    // An overflow chain that loops back to its start: the record is skipped, with its place named.
    const ovLoop = patch32(EL8, overflow[5]! * PAGE + 16, overflow[2]!);
    const r2 = readBdbPackages(ovLoop, 'Packages');
    assert.equal(r2.blobs.length, 0);
    assert.equal(r2.problems.length, 1);
    assert.match(r2.problems[0]!.message, /overflow chain loops at page/);
    assert.match(r2.problems[0]!.location.layer!, /bdb hash page \d+ item \d+/);
    // An overflow page of another type in the chain.
    const wrongType = Buffer.from(EL8);
    wrongType[overflow[3]! * PAGE + 25] = 13;
    const r3 = readBdbPackages(wrongType, 'Packages');
    assert.equal(r3.blobs.length, 0);
    assert.match(r3.problems[0]!.message, /overflow chain has type 13/);
    // A page number that is not the page's own.
    const misplaced = patch32(EL8, hashPages[1]! * PAGE + 8, 99);
    const r4 = readBdbPackages(misplaced, 'Packages');
    assert.equal(r4.problems.length, 1);
    assert.match(r4.problems[0]!.message, /says it is page 99/);
  });

  it('mutated databases fail only with HyperwardErrors, in bounded work (property)', () => {
    const { hashPages, overflow } = layout();
    const regions: Array<[number, number]> = [
      [0, 512], // meta page: geometry, masks, spares
      [hashPages[0]! * PAGE, hashPages[0]! * PAGE + PAGE],
      [hashPages[1]! * PAGE, hashPages[1]! * PAGE + PAGE],
      [overflow[0]! * PAGE, overflow[0]! * PAGE + 64], // overflow headers
      [overflow.at(-1)! * PAGE, overflow.at(-1)! * PAGE + 64],
    ];
    const arb = fc
      .integer({ min: 0, max: regions.length - 1 })
      .chain((r) => byteEditsIn(regions[r]![0], regions[r]![1], 12));
    fc.assert(
      fc.property(arb, (edits) =>
        onlyHyperwardErrors(() => {
          const buf = applyEdits(EL8, edits);
          const set = readBdbPackages(buf, 'Packages');
          recordsFromBlobs(set, 'Packages', 'bdb');
          assert.ok(set.blobs.length <= buf.length / 16);
        }),
      ),
      { numRuns: 400 },
    );
  });
});
