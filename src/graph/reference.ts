// Float64 CPU forward pass of a Plan, composed from the kernels' references. BatchNorm is applied
// as PyTorch does (not folded), so comparing this with the GPU checks the folding too. Slow: meant
// for tests and for `rcae bench`'s output check on one sample.

import { activateReference } from '../kernels/reference.js';
import { conv2dReference, convTranspose2dReference } from '../kernels/conv2d/reference.js';
import { mseReference } from '../kernels/mse/reference.js';
import { hfReference, ssimReference } from '../kernels/stats/reference.js';
import { BN_EPS } from './architecture.js';
import { type ConvNode, type ParamStore, type Plan, valueSize } from './plan.js';

function param(params: ParamStore, name: string): Float32Array {
  const p = params.get(name);
  if (!p) throw new Error(`missing parameter ${name}`);
  return p;
}

function convForward(plan: Plan, node: ConvNode, params: ParamStore, x: Float64Array, batch: number, residual?: Float64Array): Float64Array {
  const [c, h, w] = plan.values[node.input].shape;
  const spec = { ...node, leakySlope: plan.arch.leakySlope, activation: 'none' as const, residual: false };
  const run = node.transposed ? convTranspose2dReference : conv2dReference;
  const y = run(x, [batch, c, h, w], param(params, `${node.name}.weight`), param(params, `${node.name}.bias`), spec);
  const perChannel = plan.values[node.output].shape[1] * plan.values[node.output].shape[2];
  const bn = node.bnParams;
  const gamma = bn ? param(params, `${bn}.weight`) : undefined;
  const beta = bn ? param(params, `${bn}.bias`) : undefined;
  const mean = bn ? param(params, `${bn}.running_mean`) : undefined;
  const variance = bn ? param(params, `${bn}.running_var`) : undefined;
  for (let i = 0; i < y.length; i++) {
    const ch = Math.floor(i / perChannel) % node.outChannels;
    let v = y[i];
    if (bn) v = ((v - mean![ch]) / Math.sqrt(variance![ch] + BN_EPS)) * gamma![ch] + beta![ch];
    if (residual) v += residual[i];
    y[i] = activateReference(v, node.activation, plan.arch.leakySlope);
  }
  return y;
}

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
  for (const node of plan.nodes) {
    if (node.kind === 'conv') {
      const residual = node.residual === undefined ? undefined : values.get(node.residual);
      values.set(node.output, convForward(plan, node, params, values.get(node.input)!, batch, residual));
    } else if (node.kind === 'linear') {
      const x = values.get(node.input)!;
      const weight = param(params, `${node.name}.weight`);
      const bias = param(params, `${node.name}.bias`);
      const y = new Float64Array(batch * node.outFeatures);
      for (let b = 0; b < batch; b++) {
        for (let o = 0; o < node.outFeatures; o++) {
          let sum = bias[o];
          for (let i = 0; i < node.inFeatures; i++) sum += x[b * node.inFeatures + i] * weight[o * node.inFeatures + i];
          y[b * node.outFeatures + o] = activateReference(sum, node.activation, plan.arch.leakySlope);
        }
      }
      values.set(node.output, y);
    } else {
      const a = values.get(node.a)!;
      const b = values.get(node.b)!;
      const [channels, height, width] = plan.values[node.a].shape;
      const shape = { channels, height, width };
      if (node.stat === 'mse') values.set(node.output, mseReference(a, b, batch, valueSize(plan.values[node.a])));
      else values.set(node.output, node.stat === 'hf' ? hfReference(a, b, batch, shape) : ssimReference(a, b, batch, shape));
    }
  }
  const at = (v: number) => values.get(v)!;
  const { io } = plan;
  return { latent: at(io.latent), reconstruction: at(io.reconstruction), mse: at(io.mse), hf: at(io.hf), ssim: at(io.ssim) };
}
