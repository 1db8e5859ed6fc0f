import type { Camera } from '../../core/camera';
import { getGpuDevice } from '../../gpu/device';
import { runnerFor, type GpuRunner, type Kernel, type KernelCall } from '../../gpu/runner';
import commonSource from '../../shaders/mesh_common.wgsl?raw';
import projectSource from '../../shaders/mesh_project.wgsl?raw';
import rasterSource from '../../shaders/mesh_raster.wgsl?raw';
import antialiasSource from '../../shaders/mesh_antialias.wgsl?raw';
import rasterBackwardSource from '../../shaders/mesh_raster_backward.wgsl?raw';
import projectBackwardSource from '../../shaders/mesh_project_backward.wgsl?raw';
import { faceAdjacency } from './mesh';
import type { MeshRasterBackend, MeshRender } from './mesh-backend';
import { AMBIENT, cameraFrame, DIFFUSE, worldLight, type MeshRasterGrads, type MeshRasterInput } from './mesh-raster-cpu';

/**
 * WebGPU twin of the differentiable mesh rasteriser in mesh-raster-cpu.ts (conventions there and in
 * src/shaders/mesh_common.wgsl). A render runs project_vertices, shade_faces, raster_depth, raster_resolve,
 * raster_shade and antialias in one submit and reads back the output and the face per pixel; `backward` runs
 * antialias_backward, raster_backward, shade_backward and project_backward on the buffers of the last render and
 * reads back ∂L/∂colours and ∂L/∂positions. Everything is f32 on the GPU (the CPU twin uses f64 inside).
 */

const NONE = 0xffffffff;
const CAM_BYTES = 144;

/** The `Cam` uniform (mesh_common.wgsl). */
export function packMeshCamera(cam: Camera, background: readonly number[], nv: number, nf: number): ArrayBuffer {
  const buf = new ArrayBuffer(CAM_BYTES);
  const f = new Float32Array(buf),
    u = new Uint32Array(buf);
  const { ax, ay, az, o } = cameraFrame(cam);
  f.set(ax, 0);
  f.set(ay, 4);
  f.set(az, 8);
  f.set(o, 12);
  f.set(worldLight(cam), 16);
  f.set(background.slice(0, 3), 20);
  f[24] = cam.fx;
  f[25] = cam.fy;
  f[26] = cam.cx;
  f[27] = cam.cy;
  u[28] = cam.width;
  u[29] = cam.height;
  u[30] = nv;
  u[31] = nf;
  f[32] = AMBIENT;
  f[33] = DIFFUSE;
  return buf;
}

/** `topo`: per face its 3 vertex indices and 3 neighbour faces (NONE on a boundary). */
export function packTopology(indices: Uint32Array, adjacency: Int32Array): Uint32Array {
  const nf = indices.length / 3;
  const t = new Uint32Array(Math.max(1, nf) * 6);
  for (let f = 0; f < nf; f++) {
    t[6 * f] = indices[3 * f];
    t[6 * f + 1] = indices[3 * f + 1];
    t[6 * f + 2] = indices[3 * f + 2];
    for (let k = 0; k < 3; k++) t[6 * f + 3 + k] = adjacency[3 * f + k] < 0 ? NONE : adjacency[3 * f + k];
  }
  return t;
}

const STORAGE = () => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

/** A storage buffer that grows (never shrinks) to the size asked. */
class Slot {
  buf: GPUBuffer | null = null;
  constructor(
    private readonly device: GPUDevice,
    private readonly label: string,
  ) {}
  get(bytes: number): GPUBuffer {
    const need = Math.max(16, Math.ceil(bytes / 16) * 16);
    if (!this.buf || this.buf.size < need) {
      this.buf?.destroy();
      this.buf = this.device.createBuffer({ size: need, usage: STORAGE(), label: this.label });
    }
    return this.buf;
  }
  destroy(): void {
    this.buf?.destroy();
    this.buf = null;
  }
}

type KernelName =
  | 'project_vertices'
  | 'shade_faces'
  | 'raster_depth'
  | 'raster_resolve'
  | 'raster_shade'
  | 'antialias'
  | 'antialias_backward'
  | 'raster_backward'
  | 'shade_backward'
  | 'project_backward';

export class WebGpuMeshRaster implements MeshRasterBackend {
  readonly name = 'webgpu';
  private readonly slots = new Map<string, Slot>();
  private topoFor: Uint32Array | null = null;
  private last: { nv: number; nf: number; P: number; cam: GPUBuffer } | null = null;

  private constructor(
    private readonly runner: GpuRunner,
    private readonly k: Record<KernelName, Kernel>,
  ) {}

  static async create(): Promise<WebGpuMeshRaster> {
    const device = await getGpuDevice();
    const runner = runnerFor(device);
    const U = 'uniform' as const,
      R = 'read' as const,
      S = 'storage' as const;
    const defs: Record<KernelName, { src: string; bindings: ('uniform' | 'read' | 'storage')[] }> = {
      project_vertices: { src: projectSource, bindings: [U, R, R, S, S] },
      shade_faces: { src: projectSource, bindings: [U, R, R, S, S] },
      raster_depth: { src: rasterSource, bindings: [U, R, R, R, R, S, S, S, S] },
      raster_resolve: { src: rasterSource, bindings: [U, R, R, R, R, S, S, S, S] },
      raster_shade: { src: rasterSource, bindings: [U, R, R, R, R, S, S, S, S] },
      antialias: { src: antialiasSource, bindings: [U, R, R, R, R, R, S] },
      antialias_backward: { src: antialiasSource, bindings: [U, R, R, R, R, R, S, S, S] },
      raster_backward: { src: rasterBackwardSource, bindings: [U, R, R, R, R, R, R, S, S] },
      shade_backward: { src: projectBackwardSource, bindings: [U, R, R, R, R, R, R, S] },
      project_backward: { src: projectBackwardSource, bindings: [U, R, R, R, R, R, R, S] },
    };
    const entries = await Promise.all(
      (Object.keys(defs) as KernelName[]).map(
        async (name) =>
          [
            name,
            await runner.kernel({ code: commonSource + defs[name].src, entry: name, bindings: defs[name].bindings, label: `mesh.${name}` }),
          ] as const,
      ),
    );
    return new WebGpuMeshRaster(runner, Object.fromEntries(entries) as Record<KernelName, Kernel>);
  }

  private slot(name: string, bytes: number): GPUBuffer {
    let s = this.slots.get(name);
    if (!s) this.slots.set(name, (s = new Slot(this.runner.device, `mesh.${name}`)));
    return s.get(bytes);
  }

  private camBuffer(cam: Camera, background: readonly number[], nv: number, nf: number): GPUBuffer {
    return this.runner.uniform(packMeshCamera(cam, background, nv, nf), 'mesh.cam');
  }

  async render(m: MeshRasterInput, cam: Camera, background: [number, number, number]): Promise<MeshRender> {
    const r = this.runner;
    const nv = m.positions.length / 3,
      nf = m.indices.length / 3,
      W = cam.width,
      H = cam.height,
      P = W * H;
    const camBuf = this.camBuffer(cam, background, nv, nf);
    const positions = this.slot('positions', nv * 12),
      colors = this.slot('colors', nv * 12),
      screen = this.slot('screen', nv * 16),
      faceInfo = this.slot('faceInfo', nf * 8),
      zbuf = this.slot('zbuf', P * 4),
      fid = this.slot('fid', P * 4),
      pre = this.slot('pre', P * 16),
      pix = this.slot('pix', P * 8),
      out = this.slot('out', P * 16);
    const topo = this.slot('topo', nf * 24);
    if (this.topoFor !== m.indices) {
      r.upload(topo, packTopology(m.indices, m.adjacency ?? faceAdjacency(m.indices, nv)));
      this.topoFor = m.indices;
    }
    r.upload(positions, m.positions);
    r.upload(colors, m.colors);
    // zbuf = +∞ bits, fid = NONE
    r.upload(zbuf, new Uint32Array(P).fill(0x7f800000));
    r.upload(fid, new Uint32Array(P).fill(NONE));
    const K = this.k;
    const calls: KernelCall[] = [
      { kernel: K.project_vertices, buffers: [camBuf, positions, topo, screen, faceInfo], threads: nv },
      { kernel: K.shade_faces, buffers: [camBuf, positions, topo, screen, faceInfo], threads: nf },
      { kernel: K.raster_depth, buffers: [camBuf, screen, topo, colors, faceInfo, zbuf, fid, pre, pix], threads: nf },
      { kernel: K.raster_resolve, buffers: [camBuf, screen, topo, colors, faceInfo, zbuf, fid, pre, pix], threads: nf },
      { kernel: K.raster_shade, buffers: [camBuf, screen, topo, colors, faceInfo, zbuf, fid, pre, pix], threads: P },
      { kernel: K.antialias, buffers: [camBuf, screen, topo, faceInfo, pix, pre, out], threads: P },
    ];
    r.run(calls, 'mesh.render');
    const [o, px] = await Promise.all([r.readF32(out, 0, P * 4), r.readU32(pix, 0, P * 2)]);
    const image = new Float32Array(P * 3),
      alpha = new Float32Array(P),
      faceId = new Int32Array(P);
    for (let p = 0; p < P; p++) {
      image[3 * p] = o[4 * p];
      image[3 * p + 1] = o[4 * p + 1];
      image[3 * p + 2] = o[4 * p + 2];
      alpha[p] = o[4 * p + 3];
      faceId[p] = px[2 * p] === NONE ? -1 : px[2 * p];
    }
    this.last?.cam.destroy();
    this.last = { nv, nf, P, cam: camBuf };
    return { width: W, height: H, image, alpha, faceId };
  }

  async backward(dImage: Float32Array): Promise<MeshRasterGrads> {
    if (!this.last) throw new Error('WebGpuMeshRaster.backward: no render to differentiate');
    const { nv, nf, P, cam: camBuf } = this.last;
    const r = this.runner;
    const s = (n: string) => this.slots.get(n)!.buf!;
    const dIn = this.slot('dImage', P * 16),
      dPre = this.slot('dPre', P * 16),
      dScreen = this.slot('dScreen', nv * 16),
      dCS = this.slot('dCS', (3 * nv + nf) * 4),
      dPos = this.slot('dPos', nv * 12);
    const d4 = new Float32Array(P * 4);
    for (let p = 0; p < P; p++) {
      d4[4 * p] = dImage[3 * p];
      d4[4 * p + 1] = dImage[3 * p + 1];
      d4[4 * p + 2] = dImage[3 * p + 2];
    }
    r.upload(dIn, d4);
    r.zero(dScreen, 0, nv * 16);
    r.zero(dCS, 0, Math.ceil(((3 * nv + nf) * 4) / 4) * 4);
    r.zero(dPos, 0, Math.ceil((nv * 12) / 4) * 4);
    const [screen, topo, faceInfo, pix, pre, colors, positions] = ['screen', 'topo', 'faceInfo', 'pix', 'pre', 'colors', 'positions'].map(
      s,
    );
    const K = this.k;
    r.run(
      [
        { kernel: K.antialias_backward, buffers: [camBuf, screen, topo, faceInfo, pix, pre, dIn, dPre, dScreen], threads: P },
        { kernel: K.raster_backward, buffers: [camBuf, screen, topo, colors, faceInfo, pix, dPre, dScreen, dCS], threads: P },
        { kernel: K.shade_backward, buffers: [camBuf, positions, topo, faceInfo, screen, dCS, dScreen, dPos], threads: nf },
        { kernel: K.project_backward, buffers: [camBuf, positions, topo, faceInfo, screen, dCS, dScreen, dPos], threads: nv },
      ],
      'mesh.backward',
    );
    const [cs, pos] = await Promise.all([r.readF32(dCS, 0, 3 * nv), r.readF32(dPos, 0, 3 * nv)]);
    return { colors: cs, positions: pos };
  }

  dispose(): void {
    for (const s of this.slots.values()) s.destroy();
    this.slots.clear();
    this.last?.cam.destroy();
    this.last = null;
    this.topoFor = null;
  }
}
