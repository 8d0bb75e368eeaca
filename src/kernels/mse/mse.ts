// Per-sample reconstruction error: the mean of (a - b)^2 over each sample's perSample elements
// (PyTorch's reconstruction_error(x, reduction='none')).
import { GpuError, type Gpu } from '../../gpu/device.js';
import { bindKernel, computePipeline, kernelShader, type PipelineRequest } from '../../gpu/shader.js';
import { uniformStruct } from '../../gpu/uniforms.js';
import { boundDispatch, requireBufferSizes, type BoundDispatch } from '../dispatch.js';
import { gridFor } from '../grid.js';
import { sampleMeanInclude } from '../sample-mean.js';

const mseUniforms = uniformStruct('MseParams', { batch: 'u32', perSample: 'u32', tilesX: 'u32' });

const shader = kernelShader({
  id: 'mse',
  source: 'kernels/mse/mse.wgsl',
  includes: [sampleMeanInclude],
  uniforms: mseUniforms,
  storage: ['read', 'read', 'read_write'],
});

// The tree needs a power of two.
const WG = 256;

export const MSE_PIPELINE: PipelineRequest = { shader, constants: { WG } };

export interface MseBindArgs {
  batch: number;
  perSample: number;
  a: GPUBuffer;
  b: GPUBuffer;
  /** [batch] f32 */
  output: GPUBuffer;
}

export class MseKernel {
  private readonly pipeline: GPUComputePipeline;
  readonly pipelineRequest = MSE_PIPELINE;

  constructor(private readonly gpu: Gpu) {
    this.pipeline = computePipeline(gpu, MSE_PIPELINE.shader, MSE_PIPELINE.constants);
  }

  bind(args: MseBindArgs): BoundDispatch {
    const { gpu } = this;
    const { batch, perSample } = args;
    const label = `mse ${batch} x ${perSample}`;
    if (!Number.isSafeInteger(batch) || batch < 1 || !Number.isSafeInteger(perSample) || perSample < 1 || batch * perSample > 0xffffffff) {
      throw new GpuError(`${label}: batch and perSample must be positive and index a u32 range`);
    }
    requireBufferSizes(label, [['a', args.a, batch * perSample], ['b', args.b, batch * perSample], ['output', args.output, batch]]);
    if (args.output === args.a || args.output === args.b) throw new GpuError(`${label}: the output buffer must not also be an input`);
    const grid = gridFor(gpu, label, batch, 1);
    const binding = bindKernel(gpu, shader, label, { batch, perSample, tilesX: grid.tilesX }, [args.a, args.b, args.output]);
    // 3 FLOPs per element: subtract, multiply, add.
    return boundDispatch(gpu, label, this.pipeline, binding, grid.workgroups, 3 * batch * perSample);
  }
}
