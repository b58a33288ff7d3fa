import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FileSource, newReadStats } from '../source/file.js';
import { expectError } from '../../test/helpers/errors.js';
import { tempDir } from '../../test/helpers/tmp.js';
import { PagedTable } from './paged-table.js';

/** A file of `lead` bytes of 0xee, then `entries` entries of `entryBytes` bytes, entry i holding 1000003*i+7. */
function tableFile(path: string, lead: number, entries: number, entryBytes: 4 | 8): Buffer {
  const buf = Buffer.alloc(lead + entries * entryBytes, 0xee);
  for (let i = 0; i < entries; i++) {
    const v = (Math.imul(i, 1000003) + 7) >>> 0;
    if (entryBytes === 4) buf.writeUInt32LE(v, lead + i * 4);
    else buf.writeBigUInt64LE(BigInt(v) * 0x1_0000_0001n, lead + i * 8);
  }
  writeFileSync(path, buf);
  return buf;
}

/** Pages of 1024 entries: two full ones and a partial last one that ends at the end of the file. */
const ENTRIES = 2500;

/** The test table of `ENTRIES` entries at `offset` of `src`. */
function table(
  src: FileSource,
  offset: number,
  entryBytes: number,
  pageEntries: number,
  cachePages: number,
): PagedTable {
  return new PagedTable(src, {
    offset,
    entries: ENTRIES,
    entryBytes,
    pageEntries,
    cachePages,
    layer: 'test table',
  });
}

describe('PagedTable', () => {
  const { dir, cleanup } = tempDir('hyperward-paged-');
  after(cleanup);
  const LEAD = 777;
  let le: Buffer;
  let wide: Buffer;
  before(() => {
    le = tableFile(join(dir, 'le.bin'), LEAD, ENTRIES, 4);
    wide = tableFile(join(dir, 'wide.bin'), LEAD, ENTRIES, 8);
  });

  it('reads every entry, little- and big-endian, up to the partial last page at the end of the file', () => {
    const src = new FileSource(join(dir, 'le.bin'));
    try {
      const t = table(src, LEAD, 4, 1024, 4);
      for (let i = 0; i < ENTRIES; i++) {
        assert.equal(t.u32le(i), le.readUInt32LE(LEAD + i * 4), `entry ${i} (LE)`);
        assert.equal(t.u32be(i), le.readUInt32BE(LEAD + i * 4), `entry ${i} (BE)`);
      }
      assert.equal(t.page(ENTRIES - 1).length, (ENTRIES - 2048) * 4, 'the last page holds only the rest');
    } finally {
      src.close();
    }
  });

  it('gives the page and the offset of wide entries', () => {
    const src = new FileSource(join(dir, 'wide.bin'));
    try {
      const t = table(src, LEAD, 8, 512, 2);
      for (const i of [0, 1, 511, 512, 513, 1500, ENTRIES - 1]) {
        const page = t.page(i);
        const at = t.entryOffset(i);
        assert.ok(
          page.subarray(at, at + 8).equals(wide.subarray(LEAD + i * 8, LEAD + i * 8 + 8)),
          `entry ${i}`,
        );
      }
    } finally {
      src.close();
    }
  });

  it('reads one page per miss and keeps at most `cachePages` pages', () => {
    const stats = newReadStats();
    const src = new FileSource(join(dir, 'le.bin'), stats);
    try {
      const t = table(src, LEAD, 4, 1024, 2);
      for (let i = 0; i < 1024; i++) t.u32le(i);
      assert.equal(stats.reads, 1, 'a whole page in one read');
      assert.equal(stats.bytesRead, 4096);
      t.u32le(1024); // page 1
      t.u32le(5); // page 0, still cached
      assert.equal(stats.reads, 2);
      t.u32le(2100); // page 2 evicts page 1, the least recently used
      t.u32le(0);
      assert.equal(stats.reads, 3);
      t.u32le(1500); // page 1 again
      assert.equal(stats.reads, 4);
    } finally {
      src.close();
    }
  });

  it('names the layer when the table runs past the end of the file', () => {
    const src = new FileSource(join(dir, 'le.bin'));
    try {
      const t = table(src, LEAD + 4, 4, 1024, 2);
      assert.equal(t.u32le(0), le.readUInt32LE(LEAD + 4));
      expectError(() => t.u32le(ENTRIES - 1), 'E_IMAGE_CORRUPT', { layer: /^test table$/ });
    } finally {
      src.close();
    }
  });
});
