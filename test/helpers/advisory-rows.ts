/**
 * Random advisory rows for the property tests of packed rows and verdicts (`src/vuln/packed.test.ts`,
 * `src/vuln/verdict.test.ts`): records of the kinds the feeds give, with valid, invalid and tricky versions,
 * architecture and module restrictions, withdrawn records and CVSS vectors that do not score.
 */
import fc from 'fast-check';
import type { PackageEcosystem } from '../../src/model/inventory.js';
import { matchFactsOf } from '../../src/vuln/facts.js';
import type { PackedInput } from '../../src/vuln/packed.js';
import type { AdvisoryRecord, AffectedPackage, MatchFacts } from '../../src/vuln/types.js';
import { osvRangeEvent } from './fuzz.js';

export const VERSIONS: Record<PackageEcosystem, string[]> = {
  deb: [
    '0',
    '1.0',
    '1.00',
    '1.0-1',
    '1:1.0-1',
    '1.0-1+deb12u1',
    '1.0~rc1-1',
    '1.0-1~deb12u1',
    '2.0-1',
    '0.9-3',
  ],
  rpm: ['0', '1.0-1.el9', '1:1.0-1.el9', '1.0-1.el9_2', '1.0~rc1-1.el9', '1.0^git1-1.el9', '2.0-1.el9'],
  apk: ['0', '1.0-r0', '1.0-r1', '1.0_rc1-r0', '1.0.1-r0', '2.0-r0', '1.0a-r0'],
};
const BAD_VERSIONS = ['not a version', '', ' 1.0'];

/**
 * Random records for one scheme. `plain`: only what packs and has verdicts — valid versions, the row's scheme, no
 * architecture or module restriction, vectors that score — so that the fast paths are exercised, not bypassed.
 */
export function arbitraries(scheme: PackageEcosystem, opts: { plain?: boolean } = {}) {
  const plain = opts.plain === true;
  const version = plain
    ? fc.constantFrom(...VERSIONS[scheme])
    : fc.oneof(
        { weight: 8, arbitrary: fc.constantFrom(...VERSIONS[scheme]) },
        { weight: 1, arbitrary: fc.constantFrom(...BAD_VERSIONS) },
      );
  const event = osvRangeEvent(version);
  const entry = fc.record(
    {
      ecosystem: fc.constantFrom(
        'Debian:12',
        'Red Hat:enterprise_linux:9::appstream',
        'Alpine:v3.19',
        'Ünïcode:1',
      ),
      scheme: plain
        ? fc.constant(scheme)
        : fc.oneof(
            { weight: 9, arbitrary: fc.constant(scheme) },
            { weight: 1, arbitrary: fc.constantFrom<PackageEcosystem>('deb', 'rpm', 'apk') },
          ),
      ranges: fc.array(fc.array(event, { maxLength: 5 }), { maxLength: 3 }),
      versions: fc.array(version, { maxLength: 3 }),
      arches: plain
        ? fc.constant(undefined)
        : fc.array(fc.constantFrom('amd64', 'x86_64', 'arm64', 'noarch'), { maxLength: 2 }),
      module: plain && scheme === 'rpm' ? fc.constant(undefined) : fc.constantFrom('', 'nodejs:18', 'x'),
      distroSeverity: fc.constantFrom('high', 'unimportant', 'not yet assigned', '\uD800lone'),
      wontFix: fc.boolean(),
    },
    { requiredKeys: ['ecosystem', 'scheme', 'ranges', 'versions'] },
  );
  const record = fc.record({
    id: fc.constantFrom('DSA-1-1', 'DEBIAN-CVE-2024-0001', 'CVE-2024-0002', 'USN-3-1', 'RHSA-2024:1'),
    aliases: fc.array(fc.constantFrom('CVE-2024-0001', 'CVE-2024-0003', 'GHSA-1', '\uDC00'), {
      maxLength: 3,
    }),
    summary: fc.option(fc.string({ maxLength: 30 })),
    published: fc.option(fc.constant('2024-01-01T00:00:00Z')),
    withdrawn: fc.boolean(),
    severity: fc.array(
      fc.constantFrom(
        'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H',
        'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N',
        'AV:N/AC:L/Au:N/C:P/I:P/A:P',
        ...(plain ? [] : ['CVSS:3.1/AV:X']),
      ),
      { maxLength: 3 },
    ),
    distroSeverity: fc.option(fc.constantFrom('high', 'Moderate')),
    refs: fc.array(fc.integer({ min: 0, max: 9 }), { maxLength: 6 }),
    entries: fc.array(entry, { minLength: 1, maxLength: 3 }),
  });
  return { version, record };
}

export type Rec = { key: string; facts: MatchFacts; entries: AffectedPackage[] };

export function build(
  scheme: PackageEcosystem,
  recs: Array<{
    id: string;
    aliases: string[];
    summary: string | null;
    published: string | null;
    withdrawn: boolean;
    severity: string[];
    distroSeverity: string | null;
    refs: number[];
    entries: Array<Partial<AffectedPackage> & Pick<AffectedPackage, 'ecosystem' | 'scheme'>>;
  }>,
  distro = 'd:1',
  pkg = 'pkg',
): { inputs: PackedInput[]; recs: Rec[] } {
  const inputs: PackedInput[] = [];
  const out: Rec[] = [];
  recs.forEach((r, i) => {
    const adv: AdvisoryRecord = {
      key: `osv:${r.id}#${i}`,
      id: r.id,
      origin: 'osv',
      aliases: r.aliases,
      upstream: [],
      related: [],
      modified: '2024-02-01T00:00:00Z',
      severity: r.severity.map((vector) => ({ type: 'CVSS_V3' as const, vector })),
      references: r.refs.map((n) => ({
        type: n % 3 === 0 ? 'ADVISORY' : 'WEB',
        url: `https://example.org/${n}`,
      })),
    };
    if (r.summary !== null) adv.summary = r.summary;
    if (r.published !== null) adv.published = r.published;
    if (r.withdrawn) adv.withdrawn = '2024-03-01T00:00:00Z';
    if (r.distroSeverity !== null) adv.distroSeverity = r.distroSeverity;
    const facts = matchFactsOf(adv);
    const { key: _key, ...rest } = facts;
    const factsJson = JSON.stringify(rest);
    const entries = r.entries.map((e) => {
      const entry = { ...e, distro, package: pkg } as AffectedPackage;
      const { distro: _d, package: _p, ...stored } = entry;
      inputs.push({ key: adv.key, entry, json: JSON.stringify(stored), facts: rest, factsJson });
      return entry;
    });
    out.push({ key: adv.key, facts, entries });
  });
  return { inputs, recs: out };
}
