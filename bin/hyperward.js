#!/usr/bin/env node
// Entry point: runs the CLI bundle that `npm run build` writes (dist/cli/hyperward.cjs), compiled through V8's code
// cache by dist/cli/start.cjs (src/cli/start.ts). CommonJS (bin/package.json), like what it loads, so that a run
// never sets up the ES module loader; kept tiny: start-up is part of every command's run time.
'use strict';
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const bundle = join(__dirname, '..', 'dist', 'cli', 'hyperward.cjs');
const start = join(__dirname, '..', 'dist', 'cli', 'start.cjs');
if (!existsSync(bundle) || !existsSync(start)) {
  process.stderr.write('hyperward: not built yet; run `npm run build` in the checkout first\n');
  process.exit(3);
}
// A closed pipe (`hyperward … | head`) ends the run quietly, as it does for other Unix tools.
process.stdout.on('error', (e) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});
require(start)
  .startCli(bundle, process.argv.slice(2))
  .then(
    (code) => {
      // Let stdout drain before exiting with the code.
      process.exitCode = code;
    },
    (e) => {
      // A failure before the CLI could report it (an unreadable bundle, say): exit code 3, as for any internal error.
      process.stderr.write(`hyperward: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exitCode = 3;
    },
  );
