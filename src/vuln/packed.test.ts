import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { isHyperwardError } from '../errors.js';
import type { PackageEcosystem } from '../model/inventory.js';
import { matchFactsOf } from './facts.js';
import { encodePackedRow, PackedRow, type EntryView, type PackedInput } from './packed.js';
import { evaluateChecked, isValidVersion, type RangeOutcome } from './range.js';
import type { AdvisoryRecord, AffectedPackage, MatchFacts, RangeEvent } from './types.js';
import { osvRangeEvent } from '../../test/helpers/fuzz.js';

const VERSIONS: Record<PackageEcosystem, string[]> = {
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

function arbitraries(scheme: PackageEcosystem) {
  const version = fc.oneof(
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
      scheme: fc.oneof(
        { weight: 9, arbitrary: fc.constant(scheme) },
        { weight: 1, arbitrary: fc.constantFrom<PackageEcosystem>('deb', 'rpm', 'apk') },
      ),
      ranges: fc.array(fc.array(event, { maxLength: 5 }), { maxLength: 3 }),
      versions: fc.array(version, { maxLength: 3 }),
      arches: fc.array(fc.constantFrom('amd64', 'x86_64', 'arm64', 'noarch'), { maxLength: 2 }),
      module: fc.constantFrom('', 'nodejs:18', 'x'),
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
        'CVSS:3.1/AV:X',
      ),
      { maxLength: 3 },
    ),
    distroSeverity: fc.option(fc.constantFrom('high', 'Moderate')),
    refs: fc.array(fc.integer({ min: 0, max: 9 }), { maxLength: 6 }),
    entries: fc.array(entry, { minLength: 1, maxLength: 3 }),
  });
  return { version, record };
}

type Rec = { key: string; facts: MatchFacts; entries: AffectedPackage[] };

function build(
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
      const entry = { ...e, distro: 'd:1', package: 'pkg' } as AffectedPackage;
      const { distro: _d, package: _p, ...stored } = entry;
      inputs.push({ key: adv.key, entry, json: JSON.stringify(stored), facts: rest, factsJson });
      return entry;
    });
    out.push({ key: adv.key, facts, entries });
  });
  return { inputs, recs: out };
}

/** What one entry says about an installed version, with its advisory's facts and the problems reported before. */
interface Said {
  key: string;
  outcome: RangeOutcome;
  entry: EntryView;
  facts: MatchFacts | null;
  notes: string[];
}

/** Everything a row says about one installed version, in order. */
function evaluateRow(row: PackedRow, scheme: PackageEcosystem, installed: string): Said[] {
  const out: Said[] = [];
  let notes: string[] = [];
  row.evaluate(
    scheme,
    installed,
    (outcome, entry, ref) => {
      out.push({ key: row.keyAt(ref), outcome, entry, facts: row.facts(ref), notes });
      notes = [];
    },
    (entry) => evaluateChecked(scheme, installed, entry, (p) => notes.push(p)),
  );
  return out;
}

/** The same, from the entries themselves with `range.ts`. */
function evaluatePlain(recs: readonly Rec[], scheme: PackageEcosystem, installed: string): Said[] {
  const out: Said[] = [];
  let notes: string[] = [];
  for (const r of recs) {
    for (const e of r.entries) {
      if (e.scheme !== scheme) continue;
      const outcome = evaluateChecked(scheme, installed, e, (p) => notes.push(p));
      if (outcome.state === 'unaffected') continue;
      out.push({ key: r.key, outcome, entry: viewOf(e), facts: r.facts.withdrawn ? null : r.facts, notes });
      notes = [];
    }
  }
  return out;
}

/** The fields a `EntryView` has, from whatever object the row gave (a JSON-kept entry is the whole entry). */
function viewOf(e: EntryView): EntryView {
  const v: EntryView = { ecosystem: e.ecosystem };
  if (e.arches !== undefined) v.arches = e.arches;
  if (e.module !== undefined) v.module = e.module;
  if (e.distroSeverity !== undefined) v.distroSeverity = e.distroSeverity;
  if (e.wontFix) v.wontFix = true;
  return v;
}

for (const scheme of ['deb', 'rpm', 'apk'] as const) {
  test(`packed rows (${scheme}): every installed version gets exactly what range.ts and the facts say (fast-check)`, () => {
    const { version, record } = arbitraries(scheme);
    fc.assert(
      fc.property(fc.array(record, { minLength: 1, maxLength: 6 }), version, (recs, installed) => {
        fc.pre(isValidVersion(scheme, installed));
        const { inputs, recs: built } = build(scheme, recs);
        const row = new PackedRow(encodePackedRow(scheme, inputs), 'test.db', 'd:1', 'pkg');
        const got = evaluateRow(row, scheme, installed).map((x) => ({ ...x, entry: viewOf(x.entry) }));
        assert.deepEqual(got, evaluatePlain(built, scheme, installed));
      }),
      { numRuns: 400 },
    );
  });
}

test('a damaged packed row gives a HyperwardError naming the row, never another exception or a hang (fast-check)', () => {
  const { version, record } = arbitraries('deb');
  fc.assert(
    fc.property(
      fc.array(record, { minLength: 1, maxLength: 4 }),
      version,
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
      fc.option(fc.nat()),
      (recs, installed, flips, cut) => {
        fc.pre(isValidVersion('deb', installed));
        const data = Buffer.from(encodePackedRow('deb', build('deb', recs).inputs));
        for (const [at, byte] of flips) data[at % data.length] = byte;
        const damaged = cut === null ? data : data.subarray(0, cut % data.length);
        try {
          const row = new PackedRow(damaged, 'test.db', 'debian:12', 'pkg');
          evaluateRow(row, 'deb', installed);
        } catch (e) {
          assert.ok(isHyperwardError(e), `not a HyperwardError: ${String(e)}`);
          assert.equal(e.code, 'E_IO');
          assert.match(e.message, /damaged match row for debian:12 pkg/);
          assert.match(e.message, /test\.db/);
        }
      },
    ),
    { numRuns: 1000 },
  );
});

test('packed rows keep strings exactly: non-Latin-1 text and lone surrogates round-trip', () => {
  const recs = [
    {
      id: 'DSA-1-1',
      aliases: ['\uD800'],
      summary: 'Ünïcode — 漢字 \uDC00',
      published: null,
      withdrawn: false,
      severity: [],
      distroSeverity: null,
      refs: [1],
      entries: [
        {
          ecosystem: 'Debian:12',
          scheme: 'deb' as const,
          ranges: [[{ introduced: '0' }, { fixed: '2.0-1' }]] as RangeEvent[][],
          versions: [],
          distroSeverity: '\uD800x',
        },
      ],
    },
  ];
  const { inputs, recs: built } = build('deb', recs);
  const row = new PackedRow(encodePackedRow('deb', inputs), 'test.db', 'd:1', 'pkg');
  const got = evaluateRow(row, 'deb', '1.0-1');
  assert.equal(got.length, 1);
  assert.deepEqual(got[0]!.facts, built[0]!.facts);
  assert.equal(got[0]!.entry.distroSeverity, '\uD800x');
  assert.deepEqual(got[0]!.outcome, { state: 'affected', fixed: '2.0-1' });
});
