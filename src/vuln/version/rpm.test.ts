import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { isHyperwardError } from '../../errors.js';
import { run, tempDir } from '../../../test/helpers/tmp.js';
import { compareRpm, parseRpm, rpmvercmp, MAX_RPM_VERSION_LENGTH } from './rpm.js';

type Verdict = -1 | 0 | 1 | 'error';

const scratch = tempDir('hyperward-rpmver-');
after(() => scratch.cleanup());

function luaString(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** Asks the real rpm (its Lua `rpm.vercmp`, which orders EVR strings) about many pairs in one process. */
function rpmOracle(pairs: ReadonlyArray<readonly [string, string]>): Verdict[] {
  const file = join(scratch.dir, 'pairs.lua');
  const body = pairs.map(([a, b]) => `{${luaString(a)},${luaString(b)}}`).join(',\n');
  writeFileSync(
    file,
    `for _, p in ipairs({${body}}) do\n` +
      `  local ok, r = pcall(rpm.vercmp, p[1], p[2])\n` +
      `  io.write(ok and tostring(r) or 'E', '\\n')\n` +
      `end\nio.flush()\n`,
  );
  const out = run('rpm', ['--eval', `%{lua: dofile("${file}")}`]);
  const lines = out.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, pairs.length, 'rpm oracle answered every pair');
  return lines.map((l) => (l === 'E' ? 'error' : (Math.sign(Number(l)) as -1 | 0 | 1)));
}

function ours(cmp: (a: string, b: string) => -1 | 0 | 1, a: string, b: string): Verdict {
  try {
    return cmp(a, b);
  } catch (e) {
    if (isHyperwardError(e) && e.code === 'E_USAGE') return 'error';
    throw e;
  }
}

function assertAgrees(
  cmp: (a: string, b: string) => -1 | 0 | 1,
  pairs: ReadonlyArray<readonly [string, string]>,
): Map<Verdict, number> {
  const expected = rpmOracle(pairs);
  const counts = new Map<Verdict, number>();
  pairs.forEach(([a, b], k) => {
    const want = expected[k]!;
    assert.equal(ours(cmp, a, b), want, `${cmp.name}('${a}', '${b}') vs rpm.vercmp`);
    counts.set(want, (counts.get(want) ?? 0) + 1);
  });
  return counts;
}

// Realistic RPM fields: digit runs (some with leading zeros), letter runs, joined by . _ + ~ ^ and nothing.
const digits = fc.oneof(
  fc.integer({ min: 0, max: 20 }).map(String),
  fc.constantFrom('0', '00', '007', '10', '2024', '20240101', '99999999999999999999'),
);
const word = fc.constantFrom('a', 'b', 'Z', 'rc', 'beta', 'el', 'fc', 'git', 'post', 'snap', 'x');
const sep = fc.constantFrom('.', '.', '_', '+', '~', '^', '', '~~', '^^', '.~');
const piece = fc.oneof({ weight: 3, arbitrary: digits }, { weight: 2, arbitrary: word });
const field = fc
  .tuple(fc.constantFrom('', '', '', '~', '^', '.'), piece, fc.array(fc.tuple(sep, piece), { maxLength: 6 }))
  .chain(([lead, first, rest]) =>
    fc
      .constantFrom('', '', '', '~', '^', '.')
      .map((tail) => lead + first + rest.map(([s, p]) => s + p).join('') + tail),
  );
const evr = fc
  .tuple(
    fc.option(fc.constantFrom('0', '1', '2', '01', '10', ''), { nil: undefined }),
    field,
    fc.option(fc.tuple(field, fc.boolean()), { nil: undefined }),
  )
  .map(
    ([e, v, r]) =>
      (e === undefined ? '' : `${e}:`) + v + (r === undefined ? '' : r[1] ? `-${r[0]}` : `-x${r[0]}-${r[0]}`),
  );

/** A value and small edits of it, so that pairs often share long prefixes. */
function near(arb: fc.Arbitrary<string>, edits: string[]): fc.Arbitrary<[string, string]> {
  return arb.chain((v) =>
    fc.tuple(
      fc.constant(v),
      fc.oneof(
        fc.constant(v),
        arb,
        fc.constantFrom(...edits).map((s) => v + s),
      ),
    ),
  );
}

describe('rpmvercmp', () => {
  it('orders the documented tilde and caret cases and agrees with rpm on them', () => {
    // rpm's versioning guidelines: 1.0~rc1 < 1.0 < 1.0^git1 < 1.0.1; ~ sorts before the end, ^ after the end but
    // before anything else; a numeric segment beats an alphabetic one; leading zeros are ignored.
    const ascending = [
      '1.0~rc1~1',
      '1.0~rc1',
      '1.0~rc2',
      '1.0',
      '1.0^',
      '1.0^git1',
      '1.0^git2',
      '1.0a',
      '1.0.1',
      '1.01.2',
    ];
    const pairs: Array<[string, string]> = [];
    for (let i = 0; i < ascending.length; i++) {
      for (let j = 0; j < ascending.length; j++) {
        assert.equal(
          rpmvercmp(ascending[i]!, ascending[j]!),
          Math.sign(i - j),
          `${ascending[i]} vs ${ascending[j]}`,
        );
        pairs.push([ascending[i]!, ascending[j]!]);
      }
    }
    const equal: Array<[string, string]> = [
      ['1.0', '1_0'],
      ['1.0', '1..0'],
      ['1.001', '1.1'],
      ['a+b', 'a.b'],
    ];
    for (const [a, b] of equal) assert.equal(rpmvercmp(a, b), 0, `${a} = ${b}`);
    assertAgrees(rpmvercmp, [...pairs, ...equal, ['1.0a', '1.0.a'], ['2', '1a'], ['a', '1']]);
  });

  it('agrees with rpm on generated single fields', () => {
    const pairs = fc.sample(near(field, ['~', '^', 'a', '.0', '0', '~a', '^1', '.']), {
      numRuns: 1500,
      seed: 0x59f,
    });
    const counts = assertAgrees(rpmvercmp, pairs);
    for (const v of [-1, 0, 1] as const) assert.ok((counts.get(v) ?? 0) >= 100, `${v}: ${counts.get(v)}`);
    console.log(`rpmvercmp agreement: ${pairs.length} pairs`, Object.fromEntries(counts));
  });

  it('is a total order on generated fields', () => {
    fc.assert(
      fc.property(fc.array(field, { minLength: 3, maxLength: 12 }), (vs) => {
        for (const v of vs) assert.equal(rpmvercmp(v, v), 0);
        for (const a of vs) for (const b of vs) assert.equal(rpmvercmp(a, b), -rpmvercmp(b, a) || 0);
        const sorted = [...vs].sort(rpmvercmp);
        for (let i = 0; i < sorted.length; i++) {
          for (let j = i; j < sorted.length; j++) assert.ok(rpmvercmp(sorted[i]!, sorted[j]!) <= 0);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('compareRpm', () => {
  it('splits epoch, version and release as rpm does', () => {
    assert.deepEqual(parseRpm('2:1.0-3.el9'), { epoch: '2', version: '1.0', release: '3.el9' });
    assert.deepEqual(parseRpm('1.0-3-4'), { epoch: undefined, version: '1.0-3', release: '4' });
    assert.deepEqual(parseRpm('a:1.0'), { epoch: undefined, version: 'a:1.0', release: undefined });
    assert.deepEqual(parseRpm(':1'), { epoch: '', version: '1', release: undefined });
  });

  it('agrees with rpm on EVR edge cases, including what it refuses', () => {
    const cases: Array<[string, string]> = [
      ['1:1.0', '2.0'],
      ['0:1.0', '1.0'],
      ['00:1.0', '1.0'],
      [':1', '1'],
      ['1:', '1'],
      ['1.0-1', '1.0'],
      ['1.0', '1.0-1'],
      ['1.0-', '1.0'],
      ['1.0-', '1.0-'],
      ['-1', '0'],
      ['a:1', '1'],
      ['1.0-1-2', '1.0-1'],
      ['', '1'],
      ['1', ''],
      ['1.0~rc1-1', '1.0-0'],
      ['1.0^1-1', '1.0-9'],
    ];
    assertAgrees(compareRpm, cases);
    assert.throws(
      () => compareRpm('1'.repeat(MAX_RPM_VERSION_LENGTH + 1), '1'),
      (e: unknown) => isHyperwardError(e) && e.code === 'E_USAGE' && /longer than 256/.test(e.message),
    );
  });

  it('agrees with rpm on generated EVR strings', () => {
    const pairs = fc.sample(near(evr, ['~', '^', '-1', '-0', '.0', 'a', '-~1']), {
      numRuns: 1500,
      seed: 0xe7a,
    });
    const counts = assertAgrees(compareRpm, pairs);
    for (const v of [-1, 0, 1] as const) assert.ok((counts.get(v) ?? 0) >= 100, `${v}: ${counts.get(v)}`);
    console.log(`compareRpm agreement: ${pairs.length} pairs`, Object.fromEntries(counts));
  });

  it('is a total order on generated EVR strings', () => {
    fc.assert(
      fc.property(fc.array(evr, { minLength: 3, maxLength: 12 }), (vs) => {
        for (const v of vs) assert.equal(compareRpm(v, v), 0);
        for (const a of vs) for (const b of vs) assert.equal(compareRpm(a, b), -compareRpm(b, a) || 0);
        const sorted = [...vs].sort(compareRpm);
        for (let i = 0; i < sorted.length; i++) {
          for (let j = i; j < sorted.length; j++) assert.ok(compareRpm(sorted[i]!, sorted[j]!) <= 0);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('never lets anything but HyperwardError escape on arbitrary strings', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), fc.string({ maxLength: 20 }), (a, b) => {
        try {
          compareRpm(a, b);
          rpmvercmp(b, a);
          parseRpm(a);
        } catch (e) {
          assert.ok(isHyperwardError(e), String(e));
        }
      }),
      { numRuns: 500 },
    );
  });
});
