/** kvm.vm.usb-redirection: any `<redirdev>`, which lets a client (SPICE or a TCP peer) plug USB devices into the guest. */
import { defineCheck } from '../types.js';
import { domEvidence, eachDomain, listText } from './vm-common.js';

/** The check. */
export const vmUsbRedirection = defineCheck(
  {
    id: 'kvm.vm.usb-redirection',
    title: 'VM accepts USB devices redirected from clients',
    severity: 'medium',
    platform: 'kvm',
    resourceType: 'vm',
    rationale:
      'A <redirdev> lets whoever holds the console connection (SPICE) or reaches the socket (tcp) attach USB devices ' +
      'from their machine to the guest: storage that bypasses data controls, or crafted devices that attack the ' +
      "guest's drivers and QEMU's usbredir parser on the host.",
    remediation:
      'Remove <redirdev> elements (virt-manager adds two SPICE ones by default); if redirection is needed, restrict ' +
      'it with a <redirfilter> that allows only the required device classes and ends with a deny-all rule.',
    references: { urls: ['https://libvirt.org/formatdomain.html#redirected-devices'] },
  },
  (inv) =>
    eachDomain(inv, (dom) => {
      if (dom.redirdevs.length === 0) return { status: 'pass', message: 'no USB redirection' };
      const what = dom.redirdevs.map((r) => {
        const ends = r.sources.map(
          (s) => `${s.mode ?? 'connect'} ${s.host ?? '*'}:${s.service ?? s.path ?? '?'}`,
        );
        return `${r.bus ?? 'usb'} type=${r.type ?? '?'}${ends.length ? ` (${ends.join(', ')})` : ''} line ${r.line}`;
      });
      const filter = dom.redirfilter
        ? `; a <redirfilter> (line ${dom.redirfilter.line}) with ${dom.redirfilter.rules.length} rule(s) limits it`
        : '; no <redirfilter> limits which devices';
      const first = dom.redirdevs[0]!;
      return {
        status: 'fail',
        message: `USB redirection: ${listText(what)}${filter}`,
        evidence: domEvidence(dom, first.line, 'redirdev/@type', first.type ?? ''),
      };
    }),
);
