// Per-sample high-frequency error: the mean over C*H*W of the squared 3x3 Laplacian of a - b
// (reference.ts hfReference). Beside the MSE it weighs fine detail the reconstruction lost or added.
import type { Gpu } from '../../gpu/device.js';
import { ImagePairKernel, imagePairShader } from './image-pair.js';
import { HF_MIN_SIDE } from './reference.js';

const shader = imagePairShader('hf', 'kernels/stats/hf.wgsl');

export class HfKernel extends ImagePairKernel {
  constructor(gpu: Gpu) {
    super(gpu, {
      name: 'hf',
      shader,
      wg: 128,
      minSide: HF_MIN_SIDE,
      // Per element: 5 differences, the 4 neighbour adds and a multiply-subtract, the square and its add.
      flops: ({ batch, channels, height, width }) => 14 * batch * channels * height * width,
    });
  }
}
