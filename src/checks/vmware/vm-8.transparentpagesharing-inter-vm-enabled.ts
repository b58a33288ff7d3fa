import { defineCheck, type CheckOutcome } from '../types.js';
import { SCG_URL, vmResource, vmxSetting } from './helpers.js';

/** vm-8.transparentpagesharing-inter-vm-enabled: sched.mem.pshare.salt must not be set. */
export const check = defineCheck(
  {
    id: 'vm-8.transparentpagesharing-inter-vm-enabled',
    title: 'VM must not share memory pages with other VMs',
    severity: 'low',
    platform: 'vmware',
    resourceType: 'vm',
    rationale:
      'ESXi salts transparent page sharing per VM by default, so identical pages are only shared inside one VM. ' +
      'A sched.mem.pshare.salt value shared by several VMs lets them share pages again, which has been used as a ' +
      'side channel between VMs.',
    remediation:
      'Remove sched.mem.pshare.salt from the VM\u2019s advanced parameters (Remove-AdvancedSetting).',
    references: {
      stig: ['VMCH-80-000199'],
      vmwareScg: 'vm-8.transparentpagesharing-inter-vm-enabled',
      urls: [SCG_URL],
    },
  },
  (inv) =>
    inv.vmx.map((vmx): CheckOutcome => {
      const s = vmxSetting(vmx, 'sched.mem.pshare.salt');
      return s.isDefault
        ? {
            status: 'pass',
            resource: vmResource(vmx),
            message: 'sched.mem.pshare.salt is not set: pages are shared only within this VM',
            evidence: s.evidence,
          }
        : {
            status: 'fail',
            resource: vmResource(vmx),
            message: `sched.mem.pshare.salt = ${JSON.stringify(s.value)}: VMs with the same salt share memory pages`,
            evidence: s.evidence,
          };
    }),
);
