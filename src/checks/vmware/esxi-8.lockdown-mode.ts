import { defineCheck, type CheckOutcome } from '../types.js';
import { hostResource, SCG_URL } from './helpers.js';

const SAFE = new Set(['lockdownnormal', 'lockdownstrict']);

/** esxi-8.lockdown-mode: the host must be in normal (or strict) lockdown mode. */
export const check = defineCheck(
  {
    id: 'esxi-8.lockdown-mode',
    title: 'ESXi host must run in lockdown mode',
    severity: 'high',
    platform: 'vmware',
    resourceType: 'host',
    rationale:
      'Without lockdown mode, accounts can log in to the host directly (host client, SSH, DCUI) and act outside ' +
      "vCenter Server's roles, permissions and audit trail. Normal lockdown forces management through vCenter.",
    remediation:
      'Enable normal lockdown mode (vSphere Client: host > Configure > Security Profile > Lockdown Mode, or ' +
      "HostAccessManager.ChangeLockdownMode('lockdownNormal')) after checking the exception users list.",
    references: { stig: ['ESXI-80-000008'], vmwareScg: 'esxi-8.lockdown-mode', urls: [SCG_URL] },
  },
  (inv) =>
    inv.esxi.map((host): CheckOutcome => {
      const mode = host.lockdownMode;
      if (mode === undefined) {
        return {
          status: 'unknown',
          resource: hostResource(host),
          message: `lockdown mode is not known from ${host.source} (advanced-settings exports do not carry it; the vSphere API does)`,
        };
      }
      const evidence = { file: host.source, key: 'lockdownMode', value: mode };
      const m = mode.toLowerCase();
      if (SAFE.has(m)) {
        return {
          status: 'pass',
          resource: hostResource(host),
          message: `lockdown mode is ${mode}`,
          evidence,
        };
      }
      if (m === 'lockdowndisabled') {
        return {
          status: 'fail',
          resource: hostResource(host),
          message: 'lockdown mode is disabled: the host accepts direct logins',
          evidence,
        };
      }
      return {
        status: 'unknown',
        resource: hostResource(host),
        message: `unrecognised lockdown mode ${JSON.stringify(mode)}`,
        evidence,
      };
    }),
);
