// Writes the library's type entry point next to its bundle (after `tsc -p tsconfig.lib.json`).
import { writeFileSync } from 'node:fs';
writeFileSync('dist/lib/instruct-scene-viewer.d.ts', "export * from './types/viewer/index';\n");
