import { defineCheck } from '../types.js';
import {
  boolOf,
  combine,
  describe,
  evidenceOf,
  invalidPart,
  LIBVIRT_DOCS,
  qemuDriverHost,
  qemuConfUnreadable,
  qemuSetting,
} from './host-common.js';

export const migrationTlsNotForced = defineCheck(
  {
    id: 'kvm.host.migration-tls-not-forced',
    title: 'Live migration must be forced to use TLS',
    severity: 'medium',
    platform: 'kvm',
    resourceType: 'host',
    rationale:
      "A live migration streams the guest's whole memory (keys, passwords, data) and device state to the destination. libvirt uses TLS for it only when the caller asks (VIR_MIGRATE_TLS) unless migrate_tls_force = 1, so by default a plain migration travels in clear text and an attacker on the path can read or alter the guest.",
    remediation:
      'Issue TLS certificates for the hosts (migrate_tls_x509_cert_dir or default_tls_x509_cert_dir), set migrate_tls_force = 1 in /etc/libvirt/qemu.conf and restart the libvirt daemon; migrate with --tls.',
    references: { urls: [LIBVIRT_DOCS.migration, LIBVIRT_DOCS.tls] },
  },
  (inv) => {
    const kvm = qemuDriverHost(inv);
    if (!kvm) return [];
    const unreadable = qemuConfUnreadable(kvm);
    if (unreadable) return combine(inv, [unreadable]);
    const s = qemuSetting(kvm, 'migrate_tls_force');
    const on = boolOf(s);
    if (on === undefined) return combine(inv, [invalidPart(s, '0 or 1')]);
    return combine(inv, [
      on
        ? {
            status: 'pass',
            message: `${describe(s)}: migrations without TLS are refused`,
            evidence: evidenceOf(s),
          }
        : {
            status: 'fail',
            message: `${describe(s)}: a migration not started with VIR_MIGRATE_TLS sends guest memory unencrypted`,
            evidence: evidenceOf(s),
          },
    ]);
  },
);
