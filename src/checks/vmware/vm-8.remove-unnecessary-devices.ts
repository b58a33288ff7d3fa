import type { Evidence } from '../../model/finding.js';
import type { VmxConfig } from '../../model/vmware.js';
import { DEVICE_PRESENT_DEFAULTS } from '../../platform/vmware/defaults.js';
import { defineCheck, type CheckOutcome } from '../types.js';
import { SCG_URL, vmResource, vmxBool } from './helpers.js';

/** One device the guide counts as rarely needed, found in a `.vmx`. */
export interface UnneededDevice {
  /** `floppy0`, `serial1`, `usb_xhci`, `sata0:0 (CD/DVD)`… */
  name: string;
  evidence: Evidence;
}

const SIMPLE: Array<[RegExp, string]> = [
  [/^(floppy\d+)\.present$/, 'floppy drive'],
  [/^(serial\d+)\.present$/, 'serial port'],
  [/^(parallel\d+)\.present$/, 'parallel port'],
  [/^(usb)\.present$/, 'USB controller'],
  [/^(ehci)\.present$/, 'USB 2.0 controller'],
  [/^(usb_xhci)\.present$/, 'USB 3 controller'],
  [/^(sound)\.present$/, 'sound card'],
  [/^(sata\d+)\.present$/, 'AHCI (SATA) controller'],
];
const CDROM = /^((?:ide|sata|scsi|nvme)\d+:\d+)\.devicetype$/;

/**
 * The devices of the guide's list that `vmx` has: floppy drives, CD/DVD drives, serial and parallel ports, USB
 * controllers, sound cards and AHCI controllers — each with `.present` TRUE, or present by VMware's default
 * (`DEVICE_PRESENT_DEFAULTS`: floppy0 unless `floppy0.present = "FALSE"`). In file order.
 */
export function unneededDevices(vmx: VmxConfig): UnneededDevice[] {
  const found: Array<UnneededDevice & { line: number }> = [];
  const isPresent = (dev: string): boolean => vmxBool(vmx.entries[`${dev}.present`]?.value) === true;
  for (const [lower, e] of Object.entries(vmx.entries)) {
    const ev: Evidence = { file: e.file, key: e.key, value: e.value, line: e.line };
    const cd = CDROM.exec(lower);
    if (cd && /cdrom/i.test(e.value) && isPresent(cd[1]!)) {
      found.push({ name: `${cd[1]} (CD/DVD drive)`, evidence: ev, line: e.line });
      continue;
    }
    for (const [re, what] of SIMPLE) {
      const m = re.exec(lower);
      if (m && vmxBool(e.value) === true) {
        const kind =
          m[1] === 'sound' && vmx.entries['sound.virtualdev']
            ? ` ${vmx.entries['sound.virtualdev'].value}`
            : '';
        found.push({ name: `${m[1]} (${what}${kind})`, evidence: ev, line: e.line });
        break;
      }
    }
  }
  found.sort((a, b) => a.line - b.line);
  for (const [dev, present] of Object.entries(DEVICE_PRESENT_DEFAULTS)) {
    if (present && vmx.entries[`${dev}.present`] === undefined) {
      found.push({
        name: `${dev} (present by default: no ${dev}.present = "FALSE")`,
        evidence: { file: vmx.file, key: `${dev}.present`, value: 'TRUE', isDefault: true },
        line: Number.MAX_SAFE_INTEGER,
      });
    }
  }
  return found.map(({ name, evidence }) => ({ name, evidence }));
}

/** vm-8.remove-unnecessary-devices: no floppy, CD/DVD, serial, parallel, USB, sound or AHCI devices. */
export const check = defineCheck(
  {
    id: 'vm-8.remove-unnecessary-devices',
    title: 'VM must not have unneeded virtual hardware',
    severity: 'high',
    platform: 'vmware',
    resourceType: 'vm',
    rationale:
      'Floppy and CD/DVD drives, serial and parallel ports, USB controllers, sound cards and AHCI controllers are ' +
      'rarely needed by server VMs; each is emulated device code the guest can reach and a path to bring software ' +
      'in or data out.',
    remediation:
      'Power the VM off and remove the listed devices (vSphere Client: Edit Settings); keep a CD/DVD drive only ' +
      'while installing or updating VMware Tools.',
    references: {
      stig: [
        'VMCH-80-000209',
        'VMCH-80-000210',
        'VMCH-80-000211',
        'VMCH-80-000212',
        'VMCH-80-000213',
        'VMCH-80-000214',
      ],
      vmwareScg: 'vm-8.remove-unnecessary-devices',
      urls: [SCG_URL],
    },
  },
  (inv) =>
    inv.vmx.map((vmx): CheckOutcome => {
      const devices = unneededDevices(vmx);
      const first = devices[0];
      if (!first) {
        return {
          status: 'pass',
          resource: vmResource(vmx),
          message: 'no floppy, CD/DVD, serial, parallel, USB, sound or AHCI device',
          evidence: { file: vmx.file },
        };
      }
      return {
        status: 'fail',
        resource: vmResource(vmx),
        message: `unneeded virtual hardware: ${devices.map((d) => d.name).join(', ')}`,
        evidence: first.evidence,
      };
    }),
);
