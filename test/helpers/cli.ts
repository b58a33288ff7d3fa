import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../../bin/hyperward.js', import.meta.url));
/** The launcher npm links as the `hyperward` command (`npx hyperward`): a shell script that starts Node on BIN. */
export const LAUNCHER = fileURLToPath(new URL('../../bin/hyperward', import.meta.url));
/** The scan cache the CLI uses in this test process (under the checkout's ignored .cache/). */
export const TEST_SCAN_CACHE = fileURLToPath(
  new URL(`../../.cache/test-scan-cache/${process.pid}.db`, import.meta.url),
);

export interface CliResult {
  code: number;
  stdout: Buffer;
  stderr: string;
}

/** Runs the built CLI as a user would (scripts/test.sh builds it before the tests run). */
export function hyperward(args: string[], opts: { cwd?: string } = {}): CliResult {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: opts.cwd,
    maxBuffer: 1024 * 1024 * 1024,
    // No advisory database unless a test names one with --db: a developer's own must not change results.
    // Each test process has a scan cache of its own, so tests never read a developer's cache nor each other's.
    env: {
      ...process.env,
      NO_COLOR: '1',
      HYPERWARD_DB: '/nonexistent/hyperward-test/advisories.db',
      HYPERWARD_SCAN_CACHE: TEST_SCAN_CACHE,
    },
  });
  if (r.error) throw r.error;
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr.toString('utf8') };
}
