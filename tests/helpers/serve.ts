import { spawn, type ChildProcess } from 'node:child_process';
import { BIN } from './cli';

export interface ServeProcess {
  /** http://127.0.0.1:PORT */
  url: string;
  port: number;
  proc: ChildProcess;
  /** stdout lines so far */
  stdout: string[];
  stderr: string[];
  /** sends a signal and waits for the exit code */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts the real `instruct-scene serve` on 127.0.0.1 (port 0 = ephemeral unless given) and waits until it listens. */
export function startServe(args: string[], opts: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<ServeProcess> {
  const hasPort = args.includes('--port');
  const proc = spawn(process.execPath, [BIN, 'serve', '--host', '127.0.0.1', ...(hasPort ? [] : ['--port', '0']), ...args], {
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stdout: string[] = [],
    stderr: string[] = [];
  let outBuf = '',
    errBuf = '';
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`serve did not start in time; stderr: ${stderr.join('\n')}`));
    }, opts.timeoutMs ?? 90_000);
    proc.stdout!.on('data', (c: Buffer) => {
      outBuf += c.toString();
      const lines = outBuf.split('\n');
      outBuf = lines.pop()!;
      for (const l of lines) {
        stdout.push(l);
        const m = /listening on (http:\/\/127\.0\.0\.1:(\d+))/.exec(l) ?? /"url":"(http:\/\/127\.0\.0\.1:(\d+))"/.exec(l);
        if (m) {
          clearTimeout(timer);
          resolve({
            url: m[1],
            port: Number(m[2]),
            proc,
            stdout,
            stderr,
            stop: async (signal = 'SIGTERM') => {
              if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
              return exited;
            },
          });
        }
      }
    });
    proc.stderr!.on('data', (c: Buffer) => {
      errBuf += c.toString();
      const lines = errBuf.split('\n');
      errBuf = lines.pop()!;
      stderr.push(...lines);
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited (${code}) before listening: ${stderr.join('\n')}`));
    });
  });
}
