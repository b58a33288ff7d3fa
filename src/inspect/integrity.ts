/**
 * Tamper evidence without a baseline: every file a package manager installed is compared with what that
 * package manager recorded about it — dpkg's `md5sums` and conffile hashes, RPM's per-file digests, modes and
 * link targets, apk's `Z:` checksums — as `dpkg --verify`, `rpm -V` and `apk audit` do on a running system,
 * but on an offline image and across all three at once.
 *
 * What is read, per package manager:
 * - dpkg: `/var/lib/dpkg/status` (installed packages and their `Conffiles:` hashes), and per package
 *   `info/<pkg>[:<arch>].md5sums`, `.conffiles` and `.list`. As dpkg does, only files in the package's
 *   `.list` are verified (paths a `path-exclude` filter kept off the disk are not in it, so they are not
 *   "missing"). Diversions (`/var/lib/dpkg/diversions`) are honoured: a file diverted away from its package
 *   is checked where it went (debsums' behaviour; `dpkg --verify` skips such files). Distroless
 *   `status.d/<pkg>` with `status.d/<pkg>.md5sums` is read too.
 * - RPM: every database backend (`readRpmDatabase`); ghosts, directories, devices and files rpm did not
 *   install (`%lang`, `--excludedocs`, netshared) are skipped, symlinks are compared by target, `%verify(not
 *   md5)` and `%missingok` are honoured as `rpm -V` honours them.
 * - apk: `lib/apk/db/installed` (`readApkDatabase`); apk's checksum of a symlink is that of its target text.
 *
 * Files are hashed in bounded chunks (`FileSystem.read`), never whole. Each file that differs gets a class:
 * `config` (a dpkg conffile, an RPM `%config`, anything under `/etc` for apk — expected to change), `binary`
 * (in a `bin`/`sbin`/`libexec` directory, or an ELF executable), `library` (`.so` under a `lib*` directory,
 * or an ELF shared or relocatable object such as a kernel module), or `other`. A changed binary or library is
 * a strong sign of tampering; a changed configuration file is normal administration.
 */
import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import { HyperwardError, isHyperwardError } from '../errors.js';
import type { FileType } from '../fs/types.js';
import type { Vfs } from '../fs/vfs.js';
import { typeFromMode } from '../fs/types.js';
import { SEVERITIES, fingerprint, type Finding, type Severity } from '../model/finding.js';
import { readApkDatabase, type ApkDigestAlgorithm } from './apk.js';
import { parseDeb822, type Paragraph } from './dpkg.js';
import { readRpmDatabase, RpmFileFlag, RpmFileState, rpmEvr } from './rpm/index.js';
import type { RootReader } from './system.js';

/**
 * An OS tree whose paths can be located on the filesystem that holds them: what `Mounts` (src/scan/mounts.ts)
 * gives for an image's assembled filesystems. Declared here, structurally, so this reader needs nothing from
 * the scan layer above it.
 */
export interface TreeRoot extends RootReader {
  /** The filesystem a path lives on and the path inside it. */
  locate(path: string): { vfs: Vfs; path: string };
}

export type PackageManager = 'dpkg' | 'rpm' | 'apk';
export type IntegrityClass = 'config' | 'binary' | 'library' | 'other';
export type IntegrityStatus = 'changed' | 'missing' | 'unreadable';

export const INTEGRITY_CLASSES: readonly IntegrityClass[] = ['config', 'binary', 'library', 'other'];

/** One packaged file that is not as its package manager recorded it. */
export interface IntegrityIssue {
  manager: PackageManager;
  package: string;
  version: string;
  /** Absolute path checked (for a diverted dpkg file, where the diversion put it). */
  path: string;
  status: IntegrityStatus;
  class: IntegrityClass;
  /**
   * What was compared: a digest algorithm (`md5`, `sha256`, `sha1`, `sha256-160`...), `link-target` (an RPM
   * symlink), or `type` (the file is no longer of the type the package installed).
   */
  key: string;
  /** The recorded value: a lower-case hex digest, a link target, or a file type. */
  expected?: string;
  /** The value found, in the same form; absent for missing and unreadable files. */
  actual?: string;
  /** Why a file is `unreadable`, or what else is worth knowing. */
  detail?: string;
}

/** Files checked and found wrong, for one class. */
export interface ClassCounts {
  checked: number;
  changed: number;
  missing: number;
  unreadable: number;
}

/** A package database the check used. */
export interface IntegrityDatabase {
  manager: PackageManager;
  /** The database file (`/var/lib/dpkg/status`, `/var/lib/rpm/rpmdb.sqlite`, `/lib/apk/db/installed`). */
  path: string;
  packages: number;
  /** Packaged files it asked to verify. */
  files: number;
}

/** The outcome of `verifyPackagedFiles`. */
export interface IntegrityReport {
  databases: IntegrityDatabase[];
  /** Packaged files looked at (existence at least). */
  filesChecked: number;
  /** Bytes of file content hashed. */
  bytesRead: number;
  /**
   * Packaged files whose content could not be compared: the database records no digest for them, or records
   * one in an algorithm Hyperward does not compute. Their existence and type were still checked.
   */
  contentUnverified: number;
  /** Every file not as recorded, sorted by manager, package and path. */
  issues: IntegrityIssue[];
  counts: Record<IntegrityClass, ClassCounts>;
  /**
   * Package metadata the check could not use (a malformed `md5sums` line, an over-large `.list`). RPM and apk
   * database problems are not repeated here: `readRpmDatabase`/`readApkDatabase` already give them to the
   * inventory.
   */
  problems: HyperwardError[];
}

export interface VerifyOptions {
  /** Called after each file with the number done and the total; callers throttle their own drawing. */
  onProgress?: (done: number, total: number) => void;
  /** Files larger than this are reported `unreadable` rather than hashed (default 16 GiB). */
  maxFileBytes?: number;
}

/** What one package manager expects of one file. */
interface Expectation {
  manager: PackageManager;
  package: string;
  version: string;
  path: string;
  config: boolean;
  /** `content`: compare a digest; `link`: compare a symlink target; `exists`: only presence (and type). */
  check: 'content' | 'link' | 'exists';
  algorithm?: string;
  expected?: string;
  /** Follow a final symlink (dpkg opens the path; rpm and apk lstat it). */
  follow: boolean;
  /** apk: the digest of a symlink is the digest of its target text. */
  linkDigest?: boolean;
  /** rpm: the type the package installed. */
  expectType?: FileType;
  /** rpm `%missingok`: absence is not reported. */
  missingOk?: boolean;
}

const GiB = 1024 * 1024 * 1024;
export const DEFAULT_MAX_FILE_BYTES = 16 * GiB;
const CHUNK = 1024 * 1024;
/** Bytes kept from the start of a hashed file, to tell ELF executables from shared objects. */
const HEAD = 4096;
const MAX_STATUS_BYTES = 256 * 1024 * 1024;
const MAX_META_BYTES = 64 * 1024 * 1024;
const MAX_EXPECTATIONS = 4_000_000;
const MAX_MD5SUMS_LINE = 8192;
const MAX_STATUS_D = 100_000;
const MAX_DIVERSIONS = 100_000;

const DPKG_PRESENT = new Set([
  'installed',
  'half-installed',
  'unpacked',
  'half-configured',
  'triggers-awaited',
  'triggers-pending',
]);

/** Node's name for each digest algorithm Hyperward computes, and how many bytes of it are kept. */
const HASHES: Readonly<Record<string, { node: string; bytes?: number }>> = {
  md5: { node: 'md5' },
  sha1: { node: 'sha1' },
  sha224: { node: 'sha224' },
  sha256: { node: 'sha256' },
  sha384: { node: 'sha384' },
  sha512: { node: 'sha512' },
  'sha3-256': { node: 'sha3-256' },
  'sha3-512': { node: 'sha3-512' },
  ripemd160: { node: 'ripemd160' },
  // apk `f:S` packages: SHA-256 truncated to SHA-1's 20 bytes.
  'sha256-160': { node: 'sha256', bytes: 20 },
};

/** True when `verifyPackagedFiles` can compute digests of this algorithm. */
export function canHash(algorithm: string): boolean {
  return Object.hasOwn(HASHES, algorithm);
}

function hasher(algorithm: string): { update(b: Buffer): void; hex(): string } {
  const spec = HASHES[algorithm]!;
  const h = createHash(spec.node);
  return {
    update: (b) => h.update(b),
    hex: () => {
      const d = h.digest();
      return (spec.bytes !== undefined ? d.subarray(0, spec.bytes) : d).toString('hex');
    },
  };
}

// -----------------------------------------------------------------------------------------------------------
// dpkg metadata parsers (exported for tests)

/** One line of a dpkg `md5sums` file. */
export interface Md5sumsEntry {
  /** Absolute path. */
  path: string;
  /** Lower-case hex. */
  md5: string;
  line: number;
}

const MD5_LINE = /^([0-9a-fA-F]{32}) [ *](.+)$/;

/**
 * Parses a dpkg `md5sums` file: lines `<32 hex digits><space><space or *><path relative to />`. A malformed
 * line (no hash, no path, a NUL, longer than 8 KiB) is reported with its line number and skipped.
 *
 * @example
 * const text = '2a76f5df90ba1375b6e6d825c4a28b2d  bin/bash\n';
 * parseMd5sums(text, 'bash.md5sums').entries[0]?.path; // '/bin/bash'
 */
export function parseMd5sums(
  text: string,
  file: string,
): { entries: Md5sumsEntry[]; problems: HyperwardError[] } {
  const entries: Md5sumsEntry[] = [];
  const problems: HyperwardError[] = [];
  let pos = 0;
  let lineNo = 0;
  while (pos < text.length) {
    let nl = text.indexOf('\n', pos);
    if (nl < 0) nl = text.length;
    lineNo++;
    const line = text.slice(pos, nl);
    pos = nl + 1;
    if (line === '') continue;
    const where = { file, layer: 'dpkg md5sums', line: lineNo };
    if (line.length > MAX_MD5SUMS_LINE) {
      problems.push(new HyperwardError('E_LIMIT', 'line too long; skipped', where));
      continue;
    }
    const m = MD5_LINE.exec(line);
    const rel = m?.[2]?.replace(/^(?:\.?\/)+/, '') ?? '';
    if (!m || rel === '' || rel.includes('\0')) {
      problems.push(new HyperwardError('E_FS_CORRUPT', 'not "<md5>  <path>"; skipped', where));
      continue;
    }
    entries.push({ path: '/' + rel, md5: m[1]!.toLowerCase(), line: lineNo });
  }
  return { entries, problems };
}

/** One entry of a `Conffiles:` field. */
export interface ConffileEntry {
  path: string;
  /** Lower-case hex, or `newconffile` (dpkg's placeholder while a conffile is being installed). */
  md5: string;
  obsolete: boolean;
  removeOnUpgrade: boolean;
}

const CONFFILE_LINE = /^(\/.*?)\s+(\S+)((?:\s+(?:obsolete|remove-on-upgrade))*)\s*$/;

/**
 * Parses the value of a dpkg status `Conffiles:` field (` /path md5 [obsolete] [remove-on-upgrade]` lines).
 */
export function parseConffiles(value: string): ConffileEntry[] {
  const out: ConffileEntry[] = [];
  for (const raw of value.split('\n')) {
    const m = CONFFILE_LINE.exec(raw.trim());
    if (!m) continue;
    const flags = m[3] ?? '';
    out.push({
      path: m[1]!,
      md5: m[2]!.toLowerCase(),
      obsolete: /\bobsolete\b/.test(flags),
      removeOnUpgrade: flags.includes('remove-on-upgrade'),
    });
  }
  return out;
}

/**
 * A dpkg diversion: files of packages other than `by` at `from` live at `to` (`by` is `:` for a local one).
 */
export interface Diversion {
  from: string;
  to: string;
  by: string;
}

/** Parses `/var/lib/dpkg/diversions`: groups of three lines (from, to, diverting package). */
export function parseDiversions(text: string): Diversion[] {
  const lines = text.split('\n');
  const out: Diversion[] = [];
  for (let i = 0; i + 2 < lines.length && out.length < MAX_DIVERSIONS; i += 3) {
    const [from, to, by] = [lines[i]!, lines[i + 1]!, lines[i + 2]!];
    if (!from.startsWith('/') || !to.startsWith('/') || by === '') break;
    out.push({ from, to, by });
  }
  return out;
}

// -----------------------------------------------------------------------------------------------------------
// Expectations from each package manager

interface Collected {
  items: Expectation[];
  databases: IntegrityDatabase[];
  problems: HyperwardError[];
  unverifiable: number;
}

function push(c: Collected, e: Expectation): boolean {
  if (c.items.length >= MAX_EXPECTATIONS) return false;
  c.items.push(e);
  return true;
}

/**
 * Reads a metadata file whole (up to `max` bytes); undefined when absent. One that exists but cannot be read
 * (too large, not a regular file, damaged) is recorded as a problem.
 */
function readMeta(root: TreeRoot, path: string, c: Collected, max = MAX_META_BYTES): string | undefined {
  try {
    const buf = root.tryReadFile(path, max);
    if (buf !== undefined) return buf.toString('utf8');
    const l = root.locate(path);
    if (l.vfs.resolve(l.path) !== undefined) {
      c.problems.push(
        new HyperwardError('E_LIMIT', `not read: not a regular file or larger than ${max} bytes`, {
          file: path,
        }),
      );
    }
  } catch (e) {
    if (!isHyperwardError(e)) throw e;
    c.problems.push(e);
  }
  return undefined;
}

/** A dpkg package whose files are on disk, and where its `md5sums`/`conffiles`/`list` may be. */
interface DpkgPackage {
  name: string;
  version: string;
  p: Paragraph;
  /** The database it is listed in: `/var/lib/dpkg/status` or `/var/lib/dpkg/status.d`. */
  db: string;
  infoDir: string;
  /** File-name stems to try, in order (`name:arch` for Multi-Arch: same packages, then `name`). */
  stems: string[];
}

/**
 * Installed dpkg packages from `status` and from distroless `status.d/NAME` (with `status.d/NAME.md5sums`).
 */
function dpkgPackages(root: TreeRoot, c: Collected): DpkgPackage[] {
  const out: DpkgPackage[] = [];
  const take = (paras: Paragraph[], db: string, infoDir: string, stem?: string): void => {
    for (const p of paras) {
      const name = p.get('package');
      if (!name) continue;
      const status = p.get('status');
      if (status !== undefined && !DPKG_PRESENT.has(status.split(/\s+/)[2] ?? '')) continue;
      const arch = p.get('architecture') ?? '';
      const stems = stem !== undefined ? [stem] : arch ? [`${name}:${arch}`, name] : [name];
      out.push({ name, version: p.get('version') ?? '', p, db, infoDir, stems });
    }
  };
  const statusPath = '/var/lib/dpkg/status';
  const status = readMeta(root, statusPath, c, MAX_STATUS_BYTES);
  if (status !== undefined) {
    take(safeDeb822(status, statusPath, c), statusPath, '/var/lib/dpkg/info');
    c.databases.push({ manager: 'dpkg', path: statusPath, packages: 0, files: 0 });
  }
  const dir = '/var/lib/dpkg/status.d';
  const names = root.list(dir);
  if (names !== undefined && names.length > 0) {
    c.databases.push({ manager: 'dpkg', path: dir, packages: 0, files: 0 });
    for (const n of names.slice(0, MAX_STATUS_D).sort()) {
      if (/\.(?:md5sums|list|conffiles)$/.test(n)) continue;
      const file = `${dir}/${n}`;
      const text = readMeta(root, file, c, MAX_STATUS_BYTES);
      if (text !== undefined) take(safeDeb822(text, file, c), dir, dir, n);
    }
  }
  return out;
}

function safeDeb822(text: string, file: string, c: Collected): Paragraph[] {
  try {
    return parseDeb822(text, file);
  } catch (e) {
    if (!isHyperwardError(e)) throw e;
    c.problems.push(e);
    return [];
  }
}

function collectDpkg(root: TreeRoot, c: Collected): void {
  const pkgs = dpkgPackages(root, c);
  if (pkgs.length === 0) return;
  const divText = readMeta(root, '/var/lib/dpkg/diversions', c);
  const diversions = new Map((divText !== undefined ? parseDiversions(divText) : []).map((d) => [d.from, d]));
  const infoNames = new Set(root.list('/var/lib/dpkg/info') ?? []);
  const statusDNames = new Set(root.list('/var/lib/dpkg/status.d') ?? []);
  const counts = new Map<string, { packages: number; files: number }>();
  packages: for (const pkg of pkgs) {
    const n = counts.get(pkg.db) ?? { packages: 0, files: 0 };
    counts.set(pkg.db, n);
    n.packages++;
    const dirNames = pkg.infoDir === '/var/lib/dpkg/info' ? infoNames : statusDNames;
    const base = pkg.stems.find((b) => dirNames.has(`${b}.md5sums`) || dirNames.has(`${b}.list`));
    const entries = new Map<string, { md5: string; config: boolean }>();
    let listed: Set<string> | undefined;
    if (base !== undefined) {
      const md5File = `${pkg.infoDir}/${base}.md5sums`;
      if (dirNames.has(`${base}.md5sums`)) {
        const text = readMeta(root, md5File, c);
        if (text !== undefined) {
          const parsed = parseMd5sums(text, md5File);
          c.problems.push(...parsed.problems);
          for (const e of parsed.entries) entries.set(e.path, { md5: e.md5, config: false });
        }
      }
      if (dirNames.has(`${base}.conffiles`)) {
        const text = readMeta(root, `${pkg.infoDir}/${base}.conffiles`, c);
        for (const line of text?.split('\n') ?? []) {
          const e = entries.get(line.trim());
          if (e) e.config = true;
        }
      }
      if (dirNames.has(`${base}.list`)) {
        const text = readMeta(root, `${pkg.infoDir}/${base}.list`, c);
        if (text !== undefined) listed = new Set(text.split('\n'));
      }
    }
    for (const cf of parseConffiles(pkg.p.get('conffiles') ?? '')) {
      if (cf.obsolete) continue;
      if (!/^[0-9a-f]{32}$/.test(cf.md5)) {
        entries.delete(cf.path);
        continue;
      }
      entries.set(cf.path, { md5: cf.md5, config: true });
    }
    for (const [path, e] of entries) {
      if (listed !== undefined && !listed.has(path)) continue;
      const d = diversions.get(path);
      const where = d !== undefined && d.by !== pkg.name ? d.to : path;
      const ok = push(c, {
        manager: 'dpkg',
        package: pkg.name,
        version: pkg.version,
        path: where,
        config: e.config,
        check: 'content',
        algorithm: 'md5',
        expected: e.md5,
        follow: true,
      });
      if (!ok) {
        limitReached(c);
        break packages;
      }
      n.files++;
    }
  }
  for (const db of c.databases) {
    const n = db.manager === 'dpkg' ? counts.get(db.path) : undefined;
    if (n) {
      db.packages = n.packages;
      db.files = n.files;
    }
  }
}

function limitReached(c: Collected): void {
  if (!c.problems.some((p) => p.code === 'E_LIMIT' && p.message.includes('packaged files'))) {
    c.problems.push(
      new HyperwardError(
        'E_LIMIT',
        `more than ${MAX_EXPECTATIONS} packaged files; the rest not verified`,
        {},
      ),
    );
  }
}

/** A database of which nothing could be read: nothing of it was verified, which must not pass silently. */
function unusable(manager: PackageManager, path: string, problems: HyperwardError[]): HyperwardError {
  return new HyperwardError(
    problems[0]!.code,
    `the ${manager} database could not be read (${problems[0]!.message}); ` +
      "its packages' files were not verified",
    { file: path },
  );
}

/** rpm's RPMVERIFY_* bits that matter here. */
const VERIFY_DIGEST = 1 << 0;
const VERIFY_LINKTO = 1 << 4;

function collectRpm(root: TreeRoot, c: Collected): void {
  const db = readRpmDatabase(root);
  if (db === undefined) return;
  if (db.packages.length === 0 && db.problems.length > 0)
    c.problems.push(unusable('rpm', db.path, db.problems));
  const info: IntegrityDatabase = { manager: 'rpm', path: db.path, packages: 0, files: 0 };
  c.databases.push(info);
  for (const rec of db.packages) {
    if (rec.name === 'gpg-pubkey') continue;
    info.packages++;
    const version = rpmEvr(rec.epoch, rec.version, rec.release) + (rec.arch ? `.${rec.arch}` : '');
    for (const f of rec.files) {
      if (f.ghost) continue;
      const state = f.state ?? RpmFileState.NORMAL;
      if (state === RpmFileState.NOTINSTALLED || state === RpmFileState.NETSHARED) continue;
      const type = typeFromMode(f.mode);
      if (type !== 'file' && type !== 'symlink') continue;
      const verify = f.verifyFlags ?? ~0;
      const e: Expectation = {
        manager: 'rpm',
        package: rec.name,
        version,
        path: f.path,
        config: f.config,
        check: 'exists',
        follow: false,
        expectType: type,
      };
      if ((f.flags & RpmFileFlag.MISSINGOK) !== 0) e.missingOk = true;
      const onlyExists = state === RpmFileState.REPLACED || state === RpmFileState.WRONGCOLOR;
      if (!onlyExists && type === 'symlink' && f.linkTo !== undefined && (verify & VERIFY_LINKTO) !== 0) {
        e.check = 'link';
        e.expected = f.linkTo;
      } else if (!onlyExists && type === 'file' && (verify & VERIFY_DIGEST) !== 0) {
        if (f.digest !== '' && canHash(rec.digestAlgorithm)) {
          e.check = 'content';
          e.algorithm = rec.digestAlgorithm;
          e.expected = f.digest;
        } else if (f.size > 0) {
          c.unverifiable++;
        }
      }
      if (!push(c, e)) return limitReached(c);
      info.files++;
    }
  }
}

const APK_ALGORITHMS: Readonly<Record<ApkDigestAlgorithm, string>> = {
  md5: 'md5',
  sha1: 'sha1',
  sha256: 'sha256',
  'sha256-160': 'sha256-160',
};

function collectApk(root: TreeRoot, c: Collected): void {
  const db = readApkDatabase(root);
  if (db === undefined) return;
  if (db.records.length === 0 && db.problems.length > 0)
    c.problems.push(unusable('apk', db.path, db.problems));
  const info: IntegrityDatabase = { manager: 'apk', path: db.path, packages: 0, files: 0 };
  c.databases.push(info);
  for (const rec of db.records) {
    info.packages++;
    for (const f of rec.files) {
      if (f.type !== 'file') continue;
      const e: Expectation = {
        manager: 'apk',
        package: rec.name,
        version: rec.version,
        path: f.path,
        config: f.path.startsWith('/etc/'),
        check: 'exists',
        follow: false,
        linkDigest: true,
      };
      if (f.digest !== undefined) {
        e.check = 'content';
        e.algorithm = APK_ALGORITHMS[f.digest.algorithm];
        e.expected = f.digest.hex;
      } else {
        c.unverifiable++;
      }
      if (!push(c, e)) return limitReached(c);
      info.files++;
    }
  }
}

// -----------------------------------------------------------------------------------------------------------
// Classification

type ElfKind = 'executable' | 'shared' | 'relocatable' | 'other';

/** What an ELF file is, from its first bytes; undefined when it is not ELF. */
export function elfKind(head: Buffer): ElfKind | undefined {
  if (head.length < 20 || head.readUInt32BE(0) !== 0x7f454c46) return undefined;
  const is64 = head[4] === 2;
  const le = head[5] !== 2;
  const u16 = (o: number): number => (le ? head.readUInt16LE(o) : head.readUInt16BE(o));
  const u32 = (o: number): number => (le ? head.readUInt32LE(o) : head.readUInt32BE(o));
  const type = u16(16);
  if (type === 1) return 'relocatable';
  if (type === 2) return 'executable';
  if (type !== 3) return 'other';
  // ET_DYN is both a shared object and a position-independent executable: an executable asks for an
  // interpreter.
  const hdrEnd = is64 ? 64 : 52;
  if (head.length < hdrEnd) return 'shared';
  const phoff = is64 ? Number(le ? head.readBigUInt64LE(32) : head.readBigUInt64BE(32)) : u32(28);
  const phentsize = u16(is64 ? 54 : 42);
  const phnum = Math.min(u16(is64 ? 56 : 44), 256);
  if (phentsize < 4) return 'shared';
  for (let i = 0; i < phnum; i++) {
    const off = phoff + i * phentsize;
    if (off + 4 > head.length) break;
    if (u32(off) === 3) return 'executable'; // PT_INTERP
  }
  return 'shared';
}

const BIN_DIR = /(?:^|\/)(?:s?bin|libexec)$/;
const LIB_DIR = /(?:^|\/)lib[^/]*(?:\/|$)/;
const SO_NAME = /\.so(?:\.[^/]*)?$/;

/**
 * The class of a packaged file from how its package manager flags it, its path and (when read) its first
 * bytes.
 */
export function classifyFile(path: string, config: boolean, head?: Buffer): IntegrityClass {
  if (config) return 'config';
  const dir = posix.dirname(path);
  if (BIN_DIR.test(dir)) return 'binary';
  if (LIB_DIR.test(dir + '/') && SO_NAME.test(posix.basename(path))) return 'library';
  const elf = head !== undefined ? elfKind(head) : undefined;
  if (elf === 'shared' || elf === 'relocatable') return 'library';
  if (elf !== undefined) return 'binary';
  return 'other';
}

// -----------------------------------------------------------------------------------------------------------
// Verification

interface Tally {
  bytes: number;
}

function hashInode(
  vfs: Vfs,
  ino: number,
  size: number,
  algorithm: string,
  t: Tally,
): { digest: string; head: Buffer } {
  const h = hasher(algorithm);
  let head = Buffer.alloc(0);
  for (let off = 0; off < size;) {
    const want = Math.min(CHUNK, size - off);
    const buf = vfs.fs.read(ino, off, want);
    if (off === 0) head = Buffer.from(buf.subarray(0, HEAD));
    h.update(buf);
    t.bytes += buf.length;
    if (buf.length < want) {
      throw new HyperwardError('E_FS_CORRUPT', `file ended at ${off + buf.length} of ${size} bytes`, {
        layer: 'file content',
      });
    }
    off += buf.length;
  }
  return { digest: h.hex(), head };
}

function issueOf(
  e: Expectation,
  status: IntegrityStatus,
  cls: IntegrityClass,
  key: string,
  actual?: string,
  detail?: string,
): IntegrityIssue {
  const i: IntegrityIssue = {
    manager: e.manager,
    package: e.package,
    version: e.version,
    path: e.path,
    status,
    class: cls,
    key,
  };
  const expected = key === 'type' ? (e.expectType ?? 'file') : e.expected;
  if (expected !== undefined) i.expected = expected;
  if (actual !== undefined) i.actual = actual;
  if (detail !== undefined) i.detail = detail;
  return i;
}

/** Checks one expectation: the file's class, and an issue when it is not as recorded. */
function verifyOne(
  root: TreeRoot,
  e: Expectation,
  maxFileBytes: number,
  t: Tally,
): { cls: IntegrityClass; issue?: IntegrityIssue } {
  const byPath = (): IntegrityClass => classifyFile(e.path, e.config);
  const key = e.check === 'link' ? 'link-target' : (e.algorithm ?? 'type');
  try {
    const loc = root.locate(e.path);
    const ino = loc.vfs.resolve(loc.path, e.follow);
    if (ino === undefined) {
      if (e.missingOk) return { cls: byPath() };
      return { cls: byPath(), issue: issueOf(e, 'missing', byPath(), key) };
    }
    const st = loc.vfs.fs.stat(ino);
    if (e.expectType !== undefined && st.type !== e.expectType) {
      return {
        cls: byPath(),
        issue: issueOf(e, 'changed', byPath(), 'type', st.type, `is a ${st.type}, not a ${e.expectType}`),
      };
    }
    if (e.check === 'exists') return { cls: byPath() };
    if (e.check === 'link') {
      const target = loc.vfs.fs.readlink(ino);
      if (target === e.expected) return { cls: byPath() };
      return { cls: byPath(), issue: issueOf(e, 'changed', byPath(), key, target) };
    }
    const algorithm = e.algorithm!;
    let digest: string;
    let cls: IntegrityClass;
    if (st.type === 'symlink' && e.linkDigest) {
      const h = hasher(algorithm);
      h.update(Buffer.from(loc.vfs.fs.readlink(ino), 'utf8'));
      digest = h.hex();
      cls = byPath();
    } else if (st.type !== 'file') {
      return {
        cls: byPath(),
        issue: issueOf(e, 'changed', byPath(), 'type', st.type, `is a ${st.type}, not a regular file`),
      };
    } else if (st.size > maxFileBytes) {
      return {
        cls: byPath(),
        issue: issueOf(
          e,
          'unreadable',
          byPath(),
          key,
          undefined,
          `${st.size} bytes, over the ${maxFileBytes}-byte limit`,
        ),
      };
    } else {
      const r = hashInode(loc.vfs, ino, st.size, algorithm, t);
      digest = r.digest;
      cls = classifyFile(e.path, e.config, r.head);
    }
    if (digest === e.expected) return { cls };
    return { cls, issue: issueOf(e, 'changed', cls, key, digest) };
  } catch (err) {
    if (!isHyperwardError(err)) throw err;
    return { cls: byPath(), issue: issueOf(e, 'unreadable', byPath(), key, undefined, err.message) };
  }
}

/**
 * Compares every packaged file of an OS tree with the package managers' records (dpkg, RPM and apk, whichever
 * the tree has) and reports what changed, what is missing and what could not be read, by class.
 *
 * @example
 * const m = mountImage('disk.qcow2');
 * const report = verifyPackagedFiles(m.root!, { onProgress: (done, total) => bar.update(done / total) });
 * report.issues.filter((i) => i.class === 'binary'); // binaries that differ from their packages
 */
export function verifyPackagedFiles(root: TreeRoot, opts: VerifyOptions = {}): IntegrityReport {
  const maxFileBytes = opts.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  const c: Collected = { items: [], databases: [], problems: [], unverifiable: 0 };
  for (const collect of [collectDpkg, collectRpm, collectApk]) {
    try {
      collect(root, c);
    } catch (e) {
      if (!isHyperwardError(e)) throw e;
      c.problems.push(e);
    }
  }
  const counts = Object.fromEntries(
    INTEGRITY_CLASSES.map((k) => [k, { checked: 0, changed: 0, missing: 0, unreadable: 0 }]),
  ) as Record<IntegrityClass, ClassCounts>;
  const t: Tally = { bytes: 0 };
  const issues: IntegrityIssue[] = [];
  const total = c.items.length;
  for (let i = 0; i < total; i++) {
    const r = verifyOne(root, c.items[i]!, maxFileBytes, t);
    counts[r.cls].checked++;
    if (r.issue) {
      issues.push(r.issue);
      counts[r.issue.class][r.issue.status]++;
    }
    opts.onProgress?.(i + 1, total);
  }
  const order: Record<PackageManager, number> = { dpkg: 0, rpm: 1, apk: 2 };
  issues.sort(
    (a, b) => order[a.manager] - order[b.manager] || cmp(a.package, b.package) || cmp(a.path, b.path),
  );
  return {
    databases: c.databases,
    filesChecked: total,
    bytesRead: t.bytes,
    contentUnverified: c.unverifiable,
    issues,
    counts,
    problems: c.problems,
  };
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

// -----------------------------------------------------------------------------------------------------------
// Findings

/** How much a file that is not as packaged matters: binaries and libraries most, configuration not at all. */
export function integritySeverity(status: IntegrityStatus, cls: IntegrityClass): Severity {
  if (cls === 'config') return 'info';
  if (status === 'unreadable') return 'low';
  if (cls === 'binary' || cls === 'library') return status === 'changed' ? 'high' : 'medium';
  return status === 'changed' ? 'medium' : 'low';
}

const CLASS_NOUN: Record<IntegrityClass, string> = {
  config: 'configuration file',
  binary: 'binary',
  library: 'library',
  other: 'file',
};

const MANAGER_TOOL: Record<PackageManager, string> = {
  dpkg: 'dpkg --verify',
  rpm: 'rpm -V',
  apk: 'apk audit',
};

function describe(i: IntegrityIssue): string {
  const who = `${i.package} ${i.version} (${i.manager})`;
  if (i.status === 'missing') return `${i.path} of ${who} is missing`;
  if (i.status === 'unreadable')
    return `${i.path} of ${who} could not be read: ${i.detail ?? 'unknown error'}`;
  if (i.key === 'type') return `${i.path} of ${who} ${i.detail ?? `is now a ${i.actual}`}`;
  if (i.key === 'link-target') {
    return `${i.path} of ${who} points to ${JSON.stringify(i.actual)}, not ${JSON.stringify(i.expected)}`;
  }
  return `${i.path} of ${who} has ${i.key} ${i.actual}, not the recorded ${i.expected}`;
}

const MAX_LISTED = 20;

/**
 * Findings for an integrity report: one per changed, missing or unreadable binary, library or other file
 * (check `image.file-modified` or `image.file-missing`, resource the file; a file several packages own is one
 * finding), and one info finding per package for its configuration files (changes there are expected, and one
 * line per package keeps reports readable). Metadata that could not be used gives
 * `image.integrity-incomplete`. Fingerprints depend on the target, the check and the file (or package), never
 * on digests, so a waiver survives a file changing again.
 */
export function integrityFindings(report: IntegrityReport, target: string): Finding[] {
  const out: Finding[] = [];
  const byFile = new Map<string, IntegrityIssue[]>();
  const configGroups = new Map<string, IntegrityIssue[]>();
  for (const i of report.issues) {
    const checkId = i.status === 'missing' ? 'image.file-missing' : 'image.file-modified';
    const key = i.class === 'config' ? `${checkId}\0${i.manager}\0${i.package}` : `${checkId}\0${i.path}`;
    const map = i.class === 'config' ? configGroups : byFile;
    const list = map.get(key);
    if (list) list.push(i);
    else map.set(key, [i]);
  }
  for (const [key, list] of byFile) {
    const checkId = key.slice(0, key.indexOf('\0'));
    const first = list[0]!;
    // The most severe view of the file when packages disagree about it.
    const worst = list.reduce((a, b) =>
      severityRank(integritySeverity(b.status, b.class)) < severityRank(integritySeverity(a.status, a.class))
        ? b
        : a,
    );
    const severity = integritySeverity(worst.status, worst.class);
    const noun = CLASS_NOUN[worst.class];
    const title =
      worst.status === 'missing'
        ? `Packaged ${noun} missing`
        : worst.status === 'unreadable'
          ? `Packaged ${noun} could not be verified`
          : `Packaged ${noun} modified`;
    const f: Finding = {
      id: fingerprint(checkId, 'file', `${target}#${first.path}`),
      checkId,
      severity,
      status: worst.status === 'unreadable' ? 'unknown' : 'fail',
      title,
      message: list.map(describe).join('; ') + '.',
      resource: { type: 'file', id: first.path },
      evidence: evidenceOf(worst),
      remediation:
        worst.class === 'binary' || worst.class === 'library'
          ? `Treat the image as possibly compromised: compare ${first.path} with the copy in the ` +
            `package (${MANAGER_TOOL[first.manager]} on a copy of the system shows the same), find out ` +
            'how it changed, and reinstall the package from a trusted source.'
          : `Compare ${first.path} with the copy in the package and reinstall the package if the change ` +
            'is not intended.',
      platform: 'image',
    };
    out.push(f);
  }
  for (const [key, list] of configGroups) {
    const checkId = key.slice(0, key.indexOf('\0'));
    const first = list[0]!;
    const paths = list.map((i) => i.path);
    const shown =
      paths.slice(0, MAX_LISTED).join(', ') +
      (paths.length > MAX_LISTED ? `, and ${paths.length - MAX_LISTED} more` : '');
    const one = paths.length === 1;
    const what =
      checkId === 'image.file-missing'
        ? `${one ? 'is' : 'are'} missing`
        : list.every((i) => i.status === 'unreadable')
          ? 'could not be read'
          : `${one ? 'differs' : 'differ'} from the package`;
    out.push({
      id: fingerprint(checkId, 'package', `${target}#${first.manager}:${first.package}#config`),
      checkId,
      severity: 'info',
      status: list.every((i) => i.status === 'unreadable') ? 'unknown' : 'fail',
      title:
        checkId === 'image.file-missing'
          ? 'Packaged configuration files missing'
          : 'Packaged configuration files changed',
      message:
        `${paths.length} configuration file${one ? '' : 's'} of ${first.package} ${first.version} ` +
        `(${first.manager}) ${what}: ${shown}. Configuration is expected to change; review it if the ` +
        'change is not yours.',
      resource: { type: 'package', id: `${first.manager}:${first.package}` },
      evidence: evidenceOf(first),
      platform: 'image',
    });
  }
  report.problems.forEach((p, n) => {
    const where = p.location.file ?? `problem ${n + 1}`;
    out.push({
      id: fingerprint('image.integrity-incomplete', 'file', `${target}#${where}#${p.location.line ?? 0}`),
      checkId: 'image.integrity-incomplete',
      severity: 'low',
      status: 'unknown',
      title: 'Package file records could not be read',
      message: `${p.message}; the files it describes were not verified.`,
      resource: { type: 'file', id: where },
      evidence: { file: where, ...(p.location.line !== undefined ? { line: p.location.line } : {}) },
      platform: 'image',
    });
  });
  return out;
}

function evidenceOf(i: IntegrityIssue): Finding['evidence'] {
  const ev: NonNullable<Finding['evidence']> = { file: i.path, key: i.key };
  if (i.actual !== undefined) ev.value = i.actual;
  return ev;
}

const severityRank = (s: Severity): number => SEVERITIES.indexOf(s);
