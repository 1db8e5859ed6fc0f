import { displayImage } from '../../core/image';
import type { Camera } from '../../core/camera';
import type { Image } from '../../core/image';
import type { Scene } from '../../nerf/common/scene';
import type { Region } from '../regions/regions';
import { regionMask } from '../regions/regions';

/**
 * Compares two renders (or scenes) inside and outside a region's projected masks.
 * PSNR per view = 10·log10(1/MSE) over the pixels of the part; the figures are means over views
 * (views where the part is empty are left out of that part's mean). MSE is floored at 1e-10 (100 dB) so
 * identical images give a finite number.
 */
export interface DiffResult {
  psnr: number;
  outside_psnr: number | null;
  inside_psnr: number | null;
  inside_mean_rgb_a: [number, number, number] | null;
  inside_mean_rgb_b: [number, number, number] | null;
  views: { file: string; psnr: number; outside_psnr: number | null; inside_psnr: number | null; inside_fraction: number }[];
}

const toPsnr = (mse: number) => 10 * Math.log10(1 / Math.max(mse, 1e-10));

export interface ViewDiff {
  psnr: number;
  outside_psnr: number | null;
  inside_psnr: number | null;
  insideCount: number;
  insideSumA: [number, number, number];
  insideSumB: [number, number, number];
}

/** One view: RGB images a, b and a mask (1 = inside, ≥ 0.5 counts as inside); no mask = everything outside. */
export function diffImages(a: Image, b: Image, mask?: Image): ViewDiff {
  const n = a.width * a.height,
    Ca = a.channels,
    Cb = b.channels;
  let all = 0,
    inS = 0,
    outS = 0,
    inN = 0,
    outN = 0;
  const sa: [number, number, number] = [0, 0, 0],
    sb: [number, number, number] = [0, 0, 0];
  for (let i = 0; i < n; i++) {
    let e = 0;
    for (let c = 0; c < 3; c++) e += (a.data[i * Ca + c] - b.data[i * Cb + c]) ** 2;
    all += e;
    if (mask && mask.data[i * mask.channels] >= 0.5) {
      inS += e;
      inN++;
      for (let c = 0; c < 3; c++) {
        sa[c] += a.data[i * Ca + c];
        sb[c] += b.data[i * Cb + c];
      }
    } else {
      outS += e;
      outN++;
    }
  }
  return {
    psnr: toPsnr(all / (3 * n)),
    outside_psnr: outN ? toPsnr(outS / (3 * outN)) : null,
    inside_psnr: inN ? toPsnr(inS / (3 * inN)) : null,
    insideCount: inN,
    insideSumA: sa,
    insideSumB: sb,
  };
}

const mean = (v: number[]) => (v.length ? v.reduce((s, x) => s + x, 0) / v.length : null);

/** Aggregates per-view diffs (mean PSNRs over views; mean RGB over all inside pixels of all views). */
export function aggregateDiffs(views: { file: string; d: ViewDiff; pixels: number }[], withRegion: boolean): DiffResult {
  const inN = views.reduce((s, v) => s + v.d.insideCount, 0);
  const sumA = [0, 1, 2].map((c) => views.reduce((s, v) => s + v.d.insideSumA[c], 0));
  const sumB = [0, 1, 2].map((c) => views.reduce((s, v) => s + v.d.insideSumB[c], 0));
  return {
    psnr: mean(views.map((v) => v.d.psnr))!,
    outside_psnr: mean(views.filter((v) => v.d.outside_psnr !== null).map((v) => v.d.outside_psnr!)),
    inside_psnr: withRegion ? mean(views.filter((v) => v.d.inside_psnr !== null).map((v) => v.d.inside_psnr!)) : null,
    inside_mean_rgb_a: withRegion && inN ? (sumA.map((s) => s / inN) as [number, number, number]) : null,
    inside_mean_rgb_b: withRegion && inN ? (sumB.map((s) => s / inN) as [number, number, number]) : null,
    views: views.map((v) => ({
      file: v.file,
      psnr: v.d.psnr,
      outside_psnr: v.d.outside_psnr,
      inside_psnr: v.d.inside_psnr,
      inside_fraction: v.d.insideCount / v.pixels,
    })),
  };
}

/**
 * Renders both scenes at each camera and compares them inside / outside the region's projected masks.
 * `onRenders` sees each view's two renders (e.g. for CLIP metrics) before the next view is rendered.
 */
export async function diffScenes(
  a: Scene,
  b: Scene,
  views: { file: string; camera: Camera }[],
  region: Region | undefined,
  dilate: number,
  onView?: (done: number, total: number) => void,
  onRenders?: (view: number, a: Image, b: Image) => Promise<void> | void,
): Promise<DiffResult> {
  const out: { file: string; d: ViewDiff; pixels: number }[] = [];
  for (let i = 0; i < views.length; i++) {
    const { camera, file } = views[i];
    const [ra, rb] = [await a.render(camera), await b.render(camera)].map((r, k) => ({
      ...r,
      image: displayImage(r.image, `the render of scene ${k ? 'B' : 'A'} at ${file}`),
    }));
    await onRenders?.(i, ra.image, rb.image);
    const mask = region ? regionMask(region, camera, dilate) : undefined;
    out.push({ file, d: diffImages(ra.image, rb.image, mask), pixels: camera.width * camera.height });
    onView?.(i + 1, views.length);
  }
  return aggregateDiffs(out, !!region);
}

/** Redness of a mean colour: r − (g + b)/2 (the edit targets use its change). */
export function redness(rgb: ArrayLike<number>): number {
  return rgb[0] - (rgb[1] + rgb[2]) / 2;
}
