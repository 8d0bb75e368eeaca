// Backward of the mean squared error loss over a whole batch (see mse-backward.wgsl). Bound once;
// each step may rewrite the upstream gradient (the loss scale) without re-binding.
import { GpuError, type Gpu } from '../../gpu/device.js';
import { bindKernel, computePipeline, kernelShader, type PipelineRequest } from '../../gpu/shader.js';
import { uniformStruct } from '../../gpu/uniforms.js';
import { boundDispatch, type BoundDispatch } from '../dispatch.js';
import { flatGrid, WG } from './flat.js';

const shader = kernelShader({
  id: 'mse-backward',
  source: 'kernels/backward/mse-backward.wgsl',
  uniforms: uniformStruct('MseBackwardParams', { count: 'u32', tilesX: 'u32', invCount: 'f32', upstream: 'f32' }),
  storage: ['read', 'read', 'read_write'],
});

export const MSE_BACKWARD_PIPELINE: PipelineRequest = { shader, constants: { WG } };

export interface MseBackwardArgs {
  /** Elements of the batch: N * C * H * W, the mean's divisor. */
  count: number;
  recon: GPUBuffer;
  /** What recon should be: the model's input. */
  truth: GPUBuffer;
  /** d loss / d recon, written. */
  dRecon: GPUBuffer;
  /** The gradient arriving at the loss: 1, or the loss scale; default 1. */
  upstream?: number;
}

export interface MseBackwardDispatch extends BoundDispatch {
  /** Sets the upstream gradient of the next encode(); takes effect on the queue before later submits. */
  setUpstream(upstream: number): void;
}

export class MseBackwardKernel {
  private readonly pipeline: GPUComputePipeline;

  constructor(private readonly gpu: Gpu) {
    this.pipeline = computePipeline(gpu, MSE_BACKWARD_PIPELINE.shader, MSE_BACKWARD_PIPELINE.constants);
  }

  bind(args: MseBackwardArgs): MseBackwardDispatch {
    const { gpu } = this;
    const { count } = args;
    const label = `mse-backward x${count}`;
    const grid = flatGrid(gpu, label, count, [['recon', args.recon], ['truth', args.truth], ['dRecon', args.dRecon]]);
    const values = (upstream: number) => {
      if (!Number.isFinite(upstream)) throw new GpuError(`${label}: upstream gradient ${upstream} is not finite`);
      return { count, tilesX: grid.tilesX, invCount: 1 / count, upstream };
    };
    const binding = bindKernel(gpu, shader, label, values(args.upstream ?? 1), [args.recon, args.truth, args.dRecon]);
    // Per element: subtract and three multiplies.
    const dispatch = boundDispatch(gpu, label, this.pipeline, binding, grid.workgroups, 4 * count);
    return { ...dispatch, setUpstream: (upstream) => gpu.write(binding.uniforms, shader.uniforms.pack(values(upstream))) };
  }
}
