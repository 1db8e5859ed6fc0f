/**
 * CLIP image tower at openai/clip-vit-base-patch32's exact sizes (random weights: 12 layers × 768, 224² images in
 * 32² patches, 512-d projection): forward and forward + backward (gradient with respect to the pixels) time per
 * image, on the CPU twin (one thread) and on WebGPU, and memory: the process's peak resident set (CPU) and the
 * peak of live GPU buffer bytes (WebGPU; weights + activations + gradients). Wall-clock ms, median of the timed
 * runs after one warm-up, and the process's CPU time (user + system, all threads; the steadier figure on a shared
 * machine). On machines without a GPU, WebGPU is SwiftShader (Vulkan on the CPU): it proves the
 * kernels run at these sizes; its speed is meaningful on real GPUs only.
 *
 * Run: node bin/run-ts.mjs bench/clip.ts [--runs 2] [--batch 1] [--skip-cpu] [--skip-webgpu] [--out FILE.json]
 * → bench/results/clip.json
 */
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng } from '../src/core/rng';
import { getGpuDevice, gpuDescription } from '../src/gpu/device';
import { installNodeWebGpu } from '../src/io/node/node-webgpu';
import { writeFileAtomic } from '../src/io/node/node-files';
import { createCpuClipEncoder, type ClipEncoder } from '../src/edit/clip/clip-encoder';
import { randomClipTensors, vitB32Config, weightsFromTensors } from '../models/build/clip-graphs';

const HERE = dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const opt = (name: string, d: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : d;
};
const runs = Number(opt('runs', '2'));
const batch = Number(opt('batch', '1'));
const outPath = opt('out', join(HERE, 'results', 'clip.json'));
const MB = 1024 * 1024;
const rssPeakMB = () => process.resourceUsage().maxRSS / 1024;
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

/** CPU time of this process (all its threads: SwiftShader's too) in ms. */
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

async function timeEncoder(enc: ClipEncoder, pixels: Float32Array, E: number) {
  const fwd: number[] = [],
    fb: number[] = [],
    fwdCpu: number[] = [],
    fbCpu: number[] = [];
  for (let r = 0; r <= runs; r++) {
    let t0 = performance.now(),
      c0 = cpuMs();
    await enc.encodeImages(pixels, batch);
    const tf = performance.now() - t0,
      cf = cpuMs() - c0;
    t0 = performance.now();
    c0 = cpuMs();
    const pass = await enc.encodeImagesForGrad(pixels, batch);
    const dE = Float32Array.from({ length: batch * E }, (_, i) => Math.sin(i));
    const { dPixels } = await pass.backward(dE);
    const tb = performance.now() - t0,
      cb = cpuMs() - c0;
    if (!dPixels.every(Number.isFinite)) throw new Error('non-finite gradient');
    if (r > 0) {
      fwd.push(tf / batch);
      fb.push(tb / batch);
      fwdCpu.push(cf / batch);
      fbCpu.push(cb / batch);
    }
    console.log(
      `  run ${r}${r ? '' : ' (warm-up)'}: forward ${(tf / batch).toFixed(0)} ms/image (CPU time ${(cf / batch).toFixed(0)} ms), ` +
        `forward+backward ${(tb / batch).toFixed(0)} ms/image (CPU time ${(cb / batch).toFixed(0)} ms)`,
    );
  }
  return {
    forward_ms_per_image: Math.round(median(fwd)),
    forward_backward_ms_per_image: Math.round(median(fb)),
    forward_cpu_time_ms_per_image: Math.round(median(fwdCpu)),
    forward_backward_cpu_time_ms_per_image: Math.round(median(fbCpu)),
  };
}

async function main() {
  const config = vitB32Config();
  const E = config.projectionDim,
    S = config.vision.imageSize;
  console.log('random ViT-B/32 vision tower…');
  const tensors = randomClipTensors(config, 1, ['vision']);
  const weights = await weightsFromTensors(config, tensors, ['vision']);
  const weightBytes = tensors.reduce((s, t) => s + t.data.byteLength, 0);
  const rng = new Rng(2);
  const pixels = Float32Array.from({ length: batch * 3 * S * S }, () => rng.normal());
  const result: Record<string, unknown> = {
    bench: 'clip',
    date: new Date().toISOString(),
    node: process.version,
    cpu: cpus()[0]?.model,
    model: 'random weights at openai/clip-vit-base-patch32 sizes (vision tower: 12 × 768, patch 32, 224², projection 512)',
    vision_parameters: tensors.reduce((s, t) => s + t.data.length, 0),
    vision_weight_mb: +(weightBytes / MB).toFixed(1),
    batch,
    timed_runs: runs,
    rss_peak_mb_after_weights: Math.round(rssPeakMB()),
  };
  if (!argv.includes('--skip-cpu')) {
    console.log('CPU twin (one thread):');
    const cpu = createCpuClipEncoder(config, weights);
    result.cpu = { ...(await timeEncoder(cpu, pixels, E)), rss_peak_mb: Math.round(rssPeakMB()) };
  }
  if (!argv.includes('--skip-webgpu')) {
    installNodeWebGpu();
    const device = await getGpuDevice();
    // live GPU buffer bytes, through the device's createBuffer / destroy
    let live = 0,
      peak = 0;
    const create = device.createBuffer.bind(device);
    device.createBuffer = (d: GPUBufferDescriptor) => {
      const b = create(d);
      if (!(d.usage & GPUBufferUsage.MAP_READ)) {
        live += d.size;
        peak = Math.max(peak, live);
        const destroy = b.destroy.bind(b);
        let gone = false;
        b.destroy = () => {
          if (!gone) live -= d.size;
          gone = true;
          destroy();
        };
      }
      return b;
    };
    const { createWebGpuClipEncoder } = await import('../src/edit/clip/gpu/clip-encoder-webgpu');
    console.log(`WebGPU (${gpuDescription()}):`);
    // the encoder owns the weights from here: their host copies go once uploaded, as with a loaded folder
    const gpu = await createWebGpuClipEncoder(config, weights, { releaseHostWeights: true });
    tensors.length = 0;
    const t = await timeEncoder(gpu, pixels, E);
    result.webgpu = {
      adapter: gpuDescription(),
      ...t,
      gpu_buffers_peak_mb: +(peak / MB).toFixed(1),
      rss_peak_mb: Math.round(rssPeakMB()),
      rss_after_mb: Math.round(process.memoryUsage().rss / MB),
    };
    gpu.dispose();
  }
  type T = {
    forward_ms_per_image: number;
    forward_backward_ms_per_image: number;
    forward_cpu_time_ms_per_image: number;
    forward_backward_cpu_time_ms_per_image: number;
  };
  const c = result.cpu as T | undefined;
  const g = result.webgpu as T | undefined;
  if (c && g)
    result.ratios = {
      cpu_over_webgpu_forward: +(c.forward_ms_per_image / g.forward_ms_per_image).toFixed(2),
      cpu_over_webgpu_forward_backward: +(c.forward_backward_ms_per_image / g.forward_backward_ms_per_image).toFixed(2),
      cpu_time_cpu_over_webgpu_forward: +(c.forward_cpu_time_ms_per_image / g.forward_cpu_time_ms_per_image).toFixed(2),
      cpu_time_cpu_over_webgpu_forward_backward: +(
        c.forward_backward_cpu_time_ms_per_image / g.forward_backward_cpu_time_ms_per_image
      ).toFixed(2),
    };
  if (c)
    result.cpu_backward_over_forward = +(
      (c.forward_backward_cpu_time_ms_per_image - c.forward_cpu_time_ms_per_image) /
      c.forward_cpu_time_ms_per_image
    ).toFixed(2);
  console.log(JSON.stringify(result, null, 2));
  await writeFileAtomic(outPath, new TextEncoder().encode(JSON.stringify(result, null, 2) + '\n'));
  process.exit(0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
