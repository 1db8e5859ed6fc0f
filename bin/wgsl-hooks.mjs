// Node module hooks that give `import source from './kernel.wgsl?raw'` the same meaning as in Vite:
// the file's text as the default export. Registered by bin/instruct-scene.mjs and bin/run-ts.mjs (after tsx);
// for other entry points use `node --import ./bin/wgsl-register.mjs` (or `npx tsx --import ./bin/wgsl-register.mjs`).
import { readFile } from 'node:fs/promises';

export async function resolve(specifier, context, next) {
  const q = specifier.indexOf('?raw');
  if (q < 0 || q !== specifier.length - 4) return next(specifier, context);
  const base = await next(specifier.slice(0, q), context);
  return { ...base, url: `${base.url}?raw`, format: 'wgsl-raw', shortCircuit: true };
}

export async function load(url, context, next) {
  if (!url.startsWith('file:') || !url.endsWith('?raw')) return next(url, context);
  const text = await readFile(new URL(url.slice(0, -4)), 'utf8');
  return { format: 'module', source: `export default ${JSON.stringify(text)};\n`, shortCircuit: true };
}
