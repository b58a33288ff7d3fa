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
import { vmNoTrafficFilter as check } from './vm-no-traffic-filter.js';

const judge = (name: string, edit?: (x: string) => string) =>
  check.run(inventoryOf(fixtureDomain(name, edit)), { params: {} })[0]!;
const FILTER = "<filterref filter='clean-traffic'/>\n    </interface>";

test('metadata is valid', () => {
  CheckMetaSchema.parse(check.meta);
});

test('fail: interfaces without <filterref>', () => {
  const text = fixtureText('domains/net-virtio-network-portgroup.xml');
  const o = judge('net-virtio-network-portgroup');
  assert.equal(o.status, 'fail');
  const count = text.split('<interface ').length - 1;
  assert.match(o.message, new RegExp(`^${count} of ${count} interface`));
  assert.deepEqual(o.evidence, {
    file: fixturePath('domains/net-virtio-network-portgroup.xml'),
    line: lineOf(text, '<interface'),
    key: 'interface/filterref',
    value: '(absent)',
  });
  // An ethernet interface (graphics-spice-timeout) too.
  assert.equal(judge('graphics-spice-timeout').status, 'fail');
});

test('fail: only the interfaces left without a filter are named', () => {
  const o = judge('net-virtio-network-portgroup', (x) => x.replace('</interface>', FILTER));
  assert.equal(o.status, 'fail');
  assert.match(o.message, /^2 of 3 interface/);
  assert.ok(!o.message.includes('00:11:22:33:44:55'));
});

test('fail, noted: interface types nwfilter cannot filter', () => {
  const o = judge('net-virtio-network-portgroup', (x) =>
    x.replace("<interface type='network' trustGuestRxFilters='yes'>", "<interface type='user'>"),
  );
  assert.match(o.message, /user rednet 00:11:22:33:44:55 \(line \d+, a type nwfilter cannot filter\)/);
});

test('pass: every interface filtered; no interface at all', () => {
  const o = judge('net-virtio-network-portgroup', (x) => x.replaceAll('</interface>', FILTER));
  assert.equal(o.status, 'pass');
  assert.match(o.message, /clean-traffic/);
  assert.equal(o.evidence?.value, 'clean-traffic');
  assert.equal(judge('graphics-vnc').status, 'pass');
  assert.equal(judge('graphics-vnc').message, 'no network interface');
});
