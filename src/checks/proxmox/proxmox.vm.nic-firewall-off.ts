import type { Evidence } from '../../model/finding.js';
import { defineCheck } from '../types.js';
import { DOCS, defaultEvidence, evidenceOf, isTrue, nicsOf, vmLabel, vmResource } from './common.js';

export default defineCheck(
  {
    id: 'proxmox.vm.nic-firewall-off',
    title: 'VM network interface not protected by the Proxmox firewall',
    severity: 'medium',
    platform: 'proxmox',
    resourceType: 'vm',
    rationale:
      "Proxmox applies a VM's firewall rules, MAC and IP filters only to interfaces with firewall=1 (the default is " +
      'off): "You need to enable the firewall on the virtual network interface configuration in addition to the ' +
      'general Enable Firewall option". An interface without it is bridged unfiltered, whatever the cluster and VM ' +
      'firewall say, so the guest can spoof addresses and reach, or be reached by, anything on the bridge.',
    remediation:
      'Set firewall=1 on every netN (qm set <vmid> --net0 virtio=<MAC>,bridge=vmbr0,firewall=1), and enable the ' +
      'VM firewall in /etc/pve/firewall/<vmid>.fw.',
    references: { urls: [DOCS.firewall, DOCS.qmConf] },
  },
  (inv) =>
    inv.proxmoxVms.map((vm) => {
      const nics = nicsOf(vm.config);
      if (nics.length === 0) {
        return {
          status: 'pass' as const,
          resource: vmResource(vm),
          message: `${vmLabel(vm)} has no network interface`,
        };
      }
      const bad = nics.filter((n) => n.props && !isTrue(n.props.firewall));
      const broken = nics.filter((n) => !n.props);
      if (bad.length > 0) {
        const first = bad[0]!;
        const fw = first.props!.firewall;
        const evidence: Evidence =
          fw === undefined
            ? { ...defaultEvidence(first.file, `${first.key}.firewall`, '0'), line: first.line }
            : { ...evidenceOf(first), key: `${first.key}.firewall`, value: fw };
        return {
          status: 'fail' as const,
          resource: vmResource(vm),
          message: `${vmLabel(vm)}: ${bad
            .map(
              (n) =>
                `${n.key} (bridge ${n.props!.bridge ?? 'none'}) has ${n.props!.firewall === undefined ? 'no firewall option (default off)' : `firewall=${n.props!.firewall}`}`,
            )
            .join('; ')}`,
          evidence,
        };
      }
      if (broken.length > 0) {
        const n = broken[0]!;
        return {
          status: 'unknown' as const,
          resource: vmResource(vm),
          message: `${vmLabel(vm)}: ${n.key} is not a valid property string (${n.propsError ?? 'unparsed'}), so whether it is firewalled cannot be told`,
          evidence: evidenceOf(n),
        };
      }
      return {
        status: 'pass' as const,
        resource: vmResource(vm),
        message: `${vmLabel(vm)}: every network interface has firewall=1 (${nics.map((n) => n.key).join(', ')})`,
      };
    }),
);
