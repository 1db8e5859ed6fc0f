/**
 * A FileSource over HTTP(S): model folders served from a URL (a static server, a CDN, an HF-style
 * `resolve/main/` path). Files are cached (Cache API in browsers) so a model downloads once, and downloads
 * report progress (bytes so far / total from Content-Length). Browser-safe; also works in Node (fetch).
 */
import { UserError } from '../../core/errors';
import type { FileSource } from './files';

/** The part of the browser Cache API used here (window.caches.open(name) returns one). */
export interface CacheLike {
  match(url: string): Promise<Response | undefined>;
  put(url: string, res: Response): Promise<void>;
}

export interface DownloadProgress {
  path: string;
  loaded: number;
  /** from Content-Length; null when the server does not say */
  total: number | null;
  fromCache: boolean;
}

export interface UrlFilesOptions {
  /** cache to use; default: `caches.open(cacheName)` when the Cache API exists, else none */
  cache?: CacheLike | null;
  cacheName?: string;
  onProgress?: (p: DownloadProgress) => void;
  fetch?: typeof fetch;
}

function join(base: string, path: string): string {
  if (/^[a-z]+:\/\//i.test(path)) return path;
  return base.replace(/\/+$/, '') + '/' + path.replace(/^\.?\/+/, '');
}

async function readBody(res: Response, path: string, onProgress?: (p: DownloadProgress) => void, fromCache = false): Promise<Uint8Array> {
  const len = res.headers.get('content-length');
  const total = len !== null && /^\d+$/.test(len) ? Number(len) : null;
  if (!res.body) {
    const b = new Uint8Array(await res.arrayBuffer());
    onProgress?.({ path, loaded: b.length, total: total ?? b.length, fromCache });
    return b;
  }
  const reader = res.body.getReader();
  // With a known length, write into one buffer (no second copy of a 1.7 GB UNet).
  const whole = total !== null ? new Uint8Array(total) : null;
  const chunks: Uint8Array[] = [];
  let loaded = 0;
  onProgress?.({ path, loaded: 0, total, fromCache });
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (whole) {
      if (loaded + value.length > whole.length) throw new UserError(`server sent more than its Content-Length (${total} bytes)`, path);
      whole.set(value, loaded);
    } else chunks.push(value);
    loaded += value.length;
    onProgress?.({ path, loaded, total, fromCache });
  }
  if (total !== null && loaded !== total) throw new UserError(`download ended after ${loaded} of ${total} bytes`, path);
  if (whole) return whole;
  const out = new Uint8Array(loaded);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

/**
 * A FileSource reading `baseUrl/<path>` (paths given to it are relative to baseUrl, or absolute URLs).
 * Use with the pipeline: `InstructPix2Pix.load('.', urlFiles('https://host/models/ip2p'), await webRuntime())`.
 */
export function urlFiles(baseUrl: string, opts: UrlFilesOptions = {}): FileSource & { clearCache(): Promise<void> } {
  const f = opts.fetch ?? fetch;
  let cachePromise: Promise<CacheLike | null> | null = null;
  const cacheName = opts.cacheName ?? 'instruct-scene-models';
  const getCache = (): Promise<CacheLike | null> => {
    if (opts.cache !== undefined) return Promise.resolve(opts.cache);
    const g = globalThis as { caches?: { open(n: string): Promise<CacheLike> } };
    cachePromise ??= g.caches ? g.caches.open(cacheName).catch(() => null) : Promise.resolve(null);
    return cachePromise;
  };
  const get = async (path: string, method: 'GET' | 'HEAD'): Promise<Response> => {
    const url = join(baseUrl, path);
    try {
      return await f(url, { method });
    } catch (e) {
      throw new UserError(`cannot fetch (${(e as Error).message}); check the URL and that the server allows this origin (CORS)`, url);
    }
  };
  return {
    async read(path) {
      const url = join(baseUrl, path);
      const cache = await getCache();
      const hit = cache ? await cache.match(url) : undefined;
      if (hit) return readBody(hit, path, opts.onProgress, true);
      const res = await get(path, 'GET');
      if (res.status === 404) throw new UserError('no such file (HTTP 404)', url);
      if (!res.ok) throw new UserError(`HTTP ${res.status} ${res.statusText}`, url);
      if (cache) {
        // Store a copy; reading the body once for the caller and once for the cache.
        const bytes = await readBody(res, path, opts.onProgress);
        const headers = new Headers({
          'content-length': String(bytes.length),
          'content-type': res.headers.get('content-type') ?? 'application/octet-stream',
        });
        await cache.put(url, new Response(bytes as Uint8Array<ArrayBuffer>, { headers })).catch(() => undefined); // a full quota must not fail the load
        return bytes;
      }
      return readBody(res, path, opts.onProgress);
    },
    async exists(path) {
      const url = join(baseUrl, path);
      const cache = await getCache();
      if (cache && (await cache.match(url))) return true;
      const res = await get(path, 'HEAD');
      return res.ok;
    },
    async size(path) {
      const url = join(baseUrl, path);
      const cache = await getCache();
      const hit = cache ? await cache.match(url) : undefined;
      const res = hit ?? (await get(path, 'HEAD'));
      if (!res.ok) return null;
      const len = res.headers.get('content-length');
      return len !== null && /^\d+$/.test(len) ? Number(len) : null;
    },
    async clearCache() {
      const g = globalThis as { caches?: { delete(n: string): Promise<boolean> } };
      cachePromise = null;
      if (opts.cache === undefined && g.caches) await g.caches.delete(cacheName);
    },
  };
}
