// Float64 CPU forward pass of a Plan, composed from the op table's references (ops/). BatchNorm is
// applied as PyTorch does (not folded), so comparing this with the GPU checks the folding too.
// Slow: meant for tests and for `rcae bench`'s output check on one sample.

import { ruleOf } from './ops/table.js';
import type { ParamStore, Plan } from './plan.js';

export interface ReferenceOutputs {
  latent: Float64Array;
  reconstruction: Float64Array;
  mse: Float64Array;
  hf: Float64Array;
  ssim: Float64Array;
}

/** The whole forward pass for `batch` images (NCHW), in float64. */
export function referenceForward(plan: Plan, params: ParamStore, images: ArrayLike<number>, batch: number): ReferenceOutputs {
  const values = new Map<number, Float64Array>([[plan.io.image, Float64Array.from(images)]]);
  const run = { plan, params, batch, value: (id: number) => values.get(id)! };
  for (const node of plan.nodes) values.set(node.output, ruleOf(node).reference(run, node));
  const at = (v: number) => values.get(v)!;
  const { io } = plan;
  return { latent: at(io.latent), reconstruction: at(io.reconstruction), mse: at(io.mse), hf: at(io.hf), ssim: at(io.ssim) };
}
