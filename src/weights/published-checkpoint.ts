// The published checkpoint layout (what tools/train.py and the model card's training script save):
// {model_state_dict, optimizer_state_dict, epoch, config}, with the optimizer state as
// torch.optim.AdamW.state_dict() holds it, so that PyTorch's reference class and AdamW load it.
import { InternalError } from '../errors.js';
import { OrderedDict, PyFloat, pyTuple, type PickleData } from './pickle-writer.js';
import { TorchTensor } from './torch-save.js';
import type { AdamWHyperParameters } from '../kernels/optim/hyper.js';

export interface AdamWMoments {
  expAvg: Float32Array;
  expAvgSq: Float32Array;
}

export interface PublishedCheckpoint {
  /** The model's state dict in module order, parameters and buffers. */
  stateDict: ReadonlyMap<string, TorchTensor>;
  /** Names of the optimizer's parameters in the order model.parameters() yields them. */
  parameterNames: readonly string[];
  /** Steps taken; 0 writes the empty state of an optimizer that has not stepped. */
  step: number;
  /** Each parameter's first and second moments, shaped as the parameter. */
  moments: ReadonlyMap<string, AdamWMoments>;
  hyper: AdamWHyperParameters;
  epoch: number;
  /** JSON-like data: objects become dicts, integral numbers ints, other numbers floats. */
  config: unknown;
}

/** A JSON-like value as pickle data (dict keys in insertion order). */
export function jsonAsPickle(v: unknown): PickleData {
  if (v === null || typeof v === 'boolean' || typeof v === 'number' || typeof v === 'string') return v;
  if (Array.isArray(v)) return v.map(jsonAsPickle);
  if (typeof v === 'object') return new Map(Object.entries(v as object).map(([k, x]) => [k, jsonAsPickle(x)]));
  throw new TypeError(`config value of type ${typeof v} is not JSON-like`);
}

export function publishedCheckpoint(c: PublishedCheckpoint): Map<PickleData, PickleData> {
  const state = new Map<PickleData, PickleData>();
  if (c.step > 0) {
    c.parameterNames.forEach((name, i) => {
      const param = c.stateDict.get(name);
      const m = c.moments.get(name);
      if (!param || !m) throw new InternalError(`optimizer parameter ${name} has no ${param ? 'moments' : 'tensor in the state dict'}`);
      // torch >= 1.12 keeps the step as a float32 scalar tensor per parameter.
      state.set(i, new Map<PickleData, PickleData>([
        ['step', new TorchTensor([], Float32Array.of(c.step))],
        ['exp_avg', new TorchTensor(param.shape, m.expAvg)],
        ['exp_avg_sq', new TorchTensor(param.shape, m.expAvgSq)],
      ]));
    });
  }
  const group = new Map<PickleData, PickleData>([
    ['lr', new PyFloat(c.hyper.lr)],
    ['betas', pyTuple(new PyFloat(c.hyper.betas[0]), new PyFloat(c.hyper.betas[1]))],
    ['eps', new PyFloat(c.hyper.eps)],
    ['weight_decay', new PyFloat(c.hyper.weightDecay)],
    ['amsgrad', false],
    ['foreach', null],
    ['maximize', false],
    ['capturable', false],
    ['params', c.parameterNames.map((_, i) => i)],
  ]);
  return new Map<PickleData, PickleData>([
    ['model_state_dict', new OrderedDict<PickleData, PickleData>(c.stateDict)],
    ['optimizer_state_dict', new Map<PickleData, PickleData>([['state', state], ['param_groups', [group]]])],
    ['epoch', c.epoch],
    ['config', jsonAsPickle(c.config)],
  ]);
}
