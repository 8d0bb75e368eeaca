// Shared pieces of the kernel tests: seeded random data, NaN-poisoned output buffers (so an element
// a kernel forgot to write shows up), running one bound dispatch, and the error check.
import * as assert from 'uvu/assert';
import type { Gpu } from '../../src/gpu/device.js';
import type { BoundDispatch } from '../../src/kernels/dispatch.js';
import { mulberry32 } from '../../src/graph/random-params.js';

/** The project's seeded PRNG (mulberry32), reproducible across runs. */
export const rng = mulberry32;

export function randomArray(rand: () => number, length: number, scale = 1): Float32Array {
  return Float32Array.from({ length }, () => (rand() * 2 - 1) * scale);
}

export function pick<T>(rand: () => number, options: readonly T[]): T {
  return options[Math.floor(rand() * options.length)];
}

export function poisoned(gpu: Gpu, floats: number, label: string): GPUBuffer {
  return gpu.upload(new Float32Array(floats).fill(Number.NaN), label);
}

export async function run(gpu: Gpu, dispatch: BoundDispatch): Promise<void> {
  await gpu.checked(dispatch.label, () =>
    gpu.submit((encoder) => {
      const pass = encoder.beginComputePass();
      dispatch.encode(pass);
      pass.end();
    }),
  );
}

/** Every element finite (poison overwritten) and within `tolerance` of the float64 reference. */
export function assertClose(actual: Float32Array, expected: ArrayLike<number>, tolerance: number, what: string): void {
  assert.is(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < actual.length; i++) {
    if (!(Math.abs(actual[i] - expected[i]) <= tolerance)) {
      assert.unreachable(`${what}: element ${i} is ${actual[i]}, expected ${expected[i]} (tolerance ${tolerance})`);
    }
  }
}
