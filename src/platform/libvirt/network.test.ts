import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import fc from 'fast-check';
import { isHyperwardError } from '../../errors.js';
import { applyEdits, byteEdits, onlyHyperwardErrors } from '../../../test/helpers/fuzz.js';
import { fixturePath, fixtureText, lineOf } from '../../../test/helpers/libvirt-fixtures.js';
import { parseNetworkXml } from './network.js';

const FILES = ['nat-network', 'isolated-network', 'nat-network-forward-nat-ipv6'];

test('network fixtures: name, uuid, forward mode, bridge and addresses as in the file', () => {
  for (const f of FILES) {
    const text = fixtureText(`networks/${f}.xml`);
    const net = parseNetworkXml(Buffer.from(text), fixturePath(`networks/${f}.xml`));
    assert.equal(net.name, /<name>([^<]*)</.exec(text)?.[1]);
    assert.equal(net.uuid, /<uuid>([^<]*)</.exec(text)?.[1]);
    assert.equal(net.forwardMode, /<forward mode="([^"]*)"/.exec(text)?.[1]);
    assert.equal(net.forwardDev, /<forward [^>]*dev="([^"]*)"/.exec(text)?.[1]);
    assert.equal(net.bridge?.name, /<bridge name="([^"]*)"/.exec(text)?.[1]);
    assert.deepEqual(
      net.ips.map((i) => [i.address, i.line]),
      [...text.matchAll(/<ip [^>]*address="([^"]*)"/g)].map((m) => [
        m[1],
        text.slice(0, m.index).split('\n').length,
      ]),
    );
    assert.deepEqual(
      net.ips.flatMap((i) => i.dhcpRanges),
      [...text.matchAll(/<range start="([^"]*)" end="([^"]*)"/g)].map((m) => ({ start: m[1], end: m[2] })),
    );
    assert.equal(net.line, lineOf(text, '<network>'));
    assert.equal(net.portIsolated, false);
  }
  const v6 = parseNetworkXml(fixtureText('networks/nat-network-forward-nat-ipv6.xml'), 'v6.xml');
  assert.deepEqual([v6.ips[0]?.family, v6.ips[0]?.prefix], ['ipv6', '64']);
  assert.equal(parseNetworkXml(fixtureText('networks/isolated-network.xml'), 'i.xml').forwardMode, undefined);
});

test('not a network, or hostile: HyperwardError naming the file', () => {
  for (const text of [
    fixtureText('domains/graphics-vnc.xml'),
    '<network/>',
    '<!DOCTYPE n><network/>',
    '\u0000',
  ]) {
    try {
      parseNetworkXml(text, 'net.xml');
      assert.fail('no error');
    } catch (e) {
      assert.ok(isHyperwardError(e));
      assert.match(e.message, /^net\.xml: /);
    }
  }
});

test('property: mutated network fixtures parse or fail with HyperwardError', () => {
  const originals = FILES.map((f) => readFileSync(fixturePath(`networks/${f}.xml`)));
  fc.assert(
    fc.property(fc.nat({ max: originals.length - 1 }), fc.integer({ min: 0, max: 2 ** 31 }), (i, seed) => {
      const o = originals[i]!;
      onlyHyperwardErrors(() =>
        parseNetworkXml(applyEdits(o, fc.sample(byteEdits(o.length, 8), { numRuns: 1, seed })[0]!), 'm.xml'),
      );
    }),
    { numRuns: 200 },
  );
});
