/**
 * `npm run bench -- NAME [ARGS…]` runs bench/NAME.ts with ARGS (each bench writes bench/results/NAME.json and says
 * how to read it in its header); `npm run bench` alone lists the benches.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const benches = readdirSync(HERE)
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts' && !f.endsWith('-entry.ts'))
  .map((f) => f.slice(0, -3))
  .sort();
const [name, ...args] = process.argv.slice(2);
if (!name || name === '--help' || name === '-h') {
  console.log('usage: npm run bench -- NAME [ARGS…]\n\nbenches:');
  for (const b of benches) {
    // the first line of the header comment says what it measures
    const m = /^(?:\/\*\*?\s*\n?\s*\*?|\/\/)\s*([^\n]+)/.exec(readFileSync(join(HERE, `${b}.ts`), 'utf8'));
    console.log(`  ${b.padEnd(18)} ${m ? m[1].replace(/^\*\s*/, '').slice(0, 100) : ''}`);
  }
  process.exit(0);
}
if (!benches.includes(name) || !existsSync(join(HERE, `${name}.ts`))) {
  console.error(`npm run bench: no bench '${name}' (have: ${benches.join(', ')})`);
  process.exit(1);
}
const r = spawnSync(process.execPath, [join(HERE, '../bin/run-ts.mjs'), join(HERE, `${name}.ts`), ...args], { stdio: 'inherit' });
process.exit(r.status ?? 1);
