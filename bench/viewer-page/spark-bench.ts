// Spark 2 (@sparkjsdev/spark) on its own three.js WebGLRenderer (WebGL2): a SplatMesh in a SparkRenderer, timed
// like the WebGPU renderers of bench/viewer.ts (same file, camera path and canvas size), each frame fenced by a
// one-pixel readPixels. Loaded with a dynamic
// import so the classic three.js build (which Spark needs) stays out of the WebGPU runs.
import { Color, PerspectiveCamera, Scene, WebGLRenderer, LinearSRGBColorSpace, NoToneMapping } from 'three';
import { SparkRenderer, SplatMesh, SplatFileType } from '@sparkjsdev/spark';
import type { BenchArgs, BenchOut } from './main';

export async function runSpark(a: BenchArgs, canvas: HTMLCanvasElement, bytes: ArrayBuffer): Promise<BenchOut> {
  const renderer = new WebGLRenderer({ canvas, antialias: false, alpha: false, powerPreference: 'high-performance' });
  renderer.setPixelRatio(1);
  renderer.setSize(a.width, a.height, false);
  renderer.outputColorSpace = LinearSRGBColorSpace;
  renderer.toneMapping = NoToneMapping;
  const gl = renderer.getContext();
  const t0 = performance.now();
  const spark = new SparkRenderer({ renderer });
  const mesh = new SplatMesh({ fileBytes: new Uint8Array(bytes), fileType: SplatFileType.SPLAT });
  await mesh.initialized;
  const parseMs = performance.now() - t0;
  const scene = new Scene();
  scene.background = new Color(0, 0, 0);
  scene.add(spark);
  scene.add(mesh);
  const camera = new PerspectiveCamera(a.fov, a.width / a.height, a.near, a.far);
  const place = (p: number[]) => {
    camera.position.set(p[0], p[1], p[2]);
    camera.lookAt(a.target[0], a.target[1], a.target[2]);
    camera.updateMatrixWorld();
  };
  // gl.finish() returns at once in Chromium (measured: 0 ms for a draw that takes seconds on SwiftShader), so the
  // frame is fenced by reading one pixel back, which waits for the draw to complete
  const px = new Uint8Array(4);
  const frame = () => {
    const s = performance.now();
    renderer.render(scene, camera);
    gl.readPixels(0, 0, 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, px);
    return performance.now() - s;
  };
  const idle = () => new Promise((r) => setTimeout(r, 0));
  // warm-up: shaders compiled and the first sort (GPU depth readback + WASM sort in a worker) landed
  place(a.path[0]);
  let sorts = 0;
  const t1 = performance.now();
  let firstFrameMs = frame();
  while ((!spark.orderingTexture || spark.sorting || spark.sortDirty) && performance.now() - t1 < 180_000) {
    await new Promise((r) => setTimeout(r, 20));
    firstFrameMs = frame();
  }
  const sortedAt = () => spark.lastSortTime;
  let lastSort = sortedAt();
  const times: number[] = [];
  const sortLatencyMs: number[] = [];
  for (let f = 1; f < a.path.length; f++) {
    place(a.path[f]);
    times.push(frame());
    // Spark's order for this view arrives asynchronously (readback + worker sort): record how long it takes
    const w = performance.now();
    while ((spark.sorting || spark.sortDirty) && performance.now() - w < 60_000) await new Promise((r) => setTimeout(r, 5));
    if (sortedAt() !== lastSort) {
      sorts++;
      sortLatencyMs.push(performance.now() - w);
      lastSort = sortedAt();
    }
    await idle();
  }
  const still: number[] = [];
  for (let f = 0; f < a.stillFrames; f++) still.push(frame());
  const count = mesh.packedSplats?.numSplats ?? 0;
  return {
    backend: 'webgl2',
    count,
    parseMs,
    firstFrameMs,
    frameMs: times,
    stillFrameMs: still,
    sorter: `spark (GPU depth readback + WASM sort in a worker, ${sorts} sorts, order lands after the frame)`,
    sortLatencyMs,
    drawn: spark.activeSplats,
    dispose: () => {
      mesh.dispose();
      renderer.dispose();
    },
  };
}
