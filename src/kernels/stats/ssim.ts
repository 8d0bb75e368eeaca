// Per-sample mean SSIM between a and b over the valid 11x11 Gaussian windows of each channel
// (reference.ts ssimReference; data range 2, images being in [-1, 1]).
import type { Gpu } from '../../gpu/device.js';
import { ImagePairKernel, imagePairShader, type ImagePairKernelSpec } from './image-pair.js';
import { SSIM_C1, SSIM_C2, SSIM_WINDOW, ssimWeights } from './definitions.js';

// The window and constants are written into the shader from the same numbers the reference uses.
const f32Literal = (v: number) => Math.fround(v).toPrecision(9);
const prelude = `const GAUSS = array<f32, ${SSIM_WINDOW}>(${[...ssimWeights()].map(f32Literal).join(', ')});
const C1 = ${f32Literal(SSIM_C1)};
const C2 = ${f32Literal(SSIM_C2)};`;

const shader = imagePairShader('ssim', 'kernels/stats/ssim.wgsl', prelude);

export const SSIM_KERNEL: ImagePairKernelSpec = {
  name: 'ssim',
  shader,
  // 64 invocations of two columns cover a 128-wide image's 118 windows in one sweep.
  wg: 64,
  minSide: SSIM_WINDOW,
  // Nominal: 5 moments through an 11-tap pass (2 FLOPs a tap) per input row of each output
  // column, the same vertically per output pixel, and ~20 for the ratio (column pairs share
  // their products, so the kernel does somewhat fewer).
  flops: ({ batch, channels, height, width }) => {
    const columns = batch * channels * (width - SSIM_WINDOW + 1);
    const outputs = columns * (height - SSIM_WINDOW + 1);
    return columns * height * 10 * SSIM_WINDOW + outputs * (10 * SSIM_WINDOW + 20);
  },
};

export class SsimKernel extends ImagePairKernel {
  constructor(gpu: Gpu) {
    super(gpu, SSIM_KERNEL);
  }
}
