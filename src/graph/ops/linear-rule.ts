// The fully connected node. Under the NCHW family it runs the linear kernel; under the GEMM family
// it is a 1x1 convolution on a 1x1 image whose weights are renumbered to NHWC flattening.
import { packConvWeights } from '../../kernels/conv2d/conv-spec.js';
import { LINEAR_GEOMETRIES, LinearKernel, linearPipeline, packLinearWeights, type LinearSpec } from '../../kernels/linear/linear.js';
import { linearReference } from '../../kernels/linear/reference.js';
import { isGemmVariant, linearShapeFor } from '../../kernels/variants.js';
import type { LinearNode, Plan } from '../plan.js';
import { gemmWeights, lowerGemm } from './gemm-node.js';
import { requiredParam, type ConvView, type OpRule } from './op-rule.js';

function linearSpec(plan: Plan, node: LinearNode): LinearSpec {
  return { inFeatures: node.inFeatures, outFeatures: node.outFeatures, activation: node.activation, leakySlope: plan.arch.leakySlope };
}

function asConv(plan: Plan, node: LinearNode): ConvView {
  const spec = { inChannels: node.inFeatures, outChannels: node.outFeatures, kernel: 1, stride: 1, padding: 0, transposed: false, activation: node.activation, leakySlope: plan.arch.leakySlope, residual: false };
  return { spec, inH: 1, inW: 1 };
}

/** NHWC -> NCHW order of a [c, h, w] map flattened: index in NCHW of the NHWC element i. */
function nchwIndexOfNhwc(i: number, [c, h, w]: readonly number[]): number {
  const ch = i % c;
  const pixel = Math.floor(i / c);
  return ch * h * w + pixel;
}

/**
 * A linear layer's PyTorch weight [out, in] with its inputs and/or outputs renumbered from NCHW
 * flattening (what PyTorch's flatten/view gives) to NHWC flattening (what the GEMM kernels store).
 */
function permuteLinear(weight: Float32Array, bias: Float32Array, node: LinearNode, inMap: readonly number[] | null, outMap: readonly number[] | null): { weight: Float32Array; bias: Float32Array } {
  const { inFeatures: fin, outFeatures: fout } = node;
  const w = new Float32Array(weight.length);
  const b = new Float32Array(bias.length);
  for (let o = 0; o < fout; o++) {
    const so = outMap ? nchwIndexOfNhwc(o, outMap) : o;
    b[o] = bias[so];
    for (let i = 0; i < fin; i++) w[o * fin + i] = weight[so * fin + (inMap ? nchwIndexOfNhwc(i, inMap) : i)];
  }
  return { weight: w, bias: b };
}

export const linearRule: OpRule<LinearNode> = {
  inputs: (node) => [node.input],
  outShape: (node) => [node.outFeatures, 1, 1],
  flops: (_plan, node) => 2 * node.inFeatures * node.outFeatures,
  asConv,

  reference({ plan, params, batch, value }, node) {
    return linearReference(value(node.input), batch, requiredParam(params, `${node.name}.weight`), requiredParam(params, `${node.name}.bias`), linearSpec(plan, node));
  },

  prepareWeights(ctx, node) {
    const weight = requiredParam(ctx.params, `${node.name}.weight`);
    const bias = requiredParam(ctx.params, `${node.name}.bias`);
    if (!isGemmVariant(ctx.variant)) return packLinearWeights(linearSpec(ctx.plan, node), weight, bias);
    // Flattening a [C, H, W] map is free in NCHW; the GEMM family stores maps NHWC, so the
    // weights take the renumbering instead.
    const { values, io } = ctx.plan;
    const inMap = node.input === io.latent ? null : values[node.input].shape;
    const outMap = node.output === io.latent ? null : values[node.output].shape;
    const permuted = permuteLinear(weight, bias, node, inMap, outMap);
    return gemmWeights(ctx, packConvWeights(asConv(ctx.plan, node).spec, permuted.weight, permuted.bias));
  },

  nchwCases: (plan, node, batch) =>
    LINEAR_GEOMETRIES.map((geometry) => ({ kernel: 'linear', what: `linear WG ${geometry.WG} (${node.name})`, request: linearPipeline(linearSpec(plan, node), geometry, batch) })),

  lower(ctx, node) {
    const flops = linearRule.flops(ctx.plan, node);
    if (isGemmVariant(ctx.variant)) return lowerGemm(ctx, node, asConv(ctx.plan, node), flops);
    const kernel = new LinearKernel(ctx.gpu, linearSpec(ctx.plan, node), { shape: linearShapeFor(ctx.gpu) });
    return {
      node,
      flops,
      tileAt: () => undefined,
      describe: () => 'linear f32',
      pipelines: (chunk) => [kernel.pipelineAt(chunk)],
      bind: (chunk, b) => kernel.bind({ batch: chunk, input: b.value(node.input), output: b.value(node.output), weight: b.weight!, bias: b.bias! }),
    };
  },
};
