import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MseKernel } from '../../src/kernels/mse/mse.js';
import { mseReference } from '../../src/kernels/mse/reference.js';
import { testGpu } from '../helpers/gpu.js';
import { poisoned, randomArray, rng, run } from './support.js';

const test = suite('kernels/mse');

async function check(batch: number, perSample: number, seed: number): Promise<void> {
  const gpu = await testGpu();
  const rand = rng(seed);
  // Images in [-1, 1] against reconstructions off by small, uneven amounts, as in scoring.
  const a = randomArray(rand, batch * perSample);
  const b = Float32Array.from(a, (v, i) => v + (rand() - 0.5) * (i % 7 === 0 ? 0.5 : 0.05));
  const buffers = { a: gpu.upload(a, 'a'), b: gpu.upload(b, 'b'), output: poisoned(gpu, batch, 'mse') };
  await run(gpu, new MseKernel(gpu).bind({ batch, perSample, ...buffers }));
  const actual = await gpu.read(buffers.output, batch * 4);
  const expected = mseReference(a, b, batch, perSample);
  for (let s = 0; s < batch; s++) {
    const relative = Math.abs(actual[s] - expected[s]) / expected[s];
    assert.ok(relative <= 1e-6, `mse ${batch} x ${perSample}: sample ${s} is ${actual[s]}, expected ${expected[s]} (relative error ${relative})`);
  }
  Object.values(buffers).forEach((buffer) => buffer.destroy());
}

test('full-size images (3 x 128 x 128) to 1e-6 relative', async () => {
  await check(3, 3 * 128 * 128, 41);
});

test('odd sizes, batch 1 and more', async () => {
  await check(1, 1, 42);
  await check(5, 37, 43);
  await check(2, 3 * 13 * 17, 44);
  await check(1, 4097, 45);
});

test('identical inputs give exactly zero', async () => {
  const gpu = await testGpu();
  const a = gpu.upload(randomArray(rng(46), 2 * 300), 'a');
  const output = poisoned(gpu, 2, 'mse');
  await run(gpu, new MseKernel(gpu).bind({ batch: 2, perSample: 300, a, b: a, output }));
  assert.equal([...(await gpu.read(output, 8))], [0, 0]);
});

test.run();
