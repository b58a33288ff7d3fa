/**
 * Distribution releases as the vulnerability feeds spell them, and as an inventory's os-release says them, both
 * mapped to one `DistroKey`. Pure functions, no I/O.
 */
import type { OsInfo, PackageEcosystem } from '../model/inventory.js';
import type { DistroKey } from './types.js';

export interface DistroRef {
  distro: DistroKey;
  scheme: PackageEcosystem;
}

/** Debian codenames the security tracker uses, to releases. */
export const DEBIAN_CODENAMES: Readonly<Record<string, string>> = {
  wheezy: '7',
  jessie: '8',
  stretch: '9',
  buster: '10',
  bullseye: '11',
  bookworm: '12',
  trixie: '13',
  forky: '14',
  duke: '15',
  sid: 'sid',
};

/**
 * The `DistroKey` of an OSV ecosystem string, or undefined for ecosystems that are not OS distributions this tool
 * matches (npm, PyPI, Go...) or that it cannot place.
 *
 * `Debian:12` → `debian:12`; `Ubuntu:22.04:LTS` → `ubuntu:22.04`; `Ubuntu:Pro:18.04:LTS` → `ubuntu-pro:18.04`;
 * `Alpine:v3.19` → `alpine:3.19`; `Red Hat:enterprise_linux:9::appstream` → `rhel:9`; `AlmaLinux:9` →
 * `almalinux:9`; `Rocky Linux:9` → `rocky:9`; `SUSE:Linux Enterprise Server 15 SP5` → `sles:15.5`;
 * `openSUSE:Leap 15.5` → `opensuse-leap:15.5`; `openSUSE:Tumbleweed` → `opensuse-tumbleweed`.
 */
export function normalizeEcosystem(ecosystem: string): DistroRef | undefined {
  const parts = ecosystem.split(':');
  const head = parts[0];
  let m: RegExpExecArray | null;
  switch (head) {
    case 'Debian': {
      const rel = parts[1];
      if (rel === undefined || !/^(\d{1,3}|sid)$/.test(rel)) return undefined;
      return { distro: `debian:${rel}`, scheme: 'deb' };
    }
    case 'Ubuntu': {
      const pro = parts[1] === 'Pro';
      const rel = pro ? parts[2] : parts[1];
      if (rel === undefined || !/^\d{2}\.\d{2}$/.test(rel)) return undefined;
      return { distro: `${pro ? 'ubuntu-pro' : 'ubuntu'}:${rel}`, scheme: 'deb' };
    }
    case 'Alpine': {
      m = /^v(\d+\.\d+)$/.exec(parts[1] ?? '');
      return m ? { distro: `alpine:${m[1]}`, scheme: 'apk' } : undefined;
    }
    case 'Red Hat': {
      // CPE-style: Red Hat:enterprise_linux:9::appstream, Red Hat:enterprise_linux:8::baseos.
      if (parts[1] !== 'enterprise_linux') return undefined;
      m = /^(\d+)(?:\.\d+)*$/.exec(parts[2] ?? '');
      return m ? { distro: `rhel:${m[1]}`, scheme: 'rpm' } : undefined;
    }
    case 'AlmaLinux':
    case 'Rocky Linux': {
      m = /^(\d+)$/.exec(parts[1] ?? '');
      const name = head === 'AlmaLinux' ? 'almalinux' : 'rocky';
      return m ? { distro: `${name}:${m[1]}`, scheme: 'rpm' } : undefined;
    }
    case 'SUSE': {
      const product = parts.slice(1).join(':');
      m =
        /^Linux Enterprise (Server|Desktop|Module for [\w -]+?|High Performance Computing|Server for SAP Applications) (\d+)(?: SP(\d+))?(?: LTSS)?$/.exec(
          product,
        );
      if (!m) return undefined;
      const kind = m[1] === 'Desktop' ? 'sled' : 'sles';
      return { distro: `${kind}:${m[2]}.${m[3] ?? '0'}`, scheme: 'rpm' };
    }
    case 'openSUSE': {
      const product = parts.slice(1).join(':');
      if (product === 'Tumbleweed') return { distro: 'opensuse-tumbleweed', scheme: 'rpm' };
      m = /^Leap (\d+\.\d+)$/.exec(product);
      return m ? { distro: `opensuse-leap:${m[1]}`, scheme: 'rpm' } : undefined;
    }
    default:
      return undefined;
  }
}

/** The feed key of a Debian security tracker release codename (`bookworm` → `debian:12`). */
export function debianCodename(codename: string): DistroKey | undefined {
  const rel = DEBIAN_CODENAMES[codename];
  return rel === undefined ? undefined : `debian:${rel}`;
}

/**
 * The `DistroKey`s whose advisories apply to an installed system, most specific first, and whether its
 * advisories are keyed by source package. Empty when the OS is unknown or not one the feeds cover.
 *
 * CentOS has no data of its own: it is matched against Red Hat's. Rocky and AlmaLinux have their own feeds.
 */
export function distroKeysFor(os: OsInfo | undefined): { keys: DistroKey[]; bySource: boolean } {
  if (!os) return { keys: [], bySource: false };
  const v = os.versionId ?? '';
  const major = /^(\d+)/.exec(v)?.[1];
  switch (os.id) {
    case 'debian': {
      if (major) return { keys: [`debian:${major}`], bySource: true };
      // Testing/unstable have no VERSION_ID; the codename says which.
      const cn = os.versionCodename ? debianCodename(os.versionCodename) : undefined;
      return { keys: cn ? [cn] : [], bySource: true };
    }
    case 'ubuntu': {
      const rel = /^(\d{2}\.\d{2})/.exec(v)?.[1];
      return { keys: rel ? [`ubuntu:${rel}`] : [], bySource: true };
    }
    case 'alpine': {
      const rel = /^(\d+\.\d+)/.exec(v)?.[1];
      return { keys: rel ? [`alpine:${rel}`] : [], bySource: true };
    }
    case 'rhel':
    case 'centos':
      return { keys: major ? [`rhel:${major}`] : [], bySource: false };
    case 'almalinux':
      return { keys: major ? [`almalinux:${major}`] : [], bySource: false };
    case 'rocky':
      return { keys: major ? [`rocky:${major}`] : [], bySource: false };
    case 'sles':
    case 'sled': {
      const m = /^(\d+)(?:\.(\d+))?/.exec(v);
      return { keys: m ? [`${os.id}:${m[1]}.${m[2] ?? '0'}`] : [], bySource: false };
    }
    case 'opensuse-leap': {
      const rel = /^(\d+\.\d+)/.exec(v)?.[1];
      return { keys: rel ? [`opensuse-leap:${rel}`] : [], bySource: false };
    }
    case 'opensuse-tumbleweed':
      return { keys: ['opensuse-tumbleweed'], bySource: false };
    default:
      return { keys: [], bySource: false };
  }
}
