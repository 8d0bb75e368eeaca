// Convolution and transposed convolution as an implicit GEMM over NHWC activations, staged through
// double-buffered workgroup tiles (gemm-tiles.wgsl), with three interchangeable inner products:
// 'fma' (register tiles of f32 FMAs), 'matrix' (subgroup-matrix fragments on tensor cores) and
// 'matrix-emulated' (the same fragments in plain WGSL, so that the tensor-core tiling runs and is
// tested on any adapter). Storage is f32 or f16 (weights and activations), accumulation always f32.
// The first layer may read the NCHW float32 image and the last may write NCHW float32, so the
// model's inputs and outputs keep their layout whatever the kernels use inside. Optional split-K
// spreads K over several workgroups and sums their partial results in a second pass.
//
// Each tile configuration is its own shader: a small generated prelude (element types, tile
// constants) in front of the WGSL files, cached by the configuration's key.
import { GpuError, type FragmentShape, type Gpu } from '../../gpu/device.js';
import { bindKernel, computePipeline, kernelShader, type KernelShader, type PipelineRequest, type WgslExtension } from '../../gpu/shader.js';
import { uniformStruct } from '../../gpu/uniforms.js';
import { activationId, activationInclude } from '../activation.js';
import { dispatchSequence, type BoundDispatch, type DispatchStep } from '../dispatch.js';
import { gridFor } from '../grid.js';
import { CONV_FIELDS, checkConvBind, checkConvSpec, convFieldValues, convFlops, convGeometry, convLabel, type ConvBindArgs, type ConvSpec } from './conv-spec.js';
import { layoutConstants, tileInvocations, tileLayout, tileStorageBytes } from './gemm-layout.js';

export type Precision = 'f32' | 'f16';
export type Layout = 'nchw' | 'nhwc';
export type ElementType = 'f32' | 'f16';
export type GemmBackend = 'fma' | 'matrix' | 'matrix-emulated';

/** How a tensor is stored: its layout and element type. */
export interface TensorFormat {
  layout: Layout;
  type: ElementType;
}

/** A tile configuration: what `rcae tune` searches over and caches. */
export interface GemmTile {
  backend: GemmBackend;
  /** Output pixels and output channels per workgroup, K elements per step. */
  bp: number;
  bc: number;
  bk: number;
  /** fma: pixels x channels per invocation. */
  tp?: number;
  tc?: number;
  /** matrix: subgroups along pixels and channels, fragments per subgroup along each. */
  sgp?: number;
  sgc?: number;
  fm?: number;
  fn?: number;
  /** Workgroups sharing one output tile's K range (1: no split). */
  splitK: number;
}

export type { FragmentShape } from '../../gpu/device.js';

/** The emulation's shape: NVIDIA's 16x16x16 on 32-wide subgroups, the target it stands in for. */
export const EMULATED_FRAGMENT: FragmentShape = { m: 16, n: 16, k: 16, subgroup: 32 };

export interface GemmOptions {
  precision: Precision;
  input: TensorFormat;
  output: TensorFormat;
  /** The tile binds use unless they name one (lowering names one per chunk size). */
  tile?: GemmTile;
  /** Fewer workgroups along x than the device allows (tests use it to fold tiles into z). */
  gridCap?: number;
  /**
   * The subgroup-matrix shape of 'matrix' tiles: default the device's. The compile gate names shapes
   * the device does not report (Dawn's null backend reports none).
   */
  fragment?: FragmentShape;
}

// The convolution fields every conv shader reads, then the GEMM's own.
const gemmFields = {
  ...CONV_FIELDS,
  kSlice: 'u32',
  outTotal: 'u32',
  splitK: 'u32',
  fragK: 'u32',
  activation: 'u32',
  residual: 'u32',
  slope: 'f32',
} as const;
type GemmFields = typeof gemmFields;
const gemmUniforms = uniformStruct('ConvParams', gemmFields);

const here = (file: string) => `kernels/conv2d/${file}`;
const REDUCE_WG = 256;

/**
 * What choosing a tile reads of a device: its limits, features, subgroup sizes and fragment shape.
 * A Gpu is one; the compile gate and the bank model also pass GPU-class devices they do not have.
 */
export type GemmDevice = Pick<Gpu, 'features' | 'fragment' | 'subgroupMinSize' | 'subgroupMaxSize'> & {
  limits: Pick<GPUSupportedLimits, 'maxComputeInvocationsPerWorkgroup' | 'maxComputeWorkgroupStorageSize'>;
};

/** Why `tile` cannot run here, or null. */
export function tileProblem(gpu: GemmDevice, tile: GemmTile, precision: Precision, fragment: FragmentShape): string | null {
  const { bp, bc, bk, splitK } = tile;
  if (![bp, bc, bk, splitK].every((v) => Number.isInteger(v) && v >= 1)) return 'tile sizes must be positive integers';
  if (bk % 4 !== 0 || bc % 4 !== 0) return 'bk and bc must be multiples of 4';
  if (tile.backend === 'fma') {
    if (!tile.tp || !tile.tc || bp % tile.tp !== 0 || bc % tile.tc !== 0) return 'fma tiles need tp | bp and tc | bc';
    if (tile.tp % 4 !== 0 || tile.tc % 4 !== 0) return 'fma tiles need tp and tc multiples of 4 (vec4 reads)';
  } else {
    if (precision !== 'f16') return 'subgroup-matrix tiles need f16 storage';
    const { sgp, sgc, fm, fn } = tile;
    if (!sgp || !sgc || !fm || !fn) return 'matrix tiles need sgp, sgc, fm, fn';
    if (bp !== sgp * fm * fragment.m || bc !== sgc * fn * fragment.n) return `bp must be sgp*fm*${fragment.m} and bc sgc*fn*${fragment.n}`;
    if (bk % fragment.k !== 0) return `bk must be a multiple of ${fragment.k}`;
    if ((fragment.m * fragment.n) % fragment.subgroup !== 0) return 'a fragment must split evenly over the subgroup';
  }
  const invocations = tileInvocations(tile, fragment);
  if (invocations > gpu.limits.maxComputeInvocationsPerWorkgroup) return `${invocations} invocations exceed the adapter's ${gpu.limits.maxComputeInvocationsPerWorkgroup}`;
  const bytes = tileStorageBytes(tile, fragment);
  if (bytes > gpu.limits.maxComputeWorkgroupStorageSize) return `${bytes} bytes of workgroup memory exceed the adapter's ${gpu.limits.maxComputeWorkgroupStorageSize}`;
  if (tile.backend === 'matrix') {
    if (!gpu.features.has('chromium-experimental-subgroup-matrix')) return 'this device has no subgroup matrices';
    if (fragment.subgroup < gpu.subgroupMinSize || fragment.subgroup > gpu.subgroupMaxSize) return `${fragment.subgroup}-wide subgroups are outside this device's ${gpu.subgroupMinSize}..${gpu.subgroupMaxSize}`;
    // WebGPU's rule for subgroup-matrix shaders: every subgroup full, whatever size the device picks.
    if (invocations % gpu.subgroupMaxSize !== 0) return `${invocations} invocations are not a multiple of the adapter's largest subgroup (${gpu.subgroupMaxSize})`;
  }
  return null;
}

/** The tile's shape, what its shader is compiled for (the split-K factor is a uniform). */
function tileShape(tile: GemmTile): string {
  const shape = tile.backend === 'fma' ? `t${tile.tp}x${tile.tc}` : `sg${tile.sgp}x${tile.sgc}f${tile.fm}x${tile.fn}`;
  return `${tile.backend} ${tile.bp}x${tile.bc}x${tile.bk} ${shape}`;
}

export function tileKey(tile: GemmTile): string {
  return `${tileShape(tile)} k${tile.splitK}`;
}

interface ShaderKey {
  precision: Precision;
  input: TensorFormat;
  output: TensorFormat;
  vec4: boolean;
  tile: GemmTile;
  fragment: FragmentShape;
}

function prelude(k: ShaderKey, forReduce: boolean): string {
  const out = k.output.type;
  const lines = [`alias OutT = ${out};`, `alias OutStore = ${k.tile.splitK > 1 && !forReduce ? 'f32' : out};`, `const SPLIT = ${k.tile.splitK > 1};`, `const OUT_NCHW = ${k.output.layout === 'nchw'};`];
  if (!forReduce) {
    const t = k.tile;
    const layout = tileLayout(t, k.fragment);
    lines.push(`alias CT = ${k.precision};`, `alias TT = ${layout.element === 2 ? 'f16' : 'f32'};`, `alias InElem = ${k.vec4 ? `vec4<${k.input.type}>` : k.input.type};`, `const IN_NCHW = ${k.input.layout === 'nchw'};`);
    lines.push(`const BP = ${t.bp}u;`, `const BC = ${t.bc}u;`, `const BK = ${t.bk}u;`, `const WG = ${tileInvocations(t, k.fragment)}u;`, ...layoutConstants(layout));
    if (t.backend === 'fma') lines.push(`const TP = ${t.tp}u;`, `const TC = ${t.tc}u;`);
    else {
      const f = k.fragment;
      lines.push(`const SG = ${f.subgroup}u;`, `const SGP = ${t.sgp}u;`, `const SGC = ${t.sgc}u;`, `const FM = ${t.fm}u;`, `const FN = ${t.fn}u;`);
      lines.push(`const FRAG_M = ${f.m}u;`, `const FRAG_N = ${f.n}u;`, `const FRAG_K = ${f.k}u;`);
    }
  }
  return lines.join('\n') + '\n';
}

const cache = new Map<string, KernelShader<GemmFields>>();

function enables(k: ShaderKey): WgslExtension[] {
  const list: WgslExtension[] = [];
  if ([k.precision, k.input.type, k.output.type].includes('f16')) list.push('f16');
  if (k.tile.backend === 'matrix') list.push('subgroups', 'chromium_experimental_subgroup_matrix');
  return list;
}

function gemmShader(k: ShaderKey): KernelShader<GemmFields> {
  const id = `conv2d-gemm ${k.precision} ${k.input.layout}-${k.input.type}${k.vec4 ? 'x4' : ''} ${k.output.layout}-${k.output.type} ${tileShape(k.tile)}${k.tile.splitK > 1 ? ' split' : ''} frag${k.fragment.m}x${k.fragment.n}x${k.fragment.k}/${k.fragment.subgroup}`;
  let shader = cache.get(id);
  if (!shader) {
    const backend = k.tile.backend;
    const includes = [activationInclude, here('conv2d-geometry.wgsl'), here('gemm-epilogue.wgsl'), here('gemm-tiles.wgsl'), here(k.vec4 ? 'gemm-load-vec4.wgsl' : 'gemm-load-scalar.wgsl')];
    if (backend !== 'fma') includes.push(here(backend === 'matrix' ? 'gemm-frag-builtin.wgsl' : 'gemm-frag-emulated.wgsl'));
    shader = kernelShader({
      id,
      source: here(backend === 'fma' ? 'conv2d-gemm-fma.wgsl' : 'conv2d-gemm-matrix.wgsl'),
      includes,
      prelude: prelude(k, false),
      enables: enables(k),
      uniforms: gemmUniforms,
      storage: ['read', 'read', 'read', 'read', 'read_write'],
    });
    cache.set(id, shader);
  }
  return shader;
}

function reduceShader(k: ShaderKey): KernelShader<GemmFields> {
  const id = `conv2d-gemm-reduce ${k.output.layout}-${k.output.type}`;
  let shader = cache.get(id);
  if (!shader) {
    shader = kernelShader({
      id,
      source: here('conv2d-gemm-reduce.wgsl'),
      includes: [activationInclude, here('gemm-epilogue.wgsl')],
      prelude: prelude(k, true),
      enables: k.output.type === 'f16' ? ['f16'] : [],
      uniforms: gemmUniforms,
      storage: ['read', 'read', 'read', 'read_write'],
    });
    cache.set(id, shader);
  }
  return shader;
}

/**
 * The pipelines a layer runs with `tile`: the GEMM, and under split-K the reduction. Whether the
 * input loads vec4 follows from the layer and the tile, so one layer and tile always compile alike.
 */
export function gemmPipelines(spec: ConvSpec, options: GemmOptions, tile: GemmTile, fragment: FragmentShape): PipelineRequest<GemmFields>[] {
  const vec4 = options.input.layout === 'nhwc' && spec.inChannels % tile.bk === 0;
  const key: ShaderKey = { precision: options.precision, input: options.input, output: options.output, vec4, tile, fragment };
  const main = { shader: gemmShader(key), constants: { TRANSPOSED: spec.transposed ? 1 : 0 } };
  return tile.splitK === 1 ? [main] : [main, { shader: reduceShader(key), constants: { WG: REDUCE_WG } }];
}

/** The fragment shape of `backend`'s tiles: 'matrix' the given or the device's; the emulation always its own. */
export function fragmentOf(gpu: GemmDevice, backend: GemmBackend, given?: FragmentShape): FragmentShape {
  return backend === 'matrix' ? given ?? gpu.fragment ?? EMULATED_FRAGMENT : EMULATED_FRAGMENT;
}

/** Workgroups that keep a large GPU busy (an H100 has 132 SMs, several workgroups each). */
const BUSY_WORKGROUPS = 256;

function splitFor(workgroups: number, kTotal: number, bk: number): number {
  if (workgroups >= BUSY_WORKGROUPS / 2) return 1;
  const bySteps = Math.floor(kTotal / (8 * bk));
  return Math.max(1, Math.min(8, bySteps, Math.ceil(BUSY_WORKGROUPS / workgroups)));
}

/**
 * The built-in tile of `backend` when no tuned entry exists: 128x128 (or 128x64 for <= 64 channels) FMA tiles with 8x8 (8x4) per invocation
 * otherwise, a narrow 256x4 tile for layers of <= 4 output channels (the RGB output), split-K where
 * the output alone cannot fill the GPU, and the deepest K step that fits the workgroup memory.
 */
export function gemmHeuristic(gpu: GemmDevice, spec: ConvSpec, batch: number, inH: number, inW: number, precision: Precision, backend: GemmBackend, fragment = fragmentOf(gpu, backend)): GemmTile {
  const { pixels, kTotal, phases } = convGeometry(spec, batch, inH, inW);
  const candidates: GemmTile[] = [];
  if (backend !== 'fma' && spec.outChannels > 4) {
    const wide = spec.outChannels > 32;
    for (const bk of [32, 16]) candidates.push({ backend, bp: 2 * 2 * fragment.m, bc: (wide ? 2 : 1) * 2 * fragment.n, bk, sgp: 2, sgc: wide ? 2 : 1, fm: 2, fn: 2, splitK: 1 });
  } else if (spec.outChannels <= 4) {
    for (const bk of [16, 8]) candidates.push({ backend: 'fma', bp: 256, bc: 4, bk, tp: 4, tc: 4, splitK: 1 });
  } else {
    const bc = spec.outChannels > 64 ? 128 : 64;
    for (const bk of [32, 16, 8]) candidates.push({ backend: 'fma', bp: 128, bc, bk, tp: 8, tc: bc / 16, splitK: 1 });
  }
  // Prefer a K step that divides the channel count (the vec4 loader needs it), then the deepest.
  const fits = candidates.filter((t) => tileProblem(gpu, t, precision, fragment) === null);
  if (fits.length === 0) throw new GpuError(`no GEMM tile fits this adapter for conv ${spec.inChannels}->${spec.outChannels}`);
  const tile = fits.find((t) => spec.inChannels % t.bk === 0) ?? fits[0];
  const workgroups = Math.ceil(pixels / tile.bp) * phases * Math.ceil(spec.outChannels / tile.bc);
  return { ...tile, splitK: splitFor(workgroups, kTotal, tile.bk) };
}

export class GemmConvKernel {
  constructor(
    private readonly gpu: Gpu,
    readonly spec: ConvSpec,
    readonly options: GemmOptions,
  ) {
    checkConvSpec(spec);
    if (options.precision === 'f16' || [options.input.type, options.output.type].includes('f16')) {
      if (!gpu.features.has('shader-f16')) throw new GpuError("f16 storage needs the adapter's shader-f16 feature, which this device lacks");
    }
  }

  /** The tile a bind runs with: the one it names, else the options'. */
  private tileOf(tile: GemmTile | undefined, label: string): GemmTile {
    const chosen = tile ?? this.options.tile;
    if (!chosen) throw new GpuError(`${label}: no GEMM tile given`);
    return chosen;
  }

  /** The pipelines a bind of `batch` samples of `inH` x `inW` with `tile` uses. */
  pipelinesAt(batch: number, inH: number, inW: number, tile?: GemmTile): PipelineRequest<GemmFields>[] {
    const chosen = this.tileOf(tile, convLabel('gemm ', this.spec, batch, inH, inW));
    return gemmPipelines(this.spec, this.options, chosen, fragmentOf(this.gpu, chosen.backend, this.options.fragment));
  }

  bind(args: ConvBindArgs & { tile?: GemmTile }): BoundDispatch {
    const { spec, gpu, options } = this;
    const { batch, inH, inW } = args;
    const label = convLabel('gemm ', spec, batch, inH, inW);
    const bytes = (f: TensorFormat) => (f.type === 'f16' ? 2 : 4);
    const shape = checkConvBind(label, spec, args, { input: bytes(options.input), output: bytes(options.output), weight: options.precision === 'f16' ? 2 : 4 });
    const tile = this.tileOf(args.tile, label);
    const fragment = fragmentOf(gpu, tile.backend, options.fragment);
    const problem = tileProblem(gpu, tile, options.precision, fragment);
    if (problem) throw new GpuError(`${label}: tile ${tileKey(tile)}: ${problem}`);
    const outTotal = batch * spec.outChannels * shape.outH * shape.outW;
    if (outTotal * tile.splitK > 0xffffffff) throw new GpuError(`${label}: split-K partials exceed a u32 index range`);

    const mBlocks = Math.ceil(spec.outChannels / tile.bc);
    const kSlice = Math.ceil(shape.kTotal / tile.splitK / tile.bk) * tile.bk;
    const grid = gridFor(gpu, label, Math.ceil(shape.pixels / tile.bp), shape.phases * mBlocks * tile.splitK, options.gridCap);
    const values = {
      ...convFieldValues(spec, batch, inH, inW, shape, mBlocks, grid.tilesX),
      kSlice,
      outTotal,
      splitK: tile.splitK,
      fragK: fragment.k,
      activation: activationId(spec.activation),
      residual: spec.residual ? 1 : 0,
      slope: spec.leakySlope,
    };
    const flops = convFlops(spec, batch, inH, inW);
    // Without a residual the binding is never read; the bias buffer stands in (read-only aliasing is allowed).
    const residual = args.residual ?? args.bias;
    const [main, reduce] = gemmPipelines(spec, options, tile, fragment);
    const pipeline = computePipeline(gpu, main.shader, main.constants);
    if (!reduce) {
      const binding = bindKernel(gpu, main.shader, label, values, [args.input, args.weight, args.bias, residual, args.output]);
      return dispatchSequence(gpu, label, [{ pipeline, binding, workgroups: grid.workgroups }], flops);
    }
    const partial = gpu.createBuffer(outTotal * tile.splitK * 4, 'storage', `${label} split-K partials`);
    const steps: DispatchStep[] = [{ pipeline, binding: bindKernel(gpu, main.shader, label, values, [args.input, args.weight, args.bias, residual, partial]), workgroups: grid.workgroups }];
    const reduceGrid = gridFor(gpu, `${label} reduce`, Math.ceil(outTotal / REDUCE_WG), 1, options.gridCap);
    steps.push({
      pipeline: computePipeline(gpu, reduce.shader, reduce.constants),
      binding: bindKernel(gpu, reduce.shader, `${label} reduce`, { ...values, tilesX: reduceGrid.tilesX }, [partial, args.bias, residual, args.output]),
      workgroups: reduceGrid.workgroups,
    });
    return dispatchSequence(gpu, label, steps, flops, [partial]);
  }
}
