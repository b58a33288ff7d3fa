import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { crc32 } from './crc32.js';

/** The CRC-32 gzip stores in its trailer (RFC 1952: CRC32 then ISIZE, both little-endian): the oracle. */
function gzipCrc(data: Buffer): number {
  const gz = execFileSync('gzip', ['-c', '-n'], { input: data, maxBuffer: 64 * 1024 * 1024 });
  return gz.readUInt32LE(gz.length - 8);
}

test('crc32 matches gzip on empty, short, text and random inputs', () => {
  const inputs = [
    Buffer.alloc(0),
    Buffer.from([0]),
    Buffer.from([0xff]),
    Buffer.from('123456789'),
    Buffer.from('EFI PART'),
    Buffer.alloc(16384),
    Buffer.alloc(4097, 0xa5),
    randomBytes(92),
    randomBytes(16384),
    randomBytes(100_003),
  ];
  for (const data of inputs) assert.equal(crc32(data), gzipCrc(data), `length ${data.length}`);
});

test('crc32 over a range and chained equals crc32 of the concatenation (gzip as the oracle)', () => {
  const data = randomBytes(5000);
  const expected = gzipCrc(data);
  assert.equal(crc32(data, 0, 1234, 0) === crc32(data.subarray(0, 1234)), true);
  assert.equal(crc32(data, 1234, data.length, crc32(data, 0, 1234)), expected);
  assert.equal(crc32(data.subarray(100, 200)), gzipCrc(data.subarray(100, 200)));
  assert.equal(crc32(data, 100, 200), gzipCrc(data.subarray(100, 200)));
});

test('crc32 clamps out-of-range bounds instead of throwing', () => {
  const data = randomBytes(64);
  assert.equal(crc32(data, -5, 1000), crc32(data));
  assert.equal(crc32(data, 50, 10), crc32(Buffer.alloc(0)));
  assert.equal(crc32(data, 70, 80), crc32(Buffer.alloc(0)));
});

test('crc32 property: any split point chains to the same value, and any single-bit flip changes it', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 1, maxLength: 512 }), fc.nat(), fc.nat(), (arr, cut, bit) => {
      const buf = Buffer.from(arr);
      const whole = crc32(buf);
      const k = cut % (buf.length + 1);
      assert.equal(crc32(buf, k, buf.length, crc32(buf, 0, k)), whole);
      const flipped = Buffer.from(buf);
      const b = bit % (buf.length * 8);
      flipped[b >> 3]! ^= 1 << (b & 7);
      assert.notEqual(crc32(flipped), whole);
    }),
    { numRuns: 300 },
  );
});
