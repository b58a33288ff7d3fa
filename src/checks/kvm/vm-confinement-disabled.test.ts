import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CheckMetaSchema } from '../types.js';
import {
  fixtureDomain,
  fixturePath,
  fixtureText,
  inventoryOf,
  lineOf,
  replaceOnce,
} from '../../../test/helpers/libvirt-fixtures.js';
import { vmConfinementDisabled as check } from './vm-confinement-disabled.js';

const run = (...names: string[]) =>
  check.run(inventoryOf(...names.map((n) => fixtureDomain(n))), { params: {} });

test('metadata is valid', () => {
  CheckMetaSchema.parse(check.meta);
});

test("fail: <seclabel type='none'/>, with or without a model", () => {
  for (const name of ['seclabel-none', 'seclabel-dac-none']) {
    const text = fixtureText(`domains/${name}.xml`);
    const [o] = run(name);
    assert.equal(o!.status, 'fail', name);
    assert.deepEqual(o!.resource, { type: 'vm', id: 'vm/QEMUGuest1' });
    assert.deepEqual(o!.evidence, {
      file: fixturePath(`domains/${name}.xml`),
      line: lineOf(text, '<seclabel'),
      key: 'seclabel/@type',
      value: 'none',
    });
  }
  assert.match(run('seclabel-dac-none')[0]!.message, /model=dac/);
});

test("fail: model='none'", () => {
  const dom = fixtureDomain('seclabel-dynamic', replaceOnce("model='selinux'", "model='none'"));
  const [o] = check.run(inventoryOf(dom), { params: {} });
  assert.equal(o!.status, 'fail');
  assert.equal(o!.evidence?.key, 'seclabel/@model');
});

test('pass: an explicit dynamic label', () => {
  const [o] = run('seclabel-dynamic');
  assert.equal(o!.status, 'pass');
  assert.match(o!.message, /type=dynamic model=selinux/);
});

test("default: no <seclabel> means libvirt's dynamic labelling", () => {
  const [o] = run('graphics-vnc');
  assert.equal(o!.status, 'pass');
  assert.deepEqual(o!.evidence, {
    file: fixturePath('domains/graphics-vnc.xml'),
    key: 'seclabel/@type',
    value: 'dynamic',
    isDefault: true,
  });
});

test('one outcome per domain; none without domains', () => {
  assert.deepEqual(
    run('seclabel-none', 'seclabel-dynamic', 'qemu-ns').map((o) => o.status),
    ['fail', 'pass', 'pass'],
  );
  assert.deepEqual(check.run(inventoryOf(), { params: {} }), []);
});
