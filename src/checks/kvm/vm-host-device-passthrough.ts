/**
 * kvm.vm.host-device-passthrough: any `<hostdev>` (PCI, USB, SCSI, mediated device...) and any
 * `<interface type='hostdev'>` (an SR-IOV network function given to the guest).
 */
import { defineCheck } from '../types.js';
import { domEvidence, eachDomain, listText } from './vm-common.js';

/** The check. */
export const vmHostDevicePassthrough = defineCheck(
  {
    id: 'kvm.vm.host-device-passthrough',
    title: 'VM has a host device passed through',
    severity: 'medium',
    platform: 'kvm',
    resourceType: 'vm',
    rationale:
      'A passed-through device is driven by the guest directly: it can DMA into host memory unless the IOMMU isolates ' +
      'it, may share an IOMMU group or firmware with other devices, and ties the VM to the host. It widens the ' +
      'attack surface between guest and host beyond the emulated or paravirtual devices the hypervisor mediates.',
    remediation:
      'Remove <hostdev> devices the guest does not need; for those it does, make sure the IOMMU is on, the device is ' +
      'alone in its IOMMU group, and record the exception (waiver) with its justification.',
    references: { urls: ['https://libvirt.org/formatdomain.html#host-device-assignment'] },
  },
  (inv) =>
    eachDomain(inv, (dom) => {
      if (dom.hostdevs.length === 0) return { status: 'pass', message: 'no host device passed through' };
      const first = dom.hostdevs[0]!;
      const what = dom.hostdevs.map(
        (h) => `${h.mode === 'interface' ? 'interface hostdev ' : ''}${h.source} (line ${h.line})`,
      );
      return {
        status: 'fail',
        message: `host devices passed through: ${listText(what)}`,
        evidence: domEvidence(
          dom,
          first.line,
          first.mode === 'interface' ? "interface[@type='hostdev']" : 'hostdev',
          first.source,
        ),
      };
    }),
);
