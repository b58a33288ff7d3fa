/**
 * The NDB reader on the real SLES 15 `Packages.db` and damaged copies of it. That every blob's Adler-32 — which
 * rpm computed when it wrote the file — matches proves the slot and blob boundaries; the package list is checked
 * against rpm's own listing in index.test.ts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { applyEdits, byteEditsIn, onlyHyperwardErrors } from '../../../test/helpers/fuzz.js';
import { isHyperwardError } from '../../errors.js';
import { recordsFromBlobs } from './index.js';
import { adler32, readNdbBlob, readNdbHeader, readNdbPackages, readNdbSlots } from './ndb.js';

const SLE = readFileSync(join(import.meta.dirname, '../../../fixtures/rpmdb/sle15-Packages.db'));

function patch32(buf: Buffer, off: number, v: number): Buffer {
  const b = Buffer.from(buf);
  b.writeUInt32LE(v >>> 0, off);
  return b;
}

describe('NDB Packages.db reader', () => {
  it('Adler-32 as RFC 1950 defines it', () => {
    // The example of the Adler-32 article and zlib: adler32("Wikipedia") = 0x11E60398.
    assert.equal(adler32(Buffer.from('Wikipedia')), 0x11e60398);
    assert.equal(adler32(Buffer.alloc(0)), 1);
    // Long input crosses the 5552-byte reduction boundary; zlib's value for 100000 bytes of 0xff.
    const zlib = (b: Buffer): number => {
      let a = 1;
      let s = 0;
      for (const x of b) {
        a = (a + x) % 65521;
        s = (s + a) % 65521;
      }
      return ((s << 16) | a) >>> 0;
    };
    const big = Buffer.alloc(100_000, 0xff);
    assert.equal(adler32(big), zlib(big));
  });

  it('reads every slot and blob of the real database with matching checksums', () => {
    const h = readNdbHeader(SLE, 'Packages.db');
    assert.equal(h.version, 0);
    assert.equal(h.slotPages, 1);
    const { slots, problems } = readNdbSlots(SLE, 'Packages.db', h);
    assert.deepEqual(problems, []);
    assert.equal(slots.length, 35);
    for (const s of slots)
      assert.equal(readNdbBlob(SLE, 'Packages.db', s).adlerOk, true, `package ${s.pkgIdx}`);
    const set = readNdbPackages(SLE, 'Packages.db');
    assert.deepEqual(set.problems, []);
    assert.deepEqual(
      set.blobs.map((b) => b.instance),
      slots.map((s) => s.pkgIdx).sort((a, b) => a - b),
    );
  });

  it('skips bad slots and blobs with a problem each, and reads the rest', () => {
    const slot = (i: number): number => 32 + 16 * i; // slot i of page 0 (after the 32-byte header)
    const first = SLE.readUInt32LE(slot(0) + 8) * 16;
    const cases: Array<[string, Buffer, RegExp]> = [
      ['slot magic', patch32(SLE, slot(1), 0), /no Slot magic/],
      ['slot beyond the file', patch32(SLE, slot(2) + 8, 0x7fffffff), /invalid/],
      ['duplicate package', patch32(SLE, slot(4) + 4, SLE.readUInt32LE(slot(3) + 4)), /second slot/],
      ['overlap', patch32(SLE, slot(5) + 8, SLE.readUInt32LE(slot(4) + 8) + 1), /overlaps/],
      ['blob magic', patch32(SLE, first, 0), /BlbS/],
      ['blob owner', patch32(SLE, first + 4, 99), /belongs to package 99/],
      ['blob length', patch32(SLE, first + 12, 12345), /does not fill/],
      ['checksum', patch32(SLE, first + 100, 0x01020304), /Adler-32/],
    ];
    for (const [what, buf, message] of cases) {
      const set = readNdbPackages(buf, 'Packages.db');
      assert.equal(set.problems.length, 1, what);
      assert.match(set.problems[0]!.message, message, what);
      assert.equal(set.problems[0]!.location.file, 'Packages.db');
      // The checksum mismatch keeps the blob (rpm reads it without checking); the others lose one package.
      assert.equal(set.blobs.length, what === 'checksum' ? 35 : 34, what);
    }
    assert.throws(
      () => readNdbPackages(patch32(SLE, 0, 0), 'x'),
      (e: unknown) => isHyperwardError(e) && e.code === 'E_UNSUPPORTED_FORMAT',
    );
    assert.throws(
      () => readNdbPackages(patch32(SLE, 12, 100000), 'x'),
      (e: unknown) => isHyperwardError(e) && e.code === 'E_FS_CORRUPT',
    );
  });

  it('mutated databases fail only with HyperwardErrors (property)', () => {
    const blobStarts: number[] = [];
    for (let o = 32; o < 4096; o += 16)
      if (SLE.readUInt32LE(o + 8)) blobStarts.push(SLE.readUInt32LE(o + 8) * 16);
    const regions: Array<[number, number]> = [
      [0, 32], // header
      [32, 32 + 16 * 40], // used slots
      ...blobStarts.slice(0, 6).map((s): [number, number] => [s, s + 64]), // blob heads and the headers inside
    ];
    const arb = fc
      .integer({ min: 0, max: regions.length - 1 })
      .chain((r) => byteEditsIn(regions[r]![0], regions[r]![1], 10));
    fc.assert(
      fc.property(arb, (edits) =>
        onlyHyperwardErrors(() => {
          const buf = applyEdits(SLE, edits);
          recordsFromBlobs(readNdbPackages(buf, 'Packages.db'), 'Packages.db', 'ndb');
        }),
      ),
      { numRuns: 200 },
    );
  });
});
