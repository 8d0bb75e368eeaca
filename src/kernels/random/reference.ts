// CPU Philox4x32-10 and Dropout2d masks, written independently of the WGSL (64-bit products in
// BigInt, not 16-bit halves), bit for bit what the kernels must produce.
import { dropKeyOf } from './dropout-spec.js';

const M0 = 0xd2511f53n;
const M1 = 0xcd9e8d57n;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;

/** Philox4x32-10 of a counter of four words and a key of two. */
export function philox4x32Reference(counter: readonly number[], key: readonly number[]): number[] {
  let [c0, c1, c2, c3] = counter.map((w) => w >>> 0);
  let [k0, k1] = key.map((w) => w >>> 0);
  for (let round = 0; round < 10; round++) {
    if (round > 0) {
      k0 = (k0 + W0) >>> 0;
      k1 = (k1 + W1) >>> 0;
    }
    const p0 = M0 * BigInt(c0);
    const p1 = M1 * BigInt(c2);
    const hi0 = Number(p0 >> 32n);
    const hi1 = Number(p1 >> 32n);
    [c0, c1, c2, c3] = [(hi1 ^ c1 ^ k0) >>> 0, Number(p1 & 0xffffffffn), (hi0 ^ c3 ^ k1) >>> 0, Number(p0 & 0xffffffffn)];
  }
  return [c0, c1, c2, c3];
}

/** The masks dropout-mask.wgsl writes: [samples, channels] of 0 or 1 / (1 - p). */
export function dropoutMaskReference(a: { seed: number; step: number; stream: number; samples: number; channels: number; p: number }): Float32Array {
  const { key, threshold, scale } = dropKeyOf(a.seed, a.p);
  const out = new Float32Array(a.samples * a.channels);
  for (let s = 0; s < a.samples; s++) {
    for (let c = 0; c < a.channels; c++) {
      const word = philox4x32Reference([c, s, a.step, a.stream], key)[0];
      out[s * a.channels + c] = word >>> 8 < threshold ? 0 : scale;
    }
  }
  return out;
}
