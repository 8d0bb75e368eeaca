import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { TanhKernel } from '../../src/kernels/elementwise/tanh.js';
import { tanhReference } from '../../src/kernels/elementwise/reference.js';
import { testGpu } from '../helpers/gpu.js';
import { assertClose, poisoned, randomArray, rng, run } from './support.js';

const test = suite('kernels/tanh');

async function tanhOnGpu(x: Float32Array): Promise<Float32Array> {
  const gpu = await testGpu();
  const input = gpu.upload(x, 'x');
  const output = poisoned(gpu, x.length, 'y');
  await run(gpu, new TanhKernel(gpu).bind({ count: x.length, input, output }));
  const y = await gpu.read(output, x.length * 4);
  input.destroy();
  output.destroy();
  return y;
}

test('saturates without overflow: +-1e30, +-88, 0', async () => {
  const x = new Float32Array([1e30, -1e30, 88, -88, 0, 3.4e38, -3.4e38, 44.5, -44.5, 1e-30]);
  const y = await tanhOnGpu(x);
  assert.equal([...y.slice(0, 5)], [1, -1, 1, -1, 0]);
  assert.equal([...y.slice(5, 7)], [1, -1]);
  assertClose(y, tanhReference(x), 1e-7, 'tanh extremes');
});

test('random values, odd lengths, every element written', async () => {
  const rand = rng(31);
  for (const length of [1, 63, 1000, 4099]) {
    const x = randomArray(rand, length, 6);
    assertClose(await tanhOnGpu(x), tanhReference(x), 1e-6, `tanh x${length}`);
  }
});

test.run();
