/**
 * kvm.vm.console-unauthenticated: a VNC or SPICE display reachable over the network without a password. The listen
 * address is the `<listen>` child or the `listen` attribute; a listen of type `network` takes a libvirt network's
 * address and counts as reachable; without any address libvirt uses qemu.conf's `vnc_listen`/`spice_listen`
 * (built-in default 127.0.0.1) or, with `*_auto_unix_socket`, a UNIX socket; when no host was read (a loose domain
 * XML) that default is not known and the display is `unknown`. Authentication is the domain's
 * `passwd`, else qemu.conf's `vnc_password`/`spice_password`, SASL (`*_sasl`), or for VNC TLS with client
 * certificate verification.
 */
import type { Evidence } from '../../model/finding.js';
import type { HostInventory } from '../../model/host.js';
import type { LibvirtConfEntry, LibvirtDomain, LibvirtGraphics } from '../../model/kvm.js';
import { defineCheck, type CheckOutcome } from '../types.js';
import { isLoopback } from './host-common.js';
import { domEvidence, eachDomain, listText } from './vm-common.js';

/** libvirt's built-in default for `vnc_listen` and `spice_listen` (qemu.conf, commented out). */
const BUILTIN_LISTEN = '127.0.0.1';

type Endpoint =
  | { kind: 'tcp'; address: string; viaNetwork?: string; evidence: Evidence }
  | { kind: 'local'; why: string }
  | { kind: 'unknown'; why: string };

interface Verdict {
  status: CheckOutcome['status'];
  text: string;
  evidence?: Evidence;
}

/** A qemu.conf boolean as libvirt reads it (virConfGetValueBool): the unsigned integer 1. */
function confTrue(e: LibvirtConfEntry | undefined): boolean {
  return e !== undefined && e.type === 'integer' && e.negative !== true && e.value === '1';
}

function confEntries(inv: HostInventory): Record<string, LibvirtConfEntry> | undefined {
  return inv.kvm?.qemuConf?.entries;
}

function confEvidence(
  inv: HostInventory,
  key: string,
  e: LibvirtConfEntry | undefined,
  dflt: string,
): Evidence {
  if (e) return { file: e.file, line: e.line, key, value: e.value };
  return { file: inv.kvm?.qemuConfPath ?? '/etc/libvirt/qemu.conf', key, value: dflt, isDefault: true };
}

/** Where a listen without an address ends up: qemu.conf's auto socket, its listen address, or the built-in one. */
function defaultEndpoint(inv: HostInventory, kind: 'vnc' | 'spice'): Endpoint {
  if (!inv.kvm) {
    // A loose domain XML (`scan config`): the host whose qemu.conf decides was not read at all.
    return {
      kind: 'unknown',
      why: `no listen address is set, so it comes from the host's qemu.conf (${kind}_listen, default ${BUILTIN_LISTEN}), which was not read`,
    };
  }
  if (inv.kvm.qemuConfState === 'unreadable') {
    return {
      kind: 'unknown',
      why: `qemu.conf could not be read, so the default ${kind}_listen is not known`,
    };
  }
  const entries = confEntries(inv);
  const auto = entries?.[`${kind}_auto_unix_socket`];
  if (confTrue(auto) && auto) return { kind: 'local', why: `${kind}_auto_unix_socket = 1 (UNIX socket)` };
  const key = `${kind}_listen`;
  const e = entries?.[key];
  const address = e ? e.value : BUILTIN_LISTEN;
  return { kind: 'tcp', address, evidence: confEvidence(inv, key, e, BUILTIN_LISTEN) };
}

function endpoints(
  inv: HostInventory,
  dom: LibvirtDomain,
  g: LibvirtGraphics,
  kind: 'vnc' | 'spice',
): Endpoint[] {
  if (kind === 'vnc' && g.socket !== undefined) return [{ kind: 'local', why: `socket ${g.socket}` }];
  if (g.listens.length === 0) {
    if (g.listenAttr !== undefined && g.listenAttr !== '') {
      return [
        {
          kind: 'tcp',
          address: g.listenAttr,
          evidence: domEvidence(dom, g.line, `graphics[@type='${kind}']/@listen`, g.listenAttr),
        },
      ];
    }
    return [defaultEndpoint(inv, kind)];
  }
  return g.listens.map((l): Endpoint => {
    switch (l.type) {
      case 'none':
        return { kind: 'local', why: 'listen type none' };
      case 'socket':
        return { kind: 'local', why: `socket ${l.socket ?? '(generated)'}` };
      case 'network':
        return {
          kind: 'tcp',
          address: `the address of libvirt network ${l.network ?? '?'}`,
          viaNetwork: l.network ?? '?',
          evidence: domEvidence(
            dom,
            l.line,
            `graphics[@type='${kind}']/listen[@type='network']/@network`,
            l.network ?? '',
          ),
        };
      default: {
        const address = l.address ?? (g.listenAttr !== '' ? g.listenAttr : undefined);
        if (address === undefined) return defaultEndpoint(inv, kind);
        return {
          kind: 'tcp',
          address,
          evidence: domEvidence(dom, l.line, `graphics[@type='${kind}']/listen/@address`, address),
        };
      }
    }
  });
}

/** How a reachable display authenticates, or undefined when nothing shows it does. */
function authentication(
  inv: HostInventory,
  dom: LibvirtDomain,
  g: LibvirtGraphics,
  kind: 'vnc' | 'spice',
): string | undefined {
  if (g.passwd === 'set') return 'a passwd is set';
  if (g.passwd === 'empty') return "passwd='' (libvirt documents an empty password as disabling access)";
  if (dom.passwordsRedacted && (g.passwdValidTo !== undefined || g.connected !== undefined)) {
    return 'passwdValidTo/connected are present, which libvirt prints only for a set password';
  }
  const entries = confEntries(inv);
  const pw = entries?.[`${kind}_password`];
  if (pw) return `qemu.conf sets ${kind}_password (${pw.file}:${pw.line})`;
  const sasl = entries?.[`${kind}_sasl`];
  if (confTrue(sasl) && sasl) return `qemu.conf enables ${kind}_sasl (${sasl.file}:${sasl.line})`;
  if (kind === 'vnc') {
    const tls = entries?.vnc_tls;
    const verify = entries?.vnc_tls_x509_verify ?? entries?.default_tls_x509_verify;
    if (confTrue(tls) && confTrue(verify) && verify) {
      return `qemu.conf requires client certificates (vnc_tls = 1, ${verify.key} = 1)`;
    }
  }
  return undefined;
}

function judgeGraphics(inv: HostInventory, dom: LibvirtDomain, g: LibvirtGraphics): Verdict {
  const kind = g.type === 'vnc' ? 'vnc' : 'spice';
  const label = `${kind.toUpperCase()} display (line ${g.line})`;
  const eps = endpoints(inv, dom, g, kind);
  const exposed = eps.filter(
    (e): e is Extract<Endpoint, { kind: 'tcp' }> =>
      e.kind === 'tcp' && (e.viaNetwork !== undefined || !isLoopback(e.address)),
  );
  const unknown = eps.find((e): e is Extract<Endpoint, { kind: 'unknown' }> => e.kind === 'unknown');
  if (exposed.length === 0) {
    if (unknown) return { status: 'unknown', text: `${label}: ${unknown.why}` };
    const where = eps
      .map((e) =>
        e.kind === 'tcp'
          ? `${e.address}${e.evidence.isDefault ? ` (${e.evidence.key} default)` : ''}`
          : e.kind === 'local'
            ? e.why
            : '',
      )
      .join(', ');
    const tcp = eps.find((e): e is Extract<Endpoint, { kind: 'tcp' }> => e.kind === 'tcp');
    const v: Verdict = { status: 'pass', text: `${label} is not network-reachable: ${where}` };
    if (tcp) v.evidence = tcp.evidence;
    return v;
  }
  const first = exposed[0]!;
  const where = listText(exposed.map((e) => e.address));
  const auth = authentication(inv, dom, g, kind);
  if (auth !== undefined) {
    return { status: 'pass', text: `${label} listens on ${where} but ${auth}`, evidence: first.evidence };
  }
  if (dom.passwordsRedacted) {
    return {
      status: 'unknown',
      text: `${label} listens on ${where}; the XML came without secrets (virsh dumpxml), so whether a passwd is set cannot be seen`,
      evidence: first.evidence,
    };
  }
  return {
    status: 'fail',
    text: `${label} listens on ${where} with no password or other authentication`,
    evidence: first.evidence,
  };
}

/** The check. */
export const vmConsoleUnauthenticated = defineCheck(
  {
    id: 'kvm.vm.console-unauthenticated',
    title: 'VM graphical console reachable over the network without authentication',
    severity: 'high',
    platform: 'kvm',
    resourceType: 'vm',
    rationale:
      'A VNC or SPICE display gives keyboard, mouse and screen of the guest: whoever reaches its port controls the VM ' +
      'console, and can often reboot it into single-user mode. A display listening on a non-loopback address with no ' +
      'password, SASL or client-certificate requirement is open to anyone on the network.',
    remediation:
      "Listen on 127.0.0.1 or a UNIX socket (<listen type='socket'/>) and reach the console through virt-viewer or an " +
      'SSH tunnel; if it must be network-reachable, set passwd on <graphics> (or vnc_password/spice_password, ' +
      'vnc_sasl/spice_sasl, or vnc_tls with vnc_tls_x509_verify in qemu.conf).',
    references: {
      urls: ['https://libvirt.org/formatdomain.html#graphical-framebuffers'],
    },
  },
  (inv) =>
    eachDomain(inv, (dom) => {
      const displays = dom.graphics.filter((g) => g.type === 'vnc' || g.type === 'spice');
      if (displays.length === 0) return { status: 'pass', message: 'no VNC or SPICE display' };
      const verdicts = displays.map((g) => judgeGraphics(inv, dom, g));
      const pick = (s: CheckOutcome['status']): Verdict[] => verdicts.filter((v) => v.status === s);
      const fail = pick('fail');
      const unknown = pick('unknown');
      const chosen = fail.length > 0 ? fail : unknown.length > 0 ? unknown : verdicts;
      const status: CheckOutcome['status'] =
        fail.length > 0 ? 'fail' : unknown.length > 0 ? 'unknown' : 'pass';
      const out: Omit<CheckOutcome, 'resource'> = { status, message: chosen.map((v) => v.text).join('; ') };
      const ev = chosen.find((v) => v.evidence)?.evidence;
      if (ev) out.evidence = ev;
      return out;
    }),
);
