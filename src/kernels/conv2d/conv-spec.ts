// The convolution vocabulary both layouts speak: a layer's spec and its validation, output size,
// FLOPs, packed weights, the stride-phase geometry of a transposed convolution, the uniform fields
// every convolution shader reads (conv2d-geometry.wgsl needs them), and the checks a bind makes.
// The NCHW kernels (conv2d.ts) and the NHWC GEMM kernels (gemm.ts) import it; neither defines any of it.
import { RcaeError } from '../../errors.js';
import { GpuError } from '../../gpu/device.js';
import type { UniformType } from '../../gpu/uniforms.js';
import type { Activation } from '../activation.js';
import { activationId } from '../activation.js';

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
// 16-channel blocks of the register variants read inside a weight row without a bounds check.
const CHANNEL_PACK = 16;

export function checkConvSpec(spec: ConvSpec): void {
  const positive = { inChannels: spec.inChannels, outChannels: spec.outChannels, kernel: spec.kernel, stride: spec.stride };
  for (const [name, v] of Object.entries(positive)) {
    if (!Number.isInteger(v) || v < 1) throw new ConvSpecError(`conv spec: ${name} must be a positive integer, got ${v}`);
  }
  if (!Number.isInteger(spec.padding) || spec.padding < 0) throw new ConvSpecError(`conv spec: padding must be a non-negative integer, got ${spec.padding}`);
  if (!Number.isFinite(spec.leakySlope)) throw new ConvSpecError(`conv spec: leakySlope must be finite, got ${spec.leakySlope}`);
  activationId(spec.activation);
}

export function convOutputSize(spec: Pick<ConvSpec, 'transposed' | 'kernel' | 'stride' | 'padding'>, inH: number, inW: number): [number, number] {
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

/** The key under which a layer's tuned tile is stored: its GEMM-relevant shape. */
export function layerKey(spec: ConvSpec, inH: number, inW: number): string {
  return `${spec.transposed ? 'convT' : 'conv'} ${spec.inChannels}->${spec.outChannels} k${spec.kernel}s${spec.stride}p${spec.padding} ${inH}x${inW}${spec.residual ? ' +res' : ''}`;
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
  checkConvSpec(spec);
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

/** A layer at one batch as a GEMM: output size, and per stride phase (a transposed conv runs stride^2) its pixels and K. */
export interface ConvGeometry {
  outH: number;
  outW: number;
  phases: number;
  phaseH: number;
  phaseW: number;
  /** Output pixels per phase over the batch: the GEMM's rows. */
  pixels: number;
  /** Taps x input channels one phase reads: the GEMM's K. */
  kTotal: number;
}

export function convGeometry(spec: ConvSpec, batch: number, inH: number, inW: number): ConvGeometry {
  const [outH, outW] = convOutputSize(spec, inH, inW);
  const s = spec.stride;
  const phases = spec.transposed ? s * s : 1;
  const phaseH = spec.transposed ? Math.ceil(outH / s) : outH;
  const phaseW = spec.transposed ? Math.ceil(outW / s) : outW;
  const tapsPerAxis = spec.transposed ? Math.ceil(spec.kernel / s) : spec.kernel;
  return { outH, outW, phases, phaseH, phaseW, pixels: batch * phaseH * phaseW, kTotal: tapsPerAxis * tapsPerAxis * spec.inChannels };
}

/**
 * The uniform fields every convolution shader starts its `ConvParams` with, in this order (the
 * geometry include reads them); a family appends its own after them.
 */
export const CONV_FIELDS = {
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
} as const satisfies Record<string, UniformType>;

/** The values of CONV_FIELDS for a bind. */
export function convFieldValues(spec: ConvSpec, batch: number, inH: number, inW: number, g: ConvGeometry, mBlocks: number, tilesX: number): Record<keyof typeof CONV_FIELDS, number> {
  const mVec4 = packedOutputChannels(spec.outChannels) / 4;
  return { batch, inC: spec.inChannels, inH, inW, outC: spec.outChannels, outH: g.outH, outW: g.outW, kernel: spec.kernel, stride: spec.stride, padding: spec.padding, mVec4, mBlocks, phaseH: g.phaseH, phaseW: g.phaseW, tilesX };
}

/** How many bytes an element of each bound tensor takes (f32: 4, f16: 2). */
export interface ConvElementBytes {
  input: number;
  output: number;
  weight: number;
}

/**
 * The checks every convolution bind makes, in one place: a positive batch and input size, buffers
 * large enough for their tensors, a residual buffer exactly when the spec has one, and an output
 * that is not also an input. Returns the layer's geometry.
 */
export function checkConvBind(label: string, spec: ConvSpec, args: ConvBindArgs, bytes: ConvElementBytes): ConvGeometry {
  const { batch, inH, inW } = args;
  if (!Number.isInteger(batch) || batch < 1 || !Number.isInteger(inH) || inH < 1 || !Number.isInteger(inW) || inW < 1) {
    throw new ConvSpecError(`${label}: batch and input size must be positive integers`);
  }
  const g = convGeometry(spec, batch, inH, inW);
  const mPad = packedOutputChannels(spec.outChannels);
  const outTotal = batch * spec.outChannels * g.outH * g.outW;
  const need: [string, GPUBuffer | undefined, number][] = [
    ['input', args.input, batch * spec.inChannels * inH * inW * bytes.input],
    ['output', args.output, outTotal * bytes.output],
    ['residual', args.residual, outTotal * bytes.output],
    ['weight', args.weight, spec.kernel * spec.kernel * spec.inChannels * mPad * bytes.weight],
    ['bias', args.bias, mPad * 4],
  ];
  for (const [what, buffer, size] of need) {
    if (buffer && buffer.size < size) throw new GpuError(`${label}: ${what} buffer ${buffer.label} holds ${buffer.size} bytes, needs ${size}`);
  }
  if (spec.residual !== (args.residual !== undefined)) {
    throw new ConvSpecError(`${label}: the spec says residual=${spec.residual} but a residual buffer was ${args.residual ? '' : 'not '}given`);
  }
  if ([args.input, args.residual, args.weight, args.bias].includes(args.output)) {
    throw new ConvSpecError(`${label}: the output buffer must not also be an input`);
  }
  return g;
}

/** A bind's label: the layer's shape and batch. */
export function convLabel(prefix: string, spec: ConvSpec, batch: number, inH: number, inW: number): string {
  return `${prefix}conv${spec.transposed ? 'T' : ''} ${spec.inChannels}->${spec.outChannels} k${spec.kernel}s${spec.stride}p${spec.padding} ${inH}x${inW} x${batch}`;
}
