// Shared by the GEMM convolution tests: run one layer through GemmConvKernel with its input, output
// and residual in any layout and element type, and the float64 reference on exactly the values the
// kernel saw (inputs and weights rounded to f16 where stored as f16).
import type { Gpu } from '../../src/gpu/device.js';
import { fromFloat16, toFloat16 } from '../../src/gpu/f16.js';
import { convOutputSize, packConvWeights, type ConvSpec } from '../../src/kernels/conv2d/conv2d.js';
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

/** Runs the case; returns the kernel's NCHW output and the float64 reference. */
export async function runGemmCase(gpu: Gpu, c: GemmCase, options: GemmOptions, seed: number): Promise<{ actual: Float32Array; expected: Float64Array; label: string }> {
  const rand = rng(seed);
  const { spec, batch, inH, inW } = c;
  const [outH, outW] = convOutputSize(spec, inH, inW);
  const inShape = [batch, spec.inChannels, inH, inW];
  const outShape = [batch, spec.outChannels, outH, outW];
  const fanIn = spec.inChannels * spec.kernel * spec.kernel;
  let x = randomArray(rand, batch * spec.inChannels * inH * inW);
  let weight = randomArray(rand, fanIn * spec.outChannels, 1 / Math.sqrt(fanIn));
  const bias = randomArray(rand, spec.outChannels, 0.5);
  const outCount = batch * spec.outChannels * outH * outW;
  let residual = spec.residual ? randomArray(rand, outCount) : undefined;
  if (options.input.type === 'f16') x = roundF16(x);
  if (options.precision === 'f16') weight = roundF16(weight);
  if (residual && options.output.type === 'f16') residual = roundF16(residual);
  const reference = spec.transposed ? convTranspose2dReference : conv2dReference;
  const expected = reference(x, inShape, weight, bias, spec, residual);

  const packed = packConvWeights(spec, weight, bias);
  const buffers = {
    input: upload(gpu, x, inShape, options.input, 'x'),
    weight: options.precision === 'f16' ? gpu.upload(toFloat16(packed.weight), 'w') : gpu.upload(packed.weight, 'w'),
    bias: gpu.upload(packed.bias, 'b'),
    residual: residual ? upload(gpu, residual, outShape, options.output, 'r') : undefined,
    output: poisonedAs(gpu, outCount, options.output, 'y'),
  };
  const kernel = new GemmConvKernel(gpu, spec, options);
  const dispatch = kernel.bind({ batch, inH, inW, ...buffers });
  try {
    await run(gpu, dispatch);
    const actual = await download(gpu, buffers.output, outShape, options.output);
    return { actual, expected, label: dispatch.label };
  } finally {
    dispatch.destroy();
    Object.values(buffers).forEach((b) => b?.destroy());
  }
}
