#!/usr/bin/env node
// Entry point: runs the compiled CLI (npm run build writes dist/). Kept tiny so start-up loads only what a
// command needs.
import { existsSync } from 'node:fs';

// dist/cli is the CLI bundled into a few chunks (fewer modules to resolve and compile at start-up).
const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('hyperward: not built yet; run `npm run build` in the checkout first\n');
  process.exit(3);
}
// A closed pipe (`hyperward … | head`) ends the run quietly, as it does for other Unix tools.
process.stdout.on('error', (e) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});
const { main } = await import(entry.href);
const code = await main(process.argv.slice(2));
// Let stdout drain before exiting with the code.
process.exitCode = code;
