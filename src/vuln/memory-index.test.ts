import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryAdvisoryIndex } from './memory-index.js';
import type { Advisory, AffectedPackage } from './types.js';

function entry(distro: string, pkg: string): AffectedPackage {
  return {
    ecosystem: distro,
    distro,
    scheme: 'deb',
    package: pkg,
    ranges: [[{ introduced: '0' }]],
    versions: [],
  };
}

function advisory(key: string, affected: AffectedPackage[]): Advisory {
  return {
    key,
    id: key.replace(/^osv:/, ''),
    origin: 'osv',
    aliases: [],
    upstream: [],
    related: [],
    modified: '2024-01-01T00:00:00Z',
    severity: [],
    references: [],
    affected,
  };
}

describe('MemoryAdvisoryIndex', () => {
  it('looks up every entry by exact (distro, package)', () => {
    const a = advisory('osv:DSA-1-1', [entry('debian:12', 'openssl'), entry('debian:11', 'openssl')]);
    const b = advisory('osv:DSA-2-1', [entry('debian:12', 'openssl'), entry('debian:12', 'curl')]);
    const index = new MemoryAdvisoryIndex([a, b]);
    assert.equal(index.size, 2);
    assert.deepEqual(
      index.lookup('debian:12', 'openssl').map((h) => h.advisoryKey),
      ['osv:DSA-1-1', 'osv:DSA-2-1'],
    );
    assert.equal(index.lookup('debian:12', 'openssl')[0]!.affected, a.affected[0]);
    assert.deepEqual(index.lookup('debian:1', 'openssl'), []);
    assert.deepEqual(index.lookup('debian:12', 'openss'), []);
    assert.equal(index.advisory('osv:DSA-2-1'), b);
    assert.equal(index.advisory('osv:nope'), undefined);
  });

  it('a later advisory with the same key replaces the earlier one and its entries', () => {
    const first = advisory('osv:DSA-1-1', [entry('debian:12', 'openssl')]);
    const second = advisory('osv:DSA-1-1', [entry('debian:12', 'curl')]);
    const index = new MemoryAdvisoryIndex([first, second]);
    assert.equal(index.size, 1);
    assert.deepEqual(index.lookup('debian:12', 'openssl'), []);
    assert.equal(index.lookup('debian:12', 'curl').length, 1);
    assert.equal(index.advisory('osv:DSA-1-1'), second);
  });
});
