// The build (`npm run build`, from the checkout's root):
// - dist/src/: the library, one file per module with declarations (tsc), for `import … from 'hyperward'`;
// - dist/cli/hyperward.cjs: the CLI as one CommonJS bundle, which bin/hyperward.js compiles through V8's code cache
//   (src/cli/start.ts; Node 20 has no code cache for ES modules). Only commander is bundled with it: every other
//   package is required when a command first needs it;
// - dist/cli/start.cjs: src/cli/start.ts, which bin/hyperward.js (CommonJS too) loads first;
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
/**
 * commander requires node:child_process when it loads, for the executable subcommands Hyperward does not use;
 * loading it (with net, dgram and streams) costs every command ~2 ms. commander gets a stand-in that loads the
 * module on first use.
 */
const lazyChildProcess = {
  name: 'lazy-child-process',
  setup(b) {
    b.onResolve({ filter: /^(node:)?child_process$/ }, (args) =>
      /[\\/]node_modules[\\/]commander[\\/]/.test(args.importer)
        ? { path: 'child_process', namespace: 'lazy-child-process' }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'lazy-child-process' }, () => ({
      contents: 'module.exports = new Proxy({}, { get: (_, key) => require("node:child_process")[key] });',
      loader: 'js',
    }));
  },
};
const common = { bundle: true, platform: 'node', target: 'node20', logLevel: 'warning', charset: 'ascii' };

rmSync('dist', { recursive: true, force: true });
execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
await build({
  ...common,
  entryPoints: ['src/cli/main.ts'],
  outfile: 'dist/cli/hyperward.cjs',
  format: 'cjs',
  external,
  plugins: [lazyChildProcess],
  // import.meta.url in a CommonJS bundle: the bundle's own URL.
  // "use strict" first: after the banner, esbuild's own directive would be a plain string and the bundle sloppy.
  banner: { js: '"use strict";\nvar __importMetaUrl = require("node:url").pathToFileURL(__filename).href;' },
  define: { 'import.meta.url': '__importMetaUrl' },
});
// What bin/hyperward.js runs first (node built-ins and src/cache-dir.ts), CommonJS like the bin.
await build({ ...common, entryPoints: ['src/cli/start.ts'], outfile: 'dist/cli/start.cjs', format: 'cjs' });
await build({
  ...common,
  entryPoints: ['src/scan/image-worker.ts'],
  outdir: 'dist/cli',
  format: 'esm',
  splitting: true,
  entryNames: '[name]',
  packages: 'external',
});
