// Per-sample mean SSIM between a and b over the valid 11x11 Gaussian windows of each channel
// (reference.ts ssimReference; data range 2, images being in [-1, 1]).
import type { Gpu } from '../../gpu/device.js';
import { bindKernel, computePipeline, kernelShader } from '../../gpu/shader.js';
import { uniformStruct } from '../../gpu/uniforms.js';
import { boundDispatch, type BoundDispatch } from '../dispatch.js';
import { gridFor } from '../grid.js';
import { checkImagePair, type ImagePairBindArgs } from './image-pair.js';
import { SSIM_C1, SSIM_C2, SSIM_WINDOW, ssimWeights } from './reference.js';

const ssimUniforms = uniformStruct('SsimParams', { batch: 'u32', channels: 'u32', height: 'u32', width: 'u32', tilesX: 'u32' });

// The window and constants are written into the shader from the same numbers the reference uses.
const f32Literal = (v: number) => Math.fround(v).toPrecision(9);
const prelude = `const GAUSS = array<f32, ${SSIM_WINDOW}>(${[...ssimWeights()].map(f32Literal).join(', ')});
const C1 = ${f32Literal(SSIM_C1)};
const C2 = ${f32Literal(SSIM_C2)};`;

const shader = kernelShader({
  id: 'stats-ssim',
  source: 'kernels/stats/ssim.wgsl',
  prelude,
  uniforms: ssimUniforms,
  storage: ['read', 'read', 'read_write'],
});

// The tree needs a power of two; 128 columns cover a 128-wide image's 118 windows in one sweep.
const WG = 128;

export class SsimKernel {
  private readonly pipeline: GPUComputePipeline;

  constructor(private readonly gpu: Gpu) {
    this.pipeline = computePipeline(gpu, shader, { WG });
  }

  bind(args: ImagePairBindArgs): BoundDispatch {
    const { gpu } = this;
    const { batch, channels, height, width } = args;
    const label = `ssim ${batch} x ${channels}x${height}x${width}`;
    checkImagePair(label, args, SSIM_WINDOW);
    const grid = gridFor(gpu, label, batch, 1);
    const binding = bindKernel(gpu, shader, label, { batch, channels, height, width, tilesX: grid.tilesX }, [args.a, args.b, args.output]);
    // 5 moments through an 11-tap pass (2 FLOPs a tap) per input row of each output column, the same
    // vertically per output pixel, and ~20 for the ratio.
    const columns = batch * channels * (width - SSIM_WINDOW + 1);
    const outputs = columns * (height - SSIM_WINDOW + 1);
    return boundDispatch(gpu, label, this.pipeline, binding, grid.workgroups, columns * height * 10 * SSIM_WINDOW + outputs * (10 * SSIM_WINDOW + 20));
  }
}
