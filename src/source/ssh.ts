/**
 * Agentless, read-only access to a remote host over SSH: files and directory listings through one SFTP session,
 * an optional `sudo -n cat` fallback for files the login user cannot read, and a strict allow-list of read-only
 * commands. Host keys are verified against OpenSSH known_hosts files; only key authentication is offered.
 *
 * SSH is asynchronous and inspection (`RootReader`) is synchronous, so the flow is: `openSsh()`, then
 * `prefetch(files, dirs)` (any number of rounds over the same session), then `snapshot()` for a synchronous view
 * of what was fetched.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { join } from 'node:path';
import { dependency } from '../dependency.js';
import { HyperwardError } from '../errors.js';
import type { RootReader } from '../inspect/system.js';

const E_AUTH = 'E_AUTH' as const;

const DEFAULT_TIMEOUT_MS = 20_000;
/** Per-file cap when the caller gives none. */
const DEFAULT_MAX_FILE = 64 * 1024 * 1024;
/** All file contents one `SshRoot` keeps, summed over every prefetch. */
const DEFAULT_MAX_TOTAL = 512 * 1024 * 1024;
const MAX_DIR_ENTRIES = 100_000;
const MAX_NAME_BYTES = 4096;
const MAX_PATH_BYTES = 4096;
const MAX_KNOWN_HOSTS_BYTES = 16 * 1024 * 1024;
const MAX_KNOWN_HOSTS_LINE = 64 * 1024;
const MAX_KEY_FILE_BYTES = 1024 * 1024;
const MAX_PATTERN_BYTES = 1024;
const SFTP_CONCURRENCY = 16;
const EXEC_CONCURRENCY = 4;
const READ_CHUNK = 256 * 1024;
const MAX_STDERR = 64 * 1024;
const DEFAULT_MAX_STDOUT = 64 * 1024 * 1024;

/** SFTP status codes (draft-ietf-secsh-filexfer-02) that describe the file rather than the session. */
const FX_EOF = 1;
const FX_NO_SUCH_FILE = 2;
const FX_PERMISSION_DENIED = 3;

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;

/* ------------------------------------------------------------------------------------------------------------ */
/* Public types                                                                                                 */
/* ------------------------------------------------------------------------------------------------------------ */

export interface SshOptions {
  /** A private key file (unencrypted; use an agent for passphrase-protected keys). */
  identityFile?: string;
  /** OpenSSH known_hosts file. Default: `~/.ssh/known_hosts` plus `/etc/ssh/ssh_known_hosts`. */
  knownHostsFile?: string;
  /** Read files the login user cannot read with `sudo -n cat -- PATH` (and nothing else through sudo). */
  sudo?: boolean;
  /** Limit for connecting (TCP, key exchange, authentication) and for each remote operation. Default 20 s. */
  timeoutMs?: number;
  /** ssh-agent socket. Default: `$SSH_AUTH_SOCK`. */
  agent?: string;
  /** File contents this session keeps in memory, summed over every prefetch. Default 512 MiB. */
  maxTotalBytes?: number;
}

/** What became of one file asked for in `prefetch`. */
export type FileResult =
  | { status: 'ok'; data: Buffer; via: 'sftp' | 'sudo' }
  | { status: 'missing' }
  | { status: 'not-file' }
  | { status: 'too-large'; size?: number }
  | { status: 'denied'; message: string }
  | { status: 'error'; message: string };

/** What became of one directory asked for in `prefetch`. */
export type DirResult =
  | { status: 'ok'; names: string[]; truncated: boolean }
  | { status: 'missing' }
  | { status: 'not-dir' }
  | { status: 'denied'; message: string }
  | { status: 'error'; message: string };

export interface PrefetchOptions {
  /** Largest file kept; bigger files are recorded as `too-large` and read as absent. Default 64 MiB. */
  maxBytes?: number;
}

export interface PrefetchSummary {
  files: number;
  filesRead: number;
  viaSudo: number;
  bytes: number;
  dirs: number;
  dirsListed: number;
  elapsedMs: number;
}

/** A synchronous, read-only view over what `prefetch` fetched; paths not fetched read as absent. */
export interface SshSnapshot extends RootReader {
  /** Exactly what happened to a fetched file, or undefined when it was never asked for. */
  file(path: string): FileResult | undefined;
  /** Exactly what happened to a fetched directory, or undefined when it was never asked for. */
  dir(path: string): DirResult | undefined;
  /** Fetched paths that exist but could not be read (denied, error, too large), for `inv.unreadable`. */
  problems(): Array<{ path: string; code: string; message: string }>;
}

/** The commands `SshRoot.run` accepts. */
export type AllowedCommand = 'dpkg-query' | 'pveversion' | 'virsh-readonly';

export interface RunResult {
  /** The exact command line sent to the remote shell. */
  command: string;
  stdout: Buffer;
  stderr: string;
  /** Exit status; null when the command was ended by a signal. 127 usually means "not installed". */
  exitCode: number | null;
  signal?: string;
}

/* ------------------------------------------------------------------------------------------------------------ */
/* URL                                                                                                          */
/* ------------------------------------------------------------------------------------------------------------ */

export interface SshTarget {
  user: string;
  host: string;
  port: number;
}

/**
 * Parses `ssh://[user@]host[:port]` (IPv6 hosts in brackets). A missing user means the local user name, as with
 * `ssh`. Passwords, paths, queries and fragments are refused.
 */
export function parseSshUrl(url: string): SshTarget {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new HyperwardError('E_USAGE', `not a URL: ${JSON.stringify(url)}; expected ssh://user@host[:port]`);
  }
  if (u.protocol !== 'ssh:') {
    throw new HyperwardError('E_USAGE', `not an ssh:// URL: ${url}`);
  }
  if (u.password !== '') {
    throw new HyperwardError('E_USAGE', `passwords are not accepted in ${u.protocol}// URLs: use a key`);
  }
  if ((u.pathname !== '' && u.pathname !== '/') || u.search !== '' || u.hash !== '') {
    throw new HyperwardError(
      'E_USAGE',
      `unexpected path or query in ${url}; expected ssh://user@host[:port]`,
    );
  }
  let host = u.hostname;
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (host === '') throw new HyperwardError('E_USAGE', `no host in ${url}`);
  let user: string;
  try {
    user = u.username === '' ? userInfo().username : decodeURIComponent(u.username);
  } catch {
    throw new HyperwardError('E_USAGE', `bad user name in ${url}`);
  }
  if (user === '' || /[\0\r\n]/.test(user)) throw new HyperwardError('E_USAGE', `bad user name in ${url}`);
  const port = u.port === '' ? 22 : Number(u.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new HyperwardError('E_USAGE', `bad port in ${url}`);
  }
  return { user, host: host.toLowerCase(), port };
}

/* ------------------------------------------------------------------------------------------------------------ */
/* known_hosts                                                                                                  */
/* ------------------------------------------------------------------------------------------------------------ */

/** One usable line of a known_hosts file. */
export interface KnownHostLine {
  /** 1-based line number. */
  line: number;
  marker?: 'revoked' | 'cert-authority';
  /** Comma-separated host patterns as written, or a hashed `|1|salt|hash` entry. */
  hosts: string;
  keyType: string;
  /** Decoded key blob; undefined when the base64 or the blob's own type name is malformed. */
  blob: Buffer | undefined;
}

/**
 * Parses an OpenSSH known_hosts file (sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT"). Comments, blank lines and lines
 * with fewer than three fields are skipped, as OpenSSH does; overlong lines are skipped too. Never throws.
 */
export function parseKnownHosts(text: string): KnownHostLine[] {
  const out: KnownHostLine[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    if (raw.length > MAX_KNOWN_HOSTS_LINE) continue;
    const fields = raw
      .replace(/\r$/, '')
      .trim()
      .split(/[ \t]+/);
    if (fields[0] === undefined || fields[0] === '' || fields[0].startsWith('#')) continue;
    let marker: KnownHostLine['marker'];
    if (fields[0].startsWith('@')) {
      const m = fields.shift()!;
      if (m === '@revoked') marker = 'revoked';
      else if (m === '@cert-authority') marker = 'cert-authority';
      else continue;
    }
    const [hosts, keyType, b64] = fields;
    if (hosts === undefined || keyType === undefined || b64 === undefined) continue;
    out.push({
      line: i + 1,
      ...(marker ? { marker } : {}),
      hosts,
      keyType,
      blob: decodeKeyBlob(keyType, b64),
    });
  }
  return out;
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

function decodeKeyBlob(keyType: string, b64: string): Buffer | undefined {
  if (!BASE64.test(b64)) return undefined;
  const blob = Buffer.from(b64, 'base64');
  return blobType(blob) === keyType ? blob : undefined;
}

/** The key type name an SSH public key blob starts with, or undefined when it is malformed. */
function blobType(blob: Buffer): string | undefined {
  if (blob.length < 4) return undefined;
  const n = blob.readUInt32BE(0);
  if (n === 0 || n > 64 || 4 + n > blob.length) return undefined;
  return blob.subarray(4, 4 + n).toString('latin1');
}

/** The name known_hosts stores a host under: `host` on port 22, `[host]:port` otherwise. */
export function knownHostName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** OpenSSH's `*`/`?` wildcard match, iterative (no backtracking blow-up). */
function wildcardMatch(s: string, p: string): boolean {
  let si = 0;
  let pi = 0;
  let star = -1;
  let mark = 0;
  while (si < s.length) {
    if (pi < p.length && (p[pi] === '?' || p[pi] === s[si])) {
      si++;
      pi++;
    } else if (pi < p.length && p[pi] === '*') {
      star = pi++;
      mark = si;
    } else if (star !== -1) {
      pi = star + 1;
      si = ++mark;
    } else {
      return false;
    }
  }
  while (pi < p.length && p[pi] === '*') pi++;
  return pi === p.length;
}

/**
 * Whether a known_hosts host field applies to `name` (already `[host]:port` when the port is not 22): a hashed
 * `|1|salt|hash` entry is HMAC-SHA1(salt, name); otherwise a comma list of case-insensitive wildcard patterns
 * where a matching `!pattern` vetoes the line.
 */
export function knownHostsFieldMatches(field: string, name: string): boolean {
  const lname = name.toLowerCase();
  if (field.startsWith('|')) {
    const parts = field.split('|');
    if (parts.length !== 4 || parts[1] !== '1') return false;
    // Node's base64 decoder skips junk, so check the alphabet first: `|1|salt|hash,other` is not a hash.
    if (!BASE64.test(parts[2]!) || !BASE64.test(parts[3]!)) return false;
    const salt = Buffer.from(parts[2]!, 'base64');
    const want = Buffer.from(parts[3]!, 'base64');
    if (salt.length !== 20 || want.length !== 20) return false;
    const got = createHmac('sha1', salt).update(lname).digest();
    return timingSafeEqual(got, want);
  }
  let positive = false;
  for (const pat of field.split(',')) {
    if (pat === '' || pat.length > MAX_PATTERN_BYTES) continue;
    const negated = pat.startsWith('!');
    const body = (negated ? pat.slice(1) : pat).toLowerCase();
    if (wildcardMatch(lname, body)) {
      if (negated) return false;
      positive = true;
    }
  }
  return positive;
}

/** `SHA256:<base64 without padding>` — the fingerprint `ssh-keygen -l` and `ssh` print. */
export function fingerprintSha256(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** ssh2's default host key algorithms, in its order of preference. */
const HOST_KEY_ALGORITHMS = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-512',
  'rsa-sha2-256',
  'ssh-rsa',
];

/**
 * The host key algorithms to offer: those of the key types known_hosts has for this host first (as OpenSSH orders
 * them), then the rest; undefined (ssh2's defaults) when none is known.
 */
function hostKeyAlgorithmOrder(knownTypes: Iterable<string>): string[] | undefined {
  const preferred = [...knownTypes]
    .flatMap(algorithmsFor)
    .filter((a) => HOST_KEY_ALGORITHMS.includes(a) || a === 'ssh-dss');
  return preferred.length === 0 ? undefined : [...new Set([...preferred, ...HOST_KEY_ALGORITHMS])];
}

/** Host key algorithms that a known_hosts key type can be used with. */
function algorithmsFor(keyType: string): string[] {
  return keyType === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [keyType];
}

const KEYSCAN_TYPE: Record<string, string> = {
  'ssh-ed25519': 'ed25519',
  'ssh-rsa': 'rsa',
  'ecdsa-sha2-nistp256': 'ecdsa',
  'ecdsa-sha2-nistp384': 'ecdsa',
  'ecdsa-sha2-nistp521': 'ecdsa',
  'ssh-dss': 'dsa',
};

interface KnownHostEntry extends KnownHostLine {
  file: string;
}

/** The decision about one presented host key. */
export type HostKeyVerdict =
  | { ok: true; file: string; line: number }
  | { ok: false; reason: 'unknown' | 'mismatch' | 'revoked'; message: string };

/**
 * Judges a presented host key blob against the known_hosts entries for `host:port` in `files` (path and text).
 * Accepts when a non-revoked entry holds the same key; `@cert-authority` lines are ignored (host certificates are
 * not supported).
 */
export function verifyHostKey(
  files: ReadonlyArray<{ path: string; text: string }>,
  host: string,
  port: number,
  blob: Buffer,
): HostKeyVerdict {
  const name = knownHostName(host, port);
  const entries = matchingEntries(files, name);
  const type = blobType(blob) ?? 'unknown';
  const fp = fingerprintSha256(blob);
  const where = files.map((f) => f.path).join(', ') || '(no known_hosts file)';
  const revoked = entries.find((e) => e.marker === 'revoked' && e.blob !== undefined && e.blob.equals(blob));
  if (revoked) {
    return {
      ok: false,
      reason: 'revoked',
      message: `host key of ${name} (${type} ${fp}) is marked @revoked in ${revoked.file} line ${revoked.line}: refusing to connect`,
    };
  }
  const plain = entries.filter((e) => e.marker === undefined && e.blob !== undefined);
  const same = plain.find((e) => e.blob!.equals(blob));
  if (same) return { ok: true, file: same.file, line: same.line };
  if (plain.length === 0 && name !== host) {
    // As OpenSSH does: with no entry at all for `[host]:port`, a matching key under the bare host name is accepted.
    const bare = matchingEntries(files, host);
    if (!bare.some((e) => e.marker === 'revoked' && e.blob !== undefined && e.blob.equals(blob))) {
      const hit = bare.find((e) => e.marker === undefined && e.blob !== undefined && e.blob.equals(blob));
      if (hit) return { ok: true, file: hit.file, line: hit.line };
    }
  }
  if (plain.length > 0) {
    const known = plain
      .slice(0, 4)
      .map((e) => `${e.keyType} ${fingerprintSha256(e.blob!)} (${e.file} line ${e.line})`)
      .join('; ');
    const file = plain[0]!.file;
    return {
      ok: false,
      reason: 'mismatch',
      message:
        `HOST KEY MISMATCH for ${name}: it presented ${type} ${fp}, but known_hosts has ${known}. ` +
        'Someone may be intercepting the connection, or the host key was replaced. If the change is legitimate, ' +
        `check the new fingerprint with the host's administrator, remove the old entry with ` +
        `ssh-keygen -R '${name}' -f ${file}, and add the new key.`,
    };
  }
  const t = KEYSCAN_TYPE[type];
  return {
    ok: false,
    reason: 'unknown',
    message:
      `host key of ${name} is not known: ${type} ${fp} is not in ${where}. Check this fingerprint with the ` +
      `host's administrator (on the host: ssh-keygen -lf /etc/ssh/ssh_host_${t ?? '*'}_key.pub), then add it, ` +
      `e.g. ssh-keyscan${port === 22 ? '' : ` -p ${port}`}${t ? ` -t ${t}` : ''} ${host} >> ${files[0]?.path ?? '~/.ssh/known_hosts'}`,
  };
}

function matchingEntries(
  files: ReadonlyArray<{ path: string; text: string }>,
  name: string,
): KnownHostEntry[] {
  const out: KnownHostEntry[] = [];
  for (const f of files) {
    for (const e of parseKnownHosts(f.text)) {
      if (knownHostsFieldMatches(e.hosts, name)) out.push({ ...e, file: f.path });
    }
  }
  return out;
}

/* ------------------------------------------------------------------------------------------------------------ */
/* Remote command lines                                                                                         */
/* ------------------------------------------------------------------------------------------------------------ */

/** POSIX shell single-quoting: `'…'` with each `'` written as `'\''`. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * The one command sudo is used for: `sudo -n cat -- 'PATH'`. Paths must be absolute and free of NUL, CR, LF and
 * backslashes (some shells treat a backslash inside single quotes specially).
 */
export function sudoCatCommand(path: string): string {
  if (!path.startsWith('/') || /[\0\r\n\\]/.test(path) || Buffer.byteLength(path) > MAX_PATH_BYTES) {
    throw new HyperwardError('E_USAGE', `refusing to pass this path to sudo: ${JSON.stringify(path)}`);
  }
  return `sudo -n cat -- ${shellQuote(path)}`;
}

const DPKG_FORMAT =
  /^(?:\$\{[A-Za-z][A-Za-z0-9_:-]{0,63}(?:;-?[0-9]{1,3})?\}|\\[nt]|[A-Za-z0-9 _.,:=+/-]){1,512}$/;
const DPKG_PACKAGE = /^[a-z0-9][a-z0-9+.-]{0,127}(?::[a-z0-9-]{1,32})?$/;
const VIRSH_URI = /^[a-z][a-z0-9+]{0,31}:\/\/\/[A-Za-z0-9._/-]{0,200}$/;
const VIRSH_NAME = /^[A-Za-z0-9][A-Za-z0-9_.+:@-]{0,199}$/;
const VIRSH_SUBCOMMANDS = new Set([
  'list',
  'dumpxml',
  'dominfo',
  'domstate',
  'domiflist',
  'domblklist',
  'net-list',
  'net-info',
  'net-dumpxml',
  'nwfilter-list',
  'nwfilter-dumpxml',
  'pool-list',
  'pool-dumpxml',
  'version',
  'nodeinfo',
  'capabilities',
  'hostname',
  'uri',
  'sysinfo',
]);
const VIRSH_OPTIONS = new Set(['--all', '--inactive', '--name', '--uuid', '--persistent', '--transient']);

function badArg(cmd: AllowedCommand, arg: string, why: string): HyperwardError {
  return new HyperwardError('E_USAGE', `${cmd}: argument ${JSON.stringify(arg)} refused: ${why}`);
}

/**
 * Builds the remote command line for an allow-listed read-only command. Every argument is checked against a
 * per-command grammar (no quotes, no shell metacharacters beyond what a dpkg-query format needs) and then
 * single-quoted, so nothing the caller passes can reach the shell as syntax.
 */
export function buildCommand(cmd: AllowedCommand, args: readonly string[]): string {
  const argv: string[] = [];
  switch (cmd) {
    case 'dpkg-query': {
      if (args[0] !== '-W' && args[0] !== '--show') {
        throw badArg(cmd, args[0] ?? '', 'the first argument must be -W or --show');
      }
      argv.push('dpkg-query', args[0]);
      for (const a of args.slice(1)) {
        const m = /^(?:-f=|--showformat=)(.*)$/s.exec(a);
        if (m) {
          if (!DPKG_FORMAT.test(m[1]!))
            throw badArg(cmd, a, 'format may hold ${Field}, \\n, \\t and plain text');
        } else if (!DPKG_PACKAGE.test(a)) {
          throw badArg(cmd, a, 'not a package name');
        }
        argv.push(a);
      }
      break;
    }
    case 'pveversion': {
      argv.push('pveversion');
      if (args.length > 1) throw badArg(cmd, args[1]!, 'at most one argument');
      for (const a of args) {
        if (a !== '-v' && a !== '--verbose') throw badArg(cmd, a, 'only -v / --verbose');
        argv.push(a);
      }
      break;
    }
    case 'virsh-readonly': {
      argv.push('virsh', '-r');
      let i = 0;
      if (args[0] === '-c' || args[0] === '--connect') {
        const uri = args[1] ?? '';
        if (!VIRSH_URI.test(uri)) throw badArg(cmd, uri, 'only local driver URIs such as qemu:///system');
        argv.push('-c', uri);
        i = 2;
      }
      const sub = args[i] ?? '';
      if (!VIRSH_SUBCOMMANDS.has(sub)) throw badArg(cmd, sub, 'not an allowed read-only virsh command');
      argv.push(sub);
      for (const a of args.slice(i + 1)) {
        if (a.startsWith('-')) {
          if (!VIRSH_OPTIONS.has(a)) throw badArg(cmd, a, 'option not allowed');
        } else if (!VIRSH_NAME.test(a)) {
          throw badArg(cmd, a, 'not a domain, network, filter or pool name');
        }
        argv.push(a);
      }
      break;
    }
    default:
      throw new HyperwardError('E_USAGE', `command not allowed over SSH: ${String(cmd)}`);
  }
  return argv.map((a) => (/^[A-Za-z0-9_./:=+-]+$/.test(a) ? a : shellQuote(a))).join(' ');
}

/* ------------------------------------------------------------------------------------------------------------ */
/* Paths                                                                                                        */
/* ------------------------------------------------------------------------------------------------------------ */

/**
 * The key a path is fetched and looked up under: absolute, no NUL, no `..` component, `//` and `/./` collapsed,
 * no trailing `/`. Undefined when the path is not acceptable.
 */
function normalizePath(path: string): string | undefined {
  if (typeof path !== 'string' || !path.startsWith('/') || path.includes('\0')) return undefined;
  if (Buffer.byteLength(path) > MAX_PATH_BYTES) return undefined;
  const parts: string[] = [];
  for (const p of path.split('/')) {
    if (p === '' || p === '.') continue;
    if (p === '..') return undefined;
    parts.push(p);
  }
  return `/${parts.join('/')}`;
}

function needPath(path: string): string {
  const n = normalizePath(path);
  if (n === undefined) {
    throw new HyperwardError('E_USAGE', `not an absolute path without '..' or NUL: ${JSON.stringify(path)}`);
  }
  return n;
}

/* ------------------------------------------------------------------------------------------------------------ */
/* The subset of ssh2 used here (the package ships no types)                                                    */
/* ------------------------------------------------------------------------------------------------------------ */

type Cb<T> = (err: Error | null | undefined, value: T) => void;

interface Ssh2Stats {
  mode?: number;
  size?: number;
}

interface Ssh2DirEntry {
  filename: string;
}

interface Ssh2Sftp {
  on(event: 'error', listener: (err: Error) => void): this;
  on(event: 'close', listener: () => void): this;
  stat(path: string, cb: Cb<Ssh2Stats>): void;
  open(path: string, flags: 'r', cb: Cb<Buffer>): void;
  fstat(handle: Buffer, cb: Cb<Ssh2Stats>): void;
  read(
    handle: Buffer,
    buf: Buffer,
    off: number,
    len: number,
    pos: number,
    cb: (err: Error | null | undefined, bytesRead: number) => void,
  ): void;
  close(handle: Buffer, cb: (err: Error | null | undefined) => void): void;
  opendir(path: string, cb: Cb<Buffer>): void;
  readdir(handle: Buffer, cb: Cb<Ssh2DirEntry[] | undefined>): void;
  end(): void;
}

interface Ssh2Readable {
  on(event: 'data', listener: (chunk: Buffer) => void): this;
}

interface Ssh2Channel extends Ssh2Readable {
  stderr: Ssh2Readable;
  on(event: 'data', listener: (chunk: Buffer) => void): this;
  on(event: 'exit', listener: (code: number | null, signal?: string) => void): this;
  on(event: 'close', listener: () => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
  close(): void;
}

type Ssh2Auth =
  { type: 'publickey'; username: string; key: Buffer } | { type: 'agent'; username: string; agent: string };

interface Ssh2ConnectConfig {
  host: string;
  port: number;
  username: string;
  readyTimeout: number;
  hostVerifier: (key: Buffer) => boolean;
  authHandler: Ssh2Auth[];
  algorithms?: { serverHostKey?: string[] };
  keepaliveInterval?: number;
}

interface Ssh2Client {
  on(event: 'ready' | 'close' | 'end', listener: () => void): this;
  on(event: 'error', listener: (err: Error & { level?: string; code?: unknown }) => void): this;
  connect(cfg: Ssh2ConnectConfig): void;
  sftp(cb: Cb<Ssh2Sftp>): void;
  exec(cmd: string, cb: Cb<Ssh2Channel>): void;
  end(): void;
  destroy(): void;
}

interface Ssh2ParsedKey {
  type: string;
  isPrivateKey(): boolean;
}

interface Ssh2Module {
  Client: new () => Ssh2Client;
  utils: { parseKey(data: Buffer): Ssh2ParsedKey | Ssh2ParsedKey[] | Error };
}

async function loadSsh2(): Promise<Ssh2Module> {
  // Loaded only when an SSH target is scanned (ssh2 is CommonJS and ships no type declarations).
  let mod: unknown;
  try {
    mod = dependency<unknown>('ssh2');
  } catch (e) {
    throw new HyperwardError(
      'E_USAGE',
      "the SSH source needs the 'ssh2' package (npm install ssh2)",
      {},
      { cause: e },
    );
  }
  const m = ((mod as { default?: unknown }).default ?? mod) as Partial<Ssh2Module>;
  if (typeof m.Client !== 'function' || typeof m.utils?.parseKey !== 'function') {
    throw new HyperwardError('E_INTERNAL', "the installed 'ssh2' package does not look like ssh2 1.x");
  }
  return m as Ssh2Module;
}

/* ------------------------------------------------------------------------------------------------------------ */
/* Local files: keys and known_hosts                                                                            */
/* ------------------------------------------------------------------------------------------------------------ */

/** Reads a small local file; undefined when it does not exist. */
function readLocalSmall(path: string, max: number, what: string): Buffer | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new HyperwardError('E_IO', `cannot open ${what}: ${(e as Error).message}`, { file: path });
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new HyperwardError('E_USAGE', `${what} is not a regular file`, { file: path });
    if (st.size > max) {
      throw new HyperwardError('E_LIMIT', `${what} is ${st.size} bytes, more than ${max}`, { file: path });
    }
    const buf = Buffer.alloc(st.size);
    let done = 0;
    while (done < buf.length) {
      const n = readSync(fd, buf, done, buf.length - done, done);
      if (n === 0) break;
      done += n;
    }
    return buf.subarray(0, done);
  } finally {
    closeSync(fd);
  }
}

function loadKnownHosts(opts: SshOptions): Array<{ path: string; text: string }> {
  const paths =
    opts.knownHostsFile !== undefined
      ? [opts.knownHostsFile]
      : [join(homedir(), '.ssh', 'known_hosts'), '/etc/ssh/ssh_known_hosts'];
  const out: Array<{ path: string; text: string }> = [];
  for (const path of paths) {
    const buf = readLocalSmall(path, MAX_KNOWN_HOSTS_BYTES, 'known_hosts file');
    out.push({ path, text: buf === undefined ? '' : buf.toString('utf8') });
  }
  return out;
}

function authMethods(
  ssh2: Ssh2Module,
  user: string,
  opts: SshOptions,
): { auths: Ssh2Auth[]; tried: string[] } {
  const auths: Ssh2Auth[] = [];
  const tried: string[] = [];
  const addKey = (path: string, explicit: boolean): void => {
    const key = readLocalSmall(path, MAX_KEY_FILE_BYTES, 'identity file');
    if (key === undefined) {
      if (explicit) throw new HyperwardError('E_USAGE', 'identity file not found', { file: path });
      return;
    }
    const parsed = ssh2.utils.parseKey(key);
    const first = Array.isArray(parsed) ? parsed[0] : parsed;
    if (first === undefined || first instanceof Error || !first.isPrivateKey()) {
      const why = first instanceof Error ? first.message : 'no private key in it';
      if (!explicit) return;
      throw new HyperwardError(
        'E_USAGE',
        `cannot use identity file: ${why} (for a passphrase-protected key, load it into ssh-agent)`,
        { file: path },
      );
    }
    auths.push({ type: 'publickey', username: user, key });
    tried.push(`key ${path}`);
  };
  if (opts.identityFile !== undefined) addKey(opts.identityFile, true);
  const agent = opts.agent ?? process.env.SSH_AUTH_SOCK;
  if (agent !== undefined && agent !== '') {
    auths.push({ type: 'agent', username: user, agent });
    tried.push(`agent ${agent}`);
  }
  if (opts.identityFile === undefined) {
    for (const name of ['id_ed25519', 'id_ecdsa', 'id_rsa']) addKey(join(homedir(), '.ssh', name), false);
  }
  if (auths.length === 0) {
    throw new HyperwardError(
      'E_USAGE',
      'no SSH key to authenticate with: give an identity file or run ssh-agent (SSH_AUTH_SOCK)',
    );
  }
  return { auths, tried };
}

/* ------------------------------------------------------------------------------------------------------------ */
/* Connecting                                                                                                   */
/* ------------------------------------------------------------------------------------------------------------ */

/**
 * Connects to `ssh://user@host[:port]`, verifying the host key against known_hosts and authenticating with a key
 * (identity file, agent, or the default `~/.ssh/id_*` keys). Throws E_AUTH for an unknown, changed or revoked
 * host key (naming its SHA256 fingerprint) and for a refused key; E_IO for network failures and timeouts.
 */
export async function openSsh(url: string, opts: SshOptions = {}): Promise<SshRoot> {
  const target = parseSshUrl(url);
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new HyperwardError('E_USAGE', `timeout must be a positive number of milliseconds: ${timeoutMs}`);
  }
  if (
    opts.maxTotalBytes !== undefined &&
    (!Number.isSafeInteger(opts.maxTotalBytes) || opts.maxTotalBytes < 0)
  ) {
    throw new HyperwardError(
      'E_USAGE',
      `maxTotalBytes must be a non-negative integer: ${opts.maxTotalBytes}`,
    );
  }
  const knownHosts = loadKnownHosts(opts);
  const ssh2 = await loadSsh2();
  const { auths, tried } = authMethods(ssh2, target.user, opts);
  const name = knownHostName(target.host, target.port);
  const hostKeyAlgorithms = hostKeyAlgorithmOrder(
    matchingEntries(knownHosts, name)
      .filter((e) => e.marker === undefined && e.blob !== undefined)
      .map((e) => e.keyType),
  );
  const display = `${target.user}@${name}`;

  const client = new ssh2.Client();
  let hostKeyError: HyperwardError | undefined;
  await new Promise<void>((resolve, reject) => {
    let settled = false;
    const finish = (err?: HyperwardError): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) {
        client.destroy();
        reject(err);
      } else {
        resolve();
      }
    };
    const timer = setTimeout(
      () =>
        finish(
          new HyperwardError('E_IO', `ssh ${display}: timed out after ${timeoutMs} ms while connecting`),
        ),
      timeoutMs,
    );
    client.on('ready', () => finish());
    client.on('error', (e) => {
      if (hostKeyError) return finish(hostKeyError);
      finish(connectError(e, display, tried));
    });
    client.on('close', () =>
      finish(hostKeyError ?? new HyperwardError('E_IO', `ssh ${display}: connection closed during login`)),
    );
    try {
      client.connect({
        host: target.host,
        port: target.port,
        username: target.user,
        readyTimeout: timeoutMs,
        authHandler: auths,
        ...(hostKeyAlgorithms ? { algorithms: { serverHostKey: hostKeyAlgorithms } } : {}),
        hostVerifier: (key: Buffer) => {
          const verdict = verifyHostKey(knownHosts, target.host, target.port, key);
          if (verdict.ok) return true;
          hostKeyError = new HyperwardError(E_AUTH, verdict.message, {
            file: knownHosts[0]?.path,
            layer: 'ssh host key',
          });
          return false;
        },
      });
    } catch (e) {
      finish(new HyperwardError('E_USAGE', `ssh ${display}: ${(e as Error).message}`, {}, { cause: e }));
    }
  });
  return new SshRoot(url, target, client, {
    sudo: opts.sudo === true,
    timeoutMs,
    maxTotalBytes: opts.maxTotalBytes ?? DEFAULT_MAX_TOTAL,
  });
}

function connectError(
  e: Error & { level?: string; code?: unknown },
  display: string,
  tried: string[],
): HyperwardError {
  if (e.level === 'client-authentication') {
    return new HyperwardError(
      E_AUTH,
      `ssh ${display}: the server refused every key offered (${tried.join(', ')}); only public-key ` +
        'authentication is used',
      {},
      { cause: e },
    );
  }
  const code = typeof e.code === 'string' ? `${e.code}: ` : '';
  return new HyperwardError('E_IO', `ssh ${display}: ${code}${e.message}`, {}, { cause: e });
}

/* ------------------------------------------------------------------------------------------------------------ */
/* The session                                                                                                  */
/* ------------------------------------------------------------------------------------------------------------ */

/** Runs `fn` over `items` with at most `limit` in flight. */
async function pool<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++]!;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** A counting semaphore. */
class Gate {
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  constructor(private readonly limit: number) {}
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((r) => this.waiting.push(r));
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}

function statusCode(e: unknown): number | undefined {
  const c = (e as { code?: unknown } | null)?.code;
  return typeof c === 'number' ? c : undefined;
}

function fileType(mode: number | undefined): 'file' | 'dir' | 'other' | undefined {
  if (typeof mode !== 'number') return undefined;
  const t = mode & S_IFMT;
  return t === S_IFREG ? 'file' : t === S_IFDIR ? 'dir' : 'other';
}

/**
 * One authenticated SSH connection to a host, read-only. Files and directory listings come through a single SFTP
 * session opened on first use; only stat, open-for-read, read, readdir and close requests are sent.
 */
export class SshRoot {
  readonly url: string;
  readonly target: SshTarget;
  private readonly client: Ssh2Client;
  private readonly sudo: boolean;
  private readonly timeoutMs: number;
  private readonly files = new Map<string, FileResult>();
  private readonly dirs = new Map<string, DirResult>();
  private readonly execGate = new Gate(EXEC_CONCURRENCY);
  private readonly pending = new Set<(e: HyperwardError) => void>();
  private sftpSession: Promise<Ssh2Sftp> | undefined;
  private broken: HyperwardError | undefined;
  private keptBytes = 0;
  private readonly maxTotal: number;
  private readonly closed: Promise<void>;

  /** Use `openSsh`. */
  constructor(
    url: string,
    target: SshTarget,
    client: Ssh2Client,
    opts: { sudo: boolean; timeoutMs: number; maxTotalBytes: number },
  ) {
    this.url = url;
    this.target = target;
    this.client = client;
    this.sudo = opts.sudo;
    this.timeoutMs = opts.timeoutMs;
    this.maxTotal = opts.maxTotalBytes;
    this.closed = new Promise<void>((resolve) => client.on('close', () => resolve()));
    client.on('error', (e) => {
      // ssh2's own errors say which level failed; anything else is its parser tripping over malformed data.
      const what =
        (e as { level?: unknown }).level !== undefined
          ? e.message
          : `malformed data from the server (${e.message})`;
      this.broken ??= new HyperwardError('E_IO', `ssh ${this.display()}: ${what}`, {}, { cause: e });
    });
    client.on('close', () => {
      this.broken ??= new HyperwardError('E_IO', `ssh ${this.display()}: connection closed`);
    });
  }

  private display(): string {
    return `${this.target.user}@${knownHostName(this.target.host, this.target.port)}`;
  }

  /** Ends the session on the first transport failure so every later request fails at once. */
  private fail(err: HyperwardError): HyperwardError {
    this.broken ??= err;
    this.client.destroy();
    // ssh2 drops some pending SFTP callbacks on a fatal protocol error: settle every waiting request now.
    const waiting = [...this.pending];
    this.pending.clear();
    for (const abort of waiting) abort(this.broken);
    return err;
  }

  /** One remote request with the per-operation timeout; SFTP status errors come back as the rejection. */
  private request<T>(what: string, start: (cb: Cb<T>) => void): Promise<T> {
    if (this.broken) return Promise.reject(this.broken);
    return new Promise<T>((resolve, reject) => {
      let done = false;
      const finish = (err: unknown, value?: T): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.pending.delete(abort);
        if (err) reject(err);
        else resolve(value as T);
      };
      const abort = (e: HyperwardError): void => finish(e);
      const timer = setTimeout(() => {
        const e = new HyperwardError(
          'E_IO',
          `ssh ${this.display()}: ${what} timed out after ${this.timeoutMs} ms`,
        );
        finish(e);
        this.fail(e);
      }, this.timeoutMs);
      this.pending.add(abort);
      try {
        start((err, value) => finish(err, value));
      } catch (e) {
        const err = new HyperwardError('E_IO', `ssh ${this.display()}: ${what}: ${(e as Error).message}`);
        finish(err);
        this.fail(err);
      }
    });
  }

  private sftp(): Promise<Ssh2Sftp> {
    this.sftpSession ??= this.request<Ssh2Sftp>('opening the SFTP session', (cb) =>
      this.client.sftp(cb),
    ).then(
      (sftp) => {
        // A malformed packet from the server is a fatal SFTP error: end the session instead of crashing.
        sftp.on('error', (e) => {
          this.fail(new HyperwardError('E_IO', `ssh ${this.display()}: SFTP protocol error: ${e.message}`));
        });
        sftp.on('close', () => {
          this.fail(new HyperwardError('E_IO', `ssh ${this.display()}: the SFTP session was closed`));
        });
        return sftp;
      },
      (e: unknown) => {
        throw e instanceof HyperwardError
          ? e
          : this.fail(
              new HyperwardError('E_IO', `ssh ${this.display()}: no SFTP session: ${(e as Error).message}`),
            );
      },
    );
    return this.sftpSession;
  }

  /** A transport failure (not an SFTP status about one file) aborts the whole prefetch. */
  private transportError(e: unknown, path: string): HyperwardError | undefined {
    if (e instanceof HyperwardError) return e;
    if (statusCode(e) !== undefined) return undefined;
    return this.fail(
      new HyperwardError('E_IO', `ssh ${this.display()}: ${(e as Error)?.message ?? String(e)}`, {
        file: path,
      }),
    );
  }

  /**
   * Reads `paths` (regular files, symlinks followed on the remote side, each capped at `maxBytes`) and lists
   * `dirs` over the one SFTP session, caching every outcome under the path as asked (normalized). Files the login
   * user may not read are read with `sudo -n cat` when the session was opened with `sudo`. Per-path problems are
   * recorded (see `snapshot().file()`); a broken connection or a timeout rejects with E_IO.
   */
  async prefetch(
    paths: readonly string[],
    dirs: readonly string[] = [],
    opts: PrefetchOptions = {},
  ): Promise<PrefetchSummary> {
    const t0 = performance.now();
    const maxBytes = opts.maxBytes ?? DEFAULT_MAX_FILE;
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) {
      throw new HyperwardError('E_USAGE', `maxBytes must be a non-negative integer: ${maxBytes}`);
    }
    const filePaths = [...new Set(paths.map(needPath))];
    const dirPaths = [...new Set(dirs.map(needPath))];
    if (this.broken) throw this.broken;
    const sftp = await this.sftp();
    const summary: PrefetchSummary = {
      files: filePaths.length,
      filesRead: 0,
      viaSudo: 0,
      bytes: 0,
      dirs: dirPaths.length,
      dirsListed: 0,
      elapsedMs: 0,
    };
    const tasks: Array<() => Promise<void>> = [
      ...dirPaths.map((d) => async () => {
        const r = await this.listDir(sftp, d);
        this.dirs.set(d, r);
        if (r.status === 'ok') summary.dirsListed++;
      }),
      ...filePaths.map((p) => async () => {
        const r = await this.readFile(sftp, p, maxBytes);
        this.files.set(p, r);
        if (r.status === 'ok') {
          summary.filesRead++;
          summary.bytes += r.data.length;
          if (r.via === 'sudo') summary.viaSudo++;
        }
      }),
    ];
    await pool(tasks, SFTP_CONCURRENCY, (t) => t());
    summary.elapsedMs = performance.now() - t0;
    return summary;
  }

  private async readFile(sftp: Ssh2Sftp, path: string, maxBytes: number): Promise<FileResult> {
    try {
      return await this.readFileSftp(sftp, path, maxBytes);
    } catch (e) {
      const fatal = this.transportError(e, path);
      if (fatal) throw fatal;
      const code = statusCode(e);
      if (code === FX_NO_SUCH_FILE) return { status: 'missing' };
      if (code === FX_PERMISSION_DENIED) {
        if (this.sudo) return this.readFileSudo(path, maxBytes);
        return { status: 'denied', message: `permission denied over SFTP: ${(e as Error).message}` };
      }
      return { status: 'error', message: `SFTP: ${(e as Error).message}` };
    }
  }

  private budgetExhausted(): FileResult {
    return {
      status: 'error',
      message: `not kept: this session's budget of ${this.maxTotal} bytes is used up`,
    };
  }

  private reserve(n: number): boolean {
    if (this.keptBytes + n > this.maxTotal) return false;
    this.keptBytes += n;
    return true;
  }

  private async readFileSftp(sftp: Ssh2Sftp, path: string, maxBytes: number): Promise<FileResult> {
    const st = await this.request<Ssh2Stats>(`stat ${path}`, (cb) => sftp.stat(path, cb));
    const type = fileType(st.mode);
    if (type === undefined) return { status: 'error', message: 'the server sent no file type' };
    if (type !== 'file') return { status: 'not-file' };
    const size = typeof st.size === 'number' ? st.size : 0;
    if (size > maxBytes) return { status: 'too-large', size };
    const handle = await this.request<Buffer>(`open ${path}`, (cb) => sftp.open(path, 'r', cb));
    try {
      // The path may have been swapped for a FIFO or device between stat and open.
      const fst = await this.request<Ssh2Stats>(`fstat ${path}`, (cb) => sftp.fstat(handle, cb));
      if (fileType(fst.mode) !== 'file') return { status: 'not-file' };
      // Read to EOF, not to the stated size: files can grow, and procfs-like files state 0.
      let buf = Buffer.alloc(Math.min(Math.max(size, 0), maxBytes) + 1);
      let got = 0;
      while (true) {
        if (got === buf.length) {
          if (buf.length > maxBytes) return { status: 'too-large' };
          const bigger = Buffer.alloc(Math.min(buf.length * 2, maxBytes + 1));
          buf.copy(bigger, 0, 0, got);
          buf = bigger;
        }
        const want = Math.min(buf.length - got, READ_CHUNK);
        const n = await this.request<number>(`read ${path}`, (cb) =>
          sftp.read(handle, buf, got, want, got, (err, bytes) => cb(err, bytes)),
        );
        if (!Number.isSafeInteger(n) || n < 0 || n > want) {
          return { status: 'error', message: `the server returned ${n} bytes for a ${want}-byte read` };
        }
        if (n === 0) break;
        got += n;
      }
      if (got > maxBytes) return { status: 'too-large' };
      if (!this.reserve(got)) return this.budgetExhausted();
      return { status: 'ok', data: buf.subarray(0, got), via: 'sftp' };
    } finally {
      await this.request<undefined>(`close ${path}`, (cb) =>
        sftp.close(handle, (err) => cb(err, undefined)),
      ).catch(() => undefined);
    }
  }

  /** `sudo -n cat -- PATH`, output capped at `maxBytes`. */
  private async readFileSudo(path: string, maxBytes: number): Promise<FileResult> {
    let command: string;
    try {
      command = sudoCatCommand(path);
    } catch (e) {
      return { status: 'denied', message: `permission denied over SFTP; ${(e as Error).message}` };
    }
    let r: Awaited<ReturnType<SshRoot['exec']>>;
    try {
      r = await this.execGate.run(() => this.exec(command, maxBytes));
    } catch (e) {
      // A hung `cat` (a FIFO, a stuck mount) costs this file, not the session.
      if (this.broken || !(e instanceof HyperwardError)) throw e;
      return { status: 'error', message: e.message };
    }
    if (r.overflow) return { status: 'too-large' };
    if (r.exitCode === 0 && r.signal === undefined) {
      if (!this.reserve(r.stdout.length)) return this.budgetExhausted();
      return { status: 'ok', data: r.stdout, via: 'sudo' };
    }
    const err = r.stderr.trim().split('\n').slice(-1)[0] ?? '';
    if (/No such file or directory/.test(err)) return { status: 'missing' };
    if (/Is a directory/.test(err)) return { status: 'not-file' };
    if (/^sudo:/.test(err) || r.exitCode === 127) {
      return { status: 'denied', message: `permission denied over SFTP, and sudo -n refused: ${err}` };
    }
    return { status: 'error', message: `sudo -n cat exited ${r.exitCode ?? r.signal}: ${err}` };
  }

  /** Runs one command line; stdout beyond `maxStdout` closes the channel and sets `overflow`. */
  private exec(
    command: string,
    maxStdout: number,
  ): Promise<{
    stdout: Buffer;
    stderr: string;
    exitCode: number | null;
    signal?: string;
    overflow: boolean;
  }> {
    if (this.broken) return Promise.reject(this.broken);
    return new Promise((resolve, reject) => {
      const out: Buffer[] = [];
      let outLen = 0;
      let errText = '';
      let overflow = false;
      let exitCode: number | null = null;
      let signal: string | undefined;
      let channel: Ssh2Channel | undefined;
      let done = false;
      const timer = setTimeout(() => {
        if (done) return;
        done = true;
        channel?.close();
        reject(
          new HyperwardError(
            'E_IO',
            `ssh ${this.display()}: ${command} timed out after ${this.timeoutMs} ms`,
          ),
        );
      }, this.timeoutMs);
      const settle = (): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        // A channel closed because the whole connection failed did not finish its command.
        if (this.broken && exitCode === null && signal === undefined) {
          reject(this.broken);
          return;
        }
        resolve({
          stdout: Buffer.concat(out, outLen),
          stderr: errText,
          exitCode,
          ...(signal !== undefined ? { signal } : {}),
          overflow,
        });
      };
      try {
        this.client.exec(command, (err, ch) => {
          if (err) {
            if (done) return;
            done = true;
            clearTimeout(timer);
            reject(
              new HyperwardError('E_IO', `ssh ${this.display()}: cannot run ${command}: ${err.message}`),
            );
            return;
          }
          channel = ch;
          ch.on('data', (chunk: Buffer) => {
            if (overflow) return;
            if (outLen + chunk.length > maxStdout) {
              overflow = true;
              ch.close();
              return;
            }
            out.push(chunk);
            outLen += chunk.length;
          });
          ch.stderr.on('data', (chunk: Buffer) => {
            if (errText.length < MAX_STDERR)
              errText += chunk.toString('utf8').slice(0, MAX_STDERR - errText.length);
          });
          ch.on('exit', (code, sig) => {
            exitCode = typeof code === 'number' ? code : null;
            if (typeof sig === 'string') signal = sig;
          });
          ch.on('close', settle);
          ch.on('error', (e: Error) => {
            if (done) return;
            done = true;
            clearTimeout(timer);
            ch.close();
            reject(new HyperwardError('E_IO', `ssh ${this.display()}: ${command}: ${e.message}`));
          });
        });
      } catch (e) {
        done = true;
        clearTimeout(timer);
        reject(this.fail(new HyperwardError('E_IO', `ssh ${this.display()}: ${(e as Error).message}`)));
      }
    });
  }

  private async listDir(sftp: Ssh2Sftp, path: string): Promise<DirResult> {
    let handle: Buffer;
    try {
      handle = await this.request<Buffer>(`opendir ${path}`, (cb) => sftp.opendir(path, cb));
    } catch (e) {
      const fatal = this.transportError(e, path);
      if (fatal) throw fatal;
      const code = statusCode(e);
      if (code === FX_PERMISSION_DENIED) return { status: 'denied', message: `permission denied over SFTP` };
      // sftp-server maps ENOTDIR to "no such file" (and some servers to a generic failure): a stat tells a
      // missing directory from a path that is something else.
      try {
        const st = await this.request<Ssh2Stats>(`stat ${path}`, (cb) => sftp.stat(path, cb));
        if (fileType(st.mode) !== 'dir') return { status: 'not-dir' };
      } catch (e2) {
        const fatal2 = this.transportError(e2, path);
        if (fatal2) throw fatal2;
        if (statusCode(e2) === FX_NO_SUCH_FILE) return { status: 'missing' };
      }
      if (code === FX_NO_SUCH_FILE) return { status: 'missing' };
      return { status: 'error', message: `SFTP: ${(e as Error).message}` };
    }
    const names: string[] = [];
    let truncated = false;
    try {
      while (true) {
        let batch: Ssh2DirEntry[] | undefined;
        try {
          batch = await this.request<Ssh2DirEntry[] | undefined>(`readdir ${path}`, (cb) =>
            sftp.readdir(handle, cb),
          );
        } catch (e) {
          if (statusCode(e) === FX_EOF) break;
          throw e;
        }
        if (!Array.isArray(batch) || batch.length === 0) break;
        for (const ent of batch) {
          const n = ent?.filename;
          if (typeof n !== 'string' || n === '.' || n === '..' || n === '') continue;
          if (n.includes('/') || n.includes('\0') || n.length > MAX_NAME_BYTES) continue;
          if (names.length >= MAX_DIR_ENTRIES) {
            truncated = true;
            break;
          }
          names.push(n);
        }
        if (truncated) break;
      }
    } catch (e) {
      const fatal = this.transportError(e, path);
      if (fatal) throw fatal;
      return { status: 'error', message: `SFTP: ${(e as Error).message}` };
    } finally {
      await this.request<undefined>(`close ${path}`, (cb) =>
        sftp.close(handle, (err) => cb(err, undefined)),
      ).catch(() => undefined);
    }
    names.sort();
    return { status: 'ok', names, truncated };
  }

  /**
   * Runs one allow-listed read-only command (see `buildCommand`) without sudo. Non-zero exits are returned, not
   * thrown; stdout beyond `maxBytes` (default 64 MiB) is an E_LIMIT error, a timeout E_IO.
   */
  async run(
    cmd: AllowedCommand,
    args: readonly string[],
    opts: { maxBytes?: number } = {},
  ): Promise<RunResult> {
    const command = buildCommand(cmd, args);
    const max = opts.maxBytes ?? DEFAULT_MAX_STDOUT;
    const r = await this.execGate.run(() => this.exec(command, max));
    if (r.overflow) {
      throw new HyperwardError('E_LIMIT', `ssh ${this.display()}: output of ${command} exceeds ${max} bytes`);
    }
    return {
      command,
      stdout: r.stdout,
      stderr: r.stderr,
      exitCode: r.exitCode,
      ...(r.signal !== undefined ? { signal: r.signal } : {}),
    };
  }

  /** A synchronous, read-only view of everything fetched so far (later prefetches do not change it). */
  snapshot(): SshSnapshot {
    const files = new Map(this.files);
    const dirs = new Map(this.dirs);
    return {
      tryReadFile(path: string, maxBytes?: number): Buffer | undefined {
        const key = normalizePath(path);
        const r = key === undefined ? undefined : files.get(key);
        if (r?.status !== 'ok') return undefined;
        if (maxBytes !== undefined && r.data.length > maxBytes) return undefined;
        return r.data;
      },
      list(path: string): string[] | undefined {
        const key = normalizePath(path);
        const r = key === undefined ? undefined : dirs.get(key);
        return r?.status === 'ok' ? [...r.names] : undefined;
      },
      file(path: string): FileResult | undefined {
        const key = normalizePath(path);
        return key === undefined ? undefined : files.get(key);
      },
      dir(path: string): DirResult | undefined {
        const key = normalizePath(path);
        return key === undefined ? undefined : dirs.get(key);
      },
      problems(): Array<{ path: string; code: string; message: string }> {
        const out: Array<{ path: string; code: string; message: string }> = [];
        for (const [path, r] of files) {
          if (r.status === 'denied') out.push({ path, code: 'E_IO', message: r.message });
          else if (r.status === 'error') out.push({ path, code: 'E_IO', message: r.message });
          else if (r.status === 'too-large') {
            out.push({
              path,
              code: 'E_LIMIT',
              message: `larger than the limit${r.size ? ` (${r.size} bytes)` : ''}`,
            });
          }
        }
        for (const [path, r] of dirs) {
          if (r.status === 'denied' || r.status === 'error')
            out.push({ path, code: 'E_IO', message: r.message });
          else if (r.status === 'ok' && r.truncated) {
            out.push({
              path,
              code: 'E_LIMIT',
              message: `more than ${MAX_DIR_ENTRIES} entries; listing truncated`,
            });
          }
        }
        return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
      },
    };
  }

  /** Closes the connection (and the SFTP session with it). */
  async close(): Promise<void> {
    this.broken ??= new HyperwardError('E_USAGE', `ssh ${this.display()}: session closed`);
    this.client.end();
    const t = setTimeout(() => this.client.destroy(), 2000);
    await this.closed;
    clearTimeout(t);
  }
}
