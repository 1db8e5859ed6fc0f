import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/**
 * @playcanvas/splat-transform (a devDependency), the reference implementation the format tests compare with:
 * its CLI runs in a child process. `available` is false (with the reason) when it is not installed.
 */
const CLI = join(__dirname, '../../node_modules/@playcanvas/splat-transform/bin/cli.mjs');

export const splatTransform = {
  available: existsSync(CLI),
  reason: existsSync(CLI) ? '' : '@playcanvas/splat-transform is not installed (npm ci installs the devDependencies)',
  /** Runs `splat-transform -w ...args`; throws with its output when it fails. */
  run(args: string[], cwd?: string): string {
    const r = spawnSync(process.execPath, [CLI, '-w', '-q', '-g', 'cpu', ...args], { encoding: 'utf8', cwd, timeout: 300_000 });
    if (r.status !== 0) throw new Error(`splat-transform ${args.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  },
};
