import { Document, WebIO } from '@gltf-transform/core';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UserError } from '../src/core/errors';
import { resetLimits, setLimits } from '../src/core/limits';
import { readGltfMesh, writeGlb } from '../src/io/formats/gltf-mesh';
import { readObj, writeObj } from '../src/io/formats/obj';
import { isPlyMesh, readPlyMesh, writePlyMesh } from '../src/io/formats/ply-mesh';
import { nodeFiles } from '../src/io/node/node-files';
import { readMeshFile } from '../src/io/scenes/load-mesh';
import { loadScene } from '../src/io/scenes/load-scene';
import { vertexNormals, type Mesh } from '../src/nerf/mesh/mesh';
import { torus, uvSphere, vase } from '../src/nerf/mesh/mesh-shapes';

const enc = (s: string) => new TextEncoder().encode(s);

async function rejects(p: Promise<unknown> | (() => unknown), re: RegExp, file: string) {
  let err: unknown;
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(UserError);
  const msg = (err as Error).message;
  expect(msg.startsWith(`${file}: `)).toBe(true);
  expect(msg).not.toContain('\n');
  expect(msg).toMatch(re);
}

describe('OBJ', () => {
  it('reads v/vt/vn forms, polygons, negative indices and vertex colours', () => {
    const m = readObj(
      enc(`# a quad and a triangle
o thing
v 0 0 0 1 0 0
v 1 0 0 0 1 0
v 1 1 0 0 0 1
v 0 1 0 1 1 1
vt 0 0
vn 0 0 1
usemtl x
f 1/1/1 2/1/1 3/1/1 4/1/1
v 2 0 0 0.5 0.5 0.5
f -3//1 -2//1 -1//1
`),
      'a.obj',
    );
    expect(Array.from(m.indices)).toEqual([0, 1, 2, 0, 2, 3, 2, 3, 4]);
    expect(m.positions.length).toBe(15);
    expect(Array.from(m.colors!.subarray(0, 6))).toEqual([1, 0, 0, 0, 1, 0]);
  });
  it('reads 0–255 colours and leaves uncoloured files without colours', () => {
    const m = readObj(enc('v 0 0 0 255 0 0\nv 1 0 0 0 255 0\nv 0 1 0 0 0 255\nf 1 2 3\n'), 'c.obj');
    expect(m.colors![0]).toBe(1);
    expect(m.colors![5]).toBe(0);
    expect(readObj(enc('v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n'), 'g.obj').colors).toBeNull();
  });
  it('rejects a face naming a missing vertex and NaN positions, naming the file', async () => {
    await rejects(
      () => readObj(enc('v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 4\n'), 'bad.obj'),
      /face 0 names vertex 4.*only 3 vertices/,
      'bad.obj',
    );
    await rejects(() => readObj(enc('v 0 0 0\nv nan 0 0\nv 0 1 0\nf 1 2 3\n'), 'nan.obj'), /line 2.*non-finite/, 'nan.obj');
    await rejects(() => readObj(enc('v 0 0 0\nf 1 -5 1\n'), 'neg.obj'), /before the first vertex/, 'neg.obj');
    await rejects(() => readObj(enc('v 0 0 0\n'), 'pts.obj'), /no faces/, 'pts.obj');
  });
  it('writes float32 values that read back exactly', () => {
    const s = uvSphere(7, 5, 0.731, [0.1, 0.2, 0.3]);
    const back = readObj(writeObj(s), 'x.obj');
    expect(back.positions).toEqual(s.positions);
    expect(back.indices).toEqual(s.indices);
    expect(back.colors).toEqual(s.colors);
  });
});

function plyBinary(little: boolean, header: string, rows: (dv: DataView, o: number) => number, size: number): Uint8Array {
  const h = enc(header);
  const out = new Uint8Array(h.length + size);
  out.set(h);
  const n = rows(new DataView(out.buffer, h.length), 0);
  expect(n).toBe(size);
  return out;
}

describe('PLY meshes', () => {
  it('reads ASCII with extra properties and elements, quads, uchar colours', () => {
    const m = readPlyMesh(
      enc(`ply
format ascii 1.0
comment made by hand
element vertex 4
property float x
property float y
property float z
property float nx
property uchar red
property uchar green
property uchar blue
element material 1
property float shininess
element face 1
property uchar flags
property list uchar int vertex_indices
end_header
0 0 0 0 255 0 0
1 0 0 0 0 255 0
1 1 0 0 0 0 255
0 1 0 0 255 255 255
0.5
7 4 0 1 2 3
`),
      'q.ply',
    );
    expect(Array.from(m.indices)).toEqual([0, 1, 2, 0, 2, 3]);
    expect(Array.from(m.colors!.subarray(0, 3))).toEqual([1, 0, 0]);
  });
  it('reads binary big- and little-endian files', () => {
    for (const little of [true, false]) {
      const header = `ply\nformat binary_${little ? 'little' : 'big'}_endian 1.0\nelement vertex 3\nproperty double x\nproperty double y\nproperty double z\nelement face 1\nproperty list uchar ushort vertex_index\nend_header\n`;
      const bytes = plyBinary(
        little,
        header,
        (dv) => {
          let o = 0;
          for (const v of [0, 0, 0, 2, 0, 0, 0, 3, 0]) {
            dv.setFloat64(o, v, little);
            o += 8;
          }
          dv.setUint8(o++, 3);
          for (const i of [0, 1, 2]) {
            dv.setUint16(o, i, little);
            o += 2;
          }
          return o;
        },
        72 + 7,
      );
      const m = readPlyMesh(bytes, 'b.ply');
      expect(Array.from(m.positions)).toEqual([0, 0, 0, 2, 0, 0, 0, 3, 0]);
      expect(Array.from(m.indices)).toEqual([0, 1, 2]);
      expect(m.colors).toBeNull();
    }
  });
  it('rejects a lying header before allocating, a missing vertex, and truncated lists', async () => {
    const lying = enc(
      'ply\nformat binary_little_endian 1.0\nelement vertex 4000000000\nproperty float x\nproperty float y\nproperty float z\nelement face 1\nproperty list uchar int vertex_indices\nend_header\n\0\0\0\0',
    );
    await rejects(() => readPlyMesh(lying, 'lie.ply'), /count \(4,000,000,000\) is over the limit/, 'lie.ply');
    const under = enc(new TextDecoder().decode(lying).replace('4000000000', '30000000'));
    await rejects(() => readPlyMesh(under, 'lie2.ply'), /promises 30000000 vertex/, 'lie2.ply');
    const bad = writePlyMesh({ positions: new Float32Array(9), indices: Uint32Array.from([0, 1, 2]), colors: null }, { format: 'ascii' });
    const text = new TextDecoder().decode(bad).replace('3 0 1 2', '3 0 1 9');
    await rejects(() => readPlyMesh(enc(text), 'miss.ply'), /face 0 names vertex 9, but the file has only 3/, 'miss.ply');
    const bin = writePlyMesh(vase(6, 3));
    await rejects(() => readPlyMesh(bin.subarray(0, bin.length - 5), 'cut.ply'), /past the end|truncated/, 'cut.ply');
  });
  it('round-trips binary and ASCII, colours to 1/255', () => {
    const t = torus(0.7, 0.3, 9, 7, [0.2, 0.5, 0.9]);
    for (const format of ['binary', 'ascii'] as const) {
      const bytes = writePlyMesh(t, { format });
      expect(isPlyMesh(bytes, 'x.ply')).toBe(true);
      const back = readPlyMesh(bytes, 'x.ply');
      expect(back.positions).toEqual(t.positions);
      expect(back.indices).toEqual(t.indices);
      for (let i = 0; i < t.colors!.length; i++) expect(Math.abs(back.colors![i] - t.colors![i])).toBeLessThanOrEqual(0.5 / 255 + 1e-7);
    }
  });
});

/** A glTF with two nodes (translated / scaled, one mirrored), two primitives, normalised u8 COLOR_0 and a base colour. */
async function twoNodeDoc(): Promise<Document> {
  const doc = new Document();
  const buf = doc.createBuffer();
  const tri = (colors: boolean) => {
    const p = doc
      .createPrimitive()
      .setAttribute(
        'POSITION',
        doc
          .createAccessor()
          .setType('VEC3')
          .setArray(Float32Array.from([0, 0, 0, 1, 0, 0, 0, 1, 0]))
          .setBuffer(buf),
      )
      .setIndices(
        doc
          .createAccessor()
          .setType('SCALAR')
          .setArray(Uint16Array.from([0, 1, 2]))
          .setBuffer(buf),
      );
    if (colors)
      p.setAttribute(
        'COLOR_0',
        doc
          .createAccessor()
          .setType('VEC4')
          .setArray(Uint8Array.from([255, 0, 0, 255, 0, 255, 0, 255, 0, 0, 255, 255]))
          .setNormalized(true)
          .setBuffer(buf),
      );
    else p.setMaterial(doc.createMaterial().setBaseColorFactor([0.2140411, 0.2140411, 0.2140411, 1])); // linear of sRGB 0.5
    return p;
  };
  const mesh = doc.createMesh().addPrimitive(tri(true)).addPrimitive(tri(false));
  const parent = doc.createNode('parent').setTranslation([10, 0, 0]);
  parent.addChild(doc.createNode('a').setMesh(mesh).setScale([2, 2, 2]));
  const mirror = doc.createNode('b').setMesh(mesh).setScale([-1, 1, 1]);
  doc.createScene().addChild(parent).addChild(mirror);
  return doc;
}

describe('glTF meshes', () => {
  it('reads all primitives of all nodes with transforms, colours and base colours', async () => {
    const glb = await new WebIO().writeBinary(await twoNodeDoc());
    const m = await readGltfMesh(glb, 'two.glb');
    expect(m.positions.length).toBe(4 * 9);
    expect(m.indices.length).toBe(12);
    // node a: translate 10 after scale 2
    expect(Array.from(m.positions.subarray(0, 9))).toEqual([10, 0, 0, 12, 0, 0, 10, 2, 0]);
    // colours: u8 normalised linear → display (exact for 0 and 1), the material's base colour → 0.5
    expect(Array.from(m.colors!.subarray(0, 3)).map((v) => +v.toFixed(5))).toEqual([1, 0, 0]);
    expect(m.colors![9]).toBeCloseTo(0.5, 4);
    // the mirrored node's triangles keep facing the same way after the flip
    const nrm = vertexNormals(m.positions, m.indices);
    expect(nrm[3 * 6 + 2]).toBeCloseTo(1, 5);
    expect(nrm[2]).toBeCloseTo(1, 5);
  });
  it('reads .gltf with an external buffer and with a data URI', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gltf-'));
    const io = new WebIO();
    const jd = await io.writeJSON(await twoNodeDoc(), { basename: 'two' });
    writeFileSync(join(dir, 'two.gltf'), JSON.stringify(jd.json));
    for (const [k, v] of Object.entries(jd.resources)) writeFileSync(join(dir, k), v);
    const m = await readMeshFile(join(dir, 'two.gltf'), nodeFiles);
    expect(m.indices.length).toBe(12);
    // embedded as a data URI
    const [name, bin] = Object.entries(jd.resources)[0];
    const json = JSON.parse(JSON.stringify(jd.json));
    json.buffers[0].uri = `data:application/octet-stream;base64,${Buffer.from(bin).toString('base64')}`;
    writeFileSync(join(dir, 'embedded.gltf'), JSON.stringify(json));
    expect((await readMeshFile(join(dir, 'embedded.gltf'), nodeFiles)).positions).toEqual(m.positions);
    // a missing buffer is one line
    writeFileSync(join(dir, 'lost.gltf'), JSON.stringify({ ...jd.json, buffers: [{ ...jd.json.buffers![0], uri: 'lost.bin' }] }));
    await rejects(readMeshFile(join(dir, 'lost.gltf'), nodeFiles), /buffer 'lost.bin'.*missing/, join(dir, 'lost.gltf'));
    expect(name).toMatch(/\.bin$/);
    // URIs name files inside the .gltf's folder: absolute paths, '..' out of it and broken escapes are one line, nothing read
    writeFileSync(join(dir, 'secret.bin'), bin);
    const inner = join(dir, 'inner');
    mkdirSync(inner);
    for (const [uri, re] of [
      ['../secret.bin', /buffer or image URI "..\/secret.bin" leaves its folder/],
      [join(dir, 'secret.bin'), /is absolute/],
      ['%E0%A4%A', /is not a valid URI/],
    ] as const) {
      writeFileSync(join(inner, 'escape.gltf'), JSON.stringify({ ...jd.json, buffers: [{ ...jd.json.buffers![0], uri }] }));
      await rejects(readMeshFile(join(inner, 'escape.gltf'), nodeFiles), re, join(inner, 'escape.gltf'));
    }
    writeFileSync(join(inner, 'image.gltf'), JSON.stringify({ ...json, images: [{ uri: '../../../etc/passwd' }] }));
    await rejects(
      readMeshFile(join(inner, 'image.gltf'), nodeFiles),
      /image 0's URI "..\/..\/..\/etc\/passwd" leaves its folder/,
      join(inner, 'image.gltf'),
    );
  });
  it('rejects truncated GLBs, out-of-range indices and NaN positions', async () => {
    const glb = await writeGlb(vase(8, 4));
    await rejects(readGltfMesh(glb.subarray(0, glb.length - 100), 'cut.glb'), /truncated GLB/, 'cut.glb');
    await rejects(readGltfMesh(glb.subarray(0, 10), 'tiny.glb'), /truncated GLB/, 'tiny.glb');
    const doc = new Document();
    const buf = doc.createBuffer();
    const prim = doc
      .createPrimitive()
      .setAttribute(
        'POSITION',
        doc
          .createAccessor()
          .setType('VEC3')
          .setArray(Float32Array.from([0, 0, 0, 1, 0, 0, NaN, 1, 0]))
          .setBuffer(buf),
      )
      .setIndices(
        doc
          .createAccessor()
          .setType('SCALAR')
          .setArray(Uint16Array.from([0, 1, 2]))
          .setBuffer(buf),
      );
    doc.createScene().addChild(doc.createNode().setMesh(doc.createMesh().addPrimitive(prim)));
    await rejects(readGltfMesh(await new WebIO().writeBinary(doc), 'nan.glb'), /vertex 2 has a non-finite position/, 'nan.glb');
    prim.getAttribute('POSITION')!.setArray(Float32Array.from([0, 0, 0, 1, 0, 0, 0, 1, 0]));
    prim.getIndices()!.setArray(Uint16Array.from([0, 1, 7]));
    await rejects(readGltfMesh(await new WebIO().writeBinary(doc), 'idx.glb'), /names vertex 7, but it has only 3/, 'idx.glb');
  });
  it('rejects accessors and buffer views that promise more than the file holds (before building arrays)', async () => {
    const glb = await writeGlb(vase(8, 4));
    const dv = new DataView(glb.buffer, glb.byteOffset, glb.byteLength);
    const jsonLen = dv.getUint32(12, true);
    const json = JSON.parse(new TextDecoder().decode(glb.subarray(20, 20 + jsonLen)));
    const bin = glb.subarray(20 + jsonLen);
    const rebuild = (j: any) => {
      const text = new TextEncoder().encode(JSON.stringify(j).padEnd(Math.ceil(JSON.stringify(j).length / 4) * 4, ' '));
      const out = new Uint8Array(20 + text.length + bin.length);
      const o = new DataView(out.buffer);
      o.setUint32(0, 0x46546c67, true);
      o.setUint32(4, 2, true);
      o.setUint32(8, out.length, true);
      o.setUint32(12, text.length, true);
      o.setUint32(16, 0x4e4f534a, true);
      out.set(text, 20);
      out.set(bin, 20 + text.length);
      return out;
    };
    expect((await readGltfMesh(rebuild(json), 'same.glb')).indices.length).toBe(vase(8, 4).indices.length);
    const lyingAccessor = structuredClone(json);
    lyingAccessor.accessors[0].count = 1_000_000;
    await rejects(readGltfMesh(rebuild(lyingAccessor), 'acc.glb'), /accessor 0 .* runs past the end of buffer view/, 'acc.glb');
    lyingAccessor.accessors[0].count = 1_000_000_000;
    await rejects(readGltfMesh(rebuild(lyingAccessor), 'acc.glb'), /accessor 0's count \(1,000,000,000\) is over the limit/, 'acc.glb');
    // a sparse accessor has no buffer view of its own: its count is checked against the limit, its sections against their views
    const sparse = structuredClone(json);
    sparse.accessors.push({
      componentType: 5126,
      type: 'VEC3',
      count: 3,
      sparse: { count: 100, indices: { bufferView: 0, componentType: 5125 }, values: { bufferView: 0 } },
    });
    await rejects(readGltfMesh(rebuild(sparse), 'sparse.glb'), /broken sparse section/, 'sparse.glb');
    sparse.accessors[sparse.accessors.length - 1] = { componentType: 5126, type: 'VEC3', count: 2 ** 31 };
    await rejects(readGltfMesh(rebuild(sparse), 'sparse.glb'), /count \(2,147,483,648\) is over the limit/, 'sparse.glb');
    // a node graph with a cycle, and a node with two parents, would never finish (or repeat) the traversal
    const cyclic = structuredClone(json);
    cyclic.nodes.push({ children: [2] }, { children: [1] });
    await rejects(readGltfMesh(rebuild(cyclic), 'cycle.glb'), /own ancestor/, 'cycle.glb');
    const twoParents = structuredClone(json);
    twoParents.nodes.push({ children: [0] }, { children: [0] });
    await rejects(readGltfMesh(rebuild(twoParents), 'parents.glb'), /two parents/, 'parents.glb');
    // one small mesh used by many nodes: the copies are counted before any is made
    const many = structuredClone(json);
    const uses = Array.from({ length: 300 }, () => ({ mesh: 0 }));
    many.nodes = [{ children: uses.map((_, i) => i + 1) }, ...uses];
    many.scenes = [{ nodes: [0] }];
    setLimits({ elements: 200 * (vase(8, 4).positions.length / 3) });
    try {
      await rejects(
        readGltfMesh(rebuild(many), 'many.glb'),
        /glTF (vertices|triangles) \(over every use of every mesh\) .* over the limit/,
        'many.glb',
      );
    } finally {
      resetLimits();
    }
    expect((await readGltfMesh(rebuild(many), 'many.glb')).positions.length).toBe(300 * vase(8, 4).positions.length);
    await rejects(readGltfMesh(rebuild({ ...json, extensionsRequired: 'KHR_x' }), 'ext.glb'), /must be a list/, 'ext.glb');
    const lyingView = structuredClone(json);
    lyingView.bufferViews[0].byteLength = 1 << 30;
    await rejects(readGltfMesh(rebuild(lyingView), 'view.glb'), /buffer view 0 runs past the end of its buffer/, 'view.glb');
    const draco = { ...structuredClone(json), extensionsRequired: ['KHR_draco_mesh_compression'] };
    await rejects(readGltfMesh(rebuild(draco), 'draco.glb'), /KHR_draco_mesh_compression/, 'draco.glb');
  });

  it('writes one primitive with the same vertices, faces and colours', async () => {
    const s = torus(0.7, 0.3, 11, 5, [0.9, 0.4, 0.1]);
    const back = await readGltfMesh(await writeGlb(s), 's.glb');
    expect(back.positions).toEqual(s.positions);
    expect(back.indices).toEqual(s.indices);
    for (let i = 0; i < s.colors!.length; i++) expect(back.colors![i]).toBeCloseTo(s.colors![i], 5);
  });
});

describe('round trips and loading', () => {
  it('.obj → .glb → .ply → .obj keeps vertices, faces and colours', async () => {
    const m0: Mesh = vase(12, 8);
    m0.colors = new Float32Array(m0.positions.length);
    for (let i = 0; i < m0.colors.length; i++) m0.colors[i] = ((i * 37) % 256) / 255;
    const obj1 = readObj(writeObj(m0), 'a.obj');
    const glb = await readGltfMesh(await writeGlb(obj1), 'b.glb');
    const ply = readPlyMesh(writePlyMesh(glb), 'c.ply');
    const obj2 = readObj(writeObj(ply), 'd.obj');
    expect(obj2.positions).toEqual(m0.positions);
    expect(obj2.indices).toEqual(m0.indices);
    for (let i = 0; i < m0.colors.length; i++) expect(Math.abs(obj2.colors![i] - m0.colors[i])).toBeLessThan(1e-5);
  });
  it('loadScene opens mesh files and tells mesh PLYs from Gaussian PLYs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'meshscene-'));
    writeFileSync(join(dir, 'v.ply'), writePlyMesh(vase(8, 4)));
    writeFileSync(join(dir, 'v.obj'), writeObj(vase(8, 4)));
    writeFileSync(join(dir, 'v.glb'), await writeGlb(vase(8, 4)));
    for (const f of ['v.ply', 'v.obj', 'v.glb']) expect((await loadScene(join(dir, f), nodeFiles)).kind).toBe('mesh');
    writeFileSync(
      join(dir, 'pts.ply'),
      enc('ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nproperty float y\nproperty float z\nend_header\n0 0 0\n'),
    );
    expect((await loadScene(join(dir, 'pts.ply'), nodeFiles)).kind).toBe('gaussians');
    await rejects(readMeshFile(join(dir, 'pts.ply'), nodeFiles), /no faces/, join(dir, 'pts.ply'));
  });
  it('generated shapes have outward normals', () => {
    const outward = (m: Mesh, dir: (p: number[]) => number[]) => {
      const n = vertexNormals(m.positions, m.indices);
      for (let i = 0; i < n.length / 3; i++) {
        const d = dir([m.positions[3 * i], m.positions[3 * i + 1], m.positions[3 * i + 2]]);
        expect(n[3 * i] * d[0] + n[3 * i + 1] * d[1] + n[3 * i + 2] * d[2]).toBeGreaterThan(0);
      }
    };
    outward(uvSphere(12, 6), (p) => p);
    outward(torus(0.7, 0.3, 12, 8), (p) => {
      const r = Math.hypot(p[0], p[2]);
      return [p[0] - (0.7 * p[0]) / r, p[1], p[2] - (0.7 * p[2]) / r];
    });
    // the vase's wall points away from the axis (its lip flares, so only the radial part is checked), its bottom down
    outward(vase(12, 6), (p) => (Math.hypot(p[0], p[2]) < 1e-6 ? [0, -1, 0] : [p[0], 0, p[2]]));
  });
});
