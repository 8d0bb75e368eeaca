// Every convolution and linear variant at every distinct layer shape of the full-width (w=64)
// reference model, at its real spatial size, batch 1 and 3, with and without residual, each variant
// forced whatever the adapter's default, with the tile (and split-K) the model itself would pick.
// Layers reach 512 output channels, so every channel block of every tile is exercised (a test of
// small layers alone once let a wrong channel-block offset through).
//
// Data are exact in f16 (inputs multiples of 1/256, weights of 1/4096, |sums| < 16), so f32
// accumulation is exact in any order and one float64 reference serves f32 and f16 storage alike;
// the only f16 error left is the rounding of the stored output. The reference is computed once per
// shape (fast-reference.ts), at batch 3; batch 1 reuses its first sample.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { referenceArchitecture } from '../../src/graph/architecture.js';
import { convLayers } from '../../src/graph/lower.js';
import { buildPlan } from '../../src/graph/plan.js';
import { activateReference } from '../../src/kernels/reference.js';
import { ConvKernel, type ConvVariant } from '../../src/kernels/conv2d/conv2d.js';
import { convOutputSize, packConvWeights, type ConvSpec } from '../../src/kernels/conv2d/conv-spec.js';
import { gemmHeuristic, type GemmOptions, type TensorFormat } from '../../src/kernels/conv2d/gemm.js';
import { LinearKernel, packLinearWeights } from '../../src/kernels/linear/linear.js';
import { type KernelVariant, isGemmVariant, variantProblem } from '../../src/kernels/variants.js';
import { testGpu } from '../helpers/gpu.js';
import { requires } from '../helpers/skip.js';
import { fastConvRaw } from './fast-reference.js';
import { type LayerData, runGemmLayer, storageTolerance } from './gemm-support.js';
import { poisoned, rng, run } from './support.js';

const test = suite('kernels/layer shapes (w=64)');
const gpu = await testGpu();
const plan = buildPlan(referenceArchitecture(64));

interface Layer {
  key: string;
  spec: ConvSpec;
  inH: number;
  inW: number;
  kind: 'conv' | 'linear';
  /** Where the model keeps this layer's input/output in the GEMM family. */
  imageIn: boolean;
  imageOut: boolean;
}

// Distinct shapes in model order; a 3x3 residual shape appears once without and once with residual.
const layers: Layer[] = [];
for (const { node, key, spec, inH, inW } of convLayers(plan, 'f32')) {
  if (node.kind === 'stat' || layers.some((l) => l.key === key)) continue;
  const { io } = plan;
  layers.push({ key, spec, inH, inW, kind: node.kind, imageIn: node.input === io.image || node.input === io.latent, imageOut: node.output === io.reconstruction || node.output === io.latent });
}

const BATCH = 3;

// Exact in f16 and f32: see the header.
function exactData(layer: Layer, seed: number): LayerData {
  const rand = rng(seed);
  const { spec, inH, inW } = layer;
  const [outH, outW] = convOutputSize(spec, inH, inW);
  const fanIn = spec.inChannels * spec.kernel * spec.kernel;
  const span = Math.max(1, Math.round(4096 / Math.sqrt(fanIn)));
  const grid = (count: number, scale: number, unit: number) => Float32Array.from({ length: count }, () => Math.round((rand() * 2 - 1) * scale) / unit);
  return {
    x: grid(BATCH * spec.inChannels * inH * inW, 256, 256),
    weight: grid(fanIn * spec.outChannels, span, 4096),
    bias: grid(spec.outChannels, 128, 256),
    residual: spec.residual ? grid(BATCH * spec.outChannels * outH * outW, 256, 256) : undefined,
  };
}

interface Expected {
  data: LayerData;
  expected: Float64Array;
}

const references = new Map<string, Expected>();
function referenceOf(layer: Layer): Expected {
  let r = references.get(layer.key);
  if (!r) {
    const data = exactData(layer, layers.indexOf(layer) + 1);
    const raw = fastConvRaw(data.x, [BATCH, layer.spec.inChannels, layer.inH, layer.inW], data.weight, data.bias, layer.spec);
    const expected = raw.map((v, i) => activateReference(v + (data.residual ? data.residual[i] : 0), layer.spec.activation, layer.spec.leakySlope));
    r = { data, expected };
    references.set(layer.key, r);
  }
  return r;
}

function firstSamples(data: LayerData, layer: Layer, batch: number): LayerData {
  if (batch === BATCH) return data;
  const [outH, outW] = convOutputSize(layer.spec, layer.inH, layer.inW);
  const perIn = layer.spec.inChannels * layer.inH * layer.inW;
  const perOut = layer.spec.outChannels * outH * outW;
  return { ...data, x: data.x.subarray(0, batch * perIn), residual: data.residual?.subarray(0, batch * perOut) };
}

async function runNchw(variant: ConvVariant, layer: Layer, batch: number, data: LayerData): Promise<Float32Array> {
  const { spec, inH, inW } = layer;
  const [outH, outW] = convOutputSize(spec, inH, inW);
  const outCount = batch * spec.outChannels * outH * outW;
  const linear = layer.kind === 'linear';
  const lspec = { inFeatures: spec.inChannels, outFeatures: spec.outChannels, activation: spec.activation, leakySlope: spec.leakySlope };
  const packed = linear ? packLinearWeights(lspec, data.weight, data.bias) : packConvWeights(spec, data.weight, data.bias);
  const buffers = {
    input: gpu.upload(data.x, 'x'),
    weight: gpu.upload(packed.weight, 'w'),
    bias: gpu.upload(packed.bias, 'b'),
    residual: data.residual ? gpu.upload(data.residual, 'r') : undefined,
    output: poisoned(gpu, outCount, 'y'),
  };
  const dispatch = linear ? new LinearKernel(gpu, lspec).bind({ batch, ...buffers }) : new ConvKernel(gpu, spec, { variant }).bind({ batch, inH, inW, ...buffers });
  try {
    await run(gpu, dispatch);
    return await gpu.read(buffers.output, outCount * 4);
  } finally {
    dispatch.destroy();
    Object.values(buffers).forEach((b) => b?.destroy());
  }
}

const variants: [KernelVariant, 'f32' | 'f16'][] = [
  ['register', 'f32'],
  ['subgroup', 'f32'],
  ['fma', 'f32'],
  ['fma', 'f16'],
  ['matrix-emulated', 'f16'],
];

// `npm run mutate` narrows the run to the variant it planted a bug in (e.g. 'fma/f32,register/f32').
const only = process.env.RCAE_LAYER_VARIANTS?.split(',');

for (const [variant, precision] of variants.filter(([v, p]) => !only || only.includes(`${v}/${p}`))) {
  const missing = variantProblem(gpu, variant, precision);
  requires(test, missing, { ci: true })(`${variant} ${precision}: every layer shape of the w=64 model, batch 1 and 3`, async () => {
    for (const layer of layers) {
      const { data, expected } = referenceOf(layer);
      for (const batch of [1, BATCH]) {
        const input = firstSamples(data, layer, batch);
        let actual: Float32Array;
        let what = `${variant} ${precision} ${layer.key} x${batch}`;
        if (isGemmVariant(variant)) {
          const storage = (atImage: boolean): TensorFormat => (atImage ? { layout: 'nchw', type: 'f32' } : { layout: 'nhwc', type: precision });
          const tile = gemmHeuristic(gpu, layer.spec, batch, layer.inH, layer.inW, precision, variant);
          const options: GemmOptions = { precision, input: storage(layer.imageIn), output: storage(layer.imageOut), tile };
          what += ` ${JSON.stringify(tile)}`;
          actual = (await runGemmLayer(gpu, { spec: layer.spec, batch, inH: layer.inH, inW: layer.inW }, options, input)).actual;
        } else {
          actual = await runNchw(variant as ConvVariant, layer, batch, input);
        }
        const outType = isGemmVariant(variant) && !layer.imageOut ? precision : 'f32';
        for (let i = 0; i < actual.length; i++) {
          const tolerance = storageTolerance(outType, expected[i], 1e-5);
          if (!(Math.abs(actual[i] - expected[i]) <= tolerance)) assert.unreachable(`${what}: element ${i} is ${actual[i]}, expected ${expected[i]}`);
        }
      }
    }
  });
}

test('the shapes cover the model: 20 distinct layers, 3 to 8192 output channels', () => {
  assert.is(layers.length, 20);
  assert.is(Math.max(...layers.map((l) => l.spec.outChannels)), 8192);
  assert.is(Math.min(...layers.map((l) => l.spec.outChannels)), 3);
  assert.ok(layers.some((l) => l.spec.residual) && layers.some((l) => l.spec.transposed) && layers.some((l) => l.kind === 'linear'));
});

test.run();
