// Turns an Architecture into a flat list of kernel-level nodes with inferred shapes, and assigns the
// intermediate tensors to a few reusable buffers by liveness. Planning only: no GPU here.

import { InternalError } from '../errors.js';
import {
  type Activation,
  type Architecture,
  STAGE_KERNEL,
  STAGE_PADDING,
  STAGE_STRIDE,
  bottleneckSize,
} from './architecture.js';
import { OP_RULES, ruleOf } from './ops/table.js';

/** Canonical state-dict name -> float32 data (BN running stats included; see parameterList). */
export type ParamStore = ReadonlyMap<string, Float32Array>;

/** A tensor of the graph, per sample: [channels, height, width] (features are [n, 1, 1]). */
export interface Value {
  id: number;
  name: string;
  shape: [number, number, number];
}

interface NodeBase {
  /** The layer's canonical state-dict prefix (its weights are `${name}.weight`), also used in profiles. */
  name: string;
  input: number;
  output: number;
}

export interface ConvNode extends NodeBase {
  kind: 'conv';
  transposed: boolean;
  inChannels: number;
  outChannels: number;
  kernel: number;
  stride: number;
  padding: number;
  activation: Activation;
  residual?: number;
  /** Canonical state-dict prefix of the BatchNorm folded into this conv (absent on the output layer). */
  bnParams?: string;
}

export interface LinearNode extends NodeBase {
  kind: 'linear';
  inFeatures: number;
  outFeatures: number;
  activation: Activation;
}

/**
 * Per-sample statistics of an image and its reconstruction: 'mse' the mean of (a - b)^2, 'hf' the
 * mean square of the 3x3 Laplacian of a - b, 'ssim' the mean SSIM (kernels/stats/reference.ts).
 */
export const STATISTICS = ['mse', 'hf', 'ssim'] as const;
export type Statistic = (typeof STATISTICS)[number];

export interface StatNode {
  kind: 'stat';
  stat: Statistic;
  name: string;
  a: number;
  b: number;
  /** [1, 1, 1] per sample. */
  output: number;
}

export type Node = ConvNode | LinearNode | StatNode;

export interface Plan {
  arch: Architecture;
  values: Value[];
  nodes: Node[];
  /** Named graph endpoints; `error` is the MSE. */
  io: { image: number; latent: number; reconstruction: number; mse: number; hf: number; ssim: number };
  /** Index of the first decoder-side node (fc_decode): nodes before it encode, from it on decode. */
  decodeStart: number;
  /** Index of the first statistic node: the decoder ends before it, the statistics follow, one per Statistic. */
  statsStart: number;
}

export function buildPlan(arch: Architecture): Plan {
  const values: Value[] = [];
  const nodes: Node[] = [];
  const value = (name: string, shape: [number, number, number]) => {
    values.push({ id: values.length, name, shape });
    return values.length - 1;
  };
  const act = arch.activation;

  const conv = (name: string, input: number, outChannels: number, geometry: { transposed: boolean; kernel: number; stride: number; padding: number }, activation: Activation, extra: { bnParams?: string; residual?: number }) => {
    const node: ConvNode = { kind: 'conv', name, input, output: -1, inChannels: values[input].shape[0], outChannels, activation, ...geometry, ...extra };
    node.output = value(name, OP_RULES.conv.outShape(node, values[input].shape));
    nodes.push(node);
    return node.output;
  };
  const stageGeometry = (transposed: boolean) => ({ transposed, kernel: STAGE_KERNEL, stride: STAGE_STRIDE, padding: STAGE_PADDING });
  const res3x3 = { transposed: false, kernel: 3, stride: 1, padding: 1 };

  const residualBlocks = (prefix: string, input: number, count: number) => {
    let h = input;
    for (let b = 0; b < count; b++) {
      const p = `${prefix}.blocks.${b}`;
      const c = values[h].shape[0];
      const t = conv(`${p}.conv1`, h, c, res3x3, act, { bnParams: `${p}.bn1` });
      h = conv(`${p}.conv2`, t, c, res3x3, act, { bnParams: `${p}.bn2`, residual: h });
    }
    return h;
  };
  const image = value('image', [arch.inChannels, arch.imageSize, arch.imageSize]);
  let h = image;
  arch.encoder.forEach((s, i) => {
    h = conv(`encoder.${i}.conv`, h, s.channels, stageGeometry(false), act, { bnParams: `encoder.${i}.bn` });
    h = residualBlocks(`encoder.${i}`, h, s.residualBlocks);
  });

  const [bc, bh, bw] = values[h].shape;
  const side = bottleneckSize(arch);
  if (bh !== side || bw !== side) throw new InternalError(`internal: bottleneck is ${bh}x${bw}, expected ${side}x${side}`);
  const flat = bc * bh * bw;
  const latent = value('latent', [arch.latentDim, 1, 1]);
  nodes.push({ kind: 'linear', name: 'fc_encode', input: h, output: latent, inFeatures: flat, outFeatures: arch.latentDim, activation: arch.fcEncodeActivation ? act : 'none' });
  const decodeStart = nodes.length;
  // fc_decode's [flat] output is the [C, H, W] bottleneck map: NCHW flattening makes the reshape free.
  h = value('fc_decode', [bc, bh, bw]);
  nodes.push({ kind: 'linear', name: 'fc_decode', input: latent, output: h, inFeatures: arch.latentDim, outFeatures: flat, activation: arch.fcDecodeActivation ? act : 'none' });

  arch.decoder.forEach((s, i) => {
    const last = i === arch.decoder.length - 1;
    h = conv(`decoder.${i}.conv`, h, s.channels, stageGeometry(true), last ? 'tanh' : act, last ? {} : { bnParams: `decoder.${i}.bn` });
    h = residualBlocks(`decoder.${i}`, h, s.residualBlocks);
  });
  const reconstruction = h;
  const [rc, rh, rw] = values[reconstruction].shape;
  if (rc !== arch.inChannels || rh !== arch.imageSize || rw !== arch.imageSize) {
    throw new InternalError(`internal: reconstruction is ${rc}x${rh}x${rw}, expected ${arch.inChannels}x${arch.imageSize}x${arch.imageSize}`);
  }
  const statsStart = nodes.length;
  const stat = (name: Statistic) => {
    const output = value(name, [1, 1, 1]);
    nodes.push({ kind: 'stat', stat: name, name, a: reconstruction, b: image, output });
    return output;
  };
  const mse = stat('mse');
  const hf = stat('hf');
  const ssim = stat('ssim');

  return { arch, values, nodes, io: { image, latent, reconstruction, mse, hf, ssim }, decodeStart, statsStart };
}

export function valueSize(v: Value): number {
  return v.shape[0] * v.shape[1] * v.shape[2];
}

export function nodeInputs(n: Node): number[] {
  return ruleOf(n).inputs(n);
}

/** Forward FLOPs per sample (2 x multiply-adds; bias, activation and the statistics are not counted). */
export function nodeFlops(plan: Plan, n: Node): number {
  return ruleOf(n).flops(plan, n);
}

export function planFlops(plan: Plan, nodes: readonly Node[] = plan.nodes): number {
  return nodes.reduce((sum, n) => sum + nodeFlops(plan, n), 0);
}

/**
 * Assigns every value computed by `nodes` (plus the pinned ones, which keep their own buffer) to a
 * slot so that two values share a slot only when their lifetimes do not overlap. Returns the slot of
 * each value and each slot's size per sample, in the unit of `sizeOf` (default: elements).
 */
export function assignSlots(plan: Plan, nodes: readonly Node[], pinned: ReadonlySet<number>, sizeOf: (v: Value) => number = valueSize): { slotOf: Map<number, number>; slotSizes: number[] } {
  const lastUse = new Map<number, number>();
  nodes.forEach((n, i) => nodeInputs(n).forEach((v) => lastUse.set(v, i)));
  const slotOf = new Map<number, number>();
  const slotSizes: number[] = [];
  const free: number[] = [];
  const take = (v: number) => {
    const size = sizeOf(plan.values[v]);
    // Best fit among free slots: the smallest one that already holds `size`, else the largest to grow.
    let best = -1;
    for (const s of free) {
      if (best < 0) best = s;
      else if (slotSizes[s] >= size ? slotSizes[best] < size || slotSizes[s] < slotSizes[best] : slotSizes[best] < size && slotSizes[s] > slotSizes[best]) best = s;
    }
    let slot: number;
    if (best >= 0) {
      free.splice(free.indexOf(best), 1);
      slot = best;
      slotSizes[slot] = Math.max(slotSizes[slot], size);
    } else {
      slot = slotSizes.length;
      slotSizes.push(size);
    }
    slotOf.set(v, slot);
  };
  for (const v of pinned) take(v);
  nodes.forEach((n, i) => {
    if (!pinned.has(n.output)) take(n.output);
    // Release inputs after the output is taken: a kernel may not write the buffer it reads.
    for (const v of new Set(nodeInputs(n))) {
      if (lastUse.get(v) === i && !pinned.has(v)) free.push(slotOf.get(v)!);
    }
    if (!lastUse.has(n.output) && !pinned.has(n.output)) free.push(slotOf.get(n.output)!);
  });
  return { slotOf, slotSizes };
}
