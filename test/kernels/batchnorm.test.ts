// BatchNorm2d in training mode (NHWC) on the GPU against the float64 reference: random shapes (odd
// sizes, channels past one 16-channel block and not a multiple of 4, batch 1 and more, rows from 2
// to past 16 tiles so the final pass strides), poisoned outputs, a mean of 1000 with a spread of 1
// (sums of x and x^2 would cancel it away), forward then backward chained through the saved
// statistics; and against torch.nn.BatchNorm2d itself (train mode, autograd) when PyTorch is
// installed. Tolerances, relative to the element plus the array's root mean square (terms cancel
// in dx and in the sums): y, dx, dgamma and dbeta 1e-4; the saved and running statistics 1e-5.
import { spawnSync } from 'node:child_process';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Gpu } from '../../src/gpu/device.js';
import { BATCHNORM_TILE_ROWS, BatchNormBackwardKernel, BatchNormForwardKernel } from '../../src/kernels/batchnorm/batchnorm.js';
import { batchNormApplyReference, batchNormBackwardReference, batchNormForwardReference } from '../../src/kernels/batchnorm/reference.js';
import { testGpu } from '../helpers/gpu.js';
import { SEED, random } from '../helpers/random.js';
import { requires } from '../helpers/skip.js';
import { python, pythonEnv, torchMissing } from '../helpers/torch.js';
import { poisoned, randomArray, run } from './support.js';

const test = suite('kernels/batchnorm');

const TOL = 1e-4;
const STATS_TOL = 1e-5;

const rmsOf = (a: ArrayLike<number>): number => {
  let sq = 0;
  for (let i = 0; i < a.length; i++) sq += a[i] ** 2;
  return Math.sqrt(sq / a.length);
};

/** Each element within tolerance * (|expected| + scale); the scale defaults to the expected array's root mean square. */
function assertRelative(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: number, what: string, scale = rmsOf(expected)): void {
  assert.is(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const bound = tolerance * (Math.abs(expected[i]) + scale);
    if (!(Math.abs(actual[i] - expected[i]) <= bound)) assert.unreachable(`${what}: element ${i} is ${actual[i]}, expected ${expected[i]} (tolerance ${bound})`);
  }
}

interface Case {
  shape: [n: number, h: number, w: number, c: number];
  x: Float32Array;
  gamma: Float32Array;
  beta: Float32Array;
  runningMean: Float32Array;
  runningVar: Float32Array;
  dy: Float32Array;
  eps: number;
}

interface GpuResult {
  y: Float32Array;
  saved: Float32Array;
  runningMean: Float32Array;
  runningVar: Float32Array;
  dx: Float32Array;
  dgamma: Float32Array;
  dbeta: Float32Array;
}

/** Forward, then backward from the forward's saved statistics, every output NaN-poisoned first. */
async function gpuTrainStep(gpu: Gpu, c: Case): Promise<GpuResult> {
  const [n, h, w, channels] = c.shape;
  const rows = n * h * w;
  const x = gpu.upload(c.x, 'x');
  const gamma = gpu.upload(c.gamma, 'gamma');
  const beta = gpu.upload(c.beta, 'beta');
  const runningMean = gpu.upload(c.runningMean, 'running mean');
  const runningVar = gpu.upload(c.runningVar, 'running var');
  const dy = gpu.upload(c.dy, 'dy');
  const saved = poisoned(gpu, 2 * channels, 'saved');
  const y = poisoned(gpu, rows * channels, 'y');
  const dx = poisoned(gpu, rows * channels, 'dx');
  const dgamma = poisoned(gpu, channels, 'dgamma');
  const dbeta = poisoned(gpu, channels, 'dbeta');
  const forward = new BatchNormForwardKernel(gpu).bind({ rows, channels, eps: c.eps, x, gamma, beta, runningMean, runningVar, saved, y });
  await run(gpu, forward);
  const backward = new BatchNormBackwardKernel(gpu).bind({ rows, channels, dy, x, saved, gamma, dgamma, dbeta, dx });
  await run(gpu, backward);
  const read = (b: GPUBuffer, count: number) => gpu.read(b, count * 4);
  const result: GpuResult = {
    y: await read(y, rows * channels),
    saved: await read(saved, 2 * channels),
    runningMean: await read(runningMean, channels),
    runningVar: await read(runningVar, channels),
    dx: await read(dx, rows * channels),
    dgamma: await read(dgamma, channels),
    dbeta: await read(dbeta, channels),
  };
  forward.destroy();
  backward.destroy();
  [x, gamma, beta, runningMean, runningVar, dy, saved, y, dx, dgamma, dbeta].forEach((b) => b.destroy());
  return result;
}

function randomCase(rng: ReturnType<typeof random>, shape: Case['shape'], center: (channel: number) => number, spread: number): Case {
  const [n, h, w, channels] = shape;
  const rows = n * h * w;
  const x = Float32Array.from({ length: rows * channels }, (_, i) => center(i % channels) + (rng.next() * 2 - 1) * spread);
  return {
    shape,
    x,
    gamma: Float32Array.from({ length: channels }, () => 0.5 + rng.next()),
    beta: randomArray(rng.next, channels),
    runningMean: randomArray(rng.next, channels),
    runningVar: Float32Array.from({ length: channels }, () => 0.5 + rng.next()),
    dy: randomArray(rng.next, rows * channels),
    eps: rng.pick([1e-5, 1e-3]),
  };
}

/**
 * The statistics against the float64 reference; y and the gradients against the reference given
 * either its own float64 statistics or (`givenSaved`) the GPU's saved f32 ones: with a mean of 1000
 * the f32 mean alone carries up to 3e-5 of rounding, which every f32 x - mean inherits (torch's too).
 */
function checkAgainstReference(c: Case, r: GpuResult, what: string, givenSaved = false): void {
  const [n, h, w, channels] = c.shape;
  const rows = n * h * w;
  const ref = batchNormForwardReference(c.x, rows, channels, c.gamma, c.beta, c.runningMean, c.runningVar, { eps: c.eps, momentum: 0.1 });
  assertRelative(r.saved.subarray(0, channels), ref.mean, STATS_TOL, `${what}: saved mean`);
  assertRelative(r.saved.subarray(channels), ref.invstd, STATS_TOL, `${what}: saved invstd`);
  assertRelative(r.runningMean, ref.runningMean, STATS_TOL, `${what}: running mean`);
  assertRelative(r.runningVar, ref.runningVar, STATS_TOL, `${what}: running var`);
  const mean = givenSaved ? r.saved.subarray(0, channels) : ref.mean;
  const invstd = givenSaved ? r.saved.subarray(channels) : ref.invstd;
  assertRelative(r.y, batchNormApplyReference(c.x, rows, channels, mean, invstd, c.gamma, c.beta), TOL, `${what}: y`);
  // The mean's own f32 rounding (half an ulp: 3e-5 at 1000) keeps y within 1e-4 of the float64 statistics' too.
  if (givenSaved) assertRelative(r.y, ref.y, TOL, `${what}: y from the float64 statistics`);
  const grad = batchNormBackwardReference(c.dy, c.x, rows, channels, mean, invstd, c.gamma);
  assertRelative(r.dgamma, grad.dgamma, TOL, `${what}: dgamma`);
  assertRelative(r.dbeta, grad.dbeta, TOL, `${what}: dbeta`);
  assertRelative(r.dx, grad.dx, TOL, `${what}: dx`, dxScale(c, mean, invstd, grad.dgamma, grad.dbeta));
}

/**
 * The size of the terms dx is the difference of, gamma * invstd * (|dy| + (|dbeta| + |xhat dgamma|) / M):
 * with 2 rows they cancel to a multiple of eps, so dx's own size says nothing of its rounding.
 */
function dxScale(c: Case, mean: ArrayLike<number>, invstd: ArrayLike<number>, dgamma: ArrayLike<number>, dbeta: ArrayLike<number>): number {
  const channels = c.shape[3];
  const rows = c.x.length / channels;
  const terms = c.dy.map((dy, i) => {
    const ch = i % channels;
    const xhat = (c.x[i] - mean[ch]) * invstd[ch];
    return c.gamma[ch] * invstd[ch] * (Math.abs(dy) + (Math.abs(dbeta[ch]) + Math.abs(xhat * dgamma[ch])) / rows);
  });
  return rmsOf(terms);
}

test('random NHWC shapes from 2 rows to past 16 tiles: forward, running update and backward match the float64 reference', async () => {
  const gpu = await testGpu();
  const rng = random(SEED);
  const odd = (lo: number, hi: number) => rng.int(lo, hi) | 1;
  const shapes: Case['shape'][] = [
    [1, 1, 2, 3],
    [1, 3, 5, 7],
    [2, 7, 9, 17],
    [1, 33, 31, 5],
    [2, 29, 31, 19],
    [3, 75, 77, 5],
    [rng.int(1, 4), odd(1, 40), odd(1, 40), odd(1, 70)],
  ];
  assert.ok(3 * 75 * 77 > 16 * BATCHNORM_TILE_ROWS, 'a case strides the final pass over more tiles than its row lanes');
  for (const shape of shapes) {
    // Channel means and spreads of different sizes, as a conv's outputs have.
    const centers = Array.from({ length: shape[3] }, () => (rng.next() - 0.5) * 6);
    const c = randomCase(rng, shape, (ch) => centers[ch], 10 ** (rng.next() * 1.5 - 0.5));
    checkAgainstReference(c, await gpuTrainStep(gpu, c), `seed ${SEED} [${shape.join(', ')}]`);
  }
});

test('a mean of 1000 with a spread of 1: the variance survives (no cancellation of x^2 sums)', async () => {
  const gpu = await testGpu();
  const rng = random(SEED + 1);
  for (const shape of [[2, 31, 33, 6], [1, 5, 7, 17]] as Case['shape'][]) {
    const c = randomCase(rng, shape, (ch) => 1000 + ch, 1);
    checkAgainstReference(c, await gpuTrainStep(gpu, c), `seed ${SEED + 1} [${shape.join(', ')}] around 1000`, true);
  }
});

test('refused: one row per channel, aliased buffers, short buffers, bad eps or momentum', async () => {
  const gpu = await testGpu();
  const b = Array.from({ length: 7 }, (_, i) => gpu.upload(new Float32Array(64), `b${i}`));
  const forward = new BatchNormForwardKernel(gpu);
  const args = { rows: 4, channels: 2, eps: 1e-5, x: b[0], gamma: b[1], beta: b[2], runningMean: b[3], runningVar: b[4], saved: b[5], y: b[6] };
  assert.throws(() => forward.bind({ ...args, rows: 1 }), /rows \(N\*H\*W\) must be between 2/);
  assert.throws(() => forward.bind({ ...args, y: b[0] }), /must be different buffers/);
  assert.throws(() => forward.bind({ ...args, rows: 40 }), /x buffer b0 holds 256 bytes, needs 320/);
  assert.throws(() => forward.bind({ ...args, eps: 0 }), /eps 0 must be positive/);
  assert.throws(() => forward.bind({ ...args, momentum: 1.5 }), /momentum 1.5 must lie in \[0, 1\]/);
  const backward = new BatchNormBackwardKernel(gpu);
  assert.throws(() => backward.bind({ rows: 4, channels: 2, dy: b[0], x: b[1], saved: b[2], gamma: b[3], dgamma: b[4], dbeta: b[4], dx: b[6] }), /must be different buffers/);
  b.forEach((x) => x.destroy());
});

const TORCH_BATCHNORM = String.raw`
import json, sys, torch
s = json.load(sys.stdin)
n, h, w, c = s['shape']
nchw = lambda a: torch.tensor(a, dtype=torch.float32).reshape(n, h, w, c).permute(0, 3, 1, 2).contiguous()
nhwc = lambda t: t.permute(0, 2, 3, 1).reshape(-1).tolist()
x = nchw(s['x']).requires_grad_()
bn = torch.nn.BatchNorm2d(c, eps=s['eps'], momentum=0.1)
bn.train()
with torch.no_grad():
    bn.weight.copy_(torch.tensor(s['gamma']))
    bn.bias.copy_(torch.tensor(s['beta']))
    bn.running_mean.copy_(torch.tensor(s['runningMean']))
    bn.running_var.copy_(torch.tensor(s['runningVar']))
y = bn(x)
y.backward(nchw(s['dy']))
print(json.dumps({'y': nhwc(y.detach()), 'runningMean': bn.running_mean.tolist(), 'runningVar': bn.running_var.tolist(),
                  'dx': nhwc(x.grad), 'dgamma': bn.weight.grad.tolist(), 'dbeta': bn.bias.grad.tolist()}))
`;

requires(test, torchMissing, { ci: true })('one training step matches torch.nn.BatchNorm2d (train mode, autograd): y, running statistics, x.grad, weight.grad, bias.grad', async () => {
  const gpu = await testGpu();
  const rng = random(SEED + 2);
  const shape: Case['shape'] = [3, 7, 9, 19];
  const centers = Array.from({ length: shape[3] }, () => (rng.next() - 0.5) * 4);
  const c = randomCase(rng, shape, (ch) => centers[ch], 2);
  const plain = (a: Float32Array) => [...a];
  const input = { shape, eps: c.eps, x: plain(c.x), gamma: plain(c.gamma), beta: plain(c.beta), runningMean: plain(c.runningMean), runningVar: plain(c.runningVar), dy: plain(c.dy) };
  const r = spawnSync(python, ['-c', TORCH_BATCHNORM], { env: pythonEnv, encoding: 'utf8', timeout: 120_000, input: JSON.stringify(input) });
  assert.is(r.status, 0, `python BatchNorm2d failed: ${r.stderr}`);
  const torch = JSON.parse(r.stdout) as Record<'y' | 'runningMean' | 'runningVar' | 'dx' | 'dgamma' | 'dbeta', number[]>;
  const ours = await gpuTrainStep(gpu, c);
  const what = `seed ${SEED + 2} GPU vs torch`;
  assertRelative(ours.y, torch.y, TOL, `${what}: y`);
  assertRelative(ours.runningMean, torch.runningMean, STATS_TOL, `${what}: running_mean`);
  assertRelative(ours.runningVar, torch.runningVar, STATS_TOL, `${what}: running_var`);
  const channels = shape[3];
  assertRelative(ours.dx, torch.dx, TOL, `${what}: x.grad`, dxScale(c, ours.saved.subarray(0, channels), ours.saved.subarray(channels), torch.dgamma, torch.dbeta));
  assertRelative(ours.dgamma, torch.dgamma, TOL, `${what}: weight.grad`);
  assertRelative(ours.dbeta, torch.dbeta, TOL, `${what}: bias.grad`);
  // The reference is torch's algorithm too.
  checkAgainstReference(c, ours, `seed ${SEED + 2} GPU vs float64`);
});

test.run();
