import assert from 'node:assert/strict';
import { isHyperwardError, type HyperwardError } from '../../src/errors.js';

/**
 * Runs `fn`, which must throw a `HyperwardError` with `code`; returns it. A RegExp `match` must match the
 * message; `{ layer }` must match the location's layer (and the location must name a file).
 */
export function expectError(
  fn: () => unknown,
  code: string,
  match?: RegExp | { message?: RegExp; layer?: RegExp },
): HyperwardError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  if (caught === undefined) assert.fail(`expected ${code}, but nothing was thrown`);
  assert.ok(
    isHyperwardError(caught),
    `expected HyperwardError ${code}, got ${(caught as Error)?.stack ?? String(caught)}`,
  );
  assert.equal(caught.code, code, caught.message);
  const { message, layer } = match instanceof RegExp ? { message: match, layer: undefined } : (match ?? {});
  if (message !== undefined) assert.match(caught.message, message);
  if (layer !== undefined) {
    assert.match(caught.location.layer ?? '', layer, caught.message);
    assert.equal(typeof caught.location.file, 'string', caught.message);
  }
  return caught;
}

/** The code of the `HyperwardError` that `fn` throws, or undefined when it returns. */
export function errorCode(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (e) {
    return isHyperwardError(e) ? e.code : `not a HyperwardError: ${String(e)}`;
  }
}
