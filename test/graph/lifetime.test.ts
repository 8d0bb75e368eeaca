// GPU memory over a model's life: repeated runs allocate nothing that stays (readback staging is
// freed per read, bound chunks are cached), and destroy() frees every buffer the executor made,
// uniforms included (they used to outlive it).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { referenceArchitecture } from '../../src/graph/architecture.js';
import { Executor } from '../../src/graph/executor.js';
import { buildPlan } from '../../src/graph/plan.js';
import { randomImages, randomParams } from '../../src/graph/random-params.js';
import { testGpu } from '../helpers/gpu.js';

test('live GPU buffers: flat over repeated runs, back to the start after destroy', async () => {
  const gpu = await testGpu();
  const arch = { ...referenceArchitecture(2), imageSize: 32, latentDim: 8 };
  const start = gpu.liveBuffers;
  const executor = new Executor(gpu, buildPlan(arch), randomParams(arch, 5), { maxChunk: 2 });
  const input = randomImages(3, 3 * 32 * 32, 5);
  // Batch 3 at chunk 2 binds two chunk sizes (2 and 1); every request kind binds its own slots.
  await executor.run(input, 3, { from: 'image', want: ['mse'] });
  await executor.run(input, 3, { from: 'image', want: ['reconstruction', 'latent'] });
  const settled = gpu.liveBuffers;
  assert.ok(settled > start, 'the executor holds weights and activations');
  for (let i = 0; i < 25; i++) await executor.run(input, 3, { from: 'image', want: ['mse'] });
  assert.is(gpu.liveBuffers, settled, 'runs after the first allocate nothing that stays');
  executor.destroy();
  assert.is(gpu.liveBuffers, start, 'destroy frees every buffer the executor made');
});

test.run();
