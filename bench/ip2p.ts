/**
 * InstructPix2Pix pipeline overhead: wall time of `edit` vs the sum of the raw ONNX Runtime `session.run`
 * times for the same calls (ratio 1.0 = no overhead). Cases: the built-in stand-in (tiny graphs, so the
 * pipeline's own work — tensor copies, guidance, scheduler — dominates) and a built-in folder whose UNet is
 * replaced by a conv stack with real compute (closer to a real model's balance). Runtimes: onnxruntime-node,
 * onnxruntime-web's wasm backend running in Node, and — when Chromium is installed — onnxruntime-web in Chromium
 * with the WebGPU EP (SwiftShader on machines without a GPU: correctness, not speed) and with wasm.
 * Run: node bin/run-ts.mjs bench/ip2p.ts  → bench/results/ip2p.json
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ortWeb from 'onnxruntime-web';
import { createImage } from '../src/core/image';
import { Rng } from '../src/core/rng';
import { nodeFiles, writeFileAtomic } from '../src/io/node/node-files';
import { nodeRuntime } from '../src/io/node/node-ort';
import { webRuntime } from '../src/edit/diffusion/ort-web';
import { GraphBuilder } from '../src/edit/diffusion/onnx/builder';
import { InstructPix2Pix } from '../src/edit/diffusion/pipeline';
import { timedRuntime, type OnnxRuntime, type OrtModule } from '../src/edit/diffusion/runtime';
import { buildBuiltin } from '../models/build-builtin';

const HERE = dirname(fileURLToPath(import.meta.url));

/** A UNet with the real I/O and some real compute: 3×3 convs 8→64→64→4 at latent resolution. */
function convUnet(): Uint8Array {
  const g = new GraphBuilder('conv_unet');
  const s = g.input('sample', 'float32', ['batch_size', 8, 'height', 'width']);
  g.input('timestep', 'float32', ['steps']);
  g.input('encoder_hidden_states', 'float32', ['batch_size', 'sequence_length', 768]);
  const rng = new Rng(3);
  const w = (o: number, i: number) =>
    g.f32(
      Array.from({ length: o * i * 9 }, () => rng.normal() * Math.sqrt(1 / (i * 9))),
      [o, i, 3, 3],
    );
  const conv = (x: string, o: number, i: number) => g.op('Conv', [x, w(o, i)], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] });
  let x = g.op('Relu', [conv(s, 64, 8)]);
  x = g.op('Relu', [conv(x, 64, 64)]);
  g.op('Mul', [conv(x, 4, 64), g.f32([0.01], [])], {}, 'out_sample');
  g.output('out_sample', 'float32', ['batch_size', 4, 'height', 'width']);
  return g.toModel();
}

interface Case {
  name: string;
  runtime: string;
  size: number;
  steps: number;
  total_ms: number;
  session_ms: number;
  overhead_ratio: number;
  session_ms_by_model: Record<string, number>;
}

async function measure(name: string, dir: string, base: OnnxRuntime, size: number, steps: number): Promise<Case> {
  const t = timedRuntime(base);
  const pipe = await InstructPix2Pix.load(dir, nodeFiles, t.rt);
  const img = createImage(size, size, 3, 0.5);
  for (let i = 0; i < 3; i++) await pipe.edit(img, 'make it red', { steps: 2, seed: 0 }); // warm-up (JIT, text cache, allocators)
  let best: Case | null = null;
  for (let rep = 0; rep < 5; rep++) {
    t.reset();
    const t0 = performance.now();
    await pipe.edit(img, 'make it blue', { steps, seed: rep });
    const total = performance.now() - t0;
    const session = Object.values(t.ms).reduce((a, b) => a + b, 0);
    const c: Case = {
      name,
      runtime: base.name,
      size,
      steps,
      total_ms: +total.toFixed(1),
      session_ms: +session.toFixed(1),
      overhead_ratio: +(total / session).toFixed(3),
      session_ms_by_model: Object.fromEntries(Object.entries(t.ms).map(([k, v]) => [k, +v.toFixed(1)])),
    };
    if (!best || c.total_ms < best.total_ms) best = c;
  }
  await pipe.dispose();
  console.log(
    `${name.padEnd(10)} ${base.name.padEnd(28)} ${size}² ${steps} steps: ${best!.total_ms} ms total, ${best!.session_ms} ms in sessions, ratio ${best!.overhead_ratio}`,
  );
  return best!;
}

/** The same measurements inside Chromium (skipped, with a note, when there is no Chromium). */
async function browserCases(convDir: string): Promise<Case[]> {
  const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  if (!existsSync(chromiumPath)) {
    console.log(`browser cases skipped: no Chromium at ${chromiumPath}`);
    return [];
  }
  const { build } = await import('esbuild');
  const { chromium } = await import('playwright-core');
  const { CHROMIUM_ARGS } = await import('../tests/helpers/viewer-browser');
  const app = (
    await build({
      entryPoints: [join(HERE, 'ip2p-browser-entry.ts')],
      bundle: true,
      format: 'esm',
      write: false,
      external: ['onnxruntime-web/webgpu'],
      target: 'es2022',
      logLevel: 'silent',
    })
  ).outputFiles[0].text;
  const ortDist = join(HERE, '../node_modules/onnxruntime-web/dist');
  const roots: Record<string, string> = { '/ort/': ortDist, '/models/builtin/': join(HERE, '../models/builtin'), '/models/conv/': convDir };
  const server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url!, 'http://x').pathname);
    let body: string | Buffer | null = null;
    if (path === '/')
      body = `<!doctype html><script type="importmap">{"imports":{"onnxruntime-web/webgpu":"/ort/ort.webgpu.min.mjs"}}</script><script type="module" src="/app.js"></script>`;
    else if (path === '/app.js') body = app;
    else
      for (const [prefix, dir] of Object.entries(roots))
        if (path.startsWith(prefix) && !path.includes('..')) body = await readFile(join(dir, path.slice(prefix.length))).catch(() => null);
    if (body === null) return res.writeHead(404).end();
    const type =
      path === '/'
        ? 'text/html'
        : /\.m?js$/.test(path)
          ? 'text/javascript'
          : path.endsWith('.wasm')
            ? 'application/wasm'
            : 'application/octet-stream';
    res.writeHead(200, { 'content-type': type, 'content-length': Buffer.byteLength(body) }).end(req.method === 'HEAD' ? undefined : body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const browser = await chromium.launch({ executablePath: chromiumPath, args: CHROMIUM_ARGS, headless: true });
  const cases: Case[] = [];
  try {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    await page.waitForFunction(() => (window as any).ready === true);
    for (const [model, size, steps] of [
      ['builtin', 256, 20],
      ['conv', 256, 10],
    ] as const) {
      for (const wasmOnly of [false, true]) {
        const r = await page.evaluate(([m, w, s, n]) => (window as any).bench(m, w, s, n), [model, wasmOnly, size, steps] as const);
        const c: Case = {
          name: model === 'conv' ? 'conv-unet' : model,
          runtime: `chromium: ${r.runtime} [${[...new Set(r.providers)].join(',')}]`,
          size,
          steps,
          total_ms: +r.total.toFixed(1),
          session_ms: +r.session.toFixed(1),
          overhead_ratio: +(r.total / r.session).toFixed(3),
          session_ms_by_model: Object.fromEntries(Object.entries(r.byModel as Record<string, number>).map(([k, v]) => [k, +v.toFixed(1)])),
        };
        console.log(
          `${c.name.padEnd(10)} ${c.runtime} ${size}² ${steps} steps: ${c.total_ms} ms total, ${c.session_ms} ms in sessions, ratio ${c.overhead_ratio}`,
        );
        cases.push(c);
      }
    }
  } finally {
    await browser.close();
    server.close();
  }
  return cases;
}

const tmp = mkdtempSync(join(tmpdir(), 'bench-ip2p-'));
try {
  const builtin = join(HERE, '../models/builtin');
  const conv = join(tmp, 'conv');
  await buildBuiltin(conv);
  writeFileSync(join(conv, 'unet', 'model.onnx'), convUnet());
  const node = nodeRuntime();
  const web = await webRuntime({ ort: ortWeb as unknown as OrtModule });
  const cases: Case[] = [];
  cases.push(await measure('builtin', builtin, node, 256, 20));
  cases.push(await measure('builtin', builtin, node, 512, 20));
  cases.push(await measure('builtin', builtin, web, 256, 20));
  cases.push(await measure('conv-unet', conv, node, 256, 10));
  cases.push(await measure('conv-unet', conv, web, 256, 10));
  cases.push(...(await browserCases(conv)));
  const out = {
    bench: 'ip2p-pipeline-overhead',
    date: new Date().toISOString(),
    node: process.version,
    note: 'overhead_ratio = pipeline wall time / sum of session.run times for the same edit (best of 5). onnxruntime-web runs its wasm backend in Node; chromium cases use the WebGPU EP on SwiftShader (software) here, so their absolute times say nothing about GPU speed',
    cases,
  };
  await writeFileAtomic(join(HERE, 'results/ip2p.json'), JSON.stringify(out, null, 2) + '\n');
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
