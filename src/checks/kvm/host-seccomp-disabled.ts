import { confInt } from '../../platform/kvm/libvirt-conf.js';
import { defineCheck } from '../types.js';
import {
  combine,
  describe,
  evidenceOf,
  invalidPart,
  LIBVIRT_DOCS,
  qemuDriverHost,
  qemuConfUnreadable,
  qemuSetting,
} from './host-common.js';

export const seccompDisabled = defineCheck(
  {
    id: 'kvm.host.seccomp-disabled',
    title: 'QEMU must run with its seccomp sandbox',
    severity: 'medium',
    platform: 'kvm',
    resourceType: 'host',
    rationale:
      'With seccomp_sandbox enabled (the default), libvirt starts QEMU with a system call filter that denies calls device emulation never needs (spawning processes, changing privileges, obsolete calls). seccomp_sandbox = 0 removes that layer, so an exploited QEMU can use the whole kernel interface.',
    remediation:
      'Remove seccomp_sandbox = 0 from /etc/libvirt/qemu.conf (or set it to 1) and restart the libvirt daemon.',
    references: { urls: [LIBVIRT_DOCS.qemu] },
  },
  (inv) => {
    const kvm = qemuDriverHost(inv);
    if (!kvm) return [];
    const unreadable = qemuConfUnreadable(kvm);
    if (unreadable) return combine(inv, [unreadable]);
    const s = qemuSetting(kvm, 'seccomp_sandbox');
    const n = s.entry ? confInt(s.entry) : 1;
    if (n === undefined) return combine(inv, [invalidPart(s, 'an integer')]);
    if (n === 0) {
      return combine(inv, [
        {
          status: 'fail',
          message: `${describe(s)}: QEMU runs without its seccomp system call filter`,
          evidence: evidenceOf(s),
        },
      ]);
    }
    return combine(inv, [
      {
        status: 'pass',
        message: s.entry
          ? `${describe(s)}: QEMU runs with its seccomp filter`
          : `${describe(s)}: QEMU runs with its seccomp filter whenever it supports one`,
        evidence: evidenceOf(s),
      },
    ]);
  },
);
