import assert from 'node:assert/strict';
import { test } from 'node:test';
import { listenScope } from './host-common.js';

test('listenScope: one answer for every spelling of loopback and of all interfaces', () => {
  for (const a of [
    '127.0.0.1',
    '127.1.2.3',
    '::1',
    '[::1]',
    '0:0:0:0:0:0:0:1',
    '::ffff:127.0.0.1',
    'localhost',
    'ip6-localhost',
  ]) {
    assert.equal(listenScope(a), 'loopback', a);
  }
  for (const a of ['0.0.0.0', '::', '[::]', '0:0:0:0:0:0:0:0', '::0']) assert.equal(listenScope(a), 'all', a);
  for (const a of ['192.0.2.10', '2001:db8::1', 'kvm1.example.org', '::ffff:192.0.2.1']) {
    assert.equal(listenScope(a), 'address', a);
  }
});
