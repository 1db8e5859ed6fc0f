import { BufferGeometry, Float32BufferAttribute, LineBasicMaterial, LineSegments } from 'three';
import type { Camera } from '../../core/camera';

/**
 * Dataset cameras as wireframe frustums (plain three.js): apex at the camera centre, the image rectangle at
 * `depth` along the view direction, and a small triangle marking "up" — like nerfstudio's camera view.
 */
export function createCameraFrustums(cams: Camera[], depth: number, color = 0xff8800): LineSegments {
  const pos: number[] = [];
  const seg = (a: number[], b: number[]) => pos.push(a[0], a[1], a[2], b[0], b[1], b[2]);
  for (const cam of cams) {
    const m = cam.c2w;
    const toWorld = (x: number, y: number, z: number) => [
      m[0] * x + m[4] * y + m[8] * z + m[12],
      m[1] * x + m[5] * y + m[9] * z + m[13],
      m[2] * x + m[6] * y + m[10] * z + m[14],
    ];
    // corners of the image at depth (OpenGL camera: −Z forward, +Y up; pixel v grows downwards)
    const corner = (u: number, v: number) => toWorld(((u - cam.cx) / cam.fx) * depth, (-(v - cam.cy) / cam.fy) * depth, -depth);
    const o = toWorld(0, 0, 0);
    const c = [corner(0, 0), corner(cam.width, 0), corner(cam.width, cam.height), corner(0, cam.height)];
    for (let i = 0; i < 4; i++) {
      seg(o, c[i]);
      seg(c[i], c[(i + 1) % 4]);
    }
    const top = corner(cam.width / 2, -0.25 * cam.height);
    seg(c[0], top);
    seg(top, c[1]);
  }
  const g = new BufferGeometry();
  g.setAttribute('position', new Float32BufferAttribute(pos, 3));
  const lines = new LineSegments(g, new LineBasicMaterial({ color }));
  lines.frustumCulled = false;
  return lines;
}
