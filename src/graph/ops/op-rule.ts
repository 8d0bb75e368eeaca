// What the graph knows about one kind of node, in one record: the values it reads, its output
// shape and FLOPs, its float64 reference, how it becomes a convolution (for tuning and the compile
// gate), and how it is lowered onto a device: the kernel chosen, the weights prepared, and how a
// bind at one chunk size is made. The table of these records (table.ts) is the only place that
// switches over node kinds. Training would add a `backward` member to each rule.
import { InternalError } from '../../errors.js';
import type { Gpu } from '../../gpu/device.js';
import type { PipelineRequest } from '../../gpu/shader.js';
import type { ConvSpec } from '../../kernels/conv2d/conv-spec.js';
import type { GemmTile, Precision, TensorFormat } from '../../kernels/conv2d/gemm.js';
import type { BoundDispatch } from '../../kernels/dispatch.js';
import type { KernelVariant, TileSource, TileTable } from '../../kernels/variants.js';
import type { Node, ParamStore, Plan } from '../plan.js';

/** A node's view as a convolution (a linear layer is a 1x1 convolution on a 1x1 image). */
export interface ConvView {
  spec: ConvSpec;
  inH: number;
  inW: number;
}

/** What lowering decides with: the device, the plan, the weights and the family the model runs. */
export interface LowerContext {
  gpu: Gpu;
  plan: Plan;
  params: ParamStore;
  precision: Precision;
  variant: KernelVariant;
  tiles?: TileTable;
  /** How a value is stored under the chosen family (graph endpoints stay f32 NCHW). */
  format(value: number): TensorFormat;
}

/** The buffers a lowered node binds: the activations by value id, and its uploaded weights. */
export interface NodeBuffers {
  value(id: number): GPUBuffer;
  weight?: GPUBuffer;
  bias?: GPUBuffer;
}

/** Packed weights in their storage type (f16 as raw halves), ready to upload. */
export interface PreparedWeights {
  weight: Float32Array | Uint16Array;
  bias: Float32Array;
}

/** A node as it runs on one device: the kernel chosen, its weights prepared, its binds. */
export interface LoweredNode {
  node: Node;
  /** FLOPs per sample (2 x multiply-adds). */
  flops: number;
  /** What the executor uploads for it (none for the statistics). */
  weights?: PreparedWeights;
  /** The GEMM tile at `chunk` samples and where it came from; undefined outside the GEMM family. */
  tileAt(chunk: number): { tile: GemmTile; source: TileSource } | undefined;
  /** What runs it at `chunk` samples, as `rcae bench` prints it: variant, precision, tile and source. */
  describe(chunk: number): string;
  /** Every pipeline a bind at `chunk` samples uses. */
  pipelines(chunk: number): PipelineRequest[];
  bind(chunk: number, buffers: NodeBuffers): BoundDispatch;
}

/** Values of a ReferenceRun: float64 tensors by value id, `batch` samples each. */
export interface ReferenceRun {
  plan: Plan;
  params: ParamStore;
  batch: number;
  value(id: number): Float64Array;
}

/** A value's per-sample shape: [channels, height, width]. */
export type Shape = [number, number, number];

export interface OpRule<N extends Node> {
  /** Values the node reads, in binding order. */
  inputs(node: N): number[];
  /** The output's per-sample shape given the (first) input's. */
  outShape(node: N, input: Shape): Shape;
  /** FLOPs per sample (2 x multiply-adds; bias, activation and the statistics are not counted). */
  flops(plan: Plan, node: N): number;
  /** The node as a convolution, or undefined when it is none (the statistics). */
  asConv(plan: Plan, node: N): ConvView | undefined;
  /** Every pipeline the NCHW family may create for the node at `batch` (the compile gate's cases). */
  nchwCases(plan: Plan, node: N, batch: number): { kernel: string; what: string; request: PipelineRequest }[];
  /** Float64 forward pass of the node, as PyTorch computes it (BatchNorm unfolded). */
  reference(run: ReferenceRun, node: N): Float64Array;
  /**
   * The weights in the chosen family's form: BatchNorm folded, renumbered to NHWC, packed, in the
   * storage precision. Undefined for a node without weights.
   */
  prepareWeights(ctx: LowerContext, node: N): PreparedWeights | undefined;
  /** Chooses the node's kernel (through kernels/variants.ts) and says how to bind it. */
  lower(ctx: LowerContext, node: N): Omit<LoweredNode, 'weights'>;
}

export function requiredParam(params: ParamStore, name: string): Float32Array {
  const t = params.get(name);
  if (!t) throw new InternalError(`missing parameter ${name}`);
  return t;
}
