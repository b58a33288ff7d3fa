/** kvm.vm.shared-disk: a `<disk>` marked `<shareable/>`, writable by this guest and by others at once. */
import { defineCheck } from '../types.js';
import { domEvidence, eachDomain, listText } from './vm-common.js';

/** The check. */
export const vmSharedDisk = defineCheck(
  {
    id: 'kvm.vm.shared-disk',
    title: 'VM disk is shareable with other VMs',
    severity: 'medium',
    platform: 'kvm',
    resourceType: 'vm',
    rationale:
      'A <shareable/> disk may be attached to several guests at once, with host caching turned off: the guests can ' +
      "read and change each other's data through it, which breaks the storage isolation between VMs unless a cluster " +
      'file system and a deliberate trust relationship stand behind it.',
    remediation:
      'Remove <shareable/> from disks that are not part of a deliberate cluster setup; for those that are, record ' +
      'the exception (waiver) and keep the sharing guests in the same trust zone.',
    references: { urls: ['https://libvirt.org/formatdomain.html#hard-drives-floppy-disks-cdroms'] },
  },
  (inv) =>
    eachDomain(inv, (dom) => {
      const shared = dom.disks.filter((d) => d.shareable);
      if (shared.length === 0) return { status: 'pass', message: 'no shareable disk' };
      const what = shared.map((d) =>
        `${d.target ?? '?'} ${d.source ?? ''}${d.readonly ? ' (read-only)' : ''} line ${d.line}`.replace(
          /\s+/g,
          ' ',
        ),
      );
      const first = shared[0]!;
      return {
        status: 'fail',
        message: `shareable disks: ${listText(what)}`,
        evidence: domEvidence(dom, first.line, 'disk/shareable', first.source ?? first.target ?? ''),
      };
    }),
);
