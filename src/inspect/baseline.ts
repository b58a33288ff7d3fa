/**
 * Tamper evidence with a baseline, as AIDE or Tripwire do it but for offline images: a manifest records every
 * file of a known-good image (path, type, size, permission bits, owner, modification time, SHA-256 of regular
 * files, target of symbolic links), is signed with an Ed25519 key, and a later image is compared with it.
 *
 * The signed file (`signManifest`) is the canonical JSON of `{"manifest": MANIFEST, "signature":
 * {"algorithm": "ed25519", "keyFingerprint": FP, "value": BASE64}}` followed by one newline, where
 * - canonical JSON (`canonicalJson`) is RFC 8785 (JCS) for the values a manifest holds: object members sorted
 *   by their names compared as UTF-16 code units, no whitespace anywhere, strings escaped as `JSON.stringify`
 *   escapes them, numbers as ECMAScript prints them (manifests hold only integers);
 * - the signature is Ed25519 (RFC 8032, pure) over the UTF-8 bytes of `hyperward-baseline-v1\n` followed by
 *   the canonical JSON of the manifest (the prefix keeps the signature from being replayed for another
 *   purpose);
 * - FP, the key fingerprint, is `sha256:` and the hex SHA-256 of the public key's DER SubjectPublicKeyInfo;
 *   the manifest carries it too, so it is covered by the signature.
 *
 * `verifyManifest` accepts only a file that is byte for byte what `signManifest` wrote (a trailing newline
 * aside): re-indented, re-ordered or otherwise re-serialized manifests are refused like altered ones, so any
 * change of a byte is caught, not only changes of meaning.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  verify,
  type KeyObject,
} from 'node:crypto';
import { HyperwardError, isHyperwardError } from '../errors.js';
import type { FileSystem, FileType } from '../fs/types.js';
import { Vfs } from '../fs/vfs.js';
import { parseJsonGuarded } from '../json-guard.js';
import { fingerprint, type Finding, type Severity } from '../model/finding.js';
import { classifyFile, type TreeRoot } from './integrity.js';

export const MANIFEST_FORMAT = 'hyperward-baseline';
export const MANIFEST_VERSION = 1;
/** Prepended to the canonical manifest before signing (domain separation). */
export const SIGNATURE_CONTEXT = 'hyperward-baseline-v1\n';

/** One file, directory, link or special file of the baselined tree. */
export interface ManifestEntry {
  /** Absolute path; `/` is the root directory itself. */
  path: string;
  type: FileType;
  /** Permission bits including setuid, setgid and sticky (`st_mode & 07777`). */
  mode: number;
  uid: number;
  gid: number;
  /** Modification time, Unix seconds. */
  mtime: number;
  /**
   * Bytes, for regular files and symbolic links (a directory's size depends on the filesystem, not content).
   */
  size?: number;
  /** Lower-case hex SHA-256 of the content, for regular files. */
  sha256?: string;
  /** The target, for symbolic links. */
  target?: string;
  /** Why the entry (its content, its directory listing) could not be read completely. */
  error?: string;
}

/** A baseline: what an image held when it was known to be good. */
export interface Manifest {
  format: typeof MANIFEST_FORMAT;
  version: typeof MANIFEST_VERSION;
  /** ISO 8601 time the baseline was taken. */
  created: string;
  /** The image it was taken from, as the user named it. */
  image: string;
  /** `sha256:<hex>` of the signing key's SubjectPublicKeyInfo (DER); set by `signManifest`. */
  keyFingerprint?: string;
  /** Every entry, sorted by path (UTF-16 code-unit order), each path once. */
  entries: ManifestEntry[];
}

export interface BaselineOptions {
  /** The image name recorded in the manifest. */
  image: string;
  /** The time recorded (default now). */
  created?: Date;
  /** Most entries walked before giving up with E_LIMIT (default 5,000,000). */
  maxEntries?: number;
  /** Deepest directory nesting walked before giving up with E_LIMIT (default 512). */
  maxDepth?: number;
  /** Regular files larger than this are recorded with an `error` instead of a digest (default 16 GiB). */
  maxFileBytes?: number;
  /** Called after each entry with the entries and content bytes done so far. */
  onProgress?: (entries: number, bytes: number) => void;
}

const DEFAULTS = { maxEntries: 5_000_000, maxDepth: 512, maxFileBytes: 16 * 1024 * 1024 * 1024 };
const CHUNK = 1024 * 1024;
const FILE_TYPES: readonly FileType[] = [
  'file',
  'dir',
  'symlink',
  'chardev',
  'blockdev',
  'fifo',
  'socket',
  'unknown',
];
const MAX_PATH = 16 * 1024;
const MAX_TEXT = 64 * 1024;
/** Largest signed manifest text accepted. */
export const MAX_MANIFEST_CHARS = 1024 * 1024 * 1024;

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

// -----------------------------------------------------------------------------------------------------------
// Walking a tree

/** An assembled image (`Mounts`, or any `TreeRoot`) or a single filesystem. */
type Root = TreeRoot | Vfs;

interface WalkDir {
  path: string;
  vfs: Vfs;
  ino: number;
  depth: number;
  entry: ManifestEntry;
}

function sha256Of(fs: FileSystem, ino: number, size: number, bytes: { n: number }): string {
  const h = createHash('sha256');
  for (let off = 0; off < size;) {
    const want = Math.min(CHUNK, size - off);
    const buf = fs.read(ino, off, want);
    h.update(buf);
    bytes.n += buf.length;
    if (buf.length < want) {
      throw new HyperwardError('E_FS_CORRUPT', `file ended at ${off + buf.length} of ${size} bytes`, {
        layer: 'file content',
      });
    }
    off += buf.length;
  }
  return h.digest('hex');
}

const messageOf = (e: unknown): string => {
  if (isHyperwardError(e)) return e.message;
  throw e;
};

/**
 * Walks a tree without following symbolic links, iteratively (no recursion), crossing into filesystems
 * mounted below the root when `root` is a `TreeRoot` such as `Mounts`. Entries that cannot be read get an
 * `error` and the walk goes on; the walk throws E_LIMIT past `maxEntries` or `maxDepth`, since a baseline
 * that leaves files out is no baseline.
 */
function walk(root: Root, opts: BaselineOptions): ManifestEntry[] {
  const maxEntries = opts.maxEntries ?? DEFAULTS.maxEntries;
  const maxDepth = opts.maxDepth ?? DEFAULTS.maxDepth;
  const maxFileBytes = opts.maxFileBytes ?? DEFAULTS.maxFileBytes;
  const locate = (path: string): { vfs: Vfs; path: string } =>
    root instanceof Vfs ? { vfs: root, path } : root.locate(path);
  const bytes = { n: 0 };
  const out: ManifestEntry[] = [];
  // Hard links: one digest per inode and filesystem.
  const digests = new Map<Vfs, Map<number, string>>();

  const top = locate('/');
  const topIno = top.vfs.resolve(top.path, false);
  if (topIno === undefined) throw new HyperwardError('E_NOT_FOUND', 'the tree has no root directory');
  const describe = (path: string, vfs: Vfs, ino: number): ManifestEntry => {
    const st = vfs.fs.stat(ino);
    const e: ManifestEntry = {
      path,
      type: st.type,
      mode: st.mode & 0o7777,
      uid: st.uid,
      gid: st.gid,
      mtime: st.mtime,
    };
    if (st.type === 'file') {
      e.size = st.size;
      if (st.size > maxFileBytes) {
        e.error = `${st.size} bytes, over the ${maxFileBytes}-byte limit: not hashed`;
      } else {
        try {
          let perFs = digests.get(vfs);
          if (perFs === undefined) digests.set(vfs, (perFs = new Map()));
          let d = st.nlink > 1 ? perFs.get(ino) : undefined;
          if (d === undefined) {
            d = sha256Of(vfs.fs, ino, st.size, bytes);
            if (st.nlink > 1) perFs.set(ino, d);
          }
          e.sha256 = d;
        } catch (err) {
          e.error = messageOf(err);
        }
      }
    } else if (st.type === 'symlink') {
      e.size = st.size;
      try {
        e.target = vfs.fs.readlink(ino);
      } catch (err) {
        e.error = messageOf(err);
      }
    }
    return e;
  };
  const rootEntry = describe('/', top.vfs, topIno);
  out.push(rootEntry);
  if (rootEntry.type !== 'dir')
    throw new HyperwardError('E_USAGE', 'the root of the tree is not a directory');
  const stack: WalkDir[] = [{ path: '/', vfs: top.vfs, ino: topIno, depth: 0, entry: rootEntry }];
  while (stack.length > 0) {
    const d = stack.pop()!;
    let list;
    try {
      list = d.vfs.fs.readdir(d.ino);
    } catch (err) {
      d.entry.error = messageOf(err);
      continue;
    }
    let bad = 0;
    for (const de of list) {
      if (
        de.name === '' ||
        de.name === '.' ||
        de.name === '..' ||
        de.name.includes('/') ||
        de.name.includes('\0')
      ) {
        bad++;
        continue;
      }
      if (out.length >= maxEntries) {
        throw new HyperwardError(
          'E_LIMIT',
          `more than ${maxEntries} entries; raise the limit to baseline this tree`,
        );
      }
      const path = d.path === '/' ? `/${de.name}` : `${d.path}/${de.name}`;
      let vfs = d.vfs;
      let ino = de.ino;
      let e: ManifestEntry;
      try {
        if (!(root instanceof Vfs) && de.type === 'dir') {
          // A filesystem mounted here replaces the directory, as on a running system.
          const l = locate(path);
          if (l.vfs !== d.vfs || l.path === '/') {
            const mounted = l.vfs.resolve(l.path, false);
            if (mounted !== undefined) {
              vfs = l.vfs;
              ino = mounted;
            }
          }
        }
        e = describe(path, vfs, ino);
      } catch (err) {
        e = { path, type: de.type, mode: 0, uid: 0, gid: 0, mtime: 0, error: messageOf(err) };
      }
      out.push(e);
      opts.onProgress?.(out.length, bytes.n);
      if (e.type === 'dir' && e.error === undefined) {
        if (d.depth + 1 > maxDepth) {
          throw new HyperwardError('E_LIMIT', `${path} is nested deeper than ${maxDepth} directories`);
        }
        stack.push({ path, vfs, ino, depth: d.depth + 1, entry: e });
      }
    }
    if (bad > 0) {
      const what =
        `${bad} entr${bad === 1 ? 'y' : 'ies'} with an impossible name ` +
        `(empty, '.', '..', '/' or NUL) skipped`;
      d.entry.error = d.entry.error === undefined ? what : `${d.entry.error}; ${what}`;
    }
  }
  out.sort((a, b) => cmp(a.path, b.path));
  return out;
}

/**
 * Records every entry of a tree — an image's assembled filesystems (`Mounts`) or one filesystem (`Vfs`) —
 * into an unsigned manifest. Symbolic links are recorded, never followed.
 *
 * @example
 * const m = mountImage('golden.qcow2');
 * const text = signManifest(createBaseline(m.root!, { image: 'golden.qcow2' }), privateKeyPem);
 */
export function createBaseline(root: Root, opts: BaselineOptions): Manifest {
  return {
    format: MANIFEST_FORMAT,
    version: MANIFEST_VERSION,
    created: (opts.created ?? new Date()).toISOString(),
    image: opts.image,
    entries: walk(root, opts),
  };
}

// -----------------------------------------------------------------------------------------------------------
// Canonical JSON, keys, signing

/**
 * The canonical JSON text of a value: RFC 8785 (JCS) — object members sorted by name in UTF-16 code-unit
 * order, no whitespace, strings escaped as `JSON.stringify` does, numbers as ECMAScript prints them. Members
 * whose value is `undefined` are left out, as `JSON.stringify` leaves them out. Throws E_USAGE for values
 * JSON cannot hold.
 */
export function canonicalJson(value: unknown): string {
  const parts: string[] = [];
  const emit = (v: unknown, depth: number): void => {
    if (depth > 64) throw new HyperwardError('E_USAGE', 'value nested too deeply for canonical JSON');
    if (v === null || typeof v === 'boolean' || typeof v === 'string') {
      parts.push(JSON.stringify(v));
    } else if (typeof v === 'number') {
      if (!Number.isFinite(v))
        throw new HyperwardError('E_USAGE', 'canonical JSON has no form for ' + String(v));
      parts.push(JSON.stringify(v));
    } else if (Array.isArray(v)) {
      parts.push('[');
      v.forEach((x, i) => {
        if (i > 0) parts.push(',');
        emit(x === undefined ? null : x, depth + 1);
      });
      parts.push(']');
    } else if (
      typeof v === 'object' &&
      [Object.prototype, null].includes(Object.getPrototypeOf(v) as object)
    ) {
      const obj = v as Record<string, unknown>;
      const keys = Object.keys(obj)
        .filter((k) => obj[k] !== undefined)
        .sort(cmp);
      parts.push('{');
      keys.forEach((k, i) => {
        if (i > 0) parts.push(',');
        parts.push(JSON.stringify(k), ':');
        emit(obj[k], depth + 1);
      });
      parts.push('}');
    } else {
      throw new HyperwardError('E_USAGE', `canonical JSON has no form for a ${typeof v}`);
    }
  };
  emit(value, 0);
  return parts.join('');
}

/** A new Ed25519 key pair as PEM: the private key PKCS #8, the public key SPKI. */
export function generateKeyPair(): { publicKey: string; privateKey: string } {
  return generateKeyPairSync('ed25519', {
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
}

/** `sha256:<hex>` of a public key's DER SubjectPublicKeyInfo: how manifests name the key that signed them. */
export function publicKeyFingerprint(publicKey: string | KeyObject): string {
  const key = typeof publicKey === 'string' ? loadPublicKey(publicKey) : publicKey;
  const der = key.export({ type: 'spki', format: 'der' });
  return 'sha256:' + createHash('sha256').update(der).digest('hex');
}

function loadPublicKey(pem: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (e) {
    throw new HyperwardError('E_USAGE', `not a public key: ${(e as Error).message}`, {}, { cause: e });
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new HyperwardError(
      'E_USAGE',
      `baselines are signed with Ed25519 keys, not ${key.asymmetricKeyType ?? 'this key'}`,
    );
  }
  return key;
}

function signedBytes(manifest: Manifest): Buffer {
  return Buffer.from(SIGNATURE_CONTEXT + canonicalJson(manifest), 'utf8');
}

/**
 * Signs a manifest with an Ed25519 private key (PEM, PKCS #8; `passphrase` for an encrypted one) and returns
 * the signed file's text (see the module comment for its exact form). The manifest is validated first.
 */
export function signManifest(manifest: Manifest, privateKeyPem: string, passphrase?: string): string {
  let key: KeyObject;
  try {
    key = createPrivateKey(passphrase !== undefined ? { key: privateKeyPem, passphrase } : privateKeyPem);
  } catch (e) {
    throw new HyperwardError(
      'E_USAGE',
      `not a usable private key: ${(e as Error).message}`,
      {},
      { cause: e },
    );
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new HyperwardError(
      'E_USAGE',
      `baselines are signed with Ed25519 keys, not ${key.asymmetricKeyType ?? 'this key'}`,
    );
  }
  const keyFingerprint = publicKeyFingerprint(createPublicKey(key));
  const signed = parseManifest({ ...manifest, keyFingerprint });
  const value = sign(null, signedBytes(signed), key).toString('base64');
  return (
    canonicalJson({ manifest: signed, signature: { algorithm: 'ed25519', keyFingerprint, value } }) + '\n'
  );
}

const WHERE = { file: 'baseline manifest', layer: 'signed manifest' };

/**
 * Checks a signed manifest against the public key the user trusts and returns the manifest. Throws E_AUTH
 * when the signature does not verify, the key is another one, or the text is not exactly as signed;
 * E_CONFIG_SYNTAX when the text is not a signed manifest at all; E_USAGE for a key that is not an Ed25519
 * public key.
 */
export function verifyManifest(text: string, publicKeyPem: string): Manifest {
  const key = loadPublicKey(publicKeyPem);
  const doc = parseJsonGuarded(text, WHERE, { maxLength: MAX_MANIFEST_CHARS, maxDepth: 8 });
  if (!isObject(doc) || !isObject(doc.manifest) || !isObject(doc.signature)) {
    throw new HyperwardError(
      'E_CONFIG_SYNTAX',
      'not a signed Hyperward baseline (no manifest and signature)',
      WHERE,
    );
  }
  const sig = doc.signature;
  const keys = (o: object): string => Object.keys(o).sort(cmp).join(',');
  if (keys(doc) !== 'manifest,signature' || keys(sig) !== 'algorithm,keyFingerprint,value') {
    throw new HyperwardError('E_AUTH', 'the signed file has fields Hyperward does not write', WHERE);
  }
  if (
    sig.algorithm !== 'ed25519' ||
    typeof sig.value !== 'string' ||
    typeof sig.keyFingerprint !== 'string'
  ) {
    throw new HyperwardError('E_AUTH', 'the signature is not an Ed25519 signature Hyperward wrote', WHERE);
  }
  const want = publicKeyFingerprint(key);
  if (sig.keyFingerprint !== want) {
    throw new HyperwardError(
      'E_AUTH',
      `signed by key ${sig.keyFingerprint}, not the trusted key ${want}`,
      WHERE,
    );
  }
  if (doc.manifest.keyFingerprint !== want) {
    throw new HyperwardError('E_AUTH', 'the manifest names another signing key than its signature', WHERE);
  }
  const raw = Buffer.from(sig.value, 'base64');
  if (raw.length !== 64 || raw.toString('base64') !== sig.value) {
    throw new HyperwardError('E_AUTH', 'the signature is not a 64-byte Ed25519 signature in base64', WHERE);
  }
  let data: Buffer;
  try {
    data = Buffer.from(SIGNATURE_CONTEXT + canonicalJson(doc.manifest), 'utf8');
  } catch {
    throw new HyperwardError('E_AUTH', 'the manifest cannot be serialized as it was signed', WHERE);
  }
  if (!verify(null, data, key, raw)) {
    throw new HyperwardError(
      'E_AUTH',
      'the signature does not verify: the manifest was altered after signing',
      WHERE,
    );
  }
  if (text !== canonicalJson(doc) + '\n' && text !== canonicalJson(doc)) {
    throw new HyperwardError(
      'E_AUTH',
      'the file is not byte for byte as signed (reformatted or altered)',
      WHERE,
    );
  }
  return parseManifest(doc.manifest);
}

// -----------------------------------------------------------------------------------------------------------
// Validation

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const ENTRY_KEYS = new Set([
  'path',
  'type',
  'mode',
  'uid',
  'gid',
  'mtime',
  'size',
  'sha256',
  'target',
  'error',
]);
const MANIFEST_KEYS = new Set(['format', 'version', 'created', 'image', 'keyFingerprint', 'entries']);

const isInt = (v: unknown, min: number, max: number): v is number =>
  typeof v === 'number' && Number.isSafeInteger(v) && v >= min && v <= max;
const isText = (v: unknown, max: number): v is string => typeof v === 'string' && v.length <= max;

/**
 * Checks that a value (parsed JSON) is a manifest of this format version and returns it typed. Everything is
 * checked, and one bad entry rejects the whole manifest (E_CONFIG_SYNTAX naming the entry): a signed baseline
 * is trusted as a whole or not at all. An unknown version is E_UNSUPPORTED_FORMAT.
 */
export function parseManifest(value: unknown): Manifest {
  const bad = (msg: string): HyperwardError => new HyperwardError('E_CONFIG_SYNTAX', msg, WHERE);
  if (!isObject(value)) throw bad('the manifest is not an object');
  for (const k of Object.keys(value))
    if (!MANIFEST_KEYS.has(k)) throw bad(`unknown manifest field ${JSON.stringify(k)}`);
  if (value.format !== MANIFEST_FORMAT) throw bad(`format is not ${MANIFEST_FORMAT}`);
  if (value.version !== MANIFEST_VERSION) {
    throw new HyperwardError(
      'E_UNSUPPORTED_FORMAT',
      `manifest version ${String(value.version)} is not ${MANIFEST_VERSION}`,
      WHERE,
    );
  }
  if (!isText(value.created, 64) || Number.isNaN(Date.parse(value.created)))
    throw bad('created is not a date');
  if (!isText(value.image, MAX_TEXT)) throw bad('image is not a string');
  if (
    value.keyFingerprint !== undefined &&
    !(typeof value.keyFingerprint === 'string' && /^sha256:[0-9a-f]{64}$/.test(value.keyFingerprint))
  ) {
    throw bad('keyFingerprint is not sha256:<64 hex digits>');
  }
  if (!Array.isArray(value.entries)) throw bad('entries is not a list');
  if (value.entries.length > DEFAULTS.maxEntries)
    throw new HyperwardError('E_LIMIT', `more than ${DEFAULTS.maxEntries} entries`, WHERE);
  const entries: ManifestEntry[] = [];
  const seen = new Set<string>();
  value.entries.forEach((raw: unknown, i: number) => {
    const at = `entry ${i}`;
    if (!isObject(raw)) throw bad(`${at} is not an object`);
    for (const k of Object.keys(raw))
      if (!ENTRY_KEYS.has(k)) throw bad(`${at} has unknown field ${JSON.stringify(k)}`);
    const { path, type, mode, uid, gid, mtime, size, sha256, target, error } = raw;
    if (!isText(path, MAX_PATH) || !path.startsWith('/') || path.includes('\0'))
      throw bad(`${at}: path is not absolute`);
    if (seen.has(path)) throw bad(`${at}: ${path} is listed twice`);
    seen.add(path);
    if (typeof type !== 'string' || !(FILE_TYPES as readonly string[]).includes(type))
      throw bad(`${at}: bad type`);
    if (!isInt(mode, 0, 0o7777)) throw bad(`${at}: mode is not 0..07777`);
    if (!isInt(uid, 0, 0xffffffff) || !isInt(gid, 0, 0xffffffff)) throw bad(`${at}: uid/gid are not 32-bit`);
    if (!isInt(mtime, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER))
      throw bad(`${at}: mtime is not an integer`);
    const e: ManifestEntry = { path, type: type as FileType, mode, uid, gid, mtime };
    if (size !== undefined) {
      if (!isInt(size, 0, Number.MAX_SAFE_INTEGER)) throw bad(`${at}: size is not a byte count`);
      e.size = size;
    }
    if (sha256 !== undefined) {
      if (typeof sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(sha256))
        throw bad(`${at}: sha256 is not 64 hex digits`);
      e.sha256 = sha256;
    }
    if (target !== undefined) {
      if (!isText(target, MAX_TEXT)) throw bad(`${at}: target is not a string`);
      e.target = target;
    }
    if (error !== undefined) {
      if (!isText(error, MAX_TEXT)) throw bad(`${at}: error is not a string`);
      e.error = error;
    }
    entries.push(e);
  });
  const m: Manifest = {
    format: MANIFEST_FORMAT,
    version: MANIFEST_VERSION,
    created: value.created,
    image: value.image,
    entries,
  };
  if (value.keyFingerprint !== undefined) m.keyFingerprint = value.keyFingerprint as string;
  return m;
}

// -----------------------------------------------------------------------------------------------------------
// Comparing

/** The fields of an entry compared, in the order they are reported. */
export type ManifestField =
  'type' | 'size' | 'mode' | 'uid' | 'gid' | 'mtime' | 'sha256' | 'target' | 'error';
export const MANIFEST_FIELDS: readonly ManifestField[] = [
  'type',
  'size',
  'mode',
  'uid',
  'gid',
  'mtime',
  'sha256',
  'target',
  'error',
];

export interface BaselineChange {
  path: string;
  /** The fields that differ, in `MANIFEST_FIELDS` order. */
  fields: ManifestField[];
  baseline: ManifestEntry;
  current: ManifestEntry;
}

export interface BaselineDiff {
  /** Paths in the image and not in the baseline, sorted. */
  added: string[];
  /** Paths in the baseline and no longer in the image, sorted. */
  removed: string[];
  changed: BaselineChange[];
  /** Entries of the image compared. */
  entries: number;
}

export interface CompareOptions extends Omit<BaselineOptions, 'image' | 'created'> {
  /** Fields not to compare (e.g. `mtime`, when images are rebuilt with fresh timestamps). */
  ignore?: readonly ManifestField[];
}

/** Compares two lists of entries, both sorted by path. */
export function diffEntries(
  baseline: readonly ManifestEntry[],
  current: readonly ManifestEntry[],
  ignore: readonly ManifestField[] = [],
): Omit<BaselineDiff, 'entries'> {
  const fields = MANIFEST_FIELDS.filter((f) => !ignore.includes(f));
  const sortedBase = [...baseline].sort((a, b) => cmp(a.path, b.path));
  const out: Omit<BaselineDiff, 'entries'> = { added: [], removed: [], changed: [] };
  let i = 0;
  let j = 0;
  while (i < sortedBase.length || j < current.length) {
    const a = sortedBase[i];
    const b = current[j];
    if (b === undefined || (a !== undefined && a.path < b.path)) {
      out.removed.push(a!.path);
      i++;
    } else if (a === undefined || b.path < a.path) {
      out.added.push(b.path);
      j++;
    } else {
      const differ = fields.filter((f) => a[f] !== b[f]);
      if (differ.length > 0) out.changed.push({ path: a.path, fields: differ, baseline: a, current: b });
      i++;
      j++;
    }
  }
  return out;
}

/**
 * Walks an image's tree as `createBaseline` does and reports what was added, removed and changed since the
 * baseline. Verify the manifest's signature first (`verifyManifest`).
 */
export function compareToBaseline(manifest: Manifest, root: Root, opts: CompareOptions = {}): BaselineDiff {
  const current = walk(root, { ...opts, image: manifest.image });
  return { ...diffEntries(manifest.entries, current, opts.ignore), entries: current.length };
}

// -----------------------------------------------------------------------------------------------------------
// Findings

/**
 * How much a difference from the baseline matters: a binary or library whose content, type or link changed,
 * or that appeared, is high; one that vanished, or changed owner or permissions, medium; changes under `/etc`
 * low; changes of other files medium when content changed and low otherwise; a change of modification time
 * alone info.
 */
export function baselineSeverity(
  kind: 'added' | 'removed' | 'changed',
  path: string,
  fields: readonly ManifestField[] = [],
): Severity {
  const cls = classifyFile(path, path.startsWith('/etc/'));
  const content = fields.some((f) => f === 'sha256' || f === 'type' || f === 'target' || f === 'size');
  if (kind === 'changed' && fields.every((f) => f === 'mtime')) return 'info';
  if (cls === 'config') return 'low';
  if (cls === 'binary' || cls === 'library') {
    if (kind === 'added' || (kind === 'changed' && content)) return 'high';
    return 'medium';
  }
  if (kind === 'changed') return content ? 'medium' : 'low';
  return 'low';
}

/**
 * Findings for a baseline comparison: `image.baseline-added`, `image.baseline-removed` and
 * `image.baseline-changed`, one per path, resource the file, fingerprinted by target, check and path.
 */
export function baselineFindings(
  diff: BaselineDiff,
  target: string,
  manifest: Pick<Manifest, 'image' | 'created'>,
): Finding[] {
  const out: Finding[] = [];
  const since = `the baseline of ${manifest.image} taken ${manifest.created}`;
  const make = (
    checkId: string,
    path: string,
    severity: Severity,
    title: string,
    message: string,
    ev?: Finding['evidence'],
  ): void => {
    const f: Finding = {
      id: fingerprint(checkId, 'file', `${target}#${path}`),
      checkId,
      severity,
      status: 'fail',
      title,
      message,
      resource: { type: 'file', id: path },
      evidence: ev ?? { file: path },
      remediation:
        'Find out who made the change; if it was not intended, restore the file from a trusted source, ' +
        'and take a new baseline only after review.',
      platform: 'image',
    };
    out.push(f);
  };
  for (const p of diff.added)
    make(
      'image.baseline-added',
      p,
      baselineSeverity('added', p),
      'File added since the baseline',
      `${p} is not in ${since}.`,
    );
  for (const p of diff.removed)
    make(
      'image.baseline-removed',
      p,
      baselineSeverity('removed', p),
      'File removed since the baseline',
      `${p} is in ${since} and no longer in the image.`,
    );
  for (const c of diff.changed) {
    const detail = c.fields
      .map((f) => `${f} ${show(f, c.baseline[f])} → ${show(f, c.current[f])}`)
      .join(', ');
    const first = c.fields[0]!;
    make(
      'image.baseline-changed',
      c.path,
      baselineSeverity('changed', c.path, c.fields),
      'File changed since the baseline',
      `${c.path} differs from ${since}: ${detail}.`,
      { file: c.path, key: first, value: show(first, c.current[first]) },
    );
  }
  return out;
}

function show(field: ManifestField, v: ManifestEntry[ManifestField]): string {
  if (v === undefined) return '(none)';
  if (field === 'mode' && typeof v === 'number') return '0' + v.toString(8).padStart(3, '0');
  return field === 'target' ? JSON.stringify(v) : String(v);
}
