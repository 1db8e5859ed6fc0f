import { UserError } from '../../core/errors';
import type { Image } from '../../core/image';
import { resizeImage } from '../../core/image';
import { basename, joinPath } from '../../core/paths';
import type { Dataset } from '../../io/datasets/dataset';
import type { FileSource } from '../../io/files/files';
import { decodeImage } from '../../io/images/image-codec';
import type { Bounds, Region } from './regions';
import { boxRegion, carveVisualHull, gridRegion, parseRegionSpec, sphereRegion, validateRegion } from './regions';

/** Lists a folder (Node adapters provide it); hull regions need it to find the mask files. */
export type ListDir = (dir: string) => Promise<string[]>;

const stem = (f: string) => basename(f).replace(/\.[^.]*$/, '');

/** Reads a mask as one channel: the alpha channel when the file has a varying alpha, else the luminance. */
export function maskFromImage(img: Image): Image {
  const n = img.width * img.height,
    C = img.channels;
  const g = new Float32Array(n);
  let alphaVaries = false;
  if (C === 4) for (let i = 0; i < n && !alphaVaries; i++) if (img.data[i * 4 + 3] < 0.999) alphaVaries = true;
  for (let i = 0; i < n; i++) {
    if (C === 1) g[i] = img.data[i];
    else if (alphaVaries) g[i] = img.data[i * 4 + 3];
    else g[i] = (img.data[i * C] + img.data[i * C + 1] + img.data[i * C + 2]) / 3;
    g[i] = g[i] >= 0.5 ? 1 : 0;
  }
  return { width: img.width, height: img.height, channels: 1, data: g };
}

/**
 * Builds a region from `--region` text. `hull:MASK_DIR` reads binary masks named after dataset images
 * (same file stem, e.g. masks/frame_00003.png for images/frame_00003.png), projects with those frames'
 * cameras and carves a visual hull inside `bounds` (the scene box). The region is validated against `bounds`.
 */
export async function loadRegion(
  text: string,
  opts: { dataset: Dataset; files: FileSource; listDir?: ListDir; bounds?: Bounds; hullRes?: number },
): Promise<Region> {
  const spec = parseRegionSpec(text);
  let region: Region;
  if (spec.kind === 'box') region = boxRegion(spec.min, spec.max, text);
  else if (spec.kind === 'sphere') region = sphereRegion(spec.center, spec.radius, text);
  else {
    const dir = spec.dir;
    if (!opts.bounds)
      throw new UserError(`--region '${text}': a visual hull needs a scene box (the dataset declares none and the scene has no bounds)`);
    if (!opts.listDir) throw new UserError(`--region '${text}': hull regions need a file system that can list folders`);
    let names: string[];
    try {
      names = (await opts.listDir(dir)).filter((f) => /\.(png|jpe?g)$/i.test(f)).sort();
    } catch {
      throw new UserError('no such mask folder (hull:MASK_DIR must name a folder of PNG/JPEG masks)', dir);
    }
    const byStem = new Map(opts.dataset.frames.map((f) => [stem(f.file), f]));
    const views: { camera: (typeof opts.dataset.frames)[0]['camera']; mask: Image; file: string }[] = [];
    const unknown: string[] = [];
    for (const n of names) {
      const frame = byStem.get(stem(n));
      if (!frame) {
        unknown.push(n);
        continue;
      }
      const path = joinPath(dir, n);
      const mask = maskFromImage(decodeImage(await opts.files.read(path), path));
      const ratio = mask.width / frame.camera.width;
      if (Math.abs(mask.height / frame.camera.height - ratio) > 0.02)
        throw new UserError(
          `mask is ${mask.width}×${mask.height} but image ${frame.file} is ${frame.camera.width}×${frame.camera.height} (at this --downscale)`,
          path,
        );
      const m = resizeImage(mask, frame.camera.width, frame.camera.height);
      for (let i = 0; i < m.data.length; i++) m.data[i] = m.data[i] >= 0.5 ? 1 : 0;
      views.push({ camera: frame.camera, mask: m, file: n });
    }
    if (views.length < 2)
      throw new UserError(
        `a visual hull needs masks for at least 2 dataset images, found ${views.length}` +
          (unknown.length ? ` (${unknown.length} files match no dataset image, e.g. '${unknown[0]}'; name masks after the images)` : ''),
        dir,
      );
    const grid = carveVisualHull(views, opts.bounds, opts.hullRes ?? 64);
    region = gridRegion(grid, text, { dir, masks: views.map((v) => v.file) });
  }
  validateRegion(region, opts.bounds);
  return region;
}
