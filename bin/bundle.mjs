// Bundles the compiled CLI into one CommonJS file next to dist/src/cli/main.js,
// then primes V8's code cache for it. Node loads one file much faster than the
// few hundred an ESM graph of ribo and its packages spreads over, and a script
// compiled from cached code skips most of V8's parsing: a cached `ribo build`
// takes about 0.13 s of CPU instead of 0.27 s. Same depth as main.js, so paths
// relative to the module (bundles/config.json) still resolve.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';

/**
 * string-width (yargs's help layout) builds an Intl.Segmenter and an
 * RGI_Emoji regex when it is loaded, about 10 ms of every ribo start although
 * only help text uses them; this makes both wait until first use.
 */
const lazyStringWidth = {
  name: 'lazy-string-width',
  setup(build) {
    build.onLoad({ filter: /[\\/]string-width[\\/]index\.js$/ }, (args) => {
      let contents = readFileSync(args.path, 'utf8');
      // Function replacers: the replacement text holds "$'", which a string replacer would expand.
      contents = contents.replace('const segmenter = new Intl.Segmenter();', () =>
        'let realSegmenter;\nconst segmenter = { segment: (text) => (realSegmenter ??= new Intl.Segmenter()).segment(text) };');
      contents = contents.replace('const rgiEmojiRegex = /^\\p{RGI_Emoji}$/v;', () =>
        'let realRgiEmojiRegex;\nconst rgiEmojiRegex = { test: (text) => (realRgiEmojiRegex ??= /^\\p{RGI_Emoji}$/v).test(text) };');
      return { contents, loader: 'js' };
    });
  },
};

const outfile = 'dist/src/cli/ribo.cjs';
await build({
  entryPoints: ['dist/src/cli/main.js'],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  sourcemap: true,
  logLevel: 'warning',
  // The ESM sources locate files beside them with import.meta.url.
  define: { 'import.meta.url': 'riboModuleUrl' },
  banner: { js: "const riboModuleUrl = require('node:url').pathToFileURL(__filename).href;" },
  plugins: [lazyStringWidth],
});
for (const name of readdirSync(path.dirname(outfile))) {
  if (name.startsWith(path.basename(outfile)) && name.endsWith('.cache')) rmSync(path.join(path.dirname(outfile), name), { force: true });
}
// bin/ribo writes the code cache after a run that compiled without one, one
// per set of Node flags: its shell part gives most commands a flag (the
// heap's), `build` and a plain `node bin/ribo` none.
execFileSync(process.execPath, ['bin/ribo', '--help'], { stdio: 'ignore' });
execFileSync('sh', ['bin/ribo', '--help'], { stdio: 'ignore' });
