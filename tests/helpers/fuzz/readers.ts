import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Camera } from '../../../src/core/camera';
import { createImage, type Image } from '../../../src/core/image';
import { Rng } from '../../../src/core/rng';
import type { Scene } from '../../../src/nerf/common/scene';
import { GaussianScene } from '../../../src/nerf/gaussian/gaussian-scene';
import { createVoxelGrid } from '../../../src/nerf/voxel/voxel-grid';
import { encodeVoxelScene } from '../../../src/io/formats/voxel-format';
import { writeGaussianPly } from '../../../src/io/formats/ply';
import { writeSplat } from '../../../src/io/formats/splat';
import { decodeImage, encodeJpeg, encodePng } from '../../../src/io/images/image-codec';
import { encode as encodePngRaw } from 'fast-png';
import { loadScene } from '../../../src/io/scenes/load-scene';
import { nodeFiles } from '../../../src/io/node/node-files';
import { checkOrbitHint, orbitCameras } from '../../../src/io/export/multiview-export';
import { decodeCheckpoint, encodeCheckpoint } from '../../../src/edit/loops/checkpoint';
import { loadTokenizer } from '../../../src/edit/diffusion/tokenizer/tokenizer';
import { checkModelFolder } from '../../../src/edit/diffusion/model-contract';
import { modelProblems } from '../../../src/edit/diffusion/pipeline';
import { createScheduler } from '../../../src/edit/diffusion/schedulers/schedulers';
import { Document, WebIO } from '@gltf-transform/core';
import { checkMesh, type Mesh } from '../../../src/nerf/mesh/mesh';
import { MeshScene } from '../../../src/nerf/mesh/mesh-scene';
import { torus, vase } from '../../../src/nerf/mesh/mesh-shapes';
import { readObj, writeObj } from '../../../src/io/formats/obj';
import { readPlyMesh, writePlyMesh } from '../../../src/io/formats/ply-mesh';
import { readGltfMesh, writeGlb } from '../../../src/io/formats/gltf-mesh';
import type { SeedKind } from './mutate';
import { FORMAT_READERS } from './readers-formats';
import { CAPTURE_MODEL_READERS } from './readers-colmap-clip';
import { REMOTE_READERS } from './readers-remote';
import {
  asciiPointCloud,
  datasetCheck,
  datasetSeed,
  enc,
  finiteIn01,
  gaussianCheck,
  json,
  modelSeed,
  readDataset,
  renderCheck,
  sampleGaussians,
} from './checks';

/**
 * The readers the fuzz campaign attacks, each with valid seed inputs (built here, in-process, so the
 * campaign needs no data files) and a check that an ACCEPTED input gave a sane result — an input that is
 * accepted and then renders NaN, or cannot be written back, is "silent garbage".
 *
 * To add a reader (a new format), append an entry to READERS (or to one of the readers-*.ts lists): a name, `seeds()` returning small valid inputs
 * as a folder of files plus the file to mutate, `read(dir)` calling the reader the way the CLI does, and
 * `check(value)` returning a problem string for garbage (or null).
 */
export interface FuzzSeed {
  /** The folder's files (relative path → bytes). */
  files: Record<string, Uint8Array>;
  /** The file the case mutates. */
  target: string;
  kind: SeedKind;
}

export interface FuzzReader {
  name: string;
  seeds(): Promise<FuzzSeed[]>;
  /** Reads the case folder as the CLI would; throws a UserError for bad input. */
  read(dir: string): Promise<unknown>;
  /** A problem with an accepted result (NaN, sizes that disagree, output that cannot be read back), or null. */
  check(value: unknown): Promise<string | null>;
  /** Stops what the reader started (servers, workers) so that the process can exit. */
  dispose?(): Promise<void>;
}

/** An accepted mesh must be whole and finite, survive every mesh writer, and render finite pixels. */
async function meshCheck(scene: MeshScene): Promise<string | null> {
  const m = scene.mesh;
  try {
    checkMesh(m, 'accepted mesh');
    readObj(writeObj(m), 'round-trip.obj');
    readPlyMesh(writePlyMesh(m), 'round-trip.ply');
    await readGltfMesh(await writeGlb(m), 'round-trip.glb');
  } catch (e) {
    return `accepted, but ${(e as Error).message}`;
  }
  if (m.colors && !m.colors.every((c) => c >= 0 && c <= 1)) return 'colours outside [0, 1]';
  return renderCheck(scene);
}

/** A scene loadScene accepted: Gaussians or (a PLY with faces) a mesh. */
async function sceneCheck(v: unknown): Promise<string | null> {
  if (v instanceof MeshScene) return meshCheck(v);
  const s = v as GaussianScene;
  return gaussianCheck(s.gaussians, s);
}

/** A small OBJ with what real files hold besides vertices and triangles: vt, vn, groups, a quad, negative indices, comments. */
function objWithExtras(): Uint8Array {
  return enc(
    [
      '# exported by a modeller',
      'mtllib box.mtl',
      'o box',
      'v -0.5 -0.5 0.5 1 0 0',
      'v 0.5 -0.5 0.5 0 1 0',
      'v 0.5 0.5 0.5 0 0 1',
      'v -0.5 0.5 0.5 1 1 0',
      'v 0 0 -0.5 0.5 0.5 0.5',
      'vt 0 0',
      'vt 1 0',
      'vn 0 0 1',
      'g front',
      'usemtl red',
      's off',
      'f 1/1/1 2/2/1 3/1/1 4/2/1',
      'f -1//1 -4//1 -5//1',
      'f 5 3 2',
      'l 1 2',
    ].join('\n') + '\n',
  );
}

/** A .gltf with its buffer in a .bin beside it (two nodes, one transformed, one mesh with COLOR_0). */
async function gltfSeed(): Promise<Record<string, Uint8Array>> {
  const doc = new Document();
  const buffer = doc.createBuffer();
  const m = torus(0.6, 0.25, 8, 5, [0.8, 0.5, 0.2]);
  const prim = doc
    .createPrimitive()
    .setAttribute('POSITION', doc.createAccessor().setType('VEC3').setArray(m.positions).setBuffer(buffer))
    .setAttribute('COLOR_0', doc.createAccessor().setType('VEC3').setArray(m.colors!).setBuffer(buffer))
    .setIndices(doc.createAccessor().setType('SCALAR').setArray(Uint16Array.from(m.indices)).setBuffer(buffer));
  const mesh = doc.createMesh('torus').addPrimitive(prim);
  const child = doc.createNode('moved').setMesh(mesh).setTranslation([0.2, 0, 0]).setScale([0.5, 0.5, 0.5]);
  const root = doc.createNode('root').setMesh(mesh).addChild(child);
  doc.createScene('scene').addChild(root);
  const { json: j, resources } = await new WebIO().writeJSON(doc, { basename: 'mesh' });
  const files: Record<string, Uint8Array> = { 'mesh.gltf': json(j) };
  for (const [k, v] of Object.entries(resources)) files[k] = v;
  return files;
}

const BASE_READERS: FuzzReader[] = [
  {
    name: 'ply',
    async seeds(): Promise<FuzzSeed[]> {
      return [
        { files: { 'scene.ply': writeGaussianPly(sampleGaussians(24, 1, 1)) }, target: 'scene.ply', kind: 'binary' },
        { files: { 'scene.ply': writeGaussianPly(sampleGaussians(5, 0, 2), { format: 'ascii' }) }, target: 'scene.ply', kind: 'text' },
        { files: { 'points.ply': asciiPointCloud() }, target: 'points.ply', kind: 'text' },
      ];
    },
    async read(dir) {
      const name = readdirSync(dir).find((f) => f.endsWith('.ply'))!;
      return loadScene(join(dir, name), nodeFiles);
    },
    check: sceneCheck,
  },
  {
    // mesh files as loadScene opens them for render, convert and stylize
    name: 'obj',
    async seeds(): Promise<FuzzSeed[]> {
      return [
        { files: { 'mesh.obj': writeObj(vase(8, 4)) }, target: 'mesh.obj', kind: 'text' },
        { files: { 'mesh.obj': objWithExtras() }, target: 'mesh.obj', kind: 'text' },
      ];
    },
    async read(dir) {
      return loadScene(join(dir, 'mesh.obj'), nodeFiles);
    },
    check: sceneCheck,
  },
  {
    name: 'mesh-ply',
    async seeds(): Promise<FuzzSeed[]> {
      const coloured: Mesh = torus(0.7, 0.3, 7, 5, [0.2, 0.6, 0.9]);
      return [
        { files: { 'mesh.ply': writePlyMesh(coloured) }, target: 'mesh.ply', kind: 'binary' },
        { files: { 'mesh.ply': writePlyMesh(vase(6, 3), { format: 'ascii' }) }, target: 'mesh.ply', kind: 'text' },
      ];
    },
    async read(dir) {
      return loadScene(join(dir, 'mesh.ply'), nodeFiles);
    },
    check: sceneCheck,
  },
  {
    name: 'glb',
    async seeds(): Promise<FuzzSeed[]> {
      return [
        { files: { 'mesh.glb': await writeGlb(vase(8, 4)) }, target: 'mesh.glb', kind: 'binary' },
        { files: { 'mesh.glb': await writeGlb(torus(0.7, 0.3, 7, 5, [0.9, 0.3, 0.1])) }, target: 'mesh.glb', kind: 'binary' },
      ];
    },
    async read(dir) {
      return loadScene(join(dir, 'mesh.glb'), nodeFiles);
    },
    check: sceneCheck,
  },
  {
    // a .gltf and its external buffer: the JSON (URIs, accessors, the node graph) and the buffer's bytes
    name: 'gltf',
    async seeds(): Promise<FuzzSeed[]> {
      const files = await gltfSeed();
      return [
        { files, target: 'mesh.gltf', kind: 'json' },
        { files, target: 'mesh.bin', kind: 'binary' },
      ];
    },
    async read(dir) {
      return loadScene(join(dir, 'mesh.gltf'), nodeFiles);
    },
    check: sceneCheck,
  },
  {
    name: 'splat',
    async seeds(): Promise<FuzzSeed[]> {
      return [{ files: { 'scene.splat': writeSplat(sampleGaussians(16, 0, 3)) }, target: 'scene.splat', kind: 'binary' }];
    },
    async read(dir) {
      return loadScene(join(dir, 'scene.splat'), nodeFiles);
    },
    async check(v) {
      const s = v as GaussianScene;
      return gaussianCheck(s.gaussians, s);
    },
  },
  {
    name: 'voxel',
    async seeds(): Promise<FuzzSeed[]> {
      const grid = createVoxelGrid({ res: [5, 4, 6], box: { min: [-1, -1, -1], max: [1, 1, 1] } });
      const rng = new Rng(4);
      for (let i = 0; i < grid.density.length; i++) grid.density[i] = rng.uniform(-5, 5);
      for (let i = 0; i < grid.color.length; i++) grid.color[i] = rng.uniform(-2, 2);
      grid.occupancy.fill(1);
      const voxel = encodeVoxelScene({ grid, background: [1, 1, 1], render: { stepRatio: 0.5, near: 0.1 }, meta: { iters: 10 } });
      const manifest = json({ format: 'instruct-scene', version: 1, kind: 'voxel', file: 'scene.voxel' });
      return [
        { files: { 'scene.voxel': voxel, 'scene.json': manifest }, target: 'scene.voxel', kind: 'binary' },
        { files: { 'scene.voxel': voxel, 'scene.json': manifest }, target: 'scene.json', kind: 'json' },
      ];
    },
    async read(dir) {
      return loadScene(dir, nodeFiles);
    },
    async check(v) {
      return renderCheck(v as Scene);
    },
  },
  {
    // a Gaussian scene folder's manifest, with the orbit hint `render --orbit` uses
    name: 'scene-json',
    async seeds(): Promise<FuzzSeed[]> {
      const manifest = json({
        format: 'instruct-scene',
        version: 1,
        kind: 'gaussians',
        file: 'scene.ply',
        background: [1, 1, 1],
        meta: { seed: 0, orbit: { center: [0, 0.2, 0], up: [0, 1, 0], radius: 3, elevation: 0.4, fovY: 0.7 } },
      });
      return [
        { files: { 'scene.ply': writeGaussianPly(sampleGaussians(8, 0, 5)), 'scene.json': manifest }, target: 'scene.json', kind: 'json' },
      ];
    },
    async read(dir) {
      const scene = await loadScene(dir, nodeFiles);
      const orbit = (scene as GaussianScene).meta?.orbit;
      const cams = orbit === undefined ? [] : orbitCameras(checkOrbitHint(orbit, dir), 3, 8, 6);
      return { scene, cams };
    },
    async check(v) {
      const { scene, cams } = v as { scene: Scene; cams: Camera[] };
      if (!scene.background.every((b) => b >= 0 && b <= 1)) return 'background out of [0, 1]';
      for (const c of cams) {
        if (!Array.from(c.c2w).every(Number.isFinite) || !(c.fx > 0) || !Number.isFinite(c.fx)) return 'orbit camera is not finite';
        const r = await scene.render(c);
        if (!r.image.data.every(Number.isFinite)) return 'orbit render is not finite';
      }
      return renderCheck(scene);
    },
  },
  {
    name: 'dataset',
    async seeds(): Promise<FuzzSeed[]> {
      const files = datasetSeed();
      return [
        { files, target: 'transforms.json', kind: 'json' },
        { files, target: 'images/f0.png', kind: 'binary' },
      ];
    },
    read: readDataset,
    check: datasetCheck,
  },
  {
    name: 'blender',
    async seeds(): Promise<FuzzSeed[]> {
      const img = createImage(6, 6, 4);
      for (let k = 0; k < img.data.length; k++) img.data[k] = (k % 5) / 4;
      const files: Record<string, Uint8Array> = { 'train/r_0.png': encodePng(img), 'test/r_0.png': encodePng(img) };
      const m = [
        [1, 0, 0, 0],
        [0, 1, 0, 0],
        [0, 0, 1, 4],
        [0, 0, 0, 1],
      ];
      for (const s of ['train', 'test'])
        files[`transforms_${s}.json`] = json({
          camera_angle_x: 0.69,
          frames: [{ file_path: `./${s}/r_0`, rotation: 0.01, transform_matrix: m }],
        });
      return [
        { files, target: 'transforms_train.json', kind: 'json' },
        { files, target: 'train/r_0.png', kind: 'binary' },
      ];
    },
    read: readDataset,
    check: datasetCheck,
  },
  {
    name: 'png',
    async seeds(): Promise<FuzzSeed[]> {
      const rgb = createImage(7, 5, 3),
        rgba = createImage(4, 4, 4),
        grey = createImage(9, 3, 1);
      for (const im of [rgb, rgba, grey]) for (let k = 0; k < im.data.length; k++) im.data[k] = ((k * 31) % 256) / 255;
      const p16 = encodePngRaw({ width: 3, height: 3, depth: 16, channels: 3, data: Uint16Array.from({ length: 27 }, (_, i) => i * 2000) });
      const pal = encodePngRaw({
        width: 4,
        height: 2,
        depth: 8,
        channels: 1,
        data: Uint8Array.from([0, 1, 2, 1, 0, 2, 2, 1]),
        palette: [
          [255, 0, 0],
          [0, 255, 0],
          [0, 0, 255],
        ],
      });
      return [encodePng(rgb), encodePng(rgba), encodePng(grey), p16, pal].map((b) => ({
        files: { 'image.png': b },
        target: 'image.png',
        kind: 'binary' as const,
      }));
    },
    async read(dir) {
      return decodeImage(await nodeFiles.read(join(dir, 'image.png')), join(dir, 'image.png'));
    },
    async check(v) {
      return finiteIn01(v as Image, 'image');
    },
  },
  {
    name: 'jpeg',
    async seeds(): Promise<FuzzSeed[]> {
      const a = createImage(16, 8, 3),
        b = createImage(5, 9, 3);
      for (const im of [a, b]) for (let k = 0; k < im.data.length; k++) im.data[k] = ((k * 17) % 256) / 255;
      return [encodeJpeg(a, 90), encodeJpeg(b, 50)].map((x) => ({
        files: { 'image.jpg': x },
        target: 'image.jpg',
        kind: 'binary' as const,
      }));
    },
    async read(dir) {
      return decodeImage(await nodeFiles.read(join(dir, 'image.jpg')), join(dir, 'image.jpg'));
    },
    async check(v) {
      return finiteIn01(v as Image, 'image');
    },
  },
  {
    name: 'checkpoint',
    async seeds(): Promise<FuzzSeed[]> {
      const rng = new Rng(6);
      const f = (n: number) => Float32Array.from({ length: n }, () => rng.uniform(-1, 1));
      const t = createImage(4, 3, 3, 0.5);
      const ckpt = encodeCheckpoint({
        settings: { cfg: { iters: 20, method: 'idu' }, views: ['a.png', 'b.png'], parentHash: 'x' },
        loop: { step: 10, rng: 12345, cursor: 1, viewsEdited: 1, targets: [t, null], editorMs: 1, refitMs: 2, renderMs: 3, lastLoss: 0.1 },
        scene: {
          meta: { level: 0, res: [3, 3, 3], adamSteps: 10 },
          arrays: { density: f(27), color: f(81), occupancy: new Uint8Array(8).fill(1), 'adam.density.t': new Uint32Array(27) },
        },
      });
      return [{ files: { 'edit.ckpt': ckpt }, target: 'edit.ckpt', kind: 'binary' }];
    },
    async read(dir) {
      return decodeCheckpoint(await nodeFiles.read(join(dir, 'edit.ckpt')), join(dir, 'edit.ckpt'));
    },
    async check(v) {
      const c = v as ReturnType<typeof decodeCheckpoint>;
      for (const [k, a] of Object.entries(c.scene.arrays))
        if (a instanceof Float32Array && !a.every(Number.isFinite)) return `${k} not finite`;
      for (const t of c.loop.targets)
        if (t && (t.data.length !== t.width * t.height * 3 || !t.data.every(Number.isFinite))) return 'target image broken';
      if (!Number.isInteger(c.loop.step) || c.loop.step < 0) return 'bad step';
      return null;
    },
  },
  {
    name: 'tokenizer',
    async seeds(): Promise<FuzzSeed[]> {
      const files = modelSeed();
      const tok: Record<string, Uint8Array> = {};
      for (const [k, b] of Object.entries(files)) if (k.startsWith('tokenizer/')) tok[k.slice(10)] = b;
      return [
        { files: tok, target: 'vocab.json', kind: 'json' },
        { files: tok, target: 'merges.txt', kind: 'text' },
        { files: tok, target: 'tokenizer_config.json', kind: 'json' },
      ];
    },
    async read(dir) {
      const tok = await loadTokenizer(dir, nodeFiles);
      return { ids: tok.encodeForModel('make the vase gold, très rouge 熊'), plain: tok.encode('make it red'), maxLength: tok.maxLength };
    },
    async check(v) {
      const { ids, plain, maxLength } = v as { ids: number[]; plain: number[]; maxLength: number };
      if (ids.length !== maxLength) return `${ids.length} ids for the model, expected ${maxLength}`;
      if (![...ids, ...plain].every((x) => Number.isInteger(x) && x >= 0)) return 'ids are not non-negative integers';
      return null;
    },
  },
  {
    // the model folder check that runs before any ONNX session: protobuf signatures, builtin.json, configs
    name: 'model',
    async seeds(): Promise<FuzzSeed[]> {
      const files = modelSeed();
      return ['unet/model.onnx', 'vae_decoder/model.onnx', 'scheduler/scheduler_config.json', 'builtin.json']
        .filter((t) => files[t])
        .map((target) => ({ files, target, kind: (target.endsWith('.json') ? 'json' : 'binary') as SeedKind }));
    },
    async read(dir) {
      // as the pipeline loads a folder before any ONNX session: the check, then the scheduler and a schedule
      const check = await checkModelFolder(dir, nodeFiles);
      if (check.problems.length) throw modelProblems(check);
      const s = createScheduler(check.schedulerConfig ?? {}, join(dir, 'scheduler/scheduler_config.json'));
      s.setTimesteps(20);
      return s;
    },
    async check(v) {
      const s = v as ReturnType<typeof createScheduler>;
      if (!s.timesteps.length || !s.timesteps.every(Number.isFinite)) return 'schedule has non-finite timesteps';
      if (!Array.from(s.alphasCumprod).every((a) => a > 0 && a <= 1)) return 'alphas_cumprod outside (0, 1]';
      return null;
    },
  },
];

/** Every reader: the formats above, then those of issues 13–15 (Gaussian formats, COLMAP, CLIP, remote inference). */
export const READERS: FuzzReader[] = [...BASE_READERS, ...FORMAT_READERS, ...CAPTURE_MODEL_READERS, ...REMOTE_READERS];

export function readerNamed(name: string): FuzzReader {
  const r = READERS.find((x) => x.name === name);
  if (!r) throw new Error(`no fuzz reader '${name}' (have: ${READERS.map((x) => x.name).join(', ')})`);
  return r;
}
