import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isHyperwardError } from '../../errors.js';
import { compareDeb, compareDebIn, isValidDeb, parseDeb, prepareDeb, MAX_DEB_VERSION_LENGTH } from './deb.js';

type Verdict = -1 | 0 | 1 | 'error';

/**
 * Asks the real dpkg about many pairs in one shell: `dpkg --compare-versions a lt b`, then `eq` when needed.
 * Exit status 1 means "false"; anything else (2) means dpkg refused a version.
 */
function dpkgOracle(pairs: ReadonlyArray<readonly [string, string]>): Verdict[] {
  const script = [
    'while IFS="$(printf "\\t")" read -r a b; do',
    '  dpkg --compare-versions "$a" lt "$b" 2>/dev/null; rc=$?',
    '  if [ $rc -eq 0 ]; then echo L; elif [ $rc -ne 1 ]; then echo E;',
    '  elif dpkg --compare-versions "$a" eq "$b" 2>/dev/null; then echo Q; else echo G; fi',
    'done',
  ].join('\n');
  const input = pairs.map(([a, b]) => `${a}\t${b}\n`).join('');
  const out = execFileSync('sh', ['-c', script], { input, encoding: 'utf8', maxBuffer: 1 << 24 });
  const lines = out.trim().split('\n');
  assert.equal(lines.length, pairs.length, 'dpkg oracle answered every pair');
  return lines.map((l) => (l === 'L' ? -1 : l === 'Q' ? 0 : l === 'G' ? 1 : 'error'));
}

function ours(a: string, b: string): Verdict {
  try {
    return compareDeb(a, b);
  } catch (e) {
    if (isHyperwardError(e) && e.code === 'E_USAGE') return 'error';
    throw e;
  }
}

/** Checks every pair against dpkg; returns how many pairs got each verdict. */
function assertAgrees(pairs: ReadonlyArray<readonly [string, string]>): Map<Verdict, number> {
  const expected = dpkgOracle(pairs);
  const counts = new Map<Verdict, number>();
  pairs.forEach(([a, b], k) => {
    const want = expected[k]!;
    assert.equal(ours(a, b), want, `compareDeb('${a}', '${b}') vs dpkg --compare-versions`);
    counts.set(want, (counts.get(want) ?? 0) + 1);
  });
  return counts;
}

// Realistic Debian versions: optional epoch, an upstream version starting with a digit made of digit runs (some
// with leading zeros) and letters joined by . + ~ - :, an optional revision (with ~ . + and letters).
const digits = fc.oneof(
  fc.integer({ min: 0, max: 20 }).map(String),
  fc.constantFrom('0', '00', '007', '10', '2024', '20240101', '99999999999999999999'),
);
const word = fc.constantFrom('a', 'b', 'z', 'A', 'Z', 'rc', 'beta', 'dfsg', 'ubuntu', 'deb', 'git', 'really');
const sep = fc.constantFrom('.', '.', '+', '~', '-', ':', '');
const piece = fc.oneof({ weight: 3, arbitrary: digits }, { weight: 2, arbitrary: word });
const upstream = fc
  .tuple(digits, fc.array(fc.tuple(sep, piece), { maxLength: 6 }))
  .map(([first, rest]) => first + rest.map(([s, p]) => s + p).join(''));
const revSep = fc.constantFrom('.', '+', '~', '');
const revision = fc
  .tuple(piece, fc.array(fc.tuple(revSep, piece), { maxLength: 4 }))
  .map(([first, rest]) => first + rest.map(([s, p]) => s + p).join(''));
const debVersion = fc
  .tuple(
    fc.option(fc.constantFrom('0', '1', '2', '01', '10'), { nil: undefined }),
    upstream,
    fc.option(revision, { nil: undefined }),
  )
  .map(([e, u, r]) => (e === undefined ? '' : `${e}:`) + u + (r === undefined ? '' : `-${r}`))
  // Without an epoch a colon would be read as one; keep a few of those for the error path but not most.
  .filter((v) => !v.includes(':') || /^\d+:/.test(v) || v.length % 7 === 0);

/** A version and small edits of it, so that pairs often share long prefixes (the interesting comparisons). */
const nearPair = debVersion.chain((v) =>
  fc.tuple(
    fc.constant(v),
    fc.oneof(
      fc.constant(v),
      debVersion,
      fc.constantFrom('~', '~~', 'a', '.0', '+1', '-1', '0', '~a', '-0').map((s) => v + s),
    ),
  ),
);

describe('compareDeb', () => {
  it('orders the deb-version(7) examples and agrees with dpkg on them', () => {
    // deb-version(7): "~~, ~~a, ~, the empty part, a" in increasing order; epochs beat everything; an absent
    // revision equals "0"; digits compare numerically.
    const ascending = ['1.0~~', '1.0~~a', '1.0~', '1.0', '1.0a', '1.0+', '1.1', '1.10', '1:0.1'];
    for (let i = 0; i < ascending.length; i++) {
      for (let j = 0; j < ascending.length; j++) {
        assert.equal(
          compareDeb(ascending[i]!, ascending[j]!),
          Math.sign(i - j),
          `${ascending[i]} vs ${ascending[j]}`,
        );
      }
    }
    const equal: Array<[string, string]> = [
      ['1.0', '1.0-0'],
      ['0:1.0', '1.0'],
      ['1.01', '1.1'],
      ['000:1.0', '1.0'],
      ['1.0-00', '1.0'],
    ];
    for (const [a, b] of equal) assert.equal(compareDeb(a, b), 0, `${a} = ${b}`);
    const pairs: Array<[string, string]> = [];
    for (const a of ascending) for (const b of ascending) pairs.push([a, b]);
    assertAgrees([...pairs, ...equal]);
  });

  it('refuses exactly what dpkg refuses, naming the version', () => {
    const bad = [':1.0', '1:', 'x:1.0', '1.0-', '1 0', '1:-1', '2147483648:1', '1.0-a b', 'a:b:c', '1:1-'];
    const fine = ['a', '1.0_x', '2147483647:1', '1:2:3', '1.0-1-2', 'ß', '  1.0  '];
    const expected = dpkgOracle([...bad, ...fine].map((v) => [v, v] as const));
    // What dpkg itself says about these strings (errors for the first list, accepted — perhaps with a warning — for
    // the second); then ours must say the same.
    assert.deepEqual(expected, [...bad.map((): Verdict => 'error'), ...fine.map((): Verdict => 0)]);
    [...bad, ...fine].forEach((v, k) => {
      const refused = expected[k] === 'error';
      assert.equal(!isValidDeb(v), refused, `validity of '${v}' vs dpkg`);
      if (refused) {
        assert.throws(
          () => parseDeb(v),
          (e: unknown) => isHyperwardError(e) && e.code === 'E_USAGE' && e.message.includes(`'${v}'`),
        );
      }
    });
    assert.throws(() => compareDeb('1'.repeat(MAX_DEB_VERSION_LENGTH + 1), '1'), /longer than 256/);
    assert.throws(() => parseDeb(''), /empty/);
  });

  it('parses epoch, upstream and revision at the first colon and the last hyphen', () => {
    assert.deepEqual(parseDeb('1:2.30-4'), { epoch: 1, upstream: '2.30', revision: '4' });
    assert.deepEqual(parseDeb('2.30-4-5ubuntu1'), { epoch: 0, upstream: '2.30-4', revision: '5ubuntu1' });
    assert.deepEqual(parseDeb('3:1:2-x'), { epoch: 3, upstream: '1:2', revision: 'x' });
    assert.deepEqual(parseDeb(' 7.1 '), { epoch: 0, upstream: '7.1', revision: '' });
  });

  it('agrees with dpkg --compare-versions on generated pairs', () => {
    const pairs = fc.sample(nearPair, { numRuns: 900, seed: 0x4ebe });
    const counts = assertAgrees(pairs);
    // The sample must exercise every outcome, or the agreement above proves little.
    for (const v of [-1, 0, 1, 'error'] as const)
      assert.ok((counts.get(v) ?? 0) >= (v === 'error' ? 5 : 50), `${v}: ${counts.get(v)}`);
    console.log(`dpkg agreement: ${pairs.length} pairs`, Object.fromEntries(counts));
  });

  it('is a total order: reflexive, antisymmetric, transitive', () => {
    fc.assert(
      fc.property(fc.array(debVersion.filter(isValidDeb), { minLength: 3, maxLength: 12 }), (vs) => {
        for (const v of vs) assert.equal(compareDeb(v, v), 0);
        for (const a of vs) for (const b of vs) assert.equal(compareDeb(a, b), -compareDeb(b, a) || 0);
        const sorted = [...vs].sort(compareDeb);
        for (let i = 0; i < sorted.length; i++) {
          for (let j = i; j < sorted.length; j++) assert.ok(compareDeb(sorted[i]!, sorted[j]!) <= 0);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('compares a version inside a longer string as compareDeb compares the slice (compareDebIn)', () => {
    const outcome = (f: () => number): number | string => {
      try {
        return f();
      } catch (e) {
        assert.ok(isHyperwardError(e), String(e));
        return 'error';
      }
    };
    fc.assert(
      fc.property(nearPair, fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), ([a, b], pre, post) => {
        const text = pre + a + post;
        const viaSlice = outcome(() => compareDeb(a, b));
        const viaComparator = outcome(() =>
          compareDebIn(text, pre.length, pre.length + a.length, prepareDeb(b)),
        );
        // An invalid `b` throws when it is prepared: both are 'error' then.
        assert.deepEqual(viaComparator, viaSlice);
      }),
      { numRuns: 600 },
    );
  });

  it('never lets anything but HyperwardError escape on arbitrary strings', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), fc.string({ maxLength: 20 }), (a, b) => {
        try {
          compareDeb(a, b);
          parseDeb(a);
        } catch (e) {
          assert.ok(isHyperwardError(e), String(e));
        }
      }),
      { numRuns: 500 },
    );
  });
});
