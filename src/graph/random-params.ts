// Seeded random weights for an architecture: what `rcae bench` runs when no checkpoint is given, and
// what graph tests use to exercise fresh shapes. PyTorch-like scales (uniform +-1/sqrt(fan_in)) and
// non-trivial BatchNorm statistics (some variances below epsilon) so that folding is exercised.

import { type Architecture, BN_EPS, elementCount, parameterList } from './architecture.js';

/** mulberry32: a small, fast, well-mixed 32-bit PRNG; deterministic across platforms. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomParams(arch: Architecture, seed = 0): Map<string, Float32Array> {
  const rand = mulberry32(seed);
  const uniform = (lo: number, hi: number) => lo + (hi - lo) * rand();
  const params = new Map<string, Float32Array>();
  const list = parameterList(arch);
  // fan_in of each layer, found from its weight, bounds both its weight and its bias.
  const fanIn = new Map<string, number>();
  for (const p of list) {
    if (p.role === 'conv.weight' || p.role === 'linear.weight') fanIn.set(p.name.replace(/\.weight$/, ''), elementCount(p.shape.slice(1)));
    if (p.role === 'convT.weight') fanIn.set(p.name.replace(/\.weight$/, ''), p.shape[1] * p.shape[2] * p.shape[3]);
  }
  for (const p of list) {
    if (p.role === 'bn.num_batches_tracked') continue;
    const data = new Float32Array(elementCount(p.shape));
    const layer = p.name.slice(0, p.name.lastIndexOf('.'));
    const bound = 1 / Math.sqrt(fanIn.get(layer) ?? 1);
    const [lo, hi] =
      p.role === 'bn.weight' ? [0.5, 1.5]
      : p.role === 'bn.bias' || p.role === 'bn.running_mean' ? [-0.1, 0.1]
      : p.role === 'bn.running_var' ? [0.5, 1.5]
      : [-bound, bound];
    for (let i = 0; i < data.length; i++) data[i] = uniform(lo, hi);
    params.set(p.name, data);
  }
  // A quarter of the BN channels get a variance below BN_EPS, where a dropped or misplaced epsilon
  // changes the output by 40% or more; their gamma shrinks with sqrt(variance) so that
  // gamma / sqrt(var + eps) stays of order 1 and activations do not blow up through the stages.
  for (const p of list) {
    if (p.role !== 'bn.running_var') continue;
    const variance = params.get(p.name)!;
    const gamma = params.get(p.name.replace(/running_var$/, 'weight'))!;
    for (let c = 0; c < variance.length; c++) {
      if (rand() >= 0.25) continue;
      variance[c] = uniform(0.1, 1) * BN_EPS;
      gamma[c] *= Math.sqrt(variance[c] + BN_EPS);
    }
  }
  return params;
}

export function randomImages(count: number, perSample: number, seed = 1): Float32Array {
  const rand = mulberry32(seed);
  const data = new Float32Array(count * perSample);
  for (let i = 0; i < data.length; i++) data[i] = rand() * 2 - 1;
  return data;
}
