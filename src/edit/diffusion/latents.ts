/**
 * Latents of one image, NCHW: `data[(c·height + y)·width + x]`. The InstructPix2Pix pipeline's VAE latents
 * (4 channels at 1/8 of the image size) and the loops' priors share this type.
 */
export interface Latents {
  channels: number;
  height: number;
  width: number;
  data: Float32Array;
}
