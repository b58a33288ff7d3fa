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
import { vmNetworkConsole as check } from './vm-network-console.js';

const judge = (name: string, edit?: (x: string) => string) =>
  check.run(inventoryOf(fixtureDomain(name, edit)), { params: {} })[0]!;

test('metadata is valid', () => {
  CheckMetaSchema.parse(check.meta);
});

test('fail: serial and console on TCP with telnet', () => {
  const text = fixtureText('domains/serial-tcp-telnet-chardev.xml');
  const o = judge('serial-tcp-telnet-chardev');
  assert.equal(o.status, 'fail');
  assert.match(o.message, /serial type=tcp protocol=telnet \(bind 127\.0\.0\.1:9999\)/);
  assert.match(o.message, /console type=tcp/);
  assert.deepEqual(o.evidence, {
    file: fixturePath('domains/serial-tcp-telnet-chardev.xml'),
    line: lineOf(text, "<serial type='tcp'>"),
    key: 'serial/@type',
    value: 'tcp',
  });
});

test('fail: UDP serial, TCP parallel, TCP channel', () => {
  assert.match(
    judge('serial-udp-chardev').message,
    /serial type=udp \(bind 127\.0\.0\.1:9999, connect 127\.0\.0\.1:9998\)/,
  );
  assert.match(judge('parallel-tcp-chardev').message, /parallel type=tcp protocol=raw/);
  const ch = judge('parallel-tcp-chardev', (x) =>
    x.replace('<parallel', '<channel').replace('</parallel>', '</channel>'),
  );
  assert.equal(ch.status, 'fail');
  assert.match(ch.message, /^network character devices: channel type=tcp/);
});

test('pass: no character device, or pty/unix ones', () => {
  assert.equal(judge('graphics-vnc').status, 'pass');
  const pty = judge('serial-tcp-telnet-chardev', (x) => x.replaceAll("type='tcp'", "type='pty'"));
  assert.equal(pty.status, 'pass');
  const unix = judge('parallel-tcp-chardev', (x) =>
    x.replace("<parallel type='tcp'>", "<parallel type='unix'>"),
  );
  assert.equal(unix.status, 'pass');
});
