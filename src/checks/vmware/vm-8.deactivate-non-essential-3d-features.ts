import { defineCheck } from '../types.js';
import { SCG_URL, vmxBooleanCheck } from './helpers.js';

/** vm-8.deactivate-non-essential-3d-features: mks.enable3d must be FALSE (its default). */
export const check = defineCheck(
  {
    id: 'vm-8.deactivate-non-essential-3d-features',
    title: 'VM 3D graphics acceleration must be off unless needed',
    severity: 'low',
    platform: 'vmware',
    resourceType: 'vm',
    rationale:
      'The 3D graphics path exposes a large, complex device emulation to the guest; it is attack surface most ' +
      'server VMs never use.',
    remediation:
      'Set mks.enable3d = "FALSE" (or remove it) unless the VM is a virtual desktop or GPU workload that needs it.',
    references: {
      stig: ['VMCH-80-000202'],
      vmwareScg: 'vm-8.deactivate-non-essential-3d-features',
      urls: [SCG_URL],
    },
  },
  (inv) =>
    vmxBooleanCheck(inv, 'mks.enable3d', false, {
      pass: '3D acceleration is off',
      fail: '3D acceleration is on',
    }),
);
