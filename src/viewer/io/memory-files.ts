import { UserError } from '../../core/errors';
import type { FileSource } from '../../io/files/files';

/**
 * A FileSource over files the user handed to the browser (a dropped folder, a file picker, downloads):
 * paths are relative, '/'-separated, as the folder's entries name them. Works in workers (Blob is cloneable).
 */
export class MemoryFiles implements FileSource {
  private files = new Map<string, Blob | Uint8Array>();

  constructor(entries: Iterable<[string, Blob | Uint8Array]> = []) {
    for (const [p, b] of entries) this.add(p, b);
  }

  static normalize(path: string): string {
    const parts: string[] = [];
    for (const s of path.replace(/\\/g, '/').split('/')) {
      if (s === '' || s === '.') continue;
      if (s === '..') parts.pop();
      else parts.push(s);
    }
    return parts.join('/');
  }

  add(path: string, data: Blob | Uint8Array): void {
    this.files.set(MemoryFiles.normalize(path), data);
  }

  paths(): string[] {
    return [...this.files.keys()];
  }

  async read(path: string): Promise<Uint8Array> {
    const f = this.files.get(MemoryFiles.normalize(path));
    if (f === undefined) throw new UserError('file not found (was it part of what you opened?)', path);
    return f instanceof Uint8Array ? f : new Uint8Array(await f.arrayBuffer());
  }

  async exists(path: string): Promise<boolean> {
    const p = MemoryFiles.normalize(path);
    if (this.files.has(p)) return true;
    // a folder exists when some file lies under it
    const prefix = p === '' ? '' : `${p}/`;
    for (const k of this.files.keys()) if (k.startsWith(prefix)) return true;
    return false;
  }

  async size(path: string): Promise<number | null> {
    const f = this.files.get(MemoryFiles.normalize(path));
    if (f === undefined) return null;
    return f instanceof Uint8Array ? f.length : f.size;
  }
}
