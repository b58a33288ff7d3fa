/**
 * Reads a KVM/libvirt host's configuration from a root filesystem (a directory, a disk image's OS tree, an SSH
 * session): qemu.conf, the daemon files (libvirtd.conf, virtqemud.conf, virtproxyd.conf) and the systemd socket
 * units that may take over their socket settings, polkit rules that mention libvirt, hook scripts, the host's
 * mandatory access control, /etc/passwd (to tell whether the QEMU user is root), and the installed qemu and
 * libvirt packages. Pure over what the RootReader returns; never writes. A file that exists but cannot be read or
 * parsed becomes an `unreadable` entry and the rest is still read.
 */
import { isHyperwardError } from '../../errors.js';
import { readDpkg, type RootReader } from '../../inspect/system.js';
import type { ConfigEntry, Unreadable } from '../../model/host.js';
import type { Package } from '../../model/inventory.js';
import type {
  BuildDefault,
  ConfState,
  HookScript,
  HostMac,
  KvmHost,
  LibvirtConf,
  LibvirtDaemon,
  LibvirtDaemonName,
  PolkitRuleFile,
  SystemdSocketUnit,
} from '../../model/kvm.js';
import { MAX_CONF_BYTES, parseLibvirtConfBuffer } from './libvirt-conf.js';

export const LIBVIRT_DIR = '/etc/libvirt';
export const QEMU_CONF = '/etc/libvirt/qemu.conf';
const DAEMONS: readonly LibvirtDaemonName[] = ['libvirtd', 'virtqemud', 'virtproxyd'];
/** Daemons that listen on TCP/TLS: the monolithic daemon and the modular proxy (virtqemud is local only). */
const NETWORK_DAEMONS: ReadonlySet<LibvirtDaemonName> = new Set(['libvirtd', 'virtproxyd']);
const BIN_DIRS = ['/usr/sbin', '/sbin', '/usr/bin', '/usr/local/sbin'];
/** systemd's unit search path for the system manager, highest priority first (systemd.unit(5)). */
const UNIT_DIRS = [
  '/etc/systemd/system',
  '/usr/local/lib/systemd/system',
  '/usr/lib/systemd/system',
  '/lib/systemd/system',
];
const POLKIT_DIRS = ['/etc/polkit-1/rules.d', '/usr/share/polkit-1/rules.d'];
const HOOKS_DIR = '/etc/libvirt/hooks';

const MAX_SMALL = 1024 * 1024;
const MAX_PASSWD = 16 * 1024 * 1024;
/**
 * Hook scripts are read only to record that they are there: files up to this size are read (cheap, one small
 * transfer over SSH), larger ones are not read at all and recorded as `unread`.
 */
const HOOK_READ_CAP = 4 * 1024;
const MAX_DIR_FILES = 1000;
const MAX_LINES = 100_000;
const MAX_ACCOUNTS = 100_000;
const MAX_PER_FILE_MATCHES = 100;

/** Packages recorded on the host: QEMU and libvirt, by binary or source package name. */
const KVM_PACKAGE = /^(qemu|libvirt)/;
/** Debian/Ubuntu packages that hold the libvirt daemon and its QEMU driver. */
const DEBIAN_LIBVIRT_DAEMON = new Set([
  'libvirt-daemon',
  'libvirt-daemon-system',
  'libvirt-daemon-driver-qemu',
]);

/** Options for `readKvmHost`. */
export interface ReadKvmHostOptions {
  /** Installed packages when the caller already read them (otherwise the dpkg database is read here). */
  packages?: Package[];
}

/** A reader over one root with the directory listings it has already made (per call: no module state). */
class Root {
  private readonly listings = new Map<string, ReadonlySet<string> | undefined>();
  constructor(
    readonly fs: RootReader,
    readonly unreadable: Unreadable[],
  ) {}

  names(dir: string): ReadonlySet<string> | undefined {
    if (!this.listings.has(dir)) {
      const names = this.fs.list(dir);
      this.listings.set(dir, names === undefined ? undefined : new Set(names));
    }
    return this.listings.get(dir);
  }

  exists(path: string): boolean {
    const slash = path.lastIndexOf('/');
    return this.names(path.slice(0, slash) || '/')?.has(path.slice(slash + 1)) ?? false;
  }

  /**
   * A file's bytes; undefined when it is absent. A file that is listed but cannot be read (too large, not a
   * regular file, not permitted) is recorded as unreadable.
   */
  read(path: string, maxBytes: number): Buffer | undefined {
    const buf = this.fs.tryReadFile(path, maxBytes);
    if (buf !== undefined) return buf;
    if (this.exists(path)) {
      this.unreadable.push({
        file: path,
        code: 'E_LIMIT',
        message: `present but could not be read (larger than ${maxBytes} bytes, not a regular file, or not permitted)`,
      });
    }
    return undefined;
  }

  fail(path: string, e: unknown): void {
    if (!isHyperwardError(e)) throw e;
    this.unreadable.push({ file: path, code: e.code, message: e.message });
  }
}

/**
 * The KVM/libvirt host configuration of a root filesystem, or undefined when the root has neither libvirt nor
 * QEMU. Files that exist but cannot be read or parsed are returned as `unreadable` (the rest is still read).
 */
export function readKvmHost(
  reader: RootReader,
  opts: ReadKvmHostOptions = {},
): { kvm: KvmHost; unreadable: Unreadable[] } | undefined {
  const unreadable: Unreadable[] = [];
  const root = new Root(reader, unreadable);
  const allPackages = opts.packages ?? safePackages(root);
  const packages = allPackages.filter((p) => KVM_PACKAGE.test(p.name) || KVM_PACKAGE.test(p.sourceName));

  const daemons = DAEMONS.map((d) => readDaemon(root, d)).filter(
    (d) => d.binary !== undefined || d.confState !== 'absent' || d.sockets.main !== undefined,
  );
  const libvirtInstalled =
    root.names(LIBVIRT_DIR) !== undefined ||
    daemons.length > 0 ||
    packages.some((p) => p.name.startsWith('libvirt-daemon'));
  const qemuInstalled =
    packages.some((p) => p.name.startsWith('qemu-system') || p.name === 'qemu-kvm') ||
    ['/usr/bin', '/usr/libexec'].some((d) =>
      [...(root.names(d) ?? [])].some((n) => n.startsWith('qemu-system-') || n === 'qemu-kvm'),
    );
  if (!libvirtInstalled && !qemuInstalled) return undefined;

  const qemu = readConf(root, QEMU_CONF);
  const kvm: KvmHost = {
    libvirtInstalled,
    qemuConfPath: QEMU_CONF,
    qemuConfState: qemu.state,
    daemons,
    polkitRules: readPolkit(root),
    hooks: readHooks(root),
    packages,
    mac: readMac(root, allPackages),
  };
  if (qemu.conf) kvm.qemuConf = qemu.conf;
  const userDefault = qemuUserDefault(allPackages, qemu.text);
  if (userDefault) kvm.qemuUserDefault = userDefault;
  const passwd = readPasswd(root);
  if (passwd) kvm.passwd = passwd;
  return { kvm, unreadable };
}

function safePackages(root: Root): Package[] {
  try {
    return readDpkg(root.fs) ?? [];
  } catch (e) {
    root.fail('/var/lib/dpkg/status', e);
    return [];
  }
}

function readConf(root: Root, path: string): { state: ConfState; conf?: LibvirtConf; text?: string } {
  const buf = root.read(path, MAX_CONF_BYTES);
  if (buf === undefined) return { state: root.exists(path) ? 'unreadable' : 'absent' };
  try {
    return { state: 'parsed', conf: parseLibvirtConfBuffer(buf, path), text: buf.toString('utf8') };
  } catch (e) {
    root.fail(path, e);
    return { state: 'unreadable' };
  }
}

function readDaemon(root: Root, name: LibvirtDaemonName): LibvirtDaemon {
  const confPath = `${LIBVIRT_DIR}/${name}.conf`;
  const c = readConf(root, confPath);
  const d: LibvirtDaemon = { name, confPath, confState: c.state, sockets: {} };
  if (c.conf) d.conf = c.conf;
  const bin = BIN_DIRS.find((dir) => root.names(dir)?.has(name));
  if (bin) d.binary = `${bin}/${name}`;
  const main = readSocketUnit(root, `${name}.socket`);
  if (main) d.sockets.main = main;
  if (NETWORK_DAEMONS.has(name)) {
    const tcp = readSocketUnit(root, `${name}-tcp.socket`);
    if (tcp) d.sockets.tcp = tcp;
    const tls = readSocketUnit(root, `${name}-tls.socket`);
    if (tls) d.sockets.tls = tls;
  }
  return d;
}

/**
 * A systemd socket unit as systemd would load it: the first unit file in the search path, then its drop-ins
 * (`UNIT.d/*.conf` from every unit directory, a name in a higher-priority directory hiding the same name in a
 * lower one, applied in name order). A unit in /etc/systemd/system that cannot be read is taken as masked
 * (a link to /dev/null) and the unit as absent.
 */
function readSocketUnit(root: Root, unit: string): SystemdSocketUnit | undefined {
  const dir = UNIT_DIRS.find((d) => root.names(d)?.has(unit));
  if (dir === undefined) return undefined;
  const file = `${dir}/${unit}`;
  const buf = root.fs.tryReadFile(file, MAX_SMALL);
  if (buf === undefined) return undefined;
  const settings: Record<string, ConfigEntry | undefined> = {};
  const apply = (path: string, text: string): void => {
    for (const e of parseUnitSocketSection(text, path)) {
      // An empty assignment resets the setting to its default (systemd.syntax(7)).
      settings[e.key] = e.value === '' ? undefined : e;
    }
  };
  apply(file, buf.toString('utf8'));
  const dropIns = new Map<string, string>();
  for (const d of UNIT_DIRS) {
    const names = root.names(`${d}/${unit}.d`);
    for (const n of [...(names ?? [])].slice(0, MAX_DIR_FILES)) {
      if (n.endsWith('.conf') && !dropIns.has(n)) dropIns.set(n, `${d}/${unit}.d/${n}`);
    }
  }
  for (const n of [...dropIns.keys()].sort()) {
    const path = dropIns.get(n)!;
    const b = root.read(path, MAX_SMALL);
    if (b !== undefined) apply(path, b.toString('utf8'));
  }
  const enabled = UNIT_DIRS.some((d) => root.names(`${d}/sockets.target.wants`)?.has(unit));
  const u: SystemdSocketUnit = { unit, file, enabled };
  if (settings.SocketMode) u.socketMode = settings.SocketMode;
  if (settings.SocketGroup) u.socketGroup = settings.SocketGroup;
  return u;
}

/** `SocketMode=` and `SocketGroup=` assignments of the `[Socket]` section of a unit file, in order. */
export function parseUnitSocketSection(text: string, file: string): ConfigEntry[] {
  const out: ConfigEntry[] = [];
  const lines = text.split('\n');
  let section = '';
  for (let i = 0; i < lines.length && i < MAX_LINES; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    if (line.startsWith('[') && line.endsWith(']')) {
      section = line.slice(1, -1);
      continue;
    }
    if (section !== 'Socket') continue;
    const m = /^(SocketMode|SocketGroup)\s*=\s*(.*)$/.exec(line);
    if (m) out.push({ key: m[1]!, value: m[2]!.trim(), file, line: i + 1 });
  }
  return out;
}

function readPolkit(root: Root): PolkitRuleFile[] {
  const out: PolkitRuleFile[] = [];
  for (const dir of POLKIT_DIRS) {
    const names = [...(root.names(dir) ?? [])].filter((n) => n.endsWith('.rules')).sort();
    for (const n of names.slice(0, MAX_DIR_FILES)) {
      const path = `${dir}/${n}`;
      const buf = root.read(path, MAX_SMALL);
      if (buf === undefined) continue;
      const text = buf.toString('utf8');
      if (!/libvirt/i.test(n) && !text.includes('org.libvirt')) continue;
      out.push({
        path,
        size: buf.length,
        actions: unique(text, /org\.libvirt\.[A-Za-z0-9._-]+/g, 0),
        groups: unique(text, /isInGroup\(\s*["']([^"'\n]{1,256})["']\s*\)/g, 1),
        grantsWithoutAuth: /polkit\.Result\.YES\b/.test(text),
      });
    }
  }
  return out;
}

function unique(text: string, re: RegExp, group: number): string[] {
  const seen = new Set<string>();
  for (const m of text.matchAll(re)) {
    seen.add(m[group]!);
    if (seen.size >= MAX_PER_FILE_MATCHES) break;
  }
  return [...seen];
}

function readHooks(root: Root): HookScript[] {
  const out: HookScript[] = [];
  const visit = (dir: string, depth: number): void => {
    const names = [...(root.names(dir) ?? [])].sort().slice(0, MAX_DIR_FILES);
    for (const n of names) {
      const path = `${dir}/${n}`;
      // Readers return nothing for a file above the cap: a larger script is `unread`, its size unknown.
      const buf = root.fs.tryReadFile(path, HOOK_READ_CAP);
      if (buf !== undefined) {
        out.push({ path, kind: 'file', size: buf.length });
      } else if (root.names(path) !== undefined) {
        out.push({ path, kind: 'dir' });
        // libvirt also runs every script in hooks/<driver>.d/ (one level).
        if (depth === 0) visit(path, 1);
      } else {
        out.push({ path, kind: 'unread' });
      }
    }
  };
  visit(HOOKS_DIR, 0);
  return out;
}

function readMac(root: Root, packages: readonly Package[]): HostMac {
  const mac: HostMac = {};
  const selinux = root.read('/etc/selinux/config', MAX_SMALL);
  if (selinux !== undefined) {
    const lines = selinux.toString('utf8').split('\n');
    for (let i = 0; i < lines.length && i < MAX_LINES; i++) {
      const m = /^\s*SELINUX\s*=\s*"?([A-Za-z]*)"?\s*$/.exec(lines[i]!);
      if (m)
        mac.selinux = {
          key: 'SELINUX',
          value: m[1]!.toLowerCase(),
          file: '/etc/selinux/config',
          line: i + 1,
        };
    }
  }
  const kernel = root.fs.tryReadFile('/sys/module/apparmor/parameters/enabled', 64);
  if (kernel !== undefined) {
    const v = kernel.toString('utf8').trim();
    if (v === 'Y' || v === 'N') {
      mac.apparmorKernel = {
        key: 'enabled',
        value: v,
        file: '/sys/module/apparmor/parameters/enabled',
        line: 1,
      };
    }
  }
  const pkg = packages.find((p) => p.name === 'apparmor');
  if (pkg) mac.apparmorInstalled = `package apparmor ${pkg.version}`;
  else {
    const bin = ['/usr/sbin', '/sbin'].find((d) => root.names(d)?.has('apparmor_parser'));
    if (bin) mac.apparmorInstalled = `${bin}/apparmor_parser`;
  }
  if (root.exists('/etc/apparmor.d/libvirt/TEMPLATE.qemu')) {
    mac.apparmorLibvirtTemplate = '/etc/apparmor.d/libvirt/TEMPLATE.qemu';
  }
  return mac;
}

/**
 * The user QEMU runs as when qemu.conf has no `user =`: libvirt's build option `qemu_user`. Debian and Ubuntu
 * build it as `libvirt-qemu` (their packaged qemu.conf says `#user = "libvirt-qemu"`). Elsewhere the shipped
 * qemu.conf tells it: libvirt generates the commented line `#user = "@QEMU_USER@"` (src/qemu/qemu.conf.in) from
 * the same option, so an unedited file carries the build's value. Upstream's own fallback is `root`, so with
 * neither clue the default is not known.
 */
function qemuUserDefault(
  packages: readonly Package[],
  qemuConfText: string | undefined,
): BuildDefault | undefined {
  const deb = packages.find((p) => p.ecosystem === 'deb' && DEBIAN_LIBVIRT_DAEMON.has(p.name));
  if (deb) {
    return {
      value: 'libvirt-qemu',
      basis: `Debian/Ubuntu build of libvirt (package ${deb.name} ${deb.version}) sets qemu_user=libvirt-qemu`,
      file: deb.source,
    };
  }
  if (qemuConfText === undefined) return undefined;
  const lines = qemuConfText.split('\n');
  for (let i = 0; i < lines.length && i < MAX_LINES; i++) {
    const m = /^#user = "([^"\n]*)"[ \t\r]*$/.exec(lines[i]!);
    if (m) {
      return {
        value: m[1]!,
        basis:
          'the commented default of the shipped qemu.conf, which libvirt generates from its qemu_user build option',
        file: QEMU_CONF,
        line: i + 1,
      };
    }
  }
  return undefined;
}

function readPasswd(root: Root): { file: string; uids: Record<string, number> } | undefined {
  const file = '/etc/passwd';
  const buf = root.read(file, MAX_PASSWD);
  if (buf === undefined) return undefined;
  const uids = Object.create(null) as Record<string, number>;
  let n = 0;
  const lines = buf.toString('utf8').split('\n');
  for (let i = 0; i < lines.length && i < MAX_LINES * 10; i++) {
    const f = lines[i]!.split(':', 4);
    if (f.length < 3 || f[0] === '' || !/^\d{1,10}$/.test(f[2]!)) continue;
    // The first entry of a name is the one getpwnam returns.
    if (!(f[0]! in uids)) uids[f[0]!] = Number(f[2]);
    if (++n >= MAX_ACCOUNTS) break;
  }
  return { file, uids };
}
