import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Camera } from '../src/core/camera';
import { pixelRay, rayBox } from '../src/core/rays';
import { aggregateTargetMetrics, growBox, labelBoundary, targetViewMetrics } from '../src/edit/eval/target-metrics';
import { DEMO_OBJECTS, demoCameras, renderDemoInstances, renderDemoScene, type DemoObject } from '../src/io/datasets/demo-scene';
import { decodeLabelPng } from '../src/io/images/label-png';
import { saveVoxelScene } from '../src/io/scenes/load-scene';
import { nodeFiles } from '../src/io/node/node-files';
import { demoVoxelGrid } from './helpers/edit-demo';
import { cli } from './helpers/cli';

const VASE = DEMO_OBJECTS.findIndex((o) => o.name === 'vase');
const recolour = (name: string, color: [number, number, number]): DemoObject[] =>
  DEMO_OBJECTS.map((o) => (o.name === name ? { ...o, color } : o));

describe('instance labels and target metrics', () => {
  const cams = demoCameras(4, 96, 0);

  it('labels follow the ray tracer: recolouring an object changes exactly its own (interior) pixels', () => {
    for (const cam of cams) {
      const labels = renderDemoInstances(cam);
      const a = renderDemoScene(cam),
        b = renderDemoScene(cam, recolour('vase', [0.9, 0.1, 0.1]));
      const edge = labelBoundary(labels, cam.width, cam.height);
      let changedOutside = 0,
        vasePixels = 0;
      for (let p = 0; p < labels.length; p++) {
        const diff = Math.abs(a.data[p * 3] - b.data[p * 3]) + Math.abs(a.data[p * 3 + 2] - b.data[p * 3 + 2]);
        if (edge[p]) continue;
        if (labels[p] === 2 + VASE) {
          vasePixels++;
          expect(diff).toBeGreaterThan(0.05);
        } else if (diff > 0) changedOutside++;
      }
      expect(vasePixels).toBeGreaterThan(10);
      expect(changedOutside).toBe(0);
    }
  });

  it('boundary pixels: every pixel with a differently labelled 8-neighbour', () => {
    // 4×3: left two columns 1, right two 2
    const l = Uint8Array.from([1, 1, 2, 2, 1, 1, 2, 2, 1, 1, 2, 2]);
    expect(Array.from(labelBoundary(l, 4, 3))).toEqual([0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0]);
  });

  it('a clean recolour scores 100 dB near and off target and matches its ideal; bleeding onto the ground is seen near the target', () => {
    const vase = DEMO_OBJECTS[VASE];
    const box = { min: vase.min, max: vase.max };
    const clean = [],
      bleed = [];
    for (const [i, cam] of cams.entries()) {
      const labels = renderDemoInstances(cam);
      const a = renderDemoScene(cam),
        b = renderDemoScene(cam, recolour('vase', [0.9, 0.1, 0.1]));
      clean.push({ file: `v${i}`, m: targetViewMetrics(a, b, labels, 2 + VASE, cam, box, b) });
      // the same edit with red fog on the ground seen through the vase's box (the haze of a bleeding edit)
      const fog = { ...b, data: b.data.slice() };
      const near = nearGround(cam, labels, growBox(box));
      for (const p of near) fog.data[p * 3] = Math.min(1, fog.data[p * 3] + 0.3);
      bleed.push({ file: `v${i}`, m: targetViewMetrics(a, fog, labels, 2 + VASE, cam, box, b) });
    }
    const c = aggregateTargetMetrics(clean),
      f = aggregateTargetMetrics(bleed);
    expect(c.near_psnr).toBe(100);
    expect(c.off_target_psnr).toBe(100);
    expect(c.target_psnr_vs_ideal).toBe(100);
    expect(f.near_psnr!).toBeLessThan(25);
    expect(f.off_target_psnr!).toBeGreaterThan(f.near_psnr!); // diluted by the untouched pixels further away
    expect(f.target_psnr_vs_ideal).toBe(100);
    expect(c.views).toHaveLength(cams.length);
  });

  it('growBox grows 10 % about the centre', () => {
    const g = growBox({ min: [0, 0, 0], max: [1, 2, 4] });
    expect(g.min).toEqual([-0.05, -0.1, -0.2]);
    expect(g.max).toEqual([1.05, 2.1, 4.2]);
  });

  describe('CLI', () => {
    const dir = mkdtempSync(join(tmpdir(), 'is-target-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    it('demo-data writes instances/; diff --target reports near / off-target / vs ideal', async () => {
      const data = join(dir, 'data');
      expect(cli(['demo-data', '--out', data, '--views', '8', '--size', '32']).code).toBe(0);
      const l = decodeLabelPng(readFileSync(join(data, 'instances/frame_00001.png')), 'x');
      expect([l.width, l.height]).toEqual([32, 32]);
      expect(new Set(l.labels).has(2 + VASE)).toBe(true);
      const objects = JSON.parse(readFileSync(join(data, 'objects.json'), 'utf8'));
      expect(objects[VASE]).toMatchObject({ name: 'vase', label: 2 + VASE });
      const scene = join(dir, 'scene');
      await saveVoxelScene(scene, { grid: demoVoxelGrid(32), background: [1, 1, 1], render: { stepRatio: 0.5, near: 0 } }, nodeFiles);
      const r = cli(['diff', scene, scene, '--dataset', data, '--split', 'all', '--target', 'vase', '--json']);
      expect(r.stderr).toBe('');
      const j = JSON.parse(r.stdout);
      expect(j.target).toBe('vase');
      expect(j.near_psnr).toBe(100);
      expect(j.off_target_psnr).toBe(100);
      expect(j.target_psnr_vs_ideal).toBeNull();
      expect(j.target_views).toHaveLength(8);
      const bad = cli(['diff', scene, scene, '--dataset', data, '--target', 'teapot']);
      expect(bad.code).not.toBe(0);
      expect(bad.stderr.trim().split('\n')).toHaveLength(1);
      expect(bad.stderr).toMatch(/no object named 'teapot'.*vase/);
    });
  });
});

/** Ground pixels (label 1) whose centre ray passes through the box. */
function nearGround(cam: Camera, labels: Uint8Array, box: { min: number[]; max: number[] }): number[] {
  const out: number[] = [];
  const o = new Float32Array(3),
    d = new Float32Array(3);
  for (let y = 0; y < cam.height; y++)
    for (let x = 0; x < cam.width; x++) {
      const p = y * cam.width + x;
      if (labels[p] !== 1) continue;
      pixelRay(cam, x, y, o, d, 0);
      const [t0, t1] = rayBox(o, d, 0, box.min, box.max);
      if (t1 >= t0 && t1 > 0) out.push(p);
    }
  return out;
}
