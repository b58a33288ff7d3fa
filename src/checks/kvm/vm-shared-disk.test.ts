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
import { vmSharedDisk as check } from './vm-shared-disk.js';

const judge = (name: string, edit?: (x: string) => string) =>
  check.run(inventoryOf(fixtureDomain(name, edit)), { params: {} })[0]!;

test('metadata is valid', () => {
  CheckMetaSchema.parse(check.meta);
});

test('fail: every <shareable/> disk is named', () => {
  const text = fixtureText('domains/disk-shared.xml');
  const o = judge('disk-shared');
  assert.equal(o.status, 'fail');
  const shared = text
    .split('<disk ')
    .slice(1)
    .filter((d) => d.includes('<shareable/>'));
  assert.equal(shared.length, 3);
  for (const d of shared) assert.ok(o.message.includes(/<target dev='([^']+)'/.exec(d)![1]!));
  assert.ok(!o.message.includes('hdc'), 'the read-only cdrom is not shareable');
  const firstDisk = text.indexOf("<disk type='block' device='disk'>");
  assert.deepEqual(o.evidence, {
    file: fixturePath('domains/disk-shared.xml'),
    line: text.slice(0, firstDisk).split('\n').length,
    key: 'disk/shareable',
    value: /<source dev='([^']+)'/.exec(text)![1],
  });
  assert.equal(lineOf(text, '<disk'), o.evidence?.line);
});

test('pass: disks without <shareable/>, or no disks', () => {
  assert.equal(judge('disk-shared', (x) => x.replaceAll('<shareable/>', '')).status, 'pass');
  assert.equal(judge('graphics-vnc-socket').status, 'pass');
});
