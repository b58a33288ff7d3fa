/**
 * From a parsed RPM header to Hyperward's records: the inventory `Package` and a richer record (install time,
 * every file with its digest, mode, size and flags) that tamper checks compare with the files on disk.
 */
import { HyperwardError, type ErrorLocation } from '../../errors.js';
import type { Package } from '../../model/inventory.js';
import { RpmHeader, RpmTag } from './header.js';

/** `rpmfileAttrs`: bits of FILEFLAGS. */
export const RpmFileFlag = {
  CONFIG: 1 << 0,
  DOC: 1 << 1,
  ICON: 1 << 2,
  MISSINGOK: 1 << 3,
  NOREPLACE: 1 << 4,
  SPECFILE: 1 << 5,
  GHOST: 1 << 6,
  LICENSE: 1 << 7,
  README: 1 << 8,
  PUBKEY: 1 << 11,
  ARTIFACT: 1 << 12,
} as const;

/** `rpmfileState`: values of FILESTATES (a CHAR array; `missing` is -1, read as 255). */
export const RpmFileState = {
  NORMAL: 0,
  REPLACED: 1,
  NOTINSTALLED: 2,
  NETSHARED: 3,
  WRONGCOLOR: 4,
  MISSING: 255,
} as const;

/** OpenPGP hash algorithm ids as FILEDIGESTALGO uses them (RFC 4880 §9.4 plus rpm's additions). */
const DIGEST_ALGORITHMS: Readonly<Record<number, string>> = {
  1: 'md5',
  2: 'sha1',
  3: 'ripemd160',
  5: 'md2',
  6: 'tiger192',
  7: 'haval-5-160',
  8: 'sha256',
  9: 'sha384',
  10: 'sha512',
  11: 'sha224',
  12: 'sha3-256',
  14: 'sha3-512',
};

/** The name of an OpenPGP hash algorithm id (`md5`, `sha256`...), `unknown-N` for others. */
export function digestAlgorithmName(id: number): string {
  return DIGEST_ALGORITHMS[id] ?? `unknown-${id}`;
}

/** One file a package owns, as the rpm database records it. */
export interface RpmFile {
  /** Absolute path (DIRNAMES[DIRINDEXES[i]] + BASENAMES[i], or OLDFILENAMES[i]). */
  path: string;
  /** Lower-case hex digest of the content; empty for directories, symlinks, ghosts and devices. */
  digest: string;
  /** st_mode: type and permission bits. */
  mode: number;
  /** Size in bytes (LONGFILESIZES, else FILESIZES). */
  size: number;
  /** FILEFLAGS bits (see `RpmFileFlag`). */
  flags: number;
  /** `%config`: expected to change on a running system. */
  config: boolean;
  /** `%ghost`: owned but not shipped; its content is not recorded. */
  ghost: boolean;
  /** Symlink target, for symlinks. */
  linkTo?: string;
  user?: string;
  group?: string;
  /** Modification time, Unix seconds. */
  mtime?: number;
  /** FILESTATES value (see `RpmFileState`): files not installed (`%lang`, `--excludedocs`) are not on disk. */
  state?: number;
  /** FILEVERIFYFLAGS: what `rpm -V` checks for this file. */
  verifyFlags?: number;
}

/** Everything Hyperward keeps of one installed RPM package. */
export interface RpmPackageRecord {
  /** rpm's header instance (SQLite hnum, BDB key, NDB pkgidx). */
  instance: number;
  name: string;
  epoch?: number;
  version: string;
  release: string;
  /** Empty for `gpg-pubkey` pseudo-packages, which have none. */
  arch: string;
  os?: string;
  /** SOURCERPM, e.g. `util-linux-2.32.1-42.el8_8.src.rpm`. */
  sourceRpm?: string;
  /** Unix seconds. */
  installTime?: number;
  buildTime?: number;
  /** Installed size in bytes (LONGSIZE, else SIZE). */
  size?: number;
  summary?: string;
  vendor?: string;
  packager?: string;
  license?: string;
  /** MODULARITYLABEL, e.g. `nodejs:10:8020020200707141642:6a468ee4`, on RHEL 8+ module packages. */
  modularityLabel?: string;
  /** SIGMD5 as hex: the MD5 of header and payload rpm verifies the package against. */
  sigmd5?: string;
  sha1Header?: string;
  sha256Header?: string;
  /** FILEDIGESTALGO as a name (`md5` when the header has none, as rpm assumes). */
  digestAlgorithm: string;
  digestAlgorithmId: number;
  files: RpmFile[];
  /** Inconsistencies within this header that made some file attributes unusable. */
  notes: string[];
}

/**
 * Splits a source RPM file name `name-version-release.src.rpm` from the right (names may contain dashes,
 * versions and releases may not). Undefined when it does not have that shape.
 */
export function parseSourceRpm(
  sourceRpm: string,
): { name: string; version: string; release: string } | undefined {
  const m = /^(.*)\.(?:no)?src\.rpm$/.exec(sourceRpm);
  if (!m) return undefined;
  const nvr = m[1]!;
  const r = nvr.lastIndexOf('-');
  if (r <= 0) return undefined;
  const v = nvr.lastIndexOf('-', r - 1);
  if (v <= 0) return undefined;
  const name = nvr.slice(0, v);
  const version = nvr.slice(v + 1, r);
  const release = nvr.slice(r + 1);
  if (name === '' || version === '' || release === '') return undefined;
  return { name, version, release };
}

/** `[E:]V-R`, with the epoch only when the header sets one (as `rpm -q --qf '%{EVR}'` prints it). */
export function rpmEvr(epoch: number | undefined, version: string, release: string): string {
  return `${epoch !== undefined ? `${epoch}:` : ''}${version}-${release}`;
}

const hex = (b: Buffer | undefined): string | undefined =>
  b && b.length > 0 ? b.toString('hex') : undefined;

/** A per-file array of the expected length, or undefined (with a note) when absent or inconsistent. */
function perFile<T>(values: T[] | undefined, n: number, what: string, notes: string[]): T[] | undefined {
  if (values === undefined) return undefined;
  if (values.length !== n) {
    notes.push(`${what} has ${values.length} entries for ${n} files; ignored`);
    return undefined;
  }
  return values;
}

/** The file list of a header; inconsistent arrays are reported in `notes` and left out. */
function filesOf(h: RpmHeader, notes: string[]): RpmFile[] {
  let paths: string[] | undefined;
  const basenames = h.strings(RpmTag.BASENAMES);
  if (basenames !== undefined) {
    const dirnames = h.strings(RpmTag.DIRNAMES) ?? [];
    const dirindexes = perFile(h.numbers(RpmTag.DIRINDEXES), basenames.length, 'DIRINDEXES', notes);
    if (dirindexes === undefined) {
      notes.push('file names have no valid DIRINDEXES; file list dropped');
      return [];
    }
    paths = [];
    let orphans = 0;
    for (let i = 0; i < basenames.length; i++) {
      const dir = dirnames[dirindexes[i]!];
      if (dir === undefined) {
        orphans++;
        paths.push('');
        continue;
      }
      paths.push(dir + basenames[i]!);
    }
    if (orphans > 0) notes.push(`${orphans} files point past the ${dirnames.length} DIRNAMES; skipped`);
  } else {
    paths = h.strings(RpmTag.OLDFILENAMES);
  }
  if (paths === undefined || paths.length === 0) return [];
  const n = paths.length;
  const digests = perFile(h.strings(RpmTag.FILEDIGESTS), n, 'FILEDIGESTS', notes);
  const modes = perFile(h.numbers(RpmTag.FILEMODES), n, 'FILEMODES', notes);
  const sizes =
    perFile(h.numbers(RpmTag.LONGFILESIZES), n, 'LONGFILESIZES', notes) ??
    perFile(h.numbers(RpmTag.FILESIZES), n, 'FILESIZES', notes);
  const flags = perFile(h.numbers(RpmTag.FILEFLAGS), n, 'FILEFLAGS', notes);
  const links = perFile(h.strings(RpmTag.FILELINKTOS), n, 'FILELINKTOS', notes);
  const users = perFile(h.strings(RpmTag.FILEUSERNAME), n, 'FILEUSERNAME', notes);
  const groups = perFile(h.strings(RpmTag.FILEGROUPNAME), n, 'FILEGROUPNAME', notes);
  const mtimes = perFile(h.numbers(RpmTag.FILEMTIMES), n, 'FILEMTIMES', notes);
  const states = perFile(h.numbers(RpmTag.FILESTATES), n, 'FILESTATES', notes);
  const verify = perFile(h.numbers(RpmTag.FILEVERIFYFLAGS), n, 'FILEVERIFYFLAGS', notes);
  const files: RpmFile[] = [];
  for (let i = 0; i < n; i++) {
    const path = paths[i]!;
    if (path === '') continue;
    const fl = flags?.[i] ?? 0;
    const f: RpmFile = {
      path,
      digest: (digests?.[i] ?? '').toLowerCase(),
      mode: modes?.[i] ?? 0,
      size: sizes?.[i] ?? 0,
      flags: fl,
      config: (fl & RpmFileFlag.CONFIG) !== 0,
      ghost: (fl & RpmFileFlag.GHOST) !== 0,
    };
    const link = links?.[i];
    if (link) f.linkTo = link;
    if (users?.[i] !== undefined) f.user = users[i]!;
    if (groups?.[i] !== undefined) f.group = groups[i]!;
    if (mtimes?.[i] !== undefined) f.mtime = mtimes[i]!;
    if (states?.[i] !== undefined) f.state = states[i]!;
    if (verify?.[i] !== undefined) f.verifyFlags = verify[i]!;
    files.push(f);
  }
  return files;
}

/**
 * The record of one installed package from its header. Throws a HyperwardError when NAME, VERSION or RELEASE
 * is missing: such a header is not a package.
 */
export function rpmRecordFromHeader(
  h: RpmHeader,
  instance: number,
  where: ErrorLocation = {},
): RpmPackageRecord {
  const name = h.string(RpmTag.NAME);
  const version = h.string(RpmTag.VERSION);
  const release = h.string(RpmTag.RELEASE);
  if (!name || version === undefined || release === undefined) {
    throw new HyperwardError('E_FS_CORRUPT', 'header has no NAME, VERSION or RELEASE', {
      ...where,
      layer: where.layer ?? 'rpm header',
    });
  }
  const notes: string[] = [];
  const algoId = h.number(RpmTag.FILEDIGESTALGO) ?? 1;
  const rec: RpmPackageRecord = {
    instance,
    name,
    version,
    release,
    arch: h.string(RpmTag.ARCH) ?? '',
    digestAlgorithm: digestAlgorithmName(algoId),
    digestAlgorithmId: algoId,
    files: [],
    notes,
  };
  const epoch = h.number(RpmTag.EPOCH);
  if (epoch !== undefined) rec.epoch = epoch;
  const opt = (
    key: 'os' | 'sourceRpm' | 'summary' | 'vendor' | 'packager' | 'license' | 'modularityLabel',
    tag: number,
  ): void => {
    const v = h.string(tag);
    if (v !== undefined && v !== '') rec[key] = v;
  };
  opt('os', RpmTag.OS);
  opt('sourceRpm', RpmTag.SOURCERPM);
  opt('summary', RpmTag.SUMMARY);
  opt('vendor', RpmTag.VENDOR);
  opt('packager', RpmTag.PACKAGER);
  opt('license', RpmTag.LICENSE);
  opt('modularityLabel', RpmTag.MODULARITYLABEL);
  const installTime = h.number(RpmTag.INSTALLTIME);
  if (installTime !== undefined) rec.installTime = installTime;
  const buildTime = h.number(RpmTag.BUILDTIME);
  if (buildTime !== undefined) rec.buildTime = buildTime;
  const size = h.number(RpmTag.LONGSIZE) ?? h.number(RpmTag.SIZE);
  if (size !== undefined) rec.size = size;
  const sigmd5 = hex(h.bytes(RpmTag.SIGMD5));
  if (sigmd5) rec.sigmd5 = sigmd5;
  const sha1 = h.string(RpmTag.SHA1HEADER);
  if (sha1) rec.sha1Header = sha1;
  const sha256 = h.string(RpmTag.SHA256HEADER);
  if (sha256) rec.sha256Header = sha256;
  rec.files = filesOf(h, notes);
  return rec;
}

/**
 * The inventory package of a record: `version` is `[E:]V-R`; the source package comes from SOURCERPM, with the
 * binary's epoch (source RPM file names carry none). `gpg-pubkey` entries (imported signing keys, not
 * software) give undefined.
 */
export function rpmInventoryPackage(rec: RpmPackageRecord, source: string): Package | undefined {
  if (rec.name === 'gpg-pubkey') return undefined;
  const version = rpmEvr(rec.epoch, rec.version, rec.release);
  const src = rec.sourceRpm !== undefined ? parseSourceRpm(rec.sourceRpm) : undefined;
  const pkg: Package = {
    ecosystem: 'rpm',
    name: rec.name,
    version,
    arch: rec.arch,
    sourceName: src?.name ?? rec.name,
    sourceVersion: src ? rpmEvr(rec.epoch, src.version, src.release) : version,
    source,
  };
  const maintainer = rec.packager ?? rec.vendor;
  if (maintainer) pkg.maintainer = maintainer;
  if (rec.size !== undefined) pkg.installedSize = Math.ceil(rec.size / 1024);
  return pkg;
}
