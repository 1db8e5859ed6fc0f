import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'vite';
import { ROOT, startViewer, type ViewerHarness } from './helpers/viewer-browser';
import { noChromium } from './helpers/skip';
import { decodeImage } from '../src/io/images/image-codec';

// The library build (vite.lib.config.ts, `npm run build:lib`) used by another R3F app: the host imports
// 'instruct-scene-viewer' (the built bundle), makes its own Canvas with the library's renderer factory and
// draws <SplatScene> and <VoxelScene> in a real Chromium.
const missing = noChromium();

describe.skipIf(missing !== null)('viewer library in a host R3F app (Chromium)', () => {
  let h: ViewerHarness;
  let lib: string;
  beforeAll(async () => {
    // inside the repo (dist/ is git-ignored) so the bundle's bare imports (react, three, …) resolve from node_modules
    mkdirSync(join(ROOT, 'dist'), { recursive: true });
    lib = mkdtempSync(join(ROOT, 'dist', 'lib-test-'));
    await build({ configFile: join(ROOT, 'vite.lib.config.ts'), logLevel: 'error', build: { outDir: lib } });
    h = await startViewer({
      root: join(ROOT, 'tests/fixtures/viewer-lib-host'),
      alias: { 'instruct-scene-viewer': join(lib, 'instruct-scene-viewer.js') },
    });
  });
  afterAll(async () => {
    await h?.close();
    if (lib) rmSync(lib, { recursive: true, force: true });
  });

  it('builds an ES module library and draws its components in another app', async () => {
    expect(existsSync(join(lib, 'instruct-scene-viewer.js'))).toBe(true);
    const { page, errors } = await h.open();
    try {
      await page.waitForFunction(() => !!(window as unknown as { __host?: unknown }).__host, undefined, { timeout: 60_000 });
      expect(await page.evaluate(() => (window as unknown as { __host: { backend: string } }).__host.backend)).toBe('webgpu');
      // wait for a few frames, then the canvas must show both scenes (splats: warm demo colours; voxels too)
      let colourful = 0;
      for (let i = 0; i < 40 && colourful < 0.05; i++) {
        await page.waitForTimeout(500);
        const img = decodeImage(new Uint8Array(await page.locator('canvas').screenshot()), 'canvas.png');
        let n = 0;
        for (let p = 0; p < img.width * img.height; p++)
          if (img.data[p * img.channels] + img.data[p * img.channels + 1] + img.data[p * img.channels + 2] > 0.3) n++;
        colourful = n / (img.width * img.height);
      }
      expect(colourful).toBeGreaterThan(0.05);
      if (process.env.VIEWER_SHOTS) await h.screenshot(page, 'viewer-lib-host');
      expect(errors).toEqual([]);
    } catch (e) {
      await h.screenshot(page, 'viewer-lib-host').catch(() => {});
      throw e;
    } finally {
      await page.close();
    }
  });
});
