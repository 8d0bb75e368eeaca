// Float64 reference for BatchNorm2d in training mode over NHWC activations ([M = N*H*W rows, C
// channels]), as torch.nn.BatchNorm2d computes it: batch statistics over M with the biased variance
// for normalising, the unbiased one for the running estimate, and the backward pass's formula.

export interface BatchNormForwardReference {
  y: Float64Array;
  mean: Float64Array;
  /** 1 / sqrt(biased variance + eps), per channel. */
  invstd: Float64Array;
  runningMean: Float64Array;
  runningVar: Float64Array;
}

export interface BatchNormHyper {
  eps: number;
  momentum: number;
}

export function batchNormForwardReference(
  x: ArrayLike<number>, rows: number, channels: number, gamma: ArrayLike<number>, beta: ArrayLike<number>,
  runningMean: ArrayLike<number>, runningVar: ArrayLike<number>, { eps, momentum }: BatchNormHyper,
): BatchNormForwardReference {
  const mean = new Float64Array(channels);
  const invstd = new Float64Array(channels);
  const newMean = new Float64Array(channels);
  const newVar = new Float64Array(channels);
  for (let c = 0; c < channels; c++) {
    let sum = 0;
    for (let m = 0; m < rows; m++) sum += x[m * channels + c];
    mean[c] = sum / rows;
    // Two passes: the squares of the deviations, which no large mean can cancel.
    let squares = 0;
    for (let m = 0; m < rows; m++) squares += (x[m * channels + c] - mean[c]) ** 2;
    invstd[c] = 1 / Math.sqrt(squares / rows + eps);
    newMean[c] = (1 - momentum) * runningMean[c] + momentum * mean[c];
    newVar[c] = (1 - momentum) * runningVar[c] + momentum * (squares / (rows - 1));
  }
  const y = batchNormApplyReference(x, rows, channels, mean, invstd, gamma, beta);
  return { y, mean, invstd, runningMean: newMean, runningVar: newVar };
}

/** y = (x - mean) * invstd * gamma + beta with given statistics. */
export function batchNormApplyReference(
  x: ArrayLike<number>, rows: number, channels: number, mean: ArrayLike<number>, invstd: ArrayLike<number>,
  gamma: ArrayLike<number>, beta: ArrayLike<number>,
): Float64Array {
  const y = new Float64Array(rows * channels);
  for (let i = 0; i < y.length; i++) {
    const c = i % channels;
    y[i] = (x[i] - mean[c]) * invstd[c] * gamma[c] + beta[c];
  }
  return y;
}

export interface BatchNormBackwardReference {
  dx: Float64Array;
  dgamma: Float64Array;
  dbeta: Float64Array;
}

/** torch's batch_norm_backward: dx = gamma * invstd / M * (M * dy - dbeta - xhat * dgamma). */
export function batchNormBackwardReference(
  dy: ArrayLike<number>, x: ArrayLike<number>, rows: number, channels: number,
  mean: ArrayLike<number>, invstd: ArrayLike<number>, gamma: ArrayLike<number>,
): BatchNormBackwardReference {
  const dgamma = new Float64Array(channels);
  const dbeta = new Float64Array(channels);
  const xhat = (i: number, c: number) => (x[i] - mean[c]) * invstd[c];
  for (let i = 0; i < rows * channels; i++) {
    const c = i % channels;
    dbeta[c] += dy[i];
    dgamma[c] += dy[i] * xhat(i, c);
  }
  const dx = new Float64Array(rows * channels);
  for (let i = 0; i < dx.length; i++) {
    const c = i % channels;
    dx[i] = ((gamma[c] * invstd[c]) / rows) * (rows * dy[i] - dbeta[c] - xhat(i, c) * dgamma[c]);
  }
  return { dx, dgamma, dbeta };
}
