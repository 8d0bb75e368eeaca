import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Gpu } from '../../src/gpu/device.js';
import { HfKernel } from '../../src/kernels/stats/hf.js';
import { SsimKernel } from '../../src/kernels/stats/ssim.js';
import { type ImageShape } from '../../src/kernels/stats/definitions.js';
import { hfReference, ssimReference } from '../../src/kernels/stats/reference.js';
import { testGpu } from '../helpers/gpu.js';
import { poisoned, randomArray, rng, run } from './support.js';

const test = suite('kernels/stats');

type Stat = 'hf' | 'ssim';

/**
 * Inputs like scoring's: a smooth random image (a sum of a few waves) plus pixel noise, against a
 * reconstruction off by an uneven amount; `rough` samples are plain noise, as synthetic fakes are.
 */
function images(rand: () => number, batch: number, { channels, height, width }: ImageShape): { a: Float32Array; b: Float32Array } {
  const a = new Float32Array(batch * channels * height * width);
  for (let s = 0; s < batch; s++) {
    const rough = s % 3 === 2;
    const [fy, fx, phase] = [rand() * 0.6, rand() * 0.6, rand() * 6];
    for (let i = 0; i < channels * height * width; i++) {
      const y = Math.floor(i / width) % height;
      const x = i % width;
      a[s * channels * height * width + i] = rough ? rand() * 2 - 1 : 0.6 * Math.sin(fy * y + fx * x + phase) + 0.2 * (rand() - 0.5);
    }
  }
  const b = Float32Array.from(a, (v, i) => Math.max(-1, Math.min(1, v + (rand() - 0.5) * (i % 11 === 0 ? 0.6 : 0.08))));
  return { a, b };
}

async function compute(gpu: Gpu, stat: Stat, a: Float32Array, b: Float32Array, batch: number, shape: ImageShape): Promise<Float32Array> {
  const buffers = { a: gpu.upload(a, 'a'), b: gpu.upload(b, 'b'), output: poisoned(gpu, batch, stat) };
  const kernel = stat === 'hf' ? new HfKernel(gpu) : new SsimKernel(gpu);
  const dispatch = kernel.bind({ batch, ...shape, ...buffers });
  await run(gpu, dispatch);
  const out = await gpu.read(buffers.output, batch * 4);
  dispatch.destroy();
  Object.values(buffers).forEach((buffer) => buffer.destroy());
  return out;
}

async function check(stat: Stat, batch: number, shape: ImageShape, seed: number): Promise<void> {
  const gpu = await testGpu();
  const { a, b } = images(rng(seed), batch, shape);
  const actual = await compute(gpu, stat, a, b, batch, shape);
  const expected = stat === 'hf' ? hfReference(a, b, batch, shape) : ssimReference(a, b, batch, shape);
  const what = `${stat} ${batch} x ${shape.channels}x${shape.height}x${shape.width}`;
  for (let s = 0; s < batch; s++) {
    // hf is a mean of squares (relative error); SSIM lies in [-1, 1] (absolute error).
    const off = stat === 'hf' ? Math.abs(actual[s] - expected[s]) / expected[s] : Math.abs(actual[s] - expected[s]);
    assert.ok(off <= 1e-5, `${what}: sample ${s} is ${actual[s]}, expected ${expected[s]} (off by ${off})`);
  }
}

test('hf: full-size images (3 x 128 x 128), batch 3, to 1e-5 relative', async () => {
  await check('hf', 3, { channels: 3, height: 128, width: 128 }, 51);
});

test('hf: odd sizes and the smallest image, batch 1 and more', async () => {
  await check('hf', 1, { channels: 1, height: 3, width: 3 }, 52);
  await check('hf', 5, { channels: 2, height: 13, width: 7 }, 53);
  await check('hf', 2, { channels: 3, height: 3, width: 41 }, 54);
  await check('hf', 3, { channels: 1, height: 40, width: 3 }, 57);
  await check('hf', 1, { channels: 1, height: 67, width: 65 }, 55);
  // Wider than the workgroup: invocations take a second column.
  await check('hf', 2, { channels: 2, height: 5, width: 300 }, 56);
});

test('ssim: full-size images (3 x 128 x 128), batch 3, to 1e-5', async () => {
  await check('ssim', 3, { channels: 3, height: 128, width: 128 }, 61);
});

test('ssim: odd sizes, one window exactly, tiles cut at the edge, batch 1 and more', async () => {
  await check('ssim', 1, { channels: 1, height: 11, width: 11 }, 62);
  await check('ssim', 4, { channels: 3, height: 27, width: 12 }, 63);
  await check('ssim', 2, { channels: 2, height: 43, width: 37 }, 64);
  await check('ssim', 1, { channels: 3, height: 26, width: 59 }, 65);
  // More windows across than the workgroup has invocations: they take a second column.
  await check('ssim', 2, { channels: 2, height: 12, width: 300 }, 67);
});

test('identical inputs: hf exactly 0, ssim 1', async () => {
  const gpu = await testGpu();
  const shape = { channels: 3, height: 20, width: 17 };
  const a = randomArray(rng(66), 2 * 3 * 20 * 17);
  assert.equal([...(await compute(gpu, 'hf', a, a, 2, shape))], [0, 0]);
  for (const v of await compute(gpu, 'ssim', a, a, 2, shape)) assert.ok(Math.abs(v - 1) <= 1e-6, `ssim of an image with itself is ${v}`);
});

test('shapes the statistics cannot take are refused', async () => {
  const gpu = await testGpu();
  const buffer = gpu.upload(new Float32Array(400), 'x');
  const output = poisoned(gpu, 2, 'out');
  assert.throws(() => new HfKernel(gpu).bind({ batch: 1, channels: 1, height: 1, width: 9, a: buffer, b: buffer, output }), /at least 3x3/);
  assert.throws(() => new SsimKernel(gpu).bind({ batch: 1, channels: 1, height: 10, width: 30, a: buffer, b: buffer, output }), /at least 11x11/);
  assert.throws(() => new SsimKernel(gpu).bind({ batch: 2, channels: 1, height: 11, width: 20, a: buffer, b: buffer, output }), /needs 1760/);
  buffer.destroy();
  output.destroy();
});

test.run();
