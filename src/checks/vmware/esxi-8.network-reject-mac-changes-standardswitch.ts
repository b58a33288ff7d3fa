import { defineCheck } from '../types.js';
import { SCG_URL } from './helpers.js';
import { switchPolicyCheck } from './switch-policy.js';

/** esxi-8.network-reject-mac-changes-standardswitch: standard switches and port groups reject MAC changes. */
export const check = defineCheck(
  {
    id: 'esxi-8.network-reject-mac-changes-standardswitch',
    title: 'Standard switches and port groups must reject guest MAC address changes',
    severity: 'high',
    platform: 'vmware',
    resourceType: 'switch',
    rationale:
      'Accepting MAC address changes lets a guest take another effective MAC address and receive traffic meant ' +
      'for other machines, or impersonate an adapter the network trusts.',
    remediation:
      'Set MAC address changes to Reject on each standard switch and make port groups inherit it (Set-SecurityPolicy ' +
      '-MacChanges $false); keep a separate port group for workloads that need it.',
    references: {
      stig: ['ESXI-80-000217'],
      vmwareScg: 'esxi-8.network-reject-mac-changes-standardswitch',
      urls: [SCG_URL],
    },
  },
  (inv) => switchPolicyCheck(inv, 'macChanges'),
);
