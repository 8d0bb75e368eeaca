// Lowering: a Plan onto one device. For every node it asks the op table (ops/table.ts) for the
// kernel (chosen through kernels/variants.ts), the prepared weights (BatchNorm folded, renumbered
// to NHWC, packed, converted to f16) and its bind; nothing else in the graph chooses a family, a
// variant or a tile, or touches a weight. `rcae tune` and the compile gate enumerate layers and
// candidate tiles through it too.
//
// Two kernel families (kernels/variants.ts). The NCHW one keeps every tensor float32 NCHW. The GEMM
// one keeps the tensors between layers NHWC in the storage precision (f32 or f16) and runs the
// linear layers as 1x1 convolutions, their weights permuted so that flattening stays free; the
// graph's inputs and outputs (image, latent, reconstruction, error) are float32 NCHW in both, so the
// precision never shows outside.
import { GpuError, type Gpu } from '../gpu/device.js';
import type { PipelineRequest } from '../gpu/shader.js';
import { layerKey, type ConvSpec } from '../kernels/conv2d/conv-spec.js';
import type { GemmDevice, GemmTile, Precision, TensorFormat } from '../kernels/conv2d/gemm.js';
import { type KernelVariant, type GemmVariant, type TileTable, candidateTiles, chooseTile, defaultVariant, variantProblem } from '../kernels/variants.js';
import type { LowerContext, LoweredNode } from './ops/op-rule.js';
import { ruleOf } from './ops/table.js';
import type { Node, ParamStore, Plan } from './plan.js';

export type { LoweredNode, NodeBuffers } from './ops/op-rule.js';

export interface LowerOptions {
  /** Storage precision of weights and activations (accumulation is f32 either way). Default f32. */
  precision?: Precision;
  /** The kernel variant; default: defaultVariant() for the device. */
  variant?: KernelVariant;
  /** Tuned GEMM tiles; layers without an entry use the heuristic. */
  tiles?: TileTable;
}

export interface Lowering {
  variant: KernelVariant;
  precision: Precision;
  /** One per plan node, in the plan's order. */
  nodes: LoweredNode[];
}

/** Storage of a value under the GEMM family: the graph's endpoints f32 NCHW, the rest NHWC in `precision`. */
export function valueFormat(plan: Plan, v: number, precision: Precision): TensorFormat {
  const { io } = plan;
  if (v === io.image || v === io.reconstruction || v === io.latent) return { layout: 'nchw', type: 'f32' };
  return { layout: 'nhwc', type: precision };
}

export function lower(gpu: Gpu, plan: Plan, params: ParamStore, options: LowerOptions = {}): Lowering {
  const precision = options.precision ?? 'f32';
  const variant = options.variant ?? defaultVariant(gpu, precision);
  const problem = variantProblem(gpu, variant, precision);
  if (problem) throw new GpuError(`${gpu.adapter.description || gpu.adapter.device}: ${problem}`);
  const ctx: LowerContext = { gpu, plan, params, precision, variant, tiles: options.tiles, format: (v) => valueFormat(plan, v, precision) };
  const nodes = plan.nodes.map((node) => {
    const rule = ruleOf(node);
    return { ...rule.lower(ctx, node), weights: rule.prepareWeights(ctx, node) };
  });
  return { variant, precision, nodes };
}

/** A node that runs as a convolution, with what tuning and the compile gate need of it. */
export interface ConvLayer {
  node: Node;
  /** Its tuned-tile key (layerKey). */
  key: string;
  spec: ConvSpec;
  inH: number;
  inW: number;
  /** Its input and output storage under the GEMM family at `precision`. */
  input: TensorFormat;
  output: TensorFormat;
}

/** Every node of `plan` that runs as a convolution (linear layers as 1x1 ones), in order. */
export function convLayers(plan: Plan, precision: Precision): ConvLayer[] {
  return plan.nodes.flatMap((node) => {
    const view = ruleOf(node).asConv(plan, node);
    if (!view) return [];
    const { spec, inH, inW } = view;
    const [input] = ruleOf(node).inputs(node);
    return [{ node, key: layerKey(spec, inH, inW), spec, inH, inW, input: valueFormat(plan, input, precision), output: valueFormat(plan, node.output, precision) }];
  });
}

/** The distinct convolution layers of `plan` (one per tuned-tile key), the first node of each. */
export function distinctConvLayers(plan: Plan, precision: Precision): ConvLayer[] {
  const seen = new Map<string, ConvLayer>();
  for (const layer of convLayers(plan, precision)) if (!seen.has(layer.key)) seen.set(layer.key, layer);
  return [...seen.values()];
}

/** What `rcae tune` times for one layer of `variant` at `batch`: the heuristic's tile first, then the candidates. */
export function tileCandidates(gpu: GemmDevice, layer: ConvLayer, variant: GemmVariant, precision: Precision, batch: number): { heuristic: GemmTile; candidates: GemmTile[] } {
  const { spec, inH, inW } = layer;
  const heuristic = chooseTile(gpu, variant, precision, spec, batch, inH, inW).tile;
  return { heuristic, candidates: candidateTiles(gpu, spec, batch, inH, inW, precision, variant) };
}

/** Every pipeline the NCHW family may create for `node` at `batch`, by kernel (the compile gate's cases). */
export function nchwCases(plan: Plan, node: Node, batch: number): { kernel: string; what: string; request: PipelineRequest }[] {
  return ruleOf(node).nchwCases(plan, node, batch);
}
