// AdamW on the GPU against the float64 reference (random sizes, hyper-parameters and gradient
// scales, several steps, late steps where the bias corrections are near 1, untouched elements past
// the count), and against torch.optim.AdamW itself when PyTorch is installed.
import { spawnSync } from 'node:child_process';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Gpu } from '../../src/gpu/device.js';
import { AdamWKernel, type AdamWStep } from '../../src/kernels/optim/adamw.js';
import type { AdamWHyperParameters } from '../../src/kernels/optim/hyper.js';
import { adamwReference, type AdamWState } from '../../src/kernels/optim/reference.js';
import { testGpu } from '../helpers/gpu.js';
import { SEED, random } from '../helpers/random.js';
import { requires } from '../helpers/skip.js';
import { python, pythonEnv, torchMissing } from '../helpers/torch.js';
import { randomArray, run } from './support.js';

const test = suite('kernels/adamw');

/**
 * Within 1e-6 of the reference, relative to the element or, where terms cancel, to the array's
 * root mean square (f32 rounding of the terms is about 6e-8 of their size).
 */
function assertNear(actual: Float32Array, expected: ArrayLike<number>, what: string): void {
  let sq = 0;
  for (let i = 0; i < expected.length; i++) sq += expected[i] ** 2;
  const rms = Math.sqrt(sq / expected.length);
  for (let i = 0; i < expected.length; i++) {
    const tolerance = 1e-6 * (Math.abs(expected[i]) + rms);
    if (!(Math.abs(actual[i] - expected[i]) <= tolerance)) assert.unreachable(`${what}: element ${i} is ${actual[i]}, expected ${expected[i]} (tolerance ${tolerance})`);
  }
}

interface Buffers {
  param: GPUBuffer;
  grad: GPUBuffer;
  expAvg: GPUBuffer;
  expAvgSq: GPUBuffer;
}

/** Buffers of count + pad elements: the pad holds NaN, which the kernel must leave alone. */
function upload(gpu: Gpu, s: AdamWState, pad: number): Buffers {
  const padded = (a: ArrayLike<number>): Float32Array => {
    const out = new Float32Array(a.length + pad).fill(Number.NaN);
    out.set(Float32Array.from(a));
    return out;
  };
  return {
    param: gpu.upload(padded(s.param), 'param'),
    grad: gpu.upload(padded(new Float32Array(s.param.length)), 'grad'),
    expAvg: gpu.upload(padded(s.expAvg), 'expAvg'),
    expAvgSq: gpu.upload(padded(s.expAvgSq), 'expAvgSq'),
  };
}

async function readPadded(gpu: Gpu, buffer: GPUBuffer, count: number, pad: number, what: string): Promise<Float32Array> {
  const all = await gpu.read(buffer, (count + pad) * 4);
  for (let i = count; i < count + pad; i++) assert.ok(Number.isNaN(all[i]), `${what}: element ${i} past the count was written`);
  return all.subarray(0, count);
}

test('random sizes, hyper-parameters and gradient scales: 5 steps within 1e-6 of the float64 reference', async () => {
  const gpu = await testGpu();
  const rng = random(SEED);
  const kernel = new AdamWKernel(gpu);
  for (const count of [1, 7, 255, 256, 257, rng.int(2, 5000), 65537]) {
    const hyper: AdamWHyperParameters = {
      lr: rng.pick([1e-4, 1e-3, 3e-2]),
      betas: [rng.pick([0, 0.5, 0.9]), rng.pick([0.9, 0.99, 0.999])],
      eps: rng.pick([1e-8, 1e-6]),
      weightDecay: rng.pick([0, 1e-5, 1e-2, 0.5]),
    };
    const gradScale = rng.pick([1, 0.5, 2 ** -12]);
    const what = `seed ${SEED} x${count} ${JSON.stringify(hyper)} scale ${gradScale}`;
    // Moments start non-zero (a resumed run) so a missed read of them shows up.
    const state: AdamWState = {
      param: Float64Array.from(randomArray(rng.next, count)),
      expAvg: Float64Array.from(randomArray(rng.next, count, 1e-2)),
      expAvgSq: Float64Array.from(randomArray(rng.next, count, 1e-4), Math.abs),
    };
    const pad = rng.int(1, 300);
    const buffers = upload(gpu, state, pad);
    const first: AdamWStep = { step: 1, hyper, gradScale };
    const dispatch = kernel.bind({ count, ...buffers, ...first });
    for (let step = 1; step <= 5; step++) {
      // Some gradients zero (frozen units), the rest of mixed magnitude.
      const grad = Float32Array.from({ length: count }, () => (rng.next() < 0.1 ? 0 : (rng.next() - 0.5) * 10 ** rng.int(-4, 1)));
      gpu.write(buffers.grad, grad);
      dispatch.setStep({ step, hyper, gradScale });
      await run(gpu, dispatch);
      adamwReference(state, grad, step, hyper, gradScale);
    }
    assertNear(await readPadded(gpu, buffers.param, count, pad, 'param'), state.param, `${what}: param`);
    assertNear(await readPadded(gpu, buffers.expAvg, count, pad, 'expAvg'), state.expAvg, `${what}: exp_avg`);
    assertNear(await readPadded(gpu, buffers.expAvgSq, count, pad, 'expAvgSq'), state.expAvgSq, `${what}: exp_avg_sq`);
    dispatch.destroy();
    Object.values(buffers).forEach((b) => b.destroy());
  }
});

test('late steps (1000 and 100,000) use the bias corrections of that step, computed in float64', async () => {
  const gpu = await testGpu();
  const rng = random(SEED + 1);
  const hyper: AdamWHyperParameters = { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 1e-5 };
  for (const step of [1000, 100_000]) {
    const count = 333;
    const state: AdamWState = {
      param: Float64Array.from(randomArray(rng.next, count)),
      expAvg: Float64Array.from(randomArray(rng.next, count, 1e-2)),
      expAvgSq: Float64Array.from(randomArray(rng.next, count, 1e-4), Math.abs),
    };
    const buffers = upload(gpu, state, 1);
    const grad = randomArray(rng.next, count, 1e-2);
    gpu.write(buffers.grad, grad);
    const dispatch = new AdamWKernel(gpu).bind({ count, ...buffers, step, hyper });
    await run(gpu, dispatch);
    adamwReference(state, grad, step, hyper);
    assertNear(await readPadded(gpu, buffers.param, count, 1, 'param'), state.param, `seed ${SEED + 1} step ${step}: param`);
    dispatch.destroy();
    Object.values(buffers).forEach((b) => b.destroy());
  }
});

test('refused: a step below 1, invalid hyper-parameters, aliased buffers, short buffers', async () => {
  const gpu = await testGpu();
  const a = gpu.upload(new Float32Array(8), 'a');
  const b = gpu.upload(new Float32Array(8), 'b');
  const c = gpu.upload(new Float32Array(8), 'c');
  const d = gpu.upload(new Float32Array(8), 'd');
  const hyper: AdamWHyperParameters = { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0 };
  const kernel = new AdamWKernel(gpu);
  assert.throws(() => kernel.bind({ count: 8, param: a, grad: b, expAvg: c, expAvgSq: d, step: 0, hyper }), /step 0 is not a positive integer/);
  assert.throws(() => kernel.bind({ count: 8, param: a, grad: b, expAvg: c, expAvgSq: d, step: 1, hyper: { ...hyper, betas: [1, 0.999] } }), /invalid beta1 1/);
  assert.throws(() => kernel.bind({ count: 8, param: a, grad: b, expAvg: c, expAvgSq: c, step: 1, hyper }), /four different buffers/);
  assert.throws(() => kernel.bind({ count: 9, param: a, grad: b, expAvg: c, expAvgSq: d, step: 1, hyper }), /holds 32 bytes, needs 36/);
  [a, b, c, d].forEach((x) => x.destroy());
});

const TORCH_ADAMW = String.raw`
import json, sys, torch
spec = json.load(sys.stdin)
params = [torch.tensor(p, dtype=torch.float32, requires_grad=True) for p in spec['params']]
h = spec['hyper']
opt = torch.optim.AdamW(params, lr=h['lr'], betas=tuple(h['betas']), eps=h['eps'], weight_decay=h['weightDecay'])
for grads in spec['grads']:
    for p, g in zip(params, grads):
        p.grad = torch.tensor(g, dtype=torch.float32)
    opt.step()
out = {'param': [], 'exp_avg': [], 'exp_avg_sq': [], 'step': [float(opt.state[p]['step']) for p in params]}
for p in params:
    out['param'] += p.detach().tolist()
    out['exp_avg'] += opt.state[p]['exp_avg'].tolist()
    out['exp_avg_sq'] += opt.state[p]['exp_avg_sq'].tolist()
print(json.dumps(out))
`;

requires(test, torchMissing, { ci: true })('3 steps match torch.optim.AdamW within 1e-6 (two parameters laid end to end)', async () => {
  const gpu = await testGpu();
  const rng = random(SEED + 2);
  const sizes = [257, 1];
  const count = sizes[0] + sizes[1];
  const hyper: AdamWHyperParameters = { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 1e-2 };
  const param = randomArray(rng.next, count);
  const grads = [0, 1, 2].map(() => randomArray(rng.next, count, 0.1));
  const split = (a: Float32Array): number[][] => [[...a.subarray(0, sizes[0])], [...a.subarray(sizes[0])]];
  const r = spawnSync(python, ['-c', TORCH_ADAMW], { env: pythonEnv, encoding: 'utf8', timeout: 120_000, input: JSON.stringify({ params: split(param), hyper, grads: grads.map(split) }) });
  if (r.status !== 0) throw new Error(`python AdamW failed: ${r.stderr}`);
  const torch = JSON.parse(r.stdout) as { param: number[]; exp_avg: number[]; exp_avg_sq: number[]; step: number[] };
  assert.equal(torch.step, [3, 3]);

  const zeros = new Float64Array(count);
  const state: AdamWState = { param: Float64Array.from(param), expAvg: zeros.slice(), expAvgSq: zeros.slice() };
  const buffers = upload(gpu, state, 0);
  const dispatch = new AdamWKernel(gpu).bind({ count, ...buffers, step: 1, hyper });
  for (const [i, grad] of grads.entries()) {
    gpu.write(buffers.grad, grad);
    dispatch.setStep({ step: i + 1, hyper });
    await run(gpu, dispatch);
    adamwReference(state, grad, i + 1, hyper);
  }
  const what = `seed ${SEED + 2}`;
  assertNear(await gpu.read(buffers.param, count * 4), torch.param, `${what}: GPU param vs torch`);
  assertNear(await gpu.read(buffers.expAvg, count * 4), torch.exp_avg, `${what}: GPU exp_avg vs torch`);
  assertNear(await gpu.read(buffers.expAvgSq, count * 4), torch.exp_avg_sq, `${what}: GPU exp_avg_sq vs torch`);
  // The reference itself is torch's algorithm.
  assertNear(Float32Array.from(state.param), torch.param, `${what}: float64 reference vs torch`);
  dispatch.destroy();
  Object.values(buffers).forEach((b) => b.destroy());
});

test.run();
