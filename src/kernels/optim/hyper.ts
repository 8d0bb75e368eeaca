// AdamW's hyper-parameters and the per-step scalars torch.optim.AdamW derives from them. torch
// computes the bias corrections in Python floats (float64) from the step count and hands them to
// float32 tensor ops; so does rcae, on the host, so that step 10,000 is as exact as step 1 (a
// float32 pow on the GPU would drift by the rounding of beta2 raised to the step).

export interface AdamWHyperParameters {
  lr: number;
  betas: readonly [number, number];
  eps: number;
  weightDecay: number;
}

export interface AdamWStepScalars {
  /** 1 - lr * weight_decay: the decoupled decay applied to the parameter first. */
  decay: number;
  beta1: number;
  oneMinusBeta1: number;
  beta2: number;
  oneMinusBeta2: number;
  /** -lr / (1 - beta1^step). */
  negStepSize: number;
  /** sqrt(1 - beta2^step). */
  bc2Sqrt: number;
  eps: number;
}

/** The scalars of step `step` (1 for the first step), in float64 as torch's Python computes them. */
export function adamwStepScalars(step: number, h: AdamWHyperParameters): AdamWStepScalars {
  if (!Number.isSafeInteger(step) || step < 1) throw new RangeError(`AdamW step ${step} is not a positive integer`);
  const [beta1, beta2] = h.betas;
  return {
    decay: 1 - h.lr * h.weightDecay,
    beta1,
    oneMinusBeta1: 1 - beta1,
    beta2,
    oneMinusBeta2: 1 - beta2,
    negStepSize: -(h.lr / (1 - beta1 ** step)),
    bc2Sqrt: Math.sqrt(1 - beta2 ** step),
    eps: h.eps,
  };
}

/** Throws unless the hyper-parameters are ones torch.optim.AdamW accepts. */
export function checkAdamW(h: AdamWHyperParameters): void {
  const [b1, b2] = h.betas;
  const problem =
    !(h.lr >= 0) ? `lr ${h.lr}` :
    !(h.eps >= 0) ? `eps ${h.eps}` :
    !(b1 >= 0 && b1 < 1) ? `beta1 ${b1}` :
    !(b2 >= 0 && b2 < 1) ? `beta2 ${b2}` :
    !(h.weightDecay >= 0) ? `weight decay ${h.weightDecay}` : null;
  if (problem) throw new RangeError(`AdamW: invalid ${problem}`);
}
