// The convolution node (forward or transposed, BatchNorm folded, optional residual and activation).
import { activateReference } from '../../kernels/reference.js';
import { ConvKernel, convPipeline, type ConvVariant } from '../../kernels/conv2d/conv2d.js';
import { convFlops, convGeometry, convOutputSize, packConvWeights, type ConvSpec } from '../../kernels/conv2d/conv-spec.js';
import { conv2dReference, convTranspose2dReference } from '../../kernels/conv2d/reference.js';
import { NCHW_VARIANTS, isGemmVariant, nchwVariantOf } from '../../kernels/variants.js';
import { BN_EPS } from '../architecture.js';
import { foldBatchNorm } from '../fold.js';
import type { ConvNode, Plan } from '../plan.js';
import { convBindArgs, gemmWeights, lowerGemm } from './gemm-node.js';
import { requiredParam, type ConvView, type OpRule } from './op-rule.js';

function asConv(plan: Plan, node: ConvNode): ConvView {
  const [, inH, inW] = plan.values[node.input].shape;
  const spec: ConvSpec = {
    inChannels: node.inChannels,
    outChannels: node.outChannels,
    kernel: node.kernel,
    stride: node.stride,
    padding: node.padding,
    transposed: node.transposed,
    activation: node.activation,
    leakySlope: plan.arch.leakySlope,
    residual: node.residual !== undefined,
  };
  return { spec, inH, inW };
}

export const convRule: OpRule<ConvNode> = {
  inputs: (node) => (node.residual === undefined ? [node.input] : [node.input, node.residual]),
  outShape: (node, [, h, w]) => [node.outChannels, ...convOutputSize(node, h, w)],
  flops(plan, node) {
    const { spec, inH, inW } = asConv(plan, node);
    return convFlops(spec, 1, inH, inW);
  },
  asConv,

  reference({ plan, params, batch, value }, node) {
    const [c, h, w] = plan.values[node.input].shape;
    const spec = { ...asConv(plan, node).spec, activation: 'none' as const, residual: false };
    const run = node.transposed ? convTranspose2dReference : conv2dReference;
    const y = run(value(node.input), [batch, c, h, w], requiredParam(params, `${node.name}.weight`), requiredParam(params, `${node.name}.bias`), spec);
    const perChannel = plan.values[node.output].shape[1] * plan.values[node.output].shape[2];
    const bn = node.bnParams;
    const gamma = bn ? requiredParam(params, `${bn}.weight`) : undefined;
    const beta = bn ? requiredParam(params, `${bn}.bias`) : undefined;
    const mean = bn ? requiredParam(params, `${bn}.running_mean`) : undefined;
    const variance = bn ? requiredParam(params, `${bn}.running_var`) : undefined;
    const residual = node.residual === undefined ? undefined : value(node.residual);
    for (let i = 0; i < y.length; i++) {
      const ch = Math.floor(i / perChannel) % node.outChannels;
      let v = y[i];
      if (bn) v = ((v - mean![ch]) / Math.sqrt(variance![ch] + BN_EPS)) * gamma![ch] + beta![ch];
      if (residual) v += residual[i];
      y[i] = activateReference(v, node.activation, plan.arch.leakySlope);
    }
    return y;
  },

  prepareWeights(ctx, node) {
    const { params } = ctx;
    let weight = requiredParam(params, `${node.name}.weight`);
    let bias = requiredParam(params, `${node.name}.bias`);
    if (node.bnParams) {
      const bn = node.bnParams;
      const shape = node.transposed ? [node.inChannels, node.outChannels, node.kernel, node.kernel] : [node.outChannels, node.inChannels, node.kernel, node.kernel];
      ({ weight, bias } = foldBatchNorm(weight, shape, bias, {
        weight: requiredParam(params, `${bn}.weight`),
        bias: requiredParam(params, `${bn}.bias`),
        runningMean: requiredParam(params, `${bn}.running_mean`),
        runningVar: requiredParam(params, `${bn}.running_var`),
      }, node.transposed ? 1 : 0));
    }
    const packed = packConvWeights(asConv(ctx.plan, node).spec, weight, bias);
    return isGemmVariant(ctx.variant) ? gemmWeights(ctx, packed) : packed;
  },

  nchwCases(plan, node, batch) {
    const { spec, inH, inW } = asConv(plan, node);
    // The NCHW tilings depend on the output pixels, counted per stride phase as in the GEMM.
    const pixels = convGeometry(spec, batch, inH, inW).pixels;
    return NCHW_VARIANTS.map((variant: ConvVariant) => ({ kernel: variant, what: `${variant} f32 (${node.name}, w=${plan.arch.baseWidth}, batch ${batch})`, request: convPipeline(variant, spec, pixels) }));
  },

  lower(ctx, node) {
    const view = asConv(ctx.plan, node);
    const flops = convRule.flops(ctx.plan, node);
    const nchw = nchwVariantOf(ctx.variant);
    if (!nchw) return lowerGemm(ctx, node, view, flops, node.residual);
    const kernel = new ConvKernel(ctx.gpu, view.spec, { variant: nchw });
    const { inH, inW } = view;
    return {
      node,
      flops,
      tileAt: () => undefined,
      describe: () => `${nchw} f32`,
      pipelines: (chunk) => [kernel.pipelineAt(chunk, inH, inW)],
      bind: (chunk, b) => kernel.bind(convBindArgs(node, view, chunk, b, node.residual)),
    };
  },
};
