import type { Evidence } from '../../model/finding.js';
import { defineCheck } from '../types.js';
import { CLUSTER_FW, DOCS, clusterResource, defaultEvidence, evidenceOf, isUnreadable } from './common.js';

export default defineCheck(
  {
    id: 'proxmox.cluster.firewall-disabled',
    title: 'Proxmox VE datacenter firewall disabled',
    severity: 'high',
    platform: 'proxmox',
    resourceType: 'cluster',
    rationale:
      'The datacenter-wide switch in cluster.fw ([OPTIONS] enable: 1) turns the Proxmox firewall on for every node ' +
      'and guest; it is "completely disabled by default". While it is off, no host rule, VM rule, security group, ' +
      'IP set, MAC filter or IP filter is applied anywhere in the cluster, whatever the other files say, and the ' +
      'management interfaces (8006, SSH, VNC, SPICE) are open to every network the nodes are on.',
    remediation:
      'Define rules that keep management access (the management IP set, or host rules), then set enable: 1 in the ' +
      '[OPTIONS] section of /etc/pve/firewall/cluster.fw (Datacenter > Firewall > Options > Firewall).',
    references: { urls: [DOCS.firewall] },
  },
  (inv) => {
    const host = inv.proxmox;
    if (!host) return [];
    const resource = clusterResource(host);
    if (isUnreadable(host, CLUSTER_FW)) {
      return [
        {
          status: 'unknown',
          resource,
          message: `${CLUSTER_FW} exists but could not be read`,
          evidence: { file: CLUSTER_FW },
        },
      ];
    }
    const fw = host.clusterFirewall;
    const e = fw?.options.enable;
    if (!e) {
      const evidence: Evidence = defaultEvidence(CLUSTER_FW, 'enable', '0');
      return [
        {
          status: 'fail',
          resource,
          message: fw
            ? `${CLUSTER_FW} has no enable option in [OPTIONS]: the firewall is disabled (the default)`
            : `${CLUSTER_FW} does not exist: the firewall is disabled (the default)`,
          evidence,
        },
      ];
    }
    // pve-firewall reads `enable: <digits>`; a value above 1 is the time an activation was started and turns
    // into 0 once 60 seconds pass unconfirmed. Anything else is skipped, leaving the default (0).
    if (!/^\d+$/.test(e.value)) {
      return [
        {
          status: 'fail',
          resource,
          message: `enable: ${JSON.stringify(e.value)} is not a number, so pve-firewall skips the line and the firewall stays disabled (the default)`,
          evidence: { ...evidenceOf(e), isDefault: true },
        },
      ];
    }
    const n = Number(e.value);
    if (n === 1)
      return [
        { status: 'pass', resource, message: `the datacenter firewall is enabled`, evidence: evidenceOf(e) },
      ];
    return [
      {
        status: 'fail',
        resource,
        message:
          n === 0
            ? `the datacenter firewall is disabled (enable: 0)`
            : `enable: ${e.value} is a pending activation (a timestamp), which pve-firewall turns into disabled 60 seconds after it was set unless it is confirmed`,
        evidence: evidenceOf(e),
      },
    ];
  },
);
