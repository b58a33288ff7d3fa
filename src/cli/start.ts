/**
 * How `bin/hyperward.js` starts the CLI fast. The CLI is built into one CommonJS bundle (`dist/cli/hyperward.cjs`,
 * see `scripts/build.mjs`), which this module compiles with V8's code cache: the bytecode of every function the
 * previous run of the same command compiled is read back instead of parsing and compiling the bundle again. On a
 * `scan image` that is about a fifth of the run (start-up is a feature: the command reads a few hundred KiB of an
 * image and is done).
 *
 * The cache is one file per command (`scan-image`, `db-import`, …: what one command compiles is what the next run of
 * it needs) under `$XDG_CACHE_HOME/hyperward/code/`, named after the bundle's identity (size, modification and change
 * times in nanoseconds, device, inode) so a rebuilt bundle never meets an old cache; V8 itself refuses a cache made by another V8 version or with
 * other flags. Written once, after a successful run, to a temporary file renamed into place (concurrent runs race
 * harmlessly); any failure to read or write it only costs the speed-up. `HYPERWARD_CODE_CACHE=0` turns it off.
 * A cache is code, so it is used only when it and its directory belong to the user running the command and nobody
 * else can write them (`ownedByMe`).
 *
 * Built into `dist/cli/start.cjs` on its own: it imports node: built-ins and `cache-dir.ts` only, never the CLI.
 */
import {
  closeSync,
  constants as fsConstants,
  existsSync,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  type Stats,
  writeFileSync,
} from 'node:fs';
import Module, { createRequire } from 'node:module';
import { basename, dirname, isAbsolute, join } from 'node:path';
import { constants, Script } from 'node:vm';
import { userCacheDir } from '../cache-dir.js';

/** What the bundle exports. */
interface CliBundle {
  main(argv: string[]): Promise<number>;
}

/** At most this many words name a command's cache: `scan image`, `db import`, `image ls`. */
const MAX_COMMAND_WORDS = 2;
const WORD = /^[a-z][a-z0-9-]{0,23}$/;
/** A larger file is not a cache this bundle wrote (they are well under 2 MiB). */
const MAX_CACHE_BYTES = 64 * 1024 * 1024;

/** The cache's name for the command `argv` runs: its leading words (`scan-image`), or `cli` for none. */
export function commandKey(argv: readonly string[]): string {
  const words: string[] = [];
  for (const a of argv) {
    if (words.length === MAX_COMMAND_WORDS || !WORD.test(a)) break;
    words.push(a);
  }
  return words.length > 0 ? words.join('-') : 'cli';
}

/** `${XDG_CACHE_HOME:-$HOME/.cache}/hyperward/code`. */
export function codeCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(userCacheDir(env), 'code');
}

/**
 * Whether `st` is something only this user can have written: owned by the effective user, not writable by group or
 * others. A code cache is code: `sudo hyperward scan host` with the caller's HOME kept must not run bytecode the
 * caller could have planted, so a cache (or its directory) owned by anyone else is neither read nor written.
 */
export function ownedByMe(st: { uid: number; mode: number }, uid = process.geteuid?.()): boolean {
  return uid !== undefined && st.uid === uid && (st.mode & 0o022) === 0;
}

/**
 * Whether a directory on the way to the cache is one nobody but this user and root can change: not a link, owned by
 * the user or root, and writable by nobody else — or, like /tmp, sticky, so that others cannot rename or remove
 * what they do not own.
 */
function safeAncestor(st: Stats, uid: number): boolean {
  return (
    st.isDirectory() &&
    (st.uid === uid || st.uid === 0) &&
    ((st.mode & 0o022) === 0 || (st.mode & 0o1000) !== 0)
  );
}

/**
 * Makes sure `dir` can hold code caches, creating what is missing of it when `create`, and returns its real path; or
 * undefined when it cannot be trusted. Every directory from / down must be one only this user or root can change
 * (`safeAncestor`), and `dir` itself this user's own (`ownedByMe`). Nothing is created inside a directory another
 * user owns: `sudo hyperward …` with the caller's HOME leaves the caller's home alone, and the cache off.
 */
export function trustedCacheDir(dir: string, create: boolean, uid = process.geteuid?.()): string | undefined {
  if (uid === undefined || !isAbsolute(dir)) return undefined;
  try {
    let existing = dir;
    const missing: string[] = [];
    while (!existsSync(existing)) {
      const up = dirname(existing);
      if (up === existing) return undefined;
      missing.unshift(basename(existing));
      existing = up;
    }
    if (missing.length > 0 && !create) return undefined;
    let path = realpathSync(existing);
    let p = '/';
    for (const part of path.split('/')) {
      if (part === '') continue;
      if (!safeAncestor(lstatSync(p), uid)) return undefined;
      p = join(p, part);
    }
    if (!safeAncestor(lstatSync(path), uid)) return undefined;
    for (const m of missing) {
      if (lstatSync(path).uid !== uid) return undefined;
      path = join(path, m);
      mkdirSync(path, { mode: 0o700 });
    }
    return ownedByMe(lstatSync(path), uid) ? path : undefined;
  } catch {
    return undefined;
  }
}

/** The cache file's bytes, if it is this user's own regular file (see `ownedByMe`); else undefined. */
export function readOwnCache(dir: string, path: string): Buffer | undefined {
  let fd: number | undefined;
  try {
    if (!ownedByMe(lstatSync(dir))) return undefined;
    fd = openSync(path, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK);
    const st = fstatSync(fd);
    if (!st.isFile() || !ownedByMe(st) || st.size > MAX_CACHE_BYTES) return undefined;
    return readFileSync(fd);
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Caches kept per command (other bundles: other checkouts, earlier builds), the most recently written first. */
const KEEP_PER_COMMAND = 4;
/** A temporary file older than this was left by a run that died: removed. */
const STALE_TMP_MS = 3_600_000;

/**
 * Writes `data` as `dir/name` through a temporary file of its own (created exclusively, so concurrent runs, even in
 * other PID namespaces, never share one), then trims this command's caches to `KEEP_PER_COMMAND`.
 */
function writeCache(dir: string, key: string, name: string, data: Buffer): void {
  try {
    const tmp = join(dir, `.${name}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
    writeFileSync(tmp, data, { mode: 0o600, flag: 'wx' });
    renameSync(tmp, join(dir, name));
    const now = Date.now();
    const mine: Array<{ f: string; t: number }> = [];
    for (const f of readdirSync(dir)) {
      const full = join(dir, f);
      if (f.startsWith(`${key}.`) && f.endsWith('.v8')) mine.push({ f: full, t: lstatSync(full).mtimeMs });
      else if (f.startsWith('.') && f.endsWith('.tmp') && now - lstatSync(full).mtimeMs > STALE_TMP_MS) {
        rmSync(full, { force: true });
      }
    }
    mine.sort((x, y) => y.t - x.t);
    for (const { f } of mine.slice(KEEP_PER_COMMAND)) rmSync(f, { force: true });
  } catch {
    // A cache that cannot be written only costs the next run its speed-up.
  }
}

/**
 * Loads the CLI bundle at `bundlePath` (through the code cache unless it is turned off) and runs its `main` on
 * `argv`; resolves to the exit code.
 */
export async function startCli(bundlePath: string, argv: string[]): Promise<number> {
  // The source and the name of its cache come from one descriptor, so a rebuild meanwhile cannot pair one bundle's
  // bytecode with another's name. V8 checks only a cache's source length, so the name must tell bundles apart:
  // nanosecond modification and change times (no tool sets the change time) with the size and inode.
  const fd = openSync(bundlePath, 'r');
  let source: string;
  let identity: string;
  try {
    const st = fstatSync(fd, { bigint: true });
    identity = `${st.size}-${st.mtimeNs}-${st.ctimeNs}-${st.dev}-${st.ino}`;
    // The bundle is ASCII (esbuild escapes the rest), so Latin-1 decoding is exact and the cheapest.
    source = readFileSync(fd, 'latin1');
  } finally {
    closeSync(fd);
  }
  const key = commandKey(argv);
  const name = `${key}.${identity}.v8`;
  const enabled = process.env.HYPERWARD_CODE_CACHE !== '0';
  const cacheDir = (create: boolean): string | undefined => {
    try {
      return trustedCacheDir(codeCacheDir(), create);
    } catch {
      return undefined; // no home directory: no cache
    }
  };
  const dir = enabled ? cacheDir(false) : undefined;
  const cached = dir !== undefined ? readOwnCache(dir, join(dir, name)) : undefined;
  const script = new Script(Module.wrap(source), {
    filename: bundlePath,
    ...(cached ? { cachedData: cached } : {}),
    importModuleDynamically: constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  const wrapper = script.runInThisContext() as (
    exports: object,
    require: NodeJS.Require,
    module: { exports: object },
    filename: string,
    dirname: string,
  ) => void;
  const mod = { exports: {} };
  wrapper.call(mod.exports, mod.exports, createRequire(bundlePath), mod, bundlePath, dirname(bundlePath));
  const code = await (mod.exports as CliBundle).main(argv);
  // After the run, so the cache holds every function this command compiled, not just the bundle's top level.
  if (enabled && code < 2 && (cached === undefined || script.cachedDataRejected)) {
    const target = dir ?? cacheDir(true);
    if (target !== undefined) writeCache(target, key, name, script.createCachedData());
  }
  return code;
}
