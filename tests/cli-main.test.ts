import { describe, expect, it } from 'vitest';
import { cli } from './helpers/cli';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

describe('instruct-scene CLI', () => {
  it('lists commands with --help and rejects unknown ones in one line', () => {
    const h = cli(['--help']);
    expect(h.code).toBe(0);
    expect(h.stdout).toMatch(/demo-data/);
    const u = cli(['frobnicate']);
    expect(u.code).not.toBe(0);
    expect(u.stderr.trim().split('\n')).toHaveLength(1);
    expect(u.stderr).toMatch(/unknown command 'frobnicate'/);
  });
  it('demo-data writes a deterministic nerfstudio dataset with objects.json', () => {
    const a = mkdtempSync(join(tmpdir(), 'is-demo-a-')),
      b = mkdtempSync(join(tmpdir(), 'is-demo-b-'));
    for (const d of [a, b]) expect(cli(['demo-data', '--out', d, '--size', '24', '--views', '16', '--seed', '3']).code).toBe(0);
    const t = JSON.parse(readFileSync(join(a, 'transforms.json'), 'utf8'));
    expect(t.frames).toHaveLength(16);
    expect(t.w).toBe(24);
    expect(readFileSync(join(a, 'images/frame_00007.png'))).toEqual(readFileSync(join(b, 'images/frame_00007.png')));
    const objs = JSON.parse(readFileSync(join(a, 'objects.json'), 'utf8'));
    expect(objs.length).toBeGreaterThanOrEqual(3);
    for (const o of objs) for (let k = 0; k < 3; k++) expect(o.max[k]).toBeGreaterThan(o.min[k]);
  });
  it('bad flags give one line and a non-zero exit', () => {
    const r = cli(['demo-data', '--out', join(tmpdir(), 'x'), '--size', 'huge']);
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/--size must be an integer/);
    expect(existsSync(join(tmpdir(), 'x', 'transforms.json'))).toBe(false);
    const m = cli(['demo-data']);
    expect(m.stderr).toMatch(/--out is required/);
  });
});
