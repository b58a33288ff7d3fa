/**
 * How `bin/hyperward.js` starts the CLI fast. The CLI is built into one CommonJS bundle (`dist/cli/hyperward.cjs`,
 * see `scripts/build.mjs`), which this module compiles with V8's code cache: the bytecode of every function the
 * previous run of the same command compiled is read back instead of parsing and compiling the bundle again. On a
 * `scan image` that is about a fifth of the run (start-up is a feature: the command reads a few hundred KiB of an
 * image and is done).
 *
 * The cache is one file per command (`scan-image`, `db-import`, …: what one command compiles is what the next run of
 * it needs) under `$XDG_CACHE_HOME/hyperward/code/`, named after the bundle's identity (size, modification time,
 * inode) so a rebuilt bundle never meets an old cache; V8 itself refuses a cache made by another V8 version or with
 * other flags. Written once, after a successful run, to a temporary file renamed into place (concurrent runs race
 * harmlessly); any failure to read or write it only costs the speed-up. `HYPERWARD_CODE_CACHE=0` turns it off.
 * A cache is code, so it is used only when it and its directory belong to the user running the command and nobody
 * else can write them (`ownedByMe`).
 *
 * Only node: built-ins are imported here.
 */
import {
  closeSync,
  constants as fsConstants,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import Module, { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { constants, Script } from 'node:vm';

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

/** `${XDG_CACHE_HOME:-$HOME/.cache}/hyperward/code` (as `userCacheDir`, which this module must not import). */
export function codeCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CACHE_HOME;
  const cache = xdg !== undefined && isAbsolute(xdg) ? xdg : join(env.HOME || homedir(), '.cache');
  return join(cache, 'hyperward', 'code');
}

/**
 * Whether `st` is something only this user can have written: owned by the effective user, not writable by group or
 * others. A code cache is code: `sudo hyperward scan host` with the caller's HOME kept must not run bytecode the
 * caller could have planted, so a cache (or its directory) owned by anyone else is neither read nor written.
 */
export function ownedByMe(st: { uid: number; mode: number }, uid = process.geteuid?.()): boolean {
  return uid !== undefined && st.uid === uid && (st.mode & 0o022) === 0;
}

/** The cache file's bytes, if it and its directory are this user's own (see `ownedByMe`); else undefined. */
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

/** Writes `data` to `path` through a temporary file, and removes this command's caches of other bundles. */
function writeCache(dir: string, key: string, name: string, data: Buffer): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (!ownedByMe(lstatSync(dir))) return;
    const tmp = join(dir, `.${name}.${process.pid}.tmp`);
    writeFileSync(tmp, data, { mode: 0o600 });
    renameSync(tmp, join(dir, name));
    for (const f of readdirSync(dir)) {
      if (f !== name && f.startsWith(`${key}.`) && f.endsWith('.v8')) rmSync(join(dir, f), { force: true });
    }
  } catch {
    // A cache that cannot be written only costs the next run its speed-up.
  }
}

/**
 * Loads the CLI bundle at `bundlePath` (through the code cache unless it is turned off) and runs its `main` on
 * `argv`; resolves to the exit code.
 */
export async function startCli(bundlePath: string, argv: string[]): Promise<number> {
  const useCache = process.env.HYPERWARD_CODE_CACHE !== '0';
  // The bundle is ASCII (esbuild escapes the rest), so Latin-1 decoding is exact and the cheapest.
  const source = readFileSync(bundlePath, 'latin1');
  const st = statSync(bundlePath);
  const key = commandKey(argv);
  const dir = codeCacheDir();
  const name = `${key}.${st.size}-${Math.trunc(st.mtimeMs)}-${st.ino}.v8`;
  const cached = useCache ? readOwnCache(dir, join(dir, name)) : undefined;
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
  if (useCache && code < 2 && (cached === undefined || script.cachedDataRejected === true)) {
    writeCache(dir, key, name, script.createCachedData());
  }
  return code;
}
