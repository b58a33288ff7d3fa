import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { emptyInventory } from '../../model/host.js';
import { readEsxiExportInto, readVmxInto } from './index.js';

const FIX = fileURLToPath(new URL('../../../fixtures/vmware/', import.meta.url));

test('readers fill the inventory; a broken file becomes an unreadable entry and the run goes on', () => {
  const inv = emptyInventory('files', 'files');
  assert.equal(readVmxInto(inv, readFileSync(`${FIX}vmx/esx-in-the-wild-12.vmx`, 'utf8'), 'a.vmx'), true);
  assert.equal(readVmxInto(inv, 'displayName = "broken\n', 'b.vmx'), false);
  assert.equal(
    readEsxiExportInto(inv, readFileSync(`${FIX}esxi/powercli-advanced.csv`, 'utf8'), 'c.csv'),
    true,
  );
  assert.equal(readEsxiExportInto(inv, '\u0000\u0001', 'd.txt'), false);
  assert.deepEqual(
    inv.vmx.map((v) => v.file),
    ['a.vmx'],
  );
  assert.equal(inv.esxi.length, 2);
  assert.deepEqual(
    inv.unreadable.map((u) => [u.file, u.code]),
    [
      ['b.vmx', 'E_UNSUPPORTED_FORMAT'],
      ['d.txt', 'E_UNSUPPORTED_FORMAT'],
    ],
  );
  assert.match(inv.unreadable[0]!.message, /b\.vmx: vmx line 1/);
});
