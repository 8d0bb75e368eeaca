// AdamW over a flat f32 parameter buffer with its gradient and two moment buffers of the same
// length (a model's parameters laid end to end). Bound once; each step only rewrites the uniform
// block (step count, learning rate, gradient scale), so a training loop re-binds nothing.
import { GpuError, type Gpu } from '../../gpu/device.js';
import { bindKernel, computePipeline, kernelShader, type PipelineRequest } from '../../gpu/shader.js';
import { uniformStruct } from '../../gpu/uniforms.js';
import { boundDispatch, requireBufferSizes, type BoundDispatch } from '../dispatch.js';
import { gridFor } from '../grid.js';
import { adamwStepScalars, checkAdamW, type AdamWHyperParameters } from './hyper.js';

const adamwUniforms = uniformStruct('AdamWParams', {
  count: 'u32', tilesX: 'u32', decay: 'f32', beta1: 'f32', oneMinusBeta1: 'f32', beta2: 'f32',
  oneMinusBeta2: 'f32', negStepSize: 'f32', bc2Sqrt: 'f32', eps: 'f32', gradScale: 'f32',
});

const shader = kernelShader({
  id: 'adamw',
  source: 'kernels/optim/adamw.wgsl',
  uniforms: adamwUniforms,
  storage: ['read_write', 'read', 'read_write', 'read_write'],
});

const WG = 256;

export const ADAMW_PIPELINE: PipelineRequest = { shader, constants: { WG } };

export interface AdamWStep {
  /** 1 for the first step, as torch's state['step'] after it. */
  step: number;
  hyper: AdamWHyperParameters;
  /** Multiplies every gradient first (1 / loss scale, a clipping coefficient); default 1. */
  gradScale?: number;
}

export interface AdamWBindArgs extends AdamWStep {
  count: number;
  param: GPUBuffer;
  grad: GPUBuffer;
  expAvg: GPUBuffer;
  expAvgSq: GPUBuffer;
}

export interface AdamWDispatch extends BoundDispatch {
  /** Sets the step the next encode() performs; takes effect on the queue before later submits. */
  setStep(next: AdamWStep): void;
}

export class AdamWKernel {
  private readonly pipeline: GPUComputePipeline;

  constructor(private readonly gpu: Gpu) {
    this.pipeline = computePipeline(gpu, ADAMW_PIPELINE.shader, ADAMW_PIPELINE.constants);
  }

  bind(args: AdamWBindArgs): AdamWDispatch {
    const { gpu } = this;
    const { count } = args;
    const label = `adamw x${count}`;
    if (!Number.isSafeInteger(count) || count < 1 || count > 0xffffffff) throw new GpuError(`${label}: the element count must be positive and fit a u32`);
    const buffers = [args.param, args.grad, args.expAvg, args.expAvgSq];
    requireBufferSizes(label, [['param', args.param, count], ['grad', args.grad, count], ['expAvg', args.expAvg, count], ['expAvgSq', args.expAvgSq, count]]);
    if (new Set(buffers).size !== buffers.length) throw new GpuError(`${label}: param, grad, expAvg and expAvgSq must be four different buffers`);
    const grid = gridFor(gpu, label, Math.ceil(count / WG), 1);
    const values = (s: AdamWStep) => {
      checkAdamW(s.hyper);
      const gradScale = s.gradScale ?? 1;
      if (!Number.isFinite(gradScale)) throw new GpuError(`${label}: gradient scale ${gradScale} is not finite`);
      return { count, tilesX: grid.tilesX, ...adamwStepScalars(s.step, s.hyper), gradScale };
    };
    const binding = bindKernel(gpu, shader, label, values(args), buffers);
    // Per element: 2 multiplies (scale, decay), 4 for the moments plus 2 adds, sqrt, 2 divides, add, fma.
    const dispatch = boundDispatch(gpu, label, this.pipeline, binding, grid.workgroups, 14 * count);
    return { ...dispatch, setStep: (next) => gpu.write(binding.uniforms, shader.uniforms.pack(values(next))) };
  }
}
