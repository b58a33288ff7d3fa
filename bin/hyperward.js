#!/usr/bin/env node
// Entry point: runs the compiled CLI (npm run build writes dist/). Kept tiny so start-up loads only what a
// command needs.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('hyperward: not built yet; run `npm run build` in the checkout first\n');
  process.exit(3);
}
const { main } = await import(entry.href);
const code = await main(process.argv.slice(2));
// Let stdout drain before exiting with the code.
process.exitCode = code;
