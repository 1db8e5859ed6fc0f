import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, unlinkSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createImage } from '../src/core/image';
import { decodeImage, encodePng } from '../src/io/images/image-codec';
import { cli } from './helpers/cli';
import { modelFolder, probeUnet, writeUnet } from './helpers/ip2p-models';

const tmp = mkdtempSync(join(tmpdir(), 'ip2p-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function writeInput(): string {
  const img = createImage(32, 24, 3);
  for (let i = 0; i < 32 * 24; i++) img.data.set([0.4, 0.5, 0.6], i * 3);
  const p = join(tmp, 'photo.png');
  writeFileSync(p, encodePng(img));
  return p;
}

describe('edit-image', () => {
  it('edits with the built-in model and writes the output atomically; --json summary', () => {
    const input = writeInput();
    const before = readFileSync(input);
    const out = join(tmp, 'red.png');
    const r = cli([
      'edit-image',
      input,
      '--instruction',
      'make it red',
      '--model',
      'builtin',
      '--out',
      out,
      '--steps',
      '8',
      '--seed',
      '1',
      '--json',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.filter((l) => l.event === 'progress' && l.phase === 'denoise').length).toBe(8);
    expect(lines.filter((l) => l.event === 'progress' && l.phase === 'load').length).toBe(4);
    const summary = lines[lines.length - 1];
    expect(summary).toMatchObject({ out, builtin: true, steps: 8, seed: 1, width: 32, height: 24 });
    const img = decodeImage(readFileSync(out), out);
    expect(img.data[0]).toBeGreaterThan(img.data[1] + 0.3); // red
    expect(readFileSync(input).equals(before)).toBe(true);
  });

  it('one-line errors: unknown words, overwriting the input, missing model, bad flags', () => {
    const input = writeInput();
    let r = cli(['edit-image', input, '--instruction', 'turn him into a clown', '--out', join(tmp, 'x.png')]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/does not understand 'clown'.*InstructPix2Pix/);
    expect(existsSync(join(tmp, 'x.png'))).toBe(false);
    r = cli(['edit-image', input, '--instruction', 'make the vase gold', '--out', join(tmp, 'gold.png'), '--steps', '2']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^warning: the built-in stand-in ignores 'vase'/);
    r = cli(['edit-image', input, '--instruction', 'make it red', '--out', input]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/never overwritten/);
    r = cli(['edit-image', input, '--instruction', 'make it red', '--out', join(tmp, 'y.png'), '--model', join(tmp, 'nope')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no such model folder/);
    r = cli(['edit-image', input, '--instruction', 'make it red', '--out', join(tmp, 'y.png'), '--strength', '2']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--strength must be a number in \[0, 1\]/);
  });
});

describe('models check', () => {
  it('accepts the built-in model (and runs it with --run)', () => {
    const r = cli(['models', 'check', 'builtin', '--run']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/OK: the folder matches/);
    expect(r.stdout).toMatch(/sample float32 \[batch_size,8,height,width\]/);
    const j = cli(['models', 'check', 'builtin', '--json']);
    expect(JSON.parse(j.stdout)).toMatchObject({
      ok: true,
      builtin: true,
      variant: { timestepRank: 1, vaeOutput: 'latent_parameters', hiddenSize: 768 },
    });
  });

  it('lists what is wrong and exits 1', async () => {
    const d = await modelFolder();
    try {
      writeUnet(d, probeUnet({ sampleChannels: 4, dtype: 'float32' }));
      unlinkSync(join(d, 'tokenizer', 'merges.txt'));
      const r = cli(['models', 'check', d]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/problem: .*unet\/model.onnx: 'sample' has size 4 on axis 1, expected 8/);
      expect(r.stderr).toMatch(/problem: .*tokenizer: missing tokenizer files/);
      expect(r.stderr).toMatch(/2 problems/);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});
