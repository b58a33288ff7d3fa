// The build (`npm run build`, from the checkout's root):
// - dist/src/: the library, one file per module with declarations (tsc), for `import … from 'hyperward'`;
// - dist/cli/hyperward.cjs: the CLI as one CommonJS bundle, which bin/hyperward.js compiles through V8's code cache
//   (src/cli/start.ts; Node 20 has no code cache for ES modules). Only commander is bundled with it: every other
//   package is required when a command first needs it;
// - dist/cli/image-worker.js (+ chunks): the worker that scans images in parallel, an ES module bundle.
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { build } from 'esbuild';

const BUNDLED = new Set(['commander']);
const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
const external = [
  ...Object.keys(pkg.dependencies ?? {}),
  ...Object.keys(pkg.optionalDependencies ?? {}),
].filter((name) => !BUNDLED.has(name));
const common = { bundle: true, platform: 'node', target: 'node20', logLevel: 'warning', charset: 'ascii' };

rmSync('dist', { recursive: true, force: true });
execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
await build({
  ...common,
  entryPoints: ['src/cli/main.ts'],
  outfile: 'dist/cli/hyperward.cjs',
  format: 'cjs',
  external,
  // import.meta.url in a CommonJS bundle: the bundle's own URL.
  banner: { js: 'var __importMetaUrl = require("node:url").pathToFileURL(__filename).href;' },
  define: { 'import.meta.url': '__importMetaUrl' },
});
await build({
  ...common,
  entryPoints: ['src/scan/image-worker.ts'],
  outdir: 'dist/cli',
  format: 'esm',
  splitting: true,
  entryNames: '[name]',
  packages: 'external',
});
