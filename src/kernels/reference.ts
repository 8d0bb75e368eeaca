// Float64 CPU references shared by the kernel tests: the epilogue activation, computed exactly.
import type { Activation } from './activation.js';

export function activateReference(v: number, activation: Activation, slope: number): number {
  switch (activation) {
    case 'none':
      return v;
    case 'relu':
      return Math.max(v, 0);
    case 'leaky_relu':
      return v >= 0 ? v : v * slope;
    case 'tanh':
      return Math.tanh(v);
  }
}
