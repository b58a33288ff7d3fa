import { defineCheck } from '../types.js';
import { DOCS, fwFlag, nicsOf, vmFirewall, vmLabel, vmResource } from './common.js';

export default defineCheck(
  {
    id: 'proxmox.vm.vm-firewall-disabled',
    title: 'VM firewall disabled',
    severity: 'medium',
    platform: 'proxmox',
    resourceType: 'vm',
    rationale:
      "A VM's firewall rules and policies live in /etc/pve/firewall/<vmid>.fw and apply only when its [OPTIONS] " +
      "say enable: 1; the default is 0. Without it the guest's interfaces accept everything (the input policy, " +
      'DROP by default, is not applied) even where firewall=1 is set on the interface, so the VM relies on its own ' +
      'operating system for all filtering.',
    remediation:
      'Add rules for the services the VM offers, then set enable: 1 in [OPTIONS] of /etc/pve/firewall/<vmid>.fw ' +
      '(VM > Firewall > Options > Firewall), and firewall=1 on each netN.',
    references: { urls: [DOCS.firewall] },
  },
  (inv) =>
    inv.proxmoxVms.map((vm) => {
      const resource = vmResource(vm);
      if (nicsOf(vm.config).length === 0) {
        return {
          status: 'pass' as const,
          resource,
          message: `${vmLabel(vm)} has no network interface to filter`,
        };
      }
      const src = vmFirewall(inv, vm);
      if (!src.known) return { status: 'unknown' as const, resource, message: `${vmLabel(vm)}: ${src.why}` };
      const f = fwFlag(src.fw, src.path, 'enable', 0);
      const note = f.note ? ` (${f.note})` : '';
      if (f.value === 1) {
        return {
          status: 'pass' as const,
          resource,
          message: `${vmLabel(vm)}: the VM firewall is enabled`,
          evidence: f.evidence,
        };
      }
      return {
        status: 'fail' as const,
        resource,
        message: src.fw
          ? `${vmLabel(vm)}: the VM firewall is disabled${f.evidence.isDefault ? ' (no enable: 1, the default is 0)' : ''}${note}`
          : `${vmLabel(vm)}: ${src.path} does not exist, so the VM firewall is disabled (the default)`,
        evidence: f.evidence,
      };
    }),
);
