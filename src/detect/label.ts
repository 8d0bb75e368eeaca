// The label of one scored sample. Fail closed: an error that is not a finite number (NaN from an
// input or a model holding NaN/Inf, Infinity from an overflow) compares false with any threshold
// and would read as REAL; it gets its own label, INVALID, with the reason.

export type Label = 'REAL' | 'FAKE' | 'INVALID';

export interface Labelled {
  label: Label;
  /** Why the sample is INVALID; absent for REAL and FAKE. */
  reason?: string;
}

export function labelFor(error: number, threshold: number): Labelled {
  if (!Number.isFinite(error)) {
    return { label: 'INVALID', reason: `reconstruction error is ${error} (the input or the model holds non-finite values)` };
  }
  return { label: error > threshold ? 'FAKE' : 'REAL' };
}
