import type { LibvirtDaemon } from '../../model/kvm.js';
import { SYSTEMD_SOCKET_MODE_DEFAULT, unixSockRwPermsDefault } from '../../platform/kvm/defaults.js';
import { defineCheck } from '../types.js';
import {
  combine,
  daemonConfUnreadable,
  daemonSetting,
  daemonsOf,
  describe,
  evidenceOf,
  invalidPart,
  LIBVIRT_DOCS,
  libvirtHost,
  stringOf,
  type Part,
} from './host-common.js';

/**
 * Who can connect to a daemon's read-write socket. Under socket activation (the daemon's main socket unit is
 * enabled) systemd creates the socket with the unit's SocketMode/SocketGroup and the unix_sock_* settings are
 * not honoured (libvirtd.conf: "This setting is not required or honoured if using systemd socket activation");
 * otherwise the daemon applies unix_sock_rw_perms and unix_sock_group.
 */
function socketAccess(
  d: LibvirtDaemon,
  auth: string,
): { mode: string; group: string; source: string } | Part {
  const unit = d.sockets.main;
  if (unit?.enabled) {
    const mode = unit.socketMode;
    const group = unit.socketGroup;
    return {
      mode: mode?.value ?? SYSTEMD_SOCKET_MODE_DEFAULT,
      group: group?.value ?? 'root',
      source: mode
        ? `SocketMode=${mode.value} (${mode.file}:${mode.line})`
        : `${unit.unit} sets no SocketMode (systemd default ${SYSTEMD_SOCKET_MODE_DEFAULT})`,
    };
  }
  const perms = daemonSetting(d, 'unix_sock_rw_perms', unixSockRwPermsDefault(auth));
  const group = daemonSetting(d, 'unix_sock_group');
  const p = stringOf(perms);
  if (p === undefined) return invalidPart(perms, 'a string');
  const g = stringOf(group);
  if (g === undefined) return invalidPart(group, 'a string');
  return { mode: p, group: g, source: describe(perms) };
}

function judge(d: LibvirtDaemon): Part {
  const unreadable = daemonConfUnreadable(d);
  if (unreadable) return unreadable;
  const auth = daemonSetting(d, 'auth_unix_rw');
  const authValue = stringOf(auth);
  if (authValue === undefined) return invalidPart(auth, 'a string');
  if (authValue !== 'none') {
    return {
      status: 'pass',
      message: `${d.name}: ${describe(auth)} authenticates read-write clients`,
      evidence: evidenceOf(auth),
    };
  }
  const access = socketAccess(d, authValue);
  if ('status' in access) return access;
  if (!/^[0-7]{1,4}$/.test(access.mode)) {
    return {
      status: 'unknown',
      message: `${d.name}: ${describe(auth)} and the socket mode ${JSON.stringify(access.mode)} (${access.source}) is not an octal mode`,
      evidence: evidenceOf(auth),
    };
  }
  const mode = parseInt(access.mode, 8);
  if (mode & 0o002) {
    return {
      status: 'fail',
      message: `${d.name}: ${describe(auth)} and the read-write socket is writable by every local user (${access.source}): any local account gets full control of libvirt, which is root on the host`,
      evidence: evidenceOf(auth),
    };
  }
  const groupNote =
    mode & 0o020 && access.group !== 'root'
      ? `; members of group "${access.group}" have unauthenticated full access (root-equivalent), which must be intended`
      : '';
  return {
    status: 'pass',
    message: `${d.name}: ${describe(auth)}, but only root${groupNote ? ' and a group' : ''} can connect (${access.source})${groupNote}`,
    evidence: evidenceOf(auth),
  };
}

export const unixSocketNoAuth = defineCheck(
  {
    id: 'kvm.host.unix-socket-no-auth',
    title: 'The libvirt read-write socket must not be open to every local user without authentication',
    severity: 'high',
    platform: 'kvm',
    resourceType: 'host',
    rationale:
      'The read-write UNIX socket gives full management of libvirt, which is equivalent to root (a client can define a guest with the host\'s disks or run hooks). auth_unix_rw = "none" is only safe when the socket\'s permissions keep everyone but root (and a deliberately trusted group) out. Under systemd socket activation the socket mode comes from the socket unit (0666 in polkit builds), not from unix_sock_rw_perms, so turning polkit off there opens the socket to every local user.',
    remediation:
      'Leave auth_unix_rw at its default ("polkit") and grant access through polkit rules, or, when using "none", restrict the socket: SocketMode=0600/0660 with SocketGroup in a drop-in for the daemon\'s .socket unit (socket activation) or unix_sock_rw_perms = "0770" with unix_sock_group (no socket activation).',
    references: { urls: [LIBVIRT_DOCS.auth, LIBVIRT_DOCS.daemons] },
  },
  (inv) => {
    const kvm = libvirtHost(inv);
    if (!kvm) return [];
    return combine(inv, daemonsOf(kvm).map(judge));
  },
);
