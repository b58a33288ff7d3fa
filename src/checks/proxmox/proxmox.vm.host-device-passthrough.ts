import type { ProxmoxSetting } from '../../model/proxmox.js';
import { defineCheck } from '../types.js';
import { DOCS, evidenceOf, pendingNote, vmLabel, vmResource } from './common.js';

/**
 * A host device given to a guest (qm.conf `hostpciN`, and `usbN` with `host=` or `mapping=`), not an emulated
 * device: `usbN: spice` is SPICE USB redirection from the viewer, not a host device.
 */
export function passthroughDevice(s: ProxmoxSetting): string | undefined {
  if (/^hostpci\d*$/.test(s.key)) return `PCI device ${s.props?.host ?? s.props?.mapping ?? s.value}`;
  if (s.key === 'hostusb') return `USB device ${s.value}`;
  if (/^usb\d+$/.test(s.key)) {
    const host = s.props?.host ?? (s.propsError !== undefined ? s.value.split(',')[0] : undefined);
    if (s.props?.mapping !== undefined) return `mapped USB device ${s.props.mapping}`;
    if (host === undefined || /^spice$/i.test(host)) return undefined;
    return `USB device ${host}`;
  }
  return undefined;
}

export default defineCheck(
  {
    id: 'proxmox.vm.host-device-passthrough',
    title: 'VM has a host PCI or USB device passed through',
    severity: 'medium',
    platform: 'proxmox',
    resourceType: 'vm',
    rationale:
      'A passed-through PCI device (hostpciN) is driven by the guest directly and can do DMA into host memory, ' +
      "bounded only by the IOMMU; its firmware and reset behaviour are outside the hypervisor's control, and the " +
      'device is shared state across guests that use it in turn. A host USB device (usbN: host=...) exposes the ' +
      "host's USB stack and the physical device to the guest. Either widens the attack surface from guest to host " +
      'and pins the VM to one node.',
    remediation:
      'Remove hostpciN/usbN entries that are not required (qm set <vmid> --delete hostpci0). Where passthrough is ' +
      'needed, make sure the IOMMU is enabled and the device sits in its own IOMMU group, and record an accepted ' +
      'risk (waiver) for the VM.',
    references: { urls: [DOCS.pciPassthrough, DOCS.usbPassthrough, DOCS.qmConf] },
  },
  (inv) =>
    inv.proxmoxVms.map((vm) => {
      const found = Object.values(vm.config)
        .map((s) => ({ s, what: passthroughDevice(s) }))
        .filter((x): x is { s: ProxmoxSetting; what: string } => x.what !== undefined)
        .sort((a, b) => a.s.line - b.s.line);
      if (found.length > 0) {
        const list = found.map((f) => `${f.s.key} (${f.what})`).join(', ');
        return {
          status: 'fail' as const,
          resource: vmResource(vm),
          message: `${vmLabel(vm)} has host devices passed through: ${list}`,
          evidence: evidenceOf(found[0]!.s),
        };
      }
      const pending = Object.values(vm.pending?.settings ?? {})
        .filter((s) => passthroughDevice(s) !== undefined)
        .map((s) => s.key);
      return {
        status: 'pass' as const,
        resource: vmResource(vm),
        message: `${vmLabel(vm)} has no host PCI or USB device in its current configuration${pendingNote(vm, pending)}`,
      };
    }),
);
