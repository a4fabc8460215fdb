// `npm run build`, second half: bundles the operator (src/cli/index.ts and everything it
// imports) into dist/bin/ with esbuild, the file the image, the chart, `npm start` and the tests
// run (src/cli/node-flags.ts: OPERATOR_ENTRY). Why one bundle: docs/adr/0009-*.md. In short,
// loading @kubernetes/client-node as its ~1,000 separate modules cost about 60 MB of RSS, its
// sources kept in the heap among them; the bundle holds only what the operator reaches.
//
// - Code splitting keeps the lazily imported drivers (ioredis, pg) in their own chunks, loaded
//   only when a store, the audit log or a check needs them.
// - Whitespace and syntax are minified, names are not, so stack traces still name functions.
//   The linked source map maps them back (node --enable-source-maps).
// - pg's optional native binding is left out, as pg itself treats it.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';

const outdir = 'dist/bin';
rmSync(outdir, { recursive: true, force: true });
const result = await build({
  entryPoints: { 'kube-remediator': 'src/cli/index.ts' },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  minifyWhitespace: true,
  minifySyntax: true,
  sourcemap: 'linked',
  external: ['pg-native'],
  // CommonJS dependencies call require() for Node's built-ins; an ES module has none.
  banner: {
    js: "import { createRequire as __krCreateRequire } from 'node:module'; const require = __krCreateRequire(import.meta.url);",
  },
  chunkNames: 'chunks/[name]-[hash]',
  logLevel: 'warning',
  metafile: true,
});
const bytes = Object.entries(result.metafile.outputs)
  .filter(([f]) => f.endsWith('.js'))
  .reduce((n, [, o]) => n + o.bytes, 0);
console.log(
  `bundled ${outdir}/kube-remediator.js (${(bytes / 1048576).toFixed(1)} MB of JavaScript in all chunks)`,
);
