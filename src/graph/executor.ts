// Runs a Plan on the GPU: uploads packed weights once, binds every node's kernel to liveness-planned
// activation buffers per chunk size, and records one command buffer per chunk of the batch.
//
// Two kernel families (kernels/variants.ts). The NCHW one keeps every tensor float32 NCHW. The GEMM
// one keeps the tensors between layers NHWC in the storage precision (f32 or f16) and runs the
// linear layers as 1x1 convolutions, their weights permuted so that flattening stays free; the
// graph's inputs and outputs (image, latent, reconstruction, error) are float32 NCHW in both, so the
// precision never shows outside.

import { GpuError, type Gpu } from '../gpu/device.js';
import { compilePipeline, pipelineKey, type PipelineRequest } from '../gpu/shader.js';
import { toFloat16 } from '../gpu/f16.js';
import { PassTimestamps } from '../gpu/timestamps.js';
import { ConvKernel, packConvWeights, type ConvSpec } from '../kernels/conv2d/conv2d.js';
import { GemmConvKernel, gemmHeuristic, tileKey, type GemmTile, type Precision, type TensorFormat } from '../kernels/conv2d/gemm.js';
import type { BoundDispatch } from '../kernels/dispatch.js';
import { LinearKernel, packLinearWeights, type LinearSpec } from '../kernels/linear/linear.js';
import { MseKernel } from '../kernels/mse/mse.js';
import { HfKernel } from '../kernels/stats/hf.js';
import { SsimKernel } from '../kernels/stats/ssim.js';
import { type KernelVariant, defaultVariant, gemmBackendOf, isGemmVariant, nchwVariantOf, variantProblem } from '../kernels/variants.js';
import { type Chunking, activationFootprint, chunkingFor, valueBytes } from './chunking.js';
import { foldBatchNorm } from './fold.js';
import { type LinearNode, type Node, type ParamStore, type Plan, type Statistic, type StatNode, type Value, assignSlots, planFlops, valueSize } from './plan.js';

export type { ParamStore };

/** What a run can return: the latent, the reconstruction, and the per-sample statistics, each under its own name. */
export type Endpoint = 'latent' | 'reconstruction' | Statistic;

export interface RunRequest {
  /** What `input` holds: images [n, C, H, W] or latents [n, latentDim]. */
  from: 'image' | 'latent';
  want: readonly Endpoint[];
}

export type RunResult = Partial<Record<Endpoint, Float32Array>>;

interface NodeResources {
  node: Node;
  weight?: GPUBuffer;
  bias?: GPUBuffer;
  conv?: ConvKernel;
  gemm?: GemmConvKernel;
  linear?: LinearKernel;
  stat?: MseKernel | HfKernel | SsimKernel;
}

/** Where a layer's GEMM tile came from. */
export type TileSource = 'tuned' | 'heuristic';

/**
 * Tuned GEMM tiles: given a layer's key (layerKey) and batch, the tile to use, or undefined for the
 * built-in heuristic. Filled from `rcae tune`'s cache by the model layer.
 */
export type TileTable = (layer: string, batch: number) => GemmTile | undefined;

/** The spec of a node as a convolution (a linear layer is a 1x1 convolution on a 1x1 image). */
export function convSpecOf(plan: Plan, node: Exclude<Node, { kind: 'stat' }>): { spec: ConvSpec; inH: number; inW: number } {
  const slope = plan.arch.leakySlope;
  if (node.kind === 'linear') {
    return { spec: { inChannels: node.inFeatures, outChannels: node.outFeatures, kernel: 1, stride: 1, padding: 0, transposed: false, activation: node.activation, leakySlope: slope, residual: false }, inH: 1, inW: 1 };
  }
  const [, inH, inW] = plan.values[node.input].shape;
  const spec = { inChannels: node.inChannels, outChannels: node.outChannels, kernel: node.kernel, stride: node.stride, padding: node.padding, transposed: node.transposed, activation: node.activation, leakySlope: slope, residual: node.residual !== undefined };
  return { spec, inH, inW };
}

/** Storage of a value under the GEMM family: the graph's endpoints f32 NCHW, the rest NHWC in `precision`. */
export function valueFormat(plan: Plan, v: number, precision: Precision): TensorFormat {
  const { io } = plan;
  if (v === io.image || v === io.reconstruction || v === io.latent) return { layout: 'nchw', type: 'f32' };
  return { layout: 'nhwc', type: precision };
}

/** The key under which a layer's tuned tile is stored: its GEMM-relevant shape. */
export function layerKey(spec: ConvSpec, inH: number, inW: number): string {
  return `${spec.transposed ? 'convT' : 'conv'} ${spec.inChannels}->${spec.outChannels} k${spec.kernel}s${spec.stride}p${spec.padding} ${inH}x${inW}${spec.residual ? ' +res' : ''}`;
}

/** NHWC -> NCHW order of a [c, h, w] map flattened: index in NCHW of the NHWC element i. */
function nchwIndexOfNhwc(i: number, [c, h, w]: readonly number[]): number {
  const ch = i % c;
  const pixel = Math.floor(i / c);
  return ch * h * w + pixel;
}

/**
 * A linear layer's PyTorch weight [out, in] with its inputs and/or outputs renumbered from NCHW
 * flattening (what PyTorch's flatten/view gives) to NHWC flattening (what the GEMM kernels store).
 */
function permuteLinear(weight: Float32Array, bias: Float32Array, node: LinearNode, inMap: readonly number[] | null, outMap: readonly number[] | null): { weight: Float32Array; bias: Float32Array } {
  const { inFeatures: fin, outFeatures: fout } = node;
  const w = new Float32Array(weight.length);
  const b = new Float32Array(bias.length);
  for (let o = 0; o < fout; o++) {
    const so = outMap ? nchwIndexOfNhwc(o, outMap) : o;
    b[o] = bias[so];
    for (let i = 0; i < fin; i++) w[o * fin + i] = weight[so * fin + (inMap ? nchwIndexOfNhwc(i, inMap) : i)];
  }
  return { weight: w, bias: b };
}

interface Bound {
  chunk: number;
  buffers: Map<number, GPUBuffer>;
  dispatches: BoundDispatch[];
  destroy(): void;
}

export interface ExecutorOptions {
  /**
   * Samples per command buffer, in place of the activation budget (activationBudget); the adapter's
   * storage-binding limit still caps it. Default: what the budget and that limit allow.
   */
  maxChunk?: number;
  /** Called after each chunk with the number of samples done so far. */
  onProgress?: (done: number, total: number) => void;
  /** Storage precision of weights and activations (accumulation is f32 either way). Default f32. */
  precision?: Precision;
  /** Force a kernel variant (tests, RCAE_CONV_VARIANT); default: defaultVariant() for the device. */
  variant?: KernelVariant;
  /** Tuned GEMM tiles; layers without an entry use the heuristic. */
  tiles?: TileTable;
}

function required(params: ParamStore, name: string): Float32Array {
  const t = params.get(name);
  if (!t) throw new Error(`missing parameter ${name}`);
  return t;
}

export class Executor {
  private readonly resources: Map<Node, NodeResources>;
  private readonly bound = new Map<string, Bound>();
  readonly maxChunk: number;
  /** Why maxChunk is what it is. */
  readonly chunking: Chunking;
  readonly precision: Precision;
  readonly variant: KernelVariant;
  /** Bytes per sample of each value (f16 tensors between GEMM layers take 2 per element). */
  private readonly valueBytes: (v: Value) => number;

  constructor(
    private readonly gpu: Gpu,
    readonly plan: Plan,
    params: ParamStore,
    private readonly options: ExecutorOptions = {},
  ) {
    this.precision = options.precision ?? 'f32';
    this.variant = options.variant ?? defaultVariant(gpu, this.precision);
    const problem = variantProblem(gpu, this.variant, this.precision);
    if (problem) throw new GpuError(`${gpu.adapter.description || gpu.adapter.device}: ${problem}`);
    this.valueBytes = valueBytes(plan, this.precision);
    this.resources = new Map(plan.nodes.map((node) => [node, this.prepare(node, params)]));
    this.chunking = chunkingFor(gpu, activationFootprint(plan, this.precision), options.maxChunk);
    this.maxChunk = this.chunking.maxChunk;
  }

  private format(v: number): TensorFormat {
    return valueFormat(this.plan, v, this.precision);
  }

  private uploadWeights(packed: { weight: Float32Array; bias: Float32Array }, name: string): { weight: GPUBuffer; bias: GPUBuffer } {
    const weight = this.precision === 'f16' ? this.gpu.upload(toFloat16(packed.weight), `${name}.weight`) : this.gpu.upload(packed.weight, `${name}.weight`);
    return { weight, bias: this.gpu.upload(packed.bias, `${name}.bias`) };
  }

  private prepare(node: Node, params: ParamStore): NodeResources {
    const { arch } = this.plan;
    if (node.kind === 'stat') return { node, stat: this.statKernel(node) };
    if (node.kind === 'linear' && isGemmVariant(this.variant)) {
      // Flattening a [C, H, W] map is free in NCHW; the GEMM family stores maps NHWC, so the
      // weights take the renumbering instead.
      const { values, io } = this.plan;
      const inMap = node.input === io.latent ? null : values[node.input].shape;
      const outMap = node.output === io.latent ? null : values[node.output].shape;
      const permuted = permuteLinear(required(params, `${node.name}.weight`), required(params, `${node.name}.bias`), node, inMap, outMap);
      const { spec } = convSpecOf(this.plan, node);
      const packed = packConvWeights(spec, permuted.weight, permuted.bias);
      return { node, gemm: this.gemmKernel(spec, node), ...this.uploadWeights(packed, node.name) };
    }
    if (node.kind === 'linear') {
      const spec: LinearSpec = { inFeatures: node.inFeatures, outFeatures: node.outFeatures, activation: node.activation, leakySlope: arch.leakySlope };
      const packed = packLinearWeights(spec, required(params, `${node.name}.weight`), required(params, `${node.name}.bias`));
      return { node, linear: new LinearKernel(this.gpu, spec), weight: this.gpu.upload(packed.weight, `${node.name}.weight`), bias: this.gpu.upload(packed.bias, `${node.name}.bias`) };
    }
    const spec: ConvSpec = {
      inChannels: node.inChannels,
      outChannels: node.outChannels,
      kernel: node.kernel,
      stride: node.stride,
      padding: node.padding,
      transposed: node.transposed,
      activation: node.activation,
      leakySlope: arch.leakySlope,
      residual: node.residual !== undefined,
    };
    let weight = required(params, `${node.name}.weight`);
    let bias = required(params, `${node.name}.bias`);
    if (node.bnParams) {
      const bn = node.bnParams;
      const shape = node.transposed ? [node.inChannels, node.outChannels, node.kernel, node.kernel] : [node.outChannels, node.inChannels, node.kernel, node.kernel];
      ({ weight, bias } = foldBatchNorm(weight, shape, bias, {
        weight: required(params, `${bn}.weight`),
        bias: required(params, `${bn}.bias`),
        runningMean: required(params, `${bn}.running_mean`),
        runningVar: required(params, `${bn}.running_var`),
      }, node.transposed ? 1 : 0));
    }
    const packed = packConvWeights(spec, weight, bias);
    const nchw = nchwVariantOf(this.variant);
    if (nchw) return { node, conv: new ConvKernel(this.gpu, spec, { variant: nchw }), ...this.uploadWeights(packed, node.name) };
    return { node, gemm: this.gemmKernel(spec, node), ...this.uploadWeights(packed, node.name) };
  }

  private statKernel(node: StatNode): MseKernel | HfKernel | SsimKernel {
    if (node.stat === 'mse') return new MseKernel(this.gpu);
    return node.stat === 'hf' ? new HfKernel(this.gpu) : new SsimKernel(this.gpu);
  }

  private gemmKernel(spec: ConvSpec, node: Exclude<Node, { kind: 'stat' }>): GemmConvKernel {
    return new GemmConvKernel(this.gpu, spec, { precision: this.precision, input: this.format(node.input), output: this.format(node.output) });
  }

  /** The tile a GEMM layer runs with at `chunk` samples, and where it came from. */
  tileOf(node: Node, chunk: number): { tile: GemmTile; source: TileSource } | undefined {
    if (node.kind === 'stat' || !isGemmVariant(this.variant)) return undefined;
    const { spec, inH, inW } = convSpecOf(this.plan, node);
    const tuned = this.options.tiles?.(layerKey(spec, inH, inW), chunk);
    if (tuned && tuned.backend === gemmBackendOf(this.variant)) return { tile: tuned, source: 'tuned' };
    return { tile: gemmHeuristic(this.gpu, spec, chunk, inH, inW, this.precision, gemmBackendOf(this.variant)), source: 'heuristic' };
  }

  /** A GEMM layer's kernel at `chunk` samples: the tile is chosen per chunk. */
  private gemmAt(node: Node, gemm: GemmConvKernel, chunk: number): GemmConvKernel {
    return new GemmConvKernel(this.gpu, gemm.spec, { ...gemm.options, tile: this.tileOf(node, chunk)!.tile });
  }

  /** Every pipeline a run of `chunk` samples binds, whatever it asks for. */
  private pipelinesAt(chunk: number): PipelineRequest[] {
    return [...this.resources].flatMap(([node, r]): PipelineRequest[] => {
      if (node.kind === 'stat') return [r.stat!.pipelineRequest];
      const { inH, inW } = convSpecOf(this.plan, node);
      if (r.gemm) return this.gemmAt(node, r.gemm, chunk).pipelinesAt(chunk, inH, inW);
      return [r.linear ? r.linear.pipelineAt(chunk) : r.conv!.pipelineAt(chunk, inH, inW)];
    });
  }

  /**
   * Compiles, in parallel, every pipeline a run may bind: at one sample and at a full chunk, the
   * two ends between which tiles and tilings change. Rejects with the first compiler or validation
   * message, so that a model can fall back before it runs anything; runs later reuse the pipelines.
   */
  async compile(): Promise<void> {
    const requests = new Map<string, PipelineRequest>();
    for (const chunk of new Set([1, this.maxChunk])) {
      for (const r of this.pipelinesAt(chunk)) requests.set(pipelineKey(r.shader, r.constants), r);
    }
    await Promise.all([...requests.values()].map((r) => compilePipeline(this.gpu, r)));
  }

  private segment(request: RunRequest): Node[] {
    const { nodes, decodeStart, statsStart } = this.plan;
    if (request.from === 'latent') {
      if (request.want.some((e) => e !== 'reconstruction')) throw new Error('from latents only the reconstruction can be computed');
      return nodes.slice(decodeStart, statsStart);
    }
    const needsDecoder = request.want.some((e) => e !== 'latent');
    if (!needsDecoder) return nodes.slice(0, decodeStart);
    // The statistics asked for run after the decoder, in the same pass.
    const stats = nodes.slice(statsStart).filter((n) => n.kind === 'stat' && request.want.includes(n.stat));
    return [...nodes.slice(0, statsStart), ...stats];
  }

  private bind(request: RunRequest, chunk: number): Bound {
    const key = `${request.from}:${[...request.want].sort().join(',')}:${chunk}`;
    const cached = this.bound.get(key);
    if (cached) return cached;
    const { plan, gpu } = this;
    const nodes = this.segment(request);
    const source = request.from === 'image' ? plan.io.image : plan.io.latent;
    const pinned = new Set<number>([source, ...request.want.map((e) => plan.io[e])]);
    const { slotOf, slotSizes } = assignSlots(plan, nodes, pinned, this.valueBytes);
    const slots = slotSizes.map((bytes, i) => gpu.createBuffer(bytes * chunk, 'storage', `activations.${i}`));
    const buffers = new Map<number, GPUBuffer>([...slotOf].map(([v, s]) => [v, slots[s]]));
    const at = (v: number) => buffers.get(v)!;
    const dispatches = nodes.map((node) => {
      const r = this.resources.get(node)!;
      if (node.kind === 'stat') {
        const pair = { batch: chunk, a: at(node.a), b: at(node.b), output: at(node.output) };
        if (r.stat instanceof MseKernel) return r.stat.bind({ ...pair, perSample: valueSize(plan.values[node.a]) });
        const [channels, height, width] = plan.values[node.a].shape;
        return r.stat!.bind({ ...pair, channels, height, width });
      }
      if (r.gemm) {
        const { inH, inW } = convSpecOf(plan, node);
        return this.gemmAt(node, r.gemm, chunk).bind({ batch: chunk, inH, inW, input: at(node.input), output: at(node.output), residual: node.kind === 'conv' && node.residual !== undefined ? at(node.residual) : undefined, weight: r.weight!, bias: r.bias! });
      }
      if (node.kind === 'linear') {
        return r.linear!.bind({ batch: chunk, input: at(node.input), output: at(node.output), weight: r.weight!, bias: r.bias! });
      }
      const [, inH, inW] = plan.values[node.input].shape;
      return r.conv!.bind({
        batch: chunk,
        inH,
        inW,
        input: at(node.input),
        output: at(node.output),
        residual: node.residual === undefined ? undefined : at(node.residual),
        weight: r.weight!,
        bias: r.bias!,
      });
    });
    const bound: Bound = {
      chunk,
      buffers,
      dispatches,
      destroy: () => {
        dispatches.forEach((d) => d.destroy());
        slots.forEach((b) => b.destroy());
      },
    };
    this.bound.set(key, bound);
    return bound;
  }

  /** FLOPs per sample of what `request` computes. */
  flopsPerSample(request: RunRequest): number {
    return planFlops(this.plan, this.segment(request));
  }

  async run(input: Float32Array, batch: number, request: RunRequest): Promise<RunResult> {
    const { plan, gpu } = this;
    const source = request.from === 'image' ? plan.io.image : plan.io.latent;
    const perSampleIn = valueSize(plan.values[source]);
    if (input.length !== batch * perSampleIn) throw new Error(`input holds ${input.length} values, expected ${batch} x ${perSampleIn}`);
    const out: RunResult = {};
    for (const e of request.want) out[e] = new Float32Array(batch * valueSize(plan.values[plan.io[e]]));
    for (let start = 0; start < batch; start += this.maxChunk) {
      const chunk = Math.min(this.maxChunk, batch - start);
      const bound = this.bind(request, chunk);
      await gpu.checked(`running ${chunk} samples`, async () => {
        gpu.write(bound.buffers.get(source)!, input.subarray(start * perSampleIn, (start + chunk) * perSampleIn));
        gpu.submit((encoder) => {
          const pass = encoder.beginComputePass({ label: 'forward' });
          for (const d of bound.dispatches) d.encode(pass);
          pass.end();
        });
        for (const e of request.want) {
          const size = valueSize(plan.values[plan.io[e]]);
          out[e]!.set(await gpu.read(bound.buffers.get(plan.io[e])!, chunk * size * 4), start * size);
        }
      });
      this.options.onProgress?.(start + chunk, batch);
    }
    return out;
  }

  /**
   * One forward pass over `batch` samples already resident on the GPU (whatever the input buffer
   * holds): no upload, no readback. For measuring GPU time; `batch` must not exceed maxChunk.
   */
  async runResident(batch: number, request: RunRequest): Promise<void> {
    const bound = this.bind(request, this.checkChunk(batch));
    await this.gpu.checked(`running ${batch} resident samples`, async () => {
      this.gpu.submit((encoder) => {
        const pass = encoder.beginComputePass({ label: 'forward' });
        for (const d of bound.dispatches) d.encode(pass);
        pass.end();
      });
      await this.gpu.onSubmittedWorkDone();
    });
  }

  /**
   * Per-node GPU time of one forward pass, from timestamp queries around each dispatch (each in its
   * own compute pass). Needs the 'timestamp-query' feature.
   */
  async profile(batch: number, request: RunRequest): Promise<{ name: string; shape: string; kernel: string; flops: number; ms: number }[]> {
    const { gpu } = this;
    if (!gpu.features.has('timestamp-query')) throw new Error('per-layer profiling needs the timestamp-query feature, which this adapter lacks');
    const bound = this.bind(request, this.checkChunk(batch));
    const nodes = this.segment(request);
    const timestamps = new PassTimestamps(gpu, bound.dispatches.length);
    try {
      const ms = await gpu.checked(`profiling ${batch} samples`, async () => {
        gpu.submit((encoder) => {
          bound.dispatches.forEach((d, i) => {
            const pass = encoder.beginComputePass({ label: d.label, timestampWrites: timestamps.writes(i) });
            d.encode(pass);
            pass.end();
          });
          timestamps.resolve(encoder);
        });
        return timestamps.durationsMs();
      });
      return nodes.map((node, i) => ({
        name: node.name,
        shape: `${batch}x${this.plan.values[node.output].shape.join('x')}`,
        kernel: this.kernelOf(node, batch),
        flops: batch * planFlops(this.plan, [node]),
        ms: ms[i],
      }));
    } finally {
      timestamps.destroy();
    }
  }

  /** What runs a node at `chunk` samples: the variant, and for GEMM layers the tile and its source. */
  kernelOf(node: Node, chunk: number): string {
    if (node.kind === 'stat') return node.stat;
    const choice = this.tileOf(node, chunk);
    if (choice) return `${this.variant} ${this.precision} ${tileKey(choice.tile)} (${choice.source})`;
    return node.kind === 'linear' ? `linear f32` : `${this.variant} f32`;
  }

  private checkChunk(batch: number): number {
    if (!Number.isInteger(batch) || batch < 1 || batch > this.maxChunk) throw new Error(`batch ${batch} must be within 1..${this.maxChunk} (the largest chunk this device holds)`);
    return batch;
  }

  destroy(): void {
    this.bound.forEach((b) => b.destroy());
    this.bound.clear();
    for (const r of this.resources.values()) {
      r.weight?.destroy();
      r.bias?.destroy();
    }
  }
}
