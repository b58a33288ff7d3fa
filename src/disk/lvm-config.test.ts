import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { expectError } from '../../test/helpers/errors.js';
import { onlyHyperwardErrors } from '../../test/helpers/fuzz.js';
import { DEFAULT_CONFIG_LIMITS, parseLvmConfig, type ConfigSection, type ConfigValue } from './lvm/config.js';

const LVM_ENV = { ...process.env, LVM_SUPPRESS_FD_WARNINGS: '1' };

/** LVM's own parser: `lvmconfig --config 'foo { BODY }' foo` prints the section as it understood it. */
function lvmconfig(body: string): { ok: boolean; out: string; line?: number } {
  const r = spawnSync('lvmconfig', ['--config', `foo {\n${body}\n}`, 'foo'], {
    encoding: 'utf8',
    env: LVM_ENV,
  });
  const m = /Parse error at byte \d+ \(line (\d+)\)/.exec(r.stderr);
  return { ok: r.status === 0, out: r.stdout, ...(m !== null ? { line: Number(m[1]) } : {}) };
}

/** Our tree in lvmconfig's output format (settings before subsections; a one-element array prints as a value). */
function render(sec: ConfigSection, depth: number): string {
  const pad = '\t'.repeat(depth);
  const scalar = (v: string | number): string =>
    typeof v === 'number'
      ? Number.isInteger(v)
        ? String(v)
        : v.toFixed(6)
      : `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  const value = (v: ConfigValue): string =>
    Array.isArray(v) ? (v.length === 1 ? scalar(v[0]!) : `[${v.map(scalar).join(',')}]`) : scalar(v);
  let out = '';
  for (const s of sec.settings) out += `${pad}${s.key}=${value(s.value)}\n`;
  for (const c of sec.sections) out += `${pad}${c.name} {\n${render(c, depth + 1)}${pad}}\n`;
  return out;
}

/** Bodies LVM accepts; settings come before subsections in each (our tree keeps them apart). */
const VALID = [
  'a = 1',
  'a = -5\nb = +7\nc = 007',
  'a = 1.5\nb = -.25\nc = .5',
  'a = "x\\"y\\\\z"',
  'a = "a\\qb"',
  `a = 'single "quoted"'`,
  'a = bare-word.txt',
  'a = /dev/sda',
  'a = "multi\nline"',
  'a = [1, "s", 2.25]',
  'a = [1, 2,]',
  'a = []',
  'a = [ "one" ]',
  'a = 1 # comment\nb = 2',
  'a=1 b=2',
  'a = 5b = 3',
  '"quoted key" = 1',
  'x[1] = 2',
  's { t = 1 u { v = "w" } }',
  'a = 1\ns {\n# only a comment\n}',
  'a = -',
  'é = "ünï"',
  'status = ["READ", "WRITE", "VISIBLE"]\nsegment1 {\nstart_extent = 0\nstripes = [\n"pv0", 0,\n"pv1", 2\n]\n}',
];

/** Bodies LVM rejects. */
const INVALID = [
  'a = "x',
  'a 1',
  'a = [[1]]',
  'a = [,]',
  'a = [1,,2]',
  'a = [1 2]',
  'a = [x, y]',
  'a = {}',
  'a = =',
  'a = 1,',
  'a = 1 }',
  's { t = 1',
  'a = 1.2.3',
  'a = 5a',
  'a =',
  'a = 1\nb = 2\nc = [1, 2\nd = 3',
];

describe('LVM text metadata parser', () => {
  it('understands what LVM accepts exactly as lvmconfig does', () => {
    for (const body of VALID) {
      const oracle = lvmconfig(body);
      assert.ok(oracle.ok, `lvmconfig accepts ${JSON.stringify(body)}`);
      const doc = parseLvmConfig(`foo {\n${body}\n}`, 'test');
      assert.equal(doc.sections.length, 1);
      assert.equal(render(doc.sections[0]!, 1), oracle.out, JSON.stringify(body));
    }
  });

  it('rejects what LVM rejects, on the same line', () => {
    for (const body of INVALID) {
      const oracle = lvmconfig(body);
      assert.ok(!oracle.ok, `lvmconfig rejects ${JSON.stringify(body)}`);
      const e = expectError(() => parseLvmConfig(`foo {\n${body}\n}`, 'test'), 'E_CONFIG_SYNTAX');
      if (oracle.line !== undefined) {
        assert.equal(e.location.line, oracle.line, `line of the error in ${JSON.stringify(body)}`);
      }
    }
  });

  it('keeps line numbers of sections and settings, and the order of both', () => {
    const doc = parseLvmConfig('# head\nvg {\n  a = 1\n  lv1 {\n  }\n  lv2 {\n  }\n}\ncontents = "x"\n', 'f');
    const vg = doc.sections[0]!;
    assert.equal(vg.line, 2);
    assert.equal(vg.settings[0]!.line, 3);
    assert.deepEqual(
      vg.sections.map((s) => [s.name, s.line]),
      [
        ['lv1', 4],
        ['lv2', 6],
      ],
    );
    assert.deepEqual(doc.settings, [{ key: 'contents', value: 'x', line: 9 }]);
  });

  it('enforces its limits with E_LIMIT or E_CONFIG_SYNTAX, never a crash', () => {
    const deep =
      'a { '.repeat(DEFAULT_CONFIG_LIMITS.maxDepth + 1) + '}'.repeat(DEFAULT_CONFIG_LIMITS.maxDepth + 1);
    expectError(() => parseLvmConfig(deep, 'f'), 'E_LIMIT');
    const ok = 'a { '.repeat(DEFAULT_CONFIG_LIMITS.maxDepth) + '}'.repeat(DEFAULT_CONFIG_LIMITS.maxDepth);
    assert.equal(parseLvmConfig(ok, 'f').sections.length, 1);
    const limits = { ...DEFAULT_CONFIG_LIMITS, maxArray: 10, maxNodes: 50, maxString: 16, maxBytes: 4096 };
    expectError(() => parseLvmConfig(`a = [${'1,'.repeat(11)}]`, 'f', limits), 'E_LIMIT');
    expectError(() => parseLvmConfig('x = 1\n'.repeat(51), 'f', limits), 'E_LIMIT');
    expectError(() => parseLvmConfig(`a = "${'s'.repeat(17)}"`, 'f', limits), 'E_CONFIG_SYNTAX');
    expectError(() => parseLvmConfig(`a = ${'w'.repeat(17)}`, 'f', limits), 'E_CONFIG_SYNTAX');
    expectError(() => parseLvmConfig(' '.repeat(4097), 'f', limits), 'E_LIMIT');
    // 2^63 - 1 is a valid LVM integer, but not one JavaScript can hold exactly: refused, not rounded.
    expectError(() => parseLvmConfig('a = 9223372036854775807', 'f'), 'E_CONFIG_SYNTAX', /out of range/);
    assert.deepEqual(parseLvmConfig('a = 9007199254740991', 'f').settings[0]!.value, 9007199254740991);
  });

  it('survives arbitrary text (fast-check)', () => {
    const tokens = fc.constantFrom(
      '{',
      '}',
      '[',
      ']',
      ',',
      '=',
      '"',
      "'",
      '#',
      '\n',
      ' ',
      'a',
      '1',
      '-',
      '.',
      '\\',
      'é',
    );
    fc.assert(
      fc.property(fc.array(tokens, { maxLength: 200 }), (parts) => {
        onlyHyperwardErrors(() => parseLvmConfig(parts.join(''), 'fuzz'));
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (s) => onlyHyperwardErrors(() => parseLvmConfig(s, 'fuzz'))),
      { numRuns: 1000 },
    );
  });
});
