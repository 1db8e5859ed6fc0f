import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Camera } from '../src/core/camera';
import { createImage, type Image } from '../src/core/image';
import { DEMO_OBJECTS, demoCameras, instanceLabel } from '../src/io/datasets/demo-scene';
import { demoGaussians } from '../src/viewer/data/demo-gaussians';
import { cloneGaussians, setColor, SH_STRIDE } from '../src/nerf/gaussian/gaussians';
import { GaussianScene } from '../src/nerf/gaussian/gaussian-scene';
import { aggregateTargetMetrics, targetViewMetrics, UNKNOWN_LABEL } from '../src/edit/eval/target-metrics';
import { decodeImage, encodePng } from '../src/io/images/image-codec';
import { cli } from './helpers/cli';
import { ARTIFACTS, startViewer, type ViewerHarness } from './helpers/viewer-browser';
import { noChromium } from './helpers/skip';

// Issue 11's bar for the viewer: "make the vase red" from the edit panel with the viewer's defaults (the sample
// region around the vase, object selection, its own views and settings), measured like `diff --target vase
// --ideal` on the demo's test cameras: near = non-vase pixels whose ray passes the vase's box grown by 10 %
// (before vs after), vase pixels vs the built-in model's own 2D edit of each before-render (edit-image).
// The viewer's demo is made of surfels sampled on the analytic scene (demoGaussians), whose discs reach a little
// past the analytic silhouettes (and leave pinholes between them), so the labels come from the same surfels: a
// pixel is the vase's where the vase's surfels give at least half of what it shows, unknown (in no set) where they
// give 5–50 % (the analytic labels of demo-data would count the vase's own rim as "near").
const missing = noChromium();

const camJson = (c: Camera) => ({ ...c, c2w: Array.from(c.c2w) });
const toImage = (px: { width: number; height: number; rgba: number[] }): Image => {
  const img = createImage(px.width, px.height, 3);
  for (let i = 0; i < px.width * px.height; i++) for (let c = 0; c < 3; c++) img.data[i * 3 + c] = px.rgba[i * 4 + c] / 255;
  return img;
};

const VASE = DEMO_OBJECTS.findIndex((o) => o.name === 'vase');

/** The viewer's demo surfels painted by `paint` (their SH cleared), over black: what each camera sees of which. */
function paintedSurfels(paint: (p: number[], isVase: boolean) => [number, number, number]): GaussianScene {
  const g = cloneGaussians(demoGaussians());
  const o = DEMO_OBJECTS[VASE];
  const c = [(o.min[0] + o.max[0]) / 2, (o.min[2] + o.max[2]) / 2],
    r = (o.max[0] - o.min[0]) / 2 + 0.01;
  for (let i = 0; i < g.count; i++) {
    const p = [g.means[3 * i], g.means[3 * i + 1], g.means[3 * i + 2]];
    const isVase = p[1] >= o.min[1] + 0.005 && p[1] <= o.max[1] + 0.01 && (p[0] - c[0]) ** 2 + (p[2] - c[1]) ** 2 <= r * r;
    g.sh.fill(0, i * SH_STRIDE, (i + 1) * SH_STRIDE);
    setColor(g, i, ...paint(p, isVase));
  }
  return new GaussianScene(g, [0, 0, 0]);
}

/** Labels of the viewer's demo surfels as seen from each camera: 0 nothing, 1 anything else, instanceLabel(vase) the vase, UNKNOWN_LABEL its fringe. */
async function surfelLabels(cams: Camera[], vase: number): Promise<Uint8Array[]> {
  const scene = paintedSurfels((_, isVase) => [isVase ? 1 : 0, 0, 0]);
  const out: Uint8Array[] = [];
  for (const cam of cams) {
    const { image, alpha } = await scene.render(cam);
    const v = (p: number) => image.data[p * 3];
    out.push(Uint8Array.from(alpha, (a, p) => (v(p) >= 0.5 ? instanceLabel(vase) : v(p) >= 0.05 ? UNKNOWN_LABEL : a >= 0.5 ? 1 : 0)));
  }
  return out;
}

describe.skipIf(missing !== null)('viewer: a precise edit with the panel defaults (Chromium)', () => {
  let h: ViewerHarness;
  beforeAll(async () => {
    h = await startViewer();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('"make the vase red" in the sample region: near ≥ 28 dB, the vase vs the model\'s 2D edit ≥ 24 dB', async () => {
    const { page: p, errors } = await h.open();
    await p.waitForFunction(() => (window.__instructScene?.info().count ?? 0) > 0, undefined, { timeout: 120_000 });
    // the dataset's test cameras (every 8th of demo-data's 64) and their ground-truth labels
    const cams = demoCameras(64, 128, 0).filter((_, i) => i % 8 === 0);
    const render = async (c: Camera) =>
      toImage(await p.evaluate((cj) => window.__instructScene!.renderPixels(cj as unknown as Camera), camJson(c)));
    const before: Image[] = [];
    for (const c of cams) before.push(await render(c));
    await p.getByTestId('instruction').fill('make the vase red');
    const t0 = performance.now();
    await p.getByTestId('run').click();
    await p.getByTestId('history-count').filter({ hasText: '1 edit' }).waitFor({ timeout: 900_000 });
    const seconds = (performance.now() - t0) / 1000;
    const after: Image[] = [];
    for (const c of cams) after.push(await render(c));
    await h.screenshot(p, 'viewer-precise-edit'); // for looking at (test-artifacts/)
    // the ideal: each before-render edited in 2D by the same model
    const dir = mkdtempSync(join(tmpdir(), 'viewer-precise-'));
    const ideal: Image[] = [];
    for (let i = 0; i < cams.length; i++) {
      writeFileSync(join(dir, `b${i}.png`), encodePng(before[i]));
      const r = cli(['edit-image', join(dir, `b${i}.png`), '--instruction', 'make the vase red', '--out', join(dir, `i${i}.png`)]);
      expect(r.code, r.stderr).toBe(0);
      ideal.push(decodeImage(readFileSync(join(dir, `i${i}.png`)), `i${i}.png`));
    }
    // for looking at: before / after / ideal of every test camera, one row each (test-artifacts/)
    // (and the change, ×4)
    const strip = createImage(4 * 128, 128 * cams.length, 3);
    cams.forEach((_, r) => {
      const change = createImage(128, 128, 3);
      change.data.forEach((_, i) => (change.data[i] = Math.min(1, 4 * Math.abs(after[r].data[i] - before[r].data[i]))));
      [before[r], after[r], ideal[r], change].forEach((im, c) => {
        for (let y = 0; y < 128; y++)
          for (let x = 0; x < 128; x++)
            for (let k = 0; k < 3; k++) strip.data[((r * 128 + y) * 4 * 128 + c * 128 + x) * 3 + k] = im.data[(y * 128 + x) * 3 + k];
      });
    });
    mkdirSync(ARTIFACTS, { recursive: true });
    writeFileSync(join(ARTIFACTS, 'viewer-precise-edit-views.png'), encodePng(strip));
    const vase = VASE;
    const labels = await surfelLabels(cams, vase);
    const views = cams.map((c, i) => ({
      file: `view ${i}`,
      m: targetViewMetrics(before[i], after[i], labels[i], instanceLabel(vase), c, DEMO_OBJECTS[vase], ideal[i]),
    }));
    const m = aggregateTargetMetrics(views);
    console.log(
      `viewer "make the vase red" (defaults): near ${m.near_psnr?.toFixed(1)} dB, off-target ${m.off_target_psnr?.toFixed(1)} dB, ` +
        `vase vs ideal ${m.target_psnr_vs_ideal?.toFixed(1)} dB, ${seconds.toFixed(0)} s in the browser`,
    );
    expect(m.near_psnr!).toBeGreaterThanOrEqual(28);
    expect(m.target_psnr_vs_ideal!).toBeGreaterThanOrEqual(24);
    expect(errors).toEqual([]);
  }, 1_200_000);
  it('the region render mode shows the object the edit would change, not the ground in the box', async () => {
    const { page: p, errors } = await h.open();
    await p.waitForFunction(() => (window.__instructScene?.info().count ?? 0) > 0, undefined, { timeout: 120_000 });
    await p.getByTestId('render-mode').selectOption('region');
    const info = p.getByTestId('selection-info').filter({ hasText: /^selection: [\d,]+ of [\d,]+ Gaussians in the box$/ });
    await info.waitFor({ timeout: 60_000 });
    const [, selected, candidates] = /selection: ([\d,]+) of ([\d,]+)/
      .exec((await info.textContent())!)!
      .map((x) => Number(x?.replace(/,/g, '')));
    expect(selected).toBeGreaterThan(0);
    expect(selected).toBeLessThan(candidates);
    // the surfels of the vase, and the others whose centre is in the panel's sample box (the ground under the vase)
    const box = { min: [-0.3, -0.02, -0.3], max: [0.3, 0.62, 0.3] }; // SAMPLE_REGION (src/viewer/state/edit-store.ts)
    const painted = paintedSurfels((p, isVase) => [
      isVase ? 1 : 0,
      !isVase && [0, 1, 2].every((a) => p[a] >= box.min[a] && p[a] <= box.max[a]) ? 1 : 0,
      0,
    ]);
    const cam = demoCameras(64, 128, 0)[0];
    const lab = (await painted.render(cam)).image;
    await p.waitForTimeout(500); // the preview's first frame
    const px = toImage(await p.evaluate((cj) => window.__instructScene!.renderPixels(cj as unknown as Camera), camJson(cam)));
    await h.screenshot(p, 'viewer-region-selection');
    const mean = (ch: number) => {
      const s = [0, 0, 0];
      let n = 0;
      for (let q = 0; q < 128 * 128; q++)
        if (lab.data[q * 3 + ch] >= 0.9) {
          n++;
          for (let c = 0; c < 3; c++) s[c] += px.data[q * 3 + c];
        }
      return { rgb: s.map((x) => x / n), n };
    };
    const vase = mean(0),
      ground = mean(1);
    console.log(
      `region mode, ${selected} of ${candidates} Gaussians selected: vase pixels ${vase.rgb.map((x) => x.toFixed(2))} (${vase.n}), ` +
        `ground in the box ${ground.rgb.map((x) => x.toFixed(2))} (${ground.n})`,
    );
    expect(vase.n).toBeGreaterThan(100);
    expect(ground.n).toBeGreaterThan(40);
    // tinted (c·0.5 + (0.5, 0.4, 0)): the blue vase turns orange; dimmed (c·0.35): the ground stays grey and dark
    expect(vase.rgb[0] - vase.rgb[2]).toBeGreaterThan(0.3);
    expect(ground.rgb[0] - ground.rgb[2]).toBeLessThan(0.1);
    expect(Math.max(...ground.rgb)).toBeLessThan(0.4);
    expect(errors).toEqual([]);
  }, 300_000);
});
