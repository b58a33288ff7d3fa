import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isHyperwardError } from '../../errors.js';
import { compareApk, compareApkFuzzy, isValidApk, parseApk, MAX_APK_VERSION_LENGTH } from './apk.js';
import { compareDeb, compareRpm, compareVersions, type VersionEcosystem } from './index.js';

// apk-tools' own test vectors (see fixtures/apk/README.md): no apk binary here, so they are the oracle.
const fixture = (name: string): string[] =>
  readFileSync(new URL(`../../../fixtures/apk/${name}`, import.meta.url), 'utf8').split('\n');

interface Line {
  a: string;
  op: string;
  b: string;
  line: number;
}

function comparisons(lines: string[]): Line[] {
  const out: Line[] = [];
  lines.forEach((raw, k) => {
    const text = raw.replace(/#.*/, '').trim();
    const m = /^(\S+)\s+(<|=|>|~|<~|>~|!~)\s+(\S+)$/.exec(text);
    if (m) out.push({ a: m[1]!, op: m[2]!, b: m[3]!, line: k + 1 });
  });
  return out;
}

function checkLine({ a, op, b, line }: Line): void {
  const where = `line ${line}: ${a} ${op} ${b}`;
  const exact = compareApk(a, b);
  const fuzzy = compareApkFuzzy(a, b);
  switch (op) {
    case '<':
      assert.equal(exact, -1, where);
      assert.equal(compareApk(b, a), 1, `${where} (swapped)`);
      break;
    case '>':
      assert.equal(exact, 1, where);
      assert.equal(compareApk(b, a), -1, `${where} (swapped)`);
      break;
    case '=':
      assert.equal(exact, 0, where);
      break;
    case '~':
      assert.equal(fuzzy, 0, where);
      break;
    case '<~':
      assert.ok(fuzzy <= 0, where);
      break;
    case '>~':
      assert.ok(fuzzy >= 0, where);
      break;
    case '!~':
      assert.notEqual(fuzzy, 0, where);
      break;
    default:
      assert.fail(where);
  }
}

// Realistic Alpine versions, built token by token in the order apk allows: digits{.digits}[letter]{_suffix[n]}
// [~hash][-rN]; digit runs sometimes carry leading zeros.
const num = fc.oneof(
  fc.integer({ min: 0, max: 30 }).map(String),
  fc.constantFrom('0', '00', '01', '007', '10', '2024', '20240101', '99999999999999999999'),
);
const suffix = fc.tuple(
  fc.constantFrom('alpha', 'beta', 'pre', 'rc', 'cvs', 'svn', 'git', 'hg', 'p'),
  fc.option(num, { nil: undefined }),
);
const apkVersion = fc
  .record({
    parts: fc.array(num, { minLength: 1, maxLength: 5 }),
    letter: fc.option(fc.constantFrom('a', 'b', 'z'), { nil: undefined }),
    suffixes: fc.array(suffix, { maxLength: 2 }),
    hash: fc.option(fc.constantFrom('1234', '2345', 'abcd', 'ABCD', '0f'), { nil: undefined }),
    rev: fc.option(num, { nil: undefined }),
  })
  .map(
    ({ parts, letter, suffixes, hash, rev }) =>
      parts.join('.') +
      (letter ?? '') +
      suffixes.map(([s, n]) => `_${s}${n ?? ''}`).join('') +
      (hash === undefined ? '' : `~${hash}`) +
      (rev === undefined ? '' : `-r${rev}`),
  );

describe('compareApk', () => {
  it("agrees with every comparison in apk-tools' test/version.data", () => {
    const lines = comparisons(fixture('version.data'));
    assert.ok(lines.length > 700, `parsed ${lines.length} lines`);
    for (const l of lines) checkLine(l);
  });

  it('agrees with apk-tools 3.x unit vectors: leading zeros, commit hashes, fuzzy matching', () => {
    const lines = comparisons(fixture('version-unit.data'));
    assert.ok(lines.length >= 25, `parsed ${lines.length} lines`);
    for (const l of lines) checkLine(l);
  });

  it("accepts and rejects exactly the versions apk-tools' unit vectors list", () => {
    let n = 0;
    for (const raw of fixture('version-unit.data')) {
      const text = raw.trim();
      if (text.includes(' ') || (text === '' && raw !== '!')) continue;
      if (text.startsWith('!')) {
        const v = text.slice(1);
        assert.equal(isValidApk(v), false, `'${v}' must be invalid`);
        assert.throws(
          () => parseApk(v),
          (e: unknown) => isHyperwardError(e) && e.code === 'E_USAGE' && e.message.includes(`'${v}'`),
        );
      } else {
        assert.equal(isValidApk(text), true, `'${text}' must be valid`);
        parseApk(text);
      }
      n++;
    }
    assert.ok(n >= 30, `checked ${n} validity lines`);
  });

  it('splits off the -rN revision', () => {
    assert.deepEqual(parseApk('1.2.3_rc1-r10'), { version: '1.2.3_rc1', revision: 10 });
    assert.deepEqual(parseApk('1.0~abcd'), { version: '1.0~abcd', revision: 0 });
    assert.throws(() => compareApk('1'.repeat(MAX_APK_VERSION_LENGTH + 1), '1'), /longer than 256/);
  });

  it('generates only versions apk accepts, and orders them as a total order', () => {
    fc.assert(
      fc.property(fc.array(apkVersion, { minLength: 3, maxLength: 12 }), (vs) => {
        for (const v of vs) {
          assert.ok(isValidApk(v), v);
          assert.equal(compareApk(v, v), 0);
        }
        for (const a of vs)
          for (const b of vs) assert.equal(compareApk(a, b), -compareApk(b, a) || 0, `${a} ${b}`);
        const sorted = [...vs].sort(compareApk);
        for (let i = 0; i < sorted.length; i++) {
          for (let j = i; j < sorted.length; j++) assert.ok(compareApk(sorted[i]!, sorted[j]!) <= 0);
        }
      }),
      { numRuns: 400 },
    );
  });

  it('orders by the documented suffix ranks and revisions', () => {
    fc.assert(
      fc.property(
        apkVersion.filter((v) => !v.includes('_') && !v.includes('~') && !v.includes('-')),
        (base) => {
          const chain = [
            '_alpha',
            '_alpha1',
            '_beta',
            '_pre',
            '_rc',
            '',
            '_cvs',
            '_svn',
            '_git',
            '_hg',
            '_p',
            '_p1',
          ].map((s) => base + s);
          for (let i = 0; i + 1 < chain.length; i++)
            assert.equal(compareApk(chain[i]!, chain[i + 1]!), -1, chain[i]);
          assert.equal(compareApk(`${base}-r1`, `${base}-r0`), 1);
          assert.equal(compareApk(`${base}-r0`, base), 1);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('never lets anything but HyperwardError escape on arbitrary strings', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), fc.string({ maxLength: 20 }), (a, b) => {
        try {
          compareApk(a, b);
          compareApkFuzzy(b, a);
          isValidApk(a);
          parseApk(b);
        } catch (e) {
          assert.ok(isHyperwardError(e), String(e));
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('compareVersions', () => {
  it('dispatches on the ecosystem and refuses unknown ones', () => {
    // 1.0~rc1 sorts before 1.0 in deb and rpm; in apk `~` starts a commit hash, and `rc1` is not hex.
    assert.equal(compareVersions('deb', '1.0~rc1', '1.0'), compareDeb('1.0~rc1', '1.0'));
    assert.equal(compareVersions('rpm', '1.0^1', '1.0'), compareRpm('1.0^1', '1.0'));
    assert.equal(compareVersions('apk', '1.0_rc1', '1.0'), compareApk('1.0_rc1', '1.0'));
    assert.throws(
      () => compareVersions('pip' as VersionEcosystem, '1', '2'),
      (e: unknown) => isHyperwardError(e) && e.code === 'E_USAGE',
    );
  });
});
