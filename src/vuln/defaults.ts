/**
 * Defaults the command line shows in its help. Kept apart from the matcher, so that building the command tree
 * does not load the advisory database and its native module.
 */

/** Days after the last import beyond which a scan warns that the advisory database is stale. */
export const DEFAULT_DB_MAX_AGE_DAYS = 7;
