// Convolution and transposed convolution (NCHW, fused bias + residual + activation) as implicit
// GEMMs, the family CPU-emulated adapters run. Two variants share one packed weight layout
// (conv-spec.ts): 'register' (register tiles, no workgroup memory) and 'subgroup' (the same with
// weights shared across lanes by subgroup broadcast; the fastest on CPU-emulated adapters). GPUs
// run the NHWC GEMM family (gemm.ts).
import { GpuError, type Gpu } from '../../gpu/device.js';
import { bindKernel, computePipeline, kernelShader, type PipelineRequest } from '../../gpu/shader.js';
import { uniformStruct } from '../../gpu/uniforms.js';
import { activationId, activationInclude } from '../activation.js';
import { boundDispatch, type BoundDispatch } from '../dispatch.js';
import { gridFor } from '../grid.js';
import { CONV_FIELDS, checkConvBind, checkConvSpec, convFieldValues, convFlops, convGeometry, convLabel, type ConvBindArgs, type ConvSpec } from './conv-spec.js';

export type ConvVariant = 'register' | 'subgroup';

export interface ConvOptions {
  /** Default 'register', which every adapter runs; which variant a model uses is chosen in kernels/variants.ts. */
  variant?: ConvVariant;
  /** Fewer workgroups along x than the device allows, so tiles fold into z sooner (tests use it). */
  gridCap?: number;
}

const convUniforms = uniformStruct('ConvParams', { ...CONV_FIELDS, slope: 'f32' });

// Pixel/phase geometry, identical in every variant.
const geometryInclude = 'kernels/conv2d/conv2d-geometry.wgsl';

// The variants differ only in their main body (and the subgroup one in its WGSL extension).
function convShader(variant: ConvVariant, enables: readonly 'subgroups'[] = []) {
  return kernelShader({
    id: `conv2d-${variant}`,
    source: `kernels/conv2d/conv2d-${variant}.wgsl`,
    includes: [activationInclude, geometryInclude],
    enables,
    uniforms: convUniforms,
    storage: ['read', 'read', 'read', 'read', 'read_write'],
  });
}

const shaders = {
  register: convShader('register'),
  subgroup: convShader('subgroup', ['subgroups']),
};

/** Per-variant tile geometry: output pixels per workgroup and output channels per workgroup. */
interface Tiling {
  constants: Record<string, number>;
  pixelsPerGroup: number;
  channelsPerGroup: number;
}

// Tile choices below were measured on lavapipe (bench/NOTES.md).

function registerTiling(spec: ConvSpec, pixels: number): Tiling {
  const tm4 = spec.outChannels <= 4 ? 1 : 2;
  const wg = pixels >= 256 ? 64 : 8;
  return { constants: { WG: wg, TN: 4, TM4: tm4 }, pixelsPerGroup: wg * 4, channelsPerGroup: 4 * tm4 };
}

function subgroupTiling(spec: ConvSpec, pixels: number): Tiling {
  const tm8 = spec.outChannels <= 8 ? 1 : 2;
  // One subgroup per workgroup; layers with few output pixels (4x4 maps at batch 1) take 2 pixels
  // per lane rather than 8 so that lanes are not left idle.
  const wg = 8;
  const tn = pixels < 64 ? 2 : 8;
  return { constants: { WG: wg, TN: tn, TM8: tm8 }, pixelsPerGroup: wg * tn, channelsPerGroup: 8 * tm8 };
}

function tilingOf(variant: ConvVariant, spec: ConvSpec, pixels: number): Tiling {
  return variant === 'register' ? registerTiling(spec, pixels) : subgroupTiling(spec, pixels);
}

/** The pipeline `variant` runs a layer with when its output has `pixels` pixels (per stride phase). */
export function convPipeline(variant: ConvVariant, spec: ConvSpec, pixels: number): PipelineRequest {
  const constants = { ...tilingOf(variant, spec, pixels).constants, ACTIVATION: activationId(spec.activation), TRANSPOSED: spec.transposed ? 1 : 0, RESIDUAL: spec.residual ? 1 : 0 };
  return { shader: shaders[variant], constants };
}

export class ConvKernel {
  readonly variant: ConvVariant;
  private readonly gridCap: number;

  constructor(
    private readonly gpu: Gpu,
    readonly spec: ConvSpec,
    options: ConvOptions = {},
  ) {
    checkConvSpec(spec);
    this.gridCap = options.gridCap ?? Infinity;
    this.variant = options.variant ?? 'register';
    if (this.variant === 'subgroup' && gpu.subgroupMinSize < 8) {
      throw new GpuError(`conv variant 'subgroup' needs subgroups of at least 8 invocations; this adapter has ${gpu.subgroupMinSize || 'none'}`);
    }
  }

  /** The pipeline a bind of `batch` samples of `inH` x `inW` uses. */
  pipelineAt(batch: number, inH: number, inW: number): PipelineRequest {
    return convPipeline(this.variant, this.spec, convGeometry(this.spec, batch, inH, inW).pixels);
  }

  bind(args: ConvBindArgs): BoundDispatch {
    const { spec, gpu } = this;
    const { batch, inH, inW } = args;
    const label = convLabel('', spec, batch, inH, inW);
    const g = checkConvBind(label, spec, args, { input: 4, output: 4, weight: 4 });
    const tiling = tilingOf(this.variant, spec, g.pixels);
    const request = convPipeline(this.variant, spec, g.pixels);
    const pipeline = computePipeline(gpu, request.shader, request.constants);
    const mBlocks = Math.ceil(spec.outChannels / tiling.channelsPerGroup);
    const grid = gridFor(gpu, label, Math.ceil(g.pixels / tiling.pixelsPerGroup), g.phases * mBlocks, this.gridCap);
    const binding = bindKernel(
      gpu,
      shaders[this.variant],
      label,
      { ...convFieldValues(spec, batch, inH, inW, g, mBlocks, grid.tilesX), slope: spec.leakySlope },
      // Without a residual the binding is never read; the bias buffer stands in (read-only aliasing is allowed).
      [args.input, args.weight, args.bias, args.residual ?? args.bias, args.output],
    );
    return boundDispatch(gpu, label, pipeline, binding, grid.workgroups, convFlops(spec, batch, inH, inW));
  }
}
