/**
 * kvm.vm.no-traffic-filter: a network `<interface>` with no `<filterref>`, so libvirt's nwfilter applies no
 * anti-spoofing or traffic rules to it. libvirt can filter interfaces of type network, bridge and ethernet; other
 * types (direct, user, hostdev, vhostuser...) cannot take a filter at all, which the message says.
 */
import { defineCheck } from '../types.js';
import { domEvidence, eachDomain, listText } from './vm-common.js';

const FILTERABLE = new Set(['network', 'bridge', 'ethernet']);

/** The check. */
export const vmNoTrafficFilter = defineCheck(
  {
    id: 'kvm.vm.no-traffic-filter',
    title: 'VM network interface without an nwfilter traffic filter',
    severity: 'medium',
    platform: 'kvm',
    resourceType: 'vm',
    rationale:
      'Without a host-side filter a guest can send frames with any MAC or IP source address: it can spoof other ' +
      "guests or the gateway, poison ARP caches and intercept neighbours' traffic on the shared bridge. libvirt's " +
      'nwfilter (e.g. clean-traffic) enforces this on the host, where the guest cannot switch it off.',
    remediation:
      "Add <filterref filter='clean-traffic'/> (with a <parameter name='IP' .../> where the address is known) to " +
      'each <interface> of type network, bridge or ethernet; attach other interface types through one of these, or ' +
      'record why the guest needs no filter (waiver).',
    references: {
      urls: [
        'https://libvirt.org/formatdomain.html#traffic-filtering-with-nwfilter',
        'https://libvirt.org/formatnwfilter.html',
      ],
    },
  },
  (inv) =>
    eachDomain(inv, (dom) => {
      if (dom.interfaces.length === 0) return { status: 'pass', message: 'no network interface' };
      const bare = dom.interfaces.filter((i) => i.filterref === undefined || i.filterref.filter === '');
      if (bare.length === 0) {
        const names = [...new Set(dom.interfaces.map((i) => i.filterref!.filter))];
        const first = dom.interfaces[0]!;
        return {
          status: 'pass',
          message: `every interface has a filter: ${listText(names)}`,
          evidence: domEvidence(
            dom,
            first.filterref!.line,
            'interface/filterref/@filter',
            first.filterref!.filter,
          ),
        };
      }
      const what = bare.map((i) => {
        const type = i.type ?? '?';
        const note = FILTERABLE.has(type) ? '' : ', a type nwfilter cannot filter';
        return `${type}${i.source ? ` ${i.source}` : ''}${i.mac ? ` ${i.mac}` : ''} (line ${i.line}${note})`;
      });
      const first = bare[0]!;
      return {
        status: 'fail',
        message: `${bare.length} of ${dom.interfaces.length} interface(s) without <filterref>: ${listText(what)}`,
        evidence: domEvidence(dom, first.line, 'interface/filterref', '(absent)'),
      };
    }),
);
