import { describe, expect, it } from 'vitest';
import {
  blocksCameras,
  blocksGrid,
  boxGaussians,
  editConfig,
  framesFor,
  redRegionTargets,
  redRightBlocks,
  targetPrior,
} from './helpers/edit-fixtures';
import { installNodeWebGpu } from '../src/io/node/node-webgpu';
import { gpuAvailable } from '../src/gpu/device';
import { createGaussianBackend } from '../src/nerf/gaussian/gaussian-backend';
import type { EditConfig } from '../src/edit/loops/edit-config';
import { prepareViews } from '../src/edit/loops/edit-views';
import { runEdit } from '../src/edit/loops/edit-run';
import { GaussianEditable } from '../src/edit/scenes/gaussian-editable';
import { boxRegion, type Region } from '../src/edit/regions/regions';
import type { EditableScene } from '../src/edit/scenes/editable';
import type { Image } from '../src/core/image';
import { diffImages } from '../src/edit/eval/diff';
import { VoxelEditable } from '../src/edit/scenes/voxel-editable';
import { createVoxelBackend } from '../src/nerf/voxel/voxel-backend';

// The edit loops on `--backend webgpu` run the same optimisation as on the CPU reference: from the same start,
// the edited scenes agree up to float32 rounding (compared in image space, as the fit tests do).

installNodeWebGpu();
const hasGpu = await gpuAvailable();
if (!hasGpu) console.warn('edit-webgpu: skipped — no WebGPU adapter (install chromium for SwiftShader, see README)');

const cams = blocksCameras(24);
const region = boxRegion([0.1, -0.6, -0.6], [0.9, 0.6, 0.6]);

/** Gaussians in a box, and each camera's render of them with the region's Gaussians turned red (the edit targets). */
async function redRegionGaussians() {
  const g = boxGaussians(150, 2, 0.15, 1);
  return { g, targets: await redRegionTargets(g, region, cams) };
}

/** Runs an edit towards per-camera targets (exact denoiser), then renders every camera and frees the backend. */
async function editTowards(scene: EditableScene, r: Region, targets: Image[], cfg: EditConfig) {
  const views = await prepareViews(scene, framesFor(cams, targets), r, () => 1);
  const res = await runEdit({ cfg, scene, prior: targetPrior(views, targets), views });
  const renders = [];
  for (const c of cams) renders.push(await scene.render(c));
  scene.dispose();
  return { scene, renders, loss: res.state.lastLoss, start: views.map((v) => v.source) };
}

describe.skipIf(!hasGpu)('edits with --backend webgpu', () => {
  for (const method of ['idu', 'sds'] as const) {
    it(`Gaussians, ${method} with preservation (rgb + opacity): the WebGPU edit matches the CPU edit`, async () => {
      const { g, targets } = await redRegionGaussians();
      const cfg = editConfig(method, { iters: 12, raysPerStep: 400, preserveWeight: 10, idu: { ...editConfig(method).idu, editEvery: 3 } });
      const run = async (backend: 'cpu' | 'webgpu') =>
        editTowards(
          new GaussianEditable(g, [1, 1, 1], region, { lrColor: 0.05, densify: false }, await createGaussianBackend(backend)),
          region,
          targets,
          cfg,
        );
      const cpu = await run('cpu'),
        gpu = await run('webgpu');
      const gpuScene = gpu.scene as GaussianEditable;
      expect(gpu.scene.backendName).toBe('webgpu');
      expect(Math.abs(gpu.loss - cpu.loss) / Math.abs(cpu.loss)).toBeLessThan(1e-2);
      for (let i = 0; i < cams.length; i++) {
        expect(diffImages(gpu.renders[i], cpu.renders[i]).psnr).toBeGreaterThan(45);
        // and the edit did something (well above the CPU/GPU agreement)
        expect(diffImages(cpu.renders[i], cpu.start[i]).psnr).toBeLessThan(40);
      }
      // the Gaussians outside the region stay bit-exact on the GPU path too
      for (let i = 0; i < g.count; i++) if (!gpuScene.gate![i]) expect(gpuScene.g.sh[48 * i]).toBe(g.sh[48 * i]);
    });
  }

  it('Gaussians: densification runs on the WebGPU path (view-space gradients and radii from the GPU backward)', async () => {
    const { g, targets } = await redRegionGaussians();
    const scene = new GaussianEditable(
      g,
      [1, 1, 1],
      region,
      { lrColor: 0.05, densifyEvery: 5, densifyUntil: 5, extent: 3.5 },
      await createGaussianBackend('webgpu'),
    );
    const cfg = editConfig('idu', { iters: 8, raysPerStep: 400, idu: { ...editConfig('idu').idu, editEvery: 3 } });
    const { renders } = await editTowards(scene, region, targets, cfg);
    expect(scene.densifyLog.length).toBe(1);
    expect(scene.count).toBeGreaterThan(g.count);
    expect(scene.gate!.length).toBe(scene.count);
    expect(renders[0].data.every(Number.isFinite)).toBe(true);
  });

  for (const method of ['idu', 'sds'] as const) {
    it(`voxels, ${method} ungated with preservation (rgb + opacity, ${method === 'idu' ? 'L1 refit' : 'MSE'}): the WebGPU edit matches the CPU edit`, async () => {
      const red = new VoxelEditable(redRightBlocks(), [1, 1, 1], undefined);
      const targets: Image[] = [];
      for (const c of cams) targets.push((await red.renderSource(c)).image);
      const vr = boxRegion([0.05, -0.5, -0.5], [0.9, 0.5, 0.5]);
      const cfg = editConfig(method, {
        iters: 10,
        raysPerStep: 512,
        preserveWeight: 10,
        idu: { ...editConfig(method).idu, editEvery: 3 },
        sds: { ...editConfig(method).sds, levels: 1, levelUntil: 0.3 },
      });
      const run = async (backend: 'cpu' | 'webgpu') =>
        editTowards(
          new VoxelEditable(
            blocksGrid(),
            [1, 1, 1],
            vr,
            { gate: false, lrDensity: 0.05, pearsonWeight: method === 'sds' ? 200 : 0 },
            undefined,
            { work: await createVoxelBackend(backend), source: await createVoxelBackend(backend) },
          ),
          vr,
          targets,
          cfg,
        );
      const cpu = await run('cpu'),
        gpu = await run('webgpu');
      expect(gpu.scene.backendName).toBe('webgpu');
      // L1's gradient sign(e) flips between float64 and float32 where e ≈ 0 (pixels already right), and Adam's first
      // steps are ±lr whatever the gradient's size: the last batch's loss (×1000 on opacity errors) differs by ~10%,
      // while the edited renders agree to ~50 dB. MSE has no such jump.
      expect(Math.abs(gpu.loss - cpu.loss) / Math.abs(cpu.loss)).toBeLessThan(method === 'idu' ? 0.2 : 1e-2);
      for (let i = 0; i < cams.length; i++) {
        expect(diffImages(gpu.renders[i], cpu.renders[i]).psnr).toBeGreaterThan(45);
        expect(diffImages(cpu.renders[i], cpu.start[i]).psnr).toBeLessThan(40);
      }
    });
  }
});
