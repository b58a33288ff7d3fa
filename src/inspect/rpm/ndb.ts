/**
 * rpm's NDB package database, `Packages.db` (SUSE since SLE 15 SP3 / openSUSE Leap 15.3), as rpm's
 * `lib/backend/ndb/rpmpkg.c` writes it. All integers are little-endian.
 *
 * - Header (32 bytes): magic `RpmP`, version 0, generation, number of slot pages, next package index.
 * - Slot pages (4096 bytes each, the first one after the header): 16-byte slots `Slot`, package index, block
 *   offset, block count, in blocks of 16 bytes; a block offset of 0 marks a free slot.
 * - Blobs at their block offset: head (`BlbS`, package index, timestamp, length), the header blob, zero padding
 *   to the block, tail (Adler-32 of head + blob + padding, length, `BlbE`).
 *
 * Every slot and blob is checked against the file and the others' claims; a bad slot or blob is reported and
 * skipped. An Adler-32 mismatch is reported but the blob is kept: rpm itself does not verify it when reading.
 */
import { HyperwardError, type ErrorLocation } from '../../errors.js';
import type { RpmBlob, RpmBlobSet } from './types.js';

const PKGDB_MAGIC = 0x506d7052; // 'RpmP' little-endian
const SLOT_MAGIC = 0x746f6c53; // 'Slot'
const BLOBHEAD_MAGIC = 0x53626c42; // 'BlbS'
const BLOBTAIL_MAGIC = 0x45626c42; // 'BlbE'
const HEADER_SIZE = 32;
const SLOT_SIZE = 16;
const BLK_SIZE = 16;
const PAGE_SIZE = 4096;
const BLOBHEAD_SIZE = 16;
const BLOBTAIL_SIZE = 12;

/** What the NDB header says. */
export interface NdbHeader {
  version: number;
  generation: number;
  slotPages: number;
  nextPkgIdx: number;
}

/** One used slot. */
export interface NdbSlot {
  slot: number;
  pkgIdx: number;
  blkOff: number;
  blkCnt: number;
}

/** Adler-32 (RFC 1950) of `buf[start, end)`, continuing from `adler`. */
export function adler32(buf: Buffer, start = 0, end = buf.length, adler = 1): number {
  let s1 = adler & 0xffff;
  let s2 = (adler >>> 16) & 0xffff;
  let i = start;
  while (i < end) {
    const stop = Math.min(end, i + 5552);
    for (; i < stop; i++) {
      s1 += buf[i]!;
      s2 += s1;
    }
    s1 %= 65521;
    s2 %= 65521;
  }
  return ((s2 << 16) | s1) >>> 0;
}

function corrupt(message: string, where: ErrorLocation, offset?: number): HyperwardError {
  const loc: ErrorLocation = { ...where };
  if (offset !== undefined) loc.offset = offset;
  return new HyperwardError('E_FS_CORRUPT', message, loc);
}

/** Reads and checks the NDB header. */
export function readNdbHeader(buf: Buffer, file: string): NdbHeader {
  const where: ErrorLocation = { file, layer: 'ndb header' };
  if (buf.length < PAGE_SIZE)
    throw corrupt(`file of ${buf.length} bytes is too small for an NDB database`, where, 0);
  if (buf.readUInt32LE(0) !== PKGDB_MAGIC) {
    throw new HyperwardError('E_UNSUPPORTED_FORMAT', 'not an rpm NDB Packages.db (bad magic)', {
      ...where,
      offset: 0,
    });
  }
  const version = buf.readUInt32LE(4);
  if (version !== 0)
    throw new HyperwardError('E_UNSUPPORTED_FORMAT', `NDB version ${version}`, { ...where, offset: 4 });
  const slotPages = buf.readUInt32LE(12);
  if (slotPages < 1 || slotPages > Math.floor(buf.length / PAGE_SIZE)) {
    throw corrupt(`${slotPages} slot pages in a file of ${buf.length} bytes`, where, 12);
  }
  return { version, generation: buf.readUInt32LE(8), slotPages, nextPkgIdx: buf.readUInt32LE(16) };
}

/**
 * The used slots, as rpm's `rpmpkgReadSlots` reads them, with a problem for each slot it would reject. Slots
 * that repeat a package index or overlap an earlier slot's blocks are reported and dropped.
 */
export function readNdbSlots(
  buf: Buffer,
  file: string,
  header: NdbHeader,
): { slots: NdbSlot[]; problems: HyperwardError[] } {
  const fileBlocks = Math.floor(buf.length / BLK_SIZE);
  const minBlkOff = (header.slotPages * PAGE_SIZE) / BLK_SIZE;
  const slots: NdbSlot[] = [];
  const problems: HyperwardError[] = [];
  const seen = new Set<number>();
  let slotNo = HEADER_SIZE / SLOT_SIZE;
  for (let o = HEADER_SIZE; o < header.slotPages * PAGE_SIZE; o += SLOT_SIZE, slotNo++) {
    const where: ErrorLocation = { file, layer: `ndb slot ${slotNo}` };
    if (buf.readUInt32LE(o) !== SLOT_MAGIC) {
      problems.push(corrupt('slot has no Slot magic', where, o));
      continue;
    }
    const blkOff = buf.readUInt32LE(o + 8);
    if (blkOff === 0) continue;
    const pkgIdx = buf.readUInt32LE(o + 4);
    const blkCnt = buf.readUInt32LE(o + 12);
    if (pkgIdx === 0 || blkCnt === 0 || blkOff < minBlkOff || blkOff + blkCnt > fileBlocks) {
      problems.push(corrupt(`slot for package ${pkgIdx} at block ${blkOff}+${blkCnt} is invalid`, where, o));
      continue;
    }
    if (seen.has(pkgIdx)) {
      problems.push(corrupt(`second slot for package ${pkgIdx}`, where, o));
      continue;
    }
    seen.add(pkgIdx);
    slots.push({ slot: slotNo, pkgIdx, blkOff, blkCnt });
  }
  // Overlapping blobs: keep the first by position, report the rest.
  slots.sort((a, b) => a.blkOff - b.blkOff);
  const kept: NdbSlot[] = [];
  let end = minBlkOff;
  for (const s of slots) {
    if (s.blkOff < end) {
      problems.push(
        corrupt(`blob of package ${s.pkgIdx} overlaps another`, { file, layer: `ndb slot ${s.slot}` }),
      );
      continue;
    }
    kept.push(s);
    end = s.blkOff + s.blkCnt;
  }
  return { slots: kept, problems };
}

/** The blob a slot points at, checked as rpm's `rpmpkgReadBlob` checks it. */
export function readNdbBlob(buf: Buffer, file: string, s: NdbSlot): { blob: RpmBlob; adlerOk: boolean } {
  const where: ErrorLocation = { file, layer: `ndb blob of package ${s.pkgIdx}` };
  const start = s.blkOff * BLK_SIZE;
  if (s.blkCnt < Math.ceil((BLOBHEAD_SIZE + BLOBTAIL_SIZE) / BLK_SIZE))
    throw corrupt(`${s.blkCnt} blocks is too few`, where, start);
  if (buf.readUInt32LE(start) !== BLOBHEAD_MAGIC) throw corrupt('blob has no BlbS magic', where, start);
  if (buf.readUInt32LE(start + 4) !== s.pkgIdx) {
    throw corrupt(`blob belongs to package ${buf.readUInt32LE(start + 4)}`, where, start + 4);
  }
  const len = buf.readUInt32LE(start + 12);
  if (s.blkCnt !== Math.ceil((BLOBHEAD_SIZE + len + BLOBTAIL_SIZE) / BLK_SIZE)) {
    throw corrupt(`blob length ${len} does not fill its ${s.blkCnt} blocks`, where, start + 12);
  }
  const tail = start + s.blkCnt * BLK_SIZE - BLOBTAIL_SIZE;
  if (buf.readUInt32LE(tail + 8) !== BLOBTAIL_MAGIC) throw corrupt('blob has no BlbE magic', where, tail + 8);
  if (buf.readUInt32LE(tail + 4) !== len)
    throw corrupt('blob tail length differs from its head', where, tail + 4);
  const adlerOk = adler32(buf, start, tail) === buf.readUInt32LE(tail);
  const dataStart = start + BLOBHEAD_SIZE;
  return {
    blob: {
      instance: s.pkgIdx,
      blob: Buffer.from(buf.subarray(dataStart, dataStart + len)),
      offset: dataStart,
    },
    adlerOk,
  };
}

/** The header blobs of an NDB `Packages.db`, in package-index order. */
export function readNdbPackages(buf: Buffer, file: string): RpmBlobSet {
  const header = readNdbHeader(buf, file);
  const { slots, problems } = readNdbSlots(buf, file, header);
  const blobs: RpmBlob[] = [];
  for (const s of slots) {
    try {
      const { blob, adlerOk } = readNdbBlob(buf, file, s);
      if (!adlerOk) {
        problems.push(
          corrupt(
            'blob checksum (Adler-32) mismatch; read anyway, as rpm does',
            {
              file,
              layer: `ndb blob of package ${s.pkgIdx}`,
            },
            s.blkOff * BLK_SIZE,
          ),
        );
      }
      blobs.push(blob);
    } catch (err) {
      if (!(err instanceof HyperwardError)) throw err;
      problems.push(err);
    }
  }
  blobs.sort((a, b) => a.instance - b.instance);
  return { blobs, problems };
}
