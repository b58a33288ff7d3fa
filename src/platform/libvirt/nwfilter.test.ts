import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import fc from 'fast-check';
import { isHyperwardError } from '../../errors.js';
import { applyEdits, byteEdits, onlyHyperwardErrors } from '../../../test/helpers/fuzz.js';
import { fixturePath, fixtureText } from '../../../test/helpers/libvirt-fixtures.js';
import { parseNwFilterXml } from './nwfilter.js';

const FILES = ['clean-traffic', 'ref-rule-test', 'tcp-test'];
const lineAt = (text: string, index: number): number => text.slice(0, index).split('\n').length;

test('nwfilter fixtures: name, chain, filter references and rules as in the file', () => {
  for (const f of FILES) {
    const text = fixtureText(`nwfilters/${f}.xml`);
    const flt = parseNwFilterXml(text, fixturePath(`nwfilters/${f}.xml`));
    assert.equal(flt.name, /<filter name='([^']*)'/.exec(text)?.[1]);
    assert.equal(flt.chain, /<filter [^>]*chain='([^']*)'/.exec(text)?.[1]);
    assert.equal(flt.uuid, /<uuid>([^<]*)</.exec(text)?.[1]);
    assert.deepEqual(
      flt.filterrefs.map((r) => [r.filter, r.line]),
      [...text.matchAll(/<filterref filter='([^']*)'/g)].map((m) => [m[1], lineAt(text, m.index)]),
    );
    const rules = [...text.matchAll(/<rule ([^>]*)>/g)];
    assert.deepEqual(
      flt.rules.map((r) => [r.action, r.direction, r.line]),
      rules.map((m) => [
        /action='([^']*)'/.exec(m[1]!)?.[1],
        /direction='([^']*)'/.exec(m[1]!)?.[1],
        lineAt(text, m.index),
      ]),
    );
    // Each rule's protocol match is the first element after <rule>.
    assert.deepEqual(
      flt.rules.map((r) => r.matches[0]?.protocol),
      [...text.matchAll(/<rule [^>]*>\s*<([a-z0-9-]+)/g)].map((m) => m[1]),
    );
  }
  const tcp = parseNwFilterXml(fixtureText('nwfilters/tcp-test.xml'), 't.xml');
  assert.equal(tcp.rules[1]?.matches[0]?.attrs.dstportend, '1111');
  assert.equal(tcp.rules[1]?.statematch, 'false');
});

test('not a filter, or hostile: HyperwardError naming the file', () => {
  for (const text of [
    fixtureText('networks/nat-network.xml'),
    '<filter/>',
    '<filter name="x">&ent;</filter>',
  ]) {
    try {
      parseNwFilterXml(text, 'f.xml');
      assert.fail('no error');
    } catch (e) {
      assert.ok(isHyperwardError(e));
      assert.match(e.message, /^f\.xml: /);
    }
  }
});

test('property: mutated nwfilter fixtures parse or fail with HyperwardError', () => {
  const originals = FILES.map((f) => readFileSync(fixturePath(`nwfilters/${f}.xml`)));
  fc.assert(
    fc.property(fc.nat({ max: originals.length - 1 }), fc.integer({ min: 0, max: 2 ** 31 }), (i, seed) => {
      const o = originals[i]!;
      onlyHyperwardErrors(() =>
        parseNwFilterXml(applyEdits(o, fc.sample(byteEdits(o.length, 8), { numRuns: 1, seed })[0]!), 'm.xml'),
      );
    }),
    { numRuns: 200 },
  );
});
