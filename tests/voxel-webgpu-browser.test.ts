import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { build, type Plugin } from 'esbuild'; // installed with tsx (a dependency)
import { chromium, type Browser } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS } from './helpers/viewer-browser';
import { noChromium, skipReason } from './helpers/skip';

// The WebGPU voxel backend in a real Chromium (navigator.gpu on SwiftShader), against the CPU reference on the
// same page: the browser half of "same kernels in Node (Dawn) and the browser". Bounds as tests/voxel-webgpu-parity.
const missing = noChromium();

/** `?raw` imports as Vite resolves them: the file's text. */
const rawPlugin: Plugin = {
  name: 'raw',
  setup(b) {
    b.onResolve({ filter: /\?raw$/ }, (a) => ({ path: join(a.resolveDir, a.path.slice(0, -4)), namespace: 'raw' }));
    b.onLoad({ filter: /.*/, namespace: 'raw' }, async (a) => ({ contents: await readFile(a.path, 'utf8'), loader: 'text' }));
  },
};

describe.skipIf(missing !== null)('voxel WebGPU backend in Chromium', () => {
  let server: Server;
  let browser: Browser;
  let base = '';
  beforeAll(async () => {
    const r = await build({
      entryPoints: [join(__dirname, 'fixtures/voxel-webgpu-browser-entry.ts')],
      bundle: true,
      format: 'esm',
      write: false,
      target: 'es2022',
      platform: 'browser',
      plugins: [rawPlugin],
      logLevel: 'silent',
    });
    const app = r.outputFiles[0].text;
    const html = '<!doctype html><script type="module" src="/app.js"></script>';
    server = createServer((req, res) => {
      const path = new URL(req.url!, 'http://x').pathname;
      const body = path === '/' ? html : path === '/app.js' ? app : null;
      if (body === null) return res.writeHead(404).end();
      res.writeHead(200, { 'content-type': path === '/' ? 'text/html' : 'text/javascript' }).end(body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
  });
  afterAll(async () => {
    await browser?.close();
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  });

  it('renders and differentiates like the CPU reference (bounded and contracted, SH degree 1; MSE, and L1 with a loss scale and opacity targets)', async (ctx) => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(base);
    await page.waitForFunction(() => (window as any).ready === true, undefined, { timeout: 30_000 });
    const hasGpu = await page.evaluate(async () => !!(await (navigator as any).gpu?.requestAdapter()));
    if (!hasGpu) {
      skipReason('webgpu-chromium', `browser WebGPU tests skipped: this Chromium (${CHROMIUM}) offers no WebGPU adapter`);
      ctx.skip();
    }
    for (const [seed, bgLen] of [
      [1, 0],
      [2, 0.5],
    ]) {
      const r = await page.evaluate(([s, b]) => (window as any).runParity(s, b), [seed, bgLen]);
      console.log(
        `Chromium (${r.adapter}) bgLen ${bgLen}: rgb ${r.rgb.toExponential(2)} alpha ${r.alpha.toExponential(2)} grad density ${r.gradDensity.toExponential(2)} colour ${r.gradColor.toExponential(2)}`,
      );
      expect(r.hit).toBeGreaterThan(50);
      expect(r.p99).toBeLessThanOrEqual(2e-5); // colour and alpha, 99th percentile over rays
      expect(r.rgb).toBeLessThan(1e-2); // the rare boundary-sample ray; typical rays agree to ~1e-6
      expect(r.alpha).toBeLessThan(1e-2);
      expect(Math.abs(r.samples[1] - r.samples[0])).toBeLessThanOrEqual(Math.max(2, r.samples[0] * 1e-3));
      expect(Math.abs(r.loss[1] - r.loss[0]) / r.loss[0]).toBeLessThan(1e-4);
      expect(r.gradDensity).toBeLessThan(1e-3);
      expect(r.gradColor).toBeLessThan(1e-3);
      // L1 + loss scale 2.5 + opacity targets (weight 10)
      console.log(
        `  L1 ×2.5 + opacity targets: loss ${r.optsLoss[0].toFixed(6)} / ${r.optsLoss[1].toFixed(6)}, grad density ${r.optsGradDensity.toExponential(2)} colour ${r.optsGradColor.toExponential(2)} (options change the density gradient by ${r.optsEffect.toFixed(3)} of its max)`,
      );
      expect(r.optsEffect).toBeGreaterThan(0.05);
      expect(Math.abs(r.optsLoss[1] - r.optsLoss[0]) / r.optsLoss[0]).toBeLessThan(1e-4);
      expect(r.optsGradDensity).toBeLessThan(1e-3);
      expect(r.optsGradColor).toBeLessThan(1e-3);
    }
    expect(errors).toEqual([]);
    await page.close();
  });
});
