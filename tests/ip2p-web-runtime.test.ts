import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import * as ortWeb from 'onnxruntime-web';
import { createImage } from '../src/core/image';
import { nodeFiles } from '../src/io/node/node-files';
import { nodeRuntime } from '../src/io/node/node-ort';
import { webRuntime } from '../src/edit/diffusion/ort-web';
import { InstructPix2Pix } from '../src/edit/diffusion/pipeline';
import type { OrtModule } from '../src/edit/diffusion/runtime';

const BUILTIN = join(__dirname, '../models/builtin');

describe('one pipeline, two runtimes', () => {
  it('onnxruntime-web (wasm, its Node build) gives the same edit as onnxruntime-node', async () => {
    const web = await webRuntime({ ort: ortWeb as unknown as OrtModule });
    expect(web.name).toMatch(/onnxruntime-web \(wasm\)/); // no navigator.gpu in Node
    const img = createImage(32, 24, 3);
    for (let i = 0; i < img.data.length; i++) img.data[i] = ((i * 37) % 101) / 100;
    const pw = await InstructPix2Pix.load(BUILTIN, nodeFiles, web);
    const pn = await InstructPix2Pix.load(BUILTIN, nodeFiles, nodeRuntime());
    expect(web.usedProviders).toEqual(['wasm', 'wasm', 'wasm', 'wasm']);
    const a = await pw.edit(img, 'make it sepia', { steps: 5, seed: 4 });
    const b = await pn.edit(img, 'make it sepia', { steps: 5, seed: 4 });
    let maxd = 0;
    for (let i = 0; i < a.data.length; i++) maxd = Math.max(maxd, Math.abs(a.data[i] - b.data[i]));
    expect(maxd).toBeLessThan(1e-4);
    await pw.dispose();
    await pn.dispose();
  });
});

describe('external data (models over 2 GB are exported this way)', () => {
  it('a folder whose UNet and text encoder keep weights in external files loads in both runtimes and edits identically', async () => {
    const { mkdtempSync, cpSync, readFileSync, writeFileSync, rmSync, unlinkSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { externalizeModel } = await import('../src/edit/diffusion/onnx/external');
    const { checkModelFolder } = await import('../src/edit/diffusion/model-contract');
    const dir = mkdtempSync(join(tmpdir(), 'ip2p-ext-'));
    try {
      cpSync(BUILTIN, dir, { recursive: true });
      for (const c of ['unet', 'text_encoder']) {
        const { model, data } = externalizeModel(readFileSync(join(dir, c, 'model.onnx')), 'model.onnx_data', 1024);
        expect(data.length).toBeGreaterThan(1024);
        writeFileSync(join(dir, c, 'model.onnx'), model);
        writeFileSync(join(dir, c, 'model.onnx_data'), data);
      }
      const check = await checkModelFolder(dir, nodeFiles);
      expect(check.problems).toEqual([]);
      expect(check.components.unet!.info.externalData).toEqual(['model.onnx_data']);
      const img = createImage(16, 16, 3, 0.4);
      const ref = await InstructPix2Pix.load(BUILTIN, nodeFiles, nodeRuntime());
      const want = await ref.edit(img, 'make it blue', { steps: 3 });
      for (const rt of [nodeRuntime(), await webRuntime({ ort: ortWeb as unknown as OrtModule })]) {
        const p = await InstructPix2Pix.load(dir, nodeFiles, rt);
        const got = await p.edit(img, 'make it blue', { steps: 3 });
        for (let i = 0; i < got.data.length; i++) expect(got.data[i]).toBeCloseTo(want.data[i], 4);
        await p.dispose();
      }
      await ref.dispose();
      unlinkSync(join(dir, 'unet', 'model.onnx_data'));
      const broken = await checkModelFolder(dir, nodeFiles);
      expect(broken.problems.join('\n')).toMatch(/unet\/model.onnx_data: missing \(external data of/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
