import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Activation } from '../../src/graph/architecture.js';
import { LinearKernel, packLinearWeights, type LinearOptions, type LinearSpec } from '../../src/kernels/linear/linear.js';
import { linearReference } from '../../src/kernels/linear/reference.js';
import { testGpu } from '../helpers/gpu.js';
import { assertClose, pick, poisoned, randomArray, rng, run } from './support.js';

const test = suite('kernels/linear');

async function check(spec: LinearSpec, batch: number, shape: LinearOptions['shape'], seed: number): Promise<void> {
  const gpu = await testGpu();
  const rand = rng(seed);
  const x = randomArray(rand, batch * spec.inFeatures);
  const weight = randomArray(rand, spec.outFeatures * spec.inFeatures, 1 / Math.sqrt(spec.inFeatures));
  const bias = randomArray(rand, spec.outFeatures, 0.5);
  const expected = linearReference(x, batch, weight, bias, spec);
  const packed = packLinearWeights(spec, weight, bias);
  const buffers = { input: gpu.upload(x, 'x'), weight: gpu.upload(packed.weight, 'w'), bias: gpu.upload(packed.bias, 'b'), output: poisoned(gpu, batch * spec.outFeatures, 'y') };
  const dispatch = new LinearKernel(gpu, spec, { shape }).bind({ batch, ...buffers });
  assert.is(dispatch.flops, 2 * batch * spec.inFeatures * spec.outFeatures);
  await run(gpu, dispatch);
  assertClose(await gpu.read(buffers.output, batch * spec.outFeatures * 4), expected, 1e-4, `${shape} ${dispatch.label} ${spec.activation}`);
  Object.values(buffers).forEach((b) => b.destroy());
}

test('random sizes, batch 1 and more, the activations fc layers use', async () => {
  const rand = rng(21);
  const activations: Activation[] = ['none', 'relu', 'leaky_relu'];
  for (let i = 0; i < 6; i++) {
    const spec: LinearSpec = { inFeatures: pick(rand, [1, 7, 64, 300]), outFeatures: pick(rand, [1, 5, 33, 70]), activation: activations[i % 3], leakySlope: 0.05 };
    await check(spec, i < 2 ? 1 : pick(rand, [2, 5, 9]), i % 2 ? 'narrow' : 'wide', 500 + i);
  }
});

test('bottleneck-shaped layers (fc_encode / fc_decode of a width-4 model)', async () => {
  for (const shape of ['narrow', 'wide'] as const) {
    await check({ inFeatures: 512, outFeatures: 16, activation: 'none', leakySlope: 0.01 }, 3, shape, 600);
    await check({ inFeatures: 16, outFeatures: 512, activation: 'relu', leakySlope: 0.01 }, 3, shape, 601);
  }
});

test('packing rejects a weight of the wrong size', () => {
  const spec: LinearSpec = { inFeatures: 4, outFeatures: 3, activation: 'none', leakySlope: 0 };
  assert.throws(() => packLinearWeights(spec, new Float32Array(11), new Float32Array(3)), /linear weight has 11 values, expected \[3, 4\]/);
});

test.run();
