import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CheckMetaSchema } from '../types.js';
import {
  fixtureDomain,
  fixturePath,
  fixtureText,
  inventoryOf,
  lineOf,
} from '../../../test/helpers/libvirt-fixtures.js';
import { vmQemuPassthroughArgs as check } from './vm-qemu-passthrough-args.js';

const judge = (name: string, edit?: (x: string) => string) =>
  check.run(inventoryOf(fixtureDomain(name, edit)), { params: {} })[0]!;

test('metadata is valid', () => {
  CheckMetaSchema.parse(check.meta);
});

test('fail: <qemu:commandline> with arguments and environment', () => {
  const text = fixtureText('domains/qemu-ns.xml');
  const args = [...text.matchAll(/<qemu:arg value='([^']*)'/g)].map((m) => m[1]!);
  const o = judge('qemu-ns');
  assert.equal(o.status, 'fail');
  for (const a of args) assert.ok(o.message.includes(a), a);
  assert.match(o.message, new RegExp(`with ${args.length} argument\\(s\\)`));
  assert.match(o.message, /environment NS, BAR/);
  assert.deepEqual(o.evidence, {
    file: fixturePath('domains/qemu-ns.xml'),
    line: lineOf(text, '<qemu:commandline>'),
    key: 'qemu:commandline',
    value: args.join(' '),
  });
});

test('fail: the same element in the default namespace (qemu-ns-alt)', () => {
  assert.equal(judge('qemu-ns-alt').status, 'fail');
});

test('fail: <qemu:override>', () => {
  const o = judge('qemu-ns', (x) =>
    x.replace(
      /<qemu:commandline>[\s\S]*<\/qemu:commandline>/,
      "<qemu:override><qemu:device alias='ua-x'><qemu:frontend><qemu:property name='p' type='string' value='v'/></qemu:frontend></qemu:device></qemu:override>",
    ),
  );
  assert.equal(o.status, 'fail');
  assert.match(o.message, /qemu:override/);
});

test('pass: no QEMU namespace, only qemu:capabilities, an empty commandline, or a foreign namespace', () => {
  assert.equal(judge('graphics-vnc').status, 'pass');
  assert.equal(
    judge('qemu-ns', (x) => x.replace(/<qemu:commandline>[\s\S]*<\/qemu:commandline>/, '')).status,
    'pass',
  );
  assert.equal(
    judge('qemu-ns', (x) => x.replace(/<qemu:commandline>[\s\S]*<\/qemu:commandline>/, '<qemu:commandline/>'))
      .status,
    'pass',
  );
  assert.equal(
    judge('qemu-ns', (x) => x.replace('http://libvirt.org/schemas/domain/qemu/1.0', 'urn:not-qemu')).status,
    'pass',
  );
});
