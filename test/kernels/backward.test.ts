// The element-wise backward kernels (src/kernels/backward/) against their float64 references on
// fresh random sizes (1, odd, around and past the workgroup, batch 1 and > 1), with NaN-poisoned
// elements past the count that must stay untouched; the kinks at exactly 0 (relu 0, leaky_relu the
// slope); Dropout2d with masks from the mask kernel itself; and one cross-check of every gradient
// against PyTorch autograd when PyTorch is installed.
import { spawnSync } from 'node:child_process';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Gpu } from '../../src/gpu/device.js';
import { AccumulateKernel } from '../../src/kernels/backward/accumulate.js';
import { ActivationBackwardKernel, BACKWARD_ACTIVATIONS, type BackwardActivation } from '../../src/kernels/backward/activation-backward.js';
import { DropoutBackwardKernel } from '../../src/kernels/backward/dropout-backward.js';
import { MseBackwardKernel } from '../../src/kernels/backward/mse-backward.js';
import { accumulateReference, activationBackwardReference, dropoutBackwardReference, mseBackwardReference } from '../../src/kernels/backward/reference.js';
import type { BoundDispatch } from '../../src/kernels/dispatch.js';
import { DropoutMaskKernel } from '../../src/kernels/random/dropout-mask.js';
import { testGpu } from '../helpers/gpu.js';
import { SEED, random } from '../helpers/random.js';
import { requires } from '../helpers/skip.js';
import { python, pythonEnv, torchMissing } from '../helpers/torch.js';
import { randomArray, run } from './support.js';

const test = suite('kernels/backward');

// Counts around the workgroup (256), odd, 1, and one past a second grid row of tiles.
const counts = (rng: ReturnType<typeof random>): number[] => [1, 7, 255, 256, 257, rng.int(2, 5000), 65537];

/** A buffer of `values` followed by `pad` NaNs, which a kernel must leave alone. */
const padded = (gpu: Gpu, values: Float32Array, pad: number, label: string): GPUBuffer => {
  const out = new Float32Array(values.length + pad).fill(Number.NaN);
  out.set(values);
  return gpu.upload(out, label);
};

async function readPadded(gpu: Gpu, buffer: GPUBuffer, count: number, pad: number, what: string): Promise<Float32Array> {
  const all = await gpu.read(buffer, (count + pad) * 4);
  for (let i = count; i < count + pad; i++) assert.ok(Number.isNaN(all[i]), `${what}: element ${i} past the count was written`);
  return all.subarray(0, count);
}

/** Runs `dispatch`, reads `output` (count elements, pad poisoned), frees the dispatch and `buffers`. */
async function result(gpu: Gpu, dispatch: BoundDispatch, output: GPUBuffer, count: number, pad: number, buffers: GPUBuffer[]): Promise<Float32Array> {
  await run(gpu, dispatch);
  const out = await readPadded(gpu, output, count, pad, dispatch.label);
  dispatch.destroy();
  buffers.forEach((b) => b.destroy());
  return out;
}

/** Bit for bit the float32 rounding of the float64 reference (one rounded operation per element). */
function assertRounded(actual: Float32Array, expected: ArrayLike<number>, what: string): void {
  for (let i = 0; i < expected.length; i++) {
    if (!Object.is(actual[i], Math.fround(expected[i])) && !(actual[i] === 0 && expected[i] === 0)) {
      assert.unreachable(`${what}: element ${i} is ${actual[i]}, expected ${Math.fround(expected[i])}`);
    }
  }
}

/** Within 1e-6 of each element (the kernels round two or three times in f32: ~2e-7), even where 1 - y^2 cancels. */
function assertRelative(actual: Float32Array, expected: ArrayLike<number>, what: string): void {
  for (let i = 0; i < expected.length; i++) {
    const tolerance = 1e-6 * Math.abs(expected[i]);
    if (!(Math.abs(actual[i] - expected[i]) <= tolerance)) assert.unreachable(`${what}: element ${i} is ${actual[i]}, expected ${expected[i]} (tolerance ${tolerance})`);
  }
}

/** Random pre-activations with a share of exact zeros (both signs): the kink of relu and leaky_relu. */
function withZeros(rng: ReturnType<typeof random>, count: number, scale: number): Float32Array {
  return Float32Array.from(randomArray(rng.next, count, scale), (v) => (rng.next() < 0.15 ? rng.pick([0, -0]) : v));
}

async function activationBackward(gpu: Gpu, activation: BackwardActivation, dy: Float32Array, saved: Float32Array, slope: number, pad: number): Promise<Float32Array> {
  const count = dy.length;
  const bufs = [padded(gpu, dy, pad, 'dy'), padded(gpu, saved, pad, 'saved'), padded(gpu, new Float32Array(count).fill(Number.NaN), pad, 'dx')];
  const dispatch = new ActivationBackwardKernel(gpu, activation).bind({ count, dy: bufs[0], saved: bufs[1], dx: bufs[2], slope });
  return result(gpu, dispatch, bufs[2], count, pad, bufs);
}

test('activation backward: relu, leaky_relu and tanh on random sizes match the float64 reference', async () => {
  const gpu = await testGpu();
  const rng = random(SEED);
  for (const activation of BACKWARD_ACTIVATIONS) {
    for (const count of counts(rng)) {
      const slope = Math.fround(rng.pick([0.01, 0.2, 0.5]));
      const what = `seed ${SEED} ${activation} x${count} slope ${slope}`;
      const dy = randomArray(rng.next, count, 10 ** rng.int(-3, 1));
      // tanh keeps its output: in [-1, 1], much of it where 1 - y^2 cancels, some exactly +-1 in f32.
      const saved = activation === 'tanh' ? Float32Array.from(randomArray(rng.next, count, 9), Math.tanh) : withZeros(rng, count, 3);
      const dx = await activationBackward(gpu, activation, dy, saved, slope, rng.int(1, 300));
      const expected = activationBackwardReference(activation, dy, saved, slope);
      if (activation === 'tanh') assertRelative(dx, expected, what);
      // A select, or one product: the f32 rounding of the exact value.
      else assertRounded(dx, expected, what);
    }
  }
});

test('activation backward at exactly 0: relu passes 0, leaky_relu dy * slope, as torch', async () => {
  const gpu = await testGpu();
  const saved = new Float32Array([0, -0, 0, 1e-30, -1e-30, 2, -2]);
  const dy = new Float32Array([3, 3, -5, 7, 7, 1.5, 1.5]);
  assert.equal([...(await activationBackward(gpu, 'relu', dy, saved, 0, 1))], [0, 0, 0, 7, 0, 1.5, 0]);
  const slope = Math.fround(0.2);
  const leaky = [...(await activationBackward(gpu, 'leaky_relu', dy, saved, 0.2, 1))];
  assert.equal(leaky, [3 * slope, 3 * slope, -5 * slope, 7, 7 * slope, 1.5, 1.5 * slope].map(Math.fround));
});

test('mse backward: 2 (recon - target) / numel times the upstream gradient, random batches, rebound upstream', async () => {
  const gpu = await testGpu();
  const rng = random(SEED + 1);
  const kernel = new MseBackwardKernel(gpu);
  for (const count of [1, 3 * 5 * 7, 255, 257, 3 * 32 * 32 * rng.int(1, 5), rng.int(2, 5000), 65537]) {
    const pad = rng.int(1, 300);
    const recon = randomArray(rng.next, count);
    const target = randomArray(rng.next, count);
    const bufs = [padded(gpu, recon, pad, 'recon'), padded(gpu, target, pad, 'target'), padded(gpu, new Float32Array(count).fill(Number.NaN), pad, 'dRecon')];
    const dispatch = kernel.bind({ count, recon: bufs[0], truth: bufs[1], dRecon: bufs[2] });
    await run(gpu, dispatch);
    assertRelative(await readPadded(gpu, bufs[2], count, pad, 'mse-backward'), mseBackwardReference(recon, target), `seed ${SEED + 1} x${count} upstream 1`);
    const upstream = rng.pick([2 ** 15, 0.375, 3.7]);
    dispatch.setUpstream(upstream);
    const dRecon = await result(gpu, dispatch, bufs[2], count, pad, bufs);
    assertRelative(dRecon, mseBackwardReference(recon, target, upstream), `seed ${SEED + 1} x${count} upstream ${upstream}`);
  }
});

test('accumulate: dst += src on random sizes, exact', async () => {
  const gpu = await testGpu();
  const rng = random(SEED + 2);
  const kernel = new AccumulateKernel(gpu);
  for (const count of counts(rng)) {
    const pad = rng.int(1, 300);
    const src = randomArray(rng.next, count);
    const dst = randomArray(rng.next, count, 4);
    const bufs = [padded(gpu, src, pad, 'src'), padded(gpu, dst, pad, 'dst')];
    const out = await result(gpu, kernel.bind({ count, src: bufs[0], dst: bufs[1] }), bufs[1], count, pad, bufs);
    assertRounded(out, accumulateReference(dst, src), `seed ${SEED + 2} x${count}`);
  }
});

test('dropout2d backward: NHWC gradients times the mask kernel\'s own masks, zero on dropped channels', async () => {
  const gpu = await testGpu();
  const rng = random(SEED + 3);
  const shapes = [[1, 1, 1, 1], [1, 4, 4, 8], [2, 3, 5, 7], [rng.int(2, 5), rng.int(1, 9), rng.int(1, 9), rng.int(1, 70)], [3, 16, 16, 64]];
  for (const [samples, height, width, channels] of shapes) {
    const p = rng.pick([0.1, 0.2, 0.5]);
    const what = `seed ${SEED + 3} ${samples}x${height}x${width}x${channels} p ${p}`;
    const count = samples * height * width * channels;
    const pad = rng.int(1, 300);
    const mask = gpu.upload(new Float32Array(samples * channels).fill(Number.NaN), 'mask');
    const masking = new DropoutMaskKernel(gpu).bind({ seed: rng.int(0, 2 ** 40), step: rng.int(0, 1000), stream: rng.int(0, 9), samples, channels, p, mask });
    await run(gpu, masking);
    masking.destroy();
    const maskValues = await gpu.read(mask, samples * channels * 4);
    const dy = randomArray(rng.next, count);
    const bufs = [padded(gpu, dy, pad, 'dy'), padded(gpu, new Float32Array(count).fill(Number.NaN), pad, 'dx'), mask];
    const dispatch = new DropoutBackwardKernel(gpu).bind({ samples, height, width, channels, dy: bufs[0], mask, dx: bufs[1] });
    const dx = await result(gpu, dispatch, bufs[1], count, pad, bufs);
    assertRounded(dx, dropoutBackwardReference(dy, maskValues, samples, height * width * channels, channels), what);
    // The mask carries the scale: a kept channel's gradient is dy / (1 - p), a dropped one's 0.
    const scale = Math.fround(1 / Math.fround(1 - p));
    for (let i = 0; i < count; i++) {
      const keep = maskValues[Math.floor(i / (height * width * channels)) * channels + (i % channels)];
      assert.ok(dx[i] === (keep === 0 ? 0 : Math.fround(dy[i] * scale)), `${what}: element ${i}`);
    }
  }
});

test('refused: aliased buffers, short buffers, zero counts, an activation without a backward kernel', async () => {
  const gpu = await testGpu();
  const [a, b, c] = [0, 1, 2].map((i) => gpu.upload(new Float32Array(8), `buffer ${i}`));
  const one = gpu.upload(new Float32Array(1), 'one float');
  assert.throws(() => new ActivationBackwardKernel(gpu, 'none' as BackwardActivation), /no backward kernel for activation "none"/);
  assert.throws(() => new ActivationBackwardKernel(gpu, 'relu').bind({ count: 8, dy: a, saved: b, dx: a }), /dy, saved, dx must be different buffers/);
  assert.throws(() => new MseBackwardKernel(gpu).bind({ count: 9, recon: a, truth: b, dRecon: c }), /holds 32 bytes, needs 36/);
  assert.throws(() => new MseBackwardKernel(gpu).bind({ count: 8, recon: a, truth: b, dRecon: c, upstream: Number.POSITIVE_INFINITY }), /upstream gradient Infinity is not finite/);
  assert.throws(() => new AccumulateKernel(gpu).bind({ count: 0, src: a, dst: b }), /element count 0 must be positive/);
  assert.throws(() => new DropoutBackwardKernel(gpu).bind({ samples: 2, height: 1, width: 1, channels: 4, dy: a, mask: one, dx: c }), /mask buffer one float holds 4 bytes, needs 32/);
  [a, b, c, one].forEach((x) => x.destroy());
});

// Autograd through each op for a random upstream gradient: relu, leaky_relu(0.2) and tanh on x;
// mse_loss (mean) scaled by an upstream scalar; and Dropout2d with a given mask, which in NHWC is
// x * mask[n, 1, 1, c].
const TORCH_BACKWARD = String.raw`
import json, sys, torch
import torch.nn.functional as F
s = json.load(sys.stdin)
t = lambda v: torch.tensor(v, dtype=torch.float32, requires_grad=True)
out = {}
dy = torch.tensor(s['dy'], dtype=torch.float32)
for name, f in [('relu', F.relu), ('leaky_relu', lambda v: F.leaky_relu(v, 0.2)), ('tanh', torch.tanh)]:
    x = t(s['x'])
    y = f(x)
    y.backward(dy)
    out[name] = x.grad.tolist()
    if name == 'tanh':
        out['tanh_y'] = y.detach().tolist()
recon = t(s['recon'])
loss = F.mse_loss(recon, torch.tensor(s['target'], dtype=torch.float32))
loss.backward(torch.tensor(s['upstream'], dtype=torch.float32))
out['mse'] = recon.grad.tolist()
n, h, w, c = s['shape']
x = t(s['dropIn'])
mask = torch.tensor(s['mask'], dtype=torch.float32).view(n, 1, 1, c)
(x.view(n, h, w, c) * mask).backward(torch.tensor(s['dropDy'], dtype=torch.float32).view(n, h, w, c))
out['dropout'] = x.grad.flatten().tolist()
print(json.dumps(out))
`;

requires(test, torchMissing, { ci: true })('every gradient matches PyTorch autograd within 1e-6 of each element', async () => {
  const gpu = await testGpu();
  const rng = random(SEED + 4);
  const count = rng.int(300, 3000);
  const shape = [2, 3, 5, rng.int(3, 40)];
  const [samples, height, width, channels] = shape;
  const dropCount = samples * height * width * channels;
  const x = withZeros(rng, count, 3);
  const dy = randomArray(rng.next, count);
  const recon = randomArray(rng.next, count);
  const target = randomArray(rng.next, count);
  const upstream = 1024 * rng.next();
  const p = 0.2;
  const scale = Math.fround(1 / Math.fround(1 - p));
  const mask = Float32Array.from({ length: samples * channels }, () => (rng.next() < p ? 0 : scale));
  const dropDy = randomArray(rng.next, dropCount);
  const spec = { x: [...x], dy: [...dy], recon: [...recon], target: [...target], upstream, shape, mask: [...mask], dropIn: [...randomArray(rng.next, dropCount)], dropDy: [...dropDy] };
  const r = spawnSync(python, ['-c', TORCH_BACKWARD], { env: pythonEnv, encoding: 'utf8', timeout: 120_000, input: JSON.stringify(spec) });
  if (r.status !== 0) assert.unreachable(`python backward failed: ${r.stderr}`);
  const torch = JSON.parse(r.stdout) as Record<'relu' | 'leaky_relu' | 'tanh' | 'tanh_y' | 'mse' | 'dropout', number[]>;
  const what = `seed ${SEED + 4}`;
  const worst: string[] = [];
  const compare = (name: string, actual: Float32Array, expected: number[]) => {
    let rel = 0;
    for (let i = 0; i < actual.length; i++) rel = Math.max(rel, Math.abs(actual[i] - expected[i]) / Math.max(Math.abs(expected[i]), 1e-30));
    worst.push(`${name} ${rel.toExponential(1)}`);
    assertRelative(actual, expected, `${what}: ${name} vs torch`);
  };
  compare('relu', await activationBackward(gpu, 'relu', dy, x, 0, 1), torch.relu);
  compare('leaky_relu', await activationBackward(gpu, 'leaky_relu', dy, x, 0.2, 1), torch.leaky_relu);
  compare('tanh', await activationBackward(gpu, 'tanh', dy, Float32Array.from(torch.tanh_y), 0, 1), torch.tanh);
  const mseBufs = [gpu.upload(recon, 'recon'), gpu.upload(target, 'target'), gpu.upload(new Float32Array(count), 'dRecon')];
  const mse = new MseBackwardKernel(gpu).bind({ count, recon: mseBufs[0], truth: mseBufs[1], dRecon: mseBufs[2], upstream });
  compare('mse', await result(gpu, mse, mseBufs[2], count, 0, mseBufs), torch.mse);
  const dropBufs = [gpu.upload(dropDy, 'dy'), gpu.upload(mask, 'mask'), gpu.upload(new Float32Array(dropCount), 'dx')];
  const drop = new DropoutBackwardKernel(gpu).bind({ samples, height, width, channels, dy: dropBufs[0], mask: dropBufs[1], dx: dropBufs[2] });
  compare('dropout2d', await result(gpu, drop, dropBufs[2], dropCount, 0, dropBufs), torch.dropout);
  console.log(`  backward vs torch, largest relative difference per element: ${worst.join(', ')}`);
});

test.run();
