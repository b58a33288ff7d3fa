import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { onlyHyperwardErrors } from '../../../test/helpers/fuzz.js';
import { expectError } from '../../../test/helpers/errors.js';
import { decodeVmxValue, looksLikeVmx, MAX_VMX_CHARS, MAX_VMX_ENTRIES, parseVmx } from './vmx.js';

const DIR = fileURLToPath(new URL('../../../fixtures/vmware/vmx/', import.meta.url));
const FILES = readdirSync(DIR)
  .filter((f) => f.endsWith('.vmx'))
  .sort();
const text = (f: string): string => readFileSync(`${DIR}${f}`, 'utf8');

/** An independent reading of a real file: every `key = "value"` line, last one per lowercased key. */
function oracle(src: string): Map<string, { key: string; raw: string; line: number }> {
  const out = new Map<string, { key: string; raw: string; line: number }>();
  src.split('\n').forEach((l, i) => {
    const m = /^([^\s=#]+) = "(.*)"$/.exec(l);
    if (m) out.set(m[1]!.toLowerCase(), { key: m[1]!, raw: m[2]!, line: i + 1 });
  });
  return out;
}

test('every real .vmx fixture parses to exactly its key = "value" lines', () => {
  assert.ok(FILES.length >= 7);
  for (const f of FILES) {
    const src = text(f);
    const cfg = parseVmx(src, f);
    const want = oracle(src);
    assert.equal(Object.keys(cfg.entries).length, want.size, f);
    for (const [lower, w] of want) {
      const e = cfg.entries[lower];
      assert.ok(e, `${f}: ${lower}`);
      assert.equal(e.key, w.key);
      assert.equal(e.line, w.line);
      assert.equal(e.file, f);
      if (!w.raw.includes('|')) assert.equal(e.value, w.raw);
    }
    assert.ok(looksLikeVmx(src), f);
  }
});

test('displayName becomes the name; case-insensitive keys are stored lowercased', () => {
  assert.equal(
    parseVmx(text('esx-in-the-wild-12.vmx'), 'x').name,
    'Auto-esx8.0-rhell9.3-efi-with-empty-cdrom',
  );
  const upper = parseVmx(text('case-insensitive-1.vmx'), 'x');
  assert.equal(upper.name, 'FEDORA11');
  assert.equal(upper.entries['floppy0.present']?.value, 'FALSE');
  assert.equal(upper.entries['floppy0.present']?.key, 'FLOPPY0.PRESENT');
  assert.equal(upper.entries['FLOPPY0.PRESENT'], undefined);
});

test('|XX escapes decode as libvirt expects for its annotation fixture', () => {
  const cfg = parseVmx(text('annotation.vmx'), 'annotation.vmx');
  // libvirt tests/vmx2xmldata/annotation.xml holds this decoded description for the same file.
  assert.equal(cfg.entries['annotation']?.value, 'Some |text| to test the "escaping": ||""||"| Escaped!');
  const wild13 = parseVmx(text('esx-in-the-wild-13.vmx'), 'x').entries['annotation']!.value;
  assert.equal(wild13.split('\n')[0], 'name:Test-Mig-VM-1');
  assert.equal(wild13.split('\n').length, 14);
  assert.equal(decodeVmxValue('caf|C3|A9 |7C|zz |2'), 'café ||zz |2');
});

test('duplicates: the last value wins and its line is the evidence', () => {
  const src = `${text('esx-in-the-wild-12.vmx')}REMOTEDISPLAY.maxconnections = "1"\n`;
  const e = parseVmx(src, 'x').entries['remotedisplay.maxconnections']!;
  assert.equal(e.value, '1');
  assert.equal(e.key, 'REMOTEDISPLAY.maxconnections');
  assert.equal(e.line, src.split('\n').length - 1);
});

test('comments, blank lines, CRLF, a byte-order mark, trailing comments and unquoted values', () => {
  const src = `\uFEFF# written by hand\r\n\r\n  displayName = "web01"  # trailing\r\nmemSize=2048\r\n#mks.enable3d = "TRUE"\r\n`;
  const cfg = parseVmx(src, 'x');
  assert.equal(cfg.name, 'web01');
  assert.equal(cfg.entries['displayname']?.line, 3);
  assert.equal(cfg.entries['memsize']?.value, '2048');
  assert.equal(cfg.entries['mks.enable3d'], undefined);
  assert.deepEqual(Object.keys(cfg.entries).sort(), ['displayname', 'memsize']);
});

test('keys like __proto__ are plain entries, not prototype changes', () => {
  const cfg = parseVmx('__proto__ = "x"\nconstructor = "y"\n', 'x');
  assert.equal(cfg.entries['__proto__']?.value, 'x');
  assert.equal(cfg.entries['constructor']?.value, 'y');
  assert.equal(Object.getPrototypeOf(cfg.entries), null);
});

test('malformed input gives E_UNSUPPORTED_FORMAT naming file, line and offset; caps give E_LIMIT', () => {
  const base = text('esx-in-the-wild-12.vmx');
  const e1 = expectError(
    () => parseVmx(`${base}this is not a setting\n`, 'bad.vmx'),
    'E_UNSUPPORTED_FORMAT',
    {
      layer: new RegExp(`^vmx line ${base.split('\n').length}$`),
    },
  );
  assert.equal(e1.location.offset, base.length);
  expectError(() => parseVmx('displayName = "open\n', 'bad.vmx'), 'E_UNSUPPORTED_FORMAT', /unterminated/);
  expectError(
    () => parseVmx('displayName = "a" b\n', 'bad.vmx'),
    'E_UNSUPPORTED_FORMAT',
    /after the closing quote/,
  );
  expectError(() => parseVmx('bad key = "a"\n', 'bad.vmx'), 'E_UNSUPPORTED_FORMAT', /invalid key/);
  expectError(() => parseVmx('= "a"\n', 'bad.vmx'), 'E_UNSUPPORTED_FORMAT', /invalid key/);
  expectError(() => parseVmx('a = "b"\u0000', 'bad.vmx'), 'E_UNSUPPORTED_FORMAT', /binary/);
  expectError(() => parseVmx('#'.repeat(MAX_VMX_CHARS + 1), 'big.vmx'), 'E_LIMIT');
  const many = Array.from({ length: MAX_VMX_ENTRIES + 1 }, (_, i) => `k${i} = ""`).join('\n');
  expectError(() => parseVmx(many, 'many.vmx'), 'E_LIMIT', /distinct keys/);
});

/** VMware's own encoding of a value: `"`, `|`, `#` and control characters as |XX. */
function encode(value: string): string {
  let out = '';
  for (const ch of value) {
    if (ch === '"' || ch === '|' || ch === '#' || ch.charCodeAt(0) < 0x20) {
      for (const b of Buffer.from(ch, 'utf8')) out += `|${b.toString(16).toUpperCase().padStart(2, '0')}`;
    } else out += ch;
  }
  return out;
}

test('property: written settings read back (case-insensitive keys, last wins, escapes round-trip)', () => {
  const keyArb = fc.stringMatching(/^[A-Za-z.][A-Za-z0-9_.:-]{0,24}$/);
  fc.assert(
    fc.property(
      fc.array(fc.tuple(keyArb, fc.string({ unit: 'grapheme', maxLength: 40 })), { maxLength: 40 }),
      (kvs) => {
        const src = kvs.map(([k, v]) => `${k} = "${encode(v)}"`).join('\n');
        const cfg = parseVmx(src, 'gen.vmx');
        const want = new Map<string, string>();
        for (const [k, v] of kvs) want.set(k.toLowerCase(), v);
        assert.equal(Object.keys(cfg.entries).length, want.size);
        for (const [k, v] of want) assert.equal(cfg.entries[k]?.value, v);
      },
    ),
    { numRuns: 300 },
  );
});

test('property: arbitrary text and mutated real files never throw anything but HyperwardError', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 2000 }), (s) => onlyHyperwardErrors(() => parseVmx(s, 'fuzz.vmx'))),
    { numRuns: 400 },
  );
  const real = text('esx-in-the-wild-14.vmx');
  fc.assert(
    fc.property(
      fc.array(
        fc.tuple(
          fc.nat({ max: real.length - 1 }),
          fc.constantFrom('"', '=', '\n', '|', '#', '\u0000', ' ', 'x'),
        ),
        {
          minLength: 1,
          maxLength: 12,
        },
      ),
      fc.nat({ max: real.length }),
      (edits, cut) => {
        const chars = [...real.slice(0, cut)];
        for (const [at, c] of edits) if (at < chars.length) chars[at] = c;
        onlyHyperwardErrors(() => parseVmx(chars.join(''), 'mutated.vmx'));
      },
    ),
    { numRuns: 400 },
  );
});
