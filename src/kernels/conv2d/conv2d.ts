// Convolution and transposed convolution (NCHW, fused bias + residual + activation) as implicit
// GEMMs. Three variants share one packed weight layout: 'register' (register tiles, no workgroup
// memory), 'subgroup' (the same with weights shared across lanes by subgroup broadcast; the fastest
// on CPU-emulated adapters) and 'shared' (workgroup-memory tiles, the classic shape for real GPUs).
import { GpuError, type Gpu } from '../../gpu/device.js';
import { bindKernel, computePipeline, kernelShader, type PipelineRequest } from '../../gpu/shader.js';
import { uniformStruct } from '../../gpu/uniforms.js';
import type { Activation } from '../activation.js';
import { activationId, activationInclude } from '../activation.js';
import { boundDispatch, requireBufferSizes, type BoundDispatch } from '../dispatch.js';
import { gridFor } from '../grid.js';
import { RcaeError } from '../../errors.js';

export interface ConvSpec {
  inChannels: number;
  outChannels: number;
  kernel: number;
  stride: number;
  padding: number;
  transposed: boolean;
  activation: Activation;
  leakySlope: number;
  residual: boolean;
}

export type ConvVariant = 'register' | 'subgroup' | 'shared';

export interface ConvOptions {
  /** Default: on software adapters 'subgroup' where subgroups of >= 8 exist, else 'register'; 'shared' elsewhere. */
  variant?: ConvVariant;
  /** Fewer workgroups along x than the device allows, so tiles fold into z sooner (tests use it). */
  gridCap?: number;
}

export interface ConvBindArgs {
  batch: number;
  inH: number;
  inW: number;
  input: GPUBuffer;
  output: GPUBuffer;
  residual?: GPUBuffer;
  weight: GPUBuffer;
  bias: GPUBuffer;
}

export class ConvSpecError extends RcaeError {
  readonly kind = 'internal';
}

// Output channels are padded to a multiple of this in the packed weights, so the 4-, 8- and
// 16-channel blocks of the register variants read inside a weight row without a bounds check
// (the shared variant's 64-channel blocks check against the row length).
const CHANNEL_PACK = 16;

const convUniforms = uniformStruct('ConvParams', {
  batch: 'u32',
  inC: 'u32',
  inH: 'u32',
  inW: 'u32',
  outC: 'u32',
  outH: 'u32',
  outW: 'u32',
  kernel: 'u32',
  stride: 'u32',
  padding: 'u32',
  mVec4: 'u32',
  mBlocks: 'u32',
  phaseH: 'u32',
  phaseW: 'u32',
  tilesX: 'u32',
  slope: 'f32',
});

// Pixel/phase geometry, identical in every variant.
const geometryInclude = 'kernels/conv2d/conv2d-geometry.wgsl';

// The variants differ only in their main body (and the subgroup one in its WGSL extension).
function convShader(variant: ConvVariant, enables: readonly 'subgroups'[] = []) {
  return kernelShader({
    id: `conv2d-${variant}`,
    source: `kernels/conv2d/conv2d-${variant}.wgsl`,
    includes: [activationInclude, geometryInclude],
    enables,
    uniforms: convUniforms,
    storage: ['read', 'read', 'read', 'read', 'read_write'],
  });
}

const shaders = {
  register: convShader('register'),
  subgroup: convShader('subgroup', ['subgroups']),
  shared: convShader('shared'),
};

/** Per-variant tile geometry: output pixels per workgroup and output channels per workgroup. */
interface Tiling {
  constants: Record<string, number>;
  pixelsPerGroup: number;
  channelsPerGroup: number;
}

// Tile choices below were measured on lavapipe (bench/NOTES.md).

function registerTiling(spec: ConvSpec, pixels: number): Tiling {
  const tm4 = spec.outChannels <= 4 ? 1 : 2;
  const wg = pixels >= 256 ? 64 : 8;
  return { constants: { WG: wg, TN: 4, TM4: tm4 }, pixelsPerGroup: wg * 4, channelsPerGroup: 4 * tm4 };
}

function subgroupTiling(spec: ConvSpec, pixels: number): Tiling {
  const tm8 = spec.outChannels <= 8 ? 1 : 2;
  // One subgroup per workgroup; layers with few output pixels (4x4 maps at batch 1) take 2 pixels
  // per lane rather than 8 so that lanes are not left idle.
  const wg = 8;
  const tn = pixels < 64 ? 2 : 8;
  return { constants: { WG: wg, TN: tn, TM8: tm8 }, pixelsPerGroup: wg * tn, channelsPerGroup: 8 * tm8 };
}

// 16 x 16 invocations, each 4 channels x 4 pixels: a 64 x 64 output tile, K staged 16 at a time.
const sharedTiling: Tiling = { constants: {}, pixelsPerGroup: 64, channelsPerGroup: 64 };

function tilingOf(variant: ConvVariant, spec: ConvSpec, pixels: number): Tiling {
  if (variant === 'register') return registerTiling(spec, pixels);
  if (variant === 'subgroup') return subgroupTiling(spec, pixels);
  return sharedTiling;
}

/** Output pixels per stride phase (a transposed convolution runs stride^2 phases), over the batch. */
function phasePixels(spec: ConvSpec, batch: number, inH: number, inW: number) {
  const [outH, outW] = convOutputSize(spec, inH, inW);
  const phases = spec.transposed ? spec.stride * spec.stride : 1;
  const phaseH = spec.transposed ? Math.ceil(outH / spec.stride) : outH;
  const phaseW = spec.transposed ? Math.ceil(outW / spec.stride) : outW;
  return { phases, phaseH, phaseW, pixels: batch * phaseH * phaseW };
}

/** The pipeline `variant` runs a layer with when its output has `pixels` pixels (per stride phase). */
export function convPipeline(variant: ConvVariant, spec: ConvSpec, pixels: number): PipelineRequest {
  const constants = { ...tilingOf(variant, spec, pixels).constants, ACTIVATION: activationId(spec.activation), TRANSPOSED: spec.transposed ? 1 : 0, RESIDUAL: spec.residual ? 1 : 0 };
  return { shader: shaders[variant], constants };
}

function defaultVariant(gpu: Gpu): ConvVariant {
  if (!gpu.adapter.isSoftware) return 'shared';
  return gpu.subgroupMinSize >= 8 ? 'subgroup' : 'register';
}

function checkSpec(spec: ConvSpec): void {
  const positive = { inChannels: spec.inChannels, outChannels: spec.outChannels, kernel: spec.kernel, stride: spec.stride };
  for (const [name, v] of Object.entries(positive)) {
    if (!Number.isInteger(v) || v < 1) throw new ConvSpecError(`conv spec: ${name} must be a positive integer, got ${v}`);
  }
  if (!Number.isInteger(spec.padding) || spec.padding < 0) throw new ConvSpecError(`conv spec: padding must be a non-negative integer, got ${spec.padding}`);
  if (!Number.isFinite(spec.leakySlope)) throw new ConvSpecError(`conv spec: leakySlope must be finite, got ${spec.leakySlope}`);
  activationId(spec.activation);
}

export function convOutputSize(spec: ConvSpec, inH: number, inW: number): [number, number] {
  const size = (n: number) =>
    spec.transposed ? (n - 1) * spec.stride - 2 * spec.padding + spec.kernel : Math.floor((n + 2 * spec.padding - spec.kernel) / spec.stride) + 1;
  const out: [number, number] = [size(inH), size(inW)];
  if (!(out[0] >= 1 && out[1] >= 1)) {
    throw new ConvSpecError(`conv ${spec.transposed ? 'transposed ' : ''}k${spec.kernel} s${spec.stride} p${spec.padding}: input ${inH}x${inW} gives an empty output`);
  }
  return out;
}

/** Nominal 2 x multiply-adds, as PyTorch profilers count them (border taps included). */
export function convFlops(spec: ConvSpec, batch: number, inH: number, inW: number): number {
  const taps = spec.kernel * spec.kernel * spec.inChannels * spec.outChannels;
  if (spec.transposed) return 2 * batch * inH * inW * taps;
  const [outH, outW] = convOutputSize(spec, inH, inW);
  return 2 * batch * outH * outW * taps;
}

export function packedOutputChannels(outChannels: number): number {
  return Math.ceil(outChannels / CHANNEL_PACK) * CHANNEL_PACK;
}

/**
 * PyTorch layout (conv [cout, cin, k, k]; transposed [cin, cout, k, k]) -> packed
 * [kh * k + kw][cin][cout padded to 16] so that each (tap, input channel) row is contiguous in the
 * output channels; bias padded likewise.
 */
export function packConvWeights(spec: ConvSpec, weight: Float32Array, bias: Float32Array): { weight: Float32Array; bias: Float32Array } {
  checkSpec(spec);
  const { inChannels: cin, outChannels: cout, kernel: k } = spec;
  if (weight.length !== cin * cout * k * k) {
    const shape = spec.transposed ? `[${cin}, ${cout}, ${k}, ${k}]` : `[${cout}, ${cin}, ${k}, ${k}]`;
    throw new ConvSpecError(`conv weight has ${weight.length} values, expected ${shape}`);
  }
  if (bias.length !== cout) throw new ConvSpecError(`conv bias has ${bias.length} values, expected ${cout}`);
  const mPad = packedOutputChannels(cout);
  const packed = new Float32Array(k * k * cin * mPad);
  for (let co = 0; co < cout; co++) {
    for (let ci = 0; ci < cin; ci++) {
      const src = (spec.transposed ? ci * cout + co : co * cin + ci) * k * k;
      for (let tap = 0; tap < k * k; tap++) packed[(tap * cin + ci) * mPad + co] = weight[src + tap];
    }
  }
  const paddedBias = new Float32Array(mPad);
  paddedBias.set(bias);
  return { weight: packed, bias: paddedBias };
}

export class ConvKernel {
  readonly variant: ConvVariant;
  private readonly gridCap: number;

  constructor(
    private readonly gpu: Gpu,
    readonly spec: ConvSpec,
    options: ConvOptions = {},
  ) {
    checkSpec(spec);
    this.gridCap = options.gridCap ?? Infinity;
    this.variant = options.variant ?? defaultVariant(gpu);
    if (this.variant === 'subgroup' && gpu.subgroupMinSize < 8) {
      throw new GpuError(`conv variant 'subgroup' needs subgroups of at least 8 invocations; this adapter has ${gpu.subgroupMinSize || 'none'}`);
    }
  }


  /** The pipeline a bind of `batch` samples of `inH` x `inW` uses. */
  pipelineAt(batch: number, inH: number, inW: number): PipelineRequest {
    return convPipeline(this.variant, this.spec, phasePixels(this.spec, batch, inH, inW).pixels);
  }

  bind(args: ConvBindArgs): BoundDispatch {
    const { spec, gpu } = this;
    const { batch, inH, inW } = args;
    const label = `conv${spec.transposed ? 'T' : ''} ${spec.inChannels}->${spec.outChannels} k${spec.kernel}s${spec.stride}p${spec.padding} ${inH}x${inW} x${batch}`;
    if (!Number.isInteger(batch) || batch < 1 || !Number.isInteger(inH) || inH < 1 || !Number.isInteger(inW) || inW < 1) {
      throw new ConvSpecError(`${label}: batch and input size must be positive integers`);
    }
    const [outH, outW] = convOutputSize(spec, inH, inW);
    const mPad = packedOutputChannels(spec.outChannels);
    requireBufferSizes(label, [
      ['input', args.input, batch * spec.inChannels * inH * inW],
      ['output', args.output, batch * spec.outChannels * outH * outW],
      ['residual', args.residual, batch * spec.outChannels * outH * outW],
      ['weight', args.weight, spec.kernel * spec.kernel * spec.inChannels * mPad],
      ['bias', args.bias, mPad],
    ]);
    if (spec.residual !== (args.residual !== undefined)) {
      throw new ConvSpecError(`${label}: the spec says residual=${spec.residual} but a residual buffer was ${args.residual ? '' : 'not '}given`);
    }
    if ([args.input, args.residual, args.weight, args.bias].includes(args.output)) {
      throw new ConvSpecError(`${label}: the output buffer must not also be an input`);
    }

    const { phases, phaseH, phaseW, pixels } = phasePixels(spec, batch, inH, inW);
    const tiling = tilingOf(this.variant, spec, pixels);
    const request = convPipeline(this.variant, spec, pixels);
    const pipeline = computePipeline(gpu, request.shader, request.constants);
    const mBlocks = Math.ceil(spec.outChannels / tiling.channelsPerGroup);
    const tiles = Math.ceil(pixels / tiling.pixelsPerGroup);
    const grid = gridFor(gpu, label, tiles, phases * mBlocks, this.gridCap);
    const binding = bindKernel(
      gpu,
      shaders[this.variant],
      label,
      {
        batch,
        inC: spec.inChannels,
        inH,
        inW,
        outC: spec.outChannels,
        outH,
        outW,
        kernel: spec.kernel,
        stride: spec.stride,
        padding: spec.padding,
        mVec4: mPad / 4,
        mBlocks,
        phaseH,
        phaseW,
        tilesX: grid.tilesX,
        slope: spec.leakySlope,
      },
      // Without a residual the binding is never read; the bias buffer stands in (read-only aliasing is allowed).
      [args.input, args.weight, args.bias, args.residual ?? args.bias, args.output],
    );
    return boundDispatch(gpu, label, pipeline, binding, grid.workgroups, convFlops(spec, batch, inH, inW));
  }
}
