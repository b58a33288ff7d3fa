import { defineCheck } from '../types.js';
import { SCG_URL } from './helpers.js';
import { switchPolicyCheck } from './switch-policy.js';

/** esxi-8.network-reject-forged-transmit-standardswitch: standard switches and port groups reject forged transmits. */
export const check = defineCheck(
  {
    id: 'esxi-8.network-reject-forged-transmit-standardswitch',
    title: 'Standard switches and port groups must reject forged transmits',
    severity: 'medium',
    platform: 'vmware',
    resourceType: 'switch',
    rationale:
      'With forged transmits accepted, the host does not compare the source MAC of outgoing frames with the ' +
      'adapter\u2019s effective MAC, so a guest can impersonate other machines on the network.',
    remediation:
      'Set Forged transmits to Reject on each standard switch and make port groups inherit it (Get-VirtualSwitch ' +
      '-Standard | Get-SecurityPolicy | Set-SecurityPolicy -ForgedTransmits $false); keep a separate port group ' +
      'for workloads that need it.',
    references: {
      stig: ['ESXI-80-000216'],
      vmwareScg: 'esxi-8.network-reject-forged-transmit-standardswitch',
      urls: [SCG_URL],
    },
  },
  (inv) => switchPolicyCheck(inv, 'forgedTransmits'),
);
