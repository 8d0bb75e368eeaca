// Dropout2d backward over NHWC activations with the forward's per-(sample, channel) mask (see
// dropout-backward.wgsl and random/dropout-mask.ts).
import { GpuError, type Gpu } from '../../gpu/device.js';
import { bindKernel, computePipeline, kernelShader, type PipelineRequest } from '../../gpu/shader.js';
import { uniformStruct } from '../../gpu/uniforms.js';
import { boundDispatch, requireBufferSizes, type BoundDispatch } from '../dispatch.js';
import { flatGrid, WG } from './flat.js';

const shader = kernelShader({
  id: 'dropout-backward',
  source: 'kernels/backward/dropout-backward.wgsl',
  uniforms: uniformStruct('DropoutBackwardParams', { count: 'u32', perSample: 'u32', channels: 'u32', tilesX: 'u32' }),
  storage: ['read', 'read', 'read_write'],
});

export const DROPOUT_BACKWARD_PIPELINE: PipelineRequest = { shader, constants: { WG } };

export interface DropoutBackwardArgs {
  /** The NHWC shape of dy and dx. */
  samples: number;
  height: number;
  width: number;
  channels: number;
  dy: GPUBuffer;
  /** [samples, channels] f32 from DropoutMaskKernel: 0 or 1 / (1 - p). */
  mask: GPUBuffer;
  dx: GPUBuffer;
}

export class DropoutBackwardKernel {
  private readonly pipeline: GPUComputePipeline;

  constructor(private readonly gpu: Gpu) {
    this.pipeline = computePipeline(gpu, DROPOUT_BACKWARD_PIPELINE.shader, DROPOUT_BACKWARD_PIPELINE.constants);
  }

  bind(args: DropoutBackwardArgs): BoundDispatch {
    const { samples, height, width, channels } = args;
    const label = `dropout-backward ${samples}x${height}x${width}x${channels}`;
    if (![samples, height, width, channels].every((n) => Number.isSafeInteger(n) && n >= 1)) throw new GpuError(`${label}: every dimension must be a positive integer`);
    const count = samples * height * width * channels;
    const grid = flatGrid(this.gpu, label, count, [['dy', args.dy], ['dx', args.dx]]);
    requireBufferSizes(label, [['mask', args.mask, samples * channels]]);
    if (args.mask === args.dx) throw new GpuError(`${label}: the mask and dx must be different buffers`);
    const binding = bindKernel(this.gpu, shader, label, { count, perSample: height * width * channels, channels, tilesX: grid.tilesX }, [args.dy, args.mask, args.dx]);
    return boundDispatch(this.gpu, label, this.pipeline, binding, grid.workgroups, count);
  }
}
