import { confStringList } from '../../platform/kvm/libvirt-conf.js';
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

export const namespacesDisabled = defineCheck(
  {
    id: 'kvm.host.namespaces-disabled',
    title: 'QEMU must run in a private mount namespace',
    severity: 'medium',
    platform: 'kvm',
    resourceType: 'host',
    rationale:
      'By default libvirt starts each QEMU in its own mount namespace with a private /dev holding only the devices configured for that guest. namespaces = [] turns this off, so a compromised QEMU sees every device node on the host and is held back only by DAC and MAC rules.',
    remediation:
      'Remove namespaces = [] from /etc/libvirt/qemu.conf (or set namespaces = [ "mount" ]) and restart the libvirt daemon.',
    references: { urls: [LIBVIRT_DOCS.qemu] },
  },
  (inv) => {
    const kvm = qemuDriverHost(inv);
    if (!kvm) return [];
    const unreadable = qemuConfUnreadable(kvm);
    if (unreadable) return combine(inv, [unreadable]);
    const s = qemuSetting(kvm, 'namespaces');
    const list = s.entry ? confStringList(s.entry, false) : ['mount'];
    if (list === undefined) return combine(inv, [invalidPart(s, 'a list of strings')]);
    if (list.length === 0) {
      return combine(inv, [
        {
          status: 'fail',
          message: `${describe(s)}: QEMU shares the host's mount namespace and /dev`,
          evidence: evidenceOf(s),
        },
      ]);
    }
    if (!list.includes('mount')) {
      return combine(inv, [
        {
          status: 'unknown',
          message: `${describe(s)} names no namespace libvirt knows ("mount"); libvirt refuses such a file`,
          evidence: evidenceOf(s),
        },
      ]);
    }
    return combine(inv, [
      {
        status: 'pass',
        message: `${describe(s)}: each QEMU gets a private mount namespace and /dev`,
        evidence: evidenceOf(s),
      },
    ]);
  },
);
