/**
 * CRC-32C tests against published check values: the CRC catalogue's check value for "123456789", and the iSCSI
 * test vectors of RFC 3720 appendix B.4 (32 bytes of zeros, of 0xFF, ascending and descending bytes).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { crc32c, crc32cUpdate, crc32cWithZeroedField } from './crc32c.js';

describe('crc32c', () => {
  it('matches the published check values', () => {
    assert.equal(crc32c(Buffer.from('123456789', 'ascii')), 0xe3069283);
    assert.equal(crc32c(Buffer.alloc(0)), 0);
    assert.equal(crc32c(Buffer.alloc(32, 0x00)), 0x8a9136aa);
    assert.equal(crc32c(Buffer.alloc(32, 0xff)), 0x62a8ab43);
    assert.equal(crc32c(Buffer.from(Array.from({ length: 32 }, (_, i) => i))), 0x46dd794e);
    assert.equal(crc32c(Buffer.from(Array.from({ length: 32 }, (_, i) => 31 - i))), 0x113fdb5c);
  });

  it('continues across chunks, and over sub-ranges', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(), (bytes, cutSeed) => {
        const cut = bytes.length === 0 ? 0 : cutSeed % (bytes.length + 1);
        const whole = crc32c(bytes);
        assert.equal(crc32cUpdate(crc32cUpdate(0, bytes.subarray(0, cut)), bytes.subarray(cut)), whole);
        assert.equal(crc32cUpdate(crc32cUpdate(0, bytes, 0, cut), bytes, cut), whole);
      }),
      { numRuns: 300 },
    );
  });

  it('checksums a structure with its checksum field taken as zero', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 8, maxLength: 200 }), fc.nat(), (bytes, at) => {
        const field = at % (bytes.length - 3);
        const zeroed = Buffer.from(bytes);
        zeroed.fill(0, field, field + 4);
        assert.equal(crc32cWithZeroedField(bytes, field), crc32c(zeroed));
      }),
      { numRuns: 300 },
    );
  });
});
