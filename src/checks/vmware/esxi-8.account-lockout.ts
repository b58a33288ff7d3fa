import { defineCheck, type CheckOutcome } from '../types.js';
import { esxiIntegerCheck, hostResource, numberParam, SCG_URL } from './helpers.js';

/** esxi-8.account-lockout: accounts must lock after at most `maxFailures` failed logins. */
export const check = defineCheck(
  {
    id: 'esxi-8.account-lockout',
    title: 'ESXi accounts must lock after repeated failed logins',
    severity: 'low',
    platform: 'vmware',
    resourceType: 'host',
    rationale:
      'Security.AccountLockFailures locks a local account after that many failed logins, which stops password ' +
      'guessing against the host. 0 turns locking off. The guide asks for 5 or fewer; the DISA STIG for 3.',
    remediation:
      'Set the advanced setting Security.AccountLockFailures to the baseline (5 in the guide, 3 for the STIG ' +
      'profile) with Get-AdvancedSetting | Set-AdvancedSetting or host > Configure > Advanced System Settings.',
    references: { stig: ['ESXI-80-000005'], vmwareScg: 'esxi-8.account-lockout', urls: [SCG_URL] },
    parameters: {
      maxFailures: {
        description: 'Most failed logins allowed before the account locks (guide: 5; DISA STIG: 3)',
        default: 5,
      },
    },
  },
  (inv, ctx) => {
    const max = numberParam(ctx.params, 'maxFailures');
    if (max === undefined) {
      return inv.esxi.map((host): CheckOutcome => ({
        status: 'unknown',
        resource: hostResource(host),
        message: 'parameter maxFailures is not a number',
      }));
    }
    return esxiIntegerCheck(
      inv,
      'security.accountlockfailures',
      (n) => (n <= 0 ? 'accounts never lock' : n > max ? `more than the ${max} failures allowed` : undefined),
      `accounts lock after at most ${max} failures`,
    );
  },
);
