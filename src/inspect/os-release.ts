import type { OsFamily, OsInfo } from '../model/inventory.js';

/** What inspection needs of a mounted filesystem: read a small file if it is there. */
export interface FileReader {
  tryReadFile(path: string, maxBytes?: number): Buffer | undefined;
}

const SMALL_FILE = 64 * 1024;
const MAX_LINES = 1000;

/**
 * Parses os-release(5): `KEY=value` lines, values optionally in single or double quotes with shell-style
 * backslash escapes in double quotes. Unknown and malformed lines are ignored, as systemd does.
 */
export function parseOsRelease(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split('\n');
  for (const raw of lines.slice(0, MAX_LINES)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) continue;
    const key = m[1]!;
    let value = m[2]!;
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) {
      value = value.slice(1, -1).replace(/\\([$"'\\`])/g, '$1');
    } else if (value.startsWith("'") && value.endsWith("'") && value.length >= 2) {
      value = value.slice(1, -1);
    }
    out[key] = value;
  }
  return out;
}

/** The family of a distribution from its os-release `ID` and `ID_LIKE`. */
export function familyOf(id: string, idLike: readonly string[] = []): OsFamily {
  const all = [id, ...idLike];
  if (all.some((x) => x === 'debian' || x === 'ubuntu')) return 'debian';
  if (
    all.some((x) =>
      ['rhel', 'fedora', 'centos', 'rocky', 'almalinux', 'ol', 'amzn', 'mariner', 'azurelinux'].includes(x),
    )
  )
    return 'rhel';
  if (all.some((x) => x.startsWith('sles') || x.startsWith('opensuse') || x === 'suse')) return 'suse';
  if (all.includes('alpine')) return 'alpine';
  if (all.includes('arch')) return 'arch';
  return 'unknown';
}

function fromOsRelease(fields: Record<string, string>, source: string): OsInfo | undefined {
  const id = (fields.ID ?? '').toLowerCase();
  if (id === '') return undefined;
  const idLike = (fields.ID_LIKE ?? '').toLowerCase().split(/\s+/).filter(Boolean);
  const info: OsInfo = { id, idLike, family: familyOf(id, idLike), source };
  if (fields.NAME !== undefined) info.name = fields.NAME;
  if (fields.VERSION !== undefined) info.version = fields.VERSION;
  if (fields.VERSION_ID !== undefined) info.versionId = fields.VERSION_ID;
  if (fields.VERSION_CODENAME !== undefined) info.versionCodename = fields.VERSION_CODENAME;
  if (fields.PRETTY_NAME !== undefined) info.prettyName = fields.PRETTY_NAME;
  return info;
}

function text(fsr: FileReader, path: string): string | undefined {
  return fsr.tryReadFile(path, SMALL_FILE)?.toString('utf8');
}

/** `Red Hat Enterprise Linux release 8.9 (Ootpa)` and friends. */
const RELEASE_FILES: ReadonlyArray<{ path: string; id: string; name: string }> = [
  { path: '/etc/centos-release', id: 'centos', name: 'CentOS Linux' },
  { path: '/etc/rocky-release', id: 'rocky', name: 'Rocky Linux' },
  { path: '/etc/almalinux-release', id: 'almalinux', name: 'AlmaLinux' },
  { path: '/etc/fedora-release', id: 'fedora', name: 'Fedora Linux' },
  { path: '/etc/redhat-release', id: 'rhel', name: 'Red Hat Enterprise Linux' },
];

/**
 * Identifies the operating system of a root filesystem: os-release first (`/etc/os-release`, then
 * `/usr/lib/os-release`), then the distribution files older systems carry (`/etc/lsb-release`,
 * `/etc/debian_version`, `/etc/*-release`, `/etc/alpine-release`, `/etc/SuSE-release`).
 */
export function detectOs(fsr: FileReader): OsInfo | undefined {
  for (const path of ['/etc/os-release', '/usr/lib/os-release']) {
    const t = text(fsr, path);
    if (t === undefined) continue;
    const info = fromOsRelease(parseOsRelease(t), path);
    if (info) return info;
  }
  const lsb = text(fsr, '/etc/lsb-release');
  if (lsb !== undefined) {
    const f = parseOsRelease(lsb);
    const id = f.DISTRIB_ID?.toLowerCase();
    if (id) {
      const info: OsInfo = { id, idLike: [], family: familyOf(id, []), source: '/etc/lsb-release' };
      if (f.DISTRIB_RELEASE) info.versionId = f.DISTRIB_RELEASE;
      if (f.DISTRIB_CODENAME) info.versionCodename = f.DISTRIB_CODENAME;
      if (f.DISTRIB_DESCRIPTION) info.prettyName = f.DISTRIB_DESCRIPTION;
      return info;
    }
  }
  const deb = text(fsr, '/etc/debian_version');
  if (deb !== undefined) {
    const v = deb.trim().split('\n')[0]!.trim();
    const info: OsInfo = {
      id: 'debian',
      idLike: [],
      family: 'debian',
      source: '/etc/debian_version',
      name: 'Debian GNU/Linux',
    };
    // `12.5` is a point release of 12; `bookworm/sid` is a testing system with no number.
    const m = /^(\d+)(?:\.\d+)*$/.exec(v);
    if (m) {
      info.versionId = m[1]!;
      info.version = v;
    } else if (v !== '') {
      info.versionCodename = v.split('/')[0]!;
    }
    return info;
  }
  for (const rf of RELEASE_FILES) {
    const t = text(fsr, rf.path);
    if (t === undefined) continue;
    const line = t.trim().split('\n')[0] ?? '';
    const m = /release\s+([\d.]+)/i.exec(line);
    const info: OsInfo = {
      id: rf.id,
      idLike: [],
      family: familyOf(rf.id, []),
      source: rf.path,
      name: rf.name,
    };
    if (line) info.prettyName = line;
    if (m) info.versionId = m[1]!;
    return info;
  }
  const alpine = text(fsr, '/etc/alpine-release');
  if (alpine !== undefined) {
    return {
      id: 'alpine',
      idLike: [],
      family: 'alpine',
      source: '/etc/alpine-release',
      name: 'Alpine Linux',
      versionId: alpine.trim(),
    };
  }
  const suse = text(fsr, '/etc/SuSE-release');
  if (suse !== undefined) {
    const v = /VERSION\s*=\s*(\S+)/.exec(suse)?.[1];
    const p = /PATCHLEVEL\s*=\s*(\S+)/.exec(suse)?.[1];
    const info: OsInfo = {
      id: 'sles',
      idLike: ['suse'],
      family: 'suse',
      source: '/etc/SuSE-release',
      name: 'SUSE Linux',
    };
    if (v) info.versionId = p ? `${v}.${p}` : v;
    return info;
  }
  return undefined;
}

/** The host name an image will boot with: `/etc/hostname`, else `/etc/HOSTNAME`, else sysconfig. */
export function detectHostname(fsr: FileReader): string | undefined {
  const valid = (s: string): string | undefined => {
    const h = s.trim();
    return /^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$/.test(h) ? h : undefined;
  };
  for (const path of ['/etc/hostname', '/etc/HOSTNAME']) {
    const t = text(fsr, path);
    if (t === undefined) continue;
    const first = t.split('\n').find((l) => l.trim() !== '' && !l.trim().startsWith('#'));
    const h = first === undefined ? undefined : valid(first);
    if (h) return h;
  }
  const net = text(fsr, '/etc/sysconfig/network');
  if (net !== undefined) {
    const v = parseOsRelease(net).HOSTNAME;
    if (v) return valid(v);
  }
  return undefined;
}
