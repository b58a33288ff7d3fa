/**
 * Shared test body for the console isolation checks judged by `vmxBooleanCheck` with a `TRUE` default
 * (vm-8.deactivate-console-copy, vm-8.deactivate-console-paste, vm-8.isolation-tools-dnd-deactivate): each check's
 * test file calls `consoleIsolationTests` with its check and the specifics of its key.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Check } from '../../src/checks/types.js';
import { fixtureText, lineOf, one, setVmxLine, vmx } from './vmware.js';

/** What differs between the console isolation checks' tests. */
export interface ConsoleIsolationCase {
  /** The `.vmx` key the check reads, as the guide spells it. */
  key: string;
  /** The value esx-in-the-wild-14.vmx gives the key, as written there. */
  hardenedValue: string;
  /** Another spelling of `key` (other case) written into the file to show keys match case-insensitively. */
  otherSpelling: string;
}

/** Registers the console isolation tests for `check`. */
export function consoleIsolationTests(check: Check, c: ConsoleIsolationCase): void {
  const { key, hardenedValue, otherSpelling } = c;

  test('pass: a hardened VM sets it ("true")', () => {
    const o = one(check, vmx('esx-in-the-wild-14.vmx'));
    assert.equal(o.status, 'pass');
    assert.deepEqual(o.resource, { type: 'vm', id: 'vm/wild14' });
    assert.equal(o.evidence?.line, lineOf(fixtureText('vmx/esx-in-the-wild-14.vmx'), key));
    assert.equal(o.evidence?.value, hardenedValue);
    assert.equal(o.evidence?.isDefault, undefined);
  });

  test('default: absent means TRUE, so it passes with the default as evidence', () => {
    const o = one(check, vmx('esx-in-the-wild-12.vmx'));
    assert.equal(o.status, 'pass');
    assert.deepEqual(o.evidence, {
      file: 'fixtures/vmware/vmx/esx-in-the-wild-12.vmx',
      key,
      value: 'TRUE',
      isDefault: true,
    });
  });

  test('fail: set to FALSE', () => {
    const o = one(
      check,
      vmx('esx-in-the-wild-14.vmx', (t) => setVmxLine(t, key, 'FALSE')),
    );
    assert.equal(o.status, 'fail');
    assert.equal(o.evidence?.value, 'FALSE');
  });

  test('keys are case-insensitive; a non-boolean value is unknown', () => {
    assert.notEqual(otherSpelling, key);
    const upper = one(
      check,
      vmx('esx-in-the-wild-12.vmx', (t) => setVmxLine(t, key, 'false', otherSpelling)),
    );
    assert.equal(upper.status, 'fail');
    assert.equal(upper.evidence?.key, otherSpelling);
    assert.equal(
      one(
        check,
        vmx('esx-in-the-wild-12.vmx', (t) => setVmxLine(t, key, 'yes please')),
      ).status,
      'unknown',
    );
  });
}
