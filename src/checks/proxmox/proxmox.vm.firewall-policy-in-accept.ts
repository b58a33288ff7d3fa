import { defineCheck } from '../types.js';
import { DOCS, fwPolicy, vmFirewall, vmLabel, vmResource } from './common.js';

export default defineCheck(
  {
    id: 'proxmox.vm.firewall-policy-in-accept',
    title: 'VM firewall accepts inbound traffic by default',
    severity: 'medium',
    platform: 'proxmox',
    resourceType: 'vm',
    rationale:
      "policy_in in a VM's firewall [OPTIONS] decides what happens to inbound traffic no rule matched; pve-firewall " +
      'defaults it to DROP ("allow nothing by default"). With ACCEPT the VM firewall only blocks what a rule names, ' +
      'so every service the guest happens to expose is reachable.',
    remediation:
      'Write IN rules for the services the VM must offer, then remove policy_in or set it to DROP (or REJECT) in ' +
      '/etc/pve/firewall/<vmid>.fw.',
    references: { urls: [DOCS.firewall] },
  },
  (inv) =>
    inv.proxmoxVms.map((vm) => {
      const resource = vmResource(vm);
      const src = vmFirewall(inv, vm);
      if (!src.known) return { status: 'unknown' as const, resource, message: `${vmLabel(vm)}: ${src.why}` };
      const p = fwPolicy(src.fw, src.path, 'policy_in', 'DROP');
      const note = p.note ? ` (${p.note})` : '';
      return {
        status: p.value === 'ACCEPT' ? ('fail' as const) : ('pass' as const),
        resource,
        message: `${vmLabel(vm)}: inbound policy ${p.value}${p.evidence.isDefault ? ' (the default)' : ''}${note}`,
        evidence: p.evidence,
      };
    }),
);
