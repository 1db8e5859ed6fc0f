import { lookAtCamera, type Camera } from '../../src/core/camera';
import type { Image } from '../../src/core/image';
import { Rng } from '../../src/core/rng';
import { exactDenoiserPrior } from './priors';
import { scaledLinearAlphasCumprod, type DiffusionPrior } from '../../src/edit/diffusion/prior';
import type { EditConfig } from '../../src/edit/loops/edit-config';
import { EDIT_DEFAULTS } from '../../src/edit/loops/edit-spec';
import type { EditFrame, EditView } from '../../src/edit/loops/edit-views';
import type { Region } from '../../src/edit/regions/regions';
import { GaussianEditable } from '../../src/edit/scenes/gaussian-editable';
import { cloneGaussians, randomGaussians, setColor, type Gaussians } from '../../src/nerf/gaussian/gaussians';
import { createVoxelGrid, type VoxelGrid } from '../../src/nerf/voxel/voxel-grid';

/**
 * Small scenes, cameras and stand-in editors for the edit tests: two coloured blocks (voxels), Gaussians in a
 * box, and exact denoisers that pull each view to a known target image.
 */

export const BLOCKS_BOX = { min: [-1, -1, -1] as [number, number, number], max: [1, 1, 1] as [number, number, number] };

/** A small voxel grid: two opaque blocks (left and right of x = 0) in an empty box; raw colours given. */
export function blocksGrid(
  res = 17,
  right: [number, number, number] = [-2, 2, -2],
  left: [number, number, number] = [-2, -2, 2],
): VoxelGrid {
  const g = createVoxelGrid({ res: [res, res, res], box: BLOCKS_BOX });
  for (let k = 0; k < res; k++)
    for (let j = 0; j < res; j++)
      for (let i = 0; i < res; i++) {
        const v = i + res * (j + res * k);
        const x = (i / (res - 1)) * 2 - 1,
          y = (j / (res - 1)) * 2 - 1,
          z = (k / (res - 1)) * 2 - 1;
        const inL = x > -0.8 && x < -0.1 && Math.abs(y) < 0.4 && Math.abs(z) < 0.4;
        const inR = x > 0.1 && x < 0.8 && Math.abs(y) < 0.4 && Math.abs(z) < 0.4;
        g.density[v] = inL || inR ? 8 : -8;
        const c = inR ? right : left;
        for (let q = 0; q < 3; q++) g.color[v * 3 + q] = c[q];
      }
  return g;
}

/** The blocks grid with the right block red: the target of the "make the right block red" tests. */
export const redRightBlocks = (): VoxelGrid => blocksGrid(17, [2.5, -2, -2]);

export const blocksCameras = (size = 24): Camera[] => [
  lookAtCamera([0, 0.5, 3.2], [0, 0, 0], [0, 1, 0], size, size, 45),
  lookAtCamera([1.5, 1.2, 2.6], [0, 0, 0], [0, 1, 0], size, size, 45),
  lookAtCamera([-1.5, 1.0, 2.6], [0, 0, 0], [0, 1, 0], size, size, 45),
];

/** IP2P's noise schedule (ᾱ_t), for the exact denoisers. */
export const ALPHAS = scaledLinearAlphasCumprod();

/** Training frames from cameras and their images (file names v0, v1, …). */
export function framesFor(cams: Camera[], images: Image[]): EditFrame[] {
  return cams.map((camera, i) => ({ file: `v${i}`, camera, image: images[i] }));
}

/**
 * An exact denoiser that pulls each view to `targets[i]`: it recognises the view by its condition image (the
 * view's original image for IDU's img2img, its source render for SDS).
 */
export function targetPrior(views: EditView[], targets: Image[]): DiffusionPrior {
  return exactDenoiserPrior((cond) => {
    const i = Math.max(
      views.findIndex((v) => v.source === cond.image),
      views.findIndex((v) => v.original === cond.image),
    );
    return targets[i];
  }, ALPHAS);
}

/** A loop configuration: the defaults with `method`, an instruction and the given changes. */
export function editConfig(method: EditConfig['method'], changes: Partial<EditConfig> = {}): EditConfig {
  return { ...EDIT_DEFAULTS, method, instruction: 'make it red', ...changes };
}

/** `count` random Gaussians in a flat box around the origin; with `scale` and `opacityLogit`, all of that size and opacity. */
export function boxGaussians(count: number, seed: number, scale?: number, opacityLogit?: number): Gaussians {
  const g = randomGaussians(count, { min: [-0.8, -0.5, -0.5], max: [0.8, 0.5, 0.5] }, new Rng(seed));
  for (let i = 0; i < g.count; i++) {
    if (scale !== undefined) g.logScales.fill(Math.log(scale), 3 * i, 3 * i + 3);
    if (opacityLogit !== undefined) g.opacityLogits[i] = opacityLogit;
  }
  return g;
}

/** Renders of `g` with the Gaussians whose centre lies in `region` turned red: what a "make it red" edit should give. */
export async function redRegionTargets(g: Gaussians, region: Region, cams: Camera[]): Promise<Image[]> {
  const want = cloneGaussians(g);
  for (let i = 0; i < want.count; i++)
    if (region.inside(want.means[3 * i], want.means[3 * i + 1], want.means[3 * i + 2])) setColor(want, i, 0.95, 0.1, 0.1);
  const scene = new GaussianEditable(want, [1, 1, 1], undefined);
  const out: Image[] = [];
  for (const c of cams) out.push((await scene.renderSource(c)).image);
  return out;
}
