import {
  Box3,
  BufferGeometry,
  DoubleSide,
  Matrix4,
  Mesh,
  NodeMaterial,
  Sphere,
  StorageBufferAttribute,
  Vector2,
  Vector3,
  WebGPUCoordinateSystem,
  type Camera,
  type Object3D,
  type Renderer,
} from 'three/webgpu';
import {
  Discard,
  Fn,
  If,
  dot,
  exp,
  float,
  length,
  max,
  min,
  sqrt,
  storage,
  uint,
  uintBitsToFloat,
  uniform,
  unpackHalf2x16,
  varyingProperty,
  vec2,
  vec4,
  vertexIndex,
} from 'three/tsl';
import type { SplatBuffers } from './splat-data';
import { SplatGpu } from './splat-gpu';
import { RECORD_WORDS, createCpuFrame, projectAndSortCpu, splatParams, type SplatCpuFrame, type SplatParams } from './splat-project';

/**
 * 3D Gaussian splats as a plain three.js object (WebGPURenderer, and its WebGL2 backend). Method and measurements:
 * docs/viewer.md.
 *
 * Per frame, once per splat (not per vertex): a compute pass culls (view frustum, α that never reaches 1/255,
 * level-of-detail cut), projects each splat like the 3DGS rasteriser (the project's CPU twin is
 * src/nerf/gaussian/gaussian-project-cpu.ts and gaussian-render-cpu.ts: EWA Jacobian, 0.3 px² low-pass, α = min(0.99, o·exp(−½ dᵀΣ⁻¹d)),
 * α < 1/255 dropped) into a 32-byte draw record and a 16-bit depth key; a counting sort orders the visible records
 * back to front; one non-instanced indirect draw of 6 vertices per record renders the quads (the rectangle around
 * the ellipse where the splat's own α reaches 1/255, so faint splats cost few fragments and no pixel the CPU blends
 * is missed), blended "over". When nothing that changes the records changed (camera, viewport, object transform,
 * render mode, region, budget), the previous records and order are drawn again; any change recomputes them before
 * the draw, so the order is never a frame late.
 *
 * Kernels: src/shaders/splat_project.wgsl and splat_sort.wgsl (splat-gpu.ts); their CPU twin (splat-project.ts) runs
 * on the WebGL2 backend, and on WebGPU while the kernels compile.
 *
 * Big scenes: with a level-of-detail tree (splat-lod.ts, built by `packSplats` above LOD_ABOVE splats) at most
 * `budget` nodes are drawn per frame, the finest cut through the tree that fits.
 */
export interface SplatMeshOptions {
  /**
   * 'gpu': compute passes (default on WebGPU); 'cpu': the CPU twin every frame (always on the WebGL2 backend).
   * 'auto' (default) = 'gpu' where compute shaders exist.
   */
  sorter?: 'auto' | 'gpu' | 'cpu';
  /** Most splats drawn per frame for scenes with a level-of-detail tree (default 2,000,000). */
  budget?: number;
  /** Level of detail: never draw tree nodes finer than this many pixels, even under the budget (default 0: exact). */
  lodMinPixels?: number;
}

export const DEFAULT_BUDGET = 2_000_000;

const _mv = new Matrix4();
const _inv = new Matrix4();
const _v = new Vector3();
const _size = new Vector2();

type Backend = { isWebGLBackend?: boolean; device?: GPUDevice; get(o: object): { buffer?: GPUBuffer } };

export class SplatMesh extends Mesh {
  readonly isSplatMesh = true;
  readonly splats: SplatBuffers;
  readonly boundingSphere = new Sphere();
  readonly boundingBox = new Box3();
  /** 0 colour, 1 depth (grey, near = dark), 2 region (splats whose centre is inside `regionMin..regionMax` tinted). */
  readonly renderMode = { value: 0 };
  readonly regionMin = { value: new Vector3(0, 0, 0) };
  readonly regionMax = { value: new Vector3(-1, -1, -1) };
  /** Most splats drawn per frame (with a level-of-detail tree). */
  budget: number;
  lodMinPixels: number;
  /** Frames whose records were recomputed (projection + sort). */
  sortCount = 0;
  /** Frames drawn with the previous records (nothing had changed). */
  reuseCount = 0;
  /** What made the last records: 'gpu', 'cpu' or 'none'. */
  lastSorter = 'none';
  private readonly sorter: 'auto' | 'gpu' | 'cpu';
  private readonly capacity: number;
  private readonly recordsAttr: StorageBufferAttribute;
  private readonly orderAttr: StorageBufferAttribute;
  private readonly countAttr: StorageBufferAttribute;
  private readonly touchNode: any;
  /** the draw's storage reads (switched to textures on the WebGL2 backend) */
  private readonly reads: any[];
  private readonly viewport = uniform(new Vector2(1, 1));
  private gpu: SplatGpu | null = null;
  private gpuState: 'off' | 'loading' | 'ready' | 'failed' = 'off';
  private cpu: SplatCpuFrame | null = null;
  private cpuCount = 0;
  private backendKind: 'webgpu' | 'webgl' | null = null;
  private buffersReady = false;
  private lastKey: number[] = [];

  constructor(splats: SplatBuffers, opts: SplatMeshOptions = {}) {
    const geometry = new BufferGeometry();
    const material = new NodeMaterial();
    super(geometry, material);
    this.splats = splats;
    this.frustumCulled = false;
    this.sorter = opts.sorter ?? 'auto';
    this.budget = opts.budget ?? DEFAULT_BUDGET;
    this.lodMinPixels = opts.lodMinPixels ?? 0;
    // records are made for the splats drawn: all of them, or with a tree at most the budget of nodes
    this.capacity = Math.max(1, splats.lod ? Math.min(splats.nodes, Math.max(this.budget, 1)) : splats.count);
    const { min: bmin, max: bmax } = splats.bounds;
    this.boundingBox.set(new Vector3(...bmin), new Vector3(...bmax));
    this.boundingBox.getBoundingSphere(this.boundingSphere);

    const cap = this.capacity;
    this.recordsAttr = new StorageBufferAttribute(new Uint32Array(cap * RECORD_WORDS), 4);
    this.orderAttr = new StorageBufferAttribute(new Uint32Array(cap), 1);
    this.countAttr = new StorageBufferAttribute(new Uint32Array(4), 1);
    // TSL nodes are typed loosely here: three's TSL typings do not model storage element types well
    const recordsRead: any = storage(this.recordsAttr, 'uvec4', cap * 2).toReadOnly();
    const orderRead: any = storage(this.orderAttr, 'uint', cap).toReadOnly();
    const countRead: any = storage(this.countAttr, 'uint', 4).toReadOnly();
    this.reads = [recordsRead, orderRead, countRead];
    // creates three's GPU buffers for the attributes the compute passes write (see prepare)
    const recordsW: any = storage(this.recordsAttr, 'uvec4', cap * 2);
    const orderW: any = storage(this.orderAttr, 'uint', cap);
    const countW: any = storage(this.countAttr, 'uint', 4);
    this.touchNode = Fn(() => {
      recordsW.element(0).assign(recordsW.element(0));
      orderW.element(0).assign(orderW.element(0));
      countW.element(0).assign(countW.element(0));
    })().compute(1);

    // varyings: the offset in units of σ along the quad's axes (so Mahalanobis² = |d|²), and the packed
    // colour + opacity halves as integers, which are not interpolated (flat) on either backend
    const vD = varyingProperty('vec2', 'vSplatD');
    const vColor = varyingProperty('uvec2', 'vSplatColor');
    const viewport = this.viewport;
    // (typed loosely: three's TSL typings do not cover bitcasts and half-float unpacking well)
    const f32 = (x: any): any => uintBitsToFloat(x);
    const half2 = (x: any): any => unpackHalf2x16(x);
    material.vertexNode = Fn(() => {
      const i = vertexIndex.div(6).toVar('i');
      const corner = vertexIndex.mod(6).toVar('corner');
      // the draw covers every slot (no indirect draw); slots past this frame's records fall outside the clip volume
      const clip = vec4(2, 2, 2, 1).toVar('clip');
      If(i.lessThan(countRead.element(0)), () => {
        const j = orderRead.element(i).toVar('j');
        const r0 = recordsRead.element(j.mul(2)).toVar('r0');
        const r1 = recordsRead.element(j.mul(2).add(1)).toVar('r1');
        // corners of the two triangles (−1,−1) (1,−1) (1,1) (−1,−1) (1,1) (−1,1) as bit masks over the corner index
        const ux = float(uint(22).shiftRight(corner).bitAnd(1)).mul(2).sub(1).toVar('ux');
        const uy = float(uint(52).shiftRight(corner).bitAnd(1)).mul(2).sub(1).toVar('uy');
        const a1 = vec2(f32(r0.w), f32(r1.x)).toVar('a1');
        const h = half2(r1.y).toVar('h');
        const e1 = a1.div(max(length(a1), 1e-20)).toVar('e1');
        const a2 = vec2(e1.y.negate(), e1.x).mul(h.x);
        const p = vec2(f32(r0.x), f32(r0.y)).add(a1.mul(ux)).add(a2.mul(uy)).toVar('p');
        // the quad spans k standard deviations along each axis (k² = h.y)
        vD.assign(vec2(ux, uy).mul(sqrt(h.y)));
        vColor.assign(r1.zw);
        clip.assign(vec4(p.x.mul(2).div(viewport.x).sub(1), float(1).sub(p.y.mul(2).div(viewport.y)), f32(r0.z), 1));
      });
      return clip;
    })();
    material.colorNode = Fn(() => {
      // α = min(0.99, o·exp(−½ dᵀΣ⁻¹d)); below 1/255 (outside the ellipse the quad is cut around) nothing is drawn
      const o = half2(vColor.y).y;
      const alpha = min(float(0.99), o.mul(exp(dot(vD, vD).mul(-0.5)))).toVar('alpha');
      If(alpha.lessThan(1 / 255), () => {
        Discard();
      });
      return vec4(half2(vColor.x), half2(vColor.y).x, alpha);
    })();
    material.transparent = true;
    material.depthWrite = false;
    material.depthTest = true;
    material.forceSinglePass = true;
    // pixel coordinates have y down, which reverses the quads' winding
    material.side = DoubleSide;
    material.fog = false;

    this.onBeforeRender = ((renderer: Renderer, _scene: Object3D, camera: Camera) =>
      this.prepare(renderer, camera)) as unknown as Mesh['onBeforeRender'];
  }

  /** Sets the most splats drawn per frame (scenes with a level-of-detail tree; clamped to what was allocated). */
  setBudget(n: number): void {
    this.budget = Math.max(1, Math.floor(n));
  }

  get splatCount(): number {
    return this.splats.count;
  }

  /** Whether this scene draws through its level-of-detail tree (a tree exists and the budget is below the count). */
  get usesLod(): boolean {
    return !!this.splats.lod && this.budget < this.splats.count;
  }

  /** GPU memory of the splat data, sort buffers and draw records (bytes; 0 before the first WebGPU frame). */
  get gpuBytes(): number {
    return this.gpu ? this.gpu.gpuBytes + this.capacity * (RECORD_WORDS + 1) * 4 + 16 : 0;
  }

  /** Records drawn in the last recomputed frame (reads the GPU counter back). */
  async drawnCount(renderer: Renderer): Promise<number> {
    if (this.lastSorter === 'gpu' && this.gpu) {
      const device = (renderer as unknown as { backend: Backend }).backend.device;
      if (device) await device.queue.onSubmittedWorkDone();
      return (await this.gpu.readState())[3];
    }
    return this.cpuCount;
  }

  private prepare(renderer: Renderer, camera: Camera): void {
    const target = renderer.getRenderTarget();
    if (target) _size.set(target.width, target.height);
    else renderer.getDrawingBufferSize(_size);
    this.viewport.value.copy(_size);
    this.updateWorldMatrix(true, false);
    const backend = (renderer as unknown as { backend: Backend }).backend;
    if (this.backendKind === null) this.setupBackend(backend.isWebGLBackend === true ? 'webgl' : 'webgpu');
    // nothing that changes the records changed: draw the last ones again
    const key = this.frameKey(camera, renderer);
    if (this.sortCount > 0 && sameKey(key, this.lastKey)) {
      this.reuseCount++;
      return;
    }
    this.lastKey = key;
    const p = this.params(camera, renderer);
    if (this.backendKind === 'webgpu' && this.sorter !== 'cpu' && backend.device && this.gpuFrame(renderer, backend, p)) {
      this.lastSorter = 'gpu';
    } else {
      this.cpuFrame(renderer, backend, p);
      this.lastSorter = 'cpu';
    }
    this.sortCount++;
  }

  private setupBackend(kind: 'webgpu' | 'webgl'): void {
    this.backendKind = kind;
    if (kind === 'webgl') {
      // no compute shaders: the CPU twin's records are uploaded, the draw range set per frame
      for (const s of this.reads) (s as { setPBO(v: boolean): void }).setPBO(true);
      this.geometry.setDrawRange(0, 0);
    } else {
      this.geometry.setDrawRange(0, 6 * this.capacity);
    }
  }

  /** Three's GPU buffers of the attributes the frame writes (created on first use). */
  private targets(renderer: Renderer, backend: Backend) {
    if (!this.buffersReady) {
      (renderer as unknown as { compute(n: unknown): void }).compute(this.touchNode);
      this.buffersReady = true;
      // the GPU buffers exist now and only the GPU writes them (three re-uploads an attribute only when its version
      // changes, never here): the zero-filled arrays that sized them can go (36 bytes a splat of JS memory)
      for (const a of [this.recordsAttr, this.orderAttr]) if (backend.get(a).buffer) a.array = new Uint32Array(a.itemSize);
    }
    const records = backend.get(this.recordsAttr).buffer,
      order = backend.get(this.orderAttr).buffer,
      count = backend.get(this.countAttr).buffer;
    return records && order && count ? { records, order, count } : null;
  }

  /** The frame on the GPU; false while the kernels compile (or when they failed). */
  private gpuFrame(renderer: Renderer, backend: Backend, p: SplatParams): boolean {
    const device = backend.device!;
    if (this.gpuState === 'off') {
      this.gpuState = 'loading';
      SplatGpu.create(device, this.splats, this.capacity).then(
        (g) => {
          this.gpu = g;
          this.gpuState = 'ready';
          this.lastKey = [];
        },
        (e) => {
          console.warn(`splat compute passes unavailable, projecting on the CPU: ${(e as Error).message}`);
          this.gpuState = 'failed';
        },
      );
    }
    if (this.gpuState !== 'ready') {
      // redo the frame on the GPU as soon as the kernels are ready
      this.lastKey = [];
      return false;
    }
    const t = this.targets(renderer, backend);
    if (!t) return false;
    const enc = device.createCommandEncoder({ label: 'splat frame' });
    this.gpu!.encode(enc, p, t);
    device.queue.submit([enc.finish()]);
    return true;
  }

  /** The frame on the CPU (WebGL2 backend; WebGPU while the kernels compile). */
  private cpuFrame(renderer: Renderer, backend: Backend, p: SplatParams): void {
    this.cpu ??= createCpuFrame(this.capacity);
    const f = this.cpu;
    const n = projectAndSortCpu(p, this.splats, f);
    this.cpuCount = n;
    if (this.backendKind === 'webgl') {
      // into the attributes' arrays (three swaps in padded copies when it makes their textures)
      (this.recordsAttr.array as Uint32Array).set(f.records.subarray(0, n * RECORD_WORDS));
      (this.orderAttr.array as Uint32Array).set(f.order.subarray(0, n));
      (this.countAttr.array as Uint32Array)[0] = n;
      for (const a of [this.recordsAttr, this.orderAttr, this.countAttr]) {
        a.needsUpdate = true;
        const pbo = (a as unknown as { pbo?: { needsUpdate: boolean } }).pbo;
        if (pbo) pbo.needsUpdate = true;
      }
      this.geometry.setDrawRange(0, 6 * n);
      return;
    }
    const t = this.targets(renderer, backend);
    const device = backend.device;
    if (!t || !device) return;
    device.queue.writeBuffer(t.records, 0, f.records, 0, Math.max(1, n) * RECORD_WORDS);
    device.queue.writeBuffer(t.order, 0, f.order, 0, Math.max(1, n));
    device.queue.writeBuffer(t.count, 0, f.count);
  }

  /** Everything the records depend on, to skip frames where none of it changed. */
  private frameKey(camera: Camera, renderer: Renderer): number[] {
    const k: number[] = [];
    k.push(...camera.matrixWorld.elements, ...camera.projectionMatrix.elements, ...this.matrixWorld.elements);
    k.push(_size.x, _size.y, renderer.coordinateSystem, this.renderMode.value, this.budget, this.lodMinPixels);
    k.push(...this.regionMin.value.toArray(), ...this.regionMax.value.toArray());
    return k;
  }

  /** The projection parameters for `camera` (see SplatParams). */
  private params(camera: Camera, renderer: Renderer): SplatParams {
    _mv.multiplyMatrices(camera.matrixWorldInverse, this.matrixWorld);
    _inv.copy(this.matrixWorld).invert();
    _v.setFromMatrixPosition(camera.matrixWorld).applyMatrix4(_inv);
    const c = this.boundingSphere.center;
    return splatParams({
      modelView: _mv.elements,
      projection: camera.projectionMatrix.elements,
      cameraInObject: [_v.x, _v.y, _v.z],
      width: _size.x,
      height: _size.y,
      webgpu: renderer.coordinateSystem === WebGPUCoordinateSystem,
      sphere: { center: [c.x, c.y, c.z], radius: this.boundingSphere.radius },
      splats: this.splats,
      capacity: this.capacity,
      lod: this.usesLod,
      budget: this.budget,
      lodMinPixels: this.lodMinPixels,
      mode: this.renderMode.value,
      regionMin: this.regionMin.value.toArray() as [number, number, number],
      regionMax: this.regionMax.value.toArray() as [number, number, number],
    });
  }

  dispose(): void {
    this.geometry.dispose();
    (this.material as NodeMaterial).dispose();
    this.gpu?.destroy();
    this.gpu = null;
  }
}

function sameKey(a: number[], b: number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
