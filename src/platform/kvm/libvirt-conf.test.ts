import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { isHyperwardError } from '../../errors.js';
import { applyEdits, byteEdits, onlyHyperwardErrors } from '../../../test/helpers/fuzz.js';
import { fixtureText } from '../../../test/helpers/kvm-host.js';
import {
  confBool,
  confInt,
  confStringList,
  MAX_CONF_BYTES,
  parseLibvirtConf,
  parseLibvirtConfBuffer,
} from './libvirt-conf.js';

const QEMU = '/etc/libvirt/qemu.conf';
const LIBVIRTD = '/etc/libvirt/libvirtd.conf';

/** The error a parse throws (fails the test when it parses). */
function parseError(text: string): { code: string; layer: string } {
  try {
    parseLibvirtConf(text, 't.conf');
  } catch (e) {
    assert.ok(isHyperwardError(e), `not a HyperwardError: ${String(e)}`);
    return { code: e.code, layer: e.location.layer ?? '' };
  }
  return assert.fail(`expected ${JSON.stringify(text)} to be rejected`);
}

/**
 * Every single-line example setting of a shipped file (`#key = value`), with the value the file's own text
 * gives it, read independently of the parser: JSON for quoted strings and lists, decimal for numbers.
 */
function examples(text: string): Array<{ line: number; raw: string; key: string; expected: string }> {
  const out: Array<{ line: number; raw: string; key: string; expected: string }> = [];
  text.split('\n').forEach((l, i) => {
    const m = /^#([a-z][a-z0-9_]*) ?= ?(.*)$/.exec(l);
    if (!m || m[2]!.trimEnd().endsWith('[')) return;
    const v = m[2]!.trim();
    const expected = v.startsWith('[')
      ? JSON.stringify(JSON.parse(v)).replace(/","/g, '", "')
      : v.startsWith('"')
        ? JSON.parse(v)
        : String(Number(v));
    out.push({ line: i + 1, raw: l.slice(1), key: m[1]!, expected });
  });
  return out;
}

function uncommentAll(text: string): string {
  return text
    .split('\n')
    .map((l) => (/^#[a-z][a-z0-9_]* ?= ?/.test(l) && !l.trimEnd().endsWith('[') ? l.slice(1) : l))
    .join('\n');
}

for (const path of [QEMU, LIBVIRTD]) {
  test(`${path} as Debian 12 ships it: every line is a comment or blank, so nothing is set`, () => {
    const text = fixtureText(path);
    const live = text.split('\n').filter((l) => l.trim() !== '' && !l.trimStart().startsWith('#'));
    const conf = parseLibvirtConf(text, path);
    assert.equal(Object.keys(conf.entries).length, live.length);
    assert.equal(live.length, 0);
  });

  test(`${path} with every example setting uncommented: each key, value and line as the file writes it`, () => {
    const text = fixtureText(path);
    const ex = examples(text);
    assert.ok(ex.length > 20, `only ${ex.length} examples found`);
    const conf = parseLibvirtConf(uncommentAll(text), path);
    const firsts = new Map<string, (typeof ex)[number]>();
    for (const e of ex) if (!firsts.has(e.key)) firsts.set(e.key, e);
    assert.deepEqual(Object.keys(conf.entries).sort(), [...firsts.keys()].sort());
    for (const [key, e] of firsts) {
      const got = conf.entries[key]!;
      assert.equal(got.line, e.line, key);
      assert.equal(got.value, e.expected, `${key}: ${e.raw}`);
      assert.equal(got.file, path);
    }
    const dup = [...new Set(ex.map((e) => e.key).filter((k, i, a) => a.indexOf(k) !== i))].sort();
    assert.deepEqual([...conf.duplicates].sort(), dup);
  });
}

test('qemu.conf: the multi-line cgroup_device_acl example parses as one list with the items the file lists', () => {
  const text = fixtureText(QEMU);
  const lines = text.split('\n');
  const start = lines.indexOf('#cgroup_device_acl = [');
  const end = lines.indexOf('#]', start);
  assert.ok(start >= 0 && end > start);
  const block = lines.slice(start, end + 1);
  const expected = block
    .join('\n')
    .match(/"[^"]*"/g)!
    .map((s) => s.slice(1, -1));
  const edited = [...lines.slice(0, start), ...block.map((l) => l.slice(1)), ...lines.slice(end + 1)].join(
    '\n',
  );
  const e = parseLibvirtConf(edited, QEMU).entries.cgroup_device_acl!;
  assert.equal(e.type, 'list');
  assert.equal(e.line, start + 1);
  assert.deepEqual(confStringList(e, false), expected);
  assert.ok(expected.includes('/dev/kvm'));
});

test('syntax libvirt accepts: quotes, triple quotes, separators, trailing comments, signs, nesting, trailing commas', () => {
  const conf = parseLibvirtConf(
    [
      'a = "x # not a comment"  # a comment',
      'b = \'single "quoted"\'; c = +01',
      'd = -5',
      'e = """two',
      'lines"""',
      'f = [ "x" ,',
      '      1, [ "n" ], ]',
      'g = []',
      '\tName_2\t=\t"tabs"',
      'h = 0 ;',
      '',
      'a = "second assignment"',
    ].join('\r\n'),
    't.conf',
  );
  const v = (k: string) => conf.entries[k];
  assert.equal(v('a')!.value, 'x # not a comment');
  assert.equal(v('a')!.line, 1);
  assert.equal(v('b')!.value, 'single "quoted"');
  assert.equal(v('c')!.value, '1');
  assert.equal(confBool(v('c')!), true);
  assert.equal(v('d')!.value, '-5');
  assert.equal(v('d')!.negative, true);
  assert.equal(confBool(v('d')!), undefined);
  assert.equal(confInt(v('d')!), -5);
  assert.equal(v('e')!.value, 'two\r\nlines');
  assert.equal(v('f')!.type, 'list');
  assert.deepEqual(v('f')!.items, [
    { type: 'string', value: 'x' },
    { type: 'integer', value: '1' },
    { type: 'list', value: '["n"]' },
  ]);
  assert.equal(confStringList(v('f')!, false), undefined);
  assert.equal(v('f')!.line, 6);
  assert.deepEqual(confStringList(v('g')!, false), []);
  assert.equal(v('Name_2')!.value, 'tabs');
  assert.equal(v('h')!.line, 10);
  assert.equal(confBool(v('h')!), false);
  assert.deepEqual(conf.duplicates, ['a']);
  assert.equal(confStringList(v('a')!, true)![0], 'x # not a comment');
});

test('syntax libvirt rejects: the error names the line', () => {
  const cases: Array<[string, number]> = [
    ['a = 1\nb = "open\n', 2],
    ['a = [ "x",\n # a comment in a list\n "y" ]\n', 2],
    ['a = 1\n\n_a = 2\n', 3],
    ['1a = 2\n', 1],
    ['a 1\n', 1],
    ['a = 1 b = 2\n', 1],
    ['a = yes\n', 1],
    ['a = [ "x" "y" ]\n', 1],
    ['a = [ "x",\n', 2],
    ['a = """never closed\n\n', 1],
    ['a = -\n', 1],
    ['a =\n', 1],
  ];
  for (const [text, line] of cases) {
    const e = parseError(text);
    assert.equal(e.code, 'E_UNSUPPORTED_FORMAT', text);
    assert.match(e.layer, new RegExp(`line ${line}$`), text);
  }
});

test('limits: nesting, long numbers and size give E_LIMIT', () => {
  assert.equal(parseError(`a = ${'['.repeat(100)}${']'.repeat(100)}\n`).code, 'E_LIMIT');
  assert.equal(parseError(`a = ${'9'.repeat(41)}\n`).code, 'E_LIMIT');
  assert.equal(parseLibvirtConf(`a = ${'9'.repeat(40)}\n`, 't').entries.a!.value, '9'.repeat(40));
  try {
    parseLibvirtConfBuffer(Buffer.alloc(MAX_CONF_BYTES + 1, 0x23), 'big.conf');
    assert.fail('accepted an oversized file');
  } catch (e) {
    assert.ok(isHyperwardError(e) && e.code === 'E_LIMIT');
  }
});

test('setting names that are Object.prototype members are plain keys', () => {
  const conf = parseLibvirtConf('constructor = 1\ntoString = "x"\nhasOwnProperty = [ ]\n', 't');
  const get = (k: string) => conf.entries[k];
  assert.equal(get('constructor')!.value, '1');
  assert.equal(get('toString')!.value, 'x');
  assert.equal(get('hasOwnProperty')!.type, 'list');
  assert.equal(Object.getPrototypeOf(conf.entries), null);
  assert.equal(conf.entries.valueOf, undefined);
});

test('property: arbitrary text gives entries or a HyperwardError, never anything else', () => {
  const chars = fc.constantFrom(
    'a',
    'b',
    '_',
    '1',
    '-',
    '+',
    '=',
    ' ',
    '\t',
    '\n',
    '\r',
    '"',
    "'",
    '#',
    '[',
    ']',
    ',',
    ';',
    'é',
  );
  fc.assert(
    fc.property(fc.oneof(fc.string({ maxLength: 400 }), fc.string({ unit: chars, maxLength: 400 })), (s) =>
      onlyHyperwardErrors(() => {
        const conf = parseLibvirtConf(s, 'fuzz.conf');
        for (const e of Object.values(conf.entries)) assert.ok(e.line >= 1 && e.line <= s.split('\n').length);
      }),
    ),
    { numRuns: 500 },
  );
});

test('property: byte edits and truncation of the real qemu.conf (examples uncommented) never escape', () => {
  const buf = Buffer.from(uncommentAll(fixtureText(QEMU)));
  fc.assert(
    fc.property(byteEdits(buf.length, 24), fc.nat({ max: buf.length }), (edits, cut) =>
      onlyHyperwardErrors(() => {
        parseLibvirtConfBuffer(applyEdits(buf, edits), 'qemu.conf');
        parseLibvirtConfBuffer(buf.subarray(0, cut), 'qemu.conf');
      }),
    ),
    { numRuns: 300 },
  );
});

test('property: settings written in any of the accepted layouts read back as written (first assignment wins)', () => {
  const key = fc.stringMatching(/^[A-Za-z][A-Za-z0-9_]{0,15}$/);
  const str = fc.string({ maxLength: 20 }).filter((s) => !/["\r\n]/.test(s));
  const value = fc.oneof(
    str.map((s) => ({ text: `"${s}"`, value: s })),
    fc
      .bigInt({ min: -(10n ** 20n), max: 10n ** 20n })
      .map((n) => ({ text: n.toString(), value: n.toString() })),
    fc.array(str, { maxLength: 5 }).map((a) => ({
      text: `[ ${a.map((s) => `"${s}"`).join(',\n   ')} ]`,
      value: `[${a.map((s) => JSON.stringify(s)).join(', ')}]`,
    })),
  );
  const sep = fc.constantFrom('\n', ' ;\n', '\n\n', '  # comment\n', ';');
  fc.assert(
    fc.property(fc.array(fc.tuple(key, value, sep), { maxLength: 30 }), (kvs) => {
      let text = '';
      const expected = new Map<string, string>();
      for (const [k, v, s] of kvs) {
        text += `${k} = ${v.text}${s}`;
        if (!expected.has(k)) expected.set(k, v.value);
      }
      const conf = parseLibvirtConf(text, 'p.conf');
      assert.deepEqual(new Map(Object.entries(conf.entries).map(([k, e]) => [k, e.value])), expected);
    }),
    { numRuns: 300 },
  );
});

test('hostile sizes finish quickly: a megabyte of brackets, quotes and list items', () => {
  const t0 = Date.now();
  for (const text of [
    `a = ${'['.repeat(1 << 20)}`,
    `a = "${'x'.repeat(1 << 20)}`,
    `a = [${' "x",'.repeat(200_000)} ]\n`,
  ]) {
    onlyHyperwardErrors(() => parseLibvirtConf(text, 'big.conf'));
  }
  assert.ok(Date.now() - t0 < 5000);
});
