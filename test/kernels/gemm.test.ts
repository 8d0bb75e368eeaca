// The NHWC GEMM convolution kernels against the float64 references on fresh random shapes: every
// backend ('fma' in f32 and f16, the subgroup-matrix emulation in f16), every input/output storage
// the model uses (NHWC in the storage precision, the NCHW float32 image in, the NCHW float32
// reconstruction out), odd sizes crossing tile edges, batch 1 and > 1, split-K, every activation,
// with and without residual, NaN-poisoned outputs. Tiles are small so that a few pixels cross several
// workgroup tiles and channel blocks. The real subgroup-matrix builtins need a GPU that has them.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Activation } from '../../src/graph/architecture.js';
import { convOutputSize, type ConvSpec } from '../../src/kernels/conv2d/conv-spec.js';
import { type GemmOptions, type GemmTile, type TensorFormat, tileProblem, EMULATED_FRAGMENT } from '../../src/kernels/conv2d/gemm.js';
import { conv2dReference, convTranspose2dReference } from '../../src/kernels/conv2d/reference.js';
import { testGpu } from '../helpers/gpu.js';
import { requires } from '../helpers/skip.js';
import { fastConvRaw } from './fast-reference.js';
import { type GemmCase, layerReference, randomLayerData, runGemmLayer, storageTolerance } from './gemm-support.js';
import { pick, randomArray, rng } from './support.js';

const test = suite('kernels/gemm');
const gpu = await testGpu();
const f16Missing = gpu.features.has('shader-f16') ? null : 'the adapter has no shader-f16';

const nhwc = (type: 'f32' | 'f16'): TensorFormat => ({ layout: 'nhwc', type });
const image: TensorFormat = { layout: 'nchw', type: 'f32' };

interface Flavour {
  name: string;
  precision: 'f32' | 'f16';
  tile: GemmTile;
}

// Small tiles: 32 pixels and 16-32 channels per workgroup. bk 8 or 16 divides some channel counts
// below (the vec4 loader) and not others (the scalar one). An fma invocation holds quads of pixels
// and of channels interleaved with its neighbours': two pixel quads in f32, two channel quads in f16
// (more of both would only cost lavapipe compile time: it unrolls the per-invocation tile).
const flavours: Flavour[] = [
  { name: 'fma f32', precision: 'f32', tile: { backend: 'fma', bp: 32, bc: 16, bk: 8, tp: 8, tc: 4, splitK: 1 } },
  { name: 'fma f16', precision: 'f16', tile: { backend: 'fma', bp: 32, bc: 16, bk: 8, tp: 4, tc: 8, splitK: 1 } },
  { name: 'matrix-emulated f16', precision: 'f16', tile: { backend: 'matrix-emulated', bp: 32, bc: 32, bk: 16, sgp: 2, sgc: 1, fm: 1, fn: 2, splitK: 1 } },
];

function spec(partial: Partial<ConvSpec> & Pick<ConvSpec, 'inChannels' | 'outChannels' | 'kernel' | 'stride' | 'padding'>): ConvSpec {
  return { transposed: false, activation: 'none', leakySlope: 0.1, residual: false, ...partial };
}

async function check(c: GemmCase, options: GemmOptions, seed: number): Promise<void> {
  const data = randomLayerData(c, options, seed);
  const expected = layerReference(c, data);
  const { actual, label } = await runGemmLayer(gpu, c, options, data);
  assert.is(actual.length, expected.length);
  for (let i = 0; i < actual.length; i++) {
    const tolerance = storageTolerance(options.output.type, expected[i], 1e-4);
    if (!(Math.abs(actual[i] - expected[i]) <= tolerance)) {
      assert.unreachable(`${label} [${options.tile ? JSON.stringify(options.tile) : 'heuristic'}] ${c.spec.activation}${c.spec.residual ? ' +res' : ''}: element ${i} is ${actual[i]}, expected ${expected[i]} (tolerance ${tolerance})`);
    }
  }
}

// Epilogues and storages dealt across the cases so that each flavour sees every activation, with and
// without residual, forward and transposed, and each of the three storage pairs.
const activations: Activation[] = ['relu', 'leaky_relu', 'tanh', 'none'];
const transposedShapes = [[4, 2, 1], [3, 2, 1], [2, 3, 1], [5, 3, 2]];

function randomCase(rand: () => number, i: number): GemmCase {
  const transposed = i % 2 === 1;
  const [kernel, stride, padding] = transposed ? transposedShapes[(i >> 1) % transposedShapes.length] : [pick(rand, [1, 3, 4]), pick(rand, [1, 2]), pick(rand, [0, 1])];
  const smallest = transposed ? Math.max(1, Math.ceil((2 * padding - kernel + 1) / stride) + 1) : Math.max(1, kernel - 2 * padding);
  return {
    spec: spec({ inChannels: pick(rand, [3, 8, 13, 16]), outChannels: pick(rand, [3, 9, 20, 40]), kernel, stride, padding, transposed, activation: activations[i % 4], residual: i % 3 === 0, leakySlope: 0.2 }),
    batch: pick(rand, [1, 3]),
    inH: smallest + Math.floor(rand() * 6),
    inW: smallest + Math.floor(rand() * 6),
  };
}

const storages: [TensorFormat | null, TensorFormat | null][] = [[null, null], [image, null], [null, image]];

for (const flavour of flavours) {
  requires(test, flavour.precision === 'f16' ? f16Missing : null, { ci: true })(`${flavour.name}: random shapes, storages, epilogues, split-K`, async () => {
    const rand = rng(flavour.name.length * 7919);
    for (let i = 0; i < 6; i++) {
      const [input, output] = storages[i % storages.length];
      const options: GemmOptions = {
        precision: flavour.precision,
        input: input ?? nhwc(flavour.precision),
        output: output ?? nhwc(flavour.precision),
        tile: { ...flavour.tile, splitK: i % 2 === 0 ? 1 : 3 },
      };
      await check(randomCase(rand, i), options, Math.floor(rand() * 1e9));
    }
  });
}

test('tiles folded over several z rows of the dispatch grid, split-K included', async () => {
  // 300 pixels in 32-pixel tiles with at most 2 workgroups along x: tiles land in 5 z rows, and a
  // wrong tile = z * tilesX + x (in the GEMM or in the reduction) leaves poison behind.
  const c: GemmCase = { spec: spec({ inChannels: 8, outChannels: 5, kernel: 1, stride: 1, padding: 0, activation: 'relu', residual: true }), batch: 300, inH: 1, inW: 1 };
  for (const splitK of [1, 2]) {
    await check(c, { precision: 'f32', input: nhwc('f32'), output: nhwc('f32'), tile: { ...flavours[0].tile, splitK }, gridCap: 2 }, 401 + splitK);
  }
});

test('tile configurations are validated against the adapter', () => {
  const f = EMULATED_FRAGMENT;
  assert.is(tileProblem(gpu, flavours[0].tile, 'f32', f), null);
  assert.match(tileProblem(gpu, { ...flavours[0].tile, tp: 5 }, 'f32', f) ?? '', /tp \| bp/);
  assert.match(tileProblem(gpu, { ...flavours[0].tile, tp: 2 }, 'f32', f) ?? '', /multiples of 4/);
  assert.match(tileProblem(gpu, { ...flavours[0].tile, tc: 2 }, 'f32', f) ?? '', /multiples of 4/);
  assert.match(tileProblem(gpu, flavours[2].tile, 'f32', f) ?? '', /need f16 storage/);
  assert.match(tileProblem(gpu, { ...flavours[2].tile, bp: 48 }, 'f16', f) ?? '', /bp must be sgp\*fm\*16/);
  assert.match(tileProblem(gpu, { backend: 'fma', bp: 512, bc: 512, bk: 64, tp: 16, tc: 16, splitK: 1 }, 'f32', f) ?? '', /workgroup memory/);
  if (!gpu.fragment) assert.match(tileProblem(gpu, { ...flavours[2].tile, backend: 'matrix' }, 'f16', f) ?? '', /no subgroup matrices/);
});

test('the fast float64 reference equals the plain one', () => {
  const rand = rng(77);
  for (let i = 0; i < 12; i++) {
    const transposed = i % 2 === 1;
    const [kernel, stride, padding] = transposed ? transposedShapes[i % transposedShapes.length] : [pick(rand, [1, 3, 4, 5]), pick(rand, [1, 2, 3]), pick(rand, [0, 1, 2])];
    const smallest = transposed ? Math.max(1, Math.ceil((2 * padding - kernel + 1) / stride) + 1) : Math.max(1, kernel - 2 * padding);
    const s = spec({ inChannels: pick(rand, [1, 3, 5]), outChannels: pick(rand, [1, 4, 7]), kernel, stride, padding, transposed });
    const [n, h, w] = [pick(rand, [1, 2]), smallest + Math.floor(rand() * 5), smallest + Math.floor(rand() * 5)];
    const x = randomArray(rand, n * s.inChannels * h * w);
    const weight = randomArray(rand, s.inChannels * s.outChannels * kernel * kernel);
    const bias = randomArray(rand, s.outChannels);
    const plain = (transposed ? convTranspose2dReference : conv2dReference)(x, [n, s.inChannels, h, w], weight, bias, s);
    const fast = fastConvRaw(x, [n, s.inChannels, h, w], weight, bias, s);
    assert.is(fast.length, n * s.outChannels * convOutputSize(s, h, w).reduce((a, b) => a * b, 1));
    for (let j = 0; j < plain.length; j++) assert.ok(Math.abs(plain[j] - fast[j]) < 1e-12, `case ${i} element ${j}: ${fast[j]} vs ${plain[j]}`);
  }
});

test.run();
