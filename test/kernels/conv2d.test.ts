import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Activation } from '../../src/graph/architecture.js';
import { ConvKernel, type ConvVariant } from '../../src/kernels/conv2d/conv2d.js';
import { ConvSpecError, convFlops, convOutputSize, packConvWeights, type ConvSpec } from '../../src/kernels/conv2d/conv-spec.js';
import { conv2dReference, convTranspose2dReference } from '../../src/kernels/conv2d/reference.js';
import { testGpu } from '../helpers/gpu.js';
import { assertClose, pick, poisoned, randomArray, rng, run } from './support.js';

const test = suite('kernels/conv2d');
const variants: ConvVariant[] = ['register', 'subgroup'];

interface Case {
  spec: ConvSpec;
  batch: number;
  inH: number;
  inW: number;
}

async function check(c: Case, variant: ConvVariant, seed: number, gridCap?: number): Promise<void> {
  const gpu = await testGpu();
  if (variant === 'subgroup' && gpu.subgroupMinSize < 8) {
    console.warn(`skipped subgroup conv: this adapter has no subgroups of 8 or more (${gpu.subgroupMinSize})`);
    return;
  }
  const rand = rng(seed);
  const { spec, batch, inH, inW } = c;
  const [outH, outW] = convOutputSize(spec, inH, inW);
  const fanIn = spec.inChannels * spec.kernel * spec.kernel;
  const x = randomArray(rand, batch * spec.inChannels * inH * inW);
  const weight = randomArray(rand, fanIn * spec.outChannels, 1 / Math.sqrt(fanIn));
  const bias = randomArray(rand, spec.outChannels, 0.5);
  const outCount = batch * spec.outChannels * outH * outW;
  const residual = spec.residual ? randomArray(rand, outCount) : undefined;
  const reference = spec.transposed ? convTranspose2dReference : conv2dReference;
  const expected = reference(x, [batch, spec.inChannels, inH, inW], weight, bias, spec, residual);

  const packed = packConvWeights(spec, weight, bias);
  const buffers = {
    input: gpu.upload(x, 'x'),
    weight: gpu.upload(packed.weight, 'w'),
    bias: gpu.upload(packed.bias, 'b'),
    residual: residual ? gpu.upload(residual, 'r') : undefined,
    output: poisoned(gpu, outCount, 'y'),
  };
  const kernel = new ConvKernel(gpu, spec, { variant, gridCap });
  const dispatch = kernel.bind({ batch, inH, inW, ...buffers });
  await run(gpu, dispatch);
  const actual = await gpu.read(buffers.output, outCount * 4);
  assertClose(actual, expected, 1e-4, `${variant} ${dispatch.label} ${spec.activation}${spec.residual ? ' +res' : ''}`);
  Object.values(buffers).forEach((b) => b?.destroy());
}

function spec(partial: Partial<ConvSpec> & Pick<ConvSpec, 'inChannels' | 'outChannels' | 'kernel' | 'stride' | 'padding'>): ConvSpec {
  return { transposed: false, activation: 'none', leakySlope: 0.1, residual: false, ...partial };
}

// Every pipeline costs ~1-2 s of LLVM compile on lavapipe, so each variant gets a fixed set of
// epilogue combinations (together: every activation, with and without residual, both directions);
// each runs one layer shaped like the reference model's and three random geometries.
const combos: [ConvVariant, boolean, Activation, boolean][] = [
  ['register', false, 'none', true],
  ['register', false, 'tanh', false],
  ['register', true, 'leaky_relu', false],
  ['subgroup', false, 'relu', true],
  ['subgroup', false, 'leaky_relu', false],
  ['subgroup', true, 'relu', false],
  ['subgroup', true, 'tanh', true],
];

// Transposed geometries are dealt out in order across the transposed combinations so that every
// one runs: k4 s2 p1 (the model's), k not a multiple of s, padding >= kernel, stride > kernel.
const transposedShapes = [[4, 2, 1], [3, 2, 1], [5, 3, 2], [2, 2, 0], [1, 1, 0], [3, 1, 1], [4, 3, 0], [2, 3, 1], [2, 3, 2]];
let transposedDealt = 0;

function randomCase(rand: () => number, transposed: boolean, activation: Activation, residual: boolean): Case {
  const [kernel, stride, padding] = transposed
    ? transposedShapes[transposedDealt++ % transposedShapes.length]
    : [pick(rand, [1, 3, 4, 5]), pick(rand, [1, 2, 3]), pick(rand, [0, 1, 2])];
  // Smallest input with a non-empty output.
  const smallest = transposed ? Math.max(1, Math.ceil((2 * padding - kernel + 1) / stride) + 1) : Math.max(1, kernel - 2 * padding);
  return {
    spec: spec({ inChannels: pick(rand, [1, 3, 5, 13]), outChannels: pick(rand, [1, 3, 13, 20]), kernel, stride, padding, transposed, activation, residual, leakySlope: 0.2 }),
    batch: pick(rand, [1, 3]),
    inH: smallest + Math.floor(rand() * 7),
    inW: smallest + Math.floor(rand() * 7),
  };
}

function modelLikeCase(transposed: boolean, activation: Activation, residual: boolean): Case {
  const geometry = transposed
    ? { inChannels: 24, outChannels: residual ? 16 : 3, kernel: 4, stride: 2, padding: 1 }
    : residual
      ? { inChannels: 24, outChannels: 24, kernel: 3, stride: 1, padding: 1 }
      : { inChannels: 3, outChannels: 24, kernel: 4, stride: 2, padding: 1 };
  // 16x16 images at batch 2 (residual 3x3 convs keep 8x8 inputs so 128 pixels > one tile either way).
  const size = transposed ? 6 : residual ? 8 : 16;
  return { spec: spec({ ...geometry, transposed, activation, residual, leakySlope: 0.01 }), batch: 2, inH: size, inW: size };
}

for (const [variant, transposed, activation, residual] of combos) {
  test(`${variant} ${transposed ? 'transposed conv' : 'conv'}, ${activation}${residual ? ' + residual' : ''}`, async () => {
    const rand = rng(variant.length * 1000 + Number(transposed) * 100 + activation.length * 10 + Number(residual));
    await check(modelLikeCase(transposed, activation, residual), variant, 1);
    for (let i = 0; i < 3; i++) await check(randomCase(rand, transposed, activation, residual), variant, Math.floor(rand() * 1e9));
  });
}

test('pixel tiles folded over several z rows of the dispatch grid', async () => {
  // 300 pixels make 2 (register) or 5 (subgroup) tiles; a cap of 1 workgroup along x puts
  // each tile in its own z row, so a wrong tile = z * tilesX + x would leave poison behind.
  // Epilogues reuse pipelines the combination tests compile anyway.
  const epilogue: Record<ConvVariant, Partial<ConvSpec>> = {
    register: { activation: 'none', residual: true },
    subgroup: { activation: 'leaky_relu', residual: false },
  };
  for (const variant of variants) {
    const c: Case = { spec: spec({ inChannels: 2, outChannels: 3, kernel: 1, stride: 1, padding: 0, ...epilogue[variant] }), batch: 300, inH: 1, inW: 1 };
    await check(c, variant, 400, 1);
  }
});

test('packing follows the PyTorch layouts', () => {
  const s = spec({ inChannels: 2, outChannels: 3, kernel: 2, stride: 1, padding: 0 });
  const weight = Float32Array.from({ length: 24 }, (_, i) => i);
  const bias = new Float32Array([7, 8, 9]);
  const conv = packConvWeights(s, weight, bias);
  // conv [co][ci][kh][kw]; packed [tap][ci][co padded to 16]
  assert.is(conv.weight.length, 4 * 2 * 16);
  assert.is(conv.weight[(3 * 2 + 1) * 16 + 2], weight[((2 * 2 + 1) * 2 + 1) * 2 + 1]);
  assert.equal([...conv.bias.slice(0, 4)], [7, 8, 9, 0]);
  const convT = packConvWeights({ ...s, transposed: true }, weight, bias);
  // transposed [ci][co][kh][kw]
  assert.is(convT.weight[(1 * 2 + 1) * 16 + 2], weight[((1 * 3 + 2) * 2 + 0) * 2 + 1]);
  assert.throws(() => packConvWeights(s, weight.subarray(1), bias), /conv weight has 23 values, expected \[3, 2, 2, 2\]/);
});

test('shapes, flops and bad arguments', async () => {
  const s = spec({ inChannels: 512, outChannels: 512, kernel: 4, stride: 2, padding: 1 });
  assert.equal(convOutputSize(s, 8, 8), [4, 4]);
  assert.equal(convOutputSize({ ...s, transposed: true }, 4, 4), [8, 8]);
  // Reference model per-sample costs: enc4 conv 0.134 GFLOP, dec0 convT 0.134 GFLOP.
  assert.is(convFlops(s, 1, 8, 8), 2 * 512 * 512 * 16 * 16);
  assert.is(convFlops({ ...s, transposed: true }, 1, 4, 4), 2 * 512 * 512 * 16 * 16);
  assert.throws(() => convOutputSize(spec({ inChannels: 1, outChannels: 1, kernel: 5, stride: 1, padding: 0 }), 3, 3), (e: Error) => e instanceof ConvSpecError && /input 3x3 gives an empty output/.test(e.message));
  const gpu = await testGpu();
  assert.throws(() => new ConvKernel(gpu, spec({ inChannels: 0, outChannels: 1, kernel: 3, stride: 1, padding: 1 })), /inChannels must be a positive integer/);
  const small = spec({ inChannels: 2, outChannels: 2, kernel: 3, stride: 1, padding: 1 });
  const packed = packConvWeights(small, new Float32Array(36), new Float32Array(2));
  const w = gpu.upload(packed.weight, 'w');
  const b = gpu.upload(packed.bias, 'b');
  const x = gpu.createBuffer(2 * 2 * 5 * 5 * 4, 'storage', 'x');
  const kernel = new ConvKernel(gpu, small);
  assert.throws(() => kernel.bind({ batch: 3, inH: 5, inW: 5, input: x, output: gpu.createBuffer(1000, 'storage', 'y'), weight: w, bias: b }), /input buffer x holds 400 bytes, needs 600/);
  assert.throws(() => kernel.bind({ batch: 2, inH: 5, inW: 5, input: x, output: x, weight: w, bias: b }), /output buffer must not also be an input/);
  assert.throws(() => kernel.bind({ batch: 2, inH: 5, inW: 5, input: x, output: gpu.createBuffer(800, 'storage', 'y'), residual: x, weight: w, bias: b }), /residual=false but a residual buffer was given/);
});

test.run();
