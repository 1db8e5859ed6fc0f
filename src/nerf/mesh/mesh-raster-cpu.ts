import type { Camera } from '../../core/camera';
import { faceAdjacency, faceNormal } from './mesh';

/**
 * Differentiable triangle rasteriser, CPU twin of the WGSL kernels (docs/mesh-stylisation.md):
 *
 *   CPU function         kernel entry point (file)
 *   projectVertices   ↔  project_vertices   (mesh_project.wgsl)
 *   shadeFaces        ↔  shade_faces        (mesh_project.wgsl)
 *   rasterDepth       ↔  raster_depth       (mesh_raster.wgsl)
 *   rasterResolve     ↔  raster_resolve     (mesh_raster.wgsl)
 *   rasterShade       ↔  raster_shade       (mesh_raster.wgsl)
 *   aaPair, antialias ↔  aa_pair, antialias (mesh_antialias.wgsl)
 *   antialiasBackward ↔  antialias_backward (mesh_antialias.wgsl)
 *   rasterBackward    ↔  raster_backward    (mesh_raster_backward.wgsl)
 *   shadeBackward     ↔  shade_backward     (mesh_project_backward.wgsl)
 *   projectBackward   ↔  project_backward   (mesh_project_backward.wgsl)
 *
 * Forward: vertices are projected with the pinhole camera (OpenGL axes, pixel centres at +0.5); each pixel
 * centre takes the nearest triangle covering it (z-buffer; ties to the lower face index), its colour is the
 * perspective-correct barycentric interpolation of the vertex colours times the face's shading, and background
 * elsewhere. Triangles with a vertex closer than NEAR to the camera plane are not drawn (no clipping).
 *
 * Shading: first-order spherical-harmonic lighting of the face normal (an ambient term plus one linear in the
 * normal, the form of Text2Mesh's default lights) with the light fixed to the camera, so every view shows the
 * geometry the same way: s = AMBIENT + DIFFUSE·(n·l), n the face normal turned towards the camera (both sides
 * of a face are drawn), l the camera-space light direction LIGHT. s ∈ [0.3, 1].
 *
 * Edges: analytic antialiasing on silhouette and occlusion edges (the approach of nvdiffrast, Laine et al.
 * 2020; docs/mesh-stylisation.md says why rather than a soft rasteriser): for each pair of horizontally or
 * vertically adjacent pixels showing different surfaces, the front pixel's surface is walked face to face along
 * the segment to the back pixel's centre until it leaves through a silhouette edge (a boundary, or a neighbour
 * facing the other way; edges inside a surface are crossed). That edge crosses the segment at t ∈ [0, 1] (from
 * the front pixel); if t > ½ the back pixel is blended towards the front colour by t − ½, else the front pixel
 * towards the back colour by ½ − t. Each edge is handled along one axis only (horizontal pairs take edges steeper
 * than 45°, vertical pairs the flatter ones), so the 1D crossing approximates the pixel's area coverage. The blend
 * weights depend continuously on the edge's vertices: the silhouette gradients with respect to vertex positions.
 * Alpha (coverage) is blended the same way.
 *
 * Backward: gradients of a loss on the output RGB with respect to vertex colours and world positions (through
 * the antialiasing weights, the barycentric interpolation, the projection and the face normals).
 */

export const NEAR = 1e-4;
export const AMBIENT = 0.65;
export const DIFFUSE = 0.35;
/** Camera-space light direction (x right, y up, z towards the viewer): from the upper left, in front. */
export const LIGHT: readonly [number, number, number] = (() => {
  const l = [-0.4, 0.6, 0.7];
  const n = Math.hypot(l[0], l[1], l[2]);
  return [l[0] / n, l[1] / n, l[2] / n] as [number, number, number];
})();

export interface MeshRasterInput {
  /** World positions, 3 per vertex. */
  positions: Float32Array;
  /** RGB per vertex. */
  colors: Float32Array;
  indices: Uint32Array;
  /** Face adjacency (`faceAdjacency`); computed when absent. */
  adjacency?: Int32Array;
}

/** Everything the backward pass needs from the forward pass (and what a render yields). */
export interface MeshRasterState {
  cam: Camera;
  background: [number, number, number];
  /** Per vertex: u, v (pixels), d (depth along the view axis; < NEAR = not drawn), w = 1/d. */
  screen: Float32Array;
  /** Per face: shading s and the sign σ that turned the normal towards the camera. */
  faceShade: Float32Array;
  faceSign: Float32Array;
  /** Per pixel: nearest face (−1 = background) and its depth (+∞ for background). */
  faceId: Int32Array;
  depth: Float32Array;
  /** Per pixel before antialiasing: RGB + coverage. */
  pre: Float32Array;
  /** Output RGB (3 per pixel) and alpha. */
  image: Float32Array;
  alpha: Float32Array;
  adjacency: Int32Array;
}

export interface MeshRasterGrads {
  /** ∂L/∂colour, 3 per vertex. */
  colors: Float32Array;
  /** ∂L/∂position (world), 3 per vertex. */
  positions: Float32Array;
}

/** World → camera axes of a camera: the columns of c2w's rotation, and its centre. */
export function cameraFrame(cam: Camera): { ax: number[]; ay: number[]; az: number[]; o: number[] } {
  const m = cam.c2w;
  return { ax: [m[0], m[1], m[2]], ay: [m[4], m[5], m[6]], az: [m[8], m[9], m[10]], o: [m[12], m[13], m[14]] };
}

/** The light direction in world coordinates for a camera. */
export function worldLight(cam: Camera): [number, number, number] {
  const { ax, ay, az } = cameraFrame(cam);
  const [lx, ly, lz] = LIGHT;
  return [ax[0] * lx + ay[0] * ly + az[0] * lz, ax[1] * lx + ay[1] * ly + az[1] * lz, ax[2] * lx + ay[2] * ly + az[2] * lz];
}

export function projectVertices(positions: Float32Array, cam: Camera, screen = new Float32Array((positions.length / 3) * 4)): Float32Array {
  const { ax, ay, az, o } = cameraFrame(cam);
  const n = positions.length / 3;
  for (let i = 0; i < n; i++) {
    const dx = positions[3 * i] - o[0],
      dy = positions[3 * i + 1] - o[1],
      dz = positions[3 * i + 2] - o[2];
    const xc = dx * ax[0] + dy * ax[1] + dz * ax[2];
    const yc = dx * ay[0] + dy * ay[1] + dz * ay[2];
    const zc = dx * az[0] + dy * az[1] + dz * az[2];
    const d = -zc;
    if (d < NEAR) {
      screen.set([0, 0, d, 0], 4 * i);
      continue;
    }
    screen[4 * i] = cam.cx + (cam.fx * xc) / d;
    screen[4 * i + 1] = cam.cy - (cam.fy * yc) / d;
    screen[4 * i + 2] = d;
    screen[4 * i + 3] = 1 / d;
  }
  return screen;
}

export function shadeFaces(
  positions: Float32Array,
  indices: Uint32Array,
  cam: Camera,
  shade = new Float32Array(indices.length / 3),
  sign = new Float32Array(indices.length / 3),
): { shade: Float32Array; sign: Float32Array } {
  const o = cameraFrame(cam).o;
  const l = worldLight(cam);
  const p = positions;
  const fn = new Float64Array(3);
  for (let f = 0; f < indices.length / 3; f++) {
    const a = 3 * indices[3 * f],
      b = 3 * indices[3 * f + 1],
      c = 3 * indices[3 * f + 2];
    faceNormal(p, a, b, c, fn);
    const mx = fn[0],
      my = fn[1],
      mz = fn[2];
    const len = Math.hypot(mx, my, mz);
    if (!(len > 0)) {
      shade[f] = AMBIENT;
      sign[f] = 0;
      continue;
    }
    const vx = o[0] - (p[a] + p[b] + p[c]) / 3,
      vy = o[1] - (p[a + 1] + p[b + 1] + p[c + 1]) / 3,
      vz = o[2] - (p[a + 2] + p[b + 2] + p[c + 2]) / 3;
    const s = mx * vx + my * vy + mz * vz >= 0 ? 1 : -1;
    shade[f] = AMBIENT + (DIFFUSE * s * (mx * l[0] + my * l[1] + mz * l[2])) / len;
    sign[f] = s;
  }
  return { shade, sign };
}

/** Edge function of the directed edge a→b at point (x, y): twice the signed area of (a, b, p). */
function edge(ax: number, ay: number, bx: number, by: number, x: number, y: number): number {
  return (bx - ax) * (y - ay) - (by - ay) * (x - ax);
}

/** Pixel bounds [x0, x1] × [y0, y1] of the centres a screen triangle may cover, or null when none / not drawn. */
function faceBounds(screen: Float32Array, i0: number, i1: number, i2: number, W: number, H: number): number[] | null {
  if (screen[4 * i0 + 2] < NEAR || screen[4 * i1 + 2] < NEAR || screen[4 * i2 + 2] < NEAR) return null;
  const u0 = screen[4 * i0],
    u1 = screen[4 * i1],
    u2 = screen[4 * i2];
  const v0 = screen[4 * i0 + 1],
    v1 = screen[4 * i1 + 1],
    v2 = screen[4 * i2 + 1];
  const x0 = Math.max(0, Math.ceil(Math.min(u0, u1, u2) - 0.5)),
    x1 = Math.min(W - 1, Math.floor(Math.max(u0, u1, u2) - 0.5));
  const y0 = Math.max(0, Math.ceil(Math.min(v0, v1, v2) - 0.5)),
    y1 = Math.min(H - 1, Math.floor(Math.max(v0, v1, v2) - 0.5));
  if (x0 > x1 || y0 > y1) return null;
  const area = edge(u0, v0, u1, v1, u2, v2);
  if (Math.abs(area) < 1e-12) return null;
  return [x0, x1, y0, y1];
}

/**
 * Barycentrics of pixel centre (x, y) in a face: screen-space λ (edge functions / area) and perspective-correct
 * b = λ·w / Σλw. Returns false when the centre is outside, unless `unchecked` (pixels the resolve pass assigned
 * are inside up to rounding).
 */
function baryAt(
  screen: Float32Array,
  i0: number,
  i1: number,
  i2: number,
  x: number,
  y: number,
  out: Float64Array,
  unchecked = false,
): boolean {
  const u0 = screen[4 * i0],
    v0 = screen[4 * i0 + 1],
    u1 = screen[4 * i1],
    v1 = screen[4 * i1 + 1],
    u2 = screen[4 * i2],
    v2 = screen[4 * i2 + 1];
  const area = edge(u0, v0, u1, v1, u2, v2);
  const l0 = edge(u1, v1, u2, v2, x, y) / area,
    l1 = edge(u2, v2, u0, v0, x, y) / area,
    l2 = edge(u0, v0, u1, v1, x, y) / area;
  if (!unchecked && (l0 < 0 || l1 < 0 || l2 < 0)) return false;
  const w0 = screen[4 * i0 + 3],
    w1 = screen[4 * i1 + 3],
    w2 = screen[4 * i2 + 3];
  const S = l0 * w0 + l1 * w1 + l2 * w2;
  out[0] = l0;
  out[1] = l1;
  out[2] = l2;
  out[3] = (l0 * w0) / S;
  out[4] = (l1 * w1) / S;
  out[5] = (l2 * w2) / S;
  out[6] = 1 / S; // depth
  out[7] = area;
  return true;
}

/** Pass 1: the nearest depth per pixel (the kernel keeps it as an atomicMin of the f32 bit pattern). */
export function rasterDepth(
  screen: Float32Array,
  indices: Uint32Array,
  W: number,
  H: number,
  depth = new Float32Array(W * H),
): Float32Array {
  depth.fill(Infinity);
  const bc = new Float64Array(8);
  for (let f = 0; f < indices.length / 3; f++) {
    const i0 = indices[3 * f],
      i1 = indices[3 * f + 1],
      i2 = indices[3 * f + 2];
    const bb = faceBounds(screen, i0, i1, i2, W, H);
    if (!bb) continue;
    for (let y = bb[2]; y <= bb[3]; y++)
      for (let x = bb[0]; x <= bb[1]; x++) {
        if (!baryAt(screen, i0, i1, i2, x + 0.5, y + 0.5, bc)) continue;
        const z = Math.fround(bc[6]);
        const p = y * W + x;
        if (z < depth[p]) depth[p] = z;
      }
  }
  return depth;
}

/** Pass 2: the lowest-index face whose depth equals the pixel's nearest depth. */
export function rasterResolve(
  screen: Float32Array,
  indices: Uint32Array,
  depth: Float32Array,
  W: number,
  H: number,
  faceId = new Int32Array(W * H),
): Int32Array {
  faceId.fill(-1);
  const bc = new Float64Array(8);
  for (let f = 0; f < indices.length / 3; f++) {
    const i0 = indices[3 * f],
      i1 = indices[3 * f + 1],
      i2 = indices[3 * f + 2];
    const bb = faceBounds(screen, i0, i1, i2, W, H);
    if (!bb) continue;
    for (let y = bb[2]; y <= bb[3]; y++)
      for (let x = bb[0]; x <= bb[1]; x++) {
        if (!baryAt(screen, i0, i1, i2, x + 0.5, y + 0.5, bc)) continue;
        const p = y * W + x;
        if (Math.fround(bc[6]) === depth[p] && faceId[p] < 0) faceId[p] = f;
      }
  }
  return faceId;
}

/** Pass 3: per pixel, the shaded interpolated colour (or the background) and coverage, before antialiasing. */
export function rasterShade(
  screen: Float32Array,
  indices: Uint32Array,
  colors: Float32Array,
  faceShade: Float32Array,
  faceId: Int32Array,
  W: number,
  H: number,
  background: readonly number[],
  pre = new Float32Array(W * H * 4),
): Float32Array {
  const bc = new Float64Array(8);
  for (let p = 0; p < W * H; p++) {
    const f = faceId[p];
    if (f < 0) {
      pre[4 * p] = background[0];
      pre[4 * p + 1] = background[1];
      pre[4 * p + 2] = background[2];
      pre[4 * p + 3] = 0;
      continue;
    }
    const i0 = indices[3 * f],
      i1 = indices[3 * f + 1],
      i2 = indices[3 * f + 2];
    const x = p % W,
      y = (p - x) / W;
    baryAt(screen, i0, i1, i2, x + 0.5, y + 0.5, bc, true);
    const s = faceShade[f];
    for (let c = 0; c < 3; c++) pre[4 * p + c] = s * (bc[3] * colors[3 * i0 + c] + bc[4] * colors[3 * i1 + c] + bc[5] * colors[3 * i2 + c]);
    pre[4 * p + 3] = 1;
  }
  return pre;
}

/** One antialiasing pair's decision (see the module comment). */
export interface AaPair {
  /** Pixel blended, and the pixel whose colour it is blended towards. */
  target: number;
  source: number;
  /** Blend weight (t − ½ or ½ − t) and ∂weight/∂t (±1). */
  weight: number;
  dWdt: number;
  /** The crossing edge: its vertices a, b, the front / back pixel centres, s = sign(area)·E at each, sign(area). */
  a: number;
  b: number;
  front: number;
  back: number;
  sF: number;
  sB: number;
  sgn: number;
}

/** Most faces a silhouette search walks through between two pixel centres. */
export const MAX_WALK = 64;

/**
 * The decision for the adjacent pixels p < q (a canonical order, so both pixels' threads agree). The front
 * pixel's surface is walked along the segment to the back pixel's centre, face to face across shared edges, until
 * it leaves through a silhouette edge (a boundary, or a neighbour facing the other way). Returns null when the
 * pixels show the same face, when the walk reaches the back pixel's centre without leaving the surface (an inside
 * edge), when it takes more than MAX_WALK faces, or when the edge belongs to the other axis.
 */
export function aaPair(
  p: number,
  q: number,
  W: number,
  screen: Float32Array,
  indices: Uint32Array,
  adjacency: Int32Array,
  faceSign: Float32Array,
  faceId: Int32Array,
  depth: Float32Array,
): AaPair | null {
  const fp = faceId[p],
    fq = faceId[q];
  if (fp === fq) return null;
  let front: number;
  if (fq < 0) front = p;
  else if (fp < 0) front = q;
  else front = depth[p] < depth[q] || (depth[p] === depth[q] && fp < fq) ? p : q;
  const back = front === p ? q : p;
  const fx = (front % W) + 0.5,
    fy = Math.floor(front / W) + 0.5,
    bx = (back % W) + 0.5,
    by = Math.floor(back / W) + 0.5;
  let cur = faceId[front],
    enteredFrom = -1;
  for (let step = 0; step < MAX_WALK; step++) {
    const i0 = indices[3 * cur],
      i1 = indices[3 * cur + 1],
      i2 = indices[3 * cur + 2];
    const area = edge(screen[4 * i0], screen[4 * i0 + 1], screen[4 * i1], screen[4 * i1 + 1], screen[4 * i2], screen[4 * i2 + 1]);
    const sgn = area >= 0 ? 1 : -1;
    let best = -1,
      bestT = Infinity,
      bestF = 0,
      bestB = 0;
    for (let k = 0; k < 3; k++) {
      const nb = adjacency[3 * cur + k];
      if (nb >= 0 && nb === enteredFrom) continue;
      const a = indices[3 * cur + ((k + 1) % 3)],
        b = indices[3 * cur + ((k + 2) % 3)];
      const ua = screen[4 * a],
        va = screen[4 * a + 1],
        ub = screen[4 * b],
        vb = screen[4 * b + 1];
      const sF = sgn * edge(ua, va, ub, vb, fx, fy),
        sB = sgn * edge(ua, va, ub, vb, bx, by);
      if (!(sB < 0) || !(sF >= 0)) continue;
      const t = sF / (sF - sB);
      if (t < bestT) {
        bestT = t;
        best = k;
        bestF = sF;
        bestB = sB;
      }
    }
    if (best < 0) return null; // the back pixel's centre is on this surface: no silhouette between them
    const nb = adjacency[3 * cur + best];
    if (nb >= 0 && faceSign[nb] !== 0 && faceSign[nb] === faceSign[cur]) {
      enteredFrom = cur;
      cur = nb;
      continue;
    }
    const a = indices[3 * cur + ((best + 1) % 3)],
      b = indices[3 * cur + ((best + 2) % 3)];
    // each edge is antialiased along one axis only: horizontal pairs take edges steeper than 45°, vertical pairs the others
    const du = Math.abs(screen[4 * b] - screen[4 * a]),
      dv = Math.abs(screen[4 * b + 1] - screen[4 * a + 1]);
    if (q === p + 1 ? dv < du : dv >= du) return null;
    const t = bestT;
    if (t > 0.5) return { target: back, source: front, weight: t - 0.5, dWdt: 1, a, b, front, back, sF: bestF, sB: bestB, sgn };
    return { target: front, source: back, weight: 0.5 - t, dWdt: -1, a, b, front, back, sF: bestF, sB: bestB, sgn };
  }
  return null;
}

/** The (up to four) neighbour pairs of pixel p, each as (lower index, higher index). */
function neighbourPairs(p: number, W: number, H: number, out: number[]): number {
  const x = p % W,
    y = (p - x) / W;
  let n = 0;
  const add = (a: number, b: number) => {
    out[n++] = a;
    out[n++] = b;
  };
  if (x > 0) add(p - 1, p);
  if (x + 1 < W) add(p, p + 1);
  if (y > 0) add(p - W, p);
  if (y + 1 < H) add(p, p + W);
  return n / 2;
}

/** Pass 4: out = pre + Σ over the pairs that blend this pixel of weight·(pre[source] − pre). */
export function antialias(
  screen: Float32Array,
  indices: Uint32Array,
  adjacency: Int32Array,
  faceSign: Float32Array,
  faceId: Int32Array,
  depth: Float32Array,
  pre: Float32Array,
  W: number,
  H: number,
  image = new Float32Array(W * H * 3),
  alpha = new Float32Array(W * H),
): { image: Float32Array; alpha: Float32Array } {
  const pairs: number[] = [];
  for (let p = 0; p < W * H; p++) {
    const acc = [pre[4 * p], pre[4 * p + 1], pre[4 * p + 2], pre[4 * p + 3]];
    const np = neighbourPairs(p, W, H, pairs);
    for (let k = 0; k < np; k++) {
      const d = aaPair(pairs[2 * k], pairs[2 * k + 1], W, screen, indices, adjacency, faceSign, faceId, depth);
      if (!d || d.target !== p) continue;
      for (let c = 0; c < 4; c++) acc[c] += d.weight * (pre[4 * d.source + c] - pre[4 * p + c]);
    }
    image[3 * p] = acc[0];
    image[3 * p + 1] = acc[1];
    image[3 * p + 2] = acc[2];
    alpha[p] = acc[3];
  }
  return { image, alpha };
}

/** Renders a mesh: the four forward passes. */
export function rasterizeMesh(m: MeshRasterInput, cam: Camera, background: [number, number, number]): MeshRasterState {
  const W = cam.width,
    H = cam.height;
  const screen = projectVertices(m.positions, cam);
  const { shade, sign } = shadeFaces(m.positions, m.indices, cam);
  const depth = rasterDepth(screen, m.indices, W, H);
  const faceId = rasterResolve(screen, m.indices, depth, W, H);
  const pre = rasterShade(screen, m.indices, m.colors, shade, faceId, W, H, background);
  const adjacency = m.adjacency ?? faceAdjacency(m.indices, m.positions.length / 3);
  const { image, alpha } = antialias(screen, m.indices, adjacency, sign, faceId, depth, pre, W, H);
  return { cam, background, screen, faceShade: shade, faceSign: sign, faceId, depth, pre, image, alpha, adjacency };
}

/**
 * Backward of the antialiasing pass (gathered per pixel): ∂L/∂pre (RGB, 3 per pixel) and, through the edge
 * crossings, ∂L/∂(u, v) of the edge vertices (added into dScreen, 4 per vertex: u, v, d unused, w).
 */
export function antialiasBackward(
  st: MeshRasterState,
  indices: Uint32Array,
  dImage: Float32Array,
  dPre = new Float32Array(st.faceId.length * 3),
  dScreen = new Float32Array(st.screen.length),
): { dPre: Float32Array; dScreen: Float32Array } {
  const { screen, faceId, depth, pre, adjacency, faceSign } = st;
  const W = st.cam.width,
    H = st.cam.height;
  const pairs: number[] = [];
  for (let p = 0; p < W * H; p++) {
    let g0 = dImage[3 * p],
      g1 = dImage[3 * p + 1],
      g2 = dImage[3 * p + 2];
    const np = neighbourPairs(p, W, H, pairs);
    for (let k = 0; k < np; k++) {
      const d = aaPair(pairs[2 * k], pairs[2 * k + 1], W, screen, indices, adjacency, faceSign, faceId, depth);
      if (!d) continue;
      if (d.target === p) {
        const gp = [dImage[3 * p], dImage[3 * p + 1], dImage[3 * p + 2]];
        g0 -= d.weight * gp[0];
        g1 -= d.weight * gp[1];
        g2 -= d.weight * gp[2];
        // ∂L/∂t = dW/dt · g·(pre[source] − pre[p]); t = sF/(sF − sB)
        let dt = 0;
        for (let c = 0; c < 3; c++) dt += gp[c] * (pre[4 * d.source + c] - pre[4 * p + c]);
        dt *= d.dWdt;
        addEdgeGrad(d, dt, screen, W, dScreen);
      } else {
        // this pixel is the source of the pair's blend into the other pixel
        const o = d.target;
        g0 += d.weight * dImage[3 * o];
        g1 += d.weight * dImage[3 * o + 1];
        g2 += d.weight * dImage[3 * o + 2];
      }
    }
    dPre[3 * p] = g0;
    dPre[3 * p + 1] = g1;
    dPre[3 * p + 2] = g2;
  }
  return { dPre, dScreen };
}

/** ∂L/∂t of a pair's crossing → ∂L/∂(u, v) of the edge's two vertices. */
function addEdgeGrad(d: AaPair, dt: number, screen: Float32Array, W: number, dScreen: Float32Array): void {
  if (dt === 0) return;
  const den = d.sF - d.sB;
  const dsF = (-d.sB / (den * den)) * dt,
    dsB = (d.sF / (den * den)) * dt;
  const ua = screen[4 * d.a],
    va = screen[4 * d.a + 1],
    ub = screen[4 * d.b],
    vb = screen[4 * d.b + 1];
  for (const [pix, ds] of [
    [d.front, dsF],
    [d.back, dsB],
  ]) {
    const x = (pix % W) + 0.5,
      y = Math.floor(pix / W) + 0.5;
    const g = ds * d.sgn;
    // E = (ub−ua)(y−va) − (vb−va)(x−ua)
    dScreen[4 * d.a] += g * (vb - y);
    dScreen[4 * d.a + 1] += g * (x - ub);
    dScreen[4 * d.b] += g * (y - va);
    dScreen[4 * d.b + 1] += g * (ua - x);
  }
}

/**
 * Backward of the shading/interpolation pass: from ∂L/∂pre (RGB) to vertex colours, face shading and the
 * vertices' screen coordinates (u, v and w = 1/d, through the perspective-correct barycentrics).
 */
export function rasterBackward(
  st: MeshRasterState,
  indices: Uint32Array,
  colors: Float32Array,
  dPre: Float32Array,
  dColors: Float32Array,
  dShade: Float32Array,
  dScreen: Float32Array,
): void {
  const { screen, faceId, faceShade } = st;
  const W = st.cam.width;
  const bc = new Float64Array(8);
  for (let p = 0; p < faceId.length; p++) {
    const f = faceId[p];
    if (f < 0) continue;
    const g = [dPre[3 * p], dPre[3 * p + 1], dPre[3 * p + 2]];
    if (g[0] === 0 && g[1] === 0 && g[2] === 0) continue;
    const vi = [indices[3 * f], indices[3 * f + 1], indices[3 * f + 2]];
    const x = (p % W) + 0.5,
      y = Math.floor(p / W) + 0.5;
    baryAt(screen, vi[0], vi[1], vi[2], x, y, bc, true);
    const s = faceShade[f];
    const lam = [bc[0], bc[1], bc[2]],
      b = [bc[3], bc[4], bc[5]];
    const area = bc[7];
    let ds = 0;
    const gb = [0, 0, 0];
    for (let k = 0; k < 3; k++) {
      const v = vi[k];
      let gc = 0;
      for (let c = 0; c < 3; c++) {
        dColors[3 * v + c] += g[c] * s * b[k];
        gc += g[c] * colors[3 * v + c];
        ds += g[c] * b[k] * colors[3 * v + c];
      }
      gb[k] = s * gc;
    }
    dShade[f] += ds;
    // perspective-correct b_i = λ_i w_i / S, S = Σ λ_j w_j
    const w = [screen[4 * vi[0] + 3], screen[4 * vi[1] + 3], screen[4 * vi[2] + 3]];
    const S = lam[0] * w[0] + lam[1] * w[1] + lam[2] * w[2];
    const gbar = gb[0] * b[0] + gb[1] * b[1] + gb[2] * b[2];
    const gl = [0, 0, 0];
    for (let k = 0; k < 3; k++) {
      gl[k] = (w[k] * (gb[k] - gbar)) / S;
      dScreen[4 * vi[k] + 3] += (lam[k] * (gb[k] - gbar)) / S;
    }
    // λ_k = E_k / A, A = E_0 + E_1 + E_2
    const glam = gl[0] * lam[0] + gl[1] * lam[1] + gl[2] * lam[2];
    for (let k = 0; k < 3; k++) {
      const gE = (gl[k] - glam) / area;
      if (gE === 0) continue;
      // E_k is the edge (k+1)→(k+2) at the pixel centre
      const a = vi[(k + 1) % 3],
        bb = vi[(k + 2) % 3];
      const ua = screen[4 * a],
        va = screen[4 * a + 1],
        ub = screen[4 * bb],
        vb = screen[4 * bb + 1];
      dScreen[4 * a] += gE * (vb - y);
      dScreen[4 * a + 1] += gE * (x - ub);
      dScreen[4 * bb] += gE * (y - va);
      dScreen[4 * bb + 1] += gE * (ua - x);
    }
  }
}

/** Backward of the face shading: ∂L/∂s per face → ∂L/∂position of its vertices (through the face normal). */
export function shadeBackward(
  positions: Float32Array,
  indices: Uint32Array,
  cam: Camera,
  faceSign: Float32Array,
  dShade: Float32Array,
  dPositions: Float32Array,
): void {
  const l = worldLight(cam);
  const p = positions;
  for (let f = 0; f < indices.length / 3; f++) {
    const g = dShade[f];
    if (g === 0 || faceSign[f] === 0) continue;
    const ia = indices[3 * f],
      ib = indices[3 * f + 1],
      ic = indices[3 * f + 2];
    const a = 3 * ia,
      b = 3 * ib,
      c = 3 * ic;
    const e1 = [p[b] - p[a], p[b + 1] - p[a + 1], p[b + 2] - p[a + 2]];
    const e2 = [p[c] - p[a], p[c + 1] - p[a + 1], p[c + 2] - p[a + 2]];
    const m = [e1[1] * e2[2] - e1[2] * e2[1], e1[2] * e2[0] - e1[0] * e2[2], e1[0] * e2[1] - e1[1] * e2[0]];
    const len = Math.hypot(m[0], m[1], m[2]);
    const n = [m[0] / len, m[1] / len, m[2] / len];
    // s = AMBIENT + DIFFUSE·σ·n·l → ∂s/∂n = DIFFUSE·σ·l; ∂n/∂m = (I − n nᵀ)/|m|
    const k = DIFFUSE * faceSign[f] * g;
    const dn = [k * l[0], k * l[1], k * l[2]];
    const nd = n[0] * dn[0] + n[1] * dn[1] + n[2] * dn[2];
    const dm = [(dn[0] - n[0] * nd) / len, (dn[1] - n[1] * nd) / len, (dn[2] - n[2] * nd) / len];
    // m = e1 × e2: ∂L/∂e1 = e2 × dm, ∂L/∂e2 = dm × e1
    const de1 = [e2[1] * dm[2] - e2[2] * dm[1], e2[2] * dm[0] - e2[0] * dm[2], e2[0] * dm[1] - e2[1] * dm[0]];
    const de2 = [dm[1] * e1[2] - dm[2] * e1[1], dm[2] * e1[0] - dm[0] * e1[2], dm[0] * e1[1] - dm[1] * e1[0]];
    for (let q = 0; q < 3; q++) {
      dPositions[b + q] += de1[q];
      dPositions[c + q] += de2[q];
      dPositions[a + q] -= de1[q] + de2[q];
    }
  }
}

/** Backward of the projection: ∂L/∂(u, v, w) per vertex → ∂L/∂position (added into dPositions). */
export function projectBackward(
  positions: Float32Array,
  cam: Camera,
  screen: Float32Array,
  dScreen: Float32Array,
  dPositions: Float32Array,
): void {
  const { ax, ay, az, o } = cameraFrame(cam);
  const n = positions.length / 3;
  for (let i = 0; i < n; i++) {
    const du = dScreen[4 * i],
      dv = dScreen[4 * i + 1],
      dw = dScreen[4 * i + 3];
    if (du === 0 && dv === 0 && dw === 0) continue;
    const d = screen[4 * i + 2];
    if (d < NEAR) continue;
    const dx = positions[3 * i] - o[0],
      dy = positions[3 * i + 1] - o[1],
      dz = positions[3 * i + 2] - o[2];
    const xc = dx * ax[0] + dy * ax[1] + dz * ax[2];
    const yc = dx * ay[0] + dy * ay[1] + dz * ay[2];
    const id = 1 / d;
    // u = cx + fx·xc/d, v = cy − fy·yc/d, w = 1/d, d = −zc
    const gd = du * (-cam.fx * xc * id * id) + dv * (cam.fy * yc * id * id) - dw * id * id;
    const gx = du * cam.fx * id,
      gy = -dv * cam.fy * id,
      gz = -gd;
    for (let a = 0; a < 3; a++) dPositions[3 * i + a] += gx * ax[a] + gy * ay[a] + gz * az[a];
  }
}

/** All backward passes: ∂L/∂image (RGB, 3 per pixel) → ∂L/∂vertex colours and ∂L/∂world positions. */
export function rasterizeMeshBackward(m: MeshRasterInput, st: MeshRasterState, dImage: Float32Array): MeshRasterGrads {
  const nv = m.positions.length / 3;
  const { dPre, dScreen } = antialiasBackward(st, m.indices, dImage);
  const colors = new Float32Array(nv * 3),
    positions = new Float32Array(nv * 3);
  const dShade = new Float32Array(m.indices.length / 3);
  rasterBackward(st, m.indices, m.colors, dPre, colors, dShade, dScreen);
  shadeBackward(m.positions, m.indices, st.cam, st.faceSign, dShade, positions);
  projectBackward(m.positions, st.cam, st.screen, dScreen, positions);
  return { colors, positions };
}
