/**
 * Edits through `instruct-scene serve` (loopback, ephemeral ports): `edit-image` and a short `edit` give the local
 * results byte for byte; `models check URL` gives the folder's messages; faults: the server killed mid-edit (one
 * line, then `--resume` once it is back gives the uninterrupted result), a slow server (timeout line), and an edit
 * cancelled while a call is in flight (the HTTP request is aborted, not waited for).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { createImage } from '../src/core/image';
import { encodePng } from '../src/io/images/image-codec';
import { decodeVoxelScene } from '../src/io/formats/voxel-format';
import { loadRemotePipeline } from '../src/edit/diffusion/remote/remote-pipeline';
import { RemoteRuntime } from '../src/edit/diffusion/remote/remote-runtime';
import { BIN, cli } from './helpers/cli';
import { writeTinyDemo } from './helpers/edit-demo';
import { modelFolder, probeUnet, writeUnet } from './helpers/ip2p-models';
import { startServe, type ServeProcess } from './helpers/serve';
import { slowProxy } from './helpers/slow-proxy';

let root = '',
  scene = '',
  data = '',
  image = '';
let srv: ServeProcess;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'remote-edit-'));
  ({ scene, data } = await writeTinyDemo(root, { size: 32, views: 8, res: 32 }));
  const img = createImage(48, 32, 3);
  for (let y = 0; y < 32; y++)
    for (let x = 0; x < 48; x++) {
      const i = (y * 48 + x) * 3;
      img.data[i] = x / 47;
      img.data[i + 1] = y / 31;
      img.data[i + 2] = ((x >> 3) + (y >> 3)) % 2 ? 0.8 : 0.2;
    }
  image = join(root, 'in.png');
  writeFileSync(image, encodePng(img));
  srv = await startServe(['--model', 'builtin', '--quiet']);
}, 120_000);

afterAll(async () => {
  await srv?.stop();
});

const strip = (o: any): any => {
  if (Array.isArray(o)) return o.map(strip);
  if (o && typeof o === 'object')
    return Object.fromEntries(
      Object.entries(o)
        .filter(([k]) => k !== 'model')
        .map(([k, v]) => [k, strip(v)]),
    );
  return o;
};

/** Every file under a folder: bytes, or parsed JSON / voxel grids without the fields that name the model's location. */
function snapshot(dir: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const walk = (d: string) => {
    for (const e of readdirSync(d).sort()) {
      const p = join(d, e);
      if (statSync(p).isDirectory()) walk(p);
      else if (e === 'edit-log.json') continue;
      else if (e.endsWith('.voxel')) {
        // the grid's arrays, and its metadata without the model's id (which names the server)
        const f = decodeVoxelScene(readFileSync(p), p);
        out[relative(dir, p)] = {
          density: Buffer.from(f.grid.density.buffer).toString('base64'),
          color: Buffer.from(f.grid.color.buffer).toString('base64'),
          res: f.grid.res,
          meta: strip(f.meta),
        };
      } else if (e.endsWith('.json')) out[relative(dir, p)] = strip(JSON.parse(readFileSync(p, 'utf8')));
      else out[relative(dir, p)] = readFileSync(p).toString('base64');
    }
  };
  walk(dir);
  return out;
}

const EDIT = [
  '--instruction',
  'make it red',
  '--iters',
  '16',
  '--edit-every',
  '2',
  '--rays',
  '256',
  '--seed',
  '3',
  '--checkpoint-every',
  '4',
];

describe('remote inference through serve', () => {
  it('edit-image through the server equals the local result', () => {
    const local = join(root, 'local.png'),
      remote = join(root, 'remote.png');
    const a = cli(['edit-image', image, '-i', 'make it blue', '--out', local, '--steps', '8', '--seed', '4']);
    expect(a.code, a.stderr).toBe(0);
    const b = cli([
      'edit-image',
      image,
      '-i',
      'make it blue',
      '--out',
      remote,
      '--steps',
      '8',
      '--seed',
      '4',
      '--model',
      srv.url,
      '--json',
    ]);
    expect(b.code, b.stderr).toBe(0);
    expect(JSON.parse(b.stdout.trim().split('\n').pop()!).runtime).toMatch(/inference server http:\/\/127\.0\.0\.1/);
    expect(readFileSync(remote).equals(readFileSync(local))).toBe(true);
    expect(readFileSync(local).equals(readFileSync(image))).toBe(false); // it did edit
  });

  it("models check URL: OK for the built-in model, and the folder check's messages for a broken one", async () => {
    const ok = cli(['models', 'check', srv.url, '--run']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/OK: the server's models match the InstructPix2Pix contract/);
    expect(ok.stdout).toMatch(/run: one guided step OK/);

    const dir = await modelFolder();
    writeUnet(dir, probeUnet({ sampleChannels: 4 }));
    const local = cli(['models', 'check', dir, '--json']);
    expect(local.code).toBe(1);
    const bad = await startServe(['--model', dir, '--quiet']);
    try {
      expect(bad.stderr.join('\n')).toMatch(/warning: .*'sample' has size 4 on axis 1.*served anyway/);
      const r = cli(['models', 'check', bad.url, '--json']);
      expect(r.code).toBe(1);
      const lp = JSON.parse(local.stdout).problems as string[];
      const rp = JSON.parse(r.stdout).problems as string[];
      expect(lp.length).toBeGreaterThan(0);
      expect(rp).toEqual(lp.map((p) => p.replace(join(dir, 'unet', 'model.onnx'), `${bad.url}/v2/models/unet`)));
      // a client refuses it before the first edit, with the same message
      const e = cli(['edit-image', image, '-i', 'make it red', '--out', join(root, 'x.png'), '--model', bad.url]);
      expect(e.code).toBe(1);
      expect(e.stderr.trim().split('\n')).toHaveLength(1);
      expect(e.stderr).toMatch(/not a usable InstructPix2Pix model server: .*v2\/models\/unet: 'sample' has size 4 on axis 1, expected 8/);
      expect(existsSync(join(root, 'x.png'))).toBe(false);
    } finally {
      await bad.stop();
    }
    // a wrong prefix names the missing models and how prefixes work
    const wrong = cli(['models', 'check', `${srv.url}/ip2p`]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/v2\/models\/ip2p_unet: missing \(the server has no model 'ip2p_unet'\).*end the URL with '\/' for none/);
  }, 120_000);

  it('a short edit through the server equals the local one; killed mid-edit it stops with one line and resumes', async () => {
    const localOut = join(root, 'edit-local');
    const a = cli(['edit', scene, '--dataset', data, ...EDIT, '--out', localOut]);
    expect(a.code, a.stderr).toBe(0);
    const remoteOut = join(root, 'edit-remote');
    const b = cli(['edit', scene, '--dataset', data, ...EDIT, '--out', remoteOut, '--model', srv.url]);
    expect(b.code, b.stderr).toBe(0);
    const want = snapshot(localOut);
    expect(Object.keys(want).length).toBeGreaterThan(3);
    expect(snapshot(remoteOut)).toEqual(want);
    const log = JSON.parse(readFileSync(join(remoteOut, 'edit-log.json'), 'utf8'));
    expect(log.model.server).toBe(srv.url);

    // the server dies after the first checkpoint
    const s2 = await startServe(['--model', 'builtin', '--quiet']);
    const out = join(root, 'edit-killed');
    const proc = spawn(process.execPath, [BIN, 'edit', scene, '--dataset', data, ...EDIT, '--out', out, '--model', s2.url], {
      env: { ...process.env, INSTRUCT_SCENE_REMOTE_RETRIES: '2' },
    });
    let stderr = '';
    proc.stderr.on('data', (c) => (stderr += c));
    const exited = new Promise<number | null>((r) => proc.once('exit', (c) => r(c)));
    for (let i = 0; i < 3000 && !existsSync(join(out, 'edit.ckpt')) && proc.exitCode === null; i++)
      await new Promise((r) => setTimeout(r, 10));
    expect(existsSync(join(out, 'edit.ckpt'))).toBe(true);
    await s2.stop('SIGKILL');
    expect(await exited).toBe(1);
    const lines = stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^instruct-scene edit: error: http:\/\/127\.0\.0\.1:\d+\/v2\/models\/\w+\/infer: cannot reach the inference server/,
    );
    expect(lines[0]).toMatch(/3 tries over [\d.]+ s/);
    expect(lines[0]).toMatch(
      new RegExp(`last checkpoint: step \\d+/16\\); once the server is back, continue with --resume ${out.replace(/[/\\]/g, '.')}`),
    );
    // back on the same port
    const s3 = await startServe(['--model', 'builtin', '--quiet', '--port', String(s2.port)]);
    try {
      const r = cli(['edit', scene, '--dataset', data, ...EDIT, '--resume', out, '--model', s3.url]);
      expect(r.code, r.stderr).toBe(0);
      expect(snapshot(out)).toEqual(want);
    } finally {
      await s3.stop();
    }
  }, 300_000);
});

describe('remote inference: slow server and cancel', () => {
  it('a slow server gets one timeout line', async () => {
    const proxy = await slowProxy(srv.url, 4000);
    try {
      const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const p = spawn(
          process.execPath,
          [BIN, 'edit-image', image, '-i', 'make it red', '--out', join(root, 'slow.png'), '--model', proxy.url],
          {
            env: { ...process.env, INSTRUCT_SCENE_REMOTE_TIMEOUT: '1' },
          },
        );
        let stderr = '';
        p.stderr.on('data', (c) => (stderr += c));
        p.once('exit', (code) => resolve({ code, stderr }));
      });
      expect(r.code).toBe(1);
      const lines = r.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toBe(
        `instruct-scene edit-image: error: ${proxy.url}/v2/models/unet/infer: no answer within 1 s; the server is busy or stuck (to wait longer: set INSTRUCT_SCENE_REMOTE_TIMEOUT=SECONDS)`,
      );
      expect(proxy.stats.unetCalls).toBe(1); // a timeout is not retried
      expect(existsSync(join(root, 'slow.png'))).toBe(false);
    } finally {
      await proxy.close();
    }
  }, 60_000);

  it('cancelling an edit aborts the call in flight (AbortSignal, and RemoteRuntime.abortAll)', async () => {
    const proxy = await slowProxy(srv.url, 5000);
    try {
      const img = createImage(32, 32, 3, 0.4);
      const pipe = await loadRemotePipeline(proxy.url);
      const ctrl = new AbortController();
      const arrived = proxy.nextUnetCall();
      const t0 = performance.now();
      const edit = pipe.edit(img, 'make it red', { steps: 4, signal: ctrl.signal });
      await arrived;
      ctrl.abort(new Error('stopped by the user'));
      await expect(edit).rejects.toThrow('stopped by the user');
      expect(performance.now() - t0).toBeLessThan(4000); // not waiting for the held call
      for (let i = 0; i < 100 && proxy.stats.clientGone < 1; i++) await new Promise((r) => setTimeout(r, 10));
      expect(proxy.stats.clientGone).toBe(1); // the HTTP request was aborted

      const rt = new RemoteRuntime(proxy.url);
      const pipe2 = await loadRemotePipeline(rt);
      const arrived2 = proxy.nextUnetCall();
      const edit2 = pipe2.edit(img, 'make it red', { steps: 4 });
      await arrived2;
      expect(rt.pending).toBe(1);
      rt.abortAll(new Error('edit cancelled'));
      await expect(edit2).rejects.toThrow('edit cancelled');
      for (let i = 0; i < 100 && proxy.stats.clientGone < 2; i++) await new Promise((r) => setTimeout(r, 10));
      expect(proxy.stats.clientGone).toBe(2);
      // the server is fine and the runtime works again
      const direct = await loadRemotePipeline(srv.url);
      expect((await direct.edit(img, 'make it red', { steps: 2 })).width).toBe(32);
    } finally {
      await proxy.close();
    }
  }, 60_000);
});
