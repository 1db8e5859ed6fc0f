import { UserError } from '../../core/errors';
import { basename, joinPath } from '../../core/paths';
import type { FileSource } from '../files/files';
import { parseJson } from '../files/files';
import { decodeLabelPng } from '../images/label-png';
import type { Dataset, DatasetFrame } from './dataset';

/**
 * Ground truth that a dataset may carry for edit metrics (the demo writes both): `objects.json` beside the
 * dataset's JSON — `[{name, min, max, label}]`, each object's world box and its instance label — and
 * `instances/<frame file name>`, one 8-bit label PNG per frame (0 background, 1 ground, 2 + k object k).
 */
export interface DatasetObject {
  name: string;
  box: { min: [number, number, number]; max: [number, number, number] };
  label: number;
}

const isVec3 = (v: unknown): v is [number, number, number] =>
  Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === 'number' && Number.isFinite(x));

export async function loadDatasetObjects(ds: Dataset, files: FileSource): Promise<DatasetObject[]> {
  const file = joinPath(ds.root, 'objects.json');
  if (!(await files.exists(file))) throw new UserError('this dataset has no objects.json (the object boxes --target needs)', ds.root);
  const list = parseJson(await files.read(file), file);
  if (!Array.isArray(list)) throw new UserError('objects.json must be a list of {name, min, max, label}', file);
  return list.map((o: any, k: number) => {
    if (typeof o?.name !== 'string' || !isVec3(o.min) || !isVec3(o.max))
      throw new UserError(`object ${k} needs a name and min/max boxes of three numbers`, file);
    const label = o.label === undefined ? 2 + k : o.label;
    if (!Number.isInteger(label) || label < 2 || label > 255)
      throw new UserError(`object ${k} (${o.name}): label must be an integer in 2…255`, file);
    return { name: o.name, box: { min: o.min, max: o.max }, label };
  });
}

/**
 * A frame's instance labels at the camera's size: `instances/<name of the frame's image>` (PNG). With
 * `--downscale K` the label of each K×K block is its centre pixel's (labels are not averaged).
 */
export async function loadInstanceLabels(ds: Dataset, frame: DatasetFrame, files: FileSource): Promise<Uint8Array> {
  const file = joinPath(joinPath(ds.root, 'instances'), basename(frame.file).replace(/\.[^.]*$/, '') + '.png');
  if (!(await files.exists(file))) throw new UserError(`no instance labels for frame ${frame.file}`, file);
  const l = decodeLabelPng(await files.read(file), file);
  const { width: w, height: h } = frame.camera;
  if (l.width === w && l.height === h) return l.labels;
  const k = l.width / w;
  if (!Number.isInteger(k) || l.height !== h * k)
    throw new UserError(`labels are ${l.width}×${l.height} but the frame's camera is ${w}×${h}`, file);
  const out = new Uint8Array(w * h),
    c = Math.floor(k / 2);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out[y * w + x] = l.labels[(y * k + c) * l.width + x * k + c];
  return out;
}
