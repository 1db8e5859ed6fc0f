import { Document, Logger, WebIO, type Node, type Primitive } from '@gltf-transform/core';
import { describeValue, UserError } from '../../core/errors';
import { checkLimit } from '../../core/limits';
import { insidePathProblem } from '../../core/paths';
import { parseJson } from '../files/files';
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

/** Checks a GLB's header and chunk table against the bytes present, and returns its JSON chunk and BIN chunk. */
function splitGlb(bytes: Uint8Array, file: string): { json: Uint8Array; bin: Uint8Array | null } {
  if (bytes.length < 20) throw new UserError(`truncated GLB (${bytes.length} bytes; a GLB has a 12-byte header and a JSON chunk)`, file);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = dv.getUint32(4, true),
    length = dv.getUint32(8, true);
  if (version !== 2) throw new UserError(`GLB version ${version} is not supported (glTF 2.0 files have version 2)`, file);
  if (length > bytes.length) throw new UserError(`truncated GLB: its header says ${length} bytes, the file holds ${bytes.length}`, file);
  let off = 12,
    chunk = 0;
  let json: Uint8Array | null = null,
    bin: Uint8Array | null = null;
  while (off < length) {
    if (off + 8 > length) throw new UserError(`truncated GLB: chunk ${chunk} header runs past the end`, file);
    const clen = dv.getUint32(off, true),
      type = dv.getUint32(off + 4, true);
    if (off + 8 + clen > length)
      throw new UserError(`truncated GLB: chunk ${chunk} says ${clen} bytes but only ${length - off - 8} follow`, file);
    if (chunk === 0 && type !== CHUNK_JSON) throw new UserError('broken GLB: the first chunk is not JSON', file);
    if (chunk === 1 && type !== CHUNK_BIN && type !== CHUNK_JSON) throw new UserError('broken GLB: unknown second chunk type', file);
    if (chunk === 0) json = bytes.subarray(off + 8, off + 8 + clen);
    else if (chunk === 1 && type === CHUNK_BIN) bin = bytes.subarray(off + 8, off + 8 + clen);
    off += 8 + clen;
    chunk++;
  }
  if (!json) throw new UserError('broken GLB: no JSON chunk', file);
  return { json, bin };
}

function describe(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  return m.split('\n')[0].slice(0, 200);
}

/** Bytes a base64 data URI decodes to (null when it is not base64). */
function dataUriBytes(uri: string): number | null {
  const comma = uri.indexOf(',');
  if (comma < 0 || !/;base64$/i.test(uri.slice(0, comma))) return null;
  const n = uri.length - comma - 1;
  const pad = uri.endsWith('==') ? 2 : uri.endsWith('=') ? 1 : 0;
  return Math.floor((n * 3) / 4) - pad;
}

/**
 * Reads a `.glb` or `.gltf` (bytes of the file; `load` resolves a .gltf's external buffers, and must keep them
 * inside the file's folder: see resourcesBeside in src/io/scenes/load-mesh.ts). The JSON is checked before glTF
 * Transform sees it (structure, index ranges, the node graph, accessor ranges, counts within limits.elements),
 * so a lying or hostile file is one UserError naming it. Images are not read (textures are not sampled); their
 * URIs must still name files inside the folder.
 */
export async function readGltfMesh(bytes: Uint8Array, file: string, load?: ResourceLoader): Promise<Mesh> {
  let json: any;
  const resources: Record<string, Uint8Array> = {};
  if (isGlb(bytes)) {
    const glb = splitGlb(bytes, file);
    json = parseJson(glb.json, file);
    if (glb.bin) resources['@glb.bin'] = glb.bin;
  } else {
    if (bytes.length && bytes[0] !== 0x7b && !/^\s*\{/.test(new TextDecoder().decode(bytes.subarray(0, 64))))
      throw new UserError('not a glTF file (neither GLB nor JSON)', file);
    json = parseJson(bytes, file);
  }
  checkGltfJson(json, file);
  const buffers: any[] = json.buffers ?? [];
  for (const [i, b] of buffers.entries()) {
    const uri = b.uri;
    if (uri === undefined || uri.startsWith('data:') || uri in resources) continue;
    let rel: string;
    try {
      rel = decodeURIComponent(uri);
    } catch {
      throw new UserError(`buffer ${i}'s URI ${JSON.stringify(uri.slice(0, 80))} is not a valid URI`, file);
    }
    const data = load ? await load(rel) : null;
    if (!data) throw new UserError(`the buffer '${uri.slice(0, 200)}' it names is missing (keep it beside the .gltf)`, file);
    resources[uri] = data;
  }
  for (const [i, im] of ((json.images ?? []) as any[]).entries()) {
    const uri = im.uri;
    if (uri === undefined || uri.startsWith('data:') || uri in resources) continue;
    let rel: string;
    try {
      rel = decodeURIComponent(uri);
    } catch {
      throw new UserError(`image ${i}'s URI ${JSON.stringify(uri.slice(0, 80))} is not a valid URI`, file);
    }
    const problem = insidePathProblem(rel);
    if (problem) throw new UserError(`image ${i}'s URI ${JSON.stringify(rel.slice(0, 200))} ${problem}`, file);
    resources[uri] = new Uint8Array(0); // textures are not sampled: the image is not read
  }
  checkAccessorBounds(json, resources, file);
  let doc: Document;
  try {
    doc = await io().readJSON({ json, resources: resources as Record<string, Uint8Array<ArrayBuffer>> });
  } catch (e) {
    throw new UserError(`broken glTF (${describe(e)})`, file);
  }
  try {
    return gltfMesh(doc, file);
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`broken glTF (${describe(e)})`, file);
  }
}

/** Every triangle primitive of the document as one mesh (see the module comment). */
function gltfMesh(doc: Document, file: string): Mesh {
  const root = doc.getRoot();
  const parts: { mesh: Mesh; hasColor: boolean }[] = [];
  const seen = new Set<unknown>();
  const scene = root.getDefaultScene() ?? root.listScenes()[0];
  // a mesh used by many nodes is copied for each: the sum over every use is what must fit
  let vertices = 0,
    corners = 0;
  const take = (prim: Primitive, world: ArrayLike<number> | null) => {
    const n = prim.getAttribute('POSITION')?.getCount() ?? 0;
    vertices += n;
    corners += prim.getIndices()?.getCount() ?? n;
    checkLimit('elements', vertices, 'glTF vertices (over every use of every mesh)', file);
    checkLimit('elements', corners / 3, 'glTF triangles (over every use of every mesh)', file);
    const part = primitiveMesh(prim, world, file);
    if (part) parts.push(part);
  };
  const visit = (node: Node) => {
    const m = node.getMesh();
    if (m) {
      seen.add(m);
      const w = node.getWorldMatrix();
      if (!w.every(Number.isFinite)) throw new UserError(`node '${node.getName()}' has a non-finite transform`, file);
      const world = w.every((v, i) => v === (i % 5 === 0 ? 1 : 0)) ? null : w;
      for (const prim of m.listPrimitives()) take(prim, world);
    }
    for (const c of node.listChildren()) visit(c);
  };
  if (scene) for (const n of scene.listChildren()) visit(n);
  for (const m of root.listMeshes()) if (!seen.has(m)) for (const prim of m.listPrimitives()) take(prim, null);
  if (!parts.length) throw new UserError('the glTF holds no triangle meshes', file);
  const anyColor = parts.some((p) => p.hasColor);
  const mesh = concatMeshes(parts.map((p) => ({ ...p.mesh, colors: anyColor ? p.mesh.colors : null })));
  checkMesh(mesh, file);
  return mesh;
}

const isObj = (v: unknown): v is Record<string, any> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isIndex = (v: unknown, n: number) => Number.isInteger(v) && (v as number) >= 0 && (v as number) < n;
const isSize = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;

/**
 * The glTF JSON's structure, before glTF Transform builds anything from it: the asset version, required
 * extensions (none is decoded), the top-level arrays, every index into them, buffer URIs, buffer view and
 * accessor fields, accessor counts within limits.elements, and a node graph that is a forest (no node with two
 * parents, no cycle: the traversal would never end).
 */
function checkGltfJson(json: any, file: string): void {
  const bad = (what: string) => new UserError(what, file);
  if (!isObj(json) || !isObj(json.asset)) throw bad('not a glTF file (no "asset" object)');
  if (String(json.asset.version ?? '').split('.')[0] !== '2')
    throw bad(`glTF version ${describeValue(json.asset.version, 20)} is not supported (only 2.x)`);
  const required = json.extensionsRequired ?? [];
  if (!Array.isArray(required) || !required.every((x: unknown) => typeof x === 'string'))
    throw bad('"extensionsRequired" must be a list of extension names');
  if (required.length)
    throw bad(
      `needs the glTF extension(s) ${required.slice(0, 5).join(', ').slice(0, 200)} (compressed or extended geometry), which this reader does not decode; export the mesh without them`,
    );
  const arr = (k: string): any[] => {
    const v = json[k] ?? [];
    if (!Array.isArray(v) || !v.every(isObj)) throw bad(`"${k}" must be a list of objects`);
    return v;
  };
  const buffers = arr('buffers'),
    views = arr('bufferViews'),
    accessors = arr('accessors'),
    meshes = arr('meshes'),
    nodes = arr('nodes'),
    scenes = arr('scenes');
  arr('images');
  arr('materials');
  for (const [i, im] of json.images?.entries() ?? [])
    if (im.uri !== undefined && typeof im.uri !== 'string') throw bad(`image ${i}'s "uri" is not a string`);
  buffers.forEach((b, i) => {
    if (!isSize(b.byteLength)) throw bad(`buffer ${i}'s byteLength ${describeValue(b.byteLength, 20)} is not a size`);
    if (b.uri !== undefined && typeof b.uri !== 'string') throw bad(`buffer ${i}'s "uri" is not a string`);
  });
  views.forEach((v, i) => {
    if (!isIndex(v.buffer, buffers.length)) throw bad(`buffer view ${i} names buffer ${describeValue(v.buffer, 20)}, which does not exist`);
    if (!isSize(v.byteLength) || (v.byteOffset !== undefined && !isSize(v.byteOffset)))
      throw bad(`buffer view ${i} has a bad byteLength or byteOffset`);
    if (v.byteStride !== undefined && !(Number.isInteger(v.byteStride) && v.byteStride >= 4 && v.byteStride <= 252))
      throw bad(`buffer view ${i} has a bad byteStride ${describeValue(v.byteStride, 20)}`);
  });
  accessors.forEach((a, i) => {
    if (!isSize(a.count)) throw bad(`accessor ${i}'s count ${describeValue(a.count, 20)} is not a count`);
    checkLimit('elements', a.count, `glTF accessor ${i}'s count`, file);
    if (!(a.componentType in COMPONENT_BYTES))
      throw bad(`accessor ${i} has an unknown componentType ${describeValue(a.componentType, 20)}`);
    if (!(a.type in COMPONENTS)) throw bad(`accessor ${i} has an unknown type ${describeValue(a.type, 20)}`);
    if (a.bufferView !== undefined && !isIndex(a.bufferView, views.length))
      throw bad(`accessor ${i} names buffer view ${describeValue(a.bufferView, 20)}, which does not exist`);
    if (a.byteOffset !== undefined && !isSize(a.byteOffset)) throw bad(`accessor ${i} has a bad byteOffset`);
    if (a.sparse !== undefined) {
      const sp = a.sparse;
      if (!isObj(sp) || !isSize(sp.count) || sp.count > a.count || !isObj(sp.indices) || !isObj(sp.values))
        throw bad(`accessor ${i} has a broken sparse section`);
      for (const part of [sp.indices, sp.values])
        if (!isIndex(part.bufferView, views.length) || (part.byteOffset !== undefined && !isSize(part.byteOffset)))
          throw bad(`accessor ${i}'s sparse section names a buffer view that does not exist`);
      if (![5121, 5123, 5125].includes(sp.indices.componentType)) throw bad(`accessor ${i}'s sparse indices have a bad componentType`);
    }
  });
  meshes.forEach((m, i) => {
    if (!Array.isArray(m.primitives) || !m.primitives.every(isObj)) throw bad(`mesh ${i} has no list of primitives`);
    for (const p of m.primitives) {
      if (!isObj(p.attributes)) throw bad(`a primitive of mesh ${i} has no attributes`);
      for (const [k, a] of Object.entries(p.attributes))
        if (!isIndex(a, accessors.length))
          throw bad(`mesh ${i}'s ${k.slice(0, 40)} names accessor ${describeValue(a, 20)}, which does not exist`);
      if (p.indices !== undefined && !isIndex(p.indices, accessors.length))
        throw bad(`mesh ${i}'s indices name accessor ${describeValue(p.indices, 20)}, which does not exist`);
    }
  });
  const parent = new Int32Array(nodes.length).fill(-1);
  nodes.forEach((n, i) => {
    if (n.mesh !== undefined && !isIndex(n.mesh, meshes.length))
      throw bad(`node ${i} names mesh ${describeValue(n.mesh, 20)}, which does not exist`);
    const kids = n.children ?? [];
    if (!Array.isArray(kids)) throw bad(`node ${i}'s children are not a list`);
    for (const c of kids) {
      if (!isIndex(c, nodes.length)) throw bad(`node ${i} names child ${describeValue(c, 20)}, which does not exist`);
      if (parent[c] >= 0 || c === i) throw bad(`node ${c} has two parents (a glTF node graph must be a tree)`);
      parent[c] = i;
    }
    for (const k of ['matrix', 'translation', 'rotation', 'scale'])
      if (n[k] !== undefined && !(Array.isArray(n[k]) && n[k].every((x: unknown) => typeof x === 'number' && Number.isFinite(x))))
        throw bad(`node ${i}'s ${k} is not a list of finite numbers`);
  });
  // with one parent each, a cycle is a loop of parents that never reaches a root
  for (let i = 0; i < nodes.length; i++) {
    let j = i,
      steps = 0;
    while (parent[j] >= 0 && steps <= nodes.length) {
      j = parent[j];
      steps++;
    }
    if (steps > nodes.length) throw bad(`node ${i} is its own ancestor (a cycle in the node graph)`);
  }
  scenes.forEach((sc, i) => {
    const roots = sc.nodes ?? [];
    if (!Array.isArray(roots) || !roots.every((n: unknown) => isIndex(n, nodes.length)))
      throw bad(`scene ${i} names nodes that do not exist`);
  });
  if (json.scene !== undefined && !isIndex(json.scene, scenes.length))
    throw bad(`the default scene ${describeValue(json.scene, 20)} does not exist`);
}

const COMPONENT_BYTES: Record<number, number> = { 5120: 1, 5121: 1, 5122: 2, 5123: 2, 5125: 4, 5126: 4 };
const COMPONENTS: Record<string, number> = { SCALAR: 1, VEC2: 2, VEC3: 3, VEC4: 4, MAT2: 4, MAT3: 9, MAT4: 16 };

/**
 * Accessor ranges against their buffer views and buffers (the actual bytes: the BIN chunk, an external file, a
 * data URI's decoded length), checked before glTF Transform builds typed arrays over them (a truncated .bin
 * would otherwise be a RangeError or silently short data).
 */
function checkAccessorBounds(json: any, resources: Record<string, Uint8Array>, file: string): void {
  const bufLen = (i: number): number => {
    const b = json.buffers[i];
    if (b.uri === undefined) return resources['@glb.bin']?.byteLength ?? 0;
    if (b.uri.startsWith('data:')) return dataUriBytes(b.uri) ?? 0;
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
  const range = (i: number, view: number, offset: number, count: number, elem: number, what: string) => {
    const v = views[view];
    const stride = v.byteStride && v.byteStride > elem ? v.byteStride : elem;
    const need = offset + (count > 0 ? (count - 1) * stride + elem : 0);
    if (need > v.byteLength) throw new UserError(`accessor ${i}${what} (${count} elements) runs past the end of buffer view ${view}`, file);
  };
  (json.accessors ?? []).forEach((a: any, i: number) => {
    const elem = COMPONENT_BYTES[a.componentType] * COMPONENTS[a.type];
    if (a.bufferView !== undefined) range(i, a.bufferView, a.byteOffset ?? 0, a.count, elem, '');
    const sp = a.sparse;
    if (sp) {
      range(i, sp.indices.bufferView, sp.indices.byteOffset ?? 0, sp.count, COMPONENT_BYTES[sp.indices.componentType], "'s sparse indices");
      range(i, sp.values.bufferView, sp.values.byteOffset ?? 0, sp.count, elem, "'s sparse values");
    }
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
