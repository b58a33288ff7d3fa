import type { ProxmoxSetting } from '../../model/proxmox.js';
import { defineCheck } from '../types.js';
import { DOCS, PVE, clusterResource, defaultEvidence, evidenceOf, isTrue, isUnreadable } from './common.js';

const DC = `${PVE}/datacenter.cfg`;

export default defineCheck(
  {
    id: 'proxmox.cluster.migration-insecure',
    title: 'VM migration traffic not encrypted',
    severity: 'high',
    platform: 'proxmox',
    resourceType: 'cluster',
    rationale:
      "Live migration copies a running VM's memory — keys, credentials, session data — and its local disks between " +
      'nodes. Proxmox sends it through an SSH tunnel unless datacenter.cfg says migration: type=insecure (or the ' +
      'deprecated migration_unsecure: 1); then it crosses the migration network in clear text, readable and alterable ' +
      'by anyone on that network.',
    remediation:
      'Set migration: type=secure (optionally with network=<CIDR> of a dedicated migration network) in ' +
      '/etc/pve/datacenter.cfg, or remove the type= and migration_unsecure settings to get the secure default.',
    references: { urls: [DOCS.datacenterCfg] },
  },
  (inv) => {
    const host = inv.proxmox;
    if (!host) return [];
    const resource = clusterResource(host);
    if (isUnreadable(host, DC)) {
      return [
        {
          status: 'unknown',
          resource,
          message: `${DC} exists but could not be read`,
          evidence: { file: DC },
        },
      ];
    }
    const s = host.datacenter?.settings;
    const migration: ProxmoxSetting | undefined = s?.migration;
    if (migration && !migration.props) {
      return [
        {
          status: 'unknown',
          resource,
          message: `migration: ${JSON.stringify(migration.value)} is not a valid property string (${migration.propsError ?? ''}); Proxmox cannot use it either`,
          evidence: evidenceOf(migration),
        },
      ];
    }
    const type = migration?.props?.type;
    if (type !== undefined) {
      const ev = { ...evidenceOf(migration!), key: 'migration.type', value: type };
      return [
        type === 'secure'
          ? {
              status: 'pass',
              resource,
              message: `migration traffic goes through SSH (migration: type=secure)`,
              evidence: ev,
            }
          : {
              status: 'fail',
              resource,
              message: `migration traffic is not encrypted (migration: type=${type})`,
              evidence: ev,
            },
      ];
    }
    // No type: the deprecated migration_unsecure decides, else the default (secure).
    const legacy = s?.migration_unsecure;
    if (legacy) {
      return [
        isTrue(legacy.value)
          ? {
              status: 'fail',
              resource,
              message: `migration traffic is not encrypted (migration_unsecure: ${legacy.value})`,
              evidence: evidenceOf(legacy),
            }
          : {
              status: 'pass',
              resource,
              message: `migration traffic goes through SSH (migration_unsecure: ${legacy.value})`,
              evidence: evidenceOf(legacy),
            },
      ];
    }
    return [
      {
        status: 'pass',
        resource,
        message: `migration type not set${host.datacenter ? '' : ` (${DC} does not exist)`}: the default, secure (SSH tunnel), applies`,
        evidence: defaultEvidence(DC, 'migration.type', 'secure'),
      },
    ];
  },
);
