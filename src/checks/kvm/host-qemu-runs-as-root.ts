import type { Evidence } from '../../model/finding.js';
import type { KvmHost } from '../../model/kvm.js';
import { defineCheck } from '../types.js';
import { combine, LIBVIRT_DOCS, qemuDriverHost, qemuConfUnreadable } from './host-common.js';

/**
 * The uid libvirt runs QEMU as for a `user =` value: `+N` is uid N; otherwise a user name first (looked up in
 * /etc/passwd), then a number read as a uid (qemu.conf: "Since a sequence of digits is a valid user name, a
 * leading plus sign can be used to ensure that a user id will not be interpreted as a user name").
 */
export function qemuUid(user: string, passwd: KvmHost['passwd']): number | undefined {
  if (/^\+\d{1,10}$/.test(user)) return Number(user.slice(1));
  const byName = passwd?.uids[user];
  if (byName !== undefined) return byName;
  if (/^\d{1,10}$/.test(user)) return Number(user);
  if (user === 'root') return 0;
  return undefined;
}

export const qemuRunsAsRoot = defineCheck(
  {
    id: 'kvm.host.qemu-runs-as-root',
    title: 'QEMU processes must not run as root',
    severity: 'high',
    platform: 'kvm',
    resourceType: 'host',
    rationale:
      'The QEMU process parses everything the guest sends to its emulated devices; a guest that exploits a device emulation bug runs code as the QEMU user. When that user is root (user = "root" or "+0" in qemu.conf, or a build whose default is root), a guest escape is a full host compromise and DAC separation between guests is lost.',
    remediation:
      'Set user and group in /etc/libvirt/qemu.conf to the unprivileged account the distribution provides (libvirt-qemu on Debian/Ubuntu, qemu on Fedora/RHEL/SUSE), or remove the override, and restart the libvirt daemon.',
    references: { urls: [LIBVIRT_DOCS.qemu] },
  },
  (inv) => {
    const kvm = qemuDriverHost(inv);
    if (!kvm) return [];
    const unreadable = qemuConfUnreadable(kvm);
    if (unreadable) return combine(inv, [unreadable]);

    const entry = kvm.qemuConf?.entries.user;
    let user: string;
    let where: string;
    let evidence: Evidence;
    if (entry) {
      if (entry.type !== 'string') {
        return combine(inv, [
          {
            status: 'unknown',
            message: `user = ${entry.value} (${entry.file}:${entry.line}) is not a string; libvirt refuses such a file`,
            evidence: {
              file: entry.file,
              key: 'user',
              value: entry.value,
              line: entry.line,
              isDefault: false,
            },
          },
        ]);
      }
      user = entry.value;
      where = `user = "${user}" (${entry.file}:${entry.line})`;
      evidence = { file: entry.file, key: 'user', value: user, line: entry.line, isDefault: false };
    } else if (kvm.qemuUserDefault) {
      const d = kvm.qemuUserDefault;
      user = d.value;
      where = `user is not set in ${kvm.qemuConfPath}; the build default is "${user}" (${d.basis}${d.file ? `, ${d.file}${d.line ? `:${d.line}` : ''}` : ''})`;
      evidence = { file: kvm.qemuConfPath, key: 'user', value: user, isDefault: true };
    } else {
      return combine(inv, [
        {
          status: 'unknown',
          message: `user is not set in ${kvm.qemuConfPath} and the libvirt build's default QEMU user could not be determined (no Debian/Ubuntu libvirt package, no generated "#user = ..." line); libvirt's own fallback for builds without the option is root`,
          evidence: { file: kvm.qemuConfPath, key: 'user', isDefault: true },
        },
      ]);
    }
    const uid = qemuUid(user, kvm.passwd);
    if (uid === 0) {
      return combine(inv, [{ status: 'fail', message: `${where}: QEMU runs with uid 0`, evidence }]);
    }
    const resolved =
      uid !== undefined
        ? `uid ${uid}`
        : kvm.passwd
          ? `no such account in ${kvm.passwd.file}, so libvirt would refuse to start guests`
          : '/etc/passwd was not available to resolve it';
    return combine(inv, [{ status: 'pass', message: `${where}: not root (${resolved})`, evidence }]);
  },
);
