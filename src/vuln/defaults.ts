/**
 * Defaults the command line shows in its help. Kept apart from the matcher, so that building the command tree
 * does not load the advisory database and its native module.
 */
import { join } from 'node:path';
import { userCacheDir } from '../cache-dir.js';

/** Days after the last import beyond which a scan warns that the advisory database is stale. */
export const DEFAULT_DB_MAX_AGE_DAYS = 7;

/** The default database file: `$HYPERWARD_DB`, else `${XDG_CACHE_HOME:-$HOME/.cache}/hyperward/advisories.db`. */
export function defaultDbPath(env: NodeJS.ProcessEnv = process.env): string {
  const explicit = env.HYPERWARD_DB;
  if (explicit !== undefined && explicit !== '') return explicit;
  return join(userCacheDir(env), 'advisories.db');
}

/** What to do when there is no database. */
export const DB_IMPORT_HINT =
  'import advisories first: hyperward db import PATH… (OSV files or zips, Debian tracker JSON, Alpine secdb, NVD CVE JSON)';

/** The warning of a scan that found no database at `path`. */
export function missingDbWarning(path: string): string {
  return `no advisory database at ${path}: vulnerabilities were not checked; ${DB_IMPORT_HINT}`;
}
