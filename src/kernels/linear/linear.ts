// Fully connected layer y = act(x W^T + b) on [batch, features] rows (PyTorch weight [out, in]).
import type { Gpu } from '../../gpu/device.js';
import { bindKernel, computePipeline, kernelShader, type PipelineRequest } from '../../gpu/shader.js';
import { uniformStruct } from '../../gpu/uniforms.js';
import type { Activation } from '../activation.js';
import { activationId, activationInclude } from '../activation.js';
import { packConvWeights, packedOutputChannels } from '../conv2d/conv-spec.js';
import { boundDispatch, requireBufferSizes, type BoundDispatch } from '../dispatch.js';
import { gridFor } from '../grid.js';
import { RcaeError } from '../../errors.js';

export interface LinearSpec {
  inFeatures: number;
  outFeatures: number;
  activation: Activation;
  leakySlope: number;
}

export interface LinearBindArgs {
  batch: number;
  input: GPUBuffer;
  output: GPUBuffer;
  weight: GPUBuffer;
  bias: GPUBuffer;
}

/**
 * 'narrow': 8-lane workgroups, 16 features per lane (enough workgroups for a CPU's threads, few
 * loads); 'wide': 64-lane workgroups, 4 features per lane (many lanes for a GPU).
 */
export type LinearShape = 'narrow' | 'wide';

export interface LinearOptions {
  /** Default 'narrow'; a model's shape is chosen in kernels/variants.ts (linearShapeFor). */
  shape?: LinearShape;
}

export class LinearSpecError extends RcaeError {
  readonly kind = 'internal';
}

const linearUniforms = uniformStruct('LinearParams', {
  batch: 'u32',
  inFeatures: 'u32',
  outFeatures: 'u32',
  outPadded: 'u32',
  tilesX: 'u32',
  slope: 'f32',
});

const shader = kernelShader({
  id: 'linear',
  source: 'kernels/linear/linear.wgsl',
  includes: [activationInclude],
  uniforms: linearUniforms,
  storage: ['read', 'read', 'read', 'read_write'],
});

function checkSpec(spec: LinearSpec): void {
  for (const [name, v] of Object.entries({ inFeatures: spec.inFeatures, outFeatures: spec.outFeatures })) {
    if (!Number.isInteger(v) || v < 1) throw new LinearSpecError(`linear spec: ${name} must be a positive integer, got ${v}`);
  }
  if (!Number.isFinite(spec.leakySlope)) throw new LinearSpecError(`linear spec: leakySlope must be finite, got ${spec.leakySlope}`);
  activationId(spec.activation);
}

/**
 * PyTorch weight [out, in] and bias [out] -> [in][out padded to 16], the layout of a 1x1
 * convolution's packed weights (so one packing routine serves both).
 */
export function packLinearWeights(spec: LinearSpec, weight: Float32Array, bias: Float32Array): { weight: Float32Array; bias: Float32Array } {
  checkSpec(spec);
  if (weight.length !== spec.inFeatures * spec.outFeatures) {
    throw new LinearSpecError(`linear weight has ${weight.length} values, expected [${spec.outFeatures}, ${spec.inFeatures}]`);
  }
  if (bias.length !== spec.outFeatures) throw new LinearSpecError(`linear bias has ${bias.length} values, expected ${spec.outFeatures}`);
  const asConv = { inChannels: spec.inFeatures, outChannels: spec.outFeatures, kernel: 1, stride: 1, padding: 0, transposed: false, activation: spec.activation, leakySlope: spec.leakySlope, residual: false };
  return packConvWeights(asConv, weight, bias);
}

type LinearGeometry = { WG: number; TO: number };
const geometries: Record<LinearShape, LinearGeometry> = { narrow: { WG: 8, TO: 4 }, wide: { WG: 64, TO: 1 } };

/** The pipeline a layer of `spec` runs with in `geometry` at `batch` samples. */
export function linearPipeline(spec: LinearSpec, geometry: LinearGeometry, batch: number): PipelineRequest {
  // Samples per weight load: one for a single sample (no redundant input reads), else four.
  return { shader, constants: { ...geometry, TB: batch === 1 ? 1 : 4, ACTIVATION: activationId(spec.activation) } };
}

/** Every geometry a linear kernel may take (for the compile gate). */
export const LINEAR_GEOMETRIES: readonly LinearGeometry[] = Object.values(geometries);

export class LinearKernel {
  private readonly geometry: LinearGeometry;

  constructor(
    private readonly gpu: Gpu,
    readonly spec: LinearSpec,
    options: LinearOptions = {},
  ) {
    checkSpec(spec);
    this.geometry = geometries[options.shape ?? 'narrow'];
  }

  /** The pipeline a bind of `batch` samples uses. */
  pipelineAt(batch: number): PipelineRequest {
    return linearPipeline(this.spec, this.geometry, batch);
  }

  bind(args: LinearBindArgs): BoundDispatch {
    const { gpu, spec, geometry } = this;
    const { batch } = args;
    const label = `linear ${spec.inFeatures}->${spec.outFeatures} x${batch}`;
    if (!Number.isInteger(batch) || batch < 1) throw new LinearSpecError(`${label}: batch must be a positive integer`);
    const outPadded = packedOutputChannels(spec.outFeatures);
    requireBufferSizes(label, [
      ['input', args.input, batch * spec.inFeatures],
      ['output', args.output, batch * spec.outFeatures],
      ['weight', args.weight, spec.inFeatures * outPadded],
      ['bias', args.bias, outPadded],
    ]);
    if ([args.input, args.weight, args.bias].includes(args.output)) throw new LinearSpecError(`${label}: the output buffer must not also be an input`);
    const request = this.pipelineAt(batch);
    const pipeline = computePipeline(gpu, request.shader, request.constants);
    const tb = request.constants.TB;
    const grid = gridFor(gpu, label, Math.ceil(spec.outFeatures / (geometry.WG * geometry.TO * 4)), Math.ceil(batch / tb));
    const binding = bindKernel(
      gpu,
      shader,
      label,
      { batch, inFeatures: spec.inFeatures, outFeatures: spec.outFeatures, outPadded, tilesX: grid.tilesX, slope: spec.leakySlope },
      [args.input, args.weight, args.bias, args.output],
    );
    return boundDispatch(gpu, label, pipeline, binding, grid.workgroups, 2 * batch * spec.inFeatures * spec.outFeatures);
  }
}
