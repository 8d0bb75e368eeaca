// How a batch is cut into command buffers: the activation budget follows the adapter (1 GiB on a
// software adapter, twice the largest storage binding on a GPU), the binding limit caps every chunk,
// and maxChunk (rcae bench --max-chunk) replaces the budget. Device limits are plain numbers here, so
// the H100's (Dawn on NVIDIA Vulkan: 2 GiB - 4 per binding) are checked without one.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { referenceArchitecture } from '../../src/graph/architecture.js';
import { activationBudget, activationFootprint, chunkingFor, type ChunkTarget } from '../../src/graph/chunking.js';
import { Executor } from '../../src/graph/executor.js';
import { buildPlan, valueSize } from '../../src/graph/plan.js';
import { randomImages, randomParams } from '../../src/graph/random-params.js';
import { testGpu } from '../helpers/gpu.js';

const MiB = 2 ** 20;
const GiB = 2 ** 30;
const nvidia: ChunkTarget = { limits: { maxStorageBufferBindingSize: 2 * GiB - 4, maxBufferSize: 2 ** 40 }, adapter: { isSoftware: false } };
const lavapipe: ChunkTarget = { limits: { maxStorageBufferBindingSize: 128 * MiB, maxBufferSize: 4 * GiB - 1 }, adapter: { isSoftware: true } };
const w64 = buildPlan(referenceArchitecture(64));

test('the w=64 footprint: the largest map is 64x64x64 per sample, slots 3.4 MiB in f32 and about half in f16', () => {
  const f32 = activationFootprint(w64, 'f32');
  const f16 = activationFootprint(w64, 'f16');
  assert.is(f32.largestValueBytes, 64 * 64 * 64 * 4);
  assert.is(f16.largestValueBytes, 64 * 64 * 64 * 2);
  assert.ok(Math.abs(f32.perSampleBytes / MiB - 3.4) < 0.05, `${f32.perSampleBytes / MiB} MiB`);
  assert.ok(f16.perSampleBytes < 0.6 * f32.perSampleBytes && f16.perSampleBytes > 0.5 * f32.perSampleBytes, `${f16.perSampleBytes / MiB} MiB`);
});

test('on an NVIDIA GPU batch 1024 is one chunk in f32 and f16; the budget is twice the binding limit', () => {
  assert.is(activationBudget(nvidia), 2 * (2 * GiB - 4));
  for (const precision of ['f32', 'f16'] as const) {
    const c = chunkingFor(nvidia, activationFootprint(w64, precision));
    assert.ok(c.maxChunk >= 1024, `${precision}: ${c.maxChunk}`);
    assert.is(c.limitedBy, 'activation budget');
    assert.is(c.maxChunk, Math.floor(c.budgetBytes! / c.perSampleBytes));
    assert.match(c.reason, /activation budget \(GPU: twice the binding limit\) holds \d+ samples/);
  }
  // The binding limit alone would allow 2,047 f32 samples of the largest map.
  assert.is(chunkingFor(nvidia, activationFootprint(w64, 'f32'), 5000).maxChunk, 2047);
});

test('a software adapter keeps 1 GiB; a GPU with a small binding gets at least 1 GiB', () => {
  assert.is(activationBudget(lavapipe), GiB);
  const c = chunkingFor(lavapipe, activationFootprint(w64, 'f32'));
  // lavapipe's 128 MiB binding holds 128 samples of 1 MiB, fewer than the 1 GiB budget's ~300.
  assert.is(c.maxChunk, 128);
  assert.is(c.limitedBy, 'binding limit');
  assert.match(c.reason, /128\.0 MiB storage-binding limit holds 128 samples of the largest activation \(1\.0 MiB each\)/);
  const small: ChunkTarget = { limits: { maxStorageBufferBindingSize: 400 * MiB, maxBufferSize: 4 * GiB }, adapter: { isSoftware: false } };
  assert.is(activationBudget(small), GiB);
  const floored = chunkingFor(small, activationFootprint(w64, 'f32'));
  assert.equal([floored.maxChunk, floored.limitedBy], [Math.floor(GiB / floored.perSampleBytes), 'activation budget']);
  assert.ok(floored.maxChunk > 290 && floored.maxChunk < 310, `${floored.maxChunk}`);
  assert.match(floored.reason, /GPU: the 1 GiB floor/);
});

test('maxChunk replaces the budget, the binding limit still caps it, and a bad value is refused', () => {
  const f32 = activationFootprint(w64, 'f32');
  const c = chunkingFor(nvidia, f32, 3);
  assert.equal([c.maxChunk, c.limitedBy, c.budgetBytes], [3, 'max-chunk', null]);
  assert.is(chunkingFor(lavapipe, f32, 1000).limitedBy, 'binding limit');
  for (const bad of [0, -1, 2.5, Number.NaN]) assert.throws(() => chunkingFor(nvidia, f32, bad), /maxChunk must be an integer >= 1/);
});

test('an executor with maxChunk 2 runs batch 5 in 3 command buffers and says why', async () => {
  const gpu = await testGpu();
  const arch = referenceArchitecture(2);
  const plan = buildPlan(arch);
  const progress: number[] = [];
  const executor = new Executor(gpu, plan, randomParams(arch, 1), { maxChunk: 2, onProgress: (done) => progress.push(done) });
  try {
    assert.is(executor.chunking.limitedBy, 'max-chunk');
    assert.is(executor.maxChunk, 2);
    await executor.run(randomImages(5, valueSize(plan.values[plan.io.image]), 2), 5, { from: 'image', want: ['mse'] });
    assert.equal(progress, [2, 4, 5]);
  } finally {
    executor.destroy();
  }
});

test.run();
