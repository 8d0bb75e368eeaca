// Float64 CPU reference for the linear layer (PyTorch weight layout [out, in]).
import { activateReference } from '../reference.js';
import type { LinearSpec } from './linear.js';

export function linearReference(x: ArrayLike<number>, batch: number, weight: ArrayLike<number>, bias: ArrayLike<number>, spec: LinearSpec): Float64Array {
  const { inFeatures: n, outFeatures: m } = spec;
  if (x.length !== batch * n) throw new RangeError(`input has ${x.length} values, expected ${batch} x ${n}`);
  const out = new Float64Array(batch * m);
  for (let b = 0; b < batch; b++) {
    for (let o = 0; o < m; o++) {
      let sum = bias[o];
      for (let i = 0; i < n; i++) sum += x[b * n + i] * weight[o * n + i];
      out[b * m + o] = activateReference(sum, spec.activation, spec.leakySlope);
    }
  }
  return out;
}
