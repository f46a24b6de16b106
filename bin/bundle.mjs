// Bundles the compiled CLI into one module next to dist/src/cli/main.js.
// Node loads one file much faster than the few hundred an ESM graph of
// ribo and its packages spreads over: a cached `ribo build` takes about 0.17 s
// instead of 0.27 s here. Same depth as main.js, so paths relative to
// import.meta.url (bundles/config.json) still resolve.
import { build } from 'esbuild';

await build({
  entryPoints: ['dist/src/cli/main.js'],
  outfile: 'dist/src/cli/ribo.mjs',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: true,
  logLevel: 'warning',
  // Bundled CommonJS packages (yargs's helpers) call require.
  banner: { js: "import { createRequire as riboCreateRequire } from 'node:module'; const require = riboCreateRequire(import.meta.url);" },
});
