#!/usr/bin/env node
// Entry point: runs the CLI bundle that `npm run build` writes (dist/cli/hyperward.cjs), compiled through V8's code
// cache by dist/src/cli/start.js (src/cli/start.ts). Kept tiny: start-up is part of every command's run time.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const bundle = fileURLToPath(new URL('../dist/cli/hyperward.cjs', import.meta.url));
const start = new URL('../dist/src/cli/start.js', import.meta.url);
if (!existsSync(bundle) || !existsSync(start)) {
  process.stderr.write('hyperward: not built yet; run `npm run build` in the checkout first\n');
  process.exit(3);
}
// A closed pipe (`hyperward … | head`) ends the run quietly, as it does for other Unix tools.
process.stdout.on('error', (e) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});
const { startCli } = await import(start.href);
// Let stdout drain before exiting with the code.
process.exitCode = await startCli(bundle, process.argv.slice(2));
