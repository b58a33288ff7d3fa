import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'csv-parse/sync';
import fc from 'fast-check';
import { expectError } from '../../../test/helpers/errors.js';
import { onlyHyperwardErrors } from '../../../test/helpers/fuzz.js';
import { loadScgCatalogue, parseScgCatalogue } from './scg.js';

const PATH = fileURLToPath(new URL('../../../fixtures/vmware/scg-8-controls.csv', import.meta.url));
const RAW = readFileSync(PATH, 'utf8');

test('the real catalogue: every row with an id is one control, fields match the CSV cells', () => {
  const rows = parse(RAW, { bom: true, relax_column_count: true }) as string[][];
  const head = rows[0]!;
  const cell = (r: string[], name: string): string => (r[head.indexOf(name)] ?? '').trim();
  const withId = rows.slice(1).filter((r) => cell(r, 'SCG ID') !== '');
  const cat = loadScgCatalogue(PATH);
  assert.equal(cat.size, withId.length);
  assert.ok(cat.size > 100);
  for (const r of withId) {
    const c = cat.get(cell(r, 'SCG ID'));
    assert.ok(c, cell(r, 'SCG ID'));
    assert.equal(c.parameter, cell(r, 'Configuration Parameter'));
    assert.equal(c.installationDefault, cell(r, 'Installation Default Value'));
    assert.equal(c.baseline, cell(r, 'Baseline Suggested Value'));
    assert.equal(c.stigRequirement, cell(r, 'DISA STIG Requirement'));
    assert.ok(cell(r, 'Implementation Priority').startsWith(c.priority));
    assert.match(c.priority, /^(P\d|Advanced)$/);
    for (const s of c.stig) assert.ok(cell(r, 'DISA STIG Mapping').includes(s));
  }
  const lock = cat.get('esxi-8.account-lockout')!;
  assert.deepEqual(
    [lock.parameter, lock.installationDefault, lock.baseline, lock.stigRequirement, lock.stigExceedsBaseline],
    ['Security.AccountLockFailures', '5', '5', '3', true],
  );
  // A multi-line mapping cell: several STIG ids for one control.
  assert.equal(cat.get('vm-8.remove-unnecessary-devices')!.stig.length, 6);
  // The row's line is where its id stands in the file.
  const fileLines = RAW.replace(/^\uFEFF/, '').split('\n');
  assert.ok(fileLines[lock.line - 1]!.startsWith('esxi-8.account-lockout,'));
});

test('continuation rows add STIG ids to the control above them', () => {
  // The published layout of one control mapped to several STIG ids on rows of their own: move the second and
  // later ids of vm-8.remove-unnecessary-devices to continuation rows with an empty id.
  const rows = parse(RAW, { bom: true, relax_column_count: true }) as string[][];
  const head = rows[0]!;
  const idCol = head.indexOf('SCG ID');
  const stigCol = head.indexOf('DISA STIG Mapping');
  const out: string[][] = [];
  for (const r of rows) {
    if (r[idCol] === 'vm-8.remove-unnecessary-devices') {
      const ids = r[stigCol]!.split('\n');
      out.push(r.map((c, i) => (i === stigCol ? ids[0]! : c)));
      for (const extra of ids.slice(1)) out.push(r.map((_, i) => (i === stigCol ? extra : '')));
    } else out.push(r);
  }
  const csv = out.map((r) => r.map((c) => `"${c.replace(/"/g, '""')}"`).join(',')).join('\n');
  const cat = parseScgCatalogue(csv, 'split.csv');
  const real = loadScgCatalogue(PATH);
  assert.deepEqual(
    cat.get('vm-8.remove-unnecessary-devices')!.stig,
    real.get('vm-8.remove-unnecessary-devices')!.stig,
  );
  assert.equal(cat.get('vm-8.remove-unnecessary-devices')!.stig.length, 6);
  assert.equal(cat.size, real.size);
});

test('malformed catalogues are E_UNSUPPORTED_FORMAT naming the line', () => {
  expectError(() => parseScgCatalogue('', 'e.csv'), 'E_UNSUPPORTED_FORMAT');
  expectError(() => parseScgCatalogue('Foo,Bar\n1,2\n', 'e.csv'), 'E_UNSUPPORTED_FORMAT', /SCG ID/);
  const header = RAW.replace(/^\uFEFF/, '').split('\n')[0]!;
  const cols = header.split(',').length;
  const row = (id: string, stig = ''): string => {
    const cells = Array<string>(cols).fill('');
    cells[0] = id;
    cells[header.split(',').indexOf('DISA STIG Mapping')] = stig;
    return cells.join(',');
  };
  expectError(
    () => parseScgCatalogue(`${header}\n${row('', 'ESXI-80-000001')}\n`, 'e.csv'),
    'E_UNSUPPORTED_FORMAT',
    {
      layer: /line 2$/,
    },
  );
  expectError(
    () => parseScgCatalogue(`${header}\n${row('Not An Id')}\n`, 'e.csv'),
    'E_UNSUPPORTED_FORMAT',
    /control id/,
  );
  expectError(
    () => parseScgCatalogue(`${header}\n${row('esxi-8.x')}\n${row('esxi-8.x')}\n`, 'e.csv'),
    'E_UNSUPPORTED_FORMAT',
    /twice/,
  );
  expectError(
    () => parseScgCatalogue(`${header}\n"esxi-8.x,unterminated\n`, 'e.csv'),
    'E_UNSUPPORTED_FORMAT',
    /malformed/,
  );
  expectError(() => loadScgCatalogue('/nonexistent/scg.csv'), 'E_NOT_FOUND');
});

test('property: mutated and truncated catalogues never throw anything but HyperwardError', () => {
  // The header and the first controls (about 20 KiB of the real file) keep each run fast.
  const HEAD = RAW.slice(0, RAW.indexOf('\nesxi-8.', 20_000) + 1);
  fc.assert(
    fc.property(
      fc.array(
        fc.tuple(fc.nat({ max: HEAD.length - 1 }), fc.constantFrom('"', ',', '\n', '\r', 'x', '\u0000')),
        {
          minLength: 1,
          maxLength: 10,
        },
      ),
      fc.nat({ max: HEAD.length }),
      (edits, cut) => {
        const chars = HEAD.slice(0, cut).split('');
        for (const [at, c] of edits) if (at < chars.length) chars[at] = c;
        onlyHyperwardErrors(() => parseScgCatalogue(chars.join(''), 'mutated.csv'));
      },
    ),
    { numRuns: 300 },
  );
});
