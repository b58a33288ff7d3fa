import { defineCheck } from '../types.js';
import { DOCS, fwFlag, isTrue, nicsOf, vmFirewall, vmLabel, vmResource } from './common.js';

export default defineCheck(
  {
    id: 'proxmox.vm.ip-filter-disabled',
    title: 'VM firewall does not filter source IP addresses',
    severity: 'low',
    platform: 'proxmox',
    resourceType: 'vm',
    rationale:
      "Proxmox drops a guest's outgoing traffic from source addresses outside the interface's ipfilter-netN IP set; " +
      'these sets "are mainly used to prevent IP spoofing". They exist only when defined in the VM\'s firewall file or ' +
      'when ipfilter: 1 is set (the default is off). Without them a guest can send from any IP address, e.g. to ' +
      'impersonate a neighbour or a gateway.',
    remediation:
      'Set ipfilter: 1 in [OPTIONS] of /etc/pve/firewall/<vmid>.fw, or define an [IPSET ipfilter-netN] with the ' +
      'addresses each firewalled interface may use.',
    references: { urls: [DOCS.firewall] },
  },
  (inv) =>
    inv.proxmoxVms.map((vm) => {
      const resource = vmResource(vm);
      const all = nicsOf(vm.config);
      if (all.length === 0) {
        return { status: 'pass' as const, resource, message: `${vmLabel(vm)} has no network interface` };
      }
      const nics = all.filter((n) => isTrue(n.props?.firewall));
      if (nics.length === 0) {
        return {
          status: 'fail' as const,
          resource,
          message: `${vmLabel(vm)}: no interface has firewall=1, so no source IP filtering applies to any`,
          evidence: {
            file: all[0]!.file,
            key: `${all[0]!.key}.firewall`,
            value: all[0]!.props?.firewall ?? '0',
            line: all[0]!.line,
            isDefault: all[0]!.props?.firewall === undefined,
          },
        };
      }
      const src = vmFirewall(inv, vm);
      if (!src.known) return { status: 'unknown' as const, resource, message: `${vmLabel(vm)}: ${src.why}` };
      const f = fwFlag(src.fw, src.path, 'ipfilter', 0);
      if (f.value === 1) {
        return {
          status: 'pass' as const,
          resource,
          message: `${vmLabel(vm)}: IP filter on (ipfilter: 1)`,
          evidence: f.evidence,
        };
      }
      const sets = src.fw?.ipsets ?? {};
      const missing = nics.filter((n) => sets[`ipfilter-${n.key}`] === undefined);
      if (missing.length === 0) {
        return {
          status: 'pass' as const,
          resource,
          message: `${vmLabel(vm)}: every firewalled interface has an ipfilter IP set (${nics.map((n) => `ipfilter-${n.key}`).join(', ')})`,
        };
      }
      const note = f.note ? ` (${f.note})` : '';
      return {
        status: 'fail' as const,
        resource,
        message: `${vmLabel(vm)}: ipfilter is off${f.evidence.isDefault ? ' (the default)' : ''} and ${missing.map((n) => n.key).join(', ')} ha${missing.length === 1 ? 's' : 've'} no ipfilter IP set${note}`,
        evidence: f.evidence,
      };
    }),
);
