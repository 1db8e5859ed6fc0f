import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build, preview, type PreviewServer } from 'vite';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

/** Chromium flags that give WebGPU on SwiftShader (without --use-vulkan=swiftshader its canvases stay black). */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  '--use-webgpu-adapter=swiftshader',
  '--enable-features=Vulkan',
  '--use-vulkan=swiftshader',
  '--use-angle=swiftshader',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const ROOT = resolve(import.meta.dirname, '../..');
export const ARTIFACTS = join(ROOT, 'test-artifacts');

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createNetServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

export interface ViewerHarness {
  url: string;
  context: BrowserContext;
  /** A fresh page with console errors and page errors collected. */
  open(path?: string): Promise<{ page: Page; errors: string[] }>;
  /** Saves a screenshot of `page` under test-artifacts/NAME.png. */
  screenshot(page: Page, name: string): Promise<string>;
  close(): Promise<void>;
}

/** Builds the app (or another page: `entry`, an HTML file relative to the repo root) into a temporary folder, serves it with `vite preview` on a free 127.0.0.1 port, and starts Chromium. */
export async function startViewer(
  opts: { extraPublic?: Record<string, Uint8Array>; entry?: string; root?: string; alias?: Record<string, string> } = {},
): Promise<ViewerHarness> {
  const outDir = mkdtempSync(join(tmpdir(), 'is-viewer-'));
  const root = opts.root ?? ROOT;
  await build({
    root,
    logLevel: 'error',
    configFile: opts.root ? false : undefined,
    resolve: opts.alias ? { alias: opts.alias } : undefined,
    build: { outDir, emptyOutDir: true, ...(opts.entry ? { rolldownOptions: { input: join(ROOT, opts.entry) } } : {}) },
  });
  for (const [name, bytes] of Object.entries(opts.extraPublic ?? {})) {
    mkdirSync(join(outDir, name, '..'), { recursive: true });
    writeFileSync(join(outDir, name), bytes);
  }
  const port = await freePort();
  // appType 'mpa': missing files are 404s (as on a static host), not the SPA's index.html
  const server: PreviewServer = await preview({
    root,
    configFile: opts.root ? false : undefined,
    logLevel: 'error',
    appType: 'mpa',
    build: { outDir },
    preview: { host: '127.0.0.1', port, strictPort: true },
  });
  const url = `http://127.0.0.1:${port}/`;
  const profile = mkdtempSync(join(tmpdir(), 'is-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 640, height: 480 },
  });
  return {
    url,
    context,
    async open(path = '') {
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(`console: ${m.text()}`);
      });
      await page.goto(url + path);
      return { page, errors };
    },
    async screenshot(page, name) {
      mkdirSync(ARTIFACTS, { recursive: true });
      const file = join(ARTIFACTS, `${name}.png`);
      await page.screenshot({ path: file });
      return file;
    },
    async close() {
      await context.close().catch(() => {});
      await new Promise<void>((r) => server.httpServer.close(() => r()));
      rmSync(outDir, { recursive: true, force: true });
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
