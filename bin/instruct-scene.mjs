#!/usr/bin/env node
// Entry point: runs the TypeScript CLI directly through tsx, so no build step is needed after `npm install`.
import { register } from 'tsx/esm/api';
register();
await import('./wgsl-register.mjs'); // `import x from './k.wgsl?raw'` as in Vite (after tsx: hooks run last-registered first)
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
