import { Document, Logger, WebIO, type Node, type Primitive } from '@gltf-transform/core';
import { UserError } from '../../core/errors';
import { checkMesh, concatMeshes, linearToSrgb, srgbToLinear, vertexCount, vertexNormals, type Mesh } from '../../nerf/mesh/mesh';

/**
 * glTF 2.0 meshes (`.glb`, `.gltf` with embedded or external buffers), read and written with glTF Transform
 * (@gltf-transform/core), which parses accessors (sparse, normalised, interleaved) and the node graph.
 *
 * Reading takes every triangle primitive (TRIANGLES, TRIANGLE_STRIP, TRIANGLE_FAN) of every mesh of the default
 * scene with its node's world transform applied (winding flipped under mirroring transforms); meshes no node
 * uses are taken as they are. Vertex colours are COLOR_0 times the material's baseColorFactor (glTF stores
 * both linear; they are converted to display values). Textures are not sampled. Points and lines are skipped.
 *
 * Writing gives one node without a transform, one primitive: POSITION, NORMAL (area-weighted), COLOR_0 (linear
 * float RGB) when the mesh has colours, and 16- or 32-bit indices; a white, non-metallic material so viewers show
 * the vertex colours as they are.
 */

const GLB_MAGIC = 0x46546c67; // 'glTF'
const CHUNK_JSON = 0x4e4f534a;
const CHUNK_BIN = 0x004e4942;

/** Loads a resource a .gltf names by relative URI (external buffers and images). */
export type ResourceLoader = (uri: string) => Promise<Uint8Array | null>;

const io = () => new WebIO().setLogger(new Logger(Logger.Verbosity.SILENT));

export function isGlb(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true) === GLB_MAGIC;
}

/** Checks a GLB's header and chunk table against the bytes present (glTF Transform trusts them). */
function checkGlb(bytes: Uint8Array, file: string): void {
  if (bytes.length < 20) throw new UserError(`truncated GLB (${bytes.length} bytes; a GLB has a 12-byte header and a JSON chunk)`, file);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = dv.getUint32(4, true),
    length = dv.getUint32(8, true);
  if (version !== 2) throw new UserError(`GLB version ${version} is not supported (glTF 2.0 files have version 2)`, file);
  if (length > bytes.length) throw new UserError(`truncated GLB: its header says ${length} bytes, the file holds ${bytes.length}`, file);
  let off = 12,
    chunk = 0;
  while (off < length) {
    if (off + 8 > length) throw new UserError(`truncated GLB: chunk ${chunk} header runs past the end`, file);
    const clen = dv.getUint32(off, true),
      type = dv.getUint32(off + 4, true);
    if (off + 8 + clen > length)
      throw new UserError(`truncated GLB: chunk ${chunk} says ${clen} bytes but only ${length - off - 8} follow`, file);
    if (chunk === 0 && type !== CHUNK_JSON) throw new UserError('broken GLB: the first chunk is not JSON', file);
    if (chunk === 1 && type !== CHUNK_BIN && type !== CHUNK_JSON) throw new UserError('broken GLB: unknown second chunk type', file);
    off += 8 + clen;
    chunk++;
  }
}

function describe(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  return m.split('\n')[0].slice(0, 200);
}

/** Reads a `.glb` or `.gltf` (bytes of the file; `load` resolves a .gltf's external resources). */
export async function readGltfMesh(bytes: Uint8Array, file: string, load?: ResourceLoader): Promise<Mesh> {
  let doc: Document;
  let json: any;
  const resources: Record<string, Uint8Array> = {};
  if (isGlb(bytes)) {
    checkGlb(bytes, file);
    try {
      const jd = await io().binaryToJSON(bytes);
      json = jd.json;
      Object.assign(resources, jd.resources);
    } catch (e) {
      throw new UserError(`broken GLB (${describe(e)})`, file);
    }
  } else {
    try {
      json = JSON.parse(new TextDecoder().decode(bytes));
    } catch (e) {
      throw new UserError(`not a glTF file (neither GLB nor JSON: ${describe(e)})`, file);
    }
    if (typeof json !== 'object' || !json || typeof json.asset !== 'object')
      throw new UserError('not a glTF file (no "asset" object)', file);
    for (const b of [...(json.buffers ?? []), ...(json.images ?? [])] as { uri?: string }[]) {
      const uri = b?.uri;
      if (typeof uri !== 'string' || uri.startsWith('data:') || uri in resources) continue;
      const isBuffer = (json.buffers ?? []).includes(b);
      const data = load ? await load(decodeURIComponent(uri)) : null;
      if (!data && isBuffer) throw new UserError(`the buffer '${uri}' it names is missing (keep it beside the .gltf)`, file);
      resources[uri] = data ?? new Uint8Array(0); // textures are not used
    }
  }
  const required: string[] = json?.extensionsRequired ?? [];
  if (required.length)
    throw new UserError(
      `needs the glTF extension(s) ${required.join(', ')} (compressed or extended geometry), which this reader does not decode; export the mesh without them`,
      file,
    );
  if (String(json?.asset?.version ?? '').split('.')[0] !== '2')
    throw new UserError(`glTF version ${JSON.stringify(json?.asset?.version)} is not supported (only 2.x)`, file);
  checkAccessorBounds(json, resources, bytes, file);
  try {
    doc = await io().readJSON({ json, resources: resources as Record<string, Uint8Array<ArrayBuffer>> });
  } catch (e) {
    throw new UserError(`broken glTF (${describe(e)})`, file);
  }
  const root = doc.getRoot();
  const parts: { mesh: Mesh; hasColor: boolean }[] = [];
  const seen = new Set<unknown>();
  const scene = root.getDefaultScene() ?? root.listScenes()[0];
  const visit = (node: Node) => {
    const m = node.getMesh();
    if (m) {
      seen.add(m);
      const w = node.getWorldMatrix();
      const world = w.every((v, i) => v === (i % 5 === 0 ? 1 : 0)) ? null : w;
      for (const prim of m.listPrimitives()) {
        const part = primitiveMesh(prim, world, file);
        if (part) parts.push(part);
      }
    }
    for (const c of node.listChildren()) visit(c);
  };
  if (scene) for (const n of scene.listChildren()) visit(n);
  for (const m of root.listMeshes())
    if (!seen.has(m))
      for (const prim of m.listPrimitives()) {
        const part = primitiveMesh(prim, null, file);
        if (part) parts.push(part);
      }
  if (!parts.length) throw new UserError('the glTF holds no triangle meshes', file);
  const anyColor = parts.some((p) => p.hasColor);
  const mesh = concatMeshes(parts.map((p) => ({ ...p.mesh, colors: anyColor ? p.mesh.colors : null })));
  checkMesh(mesh, file);
  return mesh;
}

/**
 * Accessor ranges against their buffer views and buffers, checked on the JSON before glTF Transform builds typed
 * arrays over them (a truncated .bin would otherwise be a RangeError or silently short data).
 */
function checkAccessorBounds(json: any, resources: Record<string, Uint8Array>, glb: Uint8Array, file: string): void {
  const bufLen = (i: number): number => {
    const b = json.buffers?.[i];
    if (!b) throw new UserError(`a buffer view names buffer ${i}, which does not exist`, file);
    if (b.uri === undefined) return resources['@glb.bin']?.byteLength ?? glb.length;
    if (typeof b.uri === 'string' && b.uri.startsWith('data:')) return b.byteLength;
    return resources[b.uri]?.byteLength ?? 0;
  };
  const views: any[] = json.bufferViews ?? [];
  views.forEach((v, i) => {
    const have = bufLen(v.buffer);
    if ((v.byteOffset ?? 0) + v.byteLength > have)
      throw new UserError(
        `buffer view ${i} runs past the end of its buffer (${(v.byteOffset ?? 0) + v.byteLength} > ${have} bytes; truncated file?)`,
        file,
      );
  });
  const SIZES: Record<number, number> = { 5120: 1, 5121: 1, 5122: 2, 5123: 2, 5125: 4, 5126: 4 };
  const COMPONENTS: Record<string, number> = { SCALAR: 1, VEC2: 2, VEC3: 3, VEC4: 4, MAT2: 4, MAT3: 9, MAT4: 16 };
  (json.accessors ?? []).forEach((a: any, i: number) => {
    if (a.bufferView === undefined) return;
    const v = views[a.bufferView];
    if (!v) throw new UserError(`accessor ${i} names buffer view ${a.bufferView}, which does not exist`, file);
    const elem = (SIZES[a.componentType] ?? 4) * (COMPONENTS[a.type] ?? 1);
    const stride = v.byteStride && v.byteStride > elem ? v.byteStride : elem;
    const need = (a.byteOffset ?? 0) + (a.count > 0 ? (a.count - 1) * stride + elem : 0);
    if (!Number.isSafeInteger(a.count) || a.count < 0 || need > v.byteLength)
      throw new UserError(`accessor ${i} (${a.count} × ${a.type}) runs past the end of buffer view ${a.bufferView}`, file);
  });
}

const MODE_TRIANGLES = 4,
  MODE_STRIP = 5,
  MODE_FAN = 6;

function primitiveMesh(prim: Primitive, world: ArrayLike<number> | null, file: string): { mesh: Mesh; hasColor: boolean } | null {
  const mode = prim.getMode();
  if (mode !== MODE_TRIANGLES && mode !== MODE_STRIP && mode !== MODE_FAN) return null;
  const posA = prim.getAttribute('POSITION');
  if (!posA) return null;
  const n = posA.getCount();
  const positions = new Float32Array(n * 3);
  const el = [0, 0, 0, 0];
  for (let i = 0; i < n; i++) {
    posA.getElement(i, el);
    let [x, y, z] = el;
    if (world) {
      const m = world;
      [x, y, z] = [m[0] * x + m[4] * y + m[8] * z + m[12], m[1] * x + m[5] * y + m[9] * z + m[13], m[2] * x + m[6] * y + m[10] * z + m[14]];
    }
    positions[3 * i] = x;
    positions[3 * i + 1] = y;
    positions[3 * i + 2] = z;
  }
  const idxA = prim.getIndices();
  const count = idxA ? idxA.getCount() : n;
  const ref = (k: number): number => {
    if (!idxA) return k;
    const v = idxA.getScalar(k);
    if (v >= n) throw new UserError(`a primitive's index ${k} names vertex ${v}, but it has only ${n} vertices`, file);
    return v;
  };
  const tri: number[] = [];
  if (mode === MODE_TRIANGLES) for (let k = 0; k + 2 < count; k += 3) tri.push(ref(k), ref(k + 1), ref(k + 2));
  else if (mode === MODE_STRIP)
    for (let k = 0; k + 2 < count; k++) {
      if (k % 2 === 0) tri.push(ref(k), ref(k + 1), ref(k + 2));
      else tri.push(ref(k + 1), ref(k), ref(k + 2));
    }
  else for (let k = 1; k + 1 < count; k++) tri.push(ref(0), ref(k), ref(k + 1));
  if (world) {
    const m = world;
    const det = m[0] * (m[5] * m[10] - m[6] * m[9]) - m[4] * (m[1] * m[10] - m[2] * m[9]) + m[8] * (m[1] * m[6] - m[2] * m[5]);
    if (det < 0) for (let k = 0; k < tri.length; k += 3) [tri[k + 1], tri[k + 2]] = [tri[k + 2], tri[k + 1]];
  }
  // colour: COLOR_0 × baseColorFactor, linear → display
  const colA = prim.getAttribute('COLOR_0');
  const factor = prim.getMaterial()?.getBaseColorFactor() ?? [1, 1, 1, 1];
  const white = factor[0] === 1 && factor[1] === 1 && factor[2] === 1;
  const colors = new Float32Array(n * 3);
  for (let i = 0; i < n; i++) {
    if (colA) colA.getElement(i, el);
    else el[0] = el[1] = el[2] = 1;
    for (let a = 0; a < 3; a++) colors[3 * i + a] = linearToSrgb(Math.min(1, Math.max(0, el[a] * factor[a])));
  }
  return { mesh: { positions, indices: Uint32Array.from(tri), colors }, hasColor: !!colA || !white };
}

/** A GLB of the mesh (see the module comment for its layout); `extras` go into the glTF's top-level extras. */
export async function writeGlb(m: Mesh, opts: { extras?: Record<string, unknown> } = {}): Promise<Uint8Array> {
  const doc = new Document();
  if (opts.extras) doc.getRoot().setExtras(opts.extras);
  const buffer = doc.createBuffer();
  const n = vertexCount(m);
  const prim = doc
    .createPrimitive()
    .setAttribute('POSITION', doc.createAccessor().setType('VEC3').setArray(m.positions.slice()).setBuffer(buffer))
    .setAttribute('NORMAL', doc.createAccessor().setType('VEC3').setArray(vertexNormals(m.positions, m.indices)).setBuffer(buffer))
    .setIndices(
      doc
        .createAccessor()
        .setType('SCALAR')
        .setArray(n <= 65535 ? Uint16Array.from(m.indices) : m.indices.slice())
        .setBuffer(buffer),
    )
    .setMaterial(doc.createMaterial('vertex colours').setBaseColorFactor([1, 1, 1, 1]).setMetallicFactor(0).setRoughnessFactor(0.8));
  if (m.colors) {
    const lin = new Float32Array(m.colors.length);
    for (let i = 0; i < lin.length; i++) lin[i] = srgbToLinear(Math.min(1, Math.max(0, m.colors[i])));
    prim.setAttribute('COLOR_0', doc.createAccessor().setType('VEC3').setArray(lin).setBuffer(buffer));
  }
  const mesh = doc.createMesh('mesh').addPrimitive(prim);
  const node = doc.createNode('mesh').setMesh(mesh);
  doc.createScene('scene').addChild(node);
  doc.getRoot().setDefaultScene(doc.getRoot().listScenes()[0]);
  return io().writeBinary(doc);
}
