// The sum of squares and non-finite count of a flat buffer against the float64 reference: sizes
// around the tile and the final pass's stride, NaN and infinities planted anywhere, values whose
// squares overflow, and a poisoned output.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { GRAD_NORM_TILE as TILE, GradNormKernel } from '../../src/kernels/optim/grad-norm.js';
import { gradNormReference } from '../../src/kernels/optim/reference.js';
import { testGpu } from '../helpers/gpu.js';
import { SEED, random } from '../helpers/random.js';
import { poisoned, run } from './support.js';

const test = suite('kernels/grad-norm');

// The longest chain of f32 additions any term goes through (a chunk of 16, 8 chunk sums, an
// 8-level tree, the final pass's stride of a few partials and its tree): the rounding bound for
// positive terms.
const SUM_BOUND = 48 * 2 ** -24;

async function gradNorm(x: Float32Array): Promise<[number, number]> {
  const gpu = await testGpu();
  const input = gpu.upload(x, 'grads');
  const output = poisoned(gpu, 2, 'norm');
  const dispatch = new GradNormKernel(gpu).bind({ count: x.length, input, output });
  await run(gpu, dispatch);
  const [sum, count] = await gpu.read(output, 8);
  dispatch.destroy();
  input.destroy();
  output.destroy();
  return [sum, count];
}

test('random sizes around the tile and past 256 tiles: the sum within its rounding bound, no non-finite', async () => {
  const rng = random(SEED);
  for (const n of [1, 2, 255, TILE - 1, TILE, TILE + 1, rng.int(5000, 300_000), 256 * TILE + rng.int(1, 9000)]) {
    const x = Float32Array.from({ length: n }, () => (rng.next() - 0.5) * 10 ** rng.int(-6, 2));
    const [sum, count] = await gradNorm(x);
    const ref = gradNormReference(x);
    assert.is(count, 0, `seed ${SEED} n ${n}: non-finite count`);
    const relative = Math.abs(sum - ref.sumSquares) / ref.sumSquares;
    assert.ok(relative <= SUM_BOUND, `seed ${SEED} n ${n}: sum of squares ${sum}, expected ${ref.sumSquares} (relative error ${relative})`);
  }
});

test('NaN, +Inf and -Inf are counted wherever they are (first, last, tile edges); finite extremes are not', async () => {
  const rng = random(SEED + 1);
  for (const n of [1, TILE, TILE + 1, rng.int(40_000, 100_000)]) {
    const x = Float32Array.from({ length: n }, () => rng.next() - 0.5);
    const at = new Set([0, n - 1, Math.min(TILE - 1, n - 1), Math.min(TILE, n - 1), Math.min(4096, n - 1), rng.int(0, n - 1), rng.int(0, n - 1)]);
    for (const i of at) x[i] = rng.pick([Number.NaN, Infinity, -Infinity]);
    const [, count] = await gradNorm(x);
    assert.is(count, gradNormReference(x).nonFinite, `seed ${SEED + 1} n ${n}: non-finite count`);
  }
  // Largest and smallest finite magnitudes, -0 and a subnormal: none is non-finite, though the square overflows.
  const [sum, count] = await gradNorm(Float32Array.of(3.4028234663852886e38, -1.401298464324817e-45, -0, 1.1754942106924411e-38));
  assert.is(count, 0);
  assert.is(sum, Infinity);
});

test('all zeros give exactly zero', async () => {
  assert.equal(await gradNorm(new Float32Array(5000)), [0, 0]);
});

test.run();
