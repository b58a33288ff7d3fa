/**
 * libvirt's built-in values for the configuration keys Hyperward judges: what applies when a key is absent or
 * commented out. Each value is the one libvirt documents in the configuration file it ships (the text quoted is
 * from Debian 12's libvirt 9.0.0 qemu.conf and libvirtd.conf, fixtures/kvm/debian-12/) and matches the
 * initialisation in libvirt's sources (src/qemu/qemu_conf.c virQEMUDriverConfigNew, and
 * src/remote/remote_daemon_config.c daemonConfigNew). Reference pages: https://libvirt.org/drvqemu.html,
 * https://libvirt.org/auth.html, https://libvirt.org/remote.html.
 */
import type { LibvirtConf, LibvirtConfEntry } from '../../model/kvm.js';

export interface KeyDefault {
  /** The value libvirt uses when the key is absent, in the text form the parser gives present values. */
  value: string;
  /** Where libvirt documents it. */
  doc: string;
}

/** qemu.conf (read by libvirtd and virtqemud). */
export const QEMU_CONF_DEFAULTS = {
  // "If set to non-zero, then the default security labeling will make guests confined. If set to zero, then
  // guests will be unconfined by default. Defaults to 1."
  security_default_confined: { value: '1', doc: 'qemu.conf: security_default_confined "Defaults to 1"' },
  // "Unless this option is disabled, QEMU will be run with a seccomp filter" (libvirt keeps -1 internally:
  // use the filter whenever QEMU supports it).
  seccomp_sandbox: {
    value: '1',
    doc: 'qemu.conf: seccomp_sandbox "Unless this option is disabled, QEMU will be run with a seccomp filter"',
  },
  // "QEMU driver is capable of creating private namespaces for each domain started ... This namespace is
  // turned on by default."  #namespaces = [ "mount" ]
  namespaces: {
    value: '["mount"]',
    doc: 'qemu.conf: namespaces "This namespace is turned on by default" ([ "mount" ])',
  },
  // "VNC is configured to listen on 127.0.0.1 by default."
  vnc_listen: {
    value: '127.0.0.1',
    doc: 'qemu.conf: vnc_listen "VNC is configured to listen on 127.0.0.1 by default"',
  },
  // "SPICE is configured to listen on 127.0.0.1 by default."
  spice_listen: {
    value: '127.0.0.1',
    doc: 'qemu.conf: spice_listen "SPICE is configured to listen on 127.0.0.1 by default"',
  },
  // TLS for VNC and SPICE is opt-in: "Enable use of TLS encryption on the VNC server" (#vnc_tls = 1).
  vnc_tls: {
    value: '0',
    doc: 'qemu.conf: vnc_tls is off unless enabled ("Enable use of TLS encryption on the VNC server")',
  },
  spice_tls: {
    value: '0',
    doc: 'qemu.conf: spice_tls is off unless enabled ("Enable use of TLS encryption on the SPICE server")',
  },
  chardev_tls: {
    value: '0',
    doc: 'qemu.conf: chardev_tls is off unless enabled ("Enable use of TLS encryption on the chardev TCP transports")',
  },
  // "Enable this option to have VNC served over an automatically created unix socket" (#vnc_auto_unix_socket = 1).
  vnc_auto_unix_socket: { value: '0', doc: 'qemu.conf: vnc_auto_unix_socket is off unless enabled' },
  spice_auto_unix_socket: { value: '0', doc: 'qemu.conf: spice_auto_unix_socket is off unless enabled' },
  // "By default TLS is requested using the VIR_MIGRATE_TLS flag, thus not requested automatically."
  // #migrate_tls_force = 0
  migrate_tls_force: {
    value: '0',
    doc: 'qemu.conf: migrate_tls_force "By default TLS is requested using the VIR_MIGRATE_TLS flag, thus not requested automatically" (0)',
  },
  // Per-user client-certificate verification: the specific key, else default_tls_x509_verify, else these.
  // vnc: "If default_tls_x509_verify is not supplied either, the default is 0."
  vnc_tls_x509_verify: {
    value: '0',
    doc: 'qemu.conf: vnc_tls_x509_verify falls back to default_tls_x509_verify, then 0',
  },
  // chardev, migrate, backup: "... the default is 1."
  chardev_tls_x509_verify: {
    value: '1',
    doc: 'qemu.conf: chardev_tls_x509_verify falls back to default_tls_x509_verify, then 1',
  },
  migrate_tls_x509_verify: {
    value: '1',
    doc: 'qemu.conf: migrate_tls_x509_verify falls back to default_tls_x509_verify, then 1',
  },
  backup_tls_x509_verify: {
    value: '1',
    doc: 'qemu.conf: backup_tls_x509_verify falls back to default_tls_x509_verify, then 1',
  },
} as const satisfies Record<string, KeyDefault>;

/**
 * libvirtd.conf, virtqemud.conf and virtproxyd.conf (the same daemon code reads all three). These are the values
 * for a privileged daemon of a build with polkit and SASL, as Debian, Ubuntu, Fedora and RHEL build it.
 */
export const DAEMON_CONF_DEFAULTS = {
  // "Listen for unencrypted TCP connections on the public TCP/IP port. ... This is disabled by default"
  listen_tcp: { value: '0', doc: 'libvirtd.conf: listen_tcp "This is disabled by default"' },
  // "Using the TCP socket requires SASL authentication by default."  #auth_tcp = "sasl"
  auth_tcp: {
    value: 'sasl',
    doc: 'libvirtd.conf: auth_tcp "Using the TCP socket requires SASL authentication by default"',
  },
  // "If libvirt was compiled with support for 'polkit', then ... 'auth_unix_rw' will default to 'polkit'."
  auth_unix_rw: {
    value: 'polkit',
    doc: 'libvirtd.conf: auth_unix_rw defaults to "polkit" in builds with polkit',
  },
  // "Default allows only root. If PolicyKit is enabled on the socket, the default will change to allow
  // everyone (eg, 0777)" — see unixSockRwPermsDefault().
  unix_sock_rw_perms: {
    value: '0700',
    doc: 'libvirtd.conf: unix_sock_rw_perms "Default allows only root" (0777 when auth_unix_rw is polkit)',
  },
  // "This is restricted to 'root' by default."
  unix_sock_group: {
    value: 'root',
    doc: 'libvirtd.conf: unix_sock_group "This is restricted to \'root\' by default"',
  },
  // "Client certificate verification is the primary authentication mechanism. ... Default is to always verify."
  tls_no_verify_certificate: {
    value: '0',
    doc: 'libvirtd.conf: tls_no_verify_certificate "Default is to always verify"',
  },
} as const satisfies Record<string, KeyDefault>;

/** systemd's default `SocketMode=` (systemd.socket(5)); libvirt's socket units set 0666 themselves in polkit builds. */
export const SYSTEMD_SOCKET_MODE_DEFAULT = '0666';

/** The read-write socket permissions a daemon uses when unix_sock_rw_perms is absent: it depends on auth_unix_rw. */
export function unixSockRwPermsDefault(authUnixRw: string): string {
  return authUnixRw === 'polkit' ? '0777' : DAEMON_CONF_DEFAULTS.unix_sock_rw_perms.value;
}

/** A configuration key as it applies: the line that sets it, or the built-in default. */
export interface Setting {
  key: string;
  file: string;
  value: string;
  isDefault: boolean;
  /** The line that set it; undefined when the default applied. */
  entry?: LibvirtConfEntry;
}

/** The setting `key` of `conf` (which may be absent: every key then takes its default). */
export function setting(
  conf: LibvirtConf | undefined,
  file: string,
  key: string,
  defaultValue: string,
): Setting {
  const entry = conf?.entries[key];
  if (entry) return { key, file, value: entry.value, isDefault: false, entry };
  return { key, file, value: defaultValue, isDefault: true };
}
