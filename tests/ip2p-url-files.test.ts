import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import { join, normalize } from 'node:path';
import type { AddressInfo } from 'node:net';
import * as ortWeb from 'onnxruntime-web';
import { createImage } from '../src/core/image';
import { UserError } from '../src/core/errors';
import { urlFiles, type CacheLike, type DownloadProgress } from '../src/io/files/url-files';
import { webRuntime } from '../src/edit/diffusion/ort-web';
import { InstructPix2Pix } from '../src/edit/diffusion/pipeline';
import type { OrtModule } from '../src/edit/diffusion/runtime';

const ROOT = join(__dirname, '../models');
let server: Server;
let base = '';
const requests: string[] = [];

beforeAll(async () => {
  server = createServer(async (req, res) => {
    requests.push(`${req.method} ${req.url}`);
    const p = normalize(join(ROOT, decodeURIComponent(new URL(req.url!, 'http://x').pathname)));
    if (!p.startsWith(ROOT)) return res.writeHead(403).end();
    try {
      const b = await readFile(p);
      res.writeHead(200, { 'content-length': b.length, 'content-type': 'application/octet-stream' });
      res.end(req.method === 'HEAD' ? undefined : b);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

/** An in-memory stand-in for the browser's Cache API (Node has none); the real one is used in browsers. */
class MemoryCache implements CacheLike {
  store = new Map<string, { body: Uint8Array; headers: [string, string][] }>();
  async match(url: string) {
    const e = this.store.get(url);
    return e ? new Response(e.body as Uint8Array<ArrayBuffer>, { headers: e.headers }) : undefined;
  }
  async put(url: string, res: Response) {
    this.store.set(url, { body: new Uint8Array(await res.arrayBuffer()), headers: [...res.headers] });
  }
}

describe('model folder from a URL', () => {
  it('loads the built-in model over HTTP into the web runtime, with progress, then from the cache', async () => {
    const cache = new MemoryCache();
    const events: DownloadProgress[] = [];
    const files = urlFiles(`${base}/builtin`, { cache, onProgress: (p) => events.push(p) });
    const rt = await webRuntime({ ort: ortWeb as unknown as OrtModule });
    const p = await InstructPix2Pix.load('.', files, rt);
    const img = createImage(16, 16, 3, 0.5);
    const out = await p.edit(img, 'make it red', { steps: 3 });
    expect(out.data[0]).toBeGreaterThan(out.data[1] + 0.3);
    await p.dispose();
    const unet = events.filter((e) => e.path.endsWith('unet/model.onnx'));
    expect(unet.length).toBeGreaterThan(0);
    const last = unet[unet.length - 1];
    expect(last.loaded).toBe(last.total);
    expect(last.fromCache).toBe(false);
    const gets = requests.filter((r) => r.startsWith('GET')).length;
    expect(gets).toBeGreaterThanOrEqual(8);
    // second load: everything from the cache, no GETs
    events.length = 0;
    const p2 = await InstructPix2Pix.load('.', urlFiles(`${base}/builtin`, { cache, onProgress: (e) => events.push(e) }), rt);
    await p2.dispose();
    expect(requests.filter((r) => r.startsWith('GET')).length).toBe(gets);
    expect(events.every((e) => e.fromCache)).toBe(true);
  });

  it('a missing file or a wrong URL is one clear error', async () => {
    const files = urlFiles(`${base}/nothing-here`, { cache: null });
    expect(await files.exists('unet/model.onnx')).toBe(false);
    const err = await files.read('unet/model.onnx').catch((e) => e);
    expect(err).toBeInstanceOf(UserError);
    expect(err.message).toMatch(/nothing-here\/unet\/model.onnx: no such file \(HTTP 404\)/);
    const bad = await urlFiles('http://127.0.0.1:1/x', { cache: null })
      .read('a')
      .catch((e) => e);
    expect(bad).toBeInstanceOf(UserError);
    expect(bad.message).toMatch(/cannot fetch/);
  });
});
