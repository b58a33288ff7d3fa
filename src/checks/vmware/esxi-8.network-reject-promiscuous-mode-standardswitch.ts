import { defineCheck } from '../types.js';
import { SCG_URL } from './helpers.js';
import { switchPolicyCheck } from './switch-policy.js';

/** esxi-8.network-reject-promiscuous-mode-standardswitch: standard switches and port groups reject promiscuous mode. */
export const check = defineCheck(
  {
    id: 'esxi-8.network-reject-promiscuous-mode-standardswitch',
    title: 'Standard switches and port groups must reject promiscuous mode',
    severity: 'high',
    platform: 'vmware',
    resourceType: 'switch',
    rationale:
      'In promiscuous mode every VM on the port group can read all frames crossing it, whoever they are ' +
      'addressed to.',
    remediation:
      'Set Promiscuous mode to Reject on each standard switch and make port groups inherit it (Set-SecurityPolicy ' +
      '-AllowPromiscuous $false); give monitoring appliances a port group of their own.',
    references: {
      stig: ['ESXI-80-000218'],
      vmwareScg: 'esxi-8.network-reject-promiscuous-mode-standardswitch',
      urls: [SCG_URL],
    },
  },
  (inv) => switchPolicyCheck(inv, 'allowPromiscuous'),
);
