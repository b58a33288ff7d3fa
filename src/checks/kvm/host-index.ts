import type { Check } from '../types.js';
import { confinementDisabled } from './host-confinement-disabled.js';
import { consoleListenAllNoTls } from './host-console-listen-all-no-tls.js';
import { daemonTcpNoAuth } from './host-daemon-tcp-no-auth.js';
import { migrationTlsNotForced } from './host-migration-tls-not-forced.js';
import { namespacesDisabled } from './host-namespaces-disabled.js';
import { qemuRunsAsRoot } from './host-qemu-runs-as-root.js';
import { seccompDisabled } from './host-seccomp-disabled.js';
import { tlsNoVerify } from './host-tls-no-verify.js';
import { unixSocketNoAuth } from './host-unix-socket-no-auth.js';

/** The kvm.host.* checks (KVM/libvirt host configuration), in catalogue order. */
export const kvmHostChecks: Check[] = [
  confinementDisabled,
  qemuRunsAsRoot,
  seccompDisabled,
  namespacesDisabled,
  consoleListenAllNoTls,
  migrationTlsNotForced,
  daemonTcpNoAuth,
  unixSocketNoAuth,
  tlsNoVerify,
];
