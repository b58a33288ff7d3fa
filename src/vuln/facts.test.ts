import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { OsInfo, Package } from '../model/inventory.js';
import { scoreVector } from './cvss.js';
import { matchFactsOf, MAX_FACT_URLS, MAX_SUMMARY, oneLine, usableUrl } from './facts.js';
import { matchInventory, MAX_REFERENCES } from './match.js';
import { MemoryAdvisoryIndex } from './memory-index.js';
import type { Advisory, AdvisoryReference } from './types.js';

const DEBIAN_12: OsInfo = {
  id: 'debian',
  idLike: [],
  versionId: '12',
  family: 'debian',
  source: '/etc/os-release',
};

function record(id: string, extra: Partial<Advisory> = {}): Advisory {
  return {
    key: `osv:${id}`,
    id,
    origin: 'osv',
    aliases: [],
    upstream: [],
    related: [],
    modified: '2024-01-01T00:00:00Z',
    severity: [],
    references: [],
    affected: [
      {
        ecosystem: 'Debian:12',
        distro: 'debian:12',
        scheme: 'deb',
        package: 'openssl',
        ranges: [[{ introduced: '0' }, { fixed: '3.0.15-1~deb12u1' }]],
        versions: [],
      },
    ],
    ...extra,
  };
}

const OPENSSL: Package = {
  ecosystem: 'deb',
  name: 'libssl3',
  version: '3.0.11-1~deb12u2',
  arch: 'amd64',
  sourceName: 'openssl',
  sourceVersion: '3.0.11-1~deb12u2',
  source: '/var/lib/dpkg/status',
};

/**
 * The references a finding gets, computed the long way over whole records (the algorithm `match.ts` documents):
 * the CVE, each record's advisory with its first usable ADVISORY link, then every usable link once; capped.
 */
function referencesLongWay(vulnId: string, records: readonly Advisory[]): unknown[] {
  const out: Array<{ type: string; id: string; url?: string }> = [];
  const urls = new Set<string>();
  if (/^CVE-\d{4}-\d{4,}$/.test(vulnId)) {
    const url = `https://nvd.nist.gov/vuln/detail/${vulnId}`;
    out.push({ type: 'cve', id: vulnId, url });
    urls.add(url);
  }
  for (const adv of records) {
    if (out.length >= MAX_REFERENCES) break;
    if (adv.id === vulnId || out.some((r) => r.type === 'advisory' && r.id === adv.id)) continue;
    const ref: { type: string; id: string; url?: string } = { type: 'advisory', id: adv.id };
    const url = adv.references.find((r) => r.type === 'ADVISORY' && usableUrl(r.url))?.url;
    if (url !== undefined) {
      ref.url = url;
      urls.add(url);
    }
    out.push(ref);
  }
  for (const adv of records) {
    for (const r of adv.references) {
      if (out.length >= MAX_REFERENCES) return out;
      if (!usableUrl(r.url) || urls.has(r.url)) continue;
      urls.add(r.url);
      out.push({ type: 'url', id: r.url, url: r.url });
    }
  }
  return out;
}

describe('matchFactsOf', () => {
  it('derives what matching needs from a record', () => {
    const f = matchFactsOf(
      record('DSA-5532-1', {
        aliases: ['CVE-2023-5678', 'GHSA-x', 'DSA-5532-1'],
        upstream: ['DEBIAN-CVE-2023-5678'],
        related: ['CVE-2023-9999', 'OSV-1'],
        summary: '  openssl\n  security   update  ',
        published: '2023-11-01T00:00:00Z',
        distroSeverity: 'high',
        withdrawn: '2024-02-01T00:00:00Z',
        severity: [
          { type: 'CVSS_V3', vector: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' },
          { type: 'CVSS_V3', vector: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' },
          { type: 'CVSS_V3', vector: 'CVSS:3.1/AV:X' },
        ],
        references: [
          { type: 'WEB', url: 'https://example.org/a' },
          { type: 'ADVISORY', url: 'javascript:alert(1)' },
          { type: 'ADVISORY', url: 'https://www.debian.org/security/2023/dsa-5532' },
          { type: 'WEB', url: 'https://example.org/a' },
        ],
      }),
    );
    assert.deepEqual(f, {
      key: 'osv:DSA-5532-1',
      id: 'DSA-5532-1',
      origin: 'osv',
      withdrawn: true,
      vulnIds: ['CVE-2023-5678'],
      cvss: [scoreVector('CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H')],
      badVectors: ['CVSS:3.1/AV:X'],
      distroSeverity: 'high',
      aliasIds: ['DSA-5532-1', 'GHSA-x', 'DEBIAN-CVE-2023-5678', 'OSV-1'],
      published: '2023-11-01T00:00:00Z',
      modified: '2024-01-01T00:00:00Z',
      summary: 'openssl security update',
      advisoryUrl: 'https://www.debian.org/security/2023/dsa-5532',
      urls: ['https://example.org/a', 'https://www.debian.org/security/2023/dsa-5532'],
    });
    const bare = matchFactsOf(record('USN-1-1', { summary: ' \n ' }));
    assert.equal(bare.summary, undefined);
    assert.equal(bare.advisoryUrl, undefined);
    assert.equal(bare.withdrawn, false);
    assert.equal(
      matchFactsOf(record('X', { summary: 'y'.repeat(500) })).summary,
      oneLine('y'.repeat(500), MAX_SUMMARY),
    );
  });

  it('keeps at most MAX_FACT_URLS links, but finds an ADVISORY link wherever it is', () => {
    const references: AdvisoryReference[] = Array.from({ length: 100 }, (_, i) => ({
      type: 'WEB',
      url: `https://example.org/${i}`,
    }));
    references.push({ type: 'ADVISORY', url: 'https://example.org/advisory' });
    const f = matchFactsOf(record('DSA-1-1', { references }));
    assert.equal(f.urls.length, MAX_FACT_URLS);
    assert.equal(f.advisoryUrl, 'https://example.org/advisory');
  });

  it('capped links give the same finding references as whole records (fast-check)', () => {
    // Few distinct URLs and many references per record, so records share links, repeat them, and run past the cap.
    const url = fc.oneof(
      fc.integer({ min: 0, max: 60 }).map((i) => `https://example.org/${i}`),
      fc.constantFrom('ftp://x', 'https://a/' + 'x'.repeat(2100), 'HTTPS://EXAMPLE.ORG/0'),
    );
    const ref = fc.record({ type: fc.constantFrom('WEB', 'ADVISORY', 'FIX'), url });
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.constantFrom('DSA-1-1', 'DLA-2-1', 'DEBIAN-CVE-2024-0001', 'CVE-2024-0001', 'USN-3-1'),
            fc.array(ref, { maxLength: 90, size: 'max' }),
          ),
          { minLength: 1, maxLength: 4 },
        ),
        (recs) => {
          const advs = recs.map(([id, references], i) =>
            record(id, { key: `k${i}`, aliases: ['CVE-2024-0001'], references }),
          );
          const r = matchInventory({ os: DEBIAN_12, packages: [OPENSSL] }, new MemoryAdvisoryIndex(advs));
          assert.equal(r.findings.length, 1);
          const f = r.findings[0]!;
          // The records of the finding, in order of first appearance, one per key.
          const seen = new Set<string>();
          const used = advs.filter((a) => !seen.has(a.key) && seen.add(a.key));
          assert.deepEqual(f.references, referencesLongWay('CVE-2024-0001', used));
        },
      ),
      { numRuns: 300 },
    );
  });
});
