import { BufferAttribute, BufferGeometry, Color, DoubleSide, Mesh, MeshBasicNodeMaterial, Vector3 } from 'three/webgpu';
import { attribute, dot, float, mix, normalFlat, positionView, positionWorld, select, step, uniform, vec3, vec4 } from 'three/tsl';
import { vertexNormals, type Mesh as TriMesh } from '../../nerf/mesh/mesh';
import { AMBIENT, DIFFUSE, LIGHT } from '../../nerf/mesh/mesh-raster-cpu';
import { MESH_GREY } from '../../nerf/mesh/mesh-scene';

/**
 * A triangle mesh with per-vertex colours as a plain three.js object (WebGPURenderer, either backend), shaded as
 * the differentiable rasteriser shades it (src/nerf/mesh/mesh-raster-cpu.ts): flat first-order SH lighting
 * s = AMBIENT + DIFFUSE·(n·l) with the face normal turned towards the camera and the light fixed to the camera,
 * times the interpolated vertex colour; both sides drawn. Render modes: colour, geometry (grey 0.5 shaded, Text2Mesh's
 * geometry view) and region (vertices inside the region box tinted).
 */
export class TriangleMesh extends Mesh {
  readonly isTriangleMesh = true;
  /** 0 colour, 1 geometry (grey), 2 region. */
  readonly renderMode;
  readonly regionMin;
  readonly regionMax;
  readonly source: TriMesh;

  constructor(source: TriMesh) {
    const renderMode = uniform(0);
    const regionMin = uniform(new Vector3(0, 0, 0));
    const regionMax = uniform(new Vector3(-1, -1, -1));
    const g = new BufferGeometry();
    g.setAttribute('position', new BufferAttribute(source.positions, 3));
    g.setAttribute('normal', new BufferAttribute(vertexNormals(source.positions, source.indices), 3));
    const colors = source.colors ?? new Float32Array(source.positions.length).fill(MESH_GREY);
    g.setAttribute('rgb', new BufferAttribute(colors, 3));
    g.setIndex(new BufferAttribute(source.indices, 1));
    g.computeBoundingSphere();
    g.computeBoundingBox();
    const m = new MeshBasicNodeMaterial({ side: DoubleSide });
    // the face normal in view space, turned towards the camera (at the origin of view space)
    const n0 = normalFlat.toVar();
    const n = select(dot(n0, positionView.negate()).greaterThanEqual(0), n0, n0.negate());
    const shade = float(AMBIENT).add(float(DIFFUSE).mul(dot(n, vec3(...LIGHT))));
    const rgb = attribute('rgb', 'vec3');
    const inside = step(regionMin, positionWorld).mul(step(positionWorld, regionMax));
    const isInside = inside.x.mul(inside.y).mul(inside.z);
    const base = select(renderMode.equal(1), vec3(MESH_GREY), rgb);
    const tinted = select(renderMode.equal(2), mix(base, vec3(1, 0.45, 0.1), isInside.mul(0.6)), base);
    m.colorNode = vec4(tinted.mul(shade), 1);
    super(g, m);
    this.renderMode = renderMode;
    this.regionMin = regionMin;
    this.regionMax = regionMax;
    this.source = source;
    this.frustumCulled = false;
  }

  dispose(): void {
    this.geometry.dispose();
    (this.material as MeshBasicNodeMaterial).dispose();
  }
}

export const MESH_BACKGROUND = new Color(1, 1, 1);
