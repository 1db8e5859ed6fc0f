import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { GLTFLoader } from 'three/examples/jsm/loaders/GLTFLoader.js';
import { lookAtCamera, type Camera } from '../src/core/camera';
import { writeGlb } from '../src/io/formats/gltf-mesh';
import { writeObj } from '../src/io/formats/obj';
import { writePlyMesh } from '../src/io/formats/ply-mesh';
import { torus, uvSphere, vase } from '../src/nerf/mesh/mesh-shapes';
import { rasterizeMesh } from '../src/nerf/mesh/mesh-raster-cpu';
import { startViewer, type ViewerHarness } from './helpers/viewer-browser';
import { noChromium } from './helpers/skip';

// Meshes in the viewer (real Chromium): open .obj by URL, .glb by the picker, a mesh .ply by drag and drop; stylise
// with the built-in model from the edit panel; undo; export .glb and load it with three.js's GLTFLoader.
const missing = noChromium();

const VASE = vase(12, 8);
const camJson = (c: Camera) => ({ ...c, c2w: Array.from(c.c2w) });

async function waitForScene(p: Page, name: string) {
  await p.waitForFunction((n) => window.__instructScene?.info().scene === n, name, { timeout: 60_000 });
  return p.evaluate(() => window.__instructScene!.info());
}

describe.skipIf(missing !== null)('viewer: meshes (Chromium)', () => {
  let h: ViewerHarness;
  beforeAll(async () => {
    h = await startViewer({ extraPublic: { 'meshes/vase.obj': writeObj(VASE) } });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('opens .obj (URL), .glb (picker) and a mesh .ply (drag and drop), lit and coloured', async () => {
    const { page: p, errors } = await h.open('?scene=meshes/vase.obj');
    try {
      const info = await waitForScene(p, 'mesh:vase.obj');
      expect(info.count).toBe(VASE.positions.length / 3);
      await p.getByTestId('file-input').setInputFiles({
        name: 'torus.glb',
        mimeType: 'model/gltf-binary',
        buffer: Buffer.from(await writeGlb(torus(0.7, 0.3, 16, 8, [0.9, 0.1, 0.1]))),
      });
      await waitForScene(p, 'mesh:torus.glb');
      // the red torus shows red, shaded (not flat colour)
      const cam = lookAtCamera([0, 1.5, 2.2], [0, 0, 0], [0, 1, 0], 48, 48, 45);
      const px = (await p.evaluate((c) => window.__instructScene!.renderPixels(c as unknown as Camera), camJson(cam))).rgba;
      const reds = new Set<number>();
      for (let i = 0; i < px.length; i += 4) if (px[i] > px[i + 1] + 40 && px[i] > px[i + 2] + 40) reds.add(px[i]);
      expect(reds.size).toBeGreaterThan(5);
      await h.screenshot(p, 'viewer-mesh-torus');
      // shaded as the stylisation's rasteriser shades it (same camera, same colours): close except along edges
      const t = torus(0.7, 0.3, 16, 8, [0.9, 0.1, 0.1]);
      const ref = rasterizeMesh({ positions: t.positions, indices: t.indices, colors: t.colors! }, cam, [1, 1, 1]);
      let se = 0,
        interior = 0,
        far = 0;
      for (let i = 0; i < 48 * 48; i++) {
        for (let c = 0; c < 3; c++) se += (px[4 * i + c] / 255 - ref.image[3 * i + c]) ** 2;
        if (ref.alpha[i] === 1 && (i % 48 === 0 || ref.faceId[i - 1] === ref.faceId[i])) {
          interior++;
          if (Math.max(...[0, 1, 2].map((c) => Math.abs(px[4 * i + c] / 255 - ref.image[3 * i + c]))) > 3 / 255) far++;
        }
      }
      const psnr = 10 * Math.log10(1 / (se / (48 * 48 * 3)));
      console.log(`viewer vs CPU rasteriser: ${psnr.toFixed(1)} dB, ${far} of ${interior} face-interior pixels differ by > 3/255`);
      expect(psnr).toBeGreaterThan(20); // edges: the viewer does not antialias its off-screen render
      expect(far).toBeLessThan(0.02 * interior);
      // drop a .ply mesh on the page
      const ply = Array.from(writePlyMesh(uvSphere(16, 8)));
      await p.evaluate((bytes) => {
        const dt = new DataTransfer();
        dt.items.add(new File([new Uint8Array(bytes)], 'ball.ply'));
        window.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
      }, ply);
      await waitForScene(p, 'mesh:ball.ply');
      expect(errors).toEqual([]);
    } catch (e) {
      await h.screenshot(p, 'viewer-mesh-open').catch(() => {});
      throw e;
    } finally {
      await p.close();
    }
  });

  it('stylises a mesh with the built-in model ("make it gold"); undo restores it; the exported .glb loads in GLTFLoader', async () => {
    const { page: p, errors } = await h.open('?scene=meshes/vase.obj');
    const tmp = mkdtempSync(join(tmpdir(), 'is-mesh-'));
    try {
      await waitForScene(p, 'mesh:vase.obj');
      const cam = lookAtCamera([1.8, 1.0, 2.6], [0, 0, 0], [0, 1, 0], 64, 64, 45);
      const render = async () => (await p.evaluate((c) => window.__instructScene!.renderPixels(c as unknown as Camera), camJson(cam))).rgba;
      /** Mean (r+g)/2 − b over the object's pixels (not the white background) and their count. */
      const gold = (px: number[]) => {
        let s = 0,
          n = 0;
        for (let i = 0; i < px.length; i += 4) {
          if (px[i] > 250 && px[i + 1] > 250 && px[i + 2] > 250) continue;
          s += ((px[i] + px[i + 1]) / 2 - px[i + 2]) / 255;
          n++;
        }
        return { score: s / n, n };
      };
      const before = await render();
      const g0 = gold(before);
      expect(g0.n).toBeGreaterThan(200);
      // a mesh opens with the region box around it, switched off
      expect(await p.getByTestId('region-enabled').isChecked()).toBe(false);
      await p.getByTestId('instruction').fill('make it gold');
      await p.getByTestId('iters').fill('40');
      await p.getByTestId('views').fill('3');
      await p.getByTestId('steps').fill('4');
      await p.getByTestId('run').click();
      // live progress while it runs (under load the run can end before the panel shows a step: then the history has it)
      await p
        .getByTestId('edit-step')
        .filter({ hasText: /refit|edit/ })
        .or(p.getByTestId('history-count').filter({ hasText: '1 edit' }))
        .first()
        .waitFor({ timeout: 120_000 });
      await p.getByTestId('history-count').filter({ hasText: '1 edit' }).waitFor({ timeout: 240_000 });
      const after = await render();
      await h.screenshot(p, 'viewer-mesh-gold'); // for looking at (test-artifacts/)
      const g1 = gold(after);
      console.log(`viewer mesh edit: (r+g)/2 − b ${g0.score.toFixed(3)} → ${g1.score.toFixed(3)}, object pixels ${g0.n} → ${g1.n}`);
      expect(g1.score - g0.score).toBeGreaterThanOrEqual(0.1);
      expect(Math.abs(g1.n - g0.n) / g0.n).toBeLessThan(0.1);
      await p.getByTestId('undo').click();
      await p.getByTestId('history-count').filter({ hasText: '0 edits' }).waitFor();
      const undone = await render();
      let maxDiff = 0;
      for (let i = 0; i < before.length; i++) maxDiff = Math.max(maxDiff, Math.abs(undone[i] - before[i]));
      expect(maxDiff).toBeLessThanOrEqual(1);
      await p.getByTestId('redo').click();
      await p.getByTestId('history-count').filter({ hasText: '1 edit' }).waitFor();
      const [dl] = await Promise.all([p.waitForEvent('download', { timeout: 120_000 }), p.getByTestId('export-glb').click()]);
      expect(dl.suggestedFilename()).toBe('vase.glb');
      const file = join(tmp, 'vase.glb');
      await dl.saveAs(file);
      const bytes = readFileSync(file);
      const gltf = await new GLTFLoader().parseAsync(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength), '');
      const meshes: { count: number; hasColor: boolean; color: ArrayLike<number> }[] = [];
      gltf.scene.traverse((o) => {
        const m = o as unknown as {
          isMesh?: boolean;
          geometry: { attributes: Record<string, { count: number; array: ArrayLike<number> }> };
        };
        if (m.isMesh)
          meshes.push({
            count: m.geometry.attributes.position.count,
            hasColor: !!m.geometry.attributes.color,
            color: m.geometry.attributes.color?.array,
          });
      });
      expect(meshes).toHaveLength(1);
      expect(meshes[0].count).toBe(VASE.positions.length / 3);
      expect(meshes[0].hasColor).toBe(true);
      // linear COLOR_0, gold: red above blue on average
      let rb = 0;
      for (let i = 0; i < meshes[0].color.length; i += 3) rb += meshes[0].color[i] - meshes[0].color[i + 2];
      expect(rb).toBeGreaterThan(0);
      const extras = gltf.parser.json.extras as { instructScene: { edits: { instruction: string }[] } };
      expect(extras.instructScene.edits[0].instruction).toBe('make it gold');
      expect(errors).toEqual([]);
    } catch (e) {
      await h.screenshot(p, 'viewer-mesh-edit').catch(() => {});
      throw e;
    } finally {
      rmSync(tmp, { recursive: true, force: true });
      await p.close();
    }
  }, 300_000);
});
