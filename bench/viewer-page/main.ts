// Bench page for bench/viewer.ts: draws the same .splat file along the same camera path with the viewer's
// SplatMesh and with three.js r187's GaussianSplat addon, timing each frame to GPU completion.
import { Box3, PerspectiveCamera, Scene, Vector3, Color, type Object3D } from 'three/webgpu';
import { SPLATLoader } from 'three/examples/jsm/loaders/SPLATLoader.js';
import { GaussianSplat } from 'three/examples/jsm/objects/GaussianSplat.js';
import { readSplat } from '../../src/io/formats/splat';
import { packSplats } from '../../src/viewer/three/splat-data';
import { SplatMesh } from '../../src/viewer/three/splat-mesh';
import { createViewerRenderer } from '../../src/viewer/three/renderer';

export interface BenchArgs {
  url: string;
  which: 'ours' | 'three';
  frames: number;
  width: number;
  height: number;
  bins?: number;
  sortEveryFrame?: boolean;
  sorter?: 'radix' | 'counting';
}
export interface BenchOut {
  backend: string;
  count: number;
  parseMs: number;
  firstFrameMs: number;
  frameMs: number[];
  sorter: string;
}

async function runBench(a: BenchArgs): Promise<BenchOut> {
  const canvas = document.createElement('canvas');
  canvas.style.width = `${a.width}px`;
  canvas.style.height = `${a.height}px`;
  document.body.append(canvas);
  const { renderer, info } = await createViewerRenderer(canvas);
  renderer.setPixelRatio(1);
  renderer.setSize(a.width, a.height, false);
  const bytes = await (await fetch(a.url)).arrayBuffer();
  const t0 = performance.now();
  let obj: Object3D;
  let count: number;
  let box: Box3;
  if (a.which === 'ours') {
    const splats = packSplats(readSplat(new Uint8Array(bytes), a.url));
    const m = new SplatMesh(splats, { bins: a.bins, sorter: a.sorter });
    if (a.sortEveryFrame === false) m.sortEveryFrame = false;
    obj = m;
    count = splats.count;
    box = m.boundingBox.clone();
  } else {
    const geometry = new SPLATLoader().parse(bytes);
    const m = new GaussianSplat(geometry);
    geometry.computeBoundingBox();
    obj = m;
    count = geometry.getAttribute('position').count;
    box = geometry.boundingBox!.clone();
  }
  const parseMs = performance.now() - t0;
  const scene = new Scene();
  scene.background = new Color(0, 0, 0);
  scene.add(obj);
  const center = box.getCenter(new Vector3());
  const radius = box.getSize(new Vector3()).length() / 2;
  const camera = new PerspectiveCamera(50, a.width / a.height, radius / 100, radius * 100);
  const device = (renderer.backend as unknown as { device?: GPUDevice }).device;
  const times: number[] = [];
  // ours: draw until the radix kernels are compiled (the counting sort stands in meanwhile), then measure
  const mesh = obj as SplatMesh;
  if (a.which === 'ours' && a.sorter !== 'counting') {
    const t1 = performance.now();
    camera.position.set(center.x + 1.6 * radius, center.y + 0.5 * radius, center.z);
    camera.lookAt(center);
    camera.updateMatrixWorld();
    while (mesh.lastSorter !== 'radix' && performance.now() - t1 < 120_000) {
      renderer.render(scene, camera);
      if (device) await device.queue.onSubmittedWorkDone();
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  for (let f = 0; f <= a.frames; f++) {
    const az = ((2 * Math.PI * f) / Math.max(1, a.frames)) * 0.25;
    camera.position.set(center.x + 1.6 * radius * Math.cos(az), center.y + 0.5 * radius, center.z + 1.6 * radius * Math.sin(az));
    camera.lookAt(center);
    camera.updateMatrixWorld();
    const s = performance.now();
    renderer.render(scene, camera);
    if (device) await device.queue.onSubmittedWorkDone();
    times.push(performance.now() - s);
  }
  renderer.dispose();
  canvas.remove();
  return {
    backend: info.backend,
    count,
    parseMs,
    firstFrameMs: times[0],
    frameMs: times.slice(1),
    sorter: a.which === 'ours' ? mesh.lastSorter : 'three CountingSort',
  };
}

(window as unknown as { runBench: typeof runBench }).runBench = runBench;
