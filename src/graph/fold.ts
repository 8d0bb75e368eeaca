// Folds inference-mode BatchNorm into the preceding convolution's weight and bias, in float64:
//   y = gamma * (conv(x) + b - mean) / sqrt(var + eps) + beta
//     = conv_{W * s}(x) + (b - mean) * s + beta,   s = gamma / sqrt(var + eps)

import { BN_EPS } from './architecture.js';

export interface BatchNormParams {
  weight: Float32Array;
  bias: Float32Array;
  runningMean: Float32Array;
  runningVar: Float32Array;
}

/**
 * `outAxis` says where the output channel sits in the weight tensor: 0 for Conv2d [out, in, k, k],
 * 1 for ConvTranspose2d [in, out, k, k]. Returns new arrays; the inputs are left untouched.
 */
export function foldBatchNorm(
  weight: Float32Array,
  weightShape: readonly number[],
  bias: Float32Array,
  bn: BatchNormParams,
  outAxis: 0 | 1,
  eps = BN_EPS,
): { weight: Float32Array; bias: Float32Array } {
  const outChannels = weightShape[outAxis];
  const scale = new Float64Array(outChannels);
  const folded = new Float32Array(outChannels);
  for (let c = 0; c < outChannels; c++) {
    scale[c] = bn.weight[c] / Math.sqrt(bn.runningVar[c] + eps);
    folded[c] = (bias[c] - bn.runningMean[c]) * scale[c] + bn.bias[c];
  }
  const inner = weightShape.slice(2).reduce((a, b) => a * b, 1);
  const dim1 = weightShape[1];
  const scaled = new Float32Array(weight.length);
  for (let i = 0; i < weight.length; i++) {
    const c = outAxis === 0 ? Math.floor(i / (dim1 * inner)) : Math.floor(i / inner) % dim1;
    scaled[i] = weight[i] * scale[c];
  }
  return { weight: scaled, bias: folded };
}
