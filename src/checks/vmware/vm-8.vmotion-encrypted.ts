import { defineCheck, type CheckOutcome } from '../types.js';
import { SCG_URL, show, vmResource, vmxSetting } from './helpers.js';

const WEAK = new Set(['opportunistic', 'disabled']);

/** vm-8.vmotion-encrypted: migrate.encryptionMode must be `required`. */
export const check = defineCheck(
  {
    id: 'vm-8.vmotion-encrypted',
    title: 'VM must require encrypted vMotion',
    severity: 'medium',
    platform: 'vmware',
    resourceType: 'vm',
    rationale:
      'vMotion copies the whole memory of a running VM over the network. The default, opportunistic, falls back ' +
      'to clear text when either host cannot encrypt; required refuses any unencrypted migration.',
    remediation:
      'Set the VM\u2019s encrypted vMotion to Required (VM Options > Encryption, or ConfigSpec.MigrateEncryption = ' +
      '"required"); the .vmx then holds migrate.encryptionMode = "required".',
    references: { stig: ['VMCH-80-000203'], vmwareScg: 'vm-8.vmotion-encrypted', urls: [SCG_URL] },
  },
  (inv) =>
    inv.vmx.map((vmx): CheckOutcome => {
      const s = vmxSetting(vmx, 'migrate.encryptionmode');
      const where = s.isDefault ? ' (not set: the default applies)' : '';
      const v = (s.value ?? '').trim().toLowerCase();
      const head = `migrate.encryptionMode = ${show(s.value)}${where}`;
      if (v === 'required') {
        return {
          status: 'pass',
          resource: vmResource(vmx),
          message: `${head}: vMotion is always encrypted`,
          evidence: s.evidence,
        };
      }
      if (WEAK.has(v)) {
        return {
          status: 'fail',
          resource: vmResource(vmx),
          message: `${head}: vMotion may run unencrypted`,
          evidence: s.evidence,
        };
      }
      return {
        status: 'unknown',
        resource: vmResource(vmx),
        message: `${head}: not one of disabled, opportunistic, required`,
        evidence: s.evidence,
      };
    }),
);
