import type { Camera } from '../../src/core/camera';

/**
 * Writes COLMAP sparse models (cameras, images, points3D; .bin or .txt) from the project's cameras, for tests:
 * the project itself writes nothing in COLMAP format. Poses go from camera-to-world (OpenGL axes) to COLMAP's
 * world→camera (OpenCV axes), the inverse of what the reader does.
 */
export interface ColmapCameraSpec {
  model: 'PINHOLE' | 'SIMPLE_PINHOLE' | 'SIMPLE_RADIAL' | 'RADIAL' | 'OPENCV' | 'OPENCV_FISHEYE';
  params: number[];
}
const MODEL_ID = { SIMPLE_PINHOLE: 0, PINHOLE: 1, SIMPLE_RADIAL: 2, RADIAL: 3, OPENCV: 4, OPENCV_FISHEYE: 5 };

/** World→camera rotation quaternion (w, x, y, z) and translation of a camera-to-world matrix (OpenGL axes). */
export function worldToCamera(c2w: ArrayLike<number>): { q: number[]; t: number[] } {
  // OpenGL → OpenCV camera axes: negate the y and z columns of the camera-to-world rotation
  const Rc = [0, 1, 2].map((row) => [0, 1, 2].map((col) => c2w[col * 4 + row] * (col === 0 ? 1 : -1)));
  const R = [0, 1, 2].map((r) => [0, 1, 2].map((c) => Rc[c][r])); // world→camera = transpose
  const C = [c2w[12], c2w[13], c2w[14]];
  const t = [0, 1, 2].map((r) => -(R[r][0] * C[0] + R[r][1] * C[1] + R[r][2] * C[2]));
  const tr = R[0][0] + R[1][1] + R[2][2];
  let w: number, x: number, y: number, z: number;
  if (tr > 0) {
    const s = Math.sqrt(tr + 1) * 2;
    w = s / 4;
    x = (R[2][1] - R[1][2]) / s;
    y = (R[0][2] - R[2][0]) / s;
    z = (R[1][0] - R[0][1]) / s;
  } else if (R[0][0] > R[1][1] && R[0][0] > R[2][2]) {
    const s = Math.sqrt(1 + R[0][0] - R[1][1] - R[2][2]) * 2;
    w = (R[2][1] - R[1][2]) / s;
    x = s / 4;
    y = (R[0][1] + R[1][0]) / s;
    z = (R[0][2] + R[2][0]) / s;
  } else if (R[1][1] > R[2][2]) {
    const s = Math.sqrt(1 + R[1][1] - R[0][0] - R[2][2]) * 2;
    w = (R[0][2] - R[2][0]) / s;
    x = (R[0][1] + R[1][0]) / s;
    y = s / 4;
    z = (R[1][2] + R[2][1]) / s;
  } else {
    const s = Math.sqrt(1 + R[2][2] - R[0][0] - R[1][1]) * 2;
    w = (R[1][0] - R[0][1]) / s;
    x = (R[0][2] + R[2][0]) / s;
    y = (R[1][2] + R[2][1]) / s;
    z = s / 4;
  }
  return { q: [w, x, y, z], t };
}

class Bin {
  parts: number[] = [];
  private buf = new DataView(new ArrayBuffer(8));
  u64(v: number) {
    this.buf.setBigUint64(0, BigInt(v), true);
    for (let i = 0; i < 8; i++) this.parts.push(this.buf.getUint8(i));
  }
  i32(v: number) {
    this.buf.setInt32(0, v, true);
    for (let i = 0; i < 4; i++) this.parts.push(this.buf.getUint8(i));
  }
  f64(v: number) {
    this.buf.setFloat64(0, v, true);
    for (let i = 0; i < 8; i++) this.parts.push(this.buf.getUint8(i));
  }
  u8(v: number) {
    this.parts.push(v & 255);
  }
  str(s: string) {
    for (const b of new TextEncoder().encode(s)) this.parts.push(b);
    this.parts.push(0);
  }
  bytes() {
    return new Uint8Array(this.parts);
  }
}

/** cameras / images / points3D files (name → bytes) for one shared camera and the given poses and names. */
export function colmapModel(
  cams: Camera[],
  names: string[],
  spec: ColmapCameraSpec,
  points: { xyz: ArrayLike<number>; rgb: ArrayLike<number> },
  format: 'bin' | 'txt',
): Record<string, Uint8Array> {
  const { width, height } = cams[0];
  const n = points.xyz.length / 3;
  const poses = cams.map((c) => worldToCamera(c.c2w));
  if (format === 'txt') {
    const enc = (s: string) => new TextEncoder().encode(s);
    const cameras = `# Camera list\n1 ${spec.model} ${width} ${height} ${spec.params.join(' ')}\n`;
    let images = '# Image list with two lines of data per image:\n';
    poses.forEach((p, i) => (images += `${i + 1} ${p.q.join(' ')} ${p.t.join(' ')} 1 ${names[i]}\n\n`));
    let pts = '# 3D point list\n';
    for (let i = 0; i < n; i++)
      pts += `${i + 1} ${points.xyz[3 * i]} ${points.xyz[3 * i + 1]} ${points.xyz[3 * i + 2]} ${[0, 1, 2].map((a) => Math.round(points.rgb[3 * i + a] * 255)).join(' ')} 0.5 1 0\n`;
    return { 'cameras.txt': enc(cameras), 'images.txt': enc(images), 'points3D.txt': enc(pts) };
  }
  const c = new Bin();
  c.u64(1);
  c.i32(1);
  c.i32(MODEL_ID[spec.model]);
  c.u64(width);
  c.u64(height);
  for (const v of spec.params) c.f64(v);
  const im = new Bin();
  im.u64(cams.length);
  poses.forEach((p, i) => {
    im.i32(i + 1);
    p.q.forEach((v) => im.f64(v));
    p.t.forEach((v) => im.f64(v));
    im.i32(1);
    im.str(names[i]);
    im.u64(1); // one 2D point, as real models have
    im.f64(1);
    im.f64(2);
    im.u64(0);
  });
  const pt = new Bin();
  pt.u64(n);
  for (let i = 0; i < n; i++) {
    pt.u64(i + 1);
    for (let a = 0; a < 3; a++) pt.f64(points.xyz[3 * i + a]);
    for (let a = 0; a < 3; a++) pt.u8(Math.round(points.rgb[3 * i + a] * 255));
    pt.f64(0.5);
    pt.u64(1);
    pt.i32(1);
    pt.i32(0);
  }
  return { 'cameras.bin': c.bytes(), 'images.bin': im.bytes(), 'points3D.bin': pt.bytes() };
}
