// Standalone tanh over a flat f32 buffer, overflow-safe for any finite input (see activation.wgsl).
import { GpuError, type Gpu } from '../../gpu/device.js';
import { bindKernel, computePipeline, kernelShader, type PipelineRequest } from '../../gpu/shader.js';
import { uniformStruct } from '../../gpu/uniforms.js';
import { activationId, activationInclude } from '../activation.js';
import { boundDispatch, requireBufferSizes, type BoundDispatch } from '../dispatch.js';
import { gridFor } from '../grid.js';

const elementwiseUniforms = uniformStruct('ElementwiseParams', { count: 'u32', tilesX: 'u32', slope: 'f32' });

const shader = kernelShader({
  id: 'elementwise-activation',
  source: 'kernels/elementwise/apply-activation.wgsl',
  includes: [activationInclude],
  uniforms: elementwiseUniforms,
  storage: ['read', 'read_write'],
});

const WG = 64;

export const TANH_PIPELINE: PipelineRequest = { shader, constants: { WG, ACTIVATION: activationId('tanh') } };

export interface TanhBindArgs {
  count: number;
  input: GPUBuffer;
  output: GPUBuffer;
}

export class TanhKernel {
  private readonly pipeline: GPUComputePipeline;

  constructor(private readonly gpu: Gpu) {
    this.pipeline = computePipeline(gpu, TANH_PIPELINE.shader, TANH_PIPELINE.constants);
  }

  bind(args: TanhBindArgs): BoundDispatch {
    const { gpu } = this;
    const label = `tanh x${args.count}`;
    if (!Number.isSafeInteger(args.count) || args.count < 0 || args.count > 0xffffffff) throw new GpuError(`${label}: bad element count`);
    requireBufferSizes(label, [['input', args.input, args.count], ['output', args.output, args.count]]);
    if (args.input === args.output) throw new GpuError(`${label}: input and output must be different buffers`);
    const grid = gridFor(gpu, label, Math.ceil(args.count / WG), 1);
    const binding = bindKernel(gpu, shader, label, { count: args.count, tilesX: grid.tilesX, slope: 0 }, [args.input, args.output]);
    return boundDispatch(gpu, label, this.pipeline, binding, grid.workgroups, 0);
  }
}
