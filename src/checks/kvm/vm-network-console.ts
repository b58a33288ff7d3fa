/**
 * kvm.vm.network-console: a `<serial>`, `<console>`, `<parallel>` or `<channel>` backed by a TCP or UDP socket
 * (raw, telnet or TLS protocol): the guest's console or data channel reachable over the network.
 */
import { defineCheck } from '../types.js';
import { domEvidence, eachDomain, listText } from './vm-common.js';

const NETWORK_TYPES = new Set(['tcp', 'udp', 'telnet', 'telnets']);

/** The check. */
export const vmNetworkConsole = defineCheck(
  {
    id: 'kvm.vm.network-console',
    title: 'VM serial console or channel exposed on a network socket',
    severity: 'high',
    platform: 'kvm',
    resourceType: 'vm',
    rationale:
      'A serial console or channel on a TCP or UDP socket has no authentication of its own: anyone who reaches the ' +
      'port gets the guest console (often a login prompt or a root shell in rescue mode) or talks to a guest agent ' +
      'channel. Even bound to loopback it is open to every local user of the host.',
    remediation:
      "Use type='pty' (reached through virsh console, which libvirt authorizes) or a UNIX socket with restrictive " +
      "permissions instead of type='tcp'/'udp'; if a network socket is unavoidable, require TLS with client " +
      'certificates (chardev_tls and chardev_tls_x509_verify in qemu.conf).',
    references: { urls: ['https://libvirt.org/formatdomain.html#consoles-serial-parallel-channel-devices'] },
  },
  (inv) =>
    eachDomain(inv, (dom) => {
      const exposed = dom.chardevs.filter((c) => c.type !== undefined && NETWORK_TYPES.has(c.type));
      if (exposed.length === 0)
        return {
          status: 'pass',
          message: 'no serial, console, parallel or channel device on a network socket',
        };
      const what = exposed.map((c) => {
        const ends = c.sources.map(
          (s) =>
            `${s.mode ?? 'connect'} ${s.host ?? '*'}:${s.service ?? '?'}${s.tls === 'yes' ? ' tls' : ''}`,
        );
        return `${c.device} type=${c.type}${c.protocol ? ` protocol=${c.protocol}` : ''}${ends.length ? ` (${ends.join(', ')})` : ''} line ${c.line}`;
      });
      const first = exposed[0]!;
      return {
        status: 'fail',
        message: `network character devices: ${listText(what)}`,
        evidence: domEvidence(dom, first.line, `${first.device}/@type`, first.type ?? ''),
      };
    }),
);
