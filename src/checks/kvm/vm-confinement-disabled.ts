/**
 * kvm.vm.confinement-disabled: a domain-level `<seclabel type='none'/>` (or `model='none'`) runs the guest's QEMU
 * process without the sVirt label (SELinux/AppArmor) or DAC user separation the host's security driver would give.
 */
import { defineCheck } from '../types.js';
import { domEvidence, eachDomain, listText } from './vm-common.js';

/** The check. */
export const vmConfinementDisabled = defineCheck(
  {
    id: 'kvm.vm.confinement-disabled',
    title: 'VM runs without sVirt confinement (seclabel none)',
    severity: 'high',
    platform: 'kvm',
    resourceType: 'vm',
    rationale:
      "libvirt confines each guest's QEMU process with a per-VM SELinux or AppArmor label (sVirt) and a separate DAC " +
      "identity, so a guest that escapes into QEMU cannot read other guests' disks or the host. <seclabel type='none'/> " +
      'switches that off for the domain: a QEMU compromise then reaches everything the QEMU user can.',
    remediation:
      "Remove the domain-level <seclabel type='none'/> (or model='none') so the host's security driver labels the " +
      "guest dynamically, or use <seclabel type='dynamic'/> explicitly.",
    references: { urls: ['https://libvirt.org/formatdomain.html#security-label'] },
  },
  (inv) =>
    eachDomain(inv, (dom) => {
      const off = dom.seclabels.filter((s) => s.type === 'none' || s.model === 'none');
      if (off.length > 0) {
        const first = off[0]!;
        const what = off.map(
          (s) => `type=${s.type ?? 'dynamic'} model=${s.model ?? '(host default)'} (line ${s.line})`,
        );
        return {
          status: 'fail',
          message: `confinement disabled by <seclabel>: ${listText(what)}`,
          evidence: domEvidence(
            dom,
            first.line,
            first.model === 'none' ? 'seclabel/@model' : 'seclabel/@type',
            'none',
          ),
        };
      }
      if (dom.seclabels.length === 0) {
        return {
          status: 'pass',
          message: "no <seclabel>: libvirt's default dynamic labelling by the host's security driver applies",
          evidence: { file: dom.file, key: 'seclabel/@type', value: 'dynamic', isDefault: true },
        };
      }
      const first = dom.seclabels[0]!;
      return {
        status: 'pass',
        message: `seclabel ${listText(dom.seclabels.map((s) => `type=${s.type ?? 'dynamic'} model=${s.model ?? '(host default)'}`))}`,
        evidence: domEvidence(dom, first.line, 'seclabel/@type', first.type ?? 'dynamic'),
      };
    }),
);
