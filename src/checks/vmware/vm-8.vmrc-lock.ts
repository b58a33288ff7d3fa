import { defineCheck } from '../types.js';
import { SCG_URL, vmxBooleanCheck } from './helpers.js';

/** vm-8.vmrc-lock: tools.guest.desktop.autolock must be TRUE (default FALSE). */
export const check = defineCheck(
  {
    id: 'vm-8.vmrc-lock',
    title: 'VM must lock its desktop when the last console closes',
    severity: 'high',
    platform: 'vmware',
    resourceType: 'vm',
    rationale:
      'A guest session left logged in on the console is open to the next person who opens the console; locking ' +
      'the guest desktop when the last console connection closes prevents that.',
    remediation:
      'Set tools.guest.desktop.autolock = "TRUE" in the VM\u2019s advanced parameters (Get-AdvancedSetting ' +
      'tools.guest.desktop.autolock | Set-AdvancedSetting -Value $true).',
    references: { stig: ['VMCH-80-000201'], vmwareScg: 'vm-8.vmrc-lock', urls: [SCG_URL] },
  },
  (inv) =>
    vmxBooleanCheck(inv, 'tools.guest.desktop.autolock', true, {
      pass: 'the guest locks when the last console disconnects',
      fail: 'a guest session stays unlocked after the console closes',
    }),
);
