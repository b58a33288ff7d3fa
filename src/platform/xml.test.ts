import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { isHyperwardError, type HyperwardError } from '../errors.js';
import { applyEdits, byteEdits, onlyHyperwardErrors } from '../../test/helpers/fuzz.js';
import { LIBVIRT_FIXTURES, lineOf } from '../../test/helpers/libvirt-fixtures.js';
import { QEMU_NAMESPACE } from './libvirt/domain.js';
import { childElement, parseXml, type XmlElement } from './xml.js';

const fixtureFiles = ['domains', 'networks', 'nwfilters'].flatMap((d) =>
  readdirSync(join(LIBVIRT_FIXTURES, d))
    .filter((f) => f.endsWith('.xml'))
    .map((f) => join(LIBVIRT_FIXTURES, d, f)),
);

function preorder(el: XmlElement, out: XmlElement[] = []): XmlElement[] {
  out.push(el);
  for (const c of el.children) preorder(c, out);
  return out;
}

/** Runs `fn`, which must throw a HyperwardError; returns it. */
function hwError(fn: () => unknown): HyperwardError {
  try {
    fn();
  } catch (e) {
    if (isHyperwardError(e)) return e;
    throw e;
  }
  assert.fail('expected a HyperwardError');
}

/** A deterministic pseudo-random byte buffer (xorshift32). */
function junk(size: number, seed: number): Buffer {
  const b = Buffer.alloc(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    b[i] = x & 0xff;
  }
  return b;
}

test('every real libvirt fixture parses: one element per start tag, in document order, on its own line', () => {
  assert.ok(fixtureFiles.length >= 20);
  for (const file of fixtureFiles) {
    const text = readFileSync(file, 'utf8');
    const root = parseXml(readFileSync(file), file);
    const all = preorder(root);
    // Start tags in the text, in order, with the line each sits on.
    const tags = [...text.matchAll(/<([A-Za-z_][\w.:-]*)/g)].map((m) => ({
      name: m[1]!,
      line: text.slice(0, m.index).split('\n').length,
    }));
    assert.deepEqual(
      all.map((e) => [e.name, e.line]),
      tags.map((t) => [t.name, t.line]),
      file,
    );
  }
});

test('namespaces: a prefixed and a default-namespace qemu:commandline resolve to the QEMU namespace', () => {
  const prefixed = parseXml(readFileSync(join(LIBVIRT_FIXTURES, 'domains/qemu-ns.xml')), 'qemu-ns.xml');
  const cmd = prefixed.children.find((c) => c.local === 'commandline');
  assert.ok(cmd);
  assert.equal(cmd.name, 'qemu:commandline');
  assert.equal(cmd.ns, QEMU_NAMESPACE);
  assert.ok(cmd.children.every((c) => c.ns === QEMU_NAMESPACE));
  assert.equal(childElement(prefixed, 'devices')?.ns, '');

  const altText = readFileSync(join(LIBVIRT_FIXTURES, 'domains/qemu-ns-alt.xml'), 'utf8');
  const alt = parseXml(altText, 'qemu-ns-alt.xml');
  const altCmd = childElement(alt, 'commandline', QEMU_NAMESPACE);
  assert.ok(altCmd);
  assert.equal(altCmd.name, 'commandline');
  assert.equal(altCmd.line, lineOf(altText, '<commandline'));
  assert.deepEqual(
    altCmd.children.map((c) => [c.local, c.ns, c.local === 'arg' ? c.attrs.value : c.attrs.name]),
    [...altText.matchAll(/<(arg|env) (?:value|name)='([^']*)'/g)].map((m) => [m[1], QEMU_NAMESPACE, m[2]]),
  );
  // Outside the default namespace declaration nothing is namespaced.
  assert.equal(childElement(alt, 'devices')?.ns, '');
});

test('only the predefined entities and character references are decoded; CDATA stays literal', () => {
  const el = parseXml(
    `<a x="&lt;&#x41;&#65;&amp;&quot;&apos;" y='2'>&lt;b&gt; <![CDATA[&lt;<c>]]>&#x1F600;</a>`,
    't.xml',
  );
  assert.equal(el.attrs.x, `<AA&"'`);
  assert.equal(el.attrs.y, '2');
  assert.equal(el.text, '<b> &lt;<c>\u{1F600}');
  // Attribute maps have no prototype: inherited names are absent.
  assert.equal(el.attrs.toString, undefined);
  assert.equal(Object.getPrototypeOf(el.attrs), null);
});

test('comments may mention DOCTYPE; real markup declarations anywhere are refused', () => {
  assert.equal(parseXml('<!-- <!DOCTYPE x> <!ENTITY y "z"> --><a/>', 'c.xml').name, 'a');
  for (const doc of [
    '<a><!ENTITY x "y"></a>',
    '<!doctype a><a/>',
    '<a/><!ELEMENT a ANY>',
    '<!ATTLIST a b CDATA "c"><a/>',
  ]) {
    const e = hwError(() => parseXml(doc, 'decl.xml'));
    assert.equal(e.code, 'E_UNSUPPORTED_FORMAT');
    assert.match(e.message, /^decl\.xml: XML line 1: markup declaration/);
  }
});

test('billion laughs: refused at once, naming the file, without expanding anything', () => {
  const lol = ['<?xml version="1.0"?>', '<!DOCTYPE lolz [', ' <!ENTITY lol "lol">'];
  for (let i = 1; i <= 9; i++) lol.push(` <!ENTITY lol${i} "${`&lol${i - 1 || ''};`.repeat(10)}">`);
  lol.push(']>', '<lolz>&lol9;</lolz>');
  const doc = lol.join('\n');
  const t0 = performance.now();
  const e = hwError(() => parseXml(doc, '/srv/bomb.xml'));
  assert.ok(performance.now() - t0 < 200);
  assert.equal(e.code, 'E_UNSUPPORTED_FORMAT');
  assert.match(e.message, /^\/srv\/bomb\.xml: XML line 2: markup declaration <!DOCTYPE> refused/);
  // The same reference without the DTD is an undeclared entity, not an expansion.
  const e2 = hwError(() => parseXml('<lolz>&lol9;</lolz>', 'nodtd.xml'));
  assert.match(e2.message, /undeclared entity &lol9;/);
  // Names of Object.prototype members are entities like any other: undeclared.
  for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
    assert.match(
      hwError(() => parseXml(`<a b="&${name};"/>`, 'p.xml')).message,
      new RegExp(`undeclared entity &${name};`),
    );
  }
});

test('external entities (XXE) are refused before any file or URL could be read', () => {
  for (const doc of [
    '<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><foo>&xxe;</foo>',
    '<!DOCTYPE foo SYSTEM "http://127.0.0.1:1/evil.dtd"><foo/>',
    '<!DOCTYPE foo [<!ENTITY % p SYSTEM "file:///etc/shadow"> %p;]><foo/>',
  ]) {
    const e = hwError(() => parseXml(doc, 'xxe.xml'));
    assert.equal(e.code, 'E_UNSUPPORTED_FORMAT');
    assert.match(e.message, /DOCTYPE/);
  }
  assert.match(hwError(() => parseXml('<foo a="&xxe;"/>', 'xxe.xml')).message, /undeclared entity &xxe;/);
});

test('10,000-deep nesting is refused quickly with E_LIMIT and bounded memory', () => {
  const n = 10_000;
  const doc = '<a>'.repeat(n) + '</a>'.repeat(n);
  const heap0 = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  const e = hwError(() => parseXml(doc, 'deep.xml'));
  const ms = performance.now() - t0;
  assert.equal(e.code, 'E_LIMIT');
  assert.match(e.message, /^deep\.xml: XML: elements nest deeper than 128/);
  assert.ok(ms < 2000, `${ms} ms`);
  assert.ok(process.memoryUsage().heapUsed - heap0 < 64 * 1024 * 1024);
  // Nesting within the cap is fine, and a tighter cap applies.
  assert.equal(preorder(parseXml('<a>'.repeat(100) + '</a>'.repeat(100), 'ok.xml')).length, 100);
  assert.equal(hwError(() => parseXml('<a><b><c/></b></a>', 'cap.xml', { maxDepth: 2 })).code, 'E_LIMIT');
  // A caller cannot lift the depth cap past what the recursive tree builder can take.
  const deepest = hwError(() => parseXml(doc, 'deep.xml', { maxDepth: 1_000_000 }));
  assert.equal(deepest.code, 'E_LIMIT');
  assert.match(deepest.message, /deeper than 1024/);
});

test('a 50 MB attribute is refused by the size cap before parsing, as text or as bytes', () => {
  const big = `<domain name="${'A'.repeat(50 * 1024 * 1024)}"/>`;
  let t0 = performance.now();
  const e = hwError(() => parseXml(big, 'huge.xml'));
  assert.ok(performance.now() - t0 < 100);
  assert.equal(e.code, 'E_LIMIT');
  assert.match(e.message, /^huge\.xml: XML: XML document of \d+ characters exceeds the 16777216 cap/);
  const bytes = Buffer.from(big);
  t0 = performance.now();
  assert.equal(hwError(() => parseXml(bytes, 'huge.xml')).code, 'E_LIMIT');
  assert.ok(performance.now() - t0 < 100);
});

test('large attributes and text under the cap parse in linear time', () => {
  const time = (size: number): number => {
    const t0 = performance.now();
    const el = parseXml(`<a v="${'x'.repeat(size)}">${'y'.repeat(size)}</a>`, 'big.xml');
    const ms = performance.now() - t0;
    assert.equal(el.attrs.v?.length, size);
    assert.equal(el.text.length, size);
    return ms;
  };
  time(64 * 1024); // warm up
  const small = time(256 * 1024);
  const large = time(1024 * 1024);
  // Four times the input: a linear parser takes about four times as long, a quadratic one sixteen.
  assert.ok(large < 10 * small + 500, `${small} ms for 256 KiB, ${large} ms for 1 MiB`);
});

test('element count cap', () => {
  const doc = `<r>${'<e/>'.repeat(1000)}</r>`;
  assert.equal(parseXml(doc, 'n.xml').children.length, 1000);
  const e = hwError(() => parseXml(doc, 'n.xml', { maxElements: 500 }));
  assert.equal(e.code, 'E_LIMIT');
  assert.match(e.message, /more than 500 elements/);
});

test('binary junk, invalid UTF-8 and malformed XML give E_UNSUPPORTED_FORMAT naming the file', () => {
  for (let seed = 1; seed <= 20; seed++) {
    const b = junk(4096, seed);
    const e = hwError(() => parseXml(b, `junk${seed}.bin`));
    assert.equal(e.code, 'E_UNSUPPORTED_FORMAT');
    assert.ok(e.message.startsWith(`junk${seed}.bin: XML`), e.message);
    assert.equal(hwError(() => parseXml(b.toString('latin1'), 'junk.txt')).code, 'E_UNSUPPORTED_FORMAT');
  }
  assert.match(
    hwError(() => parseXml(Buffer.from([0x3c, 0x61, 0x3e, 0xff, 0xfe, 0x3c, 0x2f, 0x61, 0x3e]), 'u.xml'))
      .message,
    /not UTF-8/,
  );
  for (const doc of [
    '',
    '   ',
    'plain text',
    '<a>',
    '<a></b>',
    '<a b="1" b="2"/>',
    '<a/><b/>',
    '<a>&</a>',
    '<a x=1/>',
    '<a x="&#xD800;"/>',
  ]) {
    assert.equal(hwError(() => parseXml(doc, 'bad.xml')).code, 'E_UNSUPPORTED_FORMAT', JSON.stringify(doc));
  }
});

test('property: mutated real fixtures never throw anything but HyperwardError', () => {
  const originals = fixtureFiles.map((f) => readFileSync(f));
  fc.assert(
    fc.property(fc.nat({ max: originals.length - 1 }), fc.integer({ min: 0, max: 2 ** 31 }), (i, seed) => {
      const original = originals[i]!;
      const edits = fc.sample(byteEdits(original.length, 12), { numRuns: 1, seed })[0]!;
      onlyHyperwardErrors(() => parseXml(applyEdits(original, edits), 'mutated.xml'));
    }),
    { numRuns: 300 },
  );
});

test('property: truncated real fixtures are rejected, never crash', () => {
  const originals = fixtureFiles.map((f) => readFileSync(f));
  fc.assert(
    fc.property(
      fc.nat({ max: originals.length - 1 }),
      fc.double({ min: 0, max: 0.98, noNaN: true }),
      (i, frac) => {
        const original = originals[i]!;
        const cut = original.subarray(0, Math.floor(original.length * frac));
        const e = hwError(() => parseXml(cut, 'cut.xml'));
        assert.equal(e.code, 'E_UNSUPPORTED_FORMAT');
      },
    ),
    { numRuns: 200 },
  );
});

test('property: hostile token soup parses or fails with HyperwardError, and parsed trees respect the caps', () => {
  const token = fc.constantFrom(
    '<a>',
    '</a>',
    '<b x="1">',
    '</b>',
    '<c/>',
    '&amp;',
    '&',
    '&#65;',
    '&#0;',
    '&lt',
    '<!--',
    '-->',
    '<![CDATA[',
    ']]>',
    '<!DOCTYPE a [',
    '<!ENTITY e "x">',
    ']>',
    '<?xml version="1.0"?>',
    '<?pi x?>',
    'text',
    '"',
    "'",
    '=',
    '<',
    '>',
    '/>',
    ' xmlns:q="urn:q"',
    '<q:d>',
    '</q:d>',
    ' ',
    '\n',
    '\u0000',
    '\uFFFF',
    '\uD800',
    '<__proto__>',
    '</__proto__>',
    '<constructor/>',
    ' toString="1"',
    '<a xmlns="urn:d">',
  );
  fc.assert(
    fc.property(fc.array(token, { maxLength: 60 }), (parts) => {
      onlyHyperwardErrors(() => {
        const root = parseXml(parts.join(''), 'soup.xml', { maxDepth: 8, maxElements: 40 });
        const all = preorder(root);
        assert.ok(all.length <= 40);
        assert.ok(all.every((e) => e.name.length > 0 && e.line >= 1));
      });
    }),
    { numRuns: 500 },
  );
});

test('property: arbitrary text never throws anything but HyperwardError', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (s) => {
      onlyHyperwardErrors(() => parseXml(s, 'any.xml'));
      onlyHyperwardErrors(() => parseXml(`<r a="${s}">${s}</r>`, 'wrapped.xml'));
    }),
    { numRuns: 500 },
  );
});
