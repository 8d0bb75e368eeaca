// The statistic nodes: per-sample MSE, high-frequency error and SSIM of the reconstruction against
// the image, each one kernel in the same pass as the decoder.
import { MseKernel } from '../../kernels/mse/mse.js';
import { mseReference } from '../../kernels/mse/reference.js';
import { HfKernel } from '../../kernels/stats/hf.js';
import { hfReference, ssimReference } from '../../kernels/stats/reference.js';
import { SsimKernel } from '../../kernels/stats/ssim.js';
import type { StatNode } from '../plan.js';
import type { OpRule } from './op-rule.js';

export const statRule: OpRule<StatNode> = {
  inputs: (node) => [node.a, node.b],
  outShape: () => [1, 1, 1],
  flops: () => 0,
  asConv: () => undefined,
  nchwCases: () => [],

  reference({ plan, batch, value }, node) {
    const a = value(node.a);
    const b = value(node.b);
    const [channels, height, width] = plan.values[node.a].shape;
    if (node.stat === 'mse') return mseReference(a, b, batch, channels * height * width);
    return (node.stat === 'hf' ? hfReference : ssimReference)(a, b, batch, { channels, height, width });
  },

  prepareWeights: () => undefined,

  lower(ctx, node) {
    const [channels, height, width] = ctx.plan.values[node.a].shape;
    const pair = (chunk: number, b: { value(id: number): GPUBuffer }) => ({ batch: chunk, a: b.value(node.a), b: b.value(node.b), output: b.value(node.output) });
    const common = { node, flops: 0, tileAt: () => undefined, describe: () => node.stat };
    if (node.stat === 'mse') {
      const kernel = new MseKernel(ctx.gpu);
      return { ...common, pipelines: () => [kernel.pipelineRequest], bind: (chunk, b) => kernel.bind({ ...pair(chunk, b), perSample: channels * height * width }) };
    }
    const kernel = node.stat === 'hf' ? new HfKernel(ctx.gpu) : new SsimKernel(ctx.gpu);
    return { ...common, pipelines: () => [kernel.pipelineRequest], bind: (chunk, b) => kernel.bind({ ...pair(chunk, b), channels, height, width }) };
  },
};
