import { defineCheck } from '../types.js';
import { DOCS, PVE, fwFlag, isUnreadable } from './common.js';

export default defineCheck(
  {
    id: 'proxmox.host.firewall-disabled',
    title: 'Node firewall disabled in host.fw',
    severity: 'medium',
    platform: 'proxmox',
    resourceType: 'host',
    rationale:
      "Each node's /etc/pve/nodes/<node>/host.fw can turn the firewall off for that node's own traffic (enable: 0); " +
      'the default is on. A node with it off applies none of the cluster or host rules to its management ' +
      'interfaces, so the API, SSH and console ports of that hypervisor are open even where the datacenter firewall ' +
      'is enabled.',
    remediation: 'Remove enable: 0 from [OPTIONS] of /etc/pve/nodes/<node>/host.fw, or set enable: 1.',
    references: { urls: [DOCS.firewall] },
  },
  (inv) => {
    const host = inv.proxmox;
    if (!host) return [];
    return host.nodes.map((node) => {
      const path = `${PVE}/nodes/${node}/host.fw`;
      const resource = { type: 'host', id: `host/${node}` };
      if (isUnreadable(host, path) || isUnreadable(host, `${PVE}/nodes/${node}`)) {
        return {
          status: 'unknown' as const,
          resource,
          message: `${path} (or its directory) exists but could not be read`,
          evidence: { file: path },
        };
      }
      const fw = host.hostFirewalls[node];
      const f = fwFlag(fw, path, 'enable', 1);
      const note = f.note ? ` (${f.note})` : '';
      return {
        status: f.value === 1 ? ('pass' as const) : ('fail' as const),
        resource,
        message: `node ${node}: host firewall ${f.value === 1 ? 'on' : 'off'}${f.evidence.isDefault ? (fw ? ' (the default)' : ` (no ${path}: the default)`) : ''}${note}`,
        evidence: f.evidence,
      };
    });
  },
);
