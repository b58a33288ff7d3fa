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
import { vmUsbRedirection as check } from './vm-usb-redirection.js';

const judge = (name: string, edit?: (x: string) => string) =>
  check.run(inventoryOf(fixtureDomain(name, edit)), { params: {} })[0]!;

test('metadata is valid', () => {
  CheckMetaSchema.parse(check.meta);
});

test('fail: tcp and spicevmc redirection, no filter', () => {
  const text = fixtureText('domains/usb-redir.xml');
  const o = judge('usb-redir');
  assert.equal(o.status, 'fail');
  assert.match(o.message, /usb type=tcp \(connect localhost:4000\)/);
  assert.match(o.message, /usb type=spicevmc/);
  assert.match(o.message, /no <redirfilter>/);
  assert.deepEqual(o.evidence, {
    file: fixturePath('domains/usb-redir.xml'),
    line: lineOf(text, '<redirdev'),
    key: 'redirdev/@type',
    value: 'tcp',
  });
});

test('fail, filter noted: a <redirfilter> narrows but does not remove the redirection', () => {
  const text = fixtureText('domains/usb-redir-filter.xml');
  const o = judge('usb-redir-filter');
  assert.equal(o.status, 'fail');
  assert.match(
    o.message,
    new RegExp(`<redirfilter> \\(line ${lineOf(text, '<redirfilter>')}\\) with 2 rule`),
  );
});

test('pass: no <redirdev>', () => {
  assert.equal(judge('usb-redir', (x) => x.replace(/<redirdev[\s\S]*<\/redirdev>\n/, '')).status, 'pass');
  assert.equal(judge('graphics-spice').status, 'pass');
});
