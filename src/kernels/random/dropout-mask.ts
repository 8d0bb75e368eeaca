// Dropout2d channel masks on the GPU from a seed, a training step and a layer's stream number:
// the same masks for the same (seed, step, stream) on every run and every device, so a resumed run
// drops what the uninterrupted one dropped, and the backward pass re-uses the forward's mask.
import { GpuError, type Gpu } from '../../gpu/device.js';
import { bindKernel, computePipeline, kernelShader, type PipelineRequest } from '../../gpu/shader.js';
import { uniformStruct } from '../../gpu/uniforms.js';
import { boundDispatch, requireBufferSizes, type BoundDispatch } from '../dispatch.js';
import { gridFor } from '../grid.js';
import { dropKeyOf } from './dropout-spec.js';

const dropoutUniforms = uniformStruct('DropoutParams', {
  seedLo: 'u32', seedHi: 'u32', step: 'u32', stream: 'u32', samples: 'u32', channels: 'u32', threshold: 'u32', scale: 'f32', tilesX: 'u32',
});

/** The Philox4x32-10 function (philox4x32(counter, key) -> vec4u) for any kernel that draws numbers. */
export const philoxInclude = 'kernels/random/philox.wgsl';

const shader = kernelShader({
  id: 'dropout-mask',
  source: 'kernels/random/dropout-mask.wgsl',
  includes: [philoxInclude],
  uniforms: dropoutUniforms,
  storage: ['read_write'],
});

const WG = 64;

export const DROPOUT_MASK_PIPELINE: PipelineRequest = { shader, constants: { WG } };

export interface DropoutMaskArgs {
  seed: number;
  /** The training step (u32). */
  step: number;
  /** Which dropout layer (u32): layers of one step draw independent masks. */
  stream: number;
  samples: number;
  channels: number;
  /** The drop rate, in [0, 1]. */
  p: number;
  /** [samples, channels] f32. */
  mask: GPUBuffer;
}

const isU32 = (v: number): boolean => Number.isInteger(v) && v >= 0 && v <= 0xffffffff;

export class DropoutMaskKernel {
  private readonly pipeline: GPUComputePipeline;

  constructor(private readonly gpu: Gpu) {
    this.pipeline = computePipeline(gpu, DROPOUT_MASK_PIPELINE.shader, DROPOUT_MASK_PIPELINE.constants);
  }

  bind(args: DropoutMaskArgs): BoundDispatch {
    const { gpu } = this;
    const { samples, channels } = args;
    const label = `dropout-mask ${samples} x ${channels}`;
    if (!isU32(args.step) || !isU32(args.stream)) throw new GpuError(`${label}: step ${args.step} and stream ${args.stream} must be u32`);
    if (!Number.isSafeInteger(samples) || samples < 1 || !Number.isSafeInteger(channels) || channels < 1 || samples * channels > 0xffffffff) {
      throw new GpuError(`${label}: samples and channels must be positive and index a u32 range`);
    }
    requireBufferSizes(label, [['mask', args.mask, samples * channels]]);
    const { key, threshold, scale } = dropKeyOf(args.seed, args.p);
    const grid = gridFor(gpu, label, Math.ceil((samples * channels) / WG), 1);
    const values = { seedLo: key[0], seedHi: key[1], step: args.step, stream: args.stream, samples, channels, threshold, scale, tilesX: grid.tilesX };
    const binding = bindKernel(gpu, shader, label, values, [args.mask]);
    return boundDispatch(gpu, label, this.pipeline, binding, grid.workgroups, 0);
  }
}
