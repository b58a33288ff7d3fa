import assert from 'node:assert/strict';
import { test } from 'node:test';
import { one, setVmxLine, vmx } from '../../../test/helpers/vmware.js';
import { check, unneededDevices } from './vm-8.remove-unnecessary-devices.js';

/** esx-in-the-wild-12 without its SATA CD/DVD drive and controller: nothing of the list left. */
const stripped = (t: string): string =>
  [
    'sata0.present',
    'sata0:0.startConnected',
    'sata0:0.deviceType',
    'sata0:0.fileName',
    'sata0:0.present',
  ].reduce((acc, k) => setVmxLine(acc, k, undefined), t);

test('fail: real VMs list their CD/DVD drives, controllers, ports, USB and sound', () => {
  const names = (f: string) => unneededDevices(vmx(f)).map((d) => d.name.split(' ')[0]);
  assert.deepEqual(names('esx-in-the-wild-12.vmx'), ['sata0', 'sata0:0']);
  assert.deepEqual(names('esx-in-the-wild-13.vmx'), ['serial0', 'serial1']);
  assert.deepEqual(names('esx-in-the-wild-14.vmx'), ['ide0:0']);
  assert.deepEqual(names('esx-in-the-wild-17.vmx'), ['usb_xhci', 'sata0', 'sata0:0']);
  assert.deepEqual(names('fusion-in-the-wild-1.vmx'), ['sound', 'usb', 'ehci', 'ide0:0', 'floppy0']);
  const o = one(check, vmx('esx-in-the-wild-17.vmx'));
  assert.equal(o.status, 'fail');
  assert.equal(o.evidence?.key, 'usb_xhci.present');
});

test('pass: the same VM with its CD/DVD drive and SATA controller removed', () => {
  const o = one(check, vmx('esx-in-the-wild-12.vmx', stripped));
  assert.equal(o.status, 'pass');
});

test('default: floppy0 is there unless floppy0.present = "FALSE" is written', () => {
  const o = one(
    check,
    vmx('esx-in-the-wild-12.vmx', (t) => setVmxLine(stripped(t), 'floppy0.present', undefined)),
  );
  assert.equal(o.status, 'fail');
  assert.deepEqual(o.evidence, {
    file: 'fixtures/vmware/vmx/esx-in-the-wild-12.vmx',
    key: 'floppy0.present',
    value: 'TRUE',
    isDefault: true,
  });
  const fusion = unneededDevices(vmx('fusion-in-the-wild-1.vmx')).at(-1)!;
  assert.equal(fusion.evidence.isDefault, true);
});

test('keys and values are case-insensitive', () => {
  const o = one(check, vmx('case-insensitive-1.vmx'));
  assert.equal(o.status, 'fail');
  assert.equal(o.evidence?.key, 'IDE0:0.DEVICETYPE');
  assert.equal(o.evidence?.value, 'CDROM-RAW');
  const off = vmx('case-insensitive-1.vmx', (t) =>
    setVmxLine(t, 'ide0:0.present', 'FALSE', 'IDE0:0.PRESENT'),
  );
  assert.equal(one(check, off).status, 'pass');
});
