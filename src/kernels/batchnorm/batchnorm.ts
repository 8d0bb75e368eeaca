// BatchNorm2d in training mode over NHWC f32 activations ([rows = N*H*W, channels], the GEMM
// family's layout), forward and backward, as torch.nn.BatchNorm2d computes them. The forward pass
// is three dispatches: the batch statistics in two passes (bn-stats.wgsl: tiles, then their
// combine, the saved statistics and the running update) and the normalisation. The backward pass
// is three: the parameter gradients in two passes (bn-grad-reduce.wgsl) and the input gradient.
// The saved statistics (mean, then invstd: 2 * channels f32) pass from forward to backward; the
// partials between passes are scratch each dispatch owns; both passes of a reduction share one
// bind group (a buffer destroyed twice is freed once). Gradients are written, not accumulated.
import { GpuError, type Gpu } from '../../gpu/device.js';
import { bindKernel, computePipeline, kernelShader, type PipelineRequest } from '../../gpu/shader.js';
import { uniformStruct } from '../../gpu/uniforms.js';
import { dispatchSequence, requireBufferSizes, type BoundDispatch, type DispatchStep } from '../dispatch.js';
import { gridFor } from '../grid.js';

const lanes = 'kernels/batchnorm/bn-lanes.wgsl';
// Mirrors bn-lanes.wgsl: channels per workgroup and rows per first-pass tile.
const CB = 16;
export const BATCHNORM_TILE_ROWS = 16 * 64;

const statsUniforms = uniformStruct('BatchNormStatsParams', {
  rows: 'u32', channels: 'u32', tiles: 'u32', tilesX: 'u32', eps: 'f32', momentum: 'f32', keep: 'f32',
});
const gradUniforms = uniformStruct('BatchNormGradParams', { rows: 'u32', channels: 'u32', tiles: 'u32', tilesX: 'u32' });
const mapUniforms = uniformStruct('BatchNormMapParams', { count: 'u32', channels: 'u32', tilesX: 'u32', invRows: 'f32' });

const statsShader = kernelShader({
  id: 'batchnorm-stats',
  source: 'kernels/batchnorm/bn-stats.wgsl',
  includes: [lanes],
  uniforms: statsUniforms,
  storage: ['read', 'read_write', 'read_write', 'read_write', 'read_write'],
});
const normalizeShader = kernelShader({
  id: 'batchnorm-normalize',
  source: 'kernels/batchnorm/bn-normalize.wgsl',
  uniforms: mapUniforms,
  storage: ['read', 'read', 'read', 'read', 'read_write'],
});
const gradReduceShader = kernelShader({
  id: 'batchnorm-grad-reduce',
  source: 'kernels/batchnorm/bn-grad-reduce.wgsl',
  includes: [lanes],
  uniforms: gradUniforms,
  storage: ['read', 'read', 'read', 'read_write', 'read_write', 'read_write'],
});
const gradInputShader = kernelShader({
  id: 'batchnorm-grad-input',
  source: 'kernels/batchnorm/bn-grad-input.wgsl',
  uniforms: mapUniforms,
  storage: ['read', 'read', 'read', 'read', 'read', 'read', 'read_write'],
});

const WG = 256;

/** The forward pass's pipelines in dispatch order: statistics tiles, their combine, the normalisation. */
export const BATCHNORM_FORWARD_PIPELINES: readonly PipelineRequest[] = [
  { shader: statsShader, constants: { FINAL: 0 } },
  { shader: statsShader, constants: { FINAL: 1 } },
  { shader: normalizeShader, constants: { WG } },
];

/** The backward pass's pipelines in dispatch order: gradient tiles, their sum, the input gradient. */
export const BATCHNORM_BACKWARD_PIPELINES: readonly PipelineRequest[] = [
  { shader: gradReduceShader, constants: { FINAL: 0 } },
  { shader: gradReduceShader, constants: { FINAL: 1 } },
  { shader: gradInputShader, constants: { WG } },
];

export interface BatchNormShape {
  /** N * H * W: the rows each channel's statistics run over (at least 2, as torch requires). */
  rows: number;
  channels: number;
}

export interface BatchNormForwardArgs extends BatchNormShape {
  eps: number;
  /** torch's momentum: running = (1 - momentum) * running + momentum * batch statistic. Default 0.1. */
  momentum?: number;
  /** [rows, channels] */
  x: GPUBuffer;
  gamma: GPUBuffer;
  beta: GPUBuffer;
  /** [channels] each, updated in place. */
  runningMean: GPUBuffer;
  runningVar: GPUBuffer;
  /** [2 * channels] written: the batch mean, then 1 / sqrt(biased variance + eps). */
  saved: GPUBuffer;
  /** [rows, channels] */
  y: GPUBuffer;
}

export interface BatchNormBackwardArgs extends BatchNormShape {
  dy: GPUBuffer;
  x: GPUBuffer;
  /** The forward pass's saved statistics. */
  saved: GPUBuffer;
  gamma: GPUBuffer;
  /** [channels] each, written. */
  dgamma: GPUBuffer;
  dbeta: GPUBuffer;
  /** [rows, channels] written. */
  dx: GPUBuffer;
}

/** Checks the shape and that every bound buffer is distinct and large enough; returns the label. */
function checkShape(kind: string, { rows, channels }: BatchNormShape, buffers: Record<string, [GPUBuffer, number]>): string {
  const label = `batchnorm ${kind} ${rows} x ${channels}`;
  if (!Number.isSafeInteger(channels) || channels < 1 || channels > 65535 * CB) throw new GpuError(`${label}: channels must be a positive integer up to ${65535 * CB}`);
  // Counts are exact in f32 up to 2^24, and every index must fit a u32.
  if (!Number.isSafeInteger(rows) || rows < 2 || rows > 2 ** 24 || rows * channels > 0xffffffff) {
    throw new GpuError(`${label}: rows (N*H*W) must be between 2 and 2^24 and rows * channels fit a u32 (torch too refuses a single value per channel)`);
  }
  requireBufferSizes(label, Object.entries(buffers).map(([what, [buffer, values]]) => [what, buffer, values] as const));
  const all = Object.values(buffers).map(([buffer]) => buffer);
  if (new Set(all).size !== all.length) throw new GpuError(`${label}: ${Object.keys(buffers).join(', ')} must be different buffers`);
  return label;
}

/** The two-pass reduction's grid and its scratch partials (`perTile` f32 per channel and tile). */
function reductionPlan(gpu: Gpu, label: string, { rows, channels }: BatchNormShape, perTile: number) {
  const tiles = Math.ceil(rows / BATCHNORM_TILE_ROWS);
  const blocks = Math.ceil(channels / CB);
  const grid = gridFor(gpu, label, tiles, blocks);
  const partials = gpu.createBuffer(perTile * tiles * channels * 4, 'storage', `${label} partials`);
  return { tiles, grid, partials, final: [1, blocks, 1] as const };
}

function mapValues(gpu: Gpu, label: string, { rows, channels }: BatchNormShape) {
  const count = rows * channels;
  const grid = gridFor(gpu, label, Math.ceil(count / WG), 1);
  return { values: { count, channels, tilesX: grid.tilesX, invRows: 1 / rows }, workgroups: grid.workgroups };
}

export class BatchNormForwardKernel {
  private readonly pipelines: GPUComputePipeline[];

  constructor(private readonly gpu: Gpu) {
    this.pipelines = BATCHNORM_FORWARD_PIPELINES.map((p) => computePipeline(gpu, p.shader, p.constants));
  }

  bind(args: BatchNormForwardArgs): BoundDispatch {
    const { gpu } = this;
    const { rows, channels, eps } = args;
    const momentum = args.momentum ?? 0.1;
    const count = rows * channels;
    const label = checkShape('forward', args, {
      x: [args.x, count], gamma: [args.gamma, channels], beta: [args.beta, channels], runningMean: [args.runningMean, channels],
      runningVar: [args.runningVar, channels], saved: [args.saved, 2 * channels], y: [args.y, count],
    });
    if (!(eps > 0) || !Number.isFinite(eps)) throw new GpuError(`${label}: eps ${eps} must be positive and finite`);
    if (!(momentum >= 0 && momentum <= 1)) throw new GpuError(`${label}: momentum ${momentum} must lie in [0, 1]`);
    const plan = reductionPlan(gpu, label, args, 3);
    const stats = bindKernel(gpu, statsShader, `${label} stats`, { rows, channels, tiles: plan.tiles, tilesX: plan.grid.tilesX, eps, momentum, keep: 1 - momentum }, [
      args.x, plan.partials, args.saved, args.runningMean, args.runningVar,
    ]);
    const map = mapValues(gpu, label, args);
    const normalize = bindKernel(gpu, normalizeShader, `${label} normalize`, map.values, [args.x, args.saved, args.gamma, args.beta, args.y]);
    const steps: DispatchStep[] = [
      { pipeline: this.pipelines[0], binding: stats, workgroups: plan.grid.workgroups },
      { pipeline: this.pipelines[1], binding: stats, workgroups: plan.final },
      { pipeline: this.pipelines[2], binding: normalize, workgroups: map.workgroups },
    ];
    // Welford's update (~6 per element), then subtract, two multiplies and an add.
    return dispatchSequence(gpu, label, steps, 10 * count, [plan.partials]);
  }
}

export class BatchNormBackwardKernel {
  private readonly pipelines: GPUComputePipeline[];

  constructor(private readonly gpu: Gpu) {
    this.pipelines = BATCHNORM_BACKWARD_PIPELINES.map((p) => computePipeline(gpu, p.shader, p.constants));
  }

  bind(args: BatchNormBackwardArgs): BoundDispatch {
    const { gpu } = this;
    const { rows, channels } = args;
    const count = rows * channels;
    const label = checkShape('backward', args, {
      dy: [args.dy, count], x: [args.x, count], saved: [args.saved, 2 * channels], gamma: [args.gamma, channels],
      dgamma: [args.dgamma, channels], dbeta: [args.dbeta, channels], dx: [args.dx, count],
    });
    const plan = reductionPlan(gpu, label, args, 2);
    const reduce = bindKernel(gpu, gradReduceShader, `${label} reduce`, { rows, channels, tiles: plan.tiles, tilesX: plan.grid.tilesX }, [
      args.dy, args.x, args.saved, plan.partials, args.dgamma, args.dbeta,
    ]);
    const map = mapValues(gpu, label, args);
    const input = bindKernel(gpu, gradInputShader, `${label} input`, map.values, [args.dy, args.x, args.saved, args.gamma, args.dgamma, args.dbeta, args.dx]);
    const steps: DispatchStep[] = [
      { pipeline: this.pipelines[0], binding: reduce, workgroups: plan.grid.workgroups },
      { pipeline: this.pipelines[1], binding: reduce, workgroups: plan.final },
      { pipeline: this.pipelines[2], binding: input, workgroups: map.workgroups },
    ];
    // xhat and its product with dy (~5 per element), then ~7 for dx.
    return dispatchSequence(gpu, label, steps, 12 * count, [plan.partials]);
  }
}
