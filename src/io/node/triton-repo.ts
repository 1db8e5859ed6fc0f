/**
 * Writes a Triton Inference Server model repository for an InstructPix2Pix folder (`models triton-repo`):
 * `REPO/<name>/config.pbtxt` (protobuf text format of Triton's ModelConfig: onnxruntime backend, inputs and
 * outputs from the ONNX signature, batching, instance group) and `REPO/<name>/1/model.onnx` with its external data
 * files, for the four models and `pipeline_config` (the tokenizer and scheduler config as a constant ONNX model).
 *
 * Batching: a model whose inputs and outputs all have a dynamic first dimension gets `max_batch_size` > 0 and
 * `dynamic_batching`, its dims without that first axis; otherwise `max_batch_size: 0` and the full dims. Triton's
 * dims cannot be empty, so a rank-0 input (scalar timestep) or one whose only dimension is the batch (timestep
 * [batch]) is declared `dims: [ 1 ]` with `reshape: { shape: [ ] }`; the project's client sends it that way.
 */
import { copyFile, mkdir, rename, rm } from 'node:fs/promises';
import * as path from 'node:path';
import { UserError } from '../../core/errors';
import { checkModelFolder, COMPONENTS } from '../../edit/diffusion/model-contract';
import { readModelInfo, type ModelInfo, type ValueSpec } from '../../edit/diffusion/onnx/signature';
import { serverModelName } from '../../edit/diffusion/remote/model-server-url';
import { PIPELINE_CONFIG, pipelineBundle, pipelineConfigModel } from '../../edit/diffusion/remote/pipeline-config';
import { isDirectory, nodeFiles } from './node-files';

export interface TritonRepoOptions {
  prefix?: string;
  /** max_batch_size of the models that can batch (default 8) */
  maxBatch?: number;
  /** instances per GPU (or CPU instances) of each of the four models (default 1) */
  instances?: number;
  /** where the four models run (default gpu); pipeline_config always runs on the CPU */
  kind?: 'gpu' | 'cpu';
  /** replace models already in the repository */
  force?: boolean;
}

const TRITON_TYPE: Record<string, string> = {
  bool: 'TYPE_BOOL',
  uint8: 'TYPE_UINT8',
  uint16: 'TYPE_UINT16',
  uint32: 'TYPE_UINT32',
  uint64: 'TYPE_UINT64',
  int8: 'TYPE_INT8',
  int16: 'TYPE_INT16',
  int32: 'TYPE_INT32',
  int64: 'TYPE_INT64',
  float16: 'TYPE_FP16',
  float32: 'TYPE_FP32',
  double: 'TYPE_FP64',
  string: 'TYPE_STRING',
  bfloat16: 'TYPE_BF16',
};

function canBatch(info: ModelInfo): boolean {
  return [...info.inputs, ...info.outputs].every((v) => v.shape && v.shape.length >= 1 && typeof v.shape[0] !== 'number');
}

function tensorBlock(v: ValueSpec, batched: boolean, where: string): string {
  const t = TRITON_TYPE[v.dtype];
  if (!t) throw new UserError(`'${v.name}' has element type ${v.dtype}, which Triton does not serve`, where);
  if (!v.shape) throw new UserError(`'${v.name}' has no declared shape; Triton needs one (re-export the model with shapes)`, where);
  const dims = (batched ? v.shape.slice(1) : v.shape).map((d) => (typeof d === 'number' ? d : -1));
  const lines = [`    name: "${v.name}"`, `    data_type: ${t}`];
  if (dims.length) lines.push(`    dims: [ ${dims.join(', ')} ]`);
  else lines.push('    dims: [ 1 ]', '    reshape: { shape: [ ] }');
  return `  {\n${lines.join('\n')}\n  }`;
}

/** The config.pbtxt of one model. */
export function tritonConfig(
  name: string,
  info: ModelInfo,
  o: { maxBatch: number; instances: number; kind: 'gpu' | 'cpu'; source: string },
): string {
  const batched = o.maxBatch > 0 && canBatch(info);
  const out = [
    `# Triton model configuration written by 'instruct-scene models triton-repo' from ${o.source}`,
    `name: "${name}"`,
    'backend: "onnxruntime"',
    `max_batch_size: ${batched ? o.maxBatch : 0}`,
    'input [',
    info.inputs.map((v) => tensorBlock(v, batched, o.source)).join(',\n'),
    ']',
    'output [',
    info.outputs.map((v) => tensorBlock(v, batched, o.source)).join(',\n'),
    ']',
  ];
  if (batched) out.push('dynamic_batching { }');
  out.push('instance_group [', '  {', `    count: ${o.instances}`, `    kind: ${o.kind === 'gpu' ? 'KIND_GPU' : 'KIND_CPU'}`, '  }', ']');
  return out.join('\n') + '\n';
}

async function copyAtomic(from: string, to: string): Promise<void> {
  await mkdir(path.dirname(to), { recursive: true });
  const tmp = `${to}.${process.pid}.tmp`;
  try {
    await copyFile(from, tmp);
    await rename(tmp, to);
  } catch (e) {
    await rm(tmp, { force: true });
    throw new UserError(`cannot write (${(e as Error).message})`, to);
  }
}

export interface TritonModelWritten {
  name: string;
  config: string;
  files: string[];
}

/** Writes the repository; throws a UserError (listing the folder's problems) when the folder does not fit the contract. */
export async function writeTritonRepo(dir: string, repo: string, o: TritonRepoOptions = {}): Promise<TritonModelWritten[]> {
  const check = await checkModelFolder(dir, nodeFiles);
  if (check.problems.length)
    throw new UserError(
      `the folder does not fit the InstructPix2Pix contract: ${check.problems.slice(0, 4).join('; ')}${check.problems.length > 4 ? ` (and ${check.problems.length - 4} more; run 'instruct-scene models check ${dir}')` : ''}`,
    );
  const opts = { maxBatch: o.maxBatch ?? 8, instances: o.instances ?? 1, kind: o.kind ?? 'gpu' };
  const prefix = o.prefix ?? '';
  const names = [...COMPONENTS, PIPELINE_CONFIG].map((c) => serverModelName(prefix, c));
  if (!o.force)
    for (const n of names)
      if (await isDirectory(path.join(repo, n)))
        throw new UserError(`already holds a model '${n}'; use --force to replace it, or choose another --out`, repo);
  const written: TritonModelWritten[] = [];
  for (const comp of COMPONENTS) {
    const c = check.components[comp]!;
    const name = serverModelName(prefix, comp);
    const mdir = path.join(repo, name);
    const config = tritonConfig(name, c.info, { ...opts, source: c.path });
    const files = [path.join(mdir, '1', 'model.onnx')];
    await copyAtomic(c.path, files[0]);
    for (const e of c.externalData) {
      const to = path.join(mdir, '1', e.path);
      await copyAtomic(path.join(path.dirname(c.path), e.path), to);
      files.push(to);
    }
    await nodeFiles.write(path.join(mdir, 'config.pbtxt'), config);
    written.push({ name, config: path.join(mdir, 'config.pbtxt'), files });
  }
  const pcName = serverModelName(prefix, PIPELINE_CONFIG);
  const pc = pipelineConfigModel(await pipelineBundle(dir, nodeFiles));
  const pdir = path.join(repo, pcName);
  await nodeFiles.write(path.join(pdir, '1', 'model.onnx'), pc);
  const pconfig = tritonConfig(pcName, readModelInfo(pc), {
    maxBatch: 0,
    instances: 1,
    kind: 'cpu',
    source: `${dir} (tokenizer, scheduler)`,
  });
  await nodeFiles.write(path.join(pdir, 'config.pbtxt'), pconfig);
  written.push({ name: pcName, config: path.join(pdir, 'config.pbtxt'), files: [path.join(pdir, '1', 'model.onnx')] });
  return written;
}
