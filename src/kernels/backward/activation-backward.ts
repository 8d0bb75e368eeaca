// Activation backward over a flat f32 buffer: the gradient through relu, leaky_relu or tanh from
// the upstream gradient and what the forward pass kept (see activation-backward.wgsl). One pipeline
// per activation, chosen by its ACTIVATION override.
import { GpuError, type Gpu } from '../../gpu/device.js';
import { bindKernel, computePipeline, kernelShader, type PipelineRequest } from '../../gpu/shader.js';
import { uniformStruct } from '../../gpu/uniforms.js';
import { activationId, type Activation } from '../activation.js';
import { boundDispatch, type BoundDispatch } from '../dispatch.js';
import { flatGrid, WG } from './flat.js';

const shader = kernelShader({
  id: 'activation-backward',
  source: 'kernels/backward/activation-backward.wgsl',
  uniforms: uniformStruct('ActivationBackwardParams', { count: 'u32', tilesX: 'u32', slope: 'f32' }),
  storage: ['read', 'read', 'read_write'],
});

/** The activations with a backward kernel ('none' needs none: its gradient is the upstream one). */
export type BackwardActivation = Exclude<Activation, 'none'>;

export const BACKWARD_ACTIVATIONS: readonly BackwardActivation[] = ['relu', 'leaky_relu', 'tanh'];

export function activationBackwardPipeline(activation: BackwardActivation): PipelineRequest {
  if (!BACKWARD_ACTIVATIONS.includes(activation)) throw new GpuError(`activation-backward: no backward kernel for activation "${String(activation)}"`);
  return { shader, constants: { WG, ACTIVATION: activationId(activation) } };
}

export interface ActivationBackwardArgs {
  count: number;
  /** The upstream gradient. */
  dy: GPUBuffer;
  /** The forward's input (relu, leaky_relu) or output (tanh). */
  saved: GPUBuffer;
  /** The gradient written; a buffer of its own. */
  dx: GPUBuffer;
  /** leaky_relu's negative slope (ignored otherwise). */
  slope?: number;
}

export class ActivationBackwardKernel {
  private readonly pipeline: GPUComputePipeline;

  constructor(private readonly gpu: Gpu, readonly activation: BackwardActivation) {
    const request = activationBackwardPipeline(activation);
    this.pipeline = computePipeline(gpu, request.shader, request.constants);
  }

  bind(args: ActivationBackwardArgs): BoundDispatch {
    const { count } = args;
    const label = `${this.activation}-backward x${count}`;
    const slope = args.slope ?? 0;
    if (!Number.isFinite(slope)) throw new GpuError(`${label}: slope ${slope} is not finite`);
    const grid = flatGrid(this.gpu, label, count, [['dy', args.dy], ['saved', args.saved], ['dx', args.dx]]);
    const binding = bindKernel(this.gpu, shader, label, { count, tilesX: grid.tilesX, slope }, [args.dy, args.saved, args.dx]);
    // relu selects; leaky_relu multiplies; tanh multiplies twice and subtracts.
    const perElement = { relu: 0, leaky_relu: 1, tanh: 3 }[this.activation];
    return boundDispatch(this.gpu, label, this.pipeline, binding, grid.workgroups, perElement * count);
  }
}
