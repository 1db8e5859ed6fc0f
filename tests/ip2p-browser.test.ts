import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, normalize, extname } from 'node:path';
import type { AddressInfo } from 'node:net';
import { build } from 'esbuild'; // installed with tsx (a dependency)
import { chromium, type Browser } from 'playwright-core';
import { createImage } from '../src/core/image';
import { nodeFiles } from '../src/io/node/node-files';
import { nodeRuntime } from '../src/io/node/node-ort';
import { InstructPix2Pix } from '../src/edit/diffusion/pipeline';
import { CHROMIUM, CHROMIUM_ARGS } from './helpers/viewer-browser';
import { noChromium } from './helpers/skip';

// The pipeline in a real Chromium: onnxruntime-web with the WebGPU execution provider (SwiftShader here) and
// with wasm only, the built-in model fetched over HTTP through urlFiles (Cache API). Same edit as in Node.
const missing = noChromium();

const ROOT = join(__dirname, '..');
const ORT_DIST = join(ROOT, 'node_modules/onnxruntime-web/dist');
const TYPES: Record<string, string> = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
};

describe.skipIf(missing !== null)('pipeline in Chromium (onnxruntime-web)', () => {
  let server: Server;
  let browser: Browser;
  let base = '';
  let app = '';
  const tmp = mkdtempSync(join(tmpdir(), 'ip2p-browser-'));
  beforeAll(async () => {
    const r = await build({
      entryPoints: [join(__dirname, 'fixtures/ip2p-browser-entry.ts')],
      bundle: true,
      format: 'esm',
      write: false,
      external: ['onnxruntime-web/webgpu'],
      target: 'es2022',
      logLevel: 'silent',
    });
    app = r.outputFiles[0].text;
    const html = `<!doctype html><script type="importmap">{"imports":{"onnxruntime-web/webgpu":"/ort/ort.webgpu.min.mjs"}}</script><script type="module" src="/app.js"></script>`;
    server = createServer(async (req, res) => {
      const path = decodeURIComponent(new URL(req.url!, 'http://x').pathname);
      let file: string | null = null;
      let body: string | Buffer | null = null;
      if (path === '/') body = html;
      else if (path === '/app.js') body = app;
      else if (path.startsWith('/ort/')) file = normalize(join(ORT_DIST, path.slice(5)));
      else if (path.startsWith('/models/builtin/')) file = normalize(join(ROOT, path));
      if (file && (file.startsWith(ORT_DIST) || file.startsWith(join(ROOT, 'models/builtin'))))
        body = await readFile(file).catch(() => null);
      if (body === null) return res.writeHead(404).end();
      const type = path === '/' ? 'text/html' : (TYPES[extname(path)] ?? 'application/octet-stream');
      res.writeHead(200, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
      res.end(req.method === 'HEAD' ? undefined : body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
  });
  afterAll(async () => {
    await browser?.close();
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    rmSync(tmp, { recursive: true, force: true });
  });

  it('edits like onnxruntime-node with the WebGPU EP (or its wasm fallback) and with wasm only; caches the model', async () => {
    const img = createImage(32, 24, 3);
    for (let i = 0; i < img.data.length; i++) img.data[i] = ((i * 37) % 101) / 100;
    const pn = await InstructPix2Pix.load(join(ROOT, 'models/builtin'), nodeFiles, nodeRuntime());
    const want = await pn.edit(img, 'make it sepia', { steps: 5, seed: 4 });
    await pn.dispose();
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(base);
    await page.waitForFunction(() => (window as any).ready === true, undefined, { timeout: 30_000 });
    for (const wasmOnly of [false, true]) {
      const r = await page.evaluate((w) => (window as any).runEdit(w), wasmOnly);
      console.log(`browser: ${r.name}, providers ${r.used.join(', ')}, navigator.gpu ${r.hasGpu}`);
      expect(r.used).toHaveLength(4);
      if (wasmOnly) expect(r.used.every((u: string) => u === 'wasm')).toBe(true);
      else expect(r.name).toMatch(/webgpu/); // WebGPU was offered first
      let maxd = 0;
      for (let i = 0; i < want.data.length; i++) maxd = Math.max(maxd, Math.abs(r.data[i] - want.data[i]));
      expect(maxd).toBeLessThan(2e-3);
      // first run downloads (cached), second run reads from the Cache API
      if (!wasmOnly) expect(r.downloads).toBeGreaterThan(0);
      expect(r.cached).toBe(true);
    }
    expect(errors).toEqual([]);
    await page.close();
  });
});
