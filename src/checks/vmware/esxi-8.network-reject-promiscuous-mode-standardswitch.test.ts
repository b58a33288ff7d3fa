import assert from 'node:assert/strict';
import { test } from 'node:test';
import { check } from './esxi-8.network-reject-promiscuous-mode-standardswitch.js';
import { esxiHosts, hostWithSwitches, inventory, oneHost, run } from '../../../test/helpers/vmware.js';

const FIELD = 'allowPromiscuous';

test('pass: the switch rejects and its port groups inherit', () => {
  const o = oneHost(check, hostWithSwitches({ [FIELD]: false }));
  assert.equal(o.status, 'pass');
  assert.deepEqual(o.resource, { type: 'switch', id: 'switch/esx01.lab.example/vSwitch0' });
  assert.deepEqual(o.evidence, {
    file: 'vsphere://vc.lab.example',
    key: `vSwitch0.${FIELD}`,
    value: 'Reject',
  });
});

test('fail: the switch accepts', () => {
  const o = oneHost(check, hostWithSwitches({ [FIELD]: true }));
  assert.equal(o.status, 'fail');
  assert.equal(o.evidence?.value, 'Accept');
});

test('fail: a port group overrides a rejecting switch to Accept; overrides to Reject do not help a switch that accepts', () => {
  const pg = hostWithSwitches({ [FIELD]: false }, [
    { name: 'Management Network', policy: {} },
    { name: 'Lab Sniffer', vlanId: 99, policy: { [FIELD]: true } },
  ]);
  const o = oneHost(check, pg);
  assert.equal(o.status, 'fail');
  assert.match(o.message, /Lab Sniffer/);
  assert.deepEqual(o.evidence, {
    file: 'vsphere://vc.lab.example',
    key: `vSwitch0/Lab Sniffer.${FIELD}`,
    value: 'Accept',
  });
  const sw = hostWithSwitches({ [FIELD]: true }, [{ name: 'VM Network', policy: { [FIELD]: false } }]);
  assert.equal(oneHost(check, sw).status, 'fail');
});

test('default: a switch that does not set it gets the guide\u2019s installation default (Reject)', () => {
  const o = oneHost(check, hostWithSwitches({}));
  assert.equal(o.status, 'pass');
  assert.deepEqual(o.evidence, {
    file: 'vsphere://vc.lab.example',
    key: `vSwitch0.${FIELD}`,
    value: 'Reject',
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
  const two = hostWithSwitches({ [FIELD]: false });
  two.standardSwitches!.push({ name: 'vSwitch1', policy: { [FIELD]: true }, portGroups: [] });
  assert.deepEqual(
    run(check, inventory({ esxi: [two] })).map((o) => [o.status, o.resource.id]),
    [
      ['pass', 'switch/esx01.lab.example/vSwitch0'],
      ['fail', 'switch/esx01.lab.example/vSwitch1'],
    ],
  );
  assert.deepEqual(run(check, inventory({ esxi: [{ ...two, standardSwitches: [] }] })), []);
});
