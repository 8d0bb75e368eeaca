// Shared pieces of the kernel tests: seeded random data, NaN-poisoned output buffers (so an element
// a kernel forgot to write shows up), running one bound dispatch, and the error check.
import * as assert from 'uvu/assert';
import type { Gpu } from '../../src/gpu/device.js';
import type { BoundDispatch } from '../../src/kernels/dispatch.js';

/** mulberry32: small, fast, and reproducible across runs. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

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
