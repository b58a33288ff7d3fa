import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { isHyperwardError } from './errors.js';
import { parseJsonGuarded } from './json-guard.js';

const LIMITS = { maxLength: 10_000, maxDepth: 8 };

test('parses what JSON.parse parses, within the limits', () => {
  fc.assert(
    fc.property(fc.jsonValue({ maxDepth: 6 }), (v) => {
      const text = JSON.stringify(v);
      fc.pre(text.length <= LIMITS.maxLength);
      assert.deepEqual(parseJsonGuarded(text, { file: 'x.json' }, LIMITS), JSON.parse(text));
    }),
  );
});

test('refuses nesting past the limit, even a million levels deep, without overflowing the stack', () => {
  for (const text of ['['.repeat(9) + ']'.repeat(9), '{"a":'.repeat(1_000_000)]) {
    assert.throws(
      () => parseJsonGuarded(text, { file: 'deep.json' }, { maxLength: 1e7, maxDepth: 8 }),
      (e: unknown) => isHyperwardError(e) && e.code === 'E_LIMIT' && /deep\.json/.test(e.message),
    );
  }
});

test('brackets inside strings do not count as nesting', () => {
  const text = JSON.stringify({ s: '[[[[[[[[[[[[{{{{{{{{\\"[[[[' });
  assert.deepEqual(parseJsonGuarded(text, {}, LIMITS), JSON.parse(text));
});

test('refuses oversize text and reports the offset of a syntax error', () => {
  assert.throws(
    () => parseJsonGuarded('"' + 'a'.repeat(LIMITS.maxLength) + '"', {}, LIMITS),
    (e: unknown) => isHyperwardError(e) && e.code === 'E_LIMIT',
  );
  assert.throws(
    () => parseJsonGuarded('{"a": 1,, "b": 2}', { file: 'bad.json' }, LIMITS),
    (e: unknown) => isHyperwardError(e) && e.code === 'E_CONFIG_SYNTAX' && e.location.offset === 8,
  );
});

test('arbitrary text never escapes as anything but a HyperwardError', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 200 }), (s) => {
      try {
        parseJsonGuarded(s, {}, LIMITS);
      } catch (e) {
        assert.ok(isHyperwardError(e), String(e));
      }
    }),
  );
});
