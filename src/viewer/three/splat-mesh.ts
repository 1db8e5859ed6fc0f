import {
  BufferAttribute,
  DoubleSide,
  InstancedBufferGeometry,
  Matrix4,
  Mesh,
  NodeMaterial,
  Sphere,
  Box3,
  StorageBufferAttribute,
  Vector2,
  Vector3,
  type Camera,
  type Renderer,
  type Object3D,
} from 'three/webgpu';
import {
  Discard,
  Fn,
  If,
  cameraProjectionMatrix,
  dot,
  exp,
  float,
  highpModelViewMatrix,
  instanceIndex,
  log,
  max,
  min,
  normalize,
  positionGeometry,
  sqrt,
  storage,
  uint,
  uniform,
  varyingProperty,
  vec2,
  vec3,
  vec4,
} from 'three/tsl';
import { CountingSort } from 'three/examples/jsm/gpgpu/CountingSort.js';
import type { SplatBuffers } from './splat-data';
import { GpuRadixSort } from '../../gpu/radix-sort';
import { SH_C1, SH_C2, SH_C3 } from '../../nerf/common/sh';

/**
 * 3D Gaussian splats as a plain three.js object (WebGPURenderer; also its WebGL2 backend).
 *
 * Rendering follows the 3DGS rasteriser (and the project's CPU twins, src/nerf/gaussian/gaussian-*-cpu.ts; docs/gaussians.md):
 * EWA projection of the world covariance with the Jacobian of the pinhole projection (view-space x/z, y/z
 * clamped to the image plus 0.3 of its size on each side), a 0.3 px² low-pass added to the 2D covariance,
 * per-pixel α = min(0.99, o·exp(−½ dᵀ Σ⁻¹ d)), fragments with α < 1/255 dropped (the quad is the rectangle
 * around the ellipse where α can reach 1/255, so no pixel the CPU blends is missed), blended back to front ("over"), which equals the front-to-back compositing of the tile rasteriser.
 *
 * Order: every frame the splats are sorted by view depth on the GPU before they are drawn, so the order is never
 * a frame late: the project's stable radix sort (src/gpu/radix-sort.ts, 16-bit depth keys) on three's own buffers,
 * or three's `CountingSort` while the radix kernels compile; on the WebGL2 backend a counting sort on the CPU.
 */
const WORKGROUP = 256;

export interface SplatMeshOptions {
  /** Depth bins of the counting sort (more = finer order, longer prefix pass). Default 8192. */
  bins?: number;
  /**
   * 'radix': the project's stable GPU radix sort (src/gpu/radix-sort.ts) on 16-bit depth keys, on three's own
   * buffers (same device, no copies); 'counting': three's CountingSort; 'auto' (default): radix on hardware GPUs,
   * counting on software adapters (SwiftShader, where the radix passes cost more than the draw). The counting sort
   * also serves while the radix kernels compile and on the WebGL2 backend (there on the CPU).
   */
  sorter?: 'auto' | 'radix' | 'counting';
}

const _mv = new Matrix4();
const _inv = new Matrix4();
const _v = new Vector3();
const _size = new Vector2();

export class SplatMesh extends Mesh {
  readonly isSplatMesh = true;
  readonly splats: SplatBuffers;
  readonly boundingSphere = new Sphere();
  readonly boundingBox = new Box3();
  /** Sorts every frame when true (default); when false the last order is kept (benchmarks of draw cost alone). */
  sortEveryFrame = true;
  /** Frames sorted so far (tests check the order is refreshed every frame). */
  sortCount = 0;
  private sort: CountingSort;
  private bins: number;
  private sortMatrix = uniform(new Matrix4());
  private depthRange = uniform(new Vector2(0, 1));
  private viewport = uniform(new Vector2(1, 1));
  private localCamera = uniform(new Vector3());
  /** 0 colour, 1 depth (grey, near = dark), 2 region (splats whose centre is inside `regionMin..regionMax` tinted). */
  readonly renderMode = uniform(0);
  readonly regionMin = uniform(new Vector3(0, 0, 0));
  readonly regionMax = uniform(new Vector3(-1, -1, -1));
  // TSL nodes are typed loosely here: three's TSL typings do not model matrix columns or storage element types well.
  private reads: any[] = [];
  private keysNode: any = null;
  private keysAttr: StorageBufferAttribute | null = null;
  private radix: GpuRadixSort | null = null;
  private radixState: 'off' | 'loading' | 'ready' | 'failed' = 'off';
  private radixPromise: Promise<void> | null = null;
  private autoSorter = false;
  /** Which sort ordered the last frame ('radix', 'counting' or 'cpu'). */
  lastSorter = 'none';
  private webglReady = false;

  constructor(splats: SplatBuffers, opts: SplatMeshOptions = {}) {
    const count = Math.max(1, splats.count);
    const geometry = new InstancedBufferGeometry();
    geometry.setAttribute('position', new BufferAttribute(new Float32Array([-1, -1, 0, 1, -1, 0, 1, 1, 0, -1, 1, 0]), 3));
    geometry.setIndex([0, 1, 2, 0, 2, 3]);
    geometry.instanceCount = splats.count;
    const material = new NodeMaterial();
    super(geometry, material);
    this.splats = splats;
    this.frustumCulled = false;
    this.bins = opts.bins ?? 8192;

    const pad = (a: Float32Array) => (a.length ? a : new Float32Array(4));
    const centerRead = storage(new StorageBufferAttribute(pad(splats.center), 4), 'vec4', count).toReadOnly();
    const covARead = storage(new StorageBufferAttribute(pad(splats.covA), 4), 'vec4', count).toReadOnly();
    const covBRead = storage(new StorageBufferAttribute(pad(splats.covB), 4), 'vec4', count).toReadOnly();
    const colorRead = storage(new StorageBufferAttribute(pad(splats.color), 4), 'vec4', count).toReadOnly();
    this.reads.push(centerRead, covARead, covBRead, colorRead);
    let shRead: any = null;
    if (splats.shDegree > 0 && splats.sh) {
      shRead = storage(new StorageBufferAttribute(splats.sh, 1), 'float', count * 45).toReadOnly();
      this.reads.push(shRead);
    }

    const { min: bmin, max: bmax } = splats.bounds;
    this.boundingBox.set(new Vector3(...bmin), new Vector3(...bmax));
    this.boundingBox.getBoundingSphere(this.boundingSphere);

    // ---- sort: bin = far-to-near quantised view depth of the centre
    const bins = this.bins;
    this.sort = new CountingSort(count, { binCount: bins, workgroupSize: WORKGROUP });
    const sortMatrix = this.sortMatrix,
      depthRange = this.depthRange;
    this.sort.setBinNode(() => {
      const c = centerRead.element(instanceIndex).xyz;
      const depth = sortMatrix.mul(vec4(c, 1)).z.negate();
      const t = depth
        .sub(depthRange.x)
        .div(max(depthRange.y.sub(depthRange.x), 1e-6))
        .clamp(0, 1);
      return uint(bins - 1).sub(uint(t.mul(bins - 1)));
    });

    // ---- the radix path: 16-bit far-to-near depth keys + identity order, sorted in place by GpuRadixSort
    if ((opts.sorter ?? 'auto') !== 'counting') {
      this.autoSorter = (opts.sorter ?? 'auto') === 'auto';
      this.keysAttr = new StorageBufferAttribute(new Uint32Array(count), 1);
      const keysWrite: any = storage(this.keysAttr, 'uint', count);
      const orderWrite: any = storage(this.sort.orderAttribute, 'uint', count);
      this.keysNode = Fn(() => {
        const c = centerRead.element(instanceIndex).xyz;
        const depth = sortMatrix.mul(vec4(c, 1)).z.negate();
        const t = depth
          .sub(depthRange.x)
          .div(max(depthRange.y.sub(depthRange.x), 1e-6))
          .clamp(0, 1);
        keysWrite.element(instanceIndex).assign(uint(65535).sub(uint(t.mul(65535))));
        orderWrite.element(instanceIndex).assign(instanceIndex);
      })().compute(count, [WORKGROUP]);
      this.radixState = 'loading';
    }

    // ---- vertex stage
    const vOffset = varyingProperty('vec2', 'vSplatOffset');
    const vConic = varyingProperty('vec3', 'vSplatConic');
    const vColor = varyingProperty('vec4', 'vSplatColor');
    const viewport = this.viewport,
      localCamera = this.localCamera;
    const order = this.sort.orderRead;

    material.vertexNode = Fn(() => {
      const idx = order.element(instanceIndex).toVar('idx');
      const c4 = centerRead.element(idx).toVar('c4');
      const covA = covARead.element(idx).toVar('covA');
      const covB = covBRead.element(idx).toVar('covB');
      const rgb = colorRead.element(idx).xyz.toVar('rgb');
      if (shRead) addSphericalHarmonics(rgb, shRead, idx, normalize(c4.xyz.sub(localCamera)), splats.shDegree);

      const view = highpModelViewMatrix.mul(vec4(c4.xyz, 1)).toVar('view');
      const clipC = cameraProjectionMatrix.mul(view).toVar('clipC');
      const P: any = cameraProjectionMatrix;
      const fx = P[0].x.mul(viewport.x).mul(0.5).toVar('fx');
      const fy = P[1].y.mul(viewport.y).mul(0.5).toVar('fy');
      const tz = view.z.negate().toVar('tz');
      // x/z clamped to the image plus 0.3 of its size on each side (the CPU twin's limits, off-centre principal points included)
      const tx = view.x.div(tz).clamp(float(1.6).sub(P[2].x).div(P[0].x).negate(), float(1.6).add(P[2].x).div(P[0].x)).mul(tz).toVar('tx');
      const ty = view.y.div(tz).clamp(float(1.6).sub(P[2].y).div(P[1].y).negate(), float(1.6).add(P[2].y).div(P[1].y)).mul(tz).toVar('ty');
      // rows of the view rotation W
      const m: any = highpModelViewMatrix;
      const r0 = vec3(m[0].x, m[1].x, m[2].x).toVar('r0');
      const r1 = vec3(m[0].y, m[1].y, m[2].y).toVar('r1');
      const r2 = vec3(m[0].z, m[1].z, m[2].z).toVar('r2');
      const s0 = vec3(covA.x, covA.y, covA.z),
        s1 = vec3(covA.y, covA.w, covB.x),
        s2 = vec3(covA.z, covB.x, covB.y);
      // V = W Σ Wᵀ
      const w0 = vec3(dot(r0, s0), dot(r0, s1), dot(r0, s2)).toVar('w0');
      const w1 = vec3(dot(r1, s0), dot(r1, s1), dot(r1, s2)).toVar('w1');
      const w2 = vec3(dot(r2, s0), dot(r2, s1), dot(r2, s2)).toVar('w2');
      const v00 = dot(w0, r0),
        v01 = dot(w0, r1),
        v02 = dot(w0, r2),
        v11 = dot(w1, r1),
        v12 = dot(w1, r2),
        v22 = dot(w2, r2);
      // Jacobian of (u right, v down) pixel coordinates w.r.t. view coordinates
      const itz = float(1).div(tz).toVar('itz');
      const j00 = fx.mul(itz).toVar('j00');
      const j02 = fx.mul(tx).mul(itz).mul(itz).toVar('j02');
      const j11 = fy.mul(itz).negate().toVar('j11');
      const j12 = fy.mul(ty).mul(itz).mul(itz).negate().toVar('j12');
      const a = j00.mul(j00).mul(v00).add(j00.mul(j02).mul(v02).mul(2)).add(j02.mul(j02).mul(v22)).add(0.3).toVar('a');
      const b = j00.mul(j11).mul(v01).add(j00.mul(j12).mul(v02)).add(j02.mul(j11).mul(v12)).add(j02.mul(j12).mul(v22)).toVar('b');
      const cc = j11.mul(j11).mul(v11).add(j11.mul(j12).mul(v12).mul(2)).add(j12.mul(j12).mul(v22)).add(0.3).toVar('cc');
      const det = a.mul(cc).sub(b.mul(b)).toVar('det');
      const mid = a.add(cc).mul(0.5).toVar('mid');
      const invDet = float(1).div(max(det, 1e-12));
      vConic.assign(vec3(cc.mul(invDet), b.negate().mul(invDet), a.mul(invDet)));
      const shown = max(rgb, vec3(0)).toVar('shown');
      If(this.renderMode.equal(1), () => {
        const dn = tz
          .sub(depthRange.x)
          .div(max(depthRange.y.sub(depthRange.x), 1e-6))
          .clamp(0, 1);
        shown.assign(vec3(dn));
      });
      If(this.renderMode.equal(2), () => {
        const p = c4.xyz;
        const inside = p.x
          .greaterThanEqual(this.regionMin.x)
          .and(p.y.greaterThanEqual(this.regionMin.y))
          .and(p.z.greaterThanEqual(this.regionMin.z))
          .and(p.x.lessThanEqual(this.regionMax.x))
          .and(p.y.lessThanEqual(this.regionMax.y))
          .and(p.z.lessThanEqual(this.regionMax.z));
        shown.assign(shown.mul(0.35));
        If(inside, () => {
          shown.assign(
            shown
              .mul(1 / 0.35)
              .mul(0.5)
              .add(vec3(0.5, 0.4, 0)),
          );
        });
      });
      vColor.assign(vec4(shown, c4.w));
      // The quad: the ellipse where α = o·exp(−½ dᵀΣ⁻¹d) can reach 1/255, i.e. Mahalanobis distance
      // k = √(2 ln(255·o)) (≤ 3.33), as a rectangle along the eigenvectors of the 2D covariance. Every pixel the
      // CPU rasteriser blends lies inside it, and thin or faint splats cost far fewer fragments than a 3σ square.
      const k = sqrt(max(log(c4.w.mul(255)).mul(2), 0)).toVar('k');
      const disc = sqrt(max(mid.mul(mid).sub(det), 0)).toVar('disc');
      const l1 = mid.add(disc).toVar('l1');
      const l2 = max(mid.sub(disc), 1e-6).toVar('l2');
      const v = vec2(b, l1.sub(a)).toVar('v');
      const axis1 = vec2(1, 0).toVar('axis1');
      If(dot(v, v).greaterThan(1e-12), () => {
        axis1.assign(normalize(v));
      });
      const axis2 = vec2(axis1.y.negate(), axis1.x);
      const off = axis1
        .mul(positionGeometry.x.mul(k.mul(sqrt(l1))))
        .add(axis2.mul(positionGeometry.y.mul(k.mul(sqrt(l2)))))
        .toVar('off');
      vOffset.assign(off);
      const clip = clipC
        .add(vec4(off.x.mul(2).div(viewport.x).mul(clipC.w), off.y.mul(-2).div(viewport.y).mul(clipC.w), 0, 0))
        .toVar('clip');
      If(c4.w.mul(255).lessThanEqual(1), () => {
        clip.assign(vec4(2, 2, 2, 1));
      });
      If(tz.lessThanEqual(0.01).or(det.lessThanEqual(0)).or(clipC.z.greaterThan(clipC.w)), () => {
        clip.assign(vec4(2, 2, 2, 1));
      });
      return clip;
    })();

    material.colorNode = Fn(() => {
      const d = vOffset;
      const power = vConic.x.mul(d.x).mul(d.x).add(vConic.z.mul(d.y).mul(d.y)).mul(-0.5).sub(vConic.y.mul(d.x).mul(d.y)).toVar('power');
      If(power.greaterThan(0), () => {
        Discard();
      });
      const alpha = min(float(0.99), vColor.w.mul(exp(power))).toVar('alpha');
      If(alpha.lessThan(1 / 255), () => {
        Discard();
      });
      return vec4(vColor.xyz, alpha);
    })();
    material.transparent = true;
    material.depthWrite = false;
    material.depthTest = true;
    material.forceSinglePass = true;
    // the quad's y is flipped into pixel (down) coordinates, which reverses its winding
    material.side = DoubleSide;
    material.fog = false;

    this.onBeforeRender = ((renderer: Renderer, _scene: Object3D, camera: Camera) =>
      this.prepare(renderer, camera)) as unknown as Mesh['onBeforeRender'];
  }

  get splatCount(): number {
    return this.splats.count;
  }

  private prepare(renderer: Renderer, camera: Camera): void {
    const target = renderer.getRenderTarget();
    if (target) this.viewport.value.set(target.width, target.height);
    else {
      renderer.getDrawingBufferSize(_size);
      this.viewport.value.copy(_size);
    }
    this.updateWorldMatrix(true, false);
    _inv.copy(this.matrixWorld).invert();
    this.localCamera.value.setFromMatrixPosition(camera.matrixWorld).applyMatrix4(_inv);
    if (this.sortEveryFrame || this.sortCount === 0) this.sortFor(renderer, camera);
  }

  /** Sorts the splats back to front for `camera` (GPU on WebGPU, CPU on the WebGL2 backend). */
  sortFor(renderer: Renderer, camera: Camera): void {
    if (this.splats.count === 0) return;
    _mv.multiplyMatrices(camera.matrixWorldInverse, this.matrixWorld);
    this.sortMatrix.value.copy(_mv);
    _v.copy(this.boundingSphere.center).applyMatrix4(_mv);
    const r = this.boundingSphere.radius + 1e-3;
    const near = Math.max(0, -_v.z - r),
      far = -_v.z + r;
    this.depthRange.value.set(near, far);
    const isWebGL = (renderer as unknown as { backend?: { isWebGLBackend?: boolean } }).backend?.isWebGLBackend === true;
    if (isWebGL) {
      if (!this.webglReady) {
        for (const s of this.reads) (s as unknown as { setPBO(v: boolean): void }).setPBO(true);
        this.sort.enableWebGLBuffers();
        this.webglReady = true;
      }
      const e = _mv.elements,
        c = this.splats.center,
        bins = this.bins,
        scale = (bins - 1) / Math.max(far - near, 1e-6);
      this.lastSorter = 'cpu';
      this.sort.computeCPU((i: number) => {
        const depth = -(e[2] * c[4 * i] + e[6] * c[4 * i + 1] + e[10] * c[4 * i + 2] + e[14]);
        const t = Math.min(bins - 1, Math.max(0, Math.floor((depth - near) * scale)));
        return bins - 1 - t;
      });
    } else if (!this.radixSort(renderer)) {
      this.sort.compute(renderer);
      this.lastSorter = 'counting';
    }
    this.sortCount++;
  }

  /** Sorts with the project's radix sort when it is ready; false when the counting sort must do it this frame. */
  private radixSort(renderer: Renderer): boolean {
    if (this.radixState === 'off' || this.radixState === 'failed') return false;
    const backend = (renderer as unknown as { backend: { device?: GPUDevice; get(o: object): { buffer?: GPUBuffer } } }).backend;
    const device = backend.device;
    if (!device) return false;
    if (this.radixState === 'loading') {
      if (this.autoSorter && softwareAdapter(device)) {
        this.radixState = 'off';
        return false;
      }
      this.radixPromise ??= GpuRadixSort.create(device, { keys64: false }).then(
        (r) => {
          this.radix = r;
          this.radixState = 'ready';
        },
        (e) => {
          console.warn(`splat radix sort unavailable, using the counting sort: ${(e as Error).message}`);
          this.radixState = 'failed';
        },
      );
      return false;
    }
    renderer.compute(this.keysNode);
    const keys = backend.get(this.keysAttr!).buffer,
      order = backend.get(this.sort.orderAttribute).buffer;
    if (!keys || !order) return false;
    const enc = device.createCommandEncoder({ label: 'splat depth sort' });
    this.radix!.encode(enc, { keysLo: keys, values: order, count: this.splats.count, loBits: 16 });
    device.queue.submit([enc.finish()]);
    this.lastSorter = 'radix';
    return true;
  }

  dispose(): void {
    this.geometry.dispose();
    (this.material as NodeMaterial).dispose();
  }
}

/** True for software WebGPU adapters (SwiftShader, llvmpipe), from the device's adapter info. */
function softwareAdapter(device: GPUDevice): boolean {
  const info = (device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo;
  return !!info && /swiftshader|llvmpipe|lavapipe/i.test(`${info.vendor} ${info.architecture} ${info.device} ${info.description}`);
}

/** Adds the view-dependent SH bands 1..degree to rgb (the basis and constants of src/nerf/common/sh.ts). */
function addSphericalHarmonics(rgb: any, sh: any, idx: any, dir: any, degree: number): void {
  const x = dir.x,
    y = dir.y,
    z = dir.z;
  const basis: any[] = [y.mul(-SH_C1), z.mul(SH_C1), x.mul(-SH_C1)];
  if (degree >= 2) {
    const xx = x.mul(x),
      yy = y.mul(y),
      zz = z.mul(z);
    basis.push(
      x.mul(y).mul(SH_C2[0]),
      y.mul(z).mul(SH_C2[1]),
      zz.mul(2).sub(xx).sub(yy).mul(SH_C2[2]),
      x.mul(z).mul(SH_C2[3]),
      xx.sub(yy).mul(SH_C2[4]),
    );
    if (degree >= 3)
      basis.push(
        y.mul(xx.mul(3).sub(yy)).mul(SH_C3[0]),
        x.mul(y).mul(z).mul(SH_C3[1]),
        y.mul(zz.mul(4).sub(xx).sub(yy)).mul(SH_C3[2]),
        z.mul(zz.mul(2).sub(xx.mul(3)).sub(yy.mul(3))).mul(SH_C3[3]),
        x.mul(zz.mul(4).sub(xx).sub(yy)).mul(SH_C3[4]),
        z.mul(xx.sub(yy)).mul(SH_C3[5]),
        x.mul(xx.sub(yy.mul(3))).mul(SH_C3[6]),
      );
  }
  const base = idx.mul(45).toVar('shBase');
  basis.forEach((w, k) => {
    const coeff = vec3(sh.element(base.add(3 * k)), sh.element(base.add(3 * k + 1)), sh.element(base.add(3 * k + 2)));
    rgb.addAssign(coeff.mul(w));
  });
}
