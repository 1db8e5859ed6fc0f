import type { StyleFieldRunnerFactory } from './style-field';

export const webGpuFieldRunner: StyleFieldRunnerFactory = async () => {
  throw new Error('the WebGPU style field is not built yet');
};
