import { defineCheck } from '../types.js';
import { SCG_URL, vmxBooleanCheck } from './helpers.js';

/** vm-8.deactivate-console-paste: isolation.tools.paste.disable must be TRUE (its default). */
export const check = defineCheck(
  {
    id: 'vm-8.deactivate-console-paste',
    title: 'VM console paste must be turned off',
    severity: 'low',
    platform: 'vmware',
    resourceType: 'vm',
    rationale:
      'Pasting into the guest through the remote console brings data into the VM past any control inside it.',
    remediation:
      'Remove isolation.tools.paste.disable from the VM\u2019s advanced parameters or set it to "TRUE" ' +
      '(Get-AdvancedSetting isolation.tools.paste.disable | Remove-AdvancedSetting).',
    references: { stig: ['VMCH-80-000192'], vmwareScg: 'vm-8.deactivate-console-paste', urls: [SCG_URL] },
  },
  (inv) =>
    vmxBooleanCheck(inv, 'isolation.tools.paste.disable', true, {
      pass: 'pasting in through the console is off',
      fail: 'the console can paste data into the guest',
    }),
);
