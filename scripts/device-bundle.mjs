// Bundles a TypeScript entry (a bench script) into one ES module for a machine with nothing but `node` and the
// `webgpu` package (a lent GPU machine has no npm registry): WGSL `?raw` imports become strings, as in Vite.
// Usage: node scripts/device-bundle.mjs bench/edit-backends.ts OUT.mjs   (then: node OUT.mjs ... beside node_modules/webgpu)
import { build } from 'esbuild';
import { readFile } from 'node:fs/promises';
import { resolve, dirname } from 'node:path';

const [entry, outfile] = process.argv.slice(2);
if (!entry || !outfile) throw new Error('usage: node scripts/device-bundle.mjs ENTRY.ts OUT.mjs');
await build({
  entryPoints: [entry],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['webgpu', 'onnxruntime-node', 'onnxruntime-web'],
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  plugins: [
    {
      name: 'wgsl-raw',
      setup(b) {
        b.onResolve({ filter: /\?raw$/ }, (a) => ({ path: resolve(dirname(a.importer), a.path.slice(0, -4)), namespace: 'raw' }));
        b.onLoad({ filter: /.*/, namespace: 'raw' }, async (a) => ({ contents: await readFile(a.path, 'utf8'), loader: 'text' }));
      },
    },
  ],
  logLevel: 'warning',
});
