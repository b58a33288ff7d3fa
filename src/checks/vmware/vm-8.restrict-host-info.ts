import { defineCheck } from '../types.js';
import { SCG_URL, vmxBooleanCheck } from './helpers.js';

/** vm-8.restrict-host-info: tools.guestlib.enableHostInfo must be FALSE (its default). */
export const check = defineCheck(
  {
    id: 'vm-8.restrict-host-info',
    title: 'VM must not read host information from the hypervisor',
    severity: 'low',
    platform: 'vmware',
    resourceType: 'vm',
    rationale:
      'With tools.guestlib.enableHostInfo the guest can query details of the physical host through VMware Tools, ' +
      'which helps an attacker in the guest plan an attack on the host.',
    remediation:
      'Remove tools.guestlib.enableHostInfo from the VM\u2019s advanced parameters or set it to "FALSE".',
    references: { stig: ['VMCH-80-000198'], vmwareScg: 'vm-8.restrict-host-info', urls: [SCG_URL] },
  },
  (inv) =>
    vmxBooleanCheck(inv, 'tools.guestlib.enablehostinfo', false, {
      pass: 'the guest cannot query host information',
      fail: 'the guest can query host information',
    }),
);
