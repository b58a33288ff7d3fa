import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { HOSTILE } from '../../test/helpers/assessment.js';
import { loadWriter } from './index.js';
import { writeJson } from './json-text.js';
import { applianceReport } from './testdata/appliance-report.js';
import { vulnerabilityReport } from './testdata/vulnerability-report.js';
import { FORMATS } from './types.js';

function pieces(value: unknown, depth?: number): string[] {
  const out: string[] = [];
  writeJson(value, (s) => out.push(s), depth);
  return out;
}

/** Values with everything `JSON.stringify` treats specially, at any depth. */
const special = fc.oneof(
  fc.constant(undefined),
  fc.constant(() => 1),
  fc.constant(Symbol('s')),
  fc.constant(new Date(Date.UTC(2026, 10, 27))),
  fc.constant(Object(3) as unknown),
  fc.constant(Object('boxed') as unknown),
  fc.constant(Object(false) as unknown),
  fc.constant(Number.NaN),
  fc.constant(-0),
  fc.constant(Number.POSITIVE_INFINITY),
  // toJSON gets its key, and may say to leave the member out, or return an object with a toJSON of its own.
  fc.constant({ toJSON: (key: string) => `key ${key}` }),
  fc.constant({ toJSON: () => undefined }),
  fc.constant({
    toJSON: () => ({ inner: { toJSON: () => 'not called by JSON.stringify' }, n: [1, undefined] }),
  }),
  fc.constant(Object.assign([1, 2], { toJSON: () => 'array with toJSON' })),
  fc.constant(
    Object.create(null, { a: { value: 1, enumerable: true }, hidden: { value: 2, enumerable: false } }),
  ),
  fc.constant(new Map([[1, 2]])),
  fc.string({ unit: 'binary' }), // lone surrogates, control characters, newlines
);

const value = fc.letrec((tie) => ({
  any: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.jsonValue({ maxDepth: 1 }),
    special,
    tie('array'),
    tie('object'),
  ),
  array: fc.array(tie('any'), { maxLength: 5 }).map((a) => {
    // Holes serialise as null.
    if (a.length > 2) delete a[1];
    return a;
  }),
  object: fc.dictionary(
    fc.oneof(fc.string({ unit: 'binary', maxLength: 6 }), fc.constantFrom('__proto__', 'toJSON2', '1', '')),
    tie('any'),
    { maxKeys: 5 },
  ),
})).any;

test('writeJson: the pieces joined are JSON.stringify(value, null, 2), at every depth (fast-check)', () => {
  fc.assert(
    fc.property(value, fc.integer({ min: 0, max: 7 }), (v, depth) => {
      const expected = JSON.stringify(v, null, 2) as string | undefined;
      const got = pieces(v, depth);
      if (expected === undefined) assert.deepEqual(got, []);
      else assert.equal(got.join(''), expected);
    }),
    { numRuns: 3000 },
  );
});

test('writeJson: deep values come in many pieces, none of them the whole', () => {
  const report = vulnerabilityReport();
  const whole = JSON.stringify(report, null, 2);
  const got = pieces(report);
  assert.equal(got.join(''), whole);
  assert.ok(got.length > 20, `${got.length} pieces`);
  assert.ok(Math.max(...got.map((p) => p.length)) < whole.length / 4);
});

test('writeJson: throws what JSON.stringify throws (a cycle below the opened levels, a BigInt)', () => {
  const cyclic: Record<string, unknown> = { a: { b: {} } };
  (cyclic.a as Record<string, Record<string, unknown>>).b!.c = cyclic;
  assert.throws(() => pieces(cyclic, 1), TypeError);
  assert.throws(() => pieces({ n: 1n }), TypeError);
});

test('writers that stream give exactly what they write, for every report kind, hostile strings included', async () => {
  const reports = [
    vulnerabilityReport(),
    vulnerabilityReport({ hostile: HOSTILE }),
    applianceReport(),
    applianceReport({ hostile: HOSTILE }),
  ];
  let streaming = 0;
  for (const f of FORMATS) {
    const w = await loadWriter(f);
    if (!w.stream) continue;
    streaming++;
    for (const report of reports) {
      const out: string[] = [];
      w.stream(report, {}, (s) => out.push(s));
      assert.equal(out.join(''), w.write(report, {}), `${f} of ${report.results[0]?.target}`);
    }
  }
  assert.equal(streaming, 4, 'json, sarif, ocsf and spdx stream');
});
