/** The CLI's commands, loaded lazily so each stays in its own file and start-up stays fast. */
export interface CommandModule {
  run(args: string[]): Promise<number | void>;
}
export interface Command {
  summary: string;
  load(): Promise<CommandModule>;
}

export const commands: Record<string, Command> = {
  demo: { summary: 'build the built-in demo scene, fit it and write renders to ./out', load: () => import('./cmd-demo') },
  'demo-data': { summary: 'write the built-in synthetic multiview dataset', load: () => import('./cmd-demo-data') },
  fit: { summary: 'fit a scene (voxel grid or Gaussians) to a posed dataset', load: () => import('./cmd-fit') },
  eval: { summary: 'PSNR / SSIM of a scene against a dataset split', load: () => import('./cmd-eval') },
  render: { summary: 'render a scene at dataset cameras or on an orbit (multiview export)', load: () => import('./cmd-render') },
  convert: { summary: 'convert Gaussian scenes (.ply, .splat) or meshes (.obj, .ply, .glb)', load: () => import('./cmd-convert') },
  tokenize: { summary: 'CLIP-tokenize text (ids with BOS/EOS)', load: () => import('./cmd-tokenize') },
  'edit-image': {
    summary: 'edit one image with an instruction (InstructPix2Pix or the built-in model)',
    load: () => import('./cmd-edit-image'),
  },
  models: {
    summary: 'check an instruction model (folder or server); write a Triton model repository',
    load: () => import('./cmd-models'),
  },
  serve: { summary: 'serve a model over the Open Inference Protocol (KServe v2 / Triton)', load: () => import('./cmd-serve') },
  edit: { summary: 'edit a scene with an instruction (IDU or SDS)', load: () => import('./cmd-edit') },
  diff: { summary: 'compare two scenes inside / outside a region', load: () => import('./cmd-diff') },
  stylize: { summary: 'stylise a mesh from text (Text2Mesh neural style field)', load: () => import('./cmd-stylize') },
  clip: { summary: 'CLIP image and text embeddings (Hugging Face CLIP folder)', load: () => import('./cmd-clip') },
};
