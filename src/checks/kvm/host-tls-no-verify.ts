import type { KvmHost, LibvirtDaemon } from '../../model/kvm.js';
import type { Setting } from '../../platform/kvm/defaults.js';
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
  listenScope,
  NETWORK_DAEMONS,
  qemuConfUnreadable,
  qemuDriverHost,
  qemuSetting,
  stringOf,
  type Part,
  type QemuKey,
} from './host-common.js';

function judgeDaemon(d: LibvirtDaemon): Part {
  const unreadable = daemonConfUnreadable(d);
  if (unreadable) return unreadable;
  const s = daemonSetting(d, 'tls_no_verify_certificate');
  const off = boolOf(s);
  if (off === undefined) return invalidPart(s, '0 or 1');
  return off
    ? {
        status: 'fail',
        message: `${d.name}: ${describe(s)}: TLS clients are not required to present a certificate signed by the CA, and client certificates are the TLS socket's authentication`,
        evidence: evidenceOf(s),
      }
    : {
        status: 'pass',
        message: `${d.name}: ${describe(s)}: client certificates are verified`,
        evidence: evidenceOf(s),
      };
}

/**
 * The client-certificate verification a qemu.conf TLS user gets: its own `<user>_tls_x509_verify`, else
 * `default_tls_x509_verify`, else the user's built-in default (qemu.conf documents this order).
 */
function verifySetting(kvm: KvmHost, key: QemuKey): Setting {
  const own = qemuSetting(kvm, key);
  if (own.entry) return own;
  const dflt = kvm.qemuConf?.entries.default_tls_x509_verify;
  if (dflt)
    return {
      key: 'default_tls_x509_verify',
      file: kvm.qemuConfPath,
      value: dflt.value,
      isDefault: false,
      entry: dflt,
    };
  return own;
}

function judgeQemu(kvm: KvmHost): Part[] {
  const unreadable = qemuConfUnreadable(kvm);
  if (unreadable) return [unreadable];
  const parts: Part[] = [];
  const users: Array<{ name: string; key: QemuKey; why?: string }> = [
    { name: 'migration', key: 'migrate_tls_x509_verify' },
    { name: 'backup (NBD)', key: 'backup_tls_x509_verify' },
  ];
  const chardevTls = qemuSetting(kvm, 'chardev_tls');
  const chardevOn = boolOf(chardevTls);
  if (chardevOn === undefined) parts.push(invalidPart(chardevTls, '0 or 1'));
  else if (chardevOn)
    users.push({ name: 'chardev', key: 'chardev_tls_x509_verify', why: describe(chardevTls) });
  // VNC authenticates with passwords or SASL; client certificates matter when it is opened to the network with
  // TLS (qemu.conf: "strong recommendation to enable TLS + x509 certificate verification when allowing public
  // access").
  const vncTls = qemuSetting(kvm, 'vnc_tls');
  const vncListen = qemuSetting(kvm, 'vnc_listen');
  const vncOn = boolOf(vncTls);
  const address = stringOf(vncListen);
  if (vncOn === undefined) parts.push(invalidPart(vncTls, '0 or 1'));
  else if (address === undefined) parts.push(invalidPart(vncListen, 'a string'));
  else if (vncOn && listenScope(address) !== 'loopback') {
    users.push({
      name: 'VNC',
      key: 'vnc_tls_x509_verify',
      why: `${describe(vncTls)}, ${describe(vncListen)}`,
    });
  }
  for (const u of users) {
    const s = verifySetting(kvm, u.key);
    const on = boolOf(s);
    if (on === undefined) {
      parts.push(invalidPart(s, '0 or 1'));
      continue;
    }
    const ctx = u.why ? ` (${u.why})` : '';
    parts.push(
      on
        ? {
            status: 'pass',
            message: `${u.name} TLS${ctx}: ${describe(s)}: clients need a certificate signed by the CA`,
            evidence: evidenceOf(s),
          }
        : {
            status: 'fail',
            message: `${u.name} TLS${ctx}: ${describe(s)}: any client that completes a TLS handshake is accepted without a certificate`,
            evidence: evidenceOf(s),
          },
    );
  }
  return parts;
}

export const tlsNoVerify = defineCheck(
  {
    id: 'kvm.host.tls-no-verify',
    title: 'libvirt and QEMU TLS endpoints must verify client certificates',
    severity: 'high',
    platform: 'kvm',
    resourceType: 'host',
    rationale:
      'On libvirt\'s TLS socket the client certificate is the authentication ("Client certificate verification is the primary authentication mechanism"); tls_no_verify_certificate = 1 lets any TLS client in. In qemu.conf, *_tls_x509_verify = 0 (or default_tls_x509_verify = 0) makes the migration, backup NBD, chardev and public VNC TLS servers accept connections from anyone: an incoming-migration port that accepts any client can be fed a forged guest, and an NBD export can be read.',
    remediation:
      'Remove tls_no_verify_certificate from libvirtd.conf/virtproxyd.conf, and set default_tls_x509_verify = 1 (or the specific *_tls_x509_verify = 1) in /etc/libvirt/qemu.conf with client certificates issued from your CA; restart the daemon.',
    references: { urls: [LIBVIRT_DOCS.remote, LIBVIRT_DOCS.tls, LIBVIRT_DOCS.qemu] },
  },
  (inv) => {
    const kvm = libvirtHost(inv);
    if (!kvm) return [];
    const qemu = qemuDriverHost(inv) ? judgeQemu(kvm) : [];
    return combine(inv, [...daemonsOf(kvm, NETWORK_DAEMONS).map(judgeDaemon), ...qemu]);
  },
);
