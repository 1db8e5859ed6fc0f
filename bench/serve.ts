/**
 * `instruct-scene serve --model builtin` under load on loopback: 8 concurrent clients (the project's client,
 * binary tensors) send UNet requests as an edit does — batch 3 (the guidance branches) at 64×64 latents (a 512²
 * image) — for 60 s each case → requests/s, p50/p99 latency, failed requests, the server's RSS before, at most and
 * after, and how many requests ran in each batched model run (from the server's JSON log: one line per request).
 * Cases: batching on (default, up to 16 rows per run) and off (--max-batch 1), side by side in one run.
 * Run: node bin/run-ts.mjs bench/serve.ts [--seconds S] [--clients N]  → bench/results/serve.json
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Rng } from '../src/core/rng';
import { OipClient } from '../src/edit/diffusion/remote/oip-client';
import type { WireTensor } from '../src/edit/diffusion/remote/oip-tensors';
import { writeFileAtomic } from '../src/io/node/node-files';

const HERE = dirname(fileURLToPath(import.meta.url));
const BIN = join(HERE, '../bin/instruct-scene.mjs');
const { values } = parseArgs({ options: { seconds: { type: 'string' }, clients: { type: 'string' } } });
const SECONDS = Number(values.seconds ?? 60);
const CLIENTS = Number(values.clients ?? 8);
const H = 64,
  W = 64,
  B = 3;

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 102.4) / 10 : NaN;
}

function pct(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const r1 = (v: number) => Math.round(v * 10) / 10;

async function runCase(name: string, extra: string[]) {
  const proc = spawn(process.execPath, [BIN, 'serve', '--model', 'builtin', '--host', '127.0.0.1', '--port', '0', '--json', ...extra], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const logs: { status: number; batch?: [number, number]; path: string; runMs?: number; queueMs?: number; ms: number }[] = [];
  let buf = '';
  const url = await new Promise<string>((resolve, reject) => {
    proc.stdout!.on('data', (c: Buffer) => {
      buf += c.toString();
      const lines = buf.split('\n');
      buf = lines.pop()!;
      for (const l of lines) {
        const j = JSON.parse(l);
        if (j.event === 'listening') resolve(j.url);
        else if (j.event === 'request') logs.push(j);
      }
    });
    proc.once('exit', (code) => reject(new Error(`serve exited (${code})`)));
  });
  const rng = new Rng(1);
  const f = (n: number, s = 1) => Float32Array.from({ length: n }, () => rng.normal() * s);
  const inputs = (): WireTensor[] => [
    { name: 'sample', datatype: 'FP32', shape: [B, 8, H, W], data: f(B * 8 * H * W) },
    { name: 'timestep', datatype: 'FP32', shape: [B], data: Float32Array.from([500, 500, 500]) },
    { name: 'encoder_hidden_states', datatype: 'FP32', shape: [B, 77, 768], data: f(B * 77 * 768, 0.01) },
  ];
  const reqBytes = inputs().reduce((a, t) => a + t.data.byteLength, 0);
  // warm up (sessions, connections), then measure
  const warm = new OipClient(url, { retries: 0 });
  for (let i = 0; i < 5; i++) await warm.infer('unet', inputs(), { outputs: ['out_sample'] });
  await new Promise((r) => setTimeout(r, 500));
  const rssBefore = rssMb(proc.pid!);
  let rssMax = rssBefore;
  const timeline: number[] = [];
  let ticks = 0;
  const sampler = setInterval(() => {
    const r = rssMb(proc.pid!);
    rssMax = Math.max(rssMax, r);
    if (ticks++ % 20 === 0) timeline.push(r); // every 5 s
  }, 250);
  const logsBefore = logs.length;
  const lat: number[] = [];
  let failed = 0;
  const errors: string[] = [];
  const t0 = performance.now();
  const end = t0 + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      const client = new OipClient(url, { retries: 0, timeoutMs: 30_000 });
      const feed = inputs();
      while (performance.now() < end) {
        const s = performance.now();
        try {
          const out = await client.infer('unet', feed, { outputs: ['out_sample'] });
          if (out.out_sample.shape.join('x') !== `${B}x4x${H}x${W}`) throw new Error(`shape ${out.out_sample.shape}`);
          lat.push(performance.now() - s);
        } catch (e) {
          failed++;
          if (errors.length < 5) errors.push((e as Error).message);
        }
      }
    }),
  );
  const wall = (performance.now() - t0) / 1000;
  clearInterval(sampler);
  await new Promise((r) => setTimeout(r, 500));
  const rssAfter = rssMb(proc.pid!);
  proc.kill('SIGTERM');
  const code = await new Promise<number | null>((r) => proc.once('exit', (c) => r(c)));
  const measured = logs.slice(logsBefore).filter((l) => l.path === '/v2/models/unet/infer');
  const sorted = [...lat].sort((a, b) => a - b);
  const batched = measured.filter((l) => l.batch);
  // model runs by rows per run: how many runs, mean onnxruntime time per run, mean queue time per request
  const byRows: Record<number, { runs: number; requests: number; run_ms: number; queue_ms: number }> = {};
  for (const l of batched) {
    const e = (byRows[l.batch![1]] ??= { runs: 0, requests: 0, run_ms: 0, queue_ms: 0 });
    e.requests++;
    e.runs += 1 / l.batch![0]; // every request of a batch logs the same run
    e.run_ms += l.runMs! / l.batch![0];
    e.queue_ms += l.queueMs!;
  }
  for (const e of Object.values(byRows)) {
    e.run_ms = r1(e.run_ms / e.runs);
    e.queue_ms = r1(e.queue_ms / e.requests);
    e.runs = Math.round(e.runs);
  }
  return {
    name,
    serve_args: extra,
    requests: lat.length,
    failed,
    errors,
    seconds: r1(wall),
    requests_per_s: r1(lat.length / wall),
    p50_ms: r1(pct(sorted, 50)),
    p99_ms: r1(pct(sorted, 99)),
    mean_ms: r1(sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length)),
    request_mb: r1(reqBytes / 2 ** 20),
    log_lines: measured.length,
    mean_requests_per_model_run: r1(batched.reduce((a, l) => a + l.batch![0], 0) / Math.max(1, batched.length)),
    rss_mb: { before: rssBefore, max: rssMax, after: rssAfter, every_5_s: timeline },
    runs_by_rows: byRows,
    serve_exit_code: code,
  };
}

const cases = [await runCase('batching (default, --max-batch 16)', []), await runCase('no batching (--max-batch 1)', ['--max-batch', '1'])];
for (const c of cases)
  console.log(
    `${c.name}: ${c.requests_per_s} req/s, p50 ${c.p50_ms} ms, p99 ${c.p99_ms} ms, ${c.failed} failed, ${c.mean_requests_per_model_run} req/run, RSS ${c.rss_mb.before} → max ${c.rss_mb.max} → ${c.rss_mb.after} MB`,
  );
const result = {
  bench: 'serve',
  date: new Date().toISOString(),
  node: process.version,
  cpus: os.cpus().length,
  note: `${CLIENTS} concurrent clients (OipClient, binary tensors, keep-alive) on loopback for ${SECONDS} s per case against 'serve --model builtin' (onnxruntime-node CPU, one worker thread per model); each request is one UNet call as an edit makes it: sample [${B},8,${H},${W}], timestep [${B}], encoder_hidden_states [${B},77,768] (fp32). Latency = client-side wall time per request. RSS of the server process (all its worker threads) sampled every 250 ms (max), listed every 5 s. The machine is shared: absolute figures are noisy, the two cases ran back to back.`,
  clients: CLIENTS,
  cases,
};
await writeFileAtomic(join(HERE, 'results/serve.json'), JSON.stringify(result, null, 2) + '\n');
console.log('wrote bench/results/serve.json');
