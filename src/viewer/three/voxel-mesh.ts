import { BackSide, BoxGeometry, Color, Mesh, NodeMaterial, StorageBufferAttribute, Vector3 } from 'three/webgpu';
import {
  Break,
  Continue,
  Fn,
  If,
  Loop,
  abs,
  cameraPosition,
  exp,
  float,
  floor,
  int,
  log,
  max,
  min as tslMin,
  mix,
  normalize,
  positionWorld,
  storage,
  uint,
  uniform,
  vec3,
  vec4,
} from 'three/tsl';
import { colorDims, voxelSize, type VoxelGrid } from '../../nerf/voxel/voxel-grid';
import { SH_C1 } from '../../nerf/common/sh';

/**
 * A voxel radiance grid ray-marched in a fragment shader, as a plain three.js object (WebGPURenderer, either backend).
 *
 * The march is the CPU reference's (src/nerf/voxel/voxel-render-cpu.ts) step for step: slab test against the grid box,
 * samples at t = t₀ + (k + ½)·δ, the grid's contraction for unbounded scenes (steps growing as n²/bgLen outside
 * the box), occupancy skipping, corner-aligned trilinear raw values, σ = softplus(raw + shift),
 * α = 1 − exp(−σ·δ·densityScale), colour = sigmoid(Σ SH), front-to-back compositing with early stop at
 * T < 1e-4, and the background added with the remaining transmittance. Rays start at the camera centre.
 */
const toInt = (x: any) => int(x);
const min = tslMin as (...a: any[]) => any;

export interface VoxelMeshOptions {
  /** Step length in units of the smallest voxel size (the scene's stepRatio; default 0.5). */
  stepRatio?: number;
  background?: [number, number, number];
  /** Cap on steps per ray (default: enough to cross the grid box, at most 4096). */
  maxSamples?: number;
}

export class VoxelMesh extends Mesh {
  readonly isVoxelMesh = true;
  readonly grid: VoxelGrid;
  readonly background = uniform(new Color(1, 1, 1));
  /** 0 colour, 1 depth (grey, near = dark), 2 region (samples inside `regionMin..regionMax` tinted). */
  readonly renderMode = uniform(0);
  readonly regionMin = uniform(new Vector3(0, 0, 0));
  readonly regionMax = uniform(new Vector3(-1, -1, -1));

  constructor(grid: VoxelGrid, opts: VoxelMeshOptions = {}) {
    const { box, res, bgLen } = grid;
    const size = new Vector3(box.max[0] - box.min[0], box.max[1] - box.min[1], box.max[2] - box.min[2]);
    const center = new Vector3((box.min[0] + box.max[0]) / 2, (box.min[1] + box.max[1]) / 2, (box.min[2] + box.max[2]) / 2);
    const unbounded = bgLen > 0;
    const geometry = new BoxGeometry(size.x, size.y, size.z);
    if (unbounded) geometry.scale(200, 200, 200);
    const material = new NodeMaterial();
    super(geometry, material);
    this.grid = grid;
    this.position.copy(center);
    this.frustumCulled = false;
    const bg = opts.background ?? [1, 1, 1];
    this.background.value.setRGB(bg[0], bg[1], bg[2]);

    const K = colorDims(grid.shDegree);
    const step = (opts.stepRatio ?? 0.5) * Math.min(...voxelSize(grid));
    const maxSamples = opts.maxSamples ?? Math.min(4096, Math.ceil(size.length() / step) + 2);
    const nv = res[0] * res[1] * res[2];
    const ncell = (res[0] - 1) * (res[1] - 1) * (res[2] - 1);
    const occWords = new Uint32Array(Math.ceil(ncell / 4));
    for (let c = 0; c < ncell; c++) if (grid.occupancy[c]) occWords[c >> 2] |= 1 << ((c & 3) * 8);
    const densityBuf: any = storage(new StorageBufferAttribute(grid.density, 1), 'float', nv).toReadOnly();
    const colorBuf: any = storage(new StorageBufferAttribute(grid.color, 1), 'float', nv * K).toReadOnly();
    const occBuf: any = storage(new StorageBufferAttribute(occWords, 1), 'uint', occWords.length).toReadOnly();

    const E = 1 + bgLen;
    const nx = res[0],
      ny = res[1],
      nz = res[2];
    const background = this.background;
    const ctr = vec3(center.x, center.y, center.z);
    const ih = vec3(2 / size.x, 2 / size.y, 2 / size.z);
    const gs = vec3((nx - 1) / (2 * E), (ny - 1) / (2 * E), (nz - 1) / (2 * E));
    const bmin = vec3(...box.min),
      bmax = vec3(...box.max);
    const xscale = step * grid.densityScale;
    const radius = size.length() / 2;
    const shift = grid.densityShift;

    material.colorNode = Fn(() => {
      const o = cameraPosition;
      const d = normalize(positionWorld.sub(o)).toVar('d');
      const t = float(0).toVar('t');
      const t1 = float(1e30).toVar('t1');
      const T = float(1).toVar('T');
      const acc = vec3(0).toVar('acc');
      const dsum = float(0).toVar('dsum');
      const mode = this.renderMode,
        rmin = this.regionMin,
        rmax = this.regionMax;
      const hit = uint(1).toVar('hit');
      if (!unbounded) {
        const inv = vec3(1).div(d).toVar('inv');
        const ta = bmin.sub(o).mul(inv).toVar('ta');
        const tb = bmax.sub(o).mul(inv).toVar('tb');
        const lo = min(ta, tb),
          hi = max(ta, tb);
        const a0 = max(max(max(lo.x, lo.y), lo.z), 0).toVar('a0');
        const a1 = min(min(hi.x, hi.y), hi.z).toVar('a1');
        If(a1.lessThanEqual(a0), () => {
          hit.assign(0);
        });
        t.assign(a0.add(step * 0.5));
        t1.assign(a1);
      }
      If(hit.equal(1), () => {
        Loop({ start: int(0), end: int(maxSamples), type: 'int', condition: '<' }, () => {
          If(t.greaterThanEqual(t1), () => {
            Break();
          });
          const p = o.add(d.mul(t)).toVar('p');
          const u = p.sub(ctr).mul(ih).toVar('u');
          const dt = float(step).toVar('dt');
          if (unbounded) {
            const n = max(max(abs(u.x), abs(u.y)), abs(u.z)).toVar('n');
            If(n.greaterThan(1), () => {
              If(n.greaterThan(1e3), () => {
                Break();
              });
              dt.assign(n.mul(n).mul(step / bgLen));
              u.mulAssign(float(E).sub(float(bgLen).div(n)).div(n));
            });
          }
          t.addAssign(dt);
          const g = u.add(E).mul(gs).toVar('g');
          If(
            g.x
              .lessThan(0)
              .or(g.y.lessThan(0))
              .or(g.z.lessThan(0))
              .or(g.x.greaterThan(nx - 1))
              .or(g.y.greaterThan(ny - 1))
              .or(g.z.greaterThan(nz - 1)),
            () => {
              Continue();
            },
          );
          const i = min(toInt(floor(g.x)), int(nx - 2)).toVar('i');
          const j = min(toInt(floor(g.y)), int(ny - 2)).toVar('j');
          const k = min(toInt(floor(g.z)), int(nz - 2)).toVar('k');
          const cell = uint(i.add(j.mul(nx - 1)).add(k.mul((nx - 1) * (ny - 1)))).toVar('cell');
          const occ = occBuf
            .element(cell.shiftRight(uint(2)))
            .shiftRight(cell.bitAnd(uint(3)).mul(uint(8)))
            .bitAnd(uint(255));
          If(occ.equal(uint(0)), () => {
            Continue();
          });
          const f = g.sub(vec3(float(i), float(j), float(k))).toVar('f');
          const v = i
            .add(j.mul(nx))
            .add(k.mul(nx * ny))
            .toVar('v');
          const sy = nx,
            sz = nx * ny;
          const corners = [0, 1, sy, sy + 1, sz, sz + 1, sy + sz, sy + sz + 1];
          const w = [
            float(1).sub(f.x).mul(float(1).sub(f.y)).mul(float(1).sub(f.z)),
            f.x.mul(float(1).sub(f.y)).mul(float(1).sub(f.z)),
            float(1).sub(f.x).mul(f.y).mul(float(1).sub(f.z)),
            f.x.mul(f.y).mul(float(1).sub(f.z)),
            float(1).sub(f.x).mul(float(1).sub(f.y)).mul(f.z),
            f.x.mul(float(1).sub(f.y)).mul(f.z),
            float(1).sub(f.x).mul(f.y).mul(f.z),
            f.x.mul(f.y).mul(f.z),
          ].map((x, q) => x.toVar(`w${q}`));
          let raw = w[0].mul(densityBuf.element(v));
          for (let q = 1; q < 8; q++) raw = raw.add(w[q].mul(densityBuf.element(v.add(corners[q]))));
          const z = raw.add(shift).toVar('z');
          const sigma = z.toVar('sigma');
          If(z.lessThanEqual(20), () => {
            sigma.assign(log(exp(z).add(1)));
          });
          const alpha = float(1)
            .sub(exp(sigma.mul(xscale).negate()))
            .toVar('alpha');
          const basis = grid.shDegree === 1 ? [float(1), d.y.mul(-SH_C1), d.z.mul(SH_C1), d.x.mul(-SH_C1)] : [float(1)];
          const col = vec3(0).toVar('col');
          basis.forEach((yb, bi) => {
            for (let q = 0; q < 8; q++) {
              const base = v
                .add(corners[q])
                .mul(K)
                .add(bi * 3);
              col.addAssign(vec3(colorBuf.element(base), colorBuf.element(base.add(1)), colorBuf.element(base.add(2))).mul(w[q].mul(yb)));
            }
          });
          const c = vec3(1).div(exp(col.negate()).add(1)).toVar('c');
          If(mode.equal(2), () => {
            const inside = p.x
              .greaterThanEqual(rmin.x)
              .and(p.y.greaterThanEqual(rmin.y))
              .and(p.z.greaterThanEqual(rmin.z))
              .and(p.x.lessThanEqual(rmax.x))
              .and(p.y.lessThanEqual(rmax.y))
              .and(p.z.lessThanEqual(rmax.z));
            c.mulAssign(0.35);
            If(inside, () => {
              c.assign(
                c
                  .mul(1 / 0.35)
                  .mul(0.5)
                  .add(vec3(0.5, 0.4, 0)),
              );
            });
          });
          acc.addAssign(c.mul(T.mul(alpha)));
          dsum.addAssign(t.sub(dt).mul(T.mul(alpha)));
          T.mulAssign(float(1).sub(alpha));
          If(T.lessThan(1e-4), () => {
            Break();
          });
        });
      });
      const out = acc.add(background.mul(T)).toVar('marched');
      If(mode.equal(1), () => {
        // expected depth of the opaque part, scaled between the nearest and farthest point of the grid's bounding sphere
        const dist = o.sub(ctr).length();
        const near = max(dist.sub(radius), 0),
          far = dist.add(radius);
        const depth = dsum.div(max(float(1).sub(T), 1e-6));
        out.assign(mix(background, vec3(depth.sub(near).div(far.sub(near)).clamp(0, 1)), float(1).sub(T)));
      });
      return vec4(out, 1);
    })();
    // WebGL2 backend: storage buffers are read through textures (three's PBO emulation), switched on at first draw
    let webglReady = false;
    this.onBeforeRender = ((renderer: { backend?: { isWebGLBackend?: boolean } }) => {
      if (webglReady || renderer.backend?.isWebGLBackend !== true) return;
      for (const b of [densityBuf, colorBuf, occBuf]) b.setPBO(true);
      webglReady = true;
    }) as unknown as Mesh['onBeforeRender'];
    material.side = BackSide;
    material.depthWrite = false;
    material.fog = false;
  }

  dispose(): void {
    this.geometry.dispose();
    (this.material as NodeMaterial).dispose();
  }
}
