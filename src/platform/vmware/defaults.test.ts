import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  DEVICE_PRESENT_DEFAULTS,
  ESXI_ADVANCED_DEFAULTS,
  LOCKDOWN_DEFAULT,
  SWITCH_POLICY_DEFAULTS,
  VMX_DEFAULTS,
  type DocumentedDefault,
} from './defaults.js';
import { loadScgCatalogue } from './scg.js';

const CATALOGUE = loadScgCatalogue(
  fileURLToPath(new URL('../../../fixtures/vmware/scg-8-controls.csv', import.meta.url)),
);

const ALL: Array<[string, DocumentedDefault]> = [
  ...Object.entries(VMX_DEFAULTS),
  ...Object.entries(ESXI_ADVANCED_DEFAULTS),
  ['lockdown', LOCKDOWN_DEFAULT],
  ...Object.entries(SWITCH_POLICY_DEFAULTS),
];

test('every documented default is the SCG catalogue\u2019s "Installation Default Value" of its control', () => {
  for (const [name, d] of ALL) {
    const c = CATALOGUE.get(d.scg);
    assert.ok(c, `${name}: no SCG control ${d.scg}`);
    assert.equal(d.scgInstallationDefault, c.installationDefault, name);
    if (c.installationDefault === 'Not Present') assert.equal(d.value, undefined, name);
    else assert.equal(d.value, c.installationDefault, name);
  }
});

test('keys are the SCG\u2019s configuration parameter, and lookup keys are their lowercase', () => {
  for (const [lower, d] of [...Object.entries(VMX_DEFAULTS), ...Object.entries(ESXI_ADVANCED_DEFAULTS)]) {
    assert.equal(d.key.toLowerCase(), lower);
    const param = CATALOGUE.get(d.scg)!.parameter;
    // vMotion encryption is a VM property the guide names "VM Configuration"; PCI passthrough has no parameter.
    if (param === 'VM Configuration' || param === 'N/A') continue;
    assert.equal(d.key.toLowerCase(), param.toLowerCase(), d.scg);
  }
  assert.deepEqual(Object.keys(DEVICE_PRESENT_DEFAULTS), ['floppy0']);
});
