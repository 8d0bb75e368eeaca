// The inference graph every peer builds, taken from the engine's own planner so that no peer can
// disagree with rcae about the layer list: each conv carries its BatchNorm folded in (float64
// arithmetic in foldBatchNorm), weights stay in PyTorch layouts, and peers convert them as needed.
import type { Architecture } from '../../src/graph/architecture.js';
import { foldBatchNorm } from '../../src/graph/fold.js';
import { buildPlan, type ConvNode, type LinearNode, type Plan } from '../../src/graph/plan.js';

export type Params = ReadonlyMap<string, Float32Array>;

export interface FoldedConv {
  node: ConvNode;
  /** [out, in, k, k] for a conv, [in, out, k, k] for a transposed conv (PyTorch layouts). */
  weight: Float32Array;
  weightShape: [number, number, number, number];
  bias: Float32Array;
}

export interface FoldedLinear {
  node: LinearNode;
  /** [out, in], as nn.Linear stores it. */
  weight: Float32Array;
  bias: Float32Array;
}

export type FoldedLayer = FoldedConv | FoldedLinear;

export interface FoldedModel {
  plan: Plan;
  /** In execution order; the plan's MSE node is not a layer. */
  layers: FoldedLayer[];
}

export class MissingParameterError extends Error {
  override name = 'MissingParameterError';
}

function take(params: Params, name: string, size: number, source: string): Float32Array {
  const t = params.get(name);
  if (!t) throw new MissingParameterError(`${source}: missing tensor ${name}`);
  if (t.length !== size) throw new MissingParameterError(`${source}: tensor ${name} has ${t.length} values, expected ${size}`);
  return t;
}

function foldConv(node: ConvNode, params: Params, source: string): FoldedConv {
  const { inChannels: cin, outChannels: cout, kernel: k } = node;
  const weightShape: FoldedConv['weightShape'] = node.transposed ? [cin, cout, k, k] : [cout, cin, k, k];
  const weight = take(params, `${node.name}.weight`, cin * cout * k * k, source);
  const bias = take(params, `${node.name}.bias`, cout, source);
  if (!node.bnParams) return { node, weight, weightShape, bias };
  const bn = {
    weight: take(params, `${node.bnParams}.weight`, cout, source),
    bias: take(params, `${node.bnParams}.bias`, cout, source),
    runningMean: take(params, `${node.bnParams}.running_mean`, cout, source),
    runningVar: take(params, `${node.bnParams}.running_var`, cout, source),
  };
  return { node, weightShape, ...foldBatchNorm(weight, weightShape, bias, bn, node.transposed ? 1 : 0) };
}

/** `source` names where the parameters came from, for error messages. */
export function foldModel(arch: Architecture, params: Params, source: string): FoldedModel {
  const plan = buildPlan(arch);
  const layers: FoldedLayer[] = [];
  for (const node of plan.nodes) {
    if (node.kind === 'conv') layers.push(foldConv(node, params, source));
    else if (node.kind === 'linear') {
      layers.push({
        node,
        weight: take(params, `${node.name}.weight`, node.inFeatures * node.outFeatures, source),
        bias: take(params, `${node.name}.bias`, node.outFeatures, source),
      });
    }
  }
  return { plan, layers };
}

/** True when the layer reads a flat [n, features] value (a Linear's output) rather than an NCHW map. */
export function isFlatValue(model: FoldedModel, value: number): boolean {
  return model.layers.some((l) => l.node.kind === 'linear' && l.node.output === value);
}
