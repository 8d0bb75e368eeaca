// A convolution or linear node lowered onto the NHWC GEMM family: one kernel per node, the tile
// chosen per chunk size (kernels/variants.ts) and remembered, the packed weights converted to the
// storage precision.
import { toFloat16 } from '../../gpu/f16.js';
import { GemmConvKernel, tileKey } from '../../kernels/conv2d/gemm.js';
import { chooseTile, type GemmVariant, type TileSource } from '../../kernels/variants.js';
import type { GemmTile } from '../../kernels/conv2d/gemm.js';
import type { ConvNode, LinearNode } from '../plan.js';
import type { ConvBindArgs } from '../../kernels/conv2d/conv-spec.js';
import type { ConvView, LowerContext, LoweredNode, NodeBuffers, PreparedWeights } from './op-rule.js';

/** Packed f32 weights in the GEMM family's storage precision. */
export function gemmWeights(ctx: LowerContext, packed: { weight: Float32Array; bias: Float32Array }): PreparedWeights {
  return { weight: ctx.precision === 'f16' ? toFloat16(packed.weight) : packed.weight, bias: packed.bias };
}

/** A conv or linear node's bind arguments at `chunk` samples, from the buffers the executor assigned. */
export function convBindArgs(node: ConvNode | LinearNode, view: ConvView, chunk: number, b: NodeBuffers, residual?: number): ConvBindArgs {
  const { inH, inW } = view;
  const input = b.value(node.input);
  const output = b.value(node.output);
  return { batch: chunk, inH, inW, input, output, residual: residual === undefined ? undefined : b.value(residual), weight: b.weight!, bias: b.bias! };
}

export function lowerGemm(ctx: LowerContext, node: ConvNode | LinearNode, view: ConvView, flops: number, residual?: number): Omit<LoweredNode, 'weights'> {
  const { gpu, precision } = ctx;
  const variant = ctx.variant as GemmVariant;
  const { spec, inH, inW } = view;
  const kernel = new GemmConvKernel(gpu, spec, { precision, input: ctx.format(node.input), output: ctx.format(node.output) });
  const chosen = new Map<number, { tile: GemmTile; source: TileSource }>();
  const tileAt = (chunk: number) => {
    let c = chosen.get(chunk);
    if (!c) chosen.set(chunk, (c = chooseTile(gpu, variant, precision, spec, chunk, inH, inW, ctx.tiles)));
    return c;
  };
  return {
    node,
    flops,
    tileAt,
    describe: (chunk) => `${variant} ${precision} ${tileKey(tileAt(chunk).tile)} (${tileAt(chunk).source})`,
    pipelines: (chunk) => kernel.pipelinesAt(chunk, inH, inW, tileAt(chunk).tile),
    bind: (chunk, b) => kernel.bind({ ...convBindArgs(node, view, chunk, b, residual), tile: tileAt(chunk).tile }),
  };
}
