import { defineCheck } from '../types.js';
import { CLUSTER_FW, DOCS, clusterResource, fwPolicy, isUnreadable } from './common.js';

export default defineCheck(
  {
    id: 'proxmox.cluster.firewall-policy-in-accept',
    title: 'Datacenter firewall accepts inbound traffic to nodes by default',
    severity: 'medium',
    platform: 'proxmox',
    resourceType: 'cluster',
    rationale:
      "policy_in in cluster.fw [OPTIONS] is what the nodes' firewall does with inbound traffic no rule matched; the " +
      'default is DROP, with the web interface, SSH, VNC and SPICE still allowed from the local network. With ACCEPT ' +
      'every service on every node — the API on 8006, SSH, rpcbind, Ceph, corosync — is reachable from every network, ' +
      'whatever the rules intend.',
    remediation:
      'Write IN rules for the management networks, then remove policy_in or set it to DROP (or REJECT) in ' +
      '/etc/pve/firewall/cluster.fw.',
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
    const p = fwPolicy(host.clusterFirewall, CLUSTER_FW, 'policy_in', 'DROP');
    const note = p.note ? ` (${p.note})` : '';
    return [
      {
        status: p.value === 'ACCEPT' ? 'fail' : 'pass',
        resource,
        message: `node inbound policy ${p.value}${p.evidence.isDefault ? ' (the default)' : ''}${note}`,
        evidence: p.evidence,
      },
    ];
  },
);
