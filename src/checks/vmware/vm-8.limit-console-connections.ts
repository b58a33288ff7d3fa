import { defineCheck, type CheckOutcome } from '../types.js';
import { numberParam, SCG_URL, show, strictInt, vmResource, vmxSetting } from './helpers.js';

/** vm-8.limit-console-connections: RemoteDisplay.maxConnections between 1 and `maxConnections`. */
export const check = defineCheck(
  {
    id: 'vm-8.limit-console-connections',
    title: 'VM console sharing must be limited',
    severity: 'high',
    platform: 'vmware',
    resourceType: 'vm',
    rationale:
      'RemoteDisplay.maxConnections caps simultaneous console sessions; the default -1 is unlimited, so others ' +
      'can watch or join a console an administrator has open.',
    remediation:
      'Set RemoteDisplay.maxConnections = "1" in the VM\u2019s advanced parameters (Get-AdvancedSetting ' +
      'RemoteDisplay.maxConnections | Set-AdvancedSetting -Value 1); products such as Cloud Director may need more.',
    references: { stig: ['VMCH-80-000195'], vmwareScg: 'vm-8.limit-console-connections', urls: [SCG_URL] },
    parameters: {
      maxConnections: { description: 'Most simultaneous console connections allowed (guide: 1)', default: 1 },
    },
  },
  (inv, ctx) => {
    const max = numberParam(ctx.params, 'maxConnections');
    return inv.vmx.map((vmx): CheckOutcome => {
      const s = vmxSetting(vmx, 'remotedisplay.maxconnections');
      const where = s.isDefault ? ' (not set: the default applies)' : '';
      const n = strictInt(s.value);
      if (max === undefined || n === undefined) {
        return {
          status: 'unknown',
          resource: vmResource(vmx),
          message:
            max === undefined
              ? 'parameter maxConnections is not a number'
              : `RemoteDisplay.maxConnections = ${show(s.value)} is not an integer`,
          evidence: s.evidence,
        };
      }
      const ok = n >= 1 && n <= max;
      return {
        status: ok ? 'pass' : 'fail',
        resource: vmResource(vmx),
        message: `RemoteDisplay.maxConnections = ${n}${where}: ${
          ok
            ? `at most ${max} console connection(s)`
            : n < 0
              ? 'console connections are unlimited'
              : `not between 1 and ${max}`
        }`,
        evidence: s.evidence,
      };
    });
  },
);
