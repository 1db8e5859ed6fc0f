import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { setWebpWasmProvider } from '../formats/webp';

let installed = false;

/**
 * Node adapter: gives the WebP decoder (SOG images) its WebAssembly module from node_modules, which Node
 * cannot fetch by URL as browsers do.
 */
export function installNodeWebp(): void {
  if (installed) return;
  installed = true;
  setWebpWasmProvider(async () => {
    const require = createRequire(import.meta.url);
    const dir = require.resolve('@jsquash/webp/package.json').replace(/package\.json$/, '');
    return new WebAssembly.Module(await readFile(`${dir}codec/dec/webp_dec.wasm`));
  });
}
