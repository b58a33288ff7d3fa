import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { after, test } from 'node:test';
import fc from 'fast-check';
import { isHyperwardError, type HyperwardError } from '../../errors.js';
import { tempDir } from '../../../test/helpers/tmp.js';
import { KEYED_FILE_VERSION, KeyedFile, keyHash, writeKeyedFile } from './keyed-file.js';

const tmp = tempDir('hyperward-keyed-');
after(() => tmp.cleanup());
let fileNo = 0;
/** A fresh path in the temporary directory. */
function freshPath(): string {
  return join(tmp.dir, `f${fileNo++}.keyed`);
}

type Sections = Array<[string, Array<[string, Uint8Array]>]>;

/** What a file written from `sections` must give: per section, the last blob of each key. */
function model(sections: Sections): Map<string, Map<string, Buffer>> {
  const out = new Map<string, Map<string, Buffer>>();
  for (const [name, entries] of sections) {
    const m = new Map<string, Buffer>();
    for (const [k, b] of entries) m.set(k, Buffer.from(b));
    out.set(name, m);
  }
  return out;
}

/** Runs `fn`, which must throw a HyperwardError with `code`; returns it. */
function expectHyperward(fn: () => unknown, code: string, message?: RegExp): HyperwardError {
  try {
    fn();
  } catch (e) {
    assert.ok(
      isHyperwardError(e),
      `expected HyperwardError ${code}, got ${(e as Error)?.stack ?? String(e)}`,
    );
    assert.equal(e.code, code, e.message);
    if (message !== undefined) assert.match(e.message, message);
    return e;
  }
  assert.fail(`expected HyperwardError ${code}, nothing was thrown`);
}

function blobOf(seed: number, length: number): Buffer {
  const b = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) b[i] = (seed * 31 + i * 7) & 255;
  return b;
}

/** Temporary files the writer may have left next to `path`. */
function leftovers(path: string): string[] {
  const base = basename(path);
  return readdirSync(tmp.dir).filter((f) => f.startsWith(`${base}.tmp-`));
}

interface DirEntry {
  name: string;
  /** Where the entry's data offset is in the file (then table offset, slot count, entry count, longest probe). */
  at: number;
  dataOffset: number;
  tableOffset: number;
  slots: number;
  entries: number;
  maxProbe: number;
}

/** The directory of a valid file. */
function directoryOf(buf: Buffer): DirEntry[] {
  const dir = buf.readUInt32LE(12);
  const out: DirEntry[] = [];
  let pos = dir + 4;
  for (let i = buf.readUInt32LE(dir); i > 0; i--) {
    const nameLength = buf.readUInt16LE(pos);
    const name = buf.toString('utf8', pos + 2, pos + 2 + nameLength);
    pos += 2 + nameLength;
    const [dataOffset, tableOffset, slots, entries, maxProbe] = [0, 1, 2, 3, 4].map((f) =>
      buf.readUInt32LE(pos + 4 * f),
    ) as [number, number, number, number, number];
    out.push({ name, at: pos, dataOffset, tableOffset, slots, entries, maxProbe });
    pos += 20;
  }
  return out;
}

// Keys: short strings of a small alphabet (so that keys repeat), any Unicode, and any UTF-16 code units (lone
// surrogates included); the empty key among them.
const anyUnits = fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)) });
const keyArb = fc.oneof(
  fc.string({ unit: fc.constantFrom('a', 'b', 'é', '\uD800', '\uDC00', '😀'), maxLength: 3 }),
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 8 }),
  anyUnits,
  fc.constant(''),
);
const blobArb = fc.oneof(
  fc.uint8Array({ maxLength: 40 }),
  fc.integer({ min: 0, max: 9000 }).map((n) => blobOf(n, n)),
);

test('keyHash is FNV-1a over UTF-16 code units, never 0', () => {
  assert.equal(keyHash(''), 0x811c9dc5);
  assert.equal(keyHash('a'), 0xe40c292c); // FNV-1a of the byte 0x61: one unit below 256 is one byte
  assert.notEqual(keyHash('\uD800'), keyHash('\uFFFD'));
  fc.assert(fc.property(anyUnits, (k) => keyHash(k) >= 1 && keyHash(k) <= 0xffffffff));
});

test('round trip: every key of every section gives its last blob, absent keys nothing (fast-check)', () => {
  const path = freshPath();
  fc.assert(
    fc.property(
      fc.uniqueArray(
        fc.tuple(fc.string({ maxLength: 10 }), fc.array(fc.tuple(keyArb, blobArb), { maxLength: 40 })),
        {
          maxLength: 4,
          selector: ([name]) => name,
        },
      ),
      fc.string({ maxLength: 20 }),
      fc.array(keyArb, { maxLength: 20 }),
      (sections, tag, extra) => {
        writeKeyedFile(path, tag, sections);
        const want = model(sections);
        const kf = KeyedFile.open(path);
        assert.ok(kf !== undefined);
        try {
          assert.equal(kf.tag, tag);
          assert.equal(kf.path, path);
          assert.deepEqual(
            kf.sections(),
            sections.map(([name]) => name),
          );
          for (const [name, blobs] of want) {
            const present = [...blobs.keys()];
            // Present keys (each twice), keys maybe absent, in a shuffled-ish order.
            const asked = [...present, ...extra, ...present.slice().reverse()];
            const got = kf.lookup(name, asked);
            const expected = new Map([...blobs].filter(([k]) => asked.includes(k)));
            assert.equal(got.size, expected.size);
            for (const [k, b] of expected) {
              const g = got.get(k);
              assert.ok(Buffer.isBuffer(g), `no blob for ${JSON.stringify(k)}`);
              assert.ok(g.equals(b), `wrong blob for ${JSON.stringify(k)}`);
            }
            assert.equal(kf.lookup(name, []).size, 0);
          }
          assert.equal(kf.lookup('no such section', [...extra, 'x']).size, 0);
        } finally {
          kf.close();
        }
      },
    ),
    { numRuns: 150 },
  );
  assert.deepEqual(leftovers(path), []);
});

test('a larger file: sections of thousands of keys, blobs up to 1 MiB, written from generators', () => {
  const path = freshPath();
  const sizes = [0, 50, 300, 4000, 70_000, 1 << 20];
  const sizeOf = (s: number, i: number) =>
    i % 997 === 0 ? sizes[(i / 997) % sizes.length]! : 50 + ((i * s) % 700);
  function* entries(s: number, n: number): Generator<[string, Uint8Array]> {
    for (let i = 0; i < n; i++) yield [`lib${s}-${i}`, blobOf(i + s, sizeOf(s, i))];
  }
  function* sections(): Generator<[string, Iterable<[string, Uint8Array]>]> {
    yield ['debian:12', entries(1, 6000)];
    yield ['ubuntu:22.04', entries(2, 3000)];
    yield ['alpine:3.19', entries(3, 0)];
  }
  writeKeyedFile(path, 'generation 7', sections());
  const kf = KeyedFile.open(path)!;
  try {
    assert.deepEqual(kf.sections(), ['debian:12', 'ubuntu:22.04', 'alpine:3.19']);
    for (const [name, s, n] of [
      ['debian:12', 1, 6000],
      ['ubuntu:22.04', 2, 3000],
    ] as const) {
      const asked: string[] = [];
      for (let i = 0; i < 2 * n; i += 3) asked.push(`lib${s}-${i}`); // a third present, the rest absent
      for (let round = 0; round < 2; round++) {
        const got = kf.lookup(name, asked);
        assert.equal(got.size, Math.ceil(n / 3));
        for (const [k, blob] of got) {
          const i = Number(k.slice(k.indexOf('-') + 1));
          assert.ok(blob.equals(blobOf(i + s, sizeOf(s, i))), k);
        }
      }
    }
    assert.equal(kf.lookup('alpine:3.19', ['lib3-0']).size, 0);
  } finally {
    kf.close();
  }
});

test('blobs a lookup gave stay as they were after later lookups, of this file and of others (shared read buffer)', () => {
  const a = freshPath();
  const b = freshPath();
  // Records close together (read in one run) and one longer than a run, so both kinds of read buffer are reused.
  const sizeOf = (i: number) => (i === 7 ? 300_000 : 40 + ((i * 13) % 200));
  writeKeyedFile(a, 'a', [
    ['s', Array.from({ length: 50 }, (_, i) => [`k${i}`, blobOf(i, sizeOf(i))] as [string, Uint8Array])],
  ]);
  writeKeyedFile(b, 'b', [
    [
      's',
      Array.from({ length: 50 }, (_, i) => [`k${i}`, blobOf(i + 100, sizeOf(i))] as [string, Uint8Array]),
    ],
  ]);
  const fa = KeyedFile.open(a)!;
  const fb = KeyedFile.open(b)!;
  try {
    const keys = Array.from({ length: 50 }, (_, i) => `k${i}`);
    const first = fa.lookup('s', keys);
    const second = fb.lookup('s', keys);
    const third = fa.lookup('s', keys.slice(0, 10));
    for (const [seed, got] of [
      [0, first],
      [100, second],
      [0, third],
    ] as const) {
      for (const [k, blob] of got) {
        const i = Number(k.slice(1));
        assert.ok(blob.equals(blobOf(i + seed, sizeOf(i))), `${k} of the lookup with seed ${seed}`);
      }
    }
    assert.equal(first.size, 50);
    assert.equal(second.size, 50);
  } finally {
    fa.close();
    fb.close();
  }
});

test('a key asked many times: read once, one blob, no buffer sized by the asking (small records and one over a run)', () => {
  const path = freshPath();
  const big = blobOf(9, 1 << 20); // longer than a run of reads (256 KiB): a buffer of its own
  writeKeyedFile(path, '', [
    [
      's',
      [
        ['big', big],
        ['small', blobOf(1, 100)],
        ['other', blobOf(2, 50)],
      ],
    ],
  ]);
  const kf = KeyedFile.open(path)!;
  try {
    const got = kf.lookup('s', [
      ...Array<string>(5000).fill('big'),
      ...Array<string>(100_000).fill('small'),
      'other',
    ]);
    assert.equal(got.size, 3);
    assert.ok(got.get('big')!.equals(big));
    assert.ok(got.get('small')!.equals(blobOf(1, 100)));
    assert.ok(got.get('other')!.equals(blobOf(2, 50)));
    // One copy of each record: the blobs' buffer holds the three blobs, not one per time a key was asked.
    assert.ok(
      got.get('big')!.buffer.byteLength < 2 * big.length,
      `${got.get('big')!.buffer.byteLength} bytes held`,
    );
  } finally {
    kf.close();
  }
});

test('many slots that give one large record (collisions in shape): nothing found or E_IO, never more memory than the data', () => {
  const path = freshPath();
  const keys = Array.from({ length: 2000 }, (_, i) => `k${i}`);
  writeKeyedFile(path, '', [
    ['s', [['big', blobOf(3, 4 << 20)], ...keys.map((k): [string, Uint8Array] => [k, blobOf(4, 1)])]],
  ]);
  const good = readFileSync(path);
  const entry = good.readUInt32LE(12) + 4 + 2 + 1; // one section named "s"
  const data = good.readUInt32LE(entry);
  const table = good.readUInt32LE(entry + 4);
  const slots = good.readUInt32LE(entry + 8);
  const bigRecord = 6 + 2 * 'big'.length + (4 << 20);
  assert.equal(good.readUInt16LE(data), 6, 'the big record is the first');
  const hashes = new Set(keys.map(keyHash));
  const sameRecord = Buffer.from(good);
  const overlapping = Buffer.from(good);
  let shift = 0;
  for (let s = 0; s < slots; s++) {
    const at = table + 12 * s;
    if (!hashes.has(good.readUInt32LE(at))) continue;
    // Every asked key's slot gives the big record: each key is then a collision, probed on and not found.
    sameRecord.writeUInt32LE(data, at + 4);
    sameRecord.writeUInt32LE(bigRecord, at + 8);
    // Or records one byte apart, each overlapping the next.
    overlapping.writeUInt32LE(data + shift, at + 4);
    overlapping.writeUInt32LE(bigRecord - shift, at + 8);
    shift++;
  }
  writeFileSync(path, sameRecord);
  let kf = KeyedFile.open(path)!;
  try {
    assert.equal(kf.lookup('s', keys).size, 0);
  } finally {
    kf.close();
  }
  writeFileSync(path, overlapping);
  kf = KeyedFile.open(path)!;
  try {
    expectHyperward(() => kf.lookup('s', keys), 'E_IO', /two records overlap/);
  } finally {
    kf.close();
  }
});

test('asked records 16 KiB and 16 KiB + 1 apart, in runs longer than 256 KiB: every blob comes back whole', () => {
  // Blob sizes chosen so that gaps between asked records are 16 KiB and 16 KiB + 1 (the unasked records between),
  // and runs of small records cross 256 KiB: every blob must come back whole whatever the reads were.
  const path = freshPath();
  const entries: Array<[string, Uint8Array]> = [];
  const asked: string[] = [];
  for (let i = 0; i < 120; i++) {
    entries.push([`a${i}`, blobOf(i, 3000 + i)]);
    asked.push(`a${i}`);
    // Between asked records, one unasked record making a gap of 16 KiB or 16 KiB + 1 (its record: 6 + key + blob).
    const key = `g${i}`;
    entries.push([key, blobOf(i + 500, 16 * 1024 + (i % 2) - 6 - 2 * key.length)]);
  }
  writeKeyedFile(path, '', [['s', entries]]);
  const kf = KeyedFile.open(path)!;
  try {
    const got = kf.lookup('s', asked);
    assert.equal(got.size, 120);
    for (let i = 0; i < 120; i++) assert.ok(got.get(`a${i}`)!.equals(blobOf(i, 3000 + i)), `a${i}`);
  } finally {
    kf.close();
  }
});

test('the writer sizes a table at most three quarters full: the smallest power of two ≥ 4/3 × keys, at least 8', () => {
  const path = freshPath();
  const cases: Array<[keys: number, slots: number]> = [
    [0, 8],
    [1, 8],
    [6, 8],
    [7, 16],
    [12, 16],
    [13, 32],
    [24, 32],
    [25, 64],
    [3072, 4096],
    [3073, 8192],
  ];
  const keysOf = (n: number) => Array.from({ length: n }, (_, i) => `key-${n}-${i}`);
  writeKeyedFile(
    path,
    '',
    cases.map(([n]): [string, Array<[string, Uint8Array]>] => [
      `n${n}`,
      keysOf(n).map((k, i) => [k, blobOf(i, i % 5)]),
    ]),
  );
  const dir = directoryOf(readFileSync(path));
  assert.deepEqual(
    dir.map((e) => [e.entries, e.slots]),
    cases,
  );
  const kf = KeyedFile.open(path)!;
  try {
    for (const [n] of cases) {
      const got = kf.lookup(`n${n}`, [...keysOf(n), 'absent', `key-${n}-${n}`]);
      assert.equal(got.size, n);
      keysOf(n).forEach((k, i) => assert.ok(got.get(k)?.equals(blobOf(i, i % 5)), k));
    }
  } finally {
    kf.close();
  }
});

test('a table of many windows: every present key found, absent keys not, probes that wrap to slot 0', () => {
  const path = freshPath();
  const n = 20_000;
  const slots = 32_768; // 4/3 × 20,006 keys, rounded up to a power of two: 8 windows of 4096 slots
  const mask = slots - 1;
  // Keys whose home is one of the last slots, so that their probes (and those of the keys after them) wrap.
  const wrapping: string[] = [];
  for (let i = 0; wrapping.length < 6; i++) {
    const k = `wrap-${i}`;
    if ((keyHash(k) & mask) >= slots - 2) wrapping.push(k);
  }
  const keys = [...Array.from({ length: n }, (_, i) => `pkg-${i}`), ...wrapping];
  const blob = (i: number) => blobOf(i, 10 + (i % 90));
  writeKeyedFile(path, 'big', [
    ['small', [['pkg-1', Buffer.from('small')]]],
    ['big', keys.map((k, i): [string, Uint8Array] => [k, blob(i)])],
  ]);
  const file = readFileSync(path);
  const big = directoryOf(file)[1]!;
  assert.equal(big.slots, slots);
  assert.equal(big.entries, keys.length);
  // Some key sits in slot 0 or after, its home being in the last slots: the table wraps.
  const slotHash = (s: number) => file.readUInt32LE(big.tableOffset + 12 * s);
  let wraps = 0;
  for (let s = 0; s < 16; s++) if (slotHash(s) !== 0 && (slotHash(s) & mask) > s) wraps++;
  assert.ok(wraps >= 3, `${wraps} slots wrapped`);
  // Absent keys with homes everywhere, among them ones whose probe wraps.
  const absent: string[] = [];
  for (let i = 0; absent.length < 2000; i++) absent.push(`absent-${i}`);
  const absentWrapping: string[] = [];
  for (let i = 0; absentWrapping.length < 4; i++) {
    const k = `nope-${i}`;
    if ((keyHash(k) & mask) >= slots - 2) absentWrapping.push(k);
  }

  const kf = KeyedFile.open(path)!;
  try {
    const expect = (got: Map<string, Buffer>, asked: readonly string[]) => {
      const want = new Set(asked.filter((k) => !k.startsWith('absent-') && !k.startsWith('nope-')));
      assert.equal(got.size, want.size);
      for (const k of want) {
        const g = got.get(k);
        assert.ok(g?.equals(blob(keys.indexOf(k))), `blob of ${k}`);
      }
    };
    // Every key, then a scan-like subset, then only the wrapping keys (a window at the end, then at slot 0).
    const all = [...keys, ...absent, ...absentWrapping];
    expect(kf.lookup('big', all), all);
    const some: string[] = [];
    for (let i = 0; i < 700; i++) some.push(keys[(i * 7919) % keys.length]!, absent[i]!);
    some.push(...wrapping, ...absentWrapping, 'pkg-0');
    expect(kf.lookup('big', some), some);
    expect(kf.lookup('big', [...wrapping, ...absentWrapping]), [...wrapping, ...absentWrapping]);
    expect(kf.lookup('big', [wrapping[5]!, 'pkg-0']), [wrapping[5]!, 'pkg-0']);
    assert.equal(kf.lookup('small', ['pkg-1', 'pkg-2']).get('pkg-1')!.toString(), 'small');
    expect(kf.lookup('big', some.slice().reverse()), some);
  } finally {
    kf.close();
  }
});

/** Keys with equal hashes: P+R, P+S, Q+R, Q+S (P, Q collide; R, S collide after P, so after Q too). */
let colliding: string[] | undefined;
function collidingKeys(): string[] {
  if (colliding !== undefined) return colliding;
  const pair = (prefix: string): [string, string] => {
    const seen = new Map<number, string>();
    for (let i = 0; ; i++) {
      const k = `${prefix}${i.toString(36)}`;
      const h = keyHash(k);
      const other = seen.get(h);
      if (other !== undefined) return [other.slice(prefix.length), k.slice(prefix.length)];
      seen.set(h, k);
    }
  };
  const [p, q] = pair('');
  const [r, s] = pair(p);
  colliding = [p + r, p + s, q + r, q + s];
  return colliding;
}

test('keys with equal hashes each get their own blob; an absent colliding key gets nothing', () => {
  const keys = collidingKeys();
  assert.equal(new Set(keys).size, 4);
  assert.equal(new Set(keys.map(keyHash)).size, 1, 'the keys collide');
  const [a, b, c, d] = keys as [string, string, string, string];
  const path = freshPath();
  const filler = Array.from({ length: 40 }, (_, i): [string, Uint8Array] => [`pkg${i}`, blobOf(i, 30 + i)]);
  writeKeyedFile(path, 't', [
    [
      's',
      [
        ...filler.slice(0, 20),
        [a, Buffer.from('blob of a')],
        [b, Buffer.from('blob of b')],
        ...filler.slice(20),
      ],
    ],
    ['t', [[c, Buffer.from('c in t')]]],
    ['u', [[c, Buffer.from('blob of c')], ...filler, [a, Buffer.from('a in u')], [b, Buffer.from('b in u')]]],
  ]);
  const kf = KeyedFile.open(path)!;
  try {
    const text = (m: Map<string, Buffer>) => new Map([...m].map(([k, v]) => [k, v.toString()]));
    assert.deepEqual(text(kf.lookup('s', [c, d])), new Map());
    assert.deepEqual(text(kf.lookup('s', [b])), new Map([[b, 'blob of b']]));
    assert.deepEqual(
      text(kf.lookup('s', [d, c, b, a, 'pkg3'])),
      new Map([
        [b, 'blob of b'],
        [a, 'blob of a'],
        ['pkg3', blobOf(3, 33).toString()],
      ]),
    );
    assert.deepEqual(text(kf.lookup('t', [a, b, c, d])), new Map([[c, 'c in t']]));
    // In `u` the chain holds c, a, b: b is confirmed only on the third candidate.
    assert.deepEqual(text(kf.lookup('u', [b])), new Map([[b, 'b in u']]));
    assert.deepEqual(
      text(kf.lookup('u', [a, b, c, d, b])),
      new Map([
        [a, 'a in u'],
        [b, 'b in u'],
        [c, 'blob of c'],
      ]),
    );
  } finally {
    kf.close();
  }
});

test('a key given twice in a section: the last one wins', () => {
  const path = freshPath();
  writeKeyedFile(path, '', [
    [
      'debian:12',
      [
        ['openssl', Buffer.from('first')],
        ['zlib', Buffer.from('z')],
        ['openssl', Buffer.from('second')],
      ],
    ],
  ]);
  const kf = KeyedFile.open(path)!;
  assert.equal(kf.lookup('debian:12', ['openssl']).get('openssl')!.toString(), 'second');
  assert.equal(kf.lookup('debian:12', ['zlib']).get('zlib')!.toString(), 'z');
  kf.close();
});

test('the writer refuses what it cannot store, and leaves no temporary file', () => {
  const path = freshPath();
  expectHyperward(
    () =>
      writeKeyedFile(path, '', [
        ['debian:12', []],
        ['debian:12', []],
      ]),
    'E_USAGE',
    /given twice/,
  );
  expectHyperward(() => writeKeyedFile(path, 'x'.repeat(257), []), 'E_LIMIT', /tag/);
  expectHyperward(() => writeKeyedFile(path, 'é'.repeat(129), []), 'E_LIMIT', /tag/);
  expectHyperward(() => writeKeyedFile(path, 'lone \uD800', []), 'E_USAGE', /well-formed/);
  expectHyperward(() => writeKeyedFile(path, '', [['\uDC00', []]]), 'E_USAGE', /well-formed/);
  expectHyperward(() => writeKeyedFile(path, '', [['s'.repeat(1025), []]]), 'E_LIMIT', /section name/);
  expectHyperward(
    () => writeKeyedFile(path, '', [['s', [['k'.repeat(4097), new Uint8Array(1)]]]]),
    'E_LIMIT',
    /4097 UTF-16 code units/,
  );
  expectHyperward(
    () => writeKeyedFile(path, '', [['s', [['big', Buffer.allocUnsafe(64 * 1024 * 1024 + 1)]]]]),
    'E_LIMIT',
    /at most 67108864/,
  );
  assert.equal(existsSync(path), false);
  assert.deepEqual(leftovers(path), []);
  // The longest key and an empty tag are fine.
  writeKeyedFile(path, 'é'.repeat(128), [['s', [['k'.repeat(4096), new Uint8Array(0)]]]]);
  const kf = KeyedFile.open(path)!;
  assert.equal(kf.tag, 'é'.repeat(128));
  assert.equal(kf.lookup('s', ['k'.repeat(4096), 'k'.repeat(4097)]).get('k'.repeat(4096))!.length, 0);
  kf.close();
});

test('atomic write: an existing file is replaced; a failing writer leaves the old file and no temporary file', () => {
  const path = freshPath();
  writeKeyedFile(path, 'old', [['s', [['k', Buffer.from('old blob')]]]]);
  const mode = statSync(path).mode & 0o777;
  assert.equal(mode & ~0o644, 0, `mode ${mode.toString(8)}`);
  const old = KeyedFile.open(path)!;

  writeKeyedFile(path, 'new', [['s', [['k', Buffer.from('new blob')]]]]);
  const fresh = KeyedFile.open(path)!;
  assert.equal(fresh.tag, 'new');
  assert.equal(fresh.lookup('s', ['k']).get('k')!.toString(), 'new blob');
  fresh.close();
  // A reader that had the old file open goes on reading it.
  assert.equal(old.tag, 'old');
  assert.equal(old.lookup('s', ['k']).get('k')!.toString(), 'old blob');
  old.close();

  const boom = new Error('the database went away');
  function* failing(): Generator<[string, Uint8Array]> {
    for (let i = 0; i < 5000; i++) yield [`k${i}`, blobOf(i, 500)];
    throw boom;
  }
  assert.throws(
    () =>
      writeKeyedFile(path, 'failed', [
        ['a', [['x', Buffer.from('y')]]],
        ['s', failing()],
      ]),
    (e) => e === boom,
  );
  assert.deepEqual(leftovers(path), []);
  const kept = KeyedFile.open(path)!;
  assert.equal(kept.tag, 'new');
  assert.deepEqual(kept.sections(), ['s']);
  assert.equal(kept.lookup('s', ['k']).get('k')!.toString(), 'new blob');
  kept.close();

  // A sections iterable that throws before any section.
  assert.throws(
    () =>
      writeKeyedFile(path, 'failed', {
        [Symbol.iterator]: () => {
          throw boom;
        },
      }),
    (e) => e === boom,
  );
  assert.deepEqual(leftovers(path), []);
  assert.equal(KeyedFile.open(path)!.tag, 'new');
});

test('open: a missing file is undefined; a directory or a closed file is an error', () => {
  assert.equal(KeyedFile.open(join(tmp.dir, 'missing.keyed')), undefined);
  assert.equal(KeyedFile.open(join(tmp.dir, 'no-dir', 'missing.keyed')), undefined);
  const dir = expectHyperward(() => KeyedFile.open(tmp.dir), 'E_IO', /not a regular file \(a directory\)/);
  assert.equal(dir.location.file, tmp.dir);
  assert.equal(dir.location.layer, 'keyed file header');
  const path = freshPath();
  writeKeyedFile(path, 't', [['s', [['k', Buffer.from('v')]]]]);
  const kf = KeyedFile.open(path)!;
  kf.close();
  kf.close();
  expectHyperward(() => kf.lookup('s', ['k']), 'E_USAGE', /closed/);
  assert.deepEqual(kf.sections(), ['s']);
});

/** A FIFO in the temporary directory, or undefined where `mkfifo` cannot make one. */
function makeFifo(name: string): string | undefined {
  const path = join(tmp.dir, name);
  try {
    execFileSync('mkfifo', [path], { stdio: 'ignore' });
    return path;
  } catch {
    return undefined;
  }
}

/**
 * A process that, after 2.5 s, holds `argv[1]` open for reading and writing (which does not block on Linux) until it
 * is killed, or for 20 s: a FIFO with a writer, so that an open waiting for one returns, and any later one at once.
 */
const FIFO_WATCHDOG = `
const fs = require('node:fs');
setTimeout(() => {
  const fd = fs.openSync(process.argv[1], fs.constants.O_RDWR | fs.constants.O_NONBLOCK);
  setTimeout(() => fs.closeSync(fd), 20000);
}, 2500);
`;

/** How many descriptors this process has open, where `/proc/self/fd` tells. */
function openDescriptors(): number | undefined {
  return existsSync('/proc/self/fd') ? readdirSync('/proc/self/fd').length : undefined;
}

test('open: a FIFO is refused at once (E_IO), not waited on for a writer', { timeout: 5000 }, async (t) => {
  const fifo = makeFifo('sidecar.fifo');
  if (fifo === undefined) {
    t.skip('mkfifo is missing or fails here');
    return;
  }
  // An open that blocks blocks the event loop too, so the test's timeout could not end it: a watchdog process
  // gives the FIFO a writer after 2.5 s, which ends such a wait — and the time taken fails the test.
  const watchdog = spawn(process.execPath, ['-e', FIFO_WATCHDOG, fifo], { stdio: 'ignore' });
  try {
    const before = openDescriptors();
    const started = performance.now();
    const e = expectHyperward(() => KeyedFile.open(fifo), 'E_IO', /not a regular file \(a FIFO\)/);
    const took = performance.now() - started;
    assert.ok(took < 1500, `KeyedFile.open took ${Math.round(took)} ms on a FIFO: it waited for a writer`);
    assert.equal(e.location.file, fifo);
    assert.equal(e.location.layer, 'keyed file header');
    for (let i = 0; i < 20; i++) expectHyperward(() => KeyedFile.open(fifo), 'E_IO', /not a regular file/);
    // The descriptor is closed each time.
    if (before !== undefined) assert.ok(openDescriptors()! - before < 5, 'descriptors left open');
  } finally {
    if (watchdog.exitCode === null && watchdog.signalCode === null) {
      const exited = once(watchdog, 'exit');
      watchdog.kill();
      await exited;
    }
  }
});

test('open closes its descriptor on every error: not a regular file, too short, damaged header or directory', (t) => {
  if (openDescriptors() === undefined) {
    t.skip('no /proc/self/fd to count descriptors with');
    return;
  }
  const good = freshPath();
  writeKeyedFile(good, 't', [['s', [['k', Buffer.from('v')]]]]);
  const bytes = readFileSync(good);
  const damaged = (edit: (b: Buffer) => void): string => {
    const path = freshPath();
    const b = Buffer.from(bytes);
    edit(b);
    writeFileSync(path, b);
    return path;
  };
  const short = freshPath();
  writeFileSync(short, bytes.subarray(0, 100));
  // (A FIFO: in the test above, which guards against an open that blocks.)
  const bad: Array<[string, RegExp]> = [
    [tmp.dir, /not a regular file \(a directory\)/],
    [short, /too short/],
    [damaged((b) => b.write('XXXX', 0, 'latin1')), /no HWKF magic/],
    [damaged((b) => b.writeUInt16LE(9, 4)), /format version 9/],
    [damaged((b) => b.writeUInt32LE(b.length + 1, 8)), /the header says/],
    [damaged((b) => b.writeUInt32LE(7, b.readUInt32LE(12))), /7 sections cannot fit/],
  ];

  const before = openDescriptors()!;
  for (let round = 0; round < 20; round++) {
    for (const [path, message] of bad) expectHyperward(() => KeyedFile.open(path), 'E_IO', message);
  }
  const grew = openDescriptors()! - before;
  // 20 rounds: a descriptor kept by any kind of failure would add at least 20.
  assert.ok(grew < 5, `${grew} more descriptors open after ${20 * bad.length} failed opens`);
  // A good file keeps its descriptor until closed.
  const kf = KeyedFile.open(good)!;
  assert.equal(openDescriptors(), before + grew + 1);
  kf.close();
  assert.equal(openDescriptors(), before + grew);
});

test('a file of another version or cut short is refused at open', () => {
  const path = freshPath();
  writeKeyedFile(path, 't', [['s', [['k', Buffer.from('v')]]]]);
  const good = readFileSync(path);
  assert.equal(good.readUInt16LE(4), KEYED_FILE_VERSION);
  const other = Buffer.from(good);
  other.writeUInt16LE(KEYED_FILE_VERSION + 1, 4);
  writeFileSync(path, other);
  const e = expectHyperward(() => KeyedFile.open(path), 'E_IO', /format version 2/);
  assert.equal(e.location.file, path);
  assert.equal(e.location.layer, 'keyed file header');
  assert.equal(e.location.offset, 4);
  writeFileSync(path, good.subarray(0, good.length - 1));
  expectHyperward(() => KeyedFile.open(path), 'E_IO', /the header says/);
  writeFileSync(path, good.subarray(0, 100));
  expectHyperward(() => KeyedFile.open(path), 'E_IO', /too short/);
  writeFileSync(path, Buffer.alloc(0));
  expectHyperward(() => KeyedFile.open(path), 'E_IO');
});

test('a file cut short after it was opened gives E_IO on the short read', () => {
  const path = freshPath();
  const keys = Array.from({ length: 100 }, (_, i) => `k${i}`);
  const entries = keys.map((k, i): [string, Uint8Array] => [k, blobOf(i, 100)]);
  writeKeyedFile(path, 't', [
    ['a', entries],
    ['b', entries],
  ]);
  const [, b] = directoryOf(readFileSync(path));
  const kf = KeyedFile.open(path)!;
  assert.equal(kf.lookup('a', ['k1']).size, 1);
  // Cut inside b's records: a, wholly before the cut, still reads; b's table is gone.
  truncateSync(path, b!.dataOffset + 150);
  assert.equal(kf.lookup('a', keys).size, 100);
  const table = expectHyperward(() => kf.lookup('b', ['k1']), 'E_IO', /ends before/);
  assert.equal(table.location.layer, 'keyed file table');
  // Cut inside a's records: a's table (read anew by each lookup) is gone too. (A record is always before the
  // table slot that gives it, so a cut that spares the slot spares the record.)
  truncateSync(path, 400);
  const early = expectHyperward(() => kf.lookup('a', ['k99']), 'E_IO', /ends before/);
  assert.equal(early.location.layer, 'keyed file table');
  kf.close();
});

// ---------------------------------------------------------------------------------------------------------------
// Damage

/** Where the fields of a valid file are: header integers, directory entries, table slots. */
function fieldsOf(buf: Buffer): Array<{ at: number; size: 2 | 4 }> {
  const fields: Array<{ at: number; size: 2 | 4 }> = [
    { at: 4, size: 2 },
    { at: 6, size: 2 },
    { at: 8, size: 4 },
    { at: 12, size: 4 },
    { at: 16, size: 4 },
    { at: 20, size: 2 },
  ];
  const dir = buf.readUInt32LE(12);
  fields.push({ at: dir, size: 4 });
  let pos = dir + 4;
  for (let i = buf.readUInt32LE(dir); i > 0; i--) {
    fields.push({ at: pos, size: 2 });
    pos += 2 + buf.readUInt16LE(pos);
    const table = buf.readUInt32LE(pos + 4);
    const slots = buf.readUInt32LE(pos + 8);
    for (let f = 0; f < 5; f++) fields.push({ at: pos + 4 * f, size: 4 });
    for (let s = 0; s < slots; s++) {
      if (buf.readUInt32LE(table + 12 * s) === 0 && s % 4 !== 0) continue; // used slots, and some empty ones
      for (let f = 0; f < 3; f++) fields.push({ at: table + 12 * s + 4 * f, size: 4 });
    }
    pos += 20;
  }
  return fields;
}

test('a damaged file gives E_IO naming the file and layer, never another exception or a hang (fast-check)', () => {
  const path = freshPath();
  const collide = collidingKeys();
  const main: Array<[string, Uint8Array]> = Array.from({ length: 60 }, (_, i) => [
    i % 7 === 0 ? `é${i}\uD800` : `pkg${i}`,
    blobOf(i, (i * 37) % 200),
  ]);
  main.splice(10, 0, [collide[0]!, Buffer.from('a')], [collide[1]!, Buffer.from('bb')]);
  main.push([collide[2]!, blobOf(5, 6000)]);
  const sections: Sections = [
    ['debian:12', main],
    ['ubuntu:22.04', main.slice(0, 20)],
    ['', [['', new Uint8Array(0)]]],
    ['alpine:3.19', []],
  ];
  writeKeyedFile(freshPath(), 'tag', sections); // a second file, so names of temporary files do not matter
  writeKeyedFile(path, 'generation 1', sections);
  const good = readFileSync(path);
  const fields = fieldsOf(good);
  const knownKeys = [...main.map(([k]) => k), collide[3]!];

  const u32 = fc.oneof(
    fc.constantFrom(0, 1, 2, 7, 8, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff, good.length),
    fc.integer({ min: 0, max: good.length + 16 }),
    fc.integer({ min: 0, max: 0xffffffff }),
  );
  const damage = fc.oneof(
    // Random bytes anywhere.
    fc
      .array(fc.tuple(fc.nat({ max: good.length - 1 }), fc.nat({ max: 255 })), { minLength: 1, maxLength: 8 })
      .map((edits) => (b: Buffer) => {
        for (const [at, v] of edits) b[at] = v;
        return b;
      }),
    // A field set to a random value.
    fc
      .array(fc.tuple(fc.nat({ max: fields.length - 1 }), u32), { minLength: 1, maxLength: 3 })
      .map((edits) => (b: Buffer) => {
        for (const [i, v] of edits) {
          const { at, size } = fields[i]!;
          if (size === 2) b.writeUInt16LE(v & 0xffff, at);
          else b.writeUInt32LE(v, at);
        }
        return b;
      }),
    // Cut short (with or without a header that agrees).
    fc.tuple(fc.nat({ max: good.length - 1 }), fc.boolean()).map(([cut, fixLength]) => (b: Buffer) => {
      const out = Buffer.from(b.subarray(0, cut));
      if (fixLength && out.length >= 12) out.writeUInt32LE(cut, 8);
      return out;
    }),
  );
  const asked = fc.array(fc.oneof(fc.constantFrom(...knownKeys), keyArb), { maxLength: 30 });
  // The blobs a key has in any section (a damaged directory may mix sections up), and where the records are.
  const blobsOf = new Map<string, Buffer[]>();
  for (const blobs of model(sections).values()) {
    for (const [k, b] of blobs) blobsOf.set(k, [...(blobsOf.get(k) ?? []), b]);
  }
  const records = directoryOf(good).map((e): [number, number] => [e.dataOffset, e.tableOffset]);

  fc.assert(
    fc.property(damage, asked, (damageFn, keys) => {
      const damaged = damageFn(Buffer.from(good));
      writeFileSync(path, damaged);
      // With every record as written, every blob found must be one written for its key.
      const recordsIntact = records.every(
        ([from, to]) => damaged.length >= to && damaged.subarray(from, to).equals(good.subarray(from, to)),
      );
      let kf: KeyedFile | undefined;
      try {
        kf = KeyedFile.open(path);
        assert.ok(kf !== undefined);
        for (const name of [...kf.sections(), 'debian:12', 'nope']) {
          for (const ask of [keys, knownKeys]) {
            for (const [k, blob] of kf.lookup(name, ask)) {
              assert.ok(ask.includes(k), `${JSON.stringify(k)} was not asked for`);
              if (recordsIntact) {
                assert.ok(
                  blobsOf.get(k)?.some((b) => b.equals(blob)),
                  `a wrong blob for ${JSON.stringify(k)}`,
                );
              }
            }
          }
        }
      } catch (e) {
        assert.ok(isHyperwardError(e), `not a HyperwardError: ${(e as Error)?.stack ?? String(e)}`);
        assert.equal(e.code, 'E_IO', e.message);
        assert.equal(e.location.file, path);
        assert.match(e.location.layer ?? '', /^keyed file (header|directory|table|record)$/);
        assert.equal(typeof e.location.offset, 'number', e.message);
      } finally {
        kf?.close();
      }
    }),
    { numRuns: 400 },
  );
});

test('a damaged table of several windows, wrapping: E_IO or right answers, never another exception (fast-check)', () => {
  const path = freshPath();
  const slots = 8192; // 5,000 keys: two windows of 4096 slots
  const mask = slots - 1;
  const keys = Array.from({ length: 5000 }, (_, i) => `p${i}`);
  for (let i = 0; keys.length < 5004; i++) if ((keyHash(`w${i}`) & mask) >= slots - 2) keys.push(`w${i}`);
  const blob = (i: number) => blobOf(i, i % 41);
  writeKeyedFile(path, '', [['s', keys.map((k, i): [string, Uint8Array] => [k, blob(i)])]]);
  const good = readFileSync(path);
  const sec = directoryOf(good)[0]!;
  assert.equal(sec.slots, slots);
  const slotAt = (s: number) => sec.tableOffset + 12 * s;
  // Slots worth damaging: the first and last ones, those around the window boundary, some used ones.
  const interesting = [0, 1, 2, 3, 4093, 4094, 4095, 4096, 4097, 8188, 8189, 8190, 8191];
  for (let s = 5; s < slots; s += 97) if (good.readUInt32LE(slotAt(s)) !== 0) interesting.push(s);
  // And the home slots of keys looked up, present or not, and the slots after them.
  const targets = ['absent', 'w-absent', 'p0', 'p7', ...keys.slice(-6)];
  for (const k of targets) for (let d = 0; d < 3; d++) interesting.push((keyHash(k) + d) & mask);
  const genuine = interesting.map((s) => good.readUInt32LE(slotAt(s) + 4)).filter((o) => o !== 0);
  const value = fc.oneof(
    fc.constantFrom(0, 1, 6, 0xffffffff, sec.dataOffset, sec.tableOffset, ...genuine),
    fc.constantFrom(...keys.slice(-8).map(keyHash), keyHash('p1'), keyHash('p7'), keyHash('absent')),
    fc.integer({ min: 0, max: good.length }),
    fc.integer({ min: 0, max: 0xffffffff }),
  );
  // A field of a slot set to a value.
  const edit = fc.tuple(fc.constantFrom(...interesting), fc.nat({ max: 2 }), value).map(
    ([s, field, v]) =>
      (b: Buffer) =>
        b.writeUInt32LE(v >>> 0, slotAt(s) + 4 * field),
  );
  // A slot on the probe of a key looked up made a candidate of it, giving the record another slot gives.
  const steal = fc
    .tuple(fc.constantFrom(...targets), fc.nat({ max: 3 }), fc.constantFrom(...interesting))
    .map(([k, d, other]) => (b: Buffer) => {
      const at = slotAt((keyHash(k) + d) & mask);
      b.writeUInt32LE(keyHash(k), at);
      b.copy(b, at + 4, slotAt(other) + 4, slotAt(other) + 12);
    });
  const damage = fc.array(fc.oneof(edit, steal), { minLength: 1, maxLength: 4 });
  const asked = [...keys.filter((_, i) => i % 7 === 0 || i >= 4990), 'absent', 'w-absent'];

  fc.assert(
    fc.property(damage, (edits) => {
      const damaged = Buffer.from(good);
      for (const apply of edits) apply(damaged);
      writeFileSync(path, damaged);
      const kf = KeyedFile.open(path)!;
      try {
        // The records are as written: a key found has its own blob.
        for (const [k, b] of kf.lookup('s', asked)) {
          const i = keys.indexOf(k);
          assert.ok(i >= 0 && asked.includes(k), `${k} was not asked for or is not in the file`);
          assert.ok(b.equals(blob(i)), `a wrong blob for ${k}`);
        }
      } catch (e) {
        if (e instanceof assert.AssertionError) throw e;
        assert.ok(isHyperwardError(e), `not a HyperwardError: ${(e as Error)?.stack ?? String(e)}`);
        assert.equal(e.code, 'E_IO', e.message);
        assert.match(e.location.layer ?? '', /^keyed file (table|record)$/);
        assert.equal(typeof e.location.offset, 'number', e.message);
      } finally {
        kf.close();
      }
    }),
    { numRuns: 200 },
  );
});

test('hostile tables: full, out of place, overlapping or outside records, bad record lengths; miscounted entries', () => {
  const path = freshPath();
  const keys = ['a', 'b', 'c'];
  writeKeyedFile(path, '', [['s', keys.map((k, i): [string, Uint8Array] => [k, blobOf(i, 20)])]]);
  const good = readFileSync(path);
  const dir = good.readUInt32LE(12);
  const entry = dir + 4 + 2 + 1; // one section named "s"
  const data = good.readUInt32LE(entry);
  const table = good.readUInt32LE(entry + 4);
  const slots = good.readUInt32LE(entry + 8);
  const used = Array.from({ length: slots }, (_, s) => table + 12 * s).filter(
    (at) => good.readUInt32LE(at) !== 0,
  );
  assert.equal(used.length, 3);

  const check = (b: Buffer, message: RegExp, layer: string) => {
    writeFileSync(path, b);
    const kf = KeyedFile.open(path)!;
    try {
      const e = expectHyperward(() => kf.lookup('s', keys), 'E_IO', message);
      assert.equal(e.location.layer, layer);
    } finally {
      kf.close();
    }
  };

  // Every slot used, with the hash of "zz": no empty slot to end a probe.
  const full = Buffer.from(good);
  for (let s = 0; s < slots; s++) {
    full.writeUInt32LE(keyHash('zz'), table + 12 * s);
    full.writeUInt32LE(data, table + 12 * s + 4);
    full.writeUInt32LE(8, table + 12 * s + 8);
  }
  check(full, /farther from its hash's slot than the longest probe/, 'keyed file table');
  // The same with a longest probe that allows every slot: each probe ends after the longest probe, nothing found.
  full.writeUInt32LE(slots - 1, entry + 16);
  writeFileSync(path, full);
  const fullKf = KeyedFile.open(path)!;
  assert.equal(fullKf.lookup('s', keys).size, 0);
  fullKf.close();

  // Two slots giving records that overlap: the slot of the second record points into the first.
  const byOffset = used.slice().sort((x, y) => good.readUInt32LE(x + 4) - good.readUInt32LE(y + 4));
  assert.equal(good.readUInt32LE(byOffset[0]! + 4), data);
  const overlap = Buffer.from(good);
  overlap.writeUInt32LE(data + 1, byOffset[1]! + 4);
  check(overlap, /two records overlap/, 'keyed file table');

  // Two slots giving one record two lengths.
  const twoLengths = Buffer.from(good);
  twoLengths.writeUInt32LE(data, byOffset[1]! + 4);
  twoLengths.writeUInt32LE(good.readUInt32LE(byOffset[0]! + 8) + 1, byOffset[1]! + 8);
  check(twoLengths, /one record two lengths/, 'keyed file table');

  // The directory counting fewer or more entries than the table has: not noticed (lookups do not read the
  // whole table), and harmless.
  for (const miscount of [0, 2, 7]) {
    const b = Buffer.from(good);
    b.writeUInt32LE(miscount, entry + 12);
    writeFileSync(path, b);
    const kf = KeyedFile.open(path)!;
    const got = kf.lookup('s', [...keys, 'd']);
    assert.deepEqual(
      [...got]
        .sort(([x], [y]) => x.localeCompare(y))
        .map(([k, v]) => [k, v.equals(blobOf(keys.indexOf(k), 20))]),
      keys.map((k) => [k, true]),
    );
    kf.close();
  }

  // A directory counting as many entries as slots (no empty slot), or followed by bytes.
  const crowded = Buffer.from(good);
  crowded.writeUInt32LE(slots, entry + 12);
  writeFileSync(path, crowded);
  expectHyperward(() => KeyedFile.open(path), 'E_IO', /8 entries in 8 slots/);
  const trailing = Buffer.concat([good, Buffer.alloc(3)]);
  trailing.writeUInt32LE(good.length + 3, 8);
  trailing.writeUInt32LE(good.length + 3 - dir, 16);
  writeFileSync(path, trailing);
  expectHyperward(() => KeyedFile.open(path), 'E_IO', /3 bytes after the last section/);

  // A slot on a probe's way whose hash's home is farther back than the longest probe.
  const maxProbe = good.readUInt32LE(entry + 16);
  assert.ok(maxProbe < slots - 1);
  const from = used[0]!;
  const fromSlot = (from - table) / 12;
  const farHash = (((fromSlot - maxProbe - 1) & (slots - 1)) | 0x100) >>> 0;
  const strayHash = Buffer.from(good);
  strayHash.writeUInt32LE(farHash, from);
  check(strayHash, /farther from its hash's slot than the longest probe/, 'keyed file table');

  // A slot moved farther from its hash's home than the longest probe, the slots before it used (by hashes at home
  // there): the probe stops after the longest probe, the key is not found.
  const moved = Buffer.from(good);
  const home = good.readUInt32LE(from) & (slots - 1);
  const far = table + 12 * ((home + maxProbe + 1) & (slots - 1));
  assert.equal(good.readUInt32LE(far), 0, 'an empty slot');
  good.copy(moved, far, from, from + 12);
  for (let d = 0; d <= maxProbe; d++) {
    const at = table + 12 * ((home + d) & (slots - 1));
    if (at === from || good.readUInt32LE(at) === 0) {
      moved.fill(0, at, at + 12);
      moved.writeUInt32LE((((home + d) & (slots - 1)) | 0x10000) >>> 0, at);
    }
  }
  writeFileSync(path, moved);
  const movedKf = KeyedFile.open(path)!;
  const movedKey = keys.find((k) => keyHash(k) === good.readUInt32LE(from))!;
  assert.deepEqual(
    [...movedKf.lookup('s', keys).keys()].sort(),
    keys.filter((k) => k !== movedKey),
  );
  movedKf.close();

  // A record beyond the section's data (in its table).
  const outside = Buffer.from(good);
  outside.writeUInt32LE(table, used[2]! + 4);
  check(outside, /outside the section's data/, 'keyed file table');

  // Slots giving impossible record lengths.
  for (const length of [0, 5, 6 + 8192 + 64 * 1024 * 1024 + 1]) {
    const b = Buffer.from(good);
    b.writeUInt32LE(length, used[1]! + 8);
    check(b, new RegExp(`gives a record length of ${length}$`), 'keyed file table');
  }

  // A record whose key length runs past it.
  const badKey = Buffer.from(good);
  badKey.writeUInt16LE(400, good.readUInt32LE(used[0]! + 4));
  check(badKey, /key length of 400/, 'keyed file record');

  // A record whose blob length disagrees with the slot.
  const badBlob = Buffer.from(good);
  const rec = good.readUInt32LE(used[0]! + 4);
  badBlob.writeUInt32LE(21, rec + 2 + good.readUInt16LE(rec));
  check(badBlob, /blob length of 21/, 'keyed file record');
});

test('a write removes the temporary files of writers that were killed, and leaves those of live ones', () => {
  const { dir, cleanup } = tempDir();
  try {
    const path = join(dir, 'v.keyed');
    // A process id that is not running: the highest the kernel allows plus one cannot be.
    const gone = `${path}.tmp-4194305-0123456789ab`;
    const live = `${path}.tmp-${process.pid}-0123456789ab`;
    const other = join(dir, 'unrelated.tmp-4194305-0123456789ab');
    for (const f of [gone, live, other]) writeFileSync(f, 'x');
    writeKeyedFile(path, 't', [['s', [['k', Buffer.from('v')]]]]);
    assert.equal(existsSync(gone), false, "a dead writer's temporary file is removed");
    assert.equal(existsSync(live), true, "a live writer's is left");
    assert.equal(existsSync(other), true, "another file's is left");
    assert.equal(KeyedFile.open(path)!.lookup('s', ['k']).get('k')?.toString(), 'v');
  } finally {
    cleanup();
  }
});
