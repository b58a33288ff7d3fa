import { defineCheck, type CheckOutcome } from '../types.js';
import { SCG_URL, vmResource, vmxMatching, vmxSetting } from './helpers.js';

/** `ethernet<N>.filter<M>.name` (and its `…name…` variants the guide's PowerCLI pattern also matches). */
const FILTER = /^ethernet\d+\.filter\d+\.name/;

/** vm-8.dvfilter: no dvfilter network filter attached unless authorised. */
export const check = defineCheck(
  {
    id: 'vm-8.dvfilter',
    title: 'VM network adapters must not use unauthorised dvfilters',
    severity: 'low',
    platform: 'vmware',
    resourceType: 'vm',
    rationale:
      'A dvfilter attached to a virtual NIC sees and can alter all of its traffic. NSX and similar products use ' +
      'it legitimately; any other filter is a tap on the VM\u2019s network.',
    remediation:
      'Remove ethernet*.filter*.name settings that no authorised product (e.g. NSX) put there; waive the ' +
      'authorised ones with a justification.',
    references: { stig: ['VMCH-80-000200'], vmwareScg: 'vm-8.dvfilter', urls: [SCG_URL] },
  },
  (inv) =>
    inv.vmx.map((vmx): CheckOutcome => {
      const found = vmxMatching(vmx, FILTER);
      const first = found[0];
      if (!first) {
        return {
          status: 'pass',
          resource: vmResource(vmx),
          message: 'no dvfilter attached to any network adapter',
          evidence: vmxSetting(vmx, 'ethernet*.filter*.name').evidence,
        };
      }
      return {
        status: 'fail',
        resource: vmResource(vmx),
        message: `dvfilter(s) attached: ${found.map((f) => `${f.entry.key} = ${JSON.stringify(f.entry.value)}`).join(', ')}; confirm each is authorised`,
        evidence: {
          file: first.entry.file,
          key: first.entry.key,
          value: first.entry.value,
          line: first.entry.line,
        },
      };
    }),
);
