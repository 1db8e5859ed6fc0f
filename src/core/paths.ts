/** POSIX-style path helpers usable in the browser and Node (no `path` module in platform-neutral code). */
export function joinPath(...parts: string[]): string {
  const segs: string[] = [];
  let abs = false;
  parts.forEach((p, i) => {
    if (!p) return;
    if (p.startsWith('/')) {
      segs.length = 0;
      abs = true;
    } else if (i === 0) abs = false;
    for (const s of p.split('/')) {
      if (s === '' || s === '.') continue;
      if (s === '..' && segs.length && segs[segs.length - 1] !== '..') segs.pop();
      else segs.push(s);
    }
  });
  return (abs ? '/' : '') + segs.join('/') || (abs ? '/' : '.');
}
export function dirname(p: string): string {
  const i = p.replace(/\/+$/, '').lastIndexOf('/');
  return i < 0 ? '.' : i === 0 ? '/' : p.slice(0, i);
}
export function basename(p: string): string {
  const s = p.replace(/\/+$/, '');
  return s.slice(s.lastIndexOf('/') + 1);
}
export function extname(p: string): string {
  const b = basename(p);
  const i = b.lastIndexOf('.');
  return i <= 0 ? '' : b.slice(i).toLowerCase();
}

/** A folder path as messages show it: exactly one trailing slash (`out/`, never `out//`). */
export function dirLabel(p: string): string {
  if (!p) return './';
  const s = p.replace(/\/+$/, '');
  return s === '' ? '/' : `${s}/`;
}
