// dst += src over a flat f32 buffer (see accumulate.wgsl).
import type { Gpu } from '../../gpu/device.js';
import { bindKernel, computePipeline, kernelShader, type PipelineRequest } from '../../gpu/shader.js';
import { uniformStruct } from '../../gpu/uniforms.js';
import { boundDispatch, type BoundDispatch } from '../dispatch.js';
import { flatGrid, WG } from './flat.js';

const shader = kernelShader({
  id: 'accumulate',
  source: 'kernels/backward/accumulate.wgsl',
  uniforms: uniformStruct('AccumulateParams', { count: 'u32', tilesX: 'u32' }),
  storage: ['read', 'read_write'],
});

export const ACCUMULATE_PIPELINE: PipelineRequest = { shader, constants: { WG } };

export interface AccumulateArgs {
  count: number;
  src: GPUBuffer;
  /** Read and written: dst += src. */
  dst: GPUBuffer;
}

export class AccumulateKernel {
  private readonly pipeline: GPUComputePipeline;

  constructor(private readonly gpu: Gpu) {
    this.pipeline = computePipeline(gpu, ACCUMULATE_PIPELINE.shader, ACCUMULATE_PIPELINE.constants);
  }

  bind(args: AccumulateArgs): BoundDispatch {
    const { count } = args;
    const label = `accumulate x${count}`;
    const grid = flatGrid(this.gpu, label, count, [['src', args.src], ['dst', args.dst]]);
    const binding = bindKernel(this.gpu, shader, label, { count, tilesX: grid.tilesX }, [args.src, args.dst]);
    return boundDispatch(this.gpu, label, this.pipeline, binding, grid.workgroups, count);
  }
}
