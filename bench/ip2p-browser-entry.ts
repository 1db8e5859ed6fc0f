// Bundled by bench/ip2p.ts (esbuild) into a page: times pipeline edits on onnxruntime-web in Chromium.
import * as ort from 'onnxruntime-web/webgpu';
import { createImage } from '../src/core/image';
import { webRuntime } from '../src/edit/diffusion/ort-web';
import { InstructPix2Pix } from '../src/edit/diffusion/pipeline';
import { timedRuntime, type OrtModule } from '../src/edit/diffusion/runtime';
import { urlFiles } from '../src/io/files/url-files';

(window as any).bench = async (model: string, wasmOnly: boolean, size: number, steps: number) => {
  const base = await webRuntime({ ort: ort as unknown as OrtModule, wasmOnly });
  const t = timedRuntime(base);
  const pipe = await InstructPix2Pix.load('.', urlFiles(`${location.origin}/models/${model}`, { cache: null }), t.rt);
  const img = createImage(size, size, 3, 0.5);
  for (let i = 0; i < 3; i++) await pipe.edit(img, 'make it red', { steps: 2 });
  let best: any = null;
  for (let rep = 0; rep < 5; rep++) {
    t.reset();
    const t0 = performance.now();
    await pipe.edit(img, 'make it blue', { steps, seed: rep });
    const total = performance.now() - t0;
    const session = Object.values(t.ms).reduce((a, b) => a + b, 0);
    if (!best || total < best.total) best = { total, session, byModel: { ...t.ms } };
  }
  await pipe.dispose();
  return { runtime: base.name, providers: base.usedProviders, ...best };
};
(window as any).ready = true;
