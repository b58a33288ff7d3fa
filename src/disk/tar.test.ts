import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  closeSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  symlinkSync,
  truncateSync,
  utimesSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { expectError } from '../../test/helpers/errors.js';
import { applyEdits, byteEditsIn, onlyHyperwardErrors } from '../../test/helpers/fuzz.js';
import { run, tempDir } from '../../test/helpers/tmp.js';
import { HyperwardError } from '../errors.js';
import { FileSource } from '../source/file.js';
import {
  TAR_BLOCK,
  indexTar,
  looksLikeTar,
  parsePaxRecords,
  parseTarHeader,
  parseTarNumber,
  tarChecksumOk,
  type TarByteSource,
  type TarIndex,
} from './tar.js';

/** An archive in memory, read like a file: past the end is an error, as for `FileSource`. */
function bufferSource(buf: Buffer): TarByteSource {
  return {
    size: buf.length,
    read(offset: number, length: number): Buffer {
      if (offset < 0 || length < 0 || offset + length > buf.length) {
        throw new HyperwardError('E_IMAGE_CORRUPT', 'read past the end', { file: 'mem', offset });
      }
      return Buffer.from(buf.subarray(offset, offset + length));
    },
  };
}

/** Python's tarfile (an independent reader) lists members with their data offsets: the oracle. */
interface PyMember {
  name: string;
  type: string;
  size: number;
  offset: number;
  offset_data: number;
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  linkname: string;
}
const PY_LIST = `
import json, sys, tarfile
out = []
with tarfile.open(sys.argv[1], 'r:') as t:
    for m in t.getmembers():
        out.append(dict(name=m.name, type=m.type.decode('latin1'), size=m.size, offset=m.offset,
                        offset_data=m.offset_data, mode=m.mode, uid=m.uid, gid=m.gid, mtime=m.mtime,
                        linkname=m.linkname))
print(json.dumps(out))
`;
function pyList(archive: string): PyMember[] {
  return JSON.parse(run('/usr/bin/python3', ['-c', PY_LIST, archive])) as PyMember[];
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Compares the index with Python's listing, member by member, and the bytes at each offset with the source. */
function compareWithPython(archive: string, idx: TarIndex, srcDir: string): void {
  const py = pyList(archive);
  assert.equal(idx.members.length, py.length, 'member count');
  const raw = readFileSync(archive);
  for (let i = 0; i < py.length; i++) {
    const p = py[i]!;
    const m = idx.members[i]!;
    // Python drops a directory's trailing slash; the index keeps names as stored.
    assert.equal(m.type === 'dir' ? m.name.replace(/\/+$/, '') : m.name, p.name, `name of member ${i}`);
    assert.equal(m.headerOffset, p.offset, `header offset of ${p.name}`);
    assert.equal(m.dataOffset, p.offset_data, `data offset of ${p.name}`);
    assert.equal(m.mode, p.mode & 0o7777, `mode of ${p.name}`);
    assert.equal(m.uid, p.uid, `uid of ${p.name}`);
    assert.equal(m.gid, p.gid, `gid of ${p.name}`);
    assert.equal(Math.floor(m.mtime), Math.floor(p.mtime), `mtime of ${p.name}`);
    if (p.type === '2' || p.type === '1') assert.equal(m.linkName, p.linkname, `link of ${p.name}`);
    if (p.type === '0' || p.type === '\0') {
      assert.equal(m.type, 'file');
      assert.equal(m.size, p.size, `size of ${p.name}`);
      const fromArchive = raw.subarray(m.dataOffset, m.dataOffset + m.size);
      assert.equal(sha(fromArchive), sha(readFileSync(join(srcDir, p.name))), `bytes of ${p.name}`);
    }
  }
}

describe('tar index against GNU tar archives, Python tarfile as the oracle', () => {
  const t = tempDir('hw-tar-');
  const tree = join(t.dir, 'tree');
  const longDir = 'd'.repeat(60) + '/' + 'e'.repeat(60);
  const names: string[] = [];

  before(() => {
    mkdirSync(join(tree, longDir), { recursive: true });
    const file = (name: string, data: Buffer | string): void => {
      writeFileSync(join(tree, name), data);
      names.push(name);
    };
    file('empty', '');
    file('small.txt', 'hello tar\n');
    file('exact-block', Buffer.alloc(TAR_BLOCK, 0x41));
    // Several blocks of varied bytes.
    const big = Buffer.alloc(70_001);
    for (let i = 0; i < big.length; i++) big[i] = (i * 131 + (i >> 9)) & 0xff;
    file('big.bin', big);
    file('n'.repeat(100), 'a name of exactly 100 bytes');
    // 60 + 1 + 60 + 1 + 20 = 142 bytes: needs the ustar prefix field.
    file(`${longDir}/${'f'.repeat(20)}`, 'in a deep directory');
    file('café-ü.txt', 'non-ASCII name');
    symlinkSync('small.txt', join(tree, 'short-link'));
    linkSync(join(tree, 'small.txt'), join(tree, 'hard-link'));
    run('mkfifo', [join(tree, 'fifo')]);
    for (const n of names) utimesSync(join(tree, n), 1_600_000_000, 1_600_000_000 + names.indexOf(n));
  });
  after(() => t.cleanup());

  const build = (format: string, extra: string[], members: string[], out: string): string => {
    const archive = join(t.dir, out);
    run('tar', [`--format=${format}`, '--sort=name', '-cf', archive, ...extra, '-C', tree, ...members]);
    return archive;
  };

  it('ustar: prefix/name split, hard and symbolic links, a FIFO, a directory', () => {
    const archive = build(
      'ustar',
      ['--owner=1234', '--group=4321'],
      [
        'empty',
        'small.txt',
        'exact-block',
        'big.bin',
        'n'.repeat(100),
        longDir,
        'café-ü.txt',
        'short-link',
        'hard-link',
        'fifo',
      ],
      'u.tar',
    );
    const src = new FileSource(archive);
    try {
      const idx = indexTar(src, archive);
      assert.equal(idx.complete, true);
      assert.deepEqual(idx.problems, []);
      assert.ok(idx.members.every((m) => m.format === 'ustar'));
      // The deep file's name needs the prefix field; it must come back whole.
      assert.ok(idx.members.some((m) => m.name === `${longDir}/${'f'.repeat(20)}`));
      compareWithPython(archive, idx, tree);
    } finally {
      src.close();
    }
  });

  it('GNU: long names and long link targets (L/K), base-256 owner ids', () => {
    const longName = 'x'.repeat(180) + '.bin';
    writeFileSync(join(tree, longName), 'long name body');
    symlinkSync('t'.repeat(150), join(tree, 'long-link'));
    const archive = build(
      'gnu',
      ['--owner=3000000', '--group=3000001'],
      ['small.txt', longName, 'long-link', 'big.bin'],
      'g.tar',
    );
    const idx = indexTar(bufferSource(readFileSync(archive)), archive);
    assert.equal(idx.complete, true);
    assert.ok(idx.members.some((m) => m.name === longName));
    assert.equal(idx.members.find((m) => m.name === 'long-link')?.linkName, 't'.repeat(150));
    // 3000000 does not fit 7 octal digits: GNU tar writes base-256, and both readers agree on it.
    assert.ok(idx.members.every((m) => m.uid === 3_000_000 && m.gid === 3_000_001));
    compareWithPython(archive, idx, tree);
  });

  it('pax: path, linkpath, uid/gid and fractional mtime from extended headers', () => {
    const longName = 'p'.repeat(200) + '.txt';
    writeFileSync(join(tree, longName), 'pax long name');
    utimesSync(join(tree, longName), 1_650_000_000.25, 1_650_000_000.75);
    symlinkSync('q'.repeat(130), join(tree, 'pax-link'));
    const archive = build(
      'pax',
      ['--owner=3000000', '--group=7'],
      ['small.txt', longName, 'pax-link', 'café-ü.txt', 'big.bin'],
      'p.tar',
    );
    const idx = indexTar(bufferSource(readFileSync(archive)), archive);
    assert.equal(idx.complete, true);
    assert.ok(idx.members.filter((m) => m.pax).length >= 2);
    assert.ok(idx.members.some((m) => m.name === longName));
    compareWithPython(archive, idx, tree);
  });

  it('GNU sparse members with extended sparse maps: indexed as sparse, the next member found', () => {
    // Ten data islands: more than the four map entries a GNU header holds, so extension blocks follow it.
    const sparse = join(tree, 'sparse.img');
    writeFileSync(sparse, '');
    truncateSync(sparse, 10 * 65536);
    const fd = openSync(sparse, 'r+');
    for (let i = 0; i < 10; i++) writeSync(fd, Buffer.alloc(100, i + 1), 0, 100, i * 65536 + 4096);
    closeSync(fd);
    for (const format of ['gnu', 'pax']) {
      const archive = build(format, ['--sparse'], ['sparse.img', 'small.txt'], `sparse-${format}.tar`);
      const idx = indexTar(bufferSource(readFileSync(archive)), archive);
      assert.equal(idx.complete, true, format);
      assert.equal(idx.members[0]!.name, 'sparse.img');
      assert.equal(idx.members[0]!.type, 'sparse');
      const py = pyList(archive);
      // Header offsets agree for all; data offsets for what follows (a pax 1.0 sparse member stores its map at the
      // start of its data area, which Python steps over and the index, describing stored bytes, does not).
      assert.deepEqual(
        idx.members.map((m) => [m.name, m.headerOffset]),
        py.map((p) => [p.name, p.offset]),
        format,
      );
      assert.equal(idx.members[1]!.dataOffset, py[1]!.offset_data, format);
      if (format === 'gnu') assert.equal(idx.members[0]!.dataOffset, py[0]!.offset_data);
    }
  });

  it('v7: the old format without magic', () => {
    const archive = build('v7', [], ['small.txt', 'big.bin', 'empty'], 'v7.tar');
    const idx = indexTar(bufferSource(readFileSync(archive)), archive);
    assert.ok(idx.members.every((m) => m.format === 'v7'));
    compareWithPython(archive, idx, tree);
  });

  it('global pax headers and a pax size that overrides the header (Python writes them)', () => {
    const archive = join(t.dir, 'py.tar');
    // A global header, then a member whose ustar size field we zero: only the pax `size` gives its length.
    run('/usr/bin/python3', [
      '-c',
      `
import io, sys, tarfile
with tarfile.open(sys.argv[1], 'w', format=tarfile.PAX_FORMAT, pax_headers={'comment': 'global'}) as t:
    data = bytes(range(256)) * 11
    ti = tarfile.TarInfo('sized.bin'); ti.size = len(data); ti.pax_headers = {'size': str(len(data))}
    t.addfile(ti, io.BytesIO(data))
    ti = tarfile.TarInfo('after.txt'); ti.size = 5
    t.addfile(ti, io.BytesIO(b'after'))
`,
      archive,
    ]);
    const raw = readFileSync(archive);
    const before = indexTar(bufferSource(raw), archive).members.find((m) => m.name === 'sized.bin')!;
    // Zero the ustar size field and fix the checksum, as a writer does for members over 8 GiB.
    const h = before.dataOffset - TAR_BLOCK;
    raw.fill(0x30, h + 124, h + 135);
    raw.fill(0x20, h + 148, h + 156);
    let sum = 0;
    for (let i = 0; i < TAR_BLOCK; i++) sum += raw[h + i]!;
    raw.write(sum.toString(8).padStart(6, '0') + '\0 ', h + 148, 'latin1');
    writeFileSync(archive, raw);
    const idx = indexTar(bufferSource(raw), archive);
    const py = pyList(archive);
    assert.deepEqual(
      idx.members.map((m) => [m.name, m.size, m.dataOffset]),
      py.map((p) => [p.name, p.size, p.offset_data]),
    );
    assert.equal(idx.members[0]!.size, 256 * 11);
  });

  it('an archive without its end marker is complete, with a note; a truncated one is not', () => {
    const archive = build('ustar', [], ['small.txt', 'big.bin'], 'cut.tar');
    const raw = readFileSync(archive);
    const idx = indexTar(bufferSource(raw), archive);
    const last = idx.members[idx.members.length - 1]!;
    const end = last.dataOffset + Math.ceil(last.size / TAR_BLOCK) * TAR_BLOCK;
    const noMarker = indexTar(bufferSource(raw.subarray(0, end)), 'x');
    assert.equal(noMarker.complete, true);
    assert.equal(noMarker.members.length, 2);
    assert.match(noMarker.problems[0]!.message, /end-of-archive/);
    const cut = indexTar(bufferSource(raw.subarray(0, last.dataOffset + 100)), 'x');
    assert.equal(cut.complete, false);
    assert.deepEqual(
      cut.members.map((m) => m.name),
      ['small.txt'],
    );
    assert.match(cut.problems[0]!.message, /past the end/);
    // Truncated on disk too, through a real FileSource.
    const onDisk = join(t.dir, 'cut-on-disk.tar');
    writeFileSync(onDisk, raw);
    truncateSync(onDisk, last.dataOffset + 100);
    const src = new FileSource(onDisk);
    try {
      assert.equal(indexTar(src, onDisk).complete, false);
    } finally {
      src.close();
    }
  });

  it('a damaged header stops the index there; the members before it are kept', () => {
    const archive = build('ustar', [], ['small.txt', 'big.bin', 'empty'], 'dmg.tar');
    const raw = readFileSync(archive);
    const idx = indexTar(bufferSource(raw), archive);
    const second = idx.members[1]!.headerOffset;
    const bad = Buffer.from(raw);
    bad[second + 3] = bad[second + 3]! ^ 0x20; // one bit of the name
    const r = indexTar(bufferSource(bad), archive);
    assert.equal(r.complete, false);
    assert.deepEqual(
      r.members.map((m) => m.name),
      ['small.txt'],
    );
    assert.equal(r.problems[0]!.offset, second);
    assert.match(r.problems[0]!.message, /checksum/);
    // Python's tarfile refuses the same archive at the same place.
    const damaged = join(t.dir, 'dmg2.tar');
    writeFileSync(damaged, bad);
    assert.equal(pyList(damaged).length, 1);
  });

  it('the first block must be a tar header', () => {
    expectError(() => indexTar(bufferSource(Buffer.alloc(4096)), 'zeros'), 'E_UNSUPPORTED_FORMAT', {
      layer: /tar header/,
    });
    expectError(
      () => indexTar(bufferSource(Buffer.from('<?xml version="1.0"?>'.padEnd(1024))), 'x'),
      'E_UNSUPPORTED_FORMAT',
    );
    expectError(() => indexTar(bufferSource(Buffer.alloc(0)), 'empty'), 'E_UNSUPPORTED_FORMAT');
    const raw = readFileSync(build('ustar', [], ['small.txt'], 'one.tar'));
    assert.equal(looksLikeTar(raw), true);
    raw[0] = raw[0]! ^ 1;
    assert.equal(looksLikeTar(raw), false);
    expectError(() => indexTar(bufferSource(raw), 'x'), 'E_UNSUPPORTED_FORMAT');
  });

  it('caps: members, name length, pax header size', () => {
    const many = join(tree, 'many');
    mkdirSync(many);
    for (let i = 0; i < 30; i++) writeFileSync(join(many, `f${String(i).padStart(2, '0')}`), `file ${i}`);
    const archive = build('gnu', [], ['many'], 'many.tar');
    const raw = readFileSync(archive);
    const capped = indexTar(bufferSource(raw), archive, { maxMembers: 10 });
    assert.equal(capped.members.length, 10);
    assert.equal(capped.complete, false);
    assert.match(capped.problems.at(-1)!.message, /more than 10 members/);

    // 301 bytes, in two components (a single component is limited to 255).
    const longName = 'L'.repeat(150) + '/' + 'M'.repeat(150);
    mkdirSync(join(tree, 'L'.repeat(150)));
    writeFileSync(join(tree, longName), 'x');
    for (const format of ['gnu', 'pax']) {
      const a = build(format, [], ['small.txt', longName, 'empty'], `long-${format}.tar`);
      const r = indexTar(bufferSource(readFileSync(a)), a, { maxNameBytes: 200 });
      // The long-named member is skipped (never indexed under a cut name); the rest is read.
      assert.deepEqual(
        r.members.map((m) => m.name),
        ['small.txt', 'empty'],
        format,
      );
      assert.ok(r.problems.length >= 1, format);
      const small = indexTar(bufferSource(readFileSync(a)), a, { maxPaxBytes: 64 });
      if (format === 'pax') {
        assert.deepEqual(
          small.members.map((m) => m.name),
          ['small.txt', 'empty'],
        );
        assert.match(small.problems[0]!.message, /pax header of \d+ bytes exceeds/);
      }
    }
  });
});

describe('tar header fields', () => {
  it('octal and base-256 numbers round-trip', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 8 ** 11 - 1 }), (n) => {
        const field = Buffer.from(n.toString(8).padStart(11, '0') + '\0', 'latin1');
        assert.equal(parseTarNumber(field), n);
        const spaced = Buffer.from(n.toString(8).padStart(11, ' ') + ' ', 'latin1');
        assert.equal(parseTarNumber(spaced), n);
      }),
    );
    fc.assert(
      fc.property(fc.maxSafeNat(), (n) => {
        const field = Buffer.alloc(12);
        let v = BigInt(n);
        for (let i = 11; i >= 1; i--) {
          field[i] = Number(v & 0xffn);
          v >>= 8n;
        }
        field[0] = 0x80;
        assert.equal(parseTarNumber(field), n);
      }),
    );
    assert.equal(parseTarNumber(Buffer.from('0000000008\0', 'latin1')), undefined);
    assert.equal(parseTarNumber(Buffer.from('12 34\0', 'latin1')), undefined);
    // Base-256 with the sign bit: -1 in 8 bytes.
    assert.equal(parseTarNumber(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])), -1);
    assert.equal(
      parseTarNumber(Buffer.from([0x80, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])),
      undefined,
    );
  });

  it('pax records: any key and value, length-delimited, round-trip', () => {
    const key = fc
      .string({ minLength: 1, maxLength: 20 })
      .filter((k) => !k.includes('=') && !k.includes('\0'));
    const value = fc.string({ maxLength: 60 }).filter((v) => !v.includes('\0'));
    fc.assert(
      fc.property(fc.uniqueArray(fc.tuple(key, value), { selector: ([k]) => k, maxLength: 8 }), (records) => {
        let body = Buffer.alloc(0);
        for (const [k, v] of records) {
          const payload = Buffer.from(` ${k}=${v}\n`, 'utf8');
          // The length counts its own digits: find the fixed point.
          let len = payload.length + 1;
          while (String(len).length + payload.length !== len) len = String(len).length + payload.length;
          body = Buffer.concat([body, Buffer.from(String(len), 'latin1'), payload]);
        }
        const r = parsePaxRecords(body);
        assert.equal(r.error, undefined);
        assert.deepEqual([...r.records], records);
      }),
    );
    assert.match(parsePaxRecords(Buffer.from('99 path=x\n')).error ?? '', /outside/);
    assert.match(parsePaxRecords(Buffer.from('10 pathx\n\n')).error ?? '', /key=value/);
    assert.match(parsePaxRecords(Buffer.from('9 path=xx')).error ?? '', /newline|outside/);
    const many = Buffer.from('8 a=123\n'.repeat(20));
    assert.match(parsePaxRecords(many, 10).error ?? '', /more than 10/);
  });

  it('random header blocks never crash the header parser', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 512, maxLength: 512 }), fc.boolean(), (bytes, fix) => {
        const b = Buffer.from(bytes);
        if (fix) {
          // Give it a valid checksum so the fields are decoded too.
          b.fill(0x20, 148, 156);
          let sum = 0;
          for (const x of b) sum += x;
          b.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
          assert.equal(tarChecksumOk(b), true);
        }
        const h = parseTarHeader(b);
        if (typeof h !== 'string') assert.ok(Number.isSafeInteger(h.size) && h.size >= 0);
      }),
      { numRuns: 500 },
    );
  });
});

describe('tar index under mutation', () => {
  const t = tempDir('hw-tarfuzz-');
  let pax: Buffer;
  let gnu: Buffer;
  before(() => {
    const tree = join(t.dir, 'tree');
    mkdirSync(tree);
    writeFileSync(join(tree, 'a'.repeat(150)), 'long');
    writeFileSync(join(tree, 'b.bin'), Buffer.alloc(3000, 7));
    symlinkSync('z'.repeat(120), join(tree, 'lnk'));
    for (const f of ['pax', 'gnu']) {
      run('tar', [`--format=${f}`, '--sort=name', '-cf', join(t.dir, `${f}.tar`), '-C', tree, '.']);
    }
    pax = readFileSync(join(t.dir, 'pax.tar'));
    gnu = readFileSync(join(t.dir, 'gnu.tar'));
  });
  after(() => t.cleanup());

  const check = (buf: Buffer): void =>
    onlyHyperwardErrors(() => {
      const idx = indexTar(bufferSource(buf), 'fuzz', { maxMembers: 50 });
      assert.ok(idx.members.length <= 50);
      for (const m of idx.members) {
        assert.ok(
          m.dataOffset >= TAR_BLOCK && m.dataOffset + m.size <= buf.length,
          'member inside the archive',
        );
        assert.ok(m.headerOffset < m.dataOffset);
      }
    });

  it('edits in headers and pax/long-name data never crash and never point outside', () => {
    for (const buf of [pax, gnu]) {
      fc.assert(
        fc.property(byteEditsIn(0, Math.min(buf.length, 4 * TAR_BLOCK), 12), (e) =>
          check(applyEdits(buf, e)),
        ),
        { numRuns: 300 },
      );
      fc.assert(
        fc.property(fc.nat({ max: buf.length }), (cut) => check(buf.subarray(0, cut))),
        { numRuns: 100 },
      );
    }
  });

  it('edits anywhere, checksums repaired so the fields themselves are attacked', () => {
    fc.assert(
      fc.property(byteEditsIn(0, pax.length, 16), (e) => {
        const b = applyEdits(pax, e);
        // Repair the checksum of every block that still has a plausible one, so edited fields get decoded.
        for (let off = 0; off + TAR_BLOCK <= b.length; off += TAR_BLOCK) {
          if (b.toString('latin1', off + 257, off + 262) !== 'ustar') continue;
          b.fill(0x20, off + 148, off + 156);
          let sum = 0;
          for (let i = 0; i < TAR_BLOCK; i++) sum += b[off + i]!;
          b.write(sum.toString(8).padStart(6, '0') + '\0 ', off + 148, 'latin1');
        }
        check(b);
      }),
      { numRuns: 300 },
    );
  });
});
