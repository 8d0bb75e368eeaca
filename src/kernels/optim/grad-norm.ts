// Sum of squares and non-finite count of a flat f32 buffer (a model's gradients laid end to end),
// left on the GPU as [sum of squares, count]: the global norm for clipping is its square root, and
// a non-zero count means the step overflowed (the sum is then meaningless). Two dispatches of one
// shader; the partials between them are scratch the dispatch owns.
import { GpuError, type Gpu } from '../../gpu/device.js';
import { bindKernel, computePipeline, kernelShader, type PipelineRequest } from '../../gpu/shader.js';
import { uniformStruct } from '../../gpu/uniforms.js';
import { dispatchSequence, requireBufferSizes, type BoundDispatch } from '../dispatch.js';
import { gridFor } from '../grid.js';

const gradNormUniforms = uniformStruct('GradNormParams', { count: 'u32', tilesX: 'u32', tiles: 'u32' });

const shader = kernelShader({
  id: 'grad-norm',
  source: 'kernels/optim/grad-norm.wgsl',
  uniforms: gradNormUniforms,
  storage: ['read', 'read_write'],
});

// The tree needs a power of two; each first-pass tile holds WG * ITEMS values (ITEMS in the WGSL).
const WG = 256;
export const GRAD_NORM_TILE = WG * 128;

export const GRAD_NORM_PIPELINES: readonly PipelineRequest[] = [
  { shader, constants: { WG, FINAL: 0 } },
  { shader, constants: { WG, FINAL: 1 } },
];

export interface GradNormBindArgs {
  count: number;
  input: GPUBuffer;
  /** 2 f32: the sum of squares, then the number of non-finite values (exact below 2^24). */
  output: GPUBuffer;
}

export class GradNormKernel {
  private readonly pipelines: GPUComputePipeline[];

  constructor(private readonly gpu: Gpu) {
    this.pipelines = GRAD_NORM_PIPELINES.map((p) => computePipeline(gpu, p.shader, p.constants));
  }

  bind(args: GradNormBindArgs): BoundDispatch {
    const { gpu } = this;
    const { count } = args;
    const label = `grad-norm x${count}`;
    if (!Number.isSafeInteger(count) || count < 1 || count > 0xffffffff) throw new GpuError(`${label}: the element count must be positive and fit a u32`);
    requireBufferSizes(label, [['input', args.input, count], ['output', args.output, 2]]);
    if (args.input === args.output) throw new GpuError(`${label}: input and output must be different buffers`);
    const tiles = Math.ceil(count / GRAD_NORM_TILE);
    const grid = gridFor(gpu, label, tiles, 1);
    const partials = gpu.createBuffer(2 * tiles * 4, 'storage', `${label} partials`);
    const first = bindKernel(gpu, shader, `${label} tiles`, { count, tilesX: grid.tilesX, tiles }, [args.input, partials]);
    const final = bindKernel(gpu, shader, `${label} final`, { count: tiles, tilesX: 1, tiles: 1 }, [partials, args.output]);
    const steps = [
      { pipeline: this.pipelines[0], binding: first, workgroups: grid.workgroups },
      { pipeline: this.pipelines[1], binding: final, workgroups: [1, 1, 1] as const },
    ];
    // A multiply and an add per value; the partials' adds are negligible.
    return dispatchSequence(gpu, label, steps, 2 * count, [partials]);
  }
}
