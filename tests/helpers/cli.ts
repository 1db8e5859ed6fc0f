import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

export const BIN = join(__dirname, '../../bin/instruct-scene.mjs');

/** Runs the real CLI in a child process (no mocks): exit code, stdout, stderr. */
export function cli(args: string[], opts: { cwd?: string; timeout?: number } = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', cwd: opts.cwd, timeout: opts.timeout ?? 300_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
