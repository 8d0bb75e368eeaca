import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type Architecture, referenceArchitecture } from '../../src/graph/architecture.js';
import { Executor } from '../../src/graph/executor.js';
import { buildPlan, valueSize } from '../../src/graph/plan.js';
import { randomImages, randomParams } from '../../src/graph/random-params.js';
import { referenceForward } from '../../src/graph/reference.js';
import { testGpu } from '../helpers/gpu.js';
import { requires } from '../helpers/skip.js';

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.is(a.length, b.length, 'lengths differ');
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
  }
  return m;
}

function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]) / Math.abs(b[i]));
  return m;
}

const small = (w: number, patch: Partial<Architecture> = {}): Architecture => ({ ...referenceArchitecture(w), ...patch });

// A 4-stage, 64x64, 32-latent variant with leaky ReLU and extra blocks: the architecture is data.
const variant: Architecture = {
  baseWidth: 3,
  inChannels: 3,
  imageSize: 64,
  latentDim: 32,
  activation: 'leaky_relu',
  leakySlope: 0.2,
  encoder: [{ channels: 3, residualBlocks: 2 }, { channels: 5, residualBlocks: 0 }, { channels: 7, residualBlocks: 1 }, { channels: 6, residualBlocks: 1 }],
  decoder: [{ channels: 6, residualBlocks: 1 }, { channels: 5, residualBlocks: 0 }, { channels: 4, residualBlocks: 2 }, { channels: 3, residualBlocks: 0 }],
  fcEncodeActivation: true,
  fcDecodeActivation: false,
};

const cases: [string, Architecture, number, number | undefined][] = [
  ['w=2 reference, batch 1', small(2), 1, undefined],
  ['w=3 enc4-res, batch 3 in chunks of 2', referenceArchitecture(3, 'enc4-res'), 3, 2],
  ['4-stage leaky variant, batch 2', variant, 2, undefined],
];

for (const [name, arch, batch, maxChunk] of cases) {
  test(`GPU forward matches the float64 reference: ${name}`, async () => {
    const gpu = await testGpu();
    const plan = buildPlan(arch);
    const params = randomParams(arch, batch * 7 + arch.baseWidth);
    const images = randomImages(batch, valueSize(plan.values[plan.io.image]), 11 + batch);
    const executor = new Executor(gpu, plan, params, { maxChunk });
    try {
      const got = await executor.run(images, batch, { from: 'image', want: ['latent', 'reconstruction', 'mse', 'hf', 'ssim'] });
      const want = referenceForward(plan, params, images, batch);
      const latentErr = maxAbsDiff(got.latent!, want.latent);
      const reconErr = maxAbsDiff(got.reconstruction!, want.reconstruction);
      assert.ok(latentErr <= 1e-4, `latent max abs error ${latentErr}`);
      assert.ok(reconErr <= 1e-4, `reconstruction max abs error ${reconErr}`);
      for (const stat of ['mse', 'hf'] as const) {
        const rel = maxRelDiff(got[stat]!, want[stat]);
        assert.ok(rel <= 1e-4, `per-sample ${stat} relative error ${rel}`);
      }
      const ssimErr = maxAbsDiff(got.ssim!, want.ssim);
      assert.ok(ssimErr <= 1e-4, `per-sample SSIM max abs error ${ssimErr}`);

      const decoded = await executor.run(got.latent!, batch, { from: 'latent', want: ['reconstruction'] });
      assert.ok(maxAbsDiff(decoded.reconstruction!, got.reconstruction!) <= 1e-5, 'decode(encode(x)) differs from reconstruct(x)');
      const encoded = await executor.run(images, batch, { from: 'image', want: ['latent'] });
      assert.ok(maxAbsDiff(encoded.latent!, got.latent!) <= 1e-6, 'encode-only latents differ');
    } finally {
      executor.destroy();
    }
  });
}

test('results do not depend on how the batch is chunked', async () => {
  const gpu = await testGpu();
  const arch = small(2);
  const plan = buildPlan(arch);
  const params = randomParams(arch, 5);
  const images = randomImages(5, valueSize(plan.values[plan.io.image]), 3);
  const whole = new Executor(gpu, plan, params);
  const chunked = new Executor(gpu, plan, params, { maxChunk: 2 });
  try {
    const a = await whole.run(images, 5, { from: 'image', want: ['mse'] });
    const b = await chunked.run(images, 5, { from: 'image', want: ['mse'] });
    assert.ok(maxAbsDiff(a.mse!, b.mse!) <= 1e-7);
    assert.is(a.mse!.length, 5);
  } finally {
    whole.destroy();
    chunked.destroy();
  }
});

async function checkStatistics(precision: 'f32' | 'f16'): Promise<void> {
  const gpu = await testGpu();
  const arch = small(2);
  const plan = buildPlan(arch);
  const params = randomParams(arch, 9);
  const images = randomImages(3, valueSize(plan.values[plan.io.image]), 4);
  const want = referenceForward(plan, params, images, 3);
  const executor = new Executor(gpu, plan, params, { precision });
  try {
    const alone = await executor.run(images, 3, { from: 'image', want: ['ssim'] });
    const all = await executor.run(images, 3, { from: 'image', want: ['hf', 'mse', 'ssim'] });
    assert.equal([...alone.ssim!], [...all.ssim!], 'ssim alone and with the others');
    // f16 storage rounds the activations: the statistics follow the reconstruction within its error.
    const tolerance = precision === 'f32' ? 1e-4 : 2e-2;
    assert.ok(maxRelDiff(all.hf!, want.hf) <= tolerance, `hf ${[...all.hf!]} vs ${[...want.hf]}`);
    assert.ok(maxAbsDiff(all.ssim!, want.ssim) <= tolerance, `ssim ${[...all.ssim!]} vs ${[...want.ssim]}`);
  } finally {
    executor.destroy();
  }
}

test('statistics alone or together, f32 storage: within 1e-4 of the float64 reference', () => checkStatistics('f32'));

const f16Missing = (await testGpu()).features.has('shader-f16') ? null : 'the adapter has no shader-f16';
requires(test, f16Missing, { ci: false })('statistics after an f16-storage forward pass follow the reference within its rounding', () => checkStatistics('f16'));

test('rejects inputs of the wrong size', async () => {
  const gpu = await testGpu();
  const arch = small(2);
  const executor = new Executor(gpu, buildPlan(arch), randomParams(arch, 1));
  try {
    let message = '';
    try {
      await executor.run(new Float32Array(10), 1, { from: 'image', want: ['mse'] });
    } catch (err) {
      message = (err as Error).message;
    }
    assert.match(message, /input holds 10 values, expected 1 x 49152/);
  } finally {
    executor.destroy();
  }
});

test.run();
