import { describe, expect, it } from 'vitest';
import { downscaleCamera, lookAtCamera, projectPoint, rowMajorToColumnMajor, columnMajorToRowMajor } from '../src/core/camera';
import { cameraRays, distort, pixelRay, undistort } from '../src/core/rays';

describe('cameras and rays', () => {
  it('a pixel ray passes back through the pixel it came from', () => {
    const cam = lookAtCamera([1, 2, 3], [0, 0, 0], [0, 1, 0], 64, 48, 50);
    const o = new Float32Array(3),
      d = new Float32Array(3);
    for (const [px, py] of [
      [0, 0],
      [10.5, 20],
      [63, 47],
      [31, 23],
    ]) {
      pixelRay(cam, px, py, o, d, 0);
      const p = [o[0] + 2 * d[0], o[1] + 2 * d[1], o[2] + 2 * d[2]];
      const uv = projectPoint(cam, p)!;
      expect(uv[0]).toBeCloseTo(px + 0.5, 3);
      expect(uv[1]).toBeCloseTo(py + 0.5, 3);
      expect(uv[2]).toBeGreaterThan(0);
    }
  });
  it('the centre ray looks at the target (OpenGL: −Z forward, +Y up)', () => {
    const cam = lookAtCamera([0, 0, 5], [0, 0, 0], [0, 1, 0], 2, 2, 60);
    const r = cameraRays(cam);
    // pixel (0,0) is top-left: its ray points up (+y) and left (−x)
    expect(r.dirs[0]).toBeLessThan(0);
    expect(r.dirs[1]).toBeGreaterThan(0);
    expect(r.dirs[2]).toBeLessThan(0);
  });
  it('undistort inverts OPENCV distortion', () => {
    const d = { k1: 0.0146, k2: -0.0283, k3: 0.001, k4: 0, p1: 0.00015, p2: 0.0006 };
    for (const [x, y] of [
      [0.1, -0.2],
      [0.45, 0.4],
      [-0.5, 0.3],
      [0, 0],
    ]) {
      const [xd, yd] = distort(d, x, y);
      const [xu, yu] = undistort(d, xd, yd);
      expect(xu).toBeCloseTo(x, 8);
      expect(yu).toBeCloseTo(y, 8);
    }
  });
  it('downscaling scales size, focal and principal point together', () => {
    const cam = { width: 512, height: 384, fx: 500, fy: 490, cx: 256, cy: 190, c2w: new Float32Array(16) };
    const s = downscaleCamera(cam, 4);
    expect([s.width, s.height, s.fx, s.fy, s.cx, s.cy]).toEqual([128, 96, 125, 122.5, 64, 47.5]);
  });
  it('row/column-major conversions are inverse', () => {
    const m = [
      [1, 2, 3, 4],
      [5, 6, 7, 8],
      [9, 10, 11, 12],
      [0, 0, 0, 1],
    ];
    expect(columnMajorToRowMajor(rowMajorToColumnMajor(m))).toEqual(m);
  });
});
