import { UserError } from '../../../core/errors';
import type { Component } from '../model-contract';

/**
 * A model server URL as `--model` takes it: `http(s)://HOST:PORT[/BASE…][/PREFIX]`. The last path segment is the
 * model-name prefix of servers that host several pipelines (`PREFIX_unet`, …; `serve --model-prefix PREFIX`);
 * a URL that ends in `/` has none, so `https://host/triton/` reaches a server behind a proxy path. A trailing `/v2`
 * is taken for the protocol root and dropped.
 */
export interface ModelServerUrl {
  /** as given */
  url: string;
  /** the server's root, without `/v2` and without a trailing slash */
  base: string;
  prefix: string;
}

export function isModelUrl(s: string): boolean {
  return /^https?:\/\//i.test(s.trim());
}

export function parseModelUrl(s: string): ModelServerUrl {
  const url = s.trim();
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UserError('not a valid server URL (expected http(s)://HOST:PORT[/PREFIX])', url);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new UserError('a model server URL starts with http:// or https://', url);
  if (u.search || u.hash) throw new UserError('a model server URL takes no query (?…) or fragment (#…)', url);
  const segs = u.pathname.split('/').map(decodeURIComponent);
  const trailingSlash = u.pathname.endsWith('/');
  const parts = segs.filter(Boolean);
  const v2 = parts.indexOf('v2');
  if (v2 >= 0 && v2 < parts.length - 1)
    throw new UserError(`give the server's URL, not an endpoint's (e.g. ${u.origin}${v2 ? '/' + parts.slice(0, v2).join('/') : ''})`, url);
  let prefix = '';
  if (v2 === parts.length - 1) parts.pop();
  else if (!trailingSlash && parts.length) prefix = parts.pop()!;
  if (prefix && !/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(prefix))
    throw new UserError(`'${prefix}' is not a model-name prefix (letters, digits, '_', '.', '-')`, url);
  const base = `${u.origin}${parts.length ? '/' + parts.map(encodeURIComponent).join('/') : ''}`;
  return { url, base, prefix };
}

/** The server's name of a pipeline model: `unet`, or `PREFIX_unet`. */
export function serverModelName(prefix: string, model: Component | string): string {
  return prefix ? `${prefix}_${model}` : model;
}
