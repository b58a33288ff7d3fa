import { defineCheck } from '../types.js';
import { DOCS, fwFlag, nicsOf, vmFirewall, vmLabel, vmResource } from './common.js';

export default defineCheck(
  {
    id: 'proxmox.vm.mac-filter-disabled',
    title: 'VM firewall MAC address filter disabled',
    severity: 'medium',
    platform: 'proxmox',
    resourceType: 'vm',
    rationale:
      'With macfilter: 1 (the default) pve-firewall drops frames a guest sends from any MAC address other than the ' +
      'one configured on its interface. macfilter: 0 lets the guest forge source MAC addresses, impersonate other ' +
      'machines on the bridge and poison switch tables — the Proxmox counterpart of allowing forged transmits.',
    remediation: 'Remove macfilter: 0 from [OPTIONS] of /etc/pve/firewall/<vmid>.fw, or set macfilter: 1.',
    references: { urls: [DOCS.firewall] },
  },
  (inv) =>
    inv.proxmoxVms.map((vm) => {
      const resource = vmResource(vm);
      if (nicsOf(vm.config).length === 0) {
        return { status: 'pass' as const, resource, message: `${vmLabel(vm)} has no network interface` };
      }
      const src = vmFirewall(inv, vm);
      if (!src.known) return { status: 'unknown' as const, resource, message: `${vmLabel(vm)}: ${src.why}` };
      const f = fwFlag(src.fw, src.path, 'macfilter', 1);
      const note = f.note ? ` (${f.note})` : '';
      return {
        status: f.value === 1 ? ('pass' as const) : ('fail' as const),
        resource,
        message: `${vmLabel(vm)}: MAC address filter ${f.value === 1 ? 'on' : 'off'}${f.evidence.isDefault ? ' (the default)' : ''}${note}`,
        evidence: f.evidence,
      };
    }),
);
