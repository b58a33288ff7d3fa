import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { expectError } from '../../../test/helpers/errors.js';
import { onlyHyperwardErrors } from '../../../test/helpers/fuzz.js';
import { detectConfigKind } from '../detect.js';
import {
  looksLikeEsxcliAdvanced,
  MAX_EXPORT_CHARS,
  parseEsxcliAdvanced,
  parsePowerCliAdvancedCsv,
  readEsxiExport,
} from './esxcli.js';

const DIR = fileURLToPath(new URL('../../../fixtures/vmware/esxi/', import.meta.url));
const text = (f: string): string => readFileSync(`${DIR}${f}`, 'utf8');

/** Independent reading of esxcli blocks: path -> the Int Value or String Value line, by the Type line. */
function esxcliOracle(src: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const block of src.split(/\n(?=\s*Path: )/)) {
    const path = /^\s*Path: (\S+)/m.exec(block)?.[1];
    if (!path) continue;
    const type = /^\s*Type: (\S+)/m.exec(block)?.[1];
    const v =
      type === 'integer'
        ? /^\s*Int Value: ?(.*)$/m.exec(block)
        : /^\s*String Value: ?([\s\S]*?)\n\s*Default String Value:/m.exec(block);
    out.set(path.slice(1).split('/').join('.'), v![1]!.trimEnd());
  }
  return out;
}

test('esxcli full listing: every block becomes a setting keyed by its dotted path', () => {
  const src = text('esxcli-advanced-list.txt');
  const host = parseEsxcliAdvanced(src, 'esxcli-advanced-list.txt');
  assert.equal(host.name, 'esxcli-advanced-list');
  assert.equal(host.source, 'esxcli-advanced-list.txt');
  assert.equal(host.advancedComplete, undefined);
  assert.equal(host.standardSwitches, undefined);
  assert.equal(host.lockdownMode, undefined);
  const want = esxcliOracle(src);
  assert.equal(Object.keys(host.advanced).length, want.size);
  for (const [key, value] of want) {
    const e = host.advanced[key.toLowerCase()];
    assert.ok(e, key);
    assert.equal(e.key, key);
    assert.equal(e.value, value);
    const at = src.split('\n')[e.line - 1]!;
    assert.match(at, /^\s*(Int|String) Value:/, `${key} line ${e.line}`);
    assert.equal(at.replace(/^\s*(Int|String) Value: ?/, '').trimEnd(), e.value.split('\n')[0]);
  }
  assert.equal(host.advanced['uservars.esxishelltimeout']?.value, '0');
  assert.equal(host.advanced['config.etc.motd']?.value, 'Authorised use only.\nActivity is logged.');
  const line = host.advanced['security.accountlockfailures']!.line;
  assert.equal(src.split('\n')[line - 1], '   Int Value: 5');
});

test('esxcli --delta listing with complete: true marks the host complete; host names', () => {
  const host = parseEsxcliAdvanced(text('esxcli-advanced-delta.txt'), '/tmp/x/delta.txt', {
    complete: true,
    host: 'esx07',
  });
  assert.equal(host.name, 'esx07');
  assert.equal(host.advancedComplete, true);
  assert.deepEqual(Object.keys(host.advanced).sort(), [
    'security.accountlockfailures',
    'uservars.esxishelltimeout',
  ]);
  assert.equal(parseEsxcliAdvanced(text('esxcli-advanced-delta.txt'), '/tmp/x/delta.txt').name, 'delta');
});

test('esxcli: CRLF, the last block without a trailing newline, and duplicate paths (last wins)', () => {
  const src = text('esxcli-advanced-delta.txt').replace(/\n/g, '\r\n').trimEnd();
  const dup = `${src}\r\n\r\n   Path: /Security/AccountLockFailures\r\n   Type: integer\r\n   Int Value: 4`;
  const host = parseEsxcliAdvanced(dup, 'd.txt');
  assert.equal(host.advanced['security.accountlockfailures']?.value, '4');
  assert.equal(host.advanced['uservars.esxishelltimeout']?.value, '900');
});

test('esxcli: malformed exports are E_UNSUPPORTED_FORMAT naming the line; size cap is E_LIMIT', () => {
  expectError(() => parseEsxcliAdvanced('hello\nworld\n', 'x.txt'), 'E_UNSUPPORTED_FORMAT', /no `Path:`/);
  expectError(
    () => parseEsxcliAdvanced('   Path: /Net/X\n   Type: integer\n   Int Value: lots\n', 'x.txt'),
    'E_UNSUPPORTED_FORMAT',
    { layer: /line 3$/ },
  );
  expectError(
    () => parseEsxcliAdvanced('   Path: Net/X\n   Int Value: 1\n', 'x.txt'),
    'E_UNSUPPORTED_FORMAT',
    {
      layer: /line 1$/,
    },
  );
  expectError(
    () => parseEsxcliAdvanced('   Path: /Net/X\n   Description: none\n', 'x.txt'),
    'E_UNSUPPORTED_FORMAT',
    /no value/,
  );
  expectError(() => parseEsxcliAdvanced(' '.repeat(MAX_EXPORT_CHARS + 1), 'x.txt'), 'E_LIMIT');
  expectError(() => parseEsxcliAdvanced('Path: /A/B\n\u0000', 'x.txt'), 'E_UNSUPPORTED_FORMAT', /binary/);
});

test('PowerCLI CSV: one host per Entity, #TYPE line, CRLF, multi-line values, line numbers', () => {
  const src = text('powercli-advanced.csv');
  const hosts = parsePowerCliAdvancedCsv(src, 'p.csv');
  assert.deepEqual(
    hosts.map((h) => h.name),
    ['esx01.lab.example', 'esx02.lab.example'],
  );
  const [a, b] = hosts as [(typeof hosts)[0], (typeof hosts)[0]];
  assert.equal(a.advanced['uservars.esxishelltimeout']?.value, '600');
  assert.equal(b.advanced['security.accountlockfailures']?.value, '10');
  assert.equal(a.advanced['config.etc.motd']?.value, 'Authorised use only.\nActivity is logged.');
  const lines = src.split(/\r?\n/);
  for (const h of hosts) {
    for (const e of Object.values(h.advanced)) {
      assert.ok(lines[e.line - 1]!.startsWith(`"${e.key}"`), `${e.key} at line ${e.line}`);
    }
  }
  assert.equal(detectConfigKind(src), 'powercli-advanced');
  assert.equal(detectConfigKind(text('esxcli-advanced-list.txt')), 'esxcli-advanced');
});

test('PowerCLI CSV: no Entity column names the host from options or file; ; separator; other Types skipped', () => {
  const plain = '"Name","Value"\n"Net.BlockGuestBPDU","1"\n';
  assert.equal(parsePowerCliAdvancedCsv(plain, '/exports/esx09.csv')[0]!.name, 'esx09');
  assert.equal(parsePowerCliAdvancedCsv(plain, 'x.csv', { host: 'h1' })[0]!.name, 'h1');
  const semi =
    '\uFEFF"Name";"Value";"Type";"Entity"\n"Net.BlockGuestBPDU";"0";"VMHost";"h2"\n"mks.enable3d";"TRUE";"VM";"vm1"\n';
  const hs = parsePowerCliAdvancedCsv(semi, 'x.csv');
  assert.equal(hs.length, 1);
  assert.equal(hs[0]!.advanced['net.blockguestbpdu']?.value, '0');
  assert.equal(hs[0]!.advanced['mks.enable3d'], undefined);
  expectError(
    () => parsePowerCliAdvancedCsv('"Name","Value","Type"\n"mks.enable3d","TRUE","VM"\n', 'x.csv'),
    'E_UNSUPPORTED_FORMAT',
    /no ESXi host settings/,
  );
  expectError(
    () => parsePowerCliAdvancedCsv('"Key","Val"\n"a","b"\n', 'x.csv'),
    'E_UNSUPPORTED_FORMAT',
    /Name/,
  );
  expectError(
    () => parsePowerCliAdvancedCsv('"Name","Value"\n"a b","1"\n', 'x.csv'),
    'E_UNSUPPORTED_FORMAT',
    {
      layer: /line 2$/,
    },
  );
  expectError(
    () => parsePowerCliAdvancedCsv('"Name","Value"\n"a,"1\n', 'x.csv'),
    'E_UNSUPPORTED_FORMAT',
    /malformed/,
  );
});

test('readEsxiExport tells the two kinds apart by content', () => {
  assert.equal(readEsxiExport(text('esxcli-advanced-list.txt'), 'a.txt').length, 1);
  assert.equal(readEsxiExport(text('powercli-advanced.csv'), 'a.txt').length, 2);
  assert.ok(looksLikeEsxcliAdvanced(text('esxcli-advanced-delta.txt')));
  assert.ok(!looksLikeEsxcliAdvanced(text('powercli-advanced.csv')));
  expectError(() => readEsxiExport('nothing here', 'a.txt'), 'E_UNSUPPORTED_FORMAT');
});

const keyArb = fc
  .array(fc.stringMatching(/^[A-Za-z][A-Za-z0-9_]{0,12}$/), { minLength: 2, maxLength: 3 })
  .map((parts) => parts.join('.'));
const valueArb = fc.oneof(
  fc.integer({ min: -1_000_000, max: 1_000_000 }).map((n) => ({ type: 'integer' as const, v: String(n) })),
  fc
    .stringMatching(/^[ -~]{0,30}$/)
    .map((s) => ({ type: 'string' as const, v: s.trim() }))
    .filter((x) => !/^\s*[A-Za-z][A-Za-z ]*:/.test(x.v)),
);

test('property: generated esxcli listings read back', () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(keyArb, valueArb), { minLength: 1, maxLength: 30 }), (items) => {
      const src = items
        .map(([k, { type, v }]) =>
          [
            `   Path: /${k.split('.').join('/')}`,
            `   Type: ${type}`,
            `   Int Value: ${type === 'integer' ? v : '0'}`,
            `   Default Int Value: 0`,
            `   String Value: ${type === 'string' ? v : ''}`,
            `   Default String Value: `,
            `   Description: generated`,
          ].join('\n'),
        )
        .join('\n\n');
      const host = parseEsxcliAdvanced(src, 'gen.txt');
      const want = new Map<string, string>();
      for (const [k, { v }] of items) want.set(k.toLowerCase(), v);
      assert.equal(Object.keys(host.advanced).length, want.size);
      for (const [k, v] of want) assert.equal(host.advanced[k]?.value, v);
    }),
    { numRuns: 250 },
  );
});

test('property: generated PowerCLI CSVs read back', () => {
  const quote = (s: string): string => `"${s.replace(/"/g, '""')}"`;
  fc.assert(
    fc.property(
      fc.array(fc.tuple(keyArb, fc.string({ maxLength: 30 }), fc.constantFrom('esx01', 'esx02')), {
        minLength: 1,
        maxLength: 30,
      }),
      fc.boolean(),
      (rows, typeLine) => {
        const body = rows.map(([k, v, h]) => [k, v, 'VMHost', h].map(quote).join(',')).join('\r\n');
        const src = `${typeLine ? '#TYPE VMware.VimAutomation.ViCore.Impl.V1.AdvancedSettingImpl\r\n' : ''}"Name","Value","Type","Entity"\r\n${body}\r\n`;
        const hosts = parsePowerCliAdvancedCsv(src, 'gen.csv');
        const want = new Map<string, Map<string, string>>();
        for (const [k, v, h] of rows) {
          if (!want.has(h)) want.set(h, new Map());
          want.get(h)!.set(k.toLowerCase(), v);
        }
        assert.equal(hosts.length, want.size);
        for (const host of hosts) {
          const w = want.get(host.name)!;
          assert.equal(Object.keys(host.advanced).length, w.size);
          for (const [k, v] of w) assert.equal(host.advanced[k]?.value, v);
        }
      },
    ),
    { numRuns: 250 },
  );
});

test('property: arbitrary and mutated exports never throw anything but HyperwardError', () => {
  const mutate = (real: string) =>
    fc.tuple(
      fc.array(
        fc.tuple(
          fc.nat({ max: real.length - 1 }),
          fc.constantFrom('"', ',', ';', ':', '/', '\n', '\r', ' ', 'x', '\u0000'),
        ),
        {
          minLength: 1,
          maxLength: 12,
        },
      ),
      fc.nat({ max: real.length }),
    );
  for (const name of ['esxcli-advanced-list.txt', 'powercli-advanced.csv']) {
    const real = text(name);
    fc.assert(
      fc.property(mutate(real), ([edits, cut]) => {
        const chars = [...real.slice(0, cut)];
        for (const [at, c] of edits) if (at < chars.length) chars[at] = c;
        onlyHyperwardErrors(() => readEsxiExport(chars.join(''), name));
        onlyHyperwardErrors(() => parsePowerCliAdvancedCsv(chars.join(''), name));
        onlyHyperwardErrors(() => parseEsxcliAdvanced(chars.join(''), name));
      }),
      { numRuns: 300 },
    );
  }
  fc.assert(
    fc.property(fc.string({ maxLength: 1500 }), (s) => {
      onlyHyperwardErrors(() => parseEsxcliAdvanced(s, 'f'));
      onlyHyperwardErrors(() => parsePowerCliAdvancedCsv(s, 'f'));
    }),
    { numRuns: 300 },
  );
});
