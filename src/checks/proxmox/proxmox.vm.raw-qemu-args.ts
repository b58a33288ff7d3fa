import { redactSecrets } from '../redact.js';
import { defineCheck } from '../types.js';
import { DOCS, evidenceOf, pendingNote, vmLabel, vmResource } from './common.js';

export default defineCheck(
  {
    id: 'proxmox.vm.raw-qemu-args',
    title: 'VM passes raw arguments to QEMU (args:)',
    severity: 'high',
    platform: 'proxmox',
    resourceType: 'vm',
    rationale:
      'The args: option appends arbitrary arguments to the QEMU command line (qm.conf: "for experts only"). They ' +
      'bypass the checks Proxmox applies to its own options and can add devices, character devices that listen on ' +
      'the network, host file access or a debug monitor, outside what the firewall, permissions and backups know ' +
      'about.',
    remediation:
      'Replace args: with the equivalent Proxmox options (cpu:, smbios1:, hostpciN:...) and remove it ' +
      '(qm set <vmid> --delete args). If no equivalent exists, review every argument and record an accepted risk.',
    references: { urls: [DOCS.qmConf] },
  },
  (inv) =>
    inv.proxmoxVms.map((vm) => {
      const args = vm.config.args;
      if (args) {
        return {
          status: 'fail' as const,
          resource: vmResource(vm),
          message: `${vmLabel(vm)} passes raw QEMU arguments: ${redactSecrets(args.value).slice(0, 200)}`,
          evidence: { ...evidenceOf(args), value: redactSecrets(args.value) },
        };
      }
      return {
        status: 'pass' as const,
        resource: vmResource(vm),
        message: `${vmLabel(vm)} has no args: in its current configuration${pendingNote(vm, vm.pending?.settings.args ? ['args'] : [])}`,
      };
    }),
);
