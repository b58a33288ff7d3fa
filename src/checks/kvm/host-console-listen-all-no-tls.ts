import type { KvmHost } from '../../model/kvm.js';
import { defineCheck } from '../types.js';
import {
  boolOf,
  combine,
  describe,
  evidenceOf,
  invalidPart,
  LIBVIRT_DOCS,
  qemuDriverHost,
  listenScope,
  qemuConfUnreadable,
  qemuSetting,
  stringOf,
  type Part,
} from './host-common.js';

function judge(kvm: KvmHost, proto: 'vnc' | 'spice'): Part {
  const label = proto.toUpperCase();
  const listen = qemuSetting(kvm, `${proto}_listen`);
  const auto = qemuSetting(kvm, `${proto}_auto_unix_socket`);
  const tls = qemuSetting(kvm, `${proto}_tls`);
  const address = stringOf(listen);
  if (address === undefined) return invalidPart(listen, 'a string');
  const autoOn = boolOf(auto);
  if (autoOn === undefined) return invalidPart(auto, '0 or 1');
  const tlsOn = boolOf(tls);
  if (tlsOn === undefined) return invalidPart(tls, '0 or 1');
  if (autoOn) {
    return {
      status: 'pass',
      message: `${label}: ${describe(auto)}, so consoles without an address are served on a UNIX socket`,
      evidence: evidenceOf(auto),
    };
  }
  const scope = listenScope(address);
  if (scope === 'loopback') {
    return {
      status: 'pass',
      message: `${label}: ${describe(listen)} is loopback only`,
      evidence: evidenceOf(listen),
    };
  }
  const reach = scope === 'all' ? 'every interface' : 'a non-loopback address';
  if (tlsOn) {
    return {
      status: 'pass',
      message: `${label}: ${describe(listen)} is ${reach}, with ${describe(tls)}`,
      evidence: evidenceOf(tls),
    };
  }
  return {
    status: 'fail',
    message: `${label}: ${describe(listen)} listens on ${reach} and ${describe(tls)}: consoles (and their passwords) cross the network in clear text`,
    evidence: evidenceOf(listen),
  };
}

export const consoleListenAllNoTls = defineCheck(
  {
    id: 'kvm.host.console-listen-all-no-tls',
    title: 'VNC/SPICE consoles must not listen on the network without TLS',
    severity: 'high',
    platform: 'kvm',
    resourceType: 'host',
    rationale:
      "vnc_listen and spice_listen set the address every guest console without its own listen address binds to. Set to 0.0.0.0, :: or another non-loopback address without vnc_tls/spice_tls, every such console is reachable from the network in clear text: keystrokes, screen contents and VNC passwords can be read or the session taken over. libvirt's qemu.conf itself strongly recommends TLS when allowing public access.",
    remediation:
      'Keep vnc_listen/spice_listen at 127.0.0.1 (reach consoles through an SSH tunnel or virt-viewer over qemu+ssh), or enable vnc_tls = 1 / spice_tls = 1 with certificates, in /etc/libvirt/qemu.conf; restart the libvirt daemon.',
    references: { urls: [LIBVIRT_DOCS.qemu, LIBVIRT_DOCS.tls] },
  },
  (inv) => {
    const kvm = qemuDriverHost(inv);
    if (!kvm) return [];
    const unreadable = qemuConfUnreadable(kvm);
    if (unreadable) return combine(inv, [unreadable]);
    return combine(inv, [judge(kvm, 'vnc'), judge(kvm, 'spice')]);
  },
);
