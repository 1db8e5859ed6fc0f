import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { lookAtCamera, type Camera } from '../../../src/core/camera';
import { createImage, type Image } from '../../../src/core/image';
import { Rng } from '../../../src/core/rng';
import type { Scene } from '../../../src/nerf/common/scene';
import { checkGaussiansFinite, createGaussians, type Gaussians } from '../../../src/nerf/gaussian/gaussians';
import { readGaussianPly, writeGaussianPly } from '../../../src/io/formats/ply';
import { readSplat, writeSplat } from '../../../src/io/formats/splat';
import { encodePng } from '../../../src/io/images/image-codec';
import { loadDataset, loadViews } from '../../../src/io/datasets/dataset';
import { nodeFiles } from '../../../src/io/node/node-files';

/** Seeds and sanity checks shared by the fuzz readers (tests/helpers/fuzz/readers*.ts). */
export const enc = (s: string) => new TextEncoder().encode(s);
export const json = (v: unknown) => enc(JSON.stringify(v, null, 1));
export const CAM: Camera = lookAtCamera([0.3, 0.4, 3], [0, 0, 0], [0, 1, 0], 8, 6, 50);

export function finiteIn01(img: Image, what: string): string | null {
  if (img.width < 1 || img.height < 1) return `${what}: empty image`;
  if (img.data.length !== img.width * img.height * img.channels) return `${what}: data length disagrees with its size`;
  for (let i = 0; i < img.data.length; i++) if (!(img.data[i] >= 0 && img.data[i] <= 1)) return `${what}: value ${img.data[i]} at ${i}`;
  return null;
}

/** Renders a small view and requires finite pixels: a scene that is accepted must render. */
export async function renderCheck(scene: Scene): Promise<string | null> {
  const r = await scene.render(CAM);
  for (let i = 0; i < r.image.data.length; i++) if (!Number.isFinite(r.image.data[i])) return `render has ${r.image.data[i]} at ${i}`;
  return null;
}

/** Accepted Gaussians must be in range, render, and survive both writers (convert must never write what we refuse). */
export async function gaussianCheck(g: Gaussians, scene: Scene): Promise<string | null> {
  try {
    checkGaussiansFinite(g);
    readSplat(writeSplat(g), 'round-trip.splat');
    readGaussianPly(writeGaussianPly(g), 'round-trip.ply');
  } catch (e) {
    return `accepted, but ${(e as Error).message}`;
  }
  return renderCheck(scene);
}

export function sampleGaussians(n: number, deg: number, seed: number): Gaussians {
  const rng = new Rng(seed);
  const g = createGaussians(n, deg);
  for (let i = 0; i < n; i++) {
    for (let a = 0; a < 3; a++) {
      g.means[3 * i + a] = rng.uniform(-0.5, 0.5);
      g.logScales[3 * i + a] = rng.uniform(-3, -1.5);
    }
    for (let a = 0; a < 4; a++) g.rotations[4 * i + a] = rng.uniform(-1, 1);
    g.opacityLogits[i] = rng.uniform(-1, 3);
    for (let k = 0; k < 48; k++) g.sh[48 * i + k] = rng.uniform(-1, 1) * (k < 3 ? 1 : 0.2);
  }
  return g;
}

export function asciiPointCloud(): Uint8Array {
  let t = 'ply\nformat ascii 1.0\ncomment sparse points\nelement vertex 6\nproperty float x\nproperty float y\nproperty float z\n';
  t +=
    'property uchar red\nproperty uchar green\nproperty uchar blue\nelement face 1\nproperty list uchar int vertex_indices\nend_header\n';
  for (let i = 0; i < 6; i++)
    t += `${(i * 0.1).toFixed(2)} ${(-i * 0.05).toFixed(2)} ${(0.2 + i * 0.01).toFixed(2)} ${i * 40} 128 ${255 - i * 30}\n`;
  return enc(t + '3 0 1 2\n');
}

export const TRANSFORMS_IMAGES = 3;
export function datasetSeed(): Record<string, Uint8Array> {
  const files: Record<string, Uint8Array> = {};
  const frames = [];
  for (let i = 0; i < TRANSFORMS_IMAGES; i++) {
    const img = createImage(8, 6, 3);
    for (let k = 0; k < img.data.length; k++) img.data[k] = ((k * 7 + i * 13) % 256) / 255;
    files[`images/f${i}.png`] = encodePng(img);
    const x = i - 1;
    frames.push({
      file_path: `images/f${i}.png`,
      transform_matrix: [
        [1, 0, 0, x],
        [0, 1, 0, 0.2],
        [0, 0, 1, 3],
        [0, 0, 0, 1],
      ],
    });
  }
  files['transforms.json'] = json({
    camera_model: 'OPENCV',
    w: 8,
    h: 6,
    fl_x: 7,
    fl_y: 7.5,
    cx: 4,
    cy: 3,
    k1: 0.01,
    background: [1, 1, 1],
    scene_box: { min: [-1, -1, -1], max: [1, 1, 1] },
    frames,
    test_filenames: ['images/f1.png'],
  });
  return files;
}

export async function datasetCheck(v: unknown): Promise<string | null> {
  const { ds, views } = v as Awaited<ReturnType<typeof readDataset>>;
  for (const f of ds.frames) {
    const c = f.camera;
    if (!(c.width >= 1 && c.height >= 1 && c.fx > 0 && c.fy > 0 && Number.isFinite(c.cx) && Number.isFinite(c.cy)))
      return `frame ${f.file}: bad intrinsics`;
    if (!Array.from(c.c2w).every(Number.isFinite)) return `frame ${f.file}: non-finite pose`;
  }
  for (const { frame, image } of views) {
    if (image.width !== frame.camera.width || image.height !== frame.camera.height)
      return `${frame.file}: image size disagrees with its camera`;
    const p = finiteIn01(image, frame.file);
    if (p) return p;
  }
  if (ds.sceneBox && !ds.sceneBox.min.every((m, a) => ds.sceneBox!.max[a] > m)) return 'empty scene box';
  if (!ds.background.every((b) => b >= 0 && b <= 1)) return 'background out of [0, 1]';
  return null;
}

export async function readDataset(dir: string) {
  const ds = await loadDataset(dir, nodeFiles);
  const { views } = await loadViews(ds, 'all', nodeFiles);
  return { ds, views };
}

export const MODEL_DIR = fileURLToPath(new URL('../../../models/builtin', import.meta.url));
export function modelSeed(): Record<string, Uint8Array> {
  const files: Record<string, Uint8Array> = {};
  const walk = (d: string, pre: string) => {
    for (const e of readdirSync(d)) {
      const p = join(d, e);
      if (statSync(p).isDirectory()) walk(p, `${pre}${e}/`);
      else files[`${pre}${e}`] = new Uint8Array(readFileSync(p));
    }
  };
  walk(MODEL_DIR, '');
  return files;
}
