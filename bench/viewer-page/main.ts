// Bench page for bench/viewer.ts: draws one .splat file along one camera path with the viewer's SplatMesh
// (WebGPU), three.js r187's GaussianSplat addon (WebGPU) or Spark 2 (WebGL2, spark-bench.ts), timing each frame
// to GPU completion (WebGPU: queue.onSubmittedWorkDone; WebGL2: a one-pixel readPixels).
import { PerspectiveCamera, Scene, Color, type Object3D, type WebGPURenderer } from 'three/webgpu';
import { SPLATLoader } from 'three/examples/jsm/loaders/SPLATLoader.js';
import { GaussianSplat } from 'three/examples/jsm/objects/GaussianSplat.js';
import { packSplatFile } from '../../src/viewer/three/splat-data';
import { SplatMesh } from '../../src/viewer/three/splat-mesh';
import { createViewerRenderer } from '../../src/viewer/three/renderer';

export interface BenchArgs {
  url: string;
  which: 'ours' | 'three' | 'spark';
  width: number;
  height: number;
  /** camera positions (the first is the warm-up view), all looking at `target` */
  path: number[][];
  target: number[];
  fov: number;
  near: number;
  far: number;
  /** frames drawn again at the last view (nothing moved) */
  stillFrames: number;
  /** ours: splats drawn at most per frame (level-of-detail cut), when the file is big enough to get a tree */
  budget?: number;
  /** ours: build the level-of-detail tree for files with at least this many splats */
  lodAbove?: number;
}
export interface BenchOut {
  backend: string;
  count: number;
  parseMs: number;
  firstFrameMs: number;
  frameMs: number[];
  stillFrameMs: number[];
  sorter: string;
  sortLatencyMs?: number[];
  /** splats drawn in the last frame (after culling / level of detail), where the renderer reports it */
  drawn?: number;
  gpuBytes?: number;
  /** ours: time to pack the file and build the level-of-detail tree, and the tree's node count */
  lodBuildMs?: number;
  nodes?: number;
  dispose?: () => void;
}

let current: { canvas: HTMLCanvasElement; out: BenchOut } | null = null;

async function runBench(a: BenchArgs): Promise<Omit<BenchOut, 'dispose'>> {
  const canvas = document.createElement('canvas');
  canvas.width = a.width;
  canvas.height = a.height;
  canvas.style.width = `${a.width}px`;
  canvas.style.height = `${a.height}px`;
  document.body.append(canvas);
  const bytes = await (await fetch(a.url)).arrayBuffer();
  const out = a.which === 'spark' ? await (await import('./spark-bench')).runSpark(a, canvas, bytes) : await runWebGpu(a, canvas, bytes);
  current = { canvas, out };
  const { dispose: _d, ...rest } = out;
  return rest;
}

/** Frees the last run's renderer (after the harness took its screenshot). */
function endBench(): void {
  current?.out.dispose?.();
  current?.canvas.remove();
  current = null;
}

async function runWebGpu(a: BenchArgs, canvas: HTMLCanvasElement, bytes: ArrayBuffer): Promise<BenchOut> {
  const { renderer, info } = await createViewerRenderer(canvas);
  renderer.setPixelRatio(1);
  renderer.setSize(a.width, a.height, false);
  const t0 = performance.now();
  let obj: Object3D;
  let count: number;
  let ours: SplatMesh | null = null;
  let lodBuildMs: number | undefined;
  if (a.which === 'ours') {
    // every splat drawn unless the row asks for the level-of-detail mode
    const tp = performance.now();
    const splats = packSplatFile(new Uint8Array(bytes), a.url, { lodAbove: a.lodAbove ?? Infinity });
    lodBuildMs = splats.lod ? performance.now() - tp : undefined;
    ours = new SplatMesh(splats, { budget: a.budget });
    obj = ours;
    count = splats.count;
  } else {
    const geometry = new SPLATLoader().parse(bytes);
    obj = new GaussianSplat(geometry);
    count = geometry.getAttribute('position').count;
  }
  const parseMs = performance.now() - t0;
  const scene = new Scene();
  scene.background = new Color(0, 0, 0);
  scene.add(obj);
  const camera = new PerspectiveCamera(a.fov, a.width / a.height, a.near, a.far);
  const device = (renderer.backend as unknown as { device?: GPUDevice }).device;
  const frame = async () => {
    const s = performance.now();
    renderer.render(scene, camera);
    if (device) await device.queue.onSubmittedWorkDone();
    return performance.now() - s;
  };
  const times: number[] = [];
  if (ours) {
    // first frames: the CPU twin projects while the compute kernels compile; measure once they run
    const p = a.path[0];
    camera.position.set(p[0] * 1.001, p[1], p[2]);
    camera.lookAt(a.target[0], a.target[1], a.target[2]);
    const t1 = performance.now();
    for (let k = 0; ours.lastSorter !== 'gpu' && performance.now() - t1 < 120_000; k++) {
      camera.position.x += 1e-6 * (k + 1);
      camera.updateMatrixWorld();
      await frame();
      if (ours.lastSorter !== 'gpu') await new Promise((r) => setTimeout(r, 50));
    }
  }
  for (let f = 0; f < a.path.length; f++) {
    const p = a.path[f];
    camera.position.set(p[0], p[1], p[2]);
    camera.lookAt(a.target[0], a.target[1], a.target[2]);
    camera.updateMatrixWorld();
    times.push(await frame());
  }
  const still: number[] = [];
  for (let f = 0; f < a.stillFrames; f++) still.push(await frame());
  return {
    backend: info.backend,
    count,
    parseMs,
    firstFrameMs: times[0],
    frameMs: times.slice(1),
    stillFrameMs: still,
    sorter: ours ? ours.lastSorter : 'three CountingSort (4096 bins, re-sorted when the view direction turns)',
    drawn: ours ? await ours.drawnCount(renderer as WebGPURenderer) : undefined,
    gpuBytes: ours ? ours.gpuBytes : undefined,
    lodBuildMs,
    nodes: ours ? ours.splats.nodes : undefined,
    dispose: () => {
      (obj as unknown as { dispose?: () => void }).dispose?.();
      renderer.dispose();
    },
  };
}

Object.assign(window as object, { runBench, endBench });
