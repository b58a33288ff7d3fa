import { defineCheck } from '../types.js';
import { esxiIntegerCheck, SCG_URL } from './helpers.js';

/** esxi-8.network-bpdu: Net.BlockGuestBPDU must be 1. */
export const check = defineCheck(
  {
    id: 'esxi-8.network-bpdu',
    title: 'ESXi host must filter BPDUs sent by guests',
    severity: 'low',
    platform: 'vmware',
    resourceType: 'host',
    rationale:
      'A VM that sends spanning-tree BPDUs towards a physical switch port with BPDU Guard can get the host uplinks ' +
      'shut down, one after another. Net.BlockGuestBPDU = 1 drops guest BPDUs at the host.',
    remediation: 'Set the advanced setting Net.BlockGuestBPDU to 1 (it is 1 on a new installation).',
    references: { stig: ['ESXI-80-000215'], vmwareScg: 'esxi-8.network-bpdu', urls: [SCG_URL] },
  },
  (inv) =>
    esxiIntegerCheck(
      inv,
      'net.blockguestbpdu',
      (n) => (n === 1 ? undefined : 'guest BPDUs are forwarded to the physical network'),
      'guest BPDUs are dropped',
    ),
);
