import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { isHyperwardError } from '../errors.js';
import type { PackageEcosystem } from '../model/inventory.js';
import { encodePackedRow, PackedRow, type EntryView } from './packed.js';
import { evaluateChecked, isValidVersion, type RangeOutcome } from './range.js';
import type { MatchFacts, RangeEvent } from './types.js';
import { arbitraries, build, type Rec } from '../../test/helpers/advisory-rows.js';

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
