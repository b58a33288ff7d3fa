import { defineCheck, type CheckOutcome } from '../types.js';
import { SCG_URL, vmResource, vmxBool, vmxMatching, vmxSetting } from './helpers.js';

/** `pciPassthru<N>.present`; `pciPassthru.use64bitMMIO` and hardening scripts' literal `pciPassthru*.present` do not match. */
const DEVICE = /^pcipassthru\d+\.present$/;

/** vm-8.pci-passthrough: no PCI device passed through (DirectPath I/O, dynamic DirectPath, vGPU, SR-IOV). */
export const check = defineCheck(
  {
    id: 'vm-8.pci-passthrough',
    title: 'VM must not have PCI devices passed through unless authorised',
    severity: 'high',
    platform: 'vmware',
    resourceType: 'vm',
    rationale:
      'A passed-through PCI function gives the guest direct access to physical hardware and its DMA, outside ' +
      'the hypervisor\u2019s mediation, and pins the VM to its host (no vMotion, DRS or HA).',
    remediation:
      'Remove passthrough devices the VM does not need (Get-PassthroughDevice | Remove-PassthroughDevice) and ' +
      'document the business need for the rest; waive those findings with a justification.',
    references: { stig: ['VMCH-80-000214'], vmwareScg: 'vm-8.pci-passthrough', urls: [SCG_URL] },
  },
  (inv) =>
    inv.vmx.map((vmx): CheckOutcome => {
      const found = vmxMatching(vmx, DEVICE);
      const present = found.filter((f) => vmxBool(f.entry.value) === true);
      const unclear = found.filter((f) => vmxBool(f.entry.value) === undefined);
      const first = present[0] ?? unclear[0];
      const ev = (f: (typeof found)[number]) => ({
        file: f.entry.file,
        key: f.entry.key,
        value: f.entry.value,
        line: f.entry.line,
      });
      if (present.length > 0 && first) {
        const names = present.map((f) => f.entry.key.replace(/\.present$/i, ''));
        return {
          status: 'fail',
          resource: vmResource(vmx),
          message: `PCI passthrough device(s) configured: ${names.join(', ')}`,
          evidence: ev(first),
        };
      }
      if (unclear.length > 0 && first) {
        return {
          status: 'unknown',
          resource: vmResource(vmx),
          message: `${first.entry.key} = ${JSON.stringify(first.entry.value)} is not TRUE or FALSE`,
          evidence: ev(first),
        };
      }
      const none = found[0];
      return {
        status: 'pass',
        resource: vmResource(vmx),
        message: none
          ? 'every pciPassthru device is marked not present'
          : 'no PCI passthrough device configured',
        evidence: none ? ev(none) : vmxSetting(vmx, 'pcipassthru*.present').evidence,
      };
    }),
);
