// The activations a kernel epilogue can apply, and their ACTIVATION override ids in activation.wgsl.
// The type lives here, below the graph, so kernels never import the architecture.
export type Activation = 'none' | 'relu' | 'leaky_relu' | 'tanh';

export const activationInclude = 'kernels/activation.wgsl';

const ids: Record<Activation, number> = { none: 0, relu: 1, leaky_relu: 2, tanh: 3 };

export function activationId(activation: Activation): number {
  const id = ids[activation];
  if (id === undefined) throw new RangeError(`unknown activation "${String(activation)}"`);
  return id;
}
