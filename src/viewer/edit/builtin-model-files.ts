/// <reference types="vite/client" />
import { UserError } from '../../core/errors';
import type { FileSource } from '../../io/files/files';

/**
 * The built-in model (models/builtin) shipped with the app: vite turns every file into an asset URL, so it is
 * served by `npm start` and copied into the static build; read through a FileSource rooted at the model folder.
 */
const urls = import.meta.glob('../../../models/builtin/**/*', { query: '?url', import: 'default', eager: true }) as Record<string, string>;
const PREFIX = '../../../models/builtin/';

const byPath = new Map<string, string>(Object.entries(urls).map(([k, u]) => [k.slice(PREFIX.length), u]));

function norm(p: string): string {
  return p.replace(/^\.?\/+/, '').replace(/^\.$/, '');
}

export const builtinModelFiles: FileSource = {
  async read(path) {
    const u = byPath.get(norm(path));
    if (!u) throw new UserError('not part of the built-in model', `models/builtin/${norm(path)}`);
    const res = await fetch(u);
    if (!res.ok) throw new UserError(`HTTP ${res.status} ${res.statusText}`, `models/builtin/${norm(path)}`);
    return new Uint8Array(await res.arrayBuffer());
  },
  async exists(path) {
    const p = norm(path);
    if (p === '' || byPath.has(p)) return true;
    for (const k of byPath.keys()) if (k.startsWith(`${p}/`)) return true;
    return false;
  },
};
