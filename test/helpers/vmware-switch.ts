/**
 * Shared test body for the three standard-switch security policy checks (esxi-8.network-reject-*-standardswitch):
 * each check's test file calls `switchPolicyTests` with its check, the policy field it judges and the guide's
 * installation default for that field.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Check } from '../../src/checks/types.js';
import type { PolicyField } from '../../src/checks/vmware/switch-policy.js';
import { esxiHosts, hostWithSwitches, inventory, oneHost, run } from './vmware.js';

/** Registers the standard-switch policy tests for `check`, which judges `field` (installation default `def`). */
export function switchPolicyTests(check: Check, field: PolicyField, def: 'Accept' | 'Reject'): void {
  test('pass: the switch rejects and its port groups inherit', () => {
    const o = oneHost(check, hostWithSwitches({ [field]: false }));
    assert.equal(o.status, 'pass');
    assert.deepEqual(o.resource, { type: 'switch', id: 'switch/esx01.lab.example/vSwitch0' });
    assert.deepEqual(o.evidence, {
      file: 'vsphere://vc.lab.example',
      key: `vSwitch0.${field}`,
      value: 'Reject',
    });
  });

  test('fail: the switch accepts', () => {
    const o = oneHost(check, hostWithSwitches({ [field]: true }));
    assert.equal(o.status, 'fail');
    assert.equal(o.evidence?.value, 'Accept');
  });

  test('fail: a port group overrides a rejecting switch to Accept; overrides to Reject do not help a switch that accepts', () => {
    const pg = hostWithSwitches({ [field]: false }, [
      { name: 'Management Network', policy: {} },
      { name: 'Lab Sniffer', vlanId: 99, policy: { [field]: true } },
    ]);
    const o = oneHost(check, pg);
    assert.equal(o.status, 'fail');
    assert.match(o.message, /Lab Sniffer/);
    assert.deepEqual(o.evidence, {
      file: 'vsphere://vc.lab.example',
      key: `vSwitch0/Lab Sniffer.${field}`,
      value: 'Accept',
    });
    const sw = hostWithSwitches({ [field]: true }, [{ name: 'VM Network', policy: { [field]: false } }]);
    assert.equal(oneHost(check, sw).status, 'fail');
  });

  test(`default: a switch that does not set it gets the guide\u2019s installation default (${def})`, () => {
    const o = oneHost(check, hostWithSwitches({}));
    assert.equal(o.status, def === 'Accept' ? 'fail' : 'pass');
    assert.deepEqual(o.evidence, {
      file: 'vsphere://vc.lab.example',
      key: `vSwitch0.${field}`,
      value: def,
      isDefault: true,
    });
  });

  test('unknown: exports carry no switch policy; one outcome per switch otherwise', () => {
    const hosts = esxiHosts('powercli-advanced.csv');
    const out = run(check, inventory({ esxi: hosts }));
    assert.deepEqual(
      out.map((o) => [o.status, o.resource.id]),
      [
        ['unknown', 'host/esx01.lab.example'],
        ['unknown', 'host/esx02.lab.example'],
      ],
    );
    const two = hostWithSwitches({ [field]: false });
    two.standardSwitches!.push({ name: 'vSwitch1', policy: { [field]: true }, portGroups: [] });
    assert.deepEqual(
      run(check, inventory({ esxi: [two] })).map((o) => [o.status, o.resource.id]),
      [
        ['pass', 'switch/esx01.lab.example/vSwitch0'],
        ['fail', 'switch/esx01.lab.example/vSwitch1'],
      ],
    );
    assert.deepEqual(run(check, inventory({ esxi: [{ ...two, standardSwitches: [] }] })), []);
  });
}
