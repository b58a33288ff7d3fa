import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';

/**
 * Hyperward's directory for data it can rebuild (the advisory database, the scan cache):
 * `${XDG_CACHE_HOME:-$HOME/.cache}/hyperward`, as the XDG base directory specification says (a relative
 * `XDG_CACHE_HOME` is ignored).
 */
export function userCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CACHE_HOME;
  const cache = xdg !== undefined && isAbsolute(xdg) ? xdg : join(env.HOME || homedir(), '.cache');
  return join(cache, 'hyperward');
}
