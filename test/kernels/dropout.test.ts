// Philox4x32-10 and Dropout2d masks: the CPU Philox against Random123's known answers, the WGSL
// Philox bit for bit against the CPU one on random counters and keys, masks bit for bit against the
// reference (odd shapes, rates 0 and 1, poisoned output), and the masks' statistics: the stated
// rate, and independence across steps, layers, seeds and neighbouring channels.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Gpu } from '../../src/gpu/device.js';
import { bindKernel, computePipeline, kernelShader } from '../../src/gpu/shader.js';
import { uniformStruct } from '../../src/gpu/uniforms.js';
import { boundDispatch } from '../../src/kernels/dispatch.js';
import { DropoutMaskKernel, philoxInclude, type DropoutMaskArgs } from '../../src/kernels/random/dropout-mask.js';
import { dropoutMaskReference, philox4x32Reference } from '../../src/kernels/random/reference.js';
import { testGpu } from '../helpers/gpu.js';
import { SEED, random } from '../helpers/random.js';
import { poisoned, run } from './support.js';

const test = suite('kernels/dropout');

// Random123's tests/kat_vectors, the philox4x32 10 lines: counter, key, expected.
const KNOWN_ANSWERS: [number[], number[], number[]][] = [
  [[0, 0, 0, 0], [0, 0], [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]],
  [[0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff], [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]],
  [[0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0], [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1]],
];

// A test-only kernel: out[4i..4i+3] = philox4x32(counter i, key i) for inputs laid out 6 words each.
const philoxDump = kernelShader({
  id: 'test-philox-dump',
  source: {
    name: 'philox-dump',
    code: `
@group(0) @binding(0) var<uniform> params: PhiloxDumpParams;
@group(0) @binding(1) var<storage, read> input: array<u32>;
@group(0) @binding(2) var<storage, read_write> output: array<u32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x;
  if (i >= params.count) {
    return;
  }
  let r = philox4x32(vec4u(input[6u * i], input[6u * i + 1u], input[6u * i + 2u], input[6u * i + 3u]), vec2u(input[6u * i + 4u], input[6u * i + 5u]));
  output[4u * i] = r.x;
  output[4u * i + 1u] = r.y;
  output[4u * i + 2u] = r.z;
  output[4u * i + 3u] = r.w;
}`,
  },
  includes: [philoxInclude],
  uniforms: uniformStruct('PhiloxDumpParams', { count: 'u32' }),
  storage: ['read', 'read_write'],
});

async function philoxOnGpu(cases: readonly (readonly number[])[]): Promise<number[][]> {
  const gpu = await testGpu();
  const input = gpu.upload(Uint32Array.from(cases.flat()), 'philox inputs');
  const output = poisoned(gpu, 4 * cases.length, 'philox outputs');
  const binding = bindKernel(gpu, philoxDump, 'philox dump', { count: cases.length }, [input, output]);
  await run(gpu, boundDispatch(gpu, 'philox dump', computePipeline(gpu, philoxDump, {}), binding, [Math.ceil(cases.length / 64), 1, 1], 0));
  const words = new Uint32Array((await gpu.read(output, 16 * cases.length)).buffer);
  binding.uniforms.destroy();
  input.destroy();
  output.destroy();
  return cases.map((_, i) => [...words.subarray(4 * i, 4 * i + 4)]);
}

const hex = (words: readonly number[]): string => words.map((w) => w.toString(16).padStart(8, '0')).join(' ');

test('CPU Philox4x32-10 gives Random123\'s known answers', () => {
  for (const [counter, key, expected] of KNOWN_ANSWERS) assert.is(hex(philox4x32Reference(counter, key)), hex(expected));
});

test('WGSL Philox4x32-10 equals the CPU one bit for bit: known answers and 3000 random counters and keys', async () => {
  const rng = random(SEED);
  // Words at the edges of the 16-bit halves mulhilo splits into, and uniform ones.
  const word = (): number => (rng.next() < 0.2 ? rng.pick([0, 1, 0xffff, 0x10000, 0xffffffff, 0x80000000]) : Math.floor(rng.next() * 2 ** 32));
  const cases = [...KNOWN_ANSWERS.map(([c, k]) => [...c, ...k]), ...Array.from({ length: 3000 }, () => Array.from({ length: 6 }, word))];
  const got = await philoxOnGpu(cases);
  for (const [i, c] of cases.entries()) {
    assert.is(hex(got[i]), hex(philox4x32Reference(c.slice(0, 4), c.slice(4))), `seed ${SEED}: counter ${hex(c.slice(0, 4))} key ${hex(c.slice(4))}`);
  }
});

async function maskOnGpu(gpu: Gpu, a: Omit<DropoutMaskArgs, 'mask'>): Promise<Float32Array> {
  const mask = poisoned(gpu, a.samples * a.channels, 'mask');
  const dispatch = new DropoutMaskKernel(gpu).bind({ ...a, mask });
  await run(gpu, dispatch);
  const out = await gpu.read(mask, a.samples * a.channels * 4);
  dispatch.destroy();
  mask.destroy();
  return out;
}

test('masks equal the reference bit for bit: odd shapes, 53-bit seeds, rates 0 and 1, every element written', async () => {
  const gpu = await testGpu();
  const rng = random(SEED + 1);
  for (let round = 0; round < 12; round++) {
    const a = {
      seed: rng.pick([0, 1, 2 ** 32, Number.MAX_SAFE_INTEGER, Math.floor(rng.next() * 2 ** 53)]),
      step: rng.pick([0, 1, 0xffffffff, rng.int(0, 1e6)]),
      stream: rng.int(0, 20),
      samples: rng.pick([1, 2, 3, rng.int(1, 64)]),
      channels: rng.pick([1, 3, 8, 64, rng.int(1, 300)]),
      p: rng.pick([0, 1, 0.1, 0.5, rng.next()]),
    };
    const got = await maskOnGpu(gpu, a);
    const want = dropoutMaskReference(a);
    assert.equal([...got], [...want], `seed ${SEED + 1}: ${JSON.stringify(a)}`);
    if (a.p === 0) assert.ok(got.every((v) => v === 1));
    if (a.p === 1) assert.ok(got.every((v) => v === 0));
  }
});

/** |x - expected| within 5 standard deviations of a proportion over n trials. */
function assertProportion(x: number, expected: number, n: number, what: string): void {
  const sd = Math.sqrt((expected * (1 - expected)) / n);
  assert.ok(Math.abs(x - expected) <= 5 * sd, `${what}: ${x}, expected ${expected} +- ${5 * sd} (5 sd)`);
}

test('statistics: the stated rate, kept channels scaled by 1/(1-p), independent across steps, layers, seeds and channels', async () => {
  const gpu = await testGpu();
  const rng = random(SEED + 2);
  const shape = { samples: 256, channels: 512 };
  const n = shape.samples * shape.channels;
  for (const p of [0.1, 0.5, 0.3 + 0.4 * rng.next()]) {
    const base = { seed: Math.floor(rng.next() * 2 ** 53), step: rng.int(0, 1e6), stream: rng.int(0, 8), p, ...shape };
    const what = `seed ${SEED + 2} p ${p}`;
    const mask = await maskOnGpu(gpu, base);
    const dropped = mask.filter((v) => v === 0).length / n;
    assertProportion(dropped, p, n, `${what}: dropped fraction`);
    assert.ok(mask.every((v) => v === 0 || v === Math.fround(1 / Math.fround(1 - p))), `${what}: kept channels scaled by 1/(1-p)`);
    // The same draw again is the same mask; a change of step, layer or seed is an independent one.
    assert.equal([...(await maskOnGpu(gpu, base))], [...mask], `${what}: same seed, step and layer`);
    const same = p * p + (1 - p) * (1 - p);
    for (const change of [{ step: base.step + 1 }, { stream: base.stream + 1 }, { seed: base.seed + 1 }]) {
      const other = await maskOnGpu(gpu, { ...base, ...change });
      assertProportion(other.filter((v, i) => (v === 0) === (mask[i] === 0)).length / n, same, n, `${what}: agreement with ${JSON.stringify(change)}`);
    }
    let agree = 0;
    for (let s = 0; s < shape.samples; s++) for (let c = 0; c + 1 < shape.channels; c++) agree += Number((mask[s * shape.channels + c] === 0) === (mask[s * shape.channels + c + 1] === 0));
    assertProportion(agree / (shape.samples * (shape.channels - 1)), same, shape.samples * (shape.channels - 1), `${what}: neighbouring channels`);
  }
});

test('refused: rates outside [0, 1], negative or fractional seeds, steps past u32', async () => {
  const gpu = await testGpu();
  const mask = gpu.upload(new Float32Array(4), 'mask');
  const k = new DropoutMaskKernel(gpu);
  const ok = { seed: 1, step: 0, stream: 0, samples: 2, channels: 2, p: 0.5, mask };
  assert.throws(() => k.bind({ ...ok, p: 1.5 }), /rate 1.5 is not within \[0, 1\]/);
  assert.throws(() => k.bind({ ...ok, seed: -1 }), /seed -1 is not a non-negative safe integer/);
  assert.throws(() => k.bind({ ...ok, step: 2 ** 32 }), /must be u32/);
  assert.throws(() => k.bind({ ...ok, channels: 3 }), /holds 16 bytes, needs 24/);
  mask.destroy();
});

test.run();
