import type { LibvirtDaemon } from '../../model/kvm.js';
import { defineCheck } from '../types.js';
import {
  boolOf,
  combine,
  daemonConfUnreadable,
  daemonSetting,
  daemonsOf,
  describe,
  evidenceOf,
  invalidPart,
  LIBVIRT_DOCS,
  libvirtHost,
  NETWORK_DAEMONS,
  stringOf,
  type Part,
} from './host-common.js';

function judge(d: LibvirtDaemon): Part {
  const unreadable = daemonConfUnreadable(d);
  if (unreadable) return unreadable;
  const listen = daemonSetting(d, 'listen_tcp');
  const listenOn = boolOf(listen);
  if (listenOn === undefined) return invalidPart(listen, '0 or 1');
  const auth = daemonSetting(d, 'auth_tcp');
  const authValue = stringOf(auth);
  if (authValue === undefined) return invalidPart(auth, 'a string');
  const unit = d.sockets.tcp;
  const via: string[] = [];
  if (listenOn) via.push(describe(listen));
  if (unit?.enabled) via.push(`${unit.unit} is enabled (${unit.file})`);
  if (authValue !== 'none') {
    return {
      status: 'pass',
      message: `${d.name}: ${describe(auth)} requires authentication on TCP`,
      evidence: evidenceOf(auth),
    };
  }
  if (via.length === 0) {
    return {
      status: 'pass',
      message: `${d.name}: ${describe(auth)}, but TCP listening is off (${describe(listen)}, no enabled ${d.name}-tcp.socket); enabling it would expose the daemon without authentication`,
      evidence: evidenceOf(listen),
    };
  }
  return {
    status: 'fail',
    message: `${d.name}: TCP listening is on (${via.join('; ')}) with ${describe(auth)}: anyone who can reach the port manages every guest, unencrypted`,
    evidence: evidenceOf(auth),
  };
}

export const daemonTcpNoAuth = defineCheck(
  {
    id: 'kvm.host.daemon-tcp-no-auth',
    title: 'The libvirt daemon must not accept unauthenticated TCP connections',
    severity: 'critical',
    platform: 'kvm',
    resourceType: 'host',
    rationale:
      'The plain TCP socket of libvirtd (or virtproxyd) carries the full management API without encryption. With auth_tcp = "none" and TCP listening enabled (listen_tcp = 1, or the libvirtd-tcp.socket/virtproxyd-tcp.socket unit under socket activation), anyone who can reach port 16509 can create, start or inspect guests and read their disks: root on the host.',
    remediation:
      'Disable TCP listening (listen_tcp = 0; systemctl disable --now libvirtd-tcp.socket) and use TLS or qemu+ssh, or set auth_tcp = "sasl" with a SASL mechanism that encrypts (GSSAPI), in /etc/libvirt/libvirtd.conf or virtproxyd.conf; restart the daemon.',
    references: { urls: [LIBVIRT_DOCS.auth, LIBVIRT_DOCS.remote, LIBVIRT_DOCS.daemons] },
  },
  (inv) => {
    const kvm = libvirtHost(inv);
    if (!kvm) return [];
    return combine(inv, daemonsOf(kvm, NETWORK_DAEMONS).map(judge));
  },
);
