// Per-sample high-frequency error: the mean over the interior pixels of the squared 3x3 Laplacian of
// the channel mean of a - b (reference.ts hfReference). Beside the MSE it weighs fine detail in
// brightness that the reconstruction lost or added.
import type { Gpu } from '../../gpu/device.js';
import { ImagePairKernel, imagePairShader, type ImagePairKernelSpec } from './image-pair.js';
import { HF_MIN_SIDE } from './definitions.js';

const shader = imagePairShader('hf', 'kernels/stats/hf.wgsl');

export const HF_KERNEL: ImagePairKernelSpec = {
  name: 'hf',
  shader,
  wg: 128,
  minSide: HF_MIN_SIDE,
  // Per interior pixel: three channel means of differences (2C each, and the divide), the 4
  // neighbour adds and a multiply-subtract, the square and its add.
  flops: ({ batch, channels, height, width }) => batch * (height - 2) * (width - 2) * (3 * (2 * channels + 1) + 7),
};

export class HfKernel extends ImagePairKernel {
  constructor(gpu: Gpu) {
    super(gpu, HF_KERNEL);
  }
}
