import { describeValue, UserError } from './errors';

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

/**
 * Why a path named inside a file may not be used, or null when it may: it must be relative and stay inside
 * the folder it is resolved against (no absolute paths, drive letters, `..` that climbs out, NUL or other
 * control characters). Paths the user gives on the command line are not checked; paths a file names are,
 * so that a scene or dataset someone sends cannot make us read `/etc/passwd`, `/dev/zero` or `../../secret`.
 */
export function insidePathProblem(rel: unknown): string | null {
  if (typeof rel !== 'string') return 'must be a string';
  if (!rel) return 'is empty';
  for (let i = 0; i < rel.length; i++) {
    const c = rel.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return 'contains control characters';
  }
  if (rel.startsWith('/') || rel.startsWith('\\') || /^[a-zA-Z]:[\\/]/.test(rel) || /^[a-zA-Z]+:\/\//.test(rel))
    return 'is absolute (paths inside a file must be relative to its folder)';
  let depth = 0;
  for (const s of rel.split('/')) {
    if (s === '' || s === '.') continue;
    if (s === '..') {
      if (--depth < 0) return "leaves its folder ('..')";
    } else depth++;
  }
  if (depth === 0) return 'names the folder itself, not a file';
  return null;
}

/**
 * Resolves `rel`, a path named inside `file`, against `root`; throws a UserError naming `file` when it is
 * absolute or climbs out of `root` (see insidePathProblem). `what` names the field (`"file"`, `frame 3 file_path`).
 */
export function resolveInside(root: string, rel: unknown, what: string, file: string): string {
  const problem = insidePathProblem(rel);
  if (problem) throw new UserError(`${what} ${rel === undefined ? '' : `${describeValue(rel, 200)} `}${problem}`, file);
  return joinPath(root, rel as string);
}

/** A folder path as messages show it: exactly one trailing slash (`out/`, never `out//`). */
export function dirLabel(p: string): string {
  if (!p) return './';
  const s = p.replace(/\/+$/, '');
  return s === '' ? '/' : `${s}/`;
}
