// Float64 references for the optimizer kernels. AdamW is written from torch.optim.AdamW's algorithm
// (amsgrad and maximize off) without the kernel's host scalars: decoupled weight decay, then the
// moments, then the bias-corrected update with eps added after the square root.
import type { AdamWHyperParameters } from './hyper.js';

export interface AdamWState {
  param: Float64Array;
  expAvg: Float64Array;
  expAvgSq: Float64Array;
}

/** Applies step `step` (1-based) in place; the gradient is multiplied by `gradScale` first. */
export function adamwReference(s: AdamWState, grad: ArrayLike<number>, step: number, h: AdamWHyperParameters, gradScale = 1): void {
  const [b1, b2] = h.betas;
  const biasCorrection1 = 1 - Math.pow(b1, step);
  const biasCorrection2 = 1 - Math.pow(b2, step);
  for (let i = 0; i < s.param.length; i++) {
    const g = grad[i] * gradScale;
    s.param[i] -= h.lr * h.weightDecay * s.param[i];
    s.expAvg[i] = b1 * s.expAvg[i] + (1 - b1) * g;
    s.expAvgSq[i] = b2 * s.expAvgSq[i] + (1 - b2) * g * g;
    const mHat = s.expAvg[i] / biasCorrection1;
    const vHat = s.expAvgSq[i] / biasCorrection2;
    s.param[i] -= (h.lr * mHat) / (Math.sqrt(vHat) + h.eps);
  }
}

/** Float64 sum of squares of the finite values, and how many are NaN or infinite. */
export function gradNormReference(x: ArrayLike<number>): { sumSquares: number; nonFinite: number } {
  let sumSquares = 0;
  let nonFinite = 0;
  for (let i = 0; i < x.length; i++) {
    if (Number.isFinite(x[i])) sumSquares += x[i] * x[i];
    else nonFinite++;
  }
  return { sumSquares, nonFinite };
}
