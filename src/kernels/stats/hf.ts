// Per-sample high-frequency error: the mean over C*H*W of the squared 3x3 Laplacian of a - b
// (reference.ts hfReference). Beside the MSE it weighs fine detail the reconstruction lost or added.
import type { Gpu } from '../../gpu/device.js';
import { bindKernel, computePipeline, kernelShader } from '../../gpu/shader.js';
import { uniformStruct } from '../../gpu/uniforms.js';
import { boundDispatch, type BoundDispatch } from '../dispatch.js';
import { gridFor } from '../grid.js';
import { checkImagePair, type ImagePairBindArgs } from './image-pair.js';
import { HF_MIN_SIDE } from './reference.js';

const hfUniforms = uniformStruct('HfParams', { batch: 'u32', channels: 'u32', height: 'u32', width: 'u32', tilesX: 'u32' });

const shader = kernelShader({
  id: 'stats-hf',
  source: 'kernels/stats/hf.wgsl',
  uniforms: hfUniforms,
  storage: ['read', 'read', 'read_write'],
});

// The tree needs a power of two.
const WG = 256;

export class HfKernel {
  private readonly pipeline: GPUComputePipeline;

  constructor(private readonly gpu: Gpu) {
    this.pipeline = computePipeline(gpu, shader, { WG });
  }

  bind(args: ImagePairBindArgs): BoundDispatch {
    const { gpu } = this;
    const { batch, channels, height, width } = args;
    const label = `hf ${batch} x ${channels}x${height}x${width}`;
    checkImagePair(label, args, HF_MIN_SIDE);
    const grid = gridFor(gpu, label, batch, 1);
    const binding = bindKernel(gpu, shader, label, { batch, channels, height, width, tilesX: grid.tilesX }, [args.a, args.b, args.output]);
    // Per element: 5 differences, the 4 neighbour adds and a multiply-subtract, the square and its add.
    return boundDispatch(gpu, label, this.pipeline, binding, grid.workgroups, 14 * batch * channels * height * width);
  }
}
