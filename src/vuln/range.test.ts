import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { run, tempDir } from '../../test/helpers/tmp.js';
import type { PackageEcosystem } from '../model/inventory.js';
import { debMayEqual, evaluateEntry, isAffected, isValidVersion } from './range.js';
import { compareDeb } from './version/index.js';
import type { AffectedPackage, RangeEvent } from './types.js';

function entry(scheme: PackageEcosystem, ranges: RangeEvent[][], versions: string[] = []): AffectedPackage {
  const distro = scheme === 'deb' ? 'debian:12' : scheme === 'rpm' ? 'rhel:9' : 'alpine:3.19';
  return { ecosystem: 'test', distro, scheme, package: 'pkg', ranges, versions };
}

const scratch = tempDir('hyperward-range-');
after(() => scratch.cleanup());

/** `dpkg --compare-versions A OP B` for many triples in one shell. Versions come from a quote-free alphabet. */
function dpkgOracle(triples: ReadonlyArray<readonly [string, string, string]>): boolean[] {
  const file = join(scratch.dir, 'dpkg.sh');
  writeFileSync(
    file,
    triples
      .map(([a, op, b]) => `dpkg --compare-versions '${a}' ${op} '${b}' && echo 1 || echo 0`)
      .join('\n') + '\n',
  );
  const lines = run('sh', [file]).split('\n').filter(Boolean);
  assert.equal(lines.length, triples.length);
  return lines.map((l) => l === '1');
}

/** rpm's own `rpm.vercmp` on many pairs in one process: the sign of the comparison. */
function rpmOracle(pairs: ReadonlyArray<readonly [string, string]>): number[] {
  const file = join(scratch.dir, 'pairs.lua');
  const body = pairs.map(([a, b]) => `{"${a}","${b}"}`).join(',\n');
  writeFileSync(
    file,
    `for _, p in ipairs({${body}}) do io.write(tostring(rpm.vercmp(p[1], p[2])), '\\n') end\nio.flush()\n`,
  );
  const lines = run('rpm', ['--eval', `%{lua: dofile("${file}")}`])
    .split('\n')
    .filter(Boolean);
  assert.equal(lines.length, pairs.length);
  return lines.map((l) => Math.sign(Number(l)));
}

describe('OSV evaluation: the examples of the OSV schema (docs/schema.md, "Examples")', () => {
  // The schema's examples use SEMVER ranges; these versions order the same way under deb rules.
  it('"every possible version is affected": introduced 0 alone', () => {
    const e = entry('deb', [[{ introduced: '0' }]]);
    for (const v of ['0', '0~~', '1.0', '99:1.0-1']) assert.equal(isAffected('deb', v, e), true, v);
  });

  it('"everything before 1.0.2": introduced 0, fixed 1.0.2', () => {
    const e = entry('deb', [[{ introduced: '0' }, { fixed: '1.0.2' }]]);
    assert.equal(isAffected('deb', '1.0.1', e), true);
    assert.equal(isAffected('deb', '1.0.2', e), false);
    assert.equal(isAffected('deb', '1.0.3', e), false);
  });

  it('multiple ranges in one events list: [1.0.0, 1.0.2) and [3.0.0, 3.2.5)', () => {
    const events: RangeEvent[] = [
      { introduced: '1.0.0' },
      { fixed: '1.0.2' },
      { introduced: '3.0.0' },
      { fixed: '3.2.5' },
    ];
    const expected: Array<[string, boolean]> = [
      ['0.9', false],
      ['1.0.0', true],
      ['1.0.1', true],
      ['1.0.2', false],
      ['2.5', false],
      ['3.0.0', true],
      ['3.2.4', true],
      ['3.2.5', false],
      ['4.0', false],
    ];
    for (const [v, want] of expected) assert.equal(isAffected('deb', v, entry('deb', [events])), want, v);
    // The schema only recommends sorted events: the same timeline given out of order means the same.
    const shuffled = [events[3]!, events[0]!, events[2]!, events[1]!];
    for (const [v, want] of expected) assert.equal(isAffected('deb', v, entry('deb', [shuffled])), want, v);
  });

  it('last_affected 2.1.214 includes 2.1.214; fixed 2.1.214 excludes it', () => {
    const last = entry('deb', [[{ introduced: '0' }, { last_affected: '2.1.214' }]]);
    const fixed = entry('deb', [[{ introduced: '0' }, { fixed: '2.1.214' }]]);
    assert.equal(isAffected('deb', '2.1.214', last), true);
    assert.equal(isAffected('deb', '2.1.215', last), false);
    assert.equal(isAffected('deb', '2.1.214', fixed), false);
    assert.equal(isAffected('deb', '2.1.213', fixed), true);
  });

  it('an event at the same version as the next introduced keeps the record order (stable sort)', () => {
    const e = entry('deb', [[{ introduced: '1' }, { fixed: '2' }, { introduced: '2' }, { fixed: '3' }]]);
    assert.equal(isAffected('deb', '2', e), true);
    assert.equal(isAffected('deb', '3', e), false);
  });
});

describe('version schemes inside ranges', () => {
  it('deb: the epoch outranks everything after it', () => {
    const e = entry('deb', [[{ introduced: '0' }, { fixed: '2.0-1' }]]);
    assert.deepEqual(evaluateEntry('deb', '1:1.0-1', e), { state: 'fixed' });
    assert.deepEqual(evaluateEntry('deb', '1.9-1', e), { state: 'affected', fixed: '2.0-1' });
    const withEpoch = entry('deb', [[{ introduced: '0' }, { fixed: '1:1.0-1' }]]);
    assert.equal(isAffected('deb', '9.9-1', withEpoch), true);
    assert.equal(isAffected('deb', '1:1.0-1', withEpoch), false);
  });

  it('deb: ~ sorts before the end (backports and release candidates)', () => {
    const installed = '3.0.11-1~deb12u1';
    assert.equal(
      isAffected('deb', installed, entry('deb', [[{ introduced: '0' }, { fixed: '3.0.11-1' }]])),
      true,
    );
    assert.equal(
      isAffected('deb', installed, entry('deb', [[{ introduced: '0' }, { fixed: '3.0.11-1~deb12u2' }]])),
      true,
    );
    assert.equal(
      isAffected('deb', installed, entry('deb', [[{ introduced: '0' }, { fixed: '3.0.11-1~deb12u1' }]])),
      false,
    );
    assert.equal(
      isAffected('deb', '1.0~rc1-1', entry('deb', [[{ introduced: '0' }, { fixed: '1.0-1' }]])),
      true,
    );
  });

  it('rpm: ~ sorts before the end, ^ after it, epochs first', () => {
    const fixed = entry('rpm', [[{ introduced: '0' }, { fixed: '1.0-1' }]]);
    assert.equal(isAffected('rpm', '1.0~rc1-1', fixed), true);
    assert.equal(isAffected('rpm', '1.0^git1-1', fixed), false);
    assert.equal(
      isAffected('rpm', '1.0^git1-1', entry('rpm', [[{ introduced: '0' }, { fixed: '1.0.1-1' }]])),
      true,
    );
    assert.equal(
      isAffected('rpm', '1:0.5-1', entry('rpm', [[{ introduced: '0' }, { fixed: '2.0-1' }]])),
      false,
    );
    assert.equal(
      isAffected('rpm', '0.5-1', entry('rpm', [[{ introduced: '0' }, { fixed: '1:0.1-1' }]])),
      true,
    );
  });

  it('apk: pre-release suffixes before the release, _p after it, then -rN', () => {
    const e = entry('apk', [[{ introduced: '0' }, { fixed: '1.2.3-r0' }]]);
    assert.equal(isAffected('apk', '1.2.3_rc1-r0', e), true);
    assert.equal(isAffected('apk', '1.2.3_p1-r0', e), false);
    assert.equal(
      isAffected('apk', '1.2.3-r1', entry('apk', [[{ introduced: '0' }, { fixed: '1.2.3-r2' }]])),
      true,
    );
    assert.equal(
      isAffected('apk', '1.2.3-r2', entry('apk', [[{ introduced: '0' }, { fixed: '1.2.3-r2' }]])),
      false,
    );
  });
});

describe('explicit versions, several ranges, fix versions', () => {
  it('explicit versions match by version equality, not string equality', () => {
    const e = entry('deb', [], ['1.0-1', '1.1-1']);
    assert.equal(isAffected('deb', '1.0-1', e), true);
    assert.equal(isAffected('deb', '0:1.0-01', e), true); // epoch 0 and leading zeros: equal to 1.0-1 for dpkg
    assert.equal(isAffected('deb', '1.0-2', e), false);
  });

  it('a version listed explicitly is affected even outside the ranges, with the next fix of the ranges', () => {
    const e = entry('deb', [[{ introduced: '2.0' }, { fixed: '2.5' }]], ['1.5']);
    assert.deepEqual(evaluateEntry('deb', '1.5', e), { state: 'affected', fixed: '2.5' });
    assert.deepEqual(evaluateEntry('deb', '1.6', e), { state: 'unaffected' });
  });

  it('any range suffices; the fix reported is the highest of the ranges including the version', () => {
    const e = entry('deb', [
      [{ introduced: '0' }, { fixed: '1.5' }],
      [{ introduced: '1.0' }, { fixed: '2.0' }],
    ]);
    assert.deepEqual(evaluateEntry('deb', '1.2', e), { state: 'affected', fixed: '2.0' });
    assert.deepEqual(evaluateEntry('deb', '1.7', e), { state: 'affected', fixed: '2.0' });
    assert.deepEqual(evaluateEntry('deb', '2.0', e), { state: 'fixed' });
  });

  it('a range ending in last_affected has no fix, and above it the version is unaffected, not fixed', () => {
    const e = entry('deb', [[{ introduced: '0' }, { last_affected: '1.4' }]]);
    assert.deepEqual(evaluateEntry('deb', '1.4', e), { state: 'affected' });
    assert.deepEqual(evaluateEntry('deb', '1.5', e), { state: 'unaffected' });
  });

  it('an open range after a fixed one: affected again, no fix', () => {
    const e = entry('deb', [[{ introduced: '0' }, { fixed: '1.0' }, { introduced: '2.0' }]]);
    assert.deepEqual(evaluateEntry('deb', '1.5', e), { state: 'fixed' });
    assert.deepEqual(evaluateEntry('deb', '2.1', e), { state: 'affected' });
    assert.deepEqual(evaluateEntry('deb', '0.5', e), { state: 'affected', fixed: '1.0' });
  });

  it('below the first introduced: unaffected', () => {
    assert.deepEqual(evaluateEntry('deb', '0.5', entry('deb', [[{ introduced: '1.0' }]])), {
      state: 'unaffected',
    });
  });
});

describe('bad records are skipped and reported, never thrown', () => {
  it('a range with an invalid version is skipped; the other ranges still count', () => {
    const problems: string[] = [];
    const e = entry('deb', [
      [{ introduced: '0' }, { fixed: 'not a version' }],
      [{ introduced: '0' }, { fixed: '2.0' }],
    ]);
    assert.equal(
      isAffected('deb', '1.0', e, (p) => problems.push(p)),
      true,
    );
    assert.equal(problems.length, 1);
    assert.match(
      problems[0]!,
      /ranges\[0\]: events\[1\]: invalid deb version 'not a version'; range skipped/,
    );
    // Only the bad range: had it been read as "introduced 0", 3.0 would be affected.
    assert.equal(isAffected('deb', '3.0', e), false);
  });

  it('malformed events (two keys, none, not a string) skip their range', () => {
    const bad = [
      [{ introduced: '0', fixed: '1.0' }],
      [{}],
      [{ introduced: 5 }],
      'nope',
      [null],
    ] as unknown as RangeEvent[][];
    const problems: string[] = [];
    // Had any of them been read as "introduced 0", 1.0 would be affected.
    assert.deepEqual(
      evaluateEntry('deb', '1.0', entry('deb', bad), (p) => problems.push(p)),
      { state: 'unaffected' },
    );
    assert.equal(problems.length, 5);
    assert.ok(problems.every((p) => /; range skipped$/.test(p)));
  });

  it('invalid explicit versions are skipped one by one (reported when they had to be read)', () => {
    const problems: string[] = [];
    // '' and '1.0-' cannot be told apart from 1.0 without parsing them: parsed, refused, reported. '1:' (epoch 1)
    // and 'a b' (a letter where 1.0 has a digit) cannot equal 1.0 and are passed over unread.
    const e = entry('deb', [], ['', '1.0-', '1:', 'a b', '2.0', '1.0']);
    assert.equal(
      isAffected('deb', '1.0', e, (p) => problems.push(p)),
      true,
    );
    assert.deepEqual(
      problems.map((p) => p.replace(/ skipped$/, '')),
      ["versions[0]: invalid deb version ''", "versions[1]: invalid deb version '1.0-'"],
    );
    assert.equal(isAffected('deb', '2.5', e), false);
  });

  it('debMayEqual never rules out a pair dpkg calls equal (fast-check against compareDeb)', () => {
    const part = fc
      .array(fc.constantFrom('0', '00', '1', '01', '10', '.', '-', ':', '~', '+', 'a', ' ', ''), {
        maxLength: 7,
      })
      .map((p) => p.join(''));
    let ruledOut = 0;
    let equal = 0;
    fc.assert(
      fc.property(part, part, (a, b) => {
        let eq: boolean;
        try {
          eq = compareDeb(a, b) === 0;
        } catch {
          return;
        }
        if (eq) equal++;
        if (!debMayEqual(a, b)) {
          ruledOut++;
          assert.equal(eq, false, `'${a}' vs '${b}'`);
        }
      }),
      { numRuns: 20000 },
    );
    // Equal pairs exist among the samples, and the filter does rule many pairs out.
    assert.ok(equal > 50 && ruledOut > 1000, `${equal} equal, ${ruledOut} ruled out`);
    for (const [a, b] of [
      ['1.', '1.0'],
      ['1.0-0', '1.0'],
      ['0:1.0', '1.0'],
      ['1.00', '1.0'],
    ] as const) {
      assert.equal(compareDeb(a, b), 0);
      assert.equal(debMayEqual(a, b), true, `${a} ${b}`);
    }
  });

  it('an invalid installed version is reported and not affected', () => {
    const problems: string[] = [];
    assert.equal(
      isAffected('deb', '', entry('deb', [[{ introduced: '0' }]]), (p) => problems.push(p)),
      false,
    );
    assert.match(problems[0]!, /installed version '' is not a valid deb version/);
    assert.equal(isValidVersion('rpm', '1.0 -1'), false);
    assert.equal(isValidVersion('apk', '1.0-r'), false);
  });

  it('random records, versions and installed versions never throw (fast-check)', () => {
    const junkVersion = fc.oneof(
      fc.string({ maxLength: 20 }),
      fc.constantFrom(
        '0',
        '1:',
        ':1',
        '-',
        '~',
        '^',
        '1.0-r',
        'x'.repeat(300),
        '1:1.0~rc1-1',
        '1.0^a-1',
        '1.2_p1-r3',
      ),
    );
    const event = fc.oneof(
      junkVersion.map((v) => ({ introduced: v })),
      junkVersion.map((v) => ({ fixed: v })),
      junkVersion.map((v) => ({ last_affected: v })),
      fc.anything(),
    );
    fc.assert(
      fc.property(
        fc.constantFrom<PackageEcosystem>('deb', 'rpm', 'apk'),
        junkVersion,
        fc.array(fc.array(event, { maxLength: 6 }), { maxLength: 4 }),
        fc.array(junkVersion, { maxLength: 4 }),
        (scheme, installed, ranges, versions) => {
          const e = entry(scheme, ranges as RangeEvent[][], versions);
          const r = evaluateEntry(scheme, installed, e, () => {});
          assert.ok(['affected', 'fixed', 'unaffected'].includes(r.state));
          assert.equal(typeof isAffected(scheme, installed, e), 'boolean');
        },
      ),
      { numRuns: 3000 },
    );
  });
});

// Versions from a quote-free alphabet rich in the characters that matter: epochs, ~, +, letters, digit runs.
const debPart = fc
  .array(fc.constantFrom('0', '1', '2', '10', 'a', 'b', '~', '+', '.', '~rc1', '~deb12u1'), {
    minLength: 0,
    maxLength: 4,
  })
  .map((p) => p.join(''));
const debVersion = fc
  .tuple(
    fc.constantFrom('', '1:', '2:'),
    fc.constantFrom('0', '1', '1.0', '2.3'),
    debPart,
    fc.option(debPart),
  )
  .map(([e, head, tail, rev]) => `${e}${head}${tail}${rev === null ? '' : `-1${rev}`}`)
  .filter((v) => isValidVersion('deb', v));

const rpmField = fc
  .array(fc.constantFrom('0', '1', '2', '10', 'a', 'b', '~', '^', '.', '~rc1', '^git2'), {
    minLength: 0,
    maxLength: 4,
  })
  .map((p) => p.join(''));
const rpmVersion = fc
  .tuple(
    fc.constantFrom('', '1:', '2:'),
    fc.constantFrom('0', '1', '1.0', '2.3'),
    rpmField,
    fc.option(rpmField),
  )
  .map(([e, head, tail, rel]) => `${e}${head}${tail}${rel === null ? '' : `-1${rel}`}`);

describe('ranges agree with the real tools (property tests)', () => {
  it('deb: [introduced A, fixed B) and [introduced A, last_affected B] by dpkg --compare-versions', () => {
    const cases = fc.sample(fc.tuple(debVersion, debVersion, debVersion), { numRuns: 300, seed: 4 });
    // Order A and B by dpkg itself, so the range is a real interval.
    const lt = dpkgOracle(cases.map(([, a, b]) => [a, 'lt', b] as const));
    const triples: Array<readonly [string, string, string]> = [];
    const ranges: Array<{ v: string; lo: string; hi: string }> = [];
    cases.forEach(([v, a, b], k) => {
      const gt = !lt[k] && a !== b;
      const lo = gt ? b : a;
      const hi = gt ? a : b;
      ranges.push({ v, lo, hi });
      triples.push([v, 'ge', lo], [v, 'lt', hi], [v, 'le', hi]);
    });
    const answers = dpkgOracle(triples);
    let inside = 0;
    ranges.forEach(({ v, lo, hi }, k) => {
      const [ge, below, atMost] = answers.slice(3 * k, 3 * k + 3);
      const fixedRange = entry('deb', [[{ introduced: lo }, { fixed: hi }]]);
      const lastRange = entry('deb', [[{ introduced: lo }, { last_affected: hi }]]);
      assert.equal(isAffected('deb', v, fixedRange), Boolean(ge && below), `${v} in [${lo}, ${hi})`);
      assert.equal(isAffected('deb', v, lastRange), Boolean(ge && atMost), `${v} in [${lo}, ${hi}]`);
      if (ge && below) inside++;
    });
    assert.ok(inside > 20, `enough versions fell inside their ranges (${inside})`);
  });

  it('rpm: [introduced A, fixed B) by rpm.vercmp', () => {
    const cases = fc.sample(fc.tuple(rpmVersion, rpmVersion, rpmVersion), { numRuns: 300, seed: 5 });
    const ab = rpmOracle(cases.map(([, a, b]) => [a, b] as const));
    const pairs: Array<readonly [string, string]> = [];
    const ranges: Array<{ v: string; lo: string; hi: string }> = [];
    cases.forEach(([v, a, b], k) => {
      const lo = ab[k]! > 0 ? b : a;
      const hi = ab[k]! > 0 ? a : b;
      ranges.push({ v, lo, hi });
      pairs.push([v, lo], [v, hi]);
    });
    const answers = rpmOracle(pairs);
    let inside = 0;
    ranges.forEach(({ v, lo, hi }, k) => {
      const want = answers[2 * k]! >= 0 && answers[2 * k + 1]! < 0;
      assert.equal(
        isAffected('rpm', v, entry('rpm', [[{ introduced: lo }, { fixed: hi }]])),
        want,
        `${v} [${lo}, ${hi})`,
      );
      if (want) inside++;
    });
    assert.ok(inside > 20, `enough versions fell inside their ranges (${inside})`);
  });
});
