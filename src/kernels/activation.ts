// Maps the architecture's activation names to the ACTIVATION override of activation.wgsl.
import type { Activation } from '../graph/architecture.js';

export const activationInclude = new URL('./activation.wgsl', import.meta.url);

const ids: Record<Activation, number> = { none: 0, relu: 1, leaky_relu: 2, tanh: 3 };

export function activationId(activation: Activation): number {
  const id = ids[activation];
  if (id === undefined) throw new RangeError(`unknown activation "${String(activation)}"`);
  return id;
}
