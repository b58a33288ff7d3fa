import { defineCheck, type CheckOutcome } from '../types.js';
import { esxiIntegerCheck, hostResource, numberParam, SCG_URL } from './helpers.js';

/** esxi-8.shell-timeout: the ESXi Shell and SSH services must stop by themselves after at most `maxSeconds`. */
export const check = defineCheck(
  {
    id: 'esxi-8.shell-timeout',
    title: 'ESXi Shell and SSH services must time out',
    severity: 'high',
    platform: 'vmware',
    resourceType: 'host',
    rationale:
      'UserVars.ESXiShellTimeOut stops the ESXi Shell and SSH services a set time after they are started, so a ' +
      'shell enabled for troubleshooting does not stay open to attack indefinitely. 0 means never.',
    remediation:
      'Set the advanced setting UserVars.ESXiShellTimeOut to 600 seconds or less (vSphere Client: host > ' +
      'Configure > Advanced System Settings, or Get-AdvancedSetting | Set-AdvancedSetting).',
    references: { stig: ['ESXI-80-000195'], vmwareScg: 'esxi-8.shell-timeout', urls: [SCG_URL] },
    parameters: {
      maxSeconds: {
        description: 'Longest allowed timeout in seconds (the guide and the STIG both say 600)',
        default: 600,
      },
    },
  },
  (inv, ctx) => {
    const max = numberParam(ctx.params, 'maxSeconds');
    if (max === undefined) {
      return inv.esxi.map((host): CheckOutcome => ({
        status: 'unknown',
        resource: hostResource(host),
        message: 'parameter maxSeconds is not a number',
      }));
    }
    return esxiIntegerCheck(
      inv,
      'uservars.esxishelltimeout',
      (n) =>
        n <= 0
          ? 'the ESXi Shell and SSH services never time out'
          : n > max
            ? `longer than the ${max}-second limit`
            : undefined,
      `the services stop within ${max} seconds`,
    );
  },
);
