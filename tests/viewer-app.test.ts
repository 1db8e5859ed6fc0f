import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { lookAtCamera, type Camera } from '../src/core/camera';
import { demoGaussians } from '../src/viewer/data/demo-gaussians';
import { renderGaussiansCpu } from '../src/nerf/gaussian/gaussian-span-cpu';
import { DEMO_BACKGROUND } from '../src/io/datasets/demo-scene';
import { demoVoxelGrid } from '../src/viewer/data/demo-voxels';
import { VoxelGridScene } from '../src/nerf/voxel/voxel-grid-scene';
import { startViewer, type ViewerHarness } from './helpers/viewer-browser';
import { noChromium } from './helpers/skip';
import { writeGaussianPly } from '../src/io/formats/ply';
import { encodeVoxelScene } from '../src/io/formats/voxel-format';
import { demoCameras, demoTransforms } from '../src/io/datasets/demo-scene';
import { encodePng } from '../src/io/images/image-codec';
import { createImage } from '../src/core/image';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { unzipSync, strFromU8 } from 'fflate';
import { readGaussianPly } from '../src/io/formats/ply';
import { loadDataset } from '../src/io/datasets/dataset';
import { MemoryFiles } from '../src/viewer/io/memory-files';
import { boxRegion, regionMask } from '../src/edit/regions/regions';
import { SAMPLE_INSTRUCTION, SAMPLE_REGION } from '../src/viewer/state/edit-store';

// The viewer app in a real Chromium (WebGPU on SwiftShader), served by `vite preview` of a fresh build.
const missing = noChromium();

function camJson(c: Camera) {
  return { ...c, c2w: Array.from(c.c2w) };
}

async function waitForScene(page: Page, minFrames = 4): Promise<Record<string, unknown>> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const info = await page.evaluate(() => window.__instructScene?.info() ?? null);
    if (info?.error) throw new Error(`viewer error: ${info.error}`);
    if (info && info.count > 0 && info.frames >= minFrames) return info;
    if (Date.now() > deadline) throw new Error(`scene did not load in 60 s (last info ${JSON.stringify(info)})`);
    await page.waitForTimeout(250);
  }
}

/** PSNR between the viewer's RGBA bytes and a CPU RGB float image; also the fraction of non-background pixels. */
function compare(rgba: number[], ref: Float32Array, cam: Camera, what: string) {
  let se = 0,
    maxDiff = 0,
    covered = 0;
  const n = cam.width * cam.height;
  for (let i = 0; i < n; i++)
    for (let c = 0; c < 3; c++) {
      const d = rgba[4 * i + c] / 255 - Math.min(1, Math.max(0, ref[3 * i + c]));
      se += d * d;
      maxDiff = Math.max(maxDiff, Math.abs(d));
      if (c === 0 && ref[3 * i] < 0.97) covered++;
    }
  const psnr = 10 * Math.log10(1 / Math.max(se / (3 * n), 1e-12));
  console.log(`${what}: PSNR ${psnr.toFixed(2)} dB, max |diff| ${maxDiff.toFixed(3)}, ${covered}/${n} scene pixels`);
  return { psnr, maxDiff, covered: covered / n };
}

describe.skipIf(missing !== null)('viewer app (Chromium, WebGPU)', () => {
  let h: ViewerHarness;
  let page: Page;
  let errors: string[];
  beforeAll(async () => {
    // scene files served next to the app, for ?scene=URL
    const ply = writeGaussianPly(demoGaussians({ spacing: 0.05 }));
    const voxel = encodeVoxelScene({ grid: demoVoxelGrid(32), background: DEMO_BACKGROUND, render: { stepRatio: 0.5, near: 0 } });
    h = await startViewer({ extraPublic: { 'scenes/demo.ply': ply, 'scenes/demo.voxel': voxel } });
    ({ page, errors } = await h.open());
  });
  afterAll(async () => {
    await h?.close();
  });

  /** Runs a check; on failure keeps a screenshot under test-artifacts/. */
  async function withScreenshot(name: string, fn: () => Promise<void>) {
    try {
      await fn();
    } catch (e) {
      const file = await h.screenshot(page, name).catch(() => 'none');
      throw new Error(`${(e as Error).message}\n(screenshot: ${file})`);
    }
  }

  it('opens on the demo scene, drawn non-blank on WebGPU, with the sample instruction and no page errors', async () => {
    await withScreenshot('viewer-demo', async () => {
      const info = await waitForScene(page);
      expect(info.backend).toBe('webgpu');
      expect(info.fallbackReason).toBeNull();
      expect(info.scene).toBe('gaussians:demo');
      expect(await page.getByTestId('backend').textContent()).toBe('webgpu');
      expect(await page.getByTestId('instruction').inputValue()).toBe(SAMPLE_INSTRUCTION);
      // the on-screen canvas shows the scene: many distinct colours, not just the white background
      const shot = await page.locator('canvas').screenshot();
      const { decodeImage } = await import('../src/io/images/image-codec');
      const img = decodeImage(new Uint8Array(shot), 'canvas.png');
      const colours = new Set<string>();
      let nonBackground = 0;
      for (let i = 0; i < img.width * img.height; i++) {
        const r = img.data[i * img.channels],
          g = img.data[i * img.channels + 1],
          b = img.data[i * img.channels + 2];
        if (r < 0.97 || g < 0.97 || b < 0.97) nonBackground++;
        colours.add(`${Math.round(r * 31)},${Math.round(g * 31)},${Math.round(b * 31)}`);
      }
      expect(nonBackground / (img.width * img.height)).toBeGreaterThan(0.15);
      expect(colours.size).toBeGreaterThan(50);
      expect(errors).toEqual([]);
    });
  });

  it('falls back to WebGL2 (forced with ?backend=webgl2), says so, and still draws splats and voxels like the CPU renderers', async () => {
    const { page: g, errors: gerr } = await h.open('?backend=webgl2');
    try {
      const info = await waitForScene(g, 2);
      expect(info.backend).toBe('webgl2');
      expect(await g.getByTestId('stats').textContent()).toContain('WebGL2 fallback');
      const cam = lookAtCamera([2.4, 1.5, 2.2], [0, 0.2, 0], [0, 1, 0], 64, 48, 40);
      const px = await g.evaluate((c) => window.__instructScene!.renderPixels(c as unknown as Camera), camJson(cam));
      const ref = renderGaussiansCpu(demoGaussians(), cam, DEMO_BACKGROUND).image;
      const { psnr } = compare(px.rgba, ref.data, cam, 'WebGL2 splats vs CPU rasteriser');
      expect(psnr).toBeGreaterThan(35);
      expect(gerr).toEqual([]);
      // and a voxel grid, ray-marched by the same node material compiled to GLSL
      await g.goto(`${h.url}?backend=webgl2&demo=voxel&res=32`);
      await g.setViewportSize({ width: 320, height: 240 });
      await g.waitForFunction(
        () => window.__instructScene?.info().scene === 'voxel:demo-voxel' && window.__instructScene.info().frames > 1,
        undefined,
        { timeout: 60_000 },
      );
      const vcam = lookAtCamera([2.3, 1.4, -2.1], [0, 0.2, 0], [0, 1, 0], 48, 36, 40);
      const vpx = await g.evaluate((c) => window.__instructScene!.renderPixels(c as unknown as Camera), camJson(vcam));
      const vref = (await new VoxelGridScene(demoVoxelGrid(32), DEMO_BACKGROUND).render(vcam)).image;
      expect(compare(vpx.rgba, vref.data, vcam, 'WebGL2 voxels vs CPU renderer').psnr).toBeGreaterThan(35);
      expect(gerr).toEqual([]);
    } catch (e) {
      await h.screenshot(g, 'viewer-webgl2').catch(() => {});
      throw e;
    } finally {
      await g.close();
    }
  });

  it('renders a known camera like the CPU reference rasteriser (GPU projection and sort, and its CPU twin)', async () => {
    await withScreenshot('viewer-parity', async () => {
      await waitForScene(page);
      const cam = lookAtCamera([2.4, 1.5, 2.2], [0, 0.2, 0], [0, 1, 0], 96, 72, 40);
      const ref = renderGaussiansCpu(demoGaussians(), cam, DEMO_BACKGROUND).image;
      // default on WebGPU: projection, culling and counting sort in compute passes (once the kernels are compiled)
      await page.waitForFunction(() => window.__instructScene?.info().sorter === 'gpu', undefined, { timeout: 90_000 });
      // a still view draws the last records again; moving the camera recomputes them before that frame's draw
      const before = (await page.evaluate(() => window.__instructScene!.info())).splatFrames!;
      await page.waitForFunction((n) => window.__instructScene!.info().splatFrames!.reused > n + 2, before.reused, { timeout: 30_000 });
      expect((await page.evaluate(() => window.__instructScene!.info())).splatFrames!.computed).toBe(before.computed);
      const px = await page.evaluate((c) => window.__instructScene!.renderPixels(c as unknown as Camera), camJson(cam));
      expect((await page.evaluate(() => window.__instructScene!.info())).splatFrames!.computed).toBeGreaterThan(before.computed);
      const { psnr, covered } = compare(px.rgba, ref.data, cam, 'splats (GPU projection + sort) vs CPU rasteriser');
      expect(covered).toBeGreaterThan(0.3);
      expect(psnr).toBeGreaterThan(35);
      // ?sorter=cpu: the kernels' CPU twin (what the WebGL2 backend runs) on WebGPU
      const { page: rp, errors: rerr } = await h.open('?sorter=cpu');
      try {
        await rp.setViewportSize({ width: 320, height: 240 });
        await waitForScene(rp);
        expect((await rp.evaluate(() => window.__instructScene!.info())).sorter).toBe('cpu');
        const rpx = await rp.evaluate((c) => window.__instructScene!.renderPixels(c as unknown as Camera), camJson(cam));
        expect(compare(rpx.rgba, ref.data, cam, 'splats (CPU twin) vs CPU rasteriser').psnr).toBeGreaterThan(35);
        expect(rerr).toEqual([]);
      } finally {
        await rp.close();
      }
      expect(errors).toEqual([]);
    });
  });

  it('ray-marches a voxel scene like the CPU reference renderer', async () => {
    const { page: vpage, errors: verrors } = await h.open('?demo=voxel&res=48');
    // a small window: the on-screen ray march at 640×480 costs seconds per frame on SwiftShader
    await vpage.setViewportSize({ width: 320, height: 240 });
    try {
      await waitForScene(vpage, 2);
      const info = await vpage.evaluate(() => window.__instructScene!.info());
      expect(info.scene).toBe('voxel:demo-voxel');
      const cam = lookAtCamera([2.3, 1.4, -2.1], [0, 0.2, 0], [0, 1, 0], 80, 60, 40);
      const px = await vpage.evaluate((c) => window.__instructScene!.renderPixels(c as unknown as Camera), camJson(cam));
      const ref = (await new VoxelGridScene(demoVoxelGrid(48), DEMO_BACKGROUND).render(cam)).image;
      const { psnr, covered } = compare(px.rgba, ref.data, cam, 'voxels vs CPU renderer');
      expect(covered).toBeGreaterThan(0.3);
      expect(psnr).toBeGreaterThan(35);
      expect(verrors).toEqual([]);
    } catch (e) {
      await h.screenshot(vpage, 'viewer-voxel').catch(() => {});
      throw e;
    } finally {
      await vpage.close();
    }
  });

  it('opens scenes by URL (?scene=), by file picker and dataset folders (cameras as frustums); bad files give one line', async () => {
    const { page: p, errors: perr } = await h.open('?scene=scenes/demo.ply');
    const tmp = mkdtempSync(join(tmpdir(), 'is-open-'));
    try {
      const info = await waitForScene(p, 2);
      expect(info.scene).toBe('gaussians:demo.ply');
      expect(info.count).toBe(demoGaussians({ spacing: 0.05 }).count);

      // a .voxel file through the file picker
      await p.getByTestId('file-input').setInputFiles({
        name: 'demo.voxel',
        mimeType: 'application/octet-stream',
        buffer: Buffer.from(
          encodeVoxelScene({ grid: demoVoxelGrid(24), background: DEMO_BACKGROUND, render: { stepRatio: 0.5, near: 0 } }),
        ),
      });
      await p.waitForFunction(() => window.__instructScene?.info().scene === 'voxel:demo.voxel', undefined, { timeout: 30_000 });

      // a .splat file (the demo's Gaussians) through the file picker
      const { writeSplat } = await import('../src/io/formats/splat');
      await p.getByTestId('file-input').setInputFiles({
        name: 'demo.splat',
        mimeType: 'application/octet-stream',
        buffer: Buffer.from(writeSplat(demoGaussians({ spacing: 0.05 }))),
      });
      await p.waitForFunction(() => window.__instructScene?.info().scene === 'gaussians:demo.splat', undefined, { timeout: 30_000 });

      // a dataset folder: transforms.json + images → its cameras as frustums
      const ds = join(tmp, 'demo-dataset');
      mkdirSync(join(ds, 'images'), { recursive: true });
      const cams = demoCameras(6, 16, 1);
      writeFileSync(join(ds, 'transforms.json'), JSON.stringify(demoTransforms(cams, (i) => `images/${i}.png`)));
      for (let i = 0; i < cams.length; i++) writeFileSync(join(ds, `images/${i}.png`), encodePng(createImage(16, 16, 3)));
      await p.getByTestId('folder-input').setInputFiles(ds);
      await p.waitForFunction(() => (window.__instructScene?.info().cameras ?? 0) === 6, undefined, { timeout: 30_000 });

      // a broken file: one line naming it, the previous scene stays
      await p.getByTestId('file-input').setInputFiles({
        name: 'junk.splat.ply',
        mimeType: 'application/octet-stream',
        buffer: Buffer.from('ply\nformat binary_little_endian 1.0\nelement vertex 99999999999\nproperty float x\nend_header\n'),
      });
      await p.getByTestId('error').waitFor({ timeout: 30_000 });
      const err = (await p.getByTestId('error').textContent()) ?? '';
      expect(err).toContain('junk.splat.ply');
      expect(err.split('\n')).toHaveLength(1);
      expect((await p.evaluate(() => window.__instructScene!.info())).scene).toBe('gaussians:demo.splat');
      expect(perr).toEqual([]);
    } catch (e) {
      await h.screenshot(p, 'viewer-open').catch(() => {});
      throw e;
    } finally {
      rmSync(tmp, { recursive: true, force: true });
      await p.close();
    }
  });

  it('opens .spz, .compressed.ply, a SOG folder and a COLMAP folder, with parsing progress, on the chosen background; too-large files get a message', async () => {
    const { page: p, errors: perr } = await h.open('?scene=scenes/demo.ply');
    const tmp = mkdtempSync(join(tmpdir(), 'is-open-fmt-'));
    try {
      await waitForScene(p, 2);
      const { encodeGaussians } = await import('../src/io/formats/gaussian-formats');
      const g = demoGaussians({ spacing: 0.05 });
      const open = async (name: string, bytes: Uint8Array) => {
        await p.getByTestId('file-input').setInputFiles({ name, mimeType: 'application/octet-stream', buffer: Buffer.from(bytes) });
        await p.waitForFunction((n) => window.__instructScene?.info().scene === `gaussians:${n}`, name, { timeout: 60_000 });
        return p.evaluate(() => window.__instructScene!.info());
      };
      // the background setting applies to the current scene and to files opened later
      await p.getByTestId('background-select').selectOption('white');
      const spz = await open('demo4.spz', await encodeGaussians(g, 'x.spz', { spzVersion: 4 }));
      expect(spz.count).toBe(g.count);
      expect(spz.background).toEqual([1, 1, 1]);
      expect(spz.busyLog.some((b) => /^parsing demo4\.spz… \d+%$/.test(b))).toBe(true);
      await h.screenshot(p, 'viewer-open-spz');
      const cply = await open('demo.compressed.ply', await encodeGaussians(g, 'x.compressed.ply'));
      expect(cply.count).toBe(g.count);
      const { splatTransform } = await import('./helpers/splat-transform');
      if (splatTransform.available) {
        // a SOG folder written by splat-transform: lossless WebP decoded in the browser (WebAssembly)
        writeFileSync(join(tmp, 'g.ply'), writeGaussianPly(g));
        mkdirSync(join(tmp, 'sogdir'));
        splatTransform.run(['g.ply', 'sogdir/meta.json'], tmp);
        await p.getByTestId('folder-input').setInputFiles(join(tmp, 'sogdir'));
        await p.waitForFunction(() => window.__instructScene?.info().scene === 'gaussians:sogdir', undefined, { timeout: 60_000 });
        expect((await p.evaluate(() => window.__instructScene!.info())).count).toBe(g.count);
        await h.screenshot(p, 'viewer-open-sog');
      } else console.log(`SOG folder part skipped: ${splatTransform.reason}`);
      // a COLMAP capture folder: its cameras as frustums and its points3D as Gaussians
      const { colmapModel } = await import('./helpers/colmap-writer');
      const cams = demoCameras(5, 16, 2);
      const cm = join(tmp, 'colmap-capture');
      mkdirSync(join(cm, 'sparse/0'), { recursive: true });
      mkdirSync(join(cm, 'images'));
      const model = colmapModel(
        cams,
        cams.map((_, i) => `${i}.png`),
        { model: 'PINHOLE', params: [cams[0].fx, cams[0].fy, 8, 8] },
        { xyz: [0, 0, 0, 0.5, 0.2, 0, -0.5, 0.2, 0.1], rgb: [1, 0, 0, 0, 1, 0, 0, 0, 1] },
        'bin',
      );
      for (const [f, b] of Object.entries(model)) writeFileSync(join(cm, 'sparse/0', f), b);
      cams.forEach((_, i) => writeFileSync(join(cm, `images/${i}.png`), encodePng(createImage(16, 16, 3))));
      await p.getByTestId('folder-input').setInputFiles(cm);
      await p.waitForFunction(() => (window.__instructScene?.info().cameras ?? 0) === 5, undefined, { timeout: 60_000 });
      expect((await p.evaluate(() => window.__instructScene!.info())).count).toBe(3);
      // a file holding more Gaussians than the viewer can: a message saying how many it can hold, no crash
      const big = (await encodeGaussians(g, 'x.spz', { spzVersion: 4 })).slice();
      new DataView(big.buffer).setUint32(8, 50_000_000, true);
      await p.getByTestId('file-input').setInputFiles({ name: 'huge.spz', mimeType: 'application/octet-stream', buffer: Buffer.from(big) });
      await p.getByTestId('error').waitFor({ timeout: 30_000 });
      const err = (await p.getByTestId('error').textContent()) ?? '';
      expect(err).toMatch(/huge\.spz: this SPZ file holds 50,000,000 Gaussians .*the viewer can hold about [\d,]+/);
      expect(err.split('\n')).toHaveLength(1);
      expect(perr).toEqual([]);
    } catch (e) {
      await h.screenshot(p, 'viewer-open-formats').catch(() => {});
      throw e;
    } finally {
      rmSync(tmp, { recursive: true, force: true });
      await p.close();
    }
  }, 240_000);

  it('runs a short built-in-model edit that changes the region; undo restores the scene, redo re-applies; exports load back', async () => {
    const { page: p, errors: perr } = await h.open();
    const tmp = mkdtempSync(join(tmpdir(), 'is-edit-'));
    try {
      await waitForScene(p, 2);
      const cam = lookAtCamera([1.6, 1.1, 1.8], [0, 0.3, 0], [0, 1, 0], 64, 48, 40);
      const render = async () => (await p.evaluate((c) => window.__instructScene!.renderPixels(c as unknown as Camera), camJson(cam))).rgba;
      const before = await render();
      await p.getByTestId('iters').fill('40');
      await p.getByTestId('views').fill('2');
      await p.getByTestId('steps').fill('4');
      await p.getByTestId('run').click();
      await p.getByTestId('history-count').filter({ hasText: '1 edit' }).waitFor({ timeout: 150_000 });
      expect(await p.getByTestId('thumbs').locator('img').count()).toBeGreaterThan(0);
      const after = await render();
      // changed pixels lie in the projected region (the Gaussians outside it are gated and keep their values)
      const mask = regionMask(boxRegion(SAMPLE_REGION.min, SAMPLE_REGION.max), cam, 2);
      let changed = 0,
        changedOutside = 0;
      for (let i = 0; i < cam.width * cam.height; i++) {
        const d = Math.max(...[0, 1, 2].map((c) => Math.abs(after[4 * i + c] - before[4 * i + c])));
        if (d > 8) {
          changed++;
          if (mask.data[i] < 0.5) changedOutside++;
        }
      }
      console.log(`edit changed ${changed} of ${cam.width * cam.height} pixels (${changedOutside} outside the region mask)`);
      expect(changed).toBeGreaterThan(40);
      expect(changedOutside).toBeLessThanOrEqual(changed * 0.05);

      const psnrTo = (a: number[], b: number[]) => {
        let se = 0;
        for (let i = 0; i < a.length; i++) if (i % 4 !== 3) se += ((a[i] - b[i]) / 255) ** 2;
        return 10 * Math.log10(1 / Math.max(se / ((a.length * 3) / 4), 1e-12));
      };
      await p.getByTestId('undo').click();
      await p.getByTestId('history-count').filter({ hasText: '0 edits' }).waitFor();
      expect(psnrTo(await render(), before)).toBeGreaterThan(50);
      await p.getByTestId('redo').click();
      await p.getByTestId('history-count').filter({ hasText: '1 edit' }).waitFor();
      expect(psnrTo(await render(), after)).toBeGreaterThan(50);

      // export .ply (zip: scene folder with manifest and edit log) → loads back with the same Gaussians count
      const save = async (testId: string) => {
        const [dl] = await Promise.all([p.waitForEvent('download', { timeout: 120_000 }), p.getByTestId(testId).click()]);
        const file = join(tmp, dl.suggestedFilename());
        await dl.saveAs(file);
        return unzipSync(new Uint8Array(readFileSync(file)));
      };
      const zip = await save('export-ply');
      const names = Object.keys(zip).sort();
      expect(names).toEqual(['demo/edit-log.json', 'demo/scene.json', 'demo/scene.ply']);
      const g = readGaussianPly(zip['demo/scene.ply'], 'scene.ply');
      expect(g.count).toBe(demoGaussians().count);
      const log = JSON.parse(strFromU8(zip['demo/edit-log.json']));
      expect(log.edits).toHaveLength(1);
      expect(log.edits[0].instruction).toBe(SAMPLE_INSTRUCTION);
      // multiview renders → a dataset that loads back
      const mv = await save('export-multiview');
      const ds = await loadDataset('.', new MemoryFiles(Object.entries(mv)));
      expect(ds.frames.length).toBe(12);
      expect(JSON.parse(strFromU8(mv['edit-log.json'])).edits).toHaveLength(1);
      expect(perr).toEqual([]);
    } catch (e) {
      await h.screenshot(p, 'viewer-edit').catch(() => {});
      throw e;
    } finally {
      rmSync(tmp, { recursive: true, force: true });
      await p.close();
    }
  });
});
