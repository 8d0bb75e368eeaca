// Float64 references for the element-wise backward kernels, written from the calculus (and
// PyTorch's conventions at the kinks), not from the kernels' f32 order of operations.
import type { BackwardActivation } from './activation-backward.js';

/**
 * dx = dy * f'(saved): relu's derivative is 0 at x <= 0 (torch's threshold_backward), leaky_relu's
 * is the slope at x <= 0 (leaky_relu_backward), tanh's is 1 - y^2 from its output y.
 */
export function activationBackwardReference(activation: BackwardActivation, dy: ArrayLike<number>, saved: ArrayLike<number>, slope = 0): Float64Array {
  const derivative = {
    relu: (x: number) => (x > 0 ? 1 : 0),
    leaky_relu: (x: number) => (x > 0 ? 1 : slope),
    tanh: (y: number) => 1 - y * y,
  }[activation];
  return Float64Array.from(dy, (g, i) => g * derivative(saved[i]));
}

/** d/d recon of mean((recon - target)^2) over every element, times `upstream`. */
export function mseBackwardReference(recon: ArrayLike<number>, target: ArrayLike<number>, upstream = 1): Float64Array {
  return Float64Array.from(recon, (r, i) => ((2 * (r - target[i])) / recon.length) * upstream);
}

export function accumulateReference(dst: ArrayLike<number>, src: ArrayLike<number>): Float64Array {
  return Float64Array.from(dst, (d, i) => d + src[i]);
}

/** dx[n, h, w, c] = dy[n, h, w, c] * mask[n, c] over NHWC [samples, height, width, channels]. */
export function dropoutBackwardReference(dy: ArrayLike<number>, mask: ArrayLike<number>, samples: number, perSample: number, channels: number): Float64Array {
  const dx = new Float64Array(samples * perSample);
  for (let i = 0; i < dx.length; i++) dx[i] = dy[i] * mask[Math.floor(i / perSample) * channels + (i % channels)];
  return dx;
}
