import { defineCheck } from '../types.js';
import { SCG_URL, vmxBooleanCheck } from './helpers.js';

/** vm-8.deactivate-console-copy: isolation.tools.copy.disable must be TRUE (its default). */
export const check = defineCheck(
  {
    id: 'vm-8.deactivate-console-copy',
    title: 'VM console copy must be turned off',
    severity: 'low',
    platform: 'vmware',
    resourceType: 'vm',
    rationale:
      'Copying from the guest through the remote console moves data out of the VM past any control inside it.',
    remediation:
      'Remove isolation.tools.copy.disable from the VM\u2019s advanced parameters or set it to "TRUE" ' +
      '(Get-AdvancedSetting isolation.tools.copy.disable | Remove-AdvancedSetting).',
    references: { stig: ['VMCH-80-000189'], vmwareScg: 'vm-8.deactivate-console-copy', urls: [SCG_URL] },
  },
  (inv) =>
    vmxBooleanCheck(inv, 'isolation.tools.copy.disable', true, {
      pass: 'copying out through the console is off',
      fail: 'the console can copy data out of the guest',
    }),
);
