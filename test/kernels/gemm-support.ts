// Shared by the GEMM convolution tests: run one layer through GemmConvKernel with its input, output
// and residual in any layout and element type, and the float64 reference on exactly the values the
// kernel saw (inputs and weights rounded to f16 where stored as f16).
import type { Gpu } from '../../src/gpu/device.js';
import { fromFloat16, toFloat16 } from '../../src/gpu/f16.js';
import { convOutputSize, packConvWeights, type ConvSpec } from '../../src/kernels/conv2d/conv-spec.js';
import { GemmConvKernel, type GemmOptions, type TensorFormat } from '../../src/kernels/conv2d/gemm.js';
import { conv2dReference, convTranspose2dReference } from '../../src/kernels/conv2d/reference.js';
import { randomArray, rng, run } from './support.js';

/** NCHW <-> NHWC for [n, c, h, w] data. */
export function toNhwc(x: ArrayLike<number>, [n, c, h, w]: readonly number[]): Float32Array {
  const out = new Float32Array(n * c * h * w);
  for (let b = 0; b < n; b++) for (let ch = 0; ch < c; ch++) for (let i = 0; i < h * w; i++) out[(b * h * w + i) * c + ch] = x[(b * c + ch) * h * w + i];
  return out;
}

export function fromNhwc(x: ArrayLike<number>, [n, c, h, w]: readonly number[]): Float32Array {
  const out = new Float32Array(n * c * h * w);
  for (let b = 0; b < n; b++) for (let ch = 0; ch < c; ch++) for (let i = 0; i < h * w; i++) out[(b * c + ch) * h * w + i] = x[(b * h * w + i) * c + ch];
  return out;
}

const roundF16 = (x: Float32Array) => fromFloat16(toFloat16(x), x.length);

function upload(gpu: Gpu, nchw: Float32Array, shape: readonly number[], format: TensorFormat, label: string): GPUBuffer {
  const laid = format.layout === 'nhwc' ? toNhwc(nchw, shape) : nchw;
  return format.type === 'f16' ? gpu.upload(toFloat16(laid), label) : gpu.upload(laid, label);
}

function poisonedAs(gpu: Gpu, count: number, format: TensorFormat, label: string): GPUBuffer {
  const nan = new Float32Array(count).fill(Number.NaN);
  return format.type === 'f16' ? gpu.upload(toFloat16(nan), label) : gpu.upload(nan, label);
}

async function download(gpu: Gpu, buffer: GPUBuffer, shape: readonly number[], format: TensorFormat): Promise<Float32Array> {
  const count = shape.reduce((a, b) => a * b, 1);
  const bytes = format.type === 'f16' ? Math.ceil(count / 2) * 4 : count * 4;
  const raw = await gpu.read(buffer, bytes);
  const values = format.type === 'f16' ? fromFloat16(new Uint16Array(raw.buffer), count) : raw;
  return format.layout === 'nhwc' ? fromNhwc(values, shape) : values;
}

export interface GemmCase {
  spec: ConvSpec;
  batch: number;
  inH: number;
  inW: number;
}

/** A layer's data, NCHW float32, in PyTorch weight layout. */
export interface LayerData {
  x: Float32Array;
  weight: Float32Array;
  bias: Float32Array;
  residual?: Float32Array;
}

/** Random data for a case, rounded to f16 where the kernel stores f16 (so the reference sees it too). */
export function randomLayerData(c: GemmCase, options: GemmOptions, seed: number): LayerData {
  const rand = rng(seed);
  const { spec, batch, inH, inW } = c;
  const [outH, outW] = convOutputSize(spec, inH, inW);
  const fanIn = spec.inChannels * spec.kernel * spec.kernel;
  let x = randomArray(rand, batch * spec.inChannels * inH * inW);
  let weight = randomArray(rand, fanIn * spec.outChannels, 1 / Math.sqrt(fanIn));
  const bias = randomArray(rand, spec.outChannels, 0.5);
  let residual = spec.residual ? randomArray(rand, batch * spec.outChannels * outH * outW) : undefined;
  if (options.input.type === 'f16') x = roundF16(x);
  if (options.precision === 'f16') weight = roundF16(weight);
  if (residual && options.output.type === 'f16') residual = roundF16(residual);
  return { x, weight, bias, residual };
}

/** Runs one layer through GemmConvKernel; returns the output as NCHW float32. */
export async function runGemmLayer(gpu: Gpu, c: GemmCase, options: GemmOptions, data: LayerData): Promise<{ actual: Float32Array; label: string }> {
  const { spec, batch, inH, inW } = c;
  const [outH, outW] = convOutputSize(spec, inH, inW);
  const inShape = [batch, spec.inChannels, inH, inW];
  const outShape = [batch, spec.outChannels, outH, outW];
  const packed = packConvWeights(spec, data.weight, data.bias);
  const buffers = {
    input: upload(gpu, data.x, inShape, options.input, 'x'),
    weight: options.precision === 'f16' ? gpu.upload(toFloat16(packed.weight), 'w') : gpu.upload(packed.weight, 'w'),
    bias: gpu.upload(packed.bias, 'b'),
    residual: data.residual ? upload(gpu, data.residual, outShape, options.output, 'r') : undefined,
    output: poisonedAs(gpu, batch * spec.outChannels * outH * outW, options.output, 'y'),
  };
  const dispatch = new GemmConvKernel(gpu, spec, options).bind({ batch, inH, inW, ...buffers });
  try {
    await run(gpu, dispatch);
    return { actual: await download(gpu, buffers.output, outShape, options.output), label: dispatch.label };
  } finally {
    dispatch.destroy();
    Object.values(buffers).forEach((b) => b?.destroy());
  }
}

/** The float64 reference of a layer on exactly `data`. */
export function layerReference(c: GemmCase, data: LayerData): Float64Array {
  const reference = c.spec.transposed ? convTranspose2dReference : conv2dReference;
  return reference(data.x, [c.batch, c.spec.inChannels, c.inH, c.inW], data.weight, data.bias, c.spec, data.residual);
}

/** Bound for an output stored in `type`: f16 rounds to 11 significant bits (2^-11 relative). */
export function storageTolerance(type: 'f32' | 'f16', expected: number, f32Tolerance: number): number {
  return type === 'f16' ? f32Tolerance + Math.abs(expected) * 2 ** -11 : f32Tolerance;
}
