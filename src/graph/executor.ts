// Runs a Plan on the GPU: lowers it once (lower.ts: kernels chosen, weights prepared), uploads the
// prepared weights, binds every lowered node to liveness-planned activation buffers per chunk size,
// and records one command buffer per chunk of the batch.

import { UsageError } from '../errors.js';
import { GpuError, type Gpu } from '../gpu/device.js';
import { compilePipeline, pipelineKey, type PipelineRequest } from '../gpu/shader.js';
import { PassTimestamps } from '../gpu/timestamps.js';
import type { Precision } from '../kernels/conv2d/gemm.js';
import type { BoundDispatch } from '../kernels/dispatch.js';
import type { KernelVariant } from '../kernels/variants.js';
import { type Chunking, activationFootprint, chunkingFor, valueBytes } from './chunking.js';
import { type LowerOptions, type LoweredNode, lower } from './lower.js';
import { type Node, type ParamStore, type Plan, type Value, assignSlots, planFlops, valueSize } from './plan.js';
import { type Endpoint, type RunRequest, type RunResult, segmentOf } from './run-request.js';

export type { Endpoint, ParamStore, RunRequest, RunResult };

/** A request bound at one chunk size: activation buffers by value, the dispatches in order. */
type Bound = { buffers: Map<number, GPUBuffer>; dispatches: BoundDispatch[]; destroy(): void };

/** How to lower (precision, variant, tuned tiles: see LowerOptions) and how to chunk. */
export interface ExecutorOptions extends LowerOptions {
  /**
   * Samples per command buffer, in place of the activation budget (activationBudget); the adapter's
   * storage-binding limit still caps it. Default: what the budget and that limit allow.
   */
  maxChunk?: number;
  /** Called after each chunk with the number of samples done so far. */
  onProgress?: (done: number, total: number) => void;
}

export class Executor {
  /** Each node lowered, with its weights on the GPU. */
  private readonly resident: Map<Node, { lowered: LoweredNode; weight?: GPUBuffer; bias?: GPUBuffer }>;
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
    const lowering = lower(gpu, plan, params, options);
    this.precision = lowering.precision;
    this.variant = lowering.variant;
    this.valueBytes = valueBytes(plan, this.precision);
    const upload = (data: Float32Array | Uint16Array | undefined, name: string) => data && gpu.upload(data, name);
    this.resident = new Map(lowering.nodes.map((l) => [l.node, { lowered: l, weight: upload(l.weights?.weight, `${l.node.name}.weight`), bias: upload(l.weights?.bias, `${l.node.name}.bias`) }]));
    this.chunking = chunkingFor(gpu, activationFootprint(plan, this.precision), options.maxChunk);
    this.maxChunk = this.chunking.maxChunk;
  }

  /**
   * Compiles, in parallel, every pipeline a run may bind: at one sample and at a full chunk, the
   * two ends between which tiles and tilings change. Rejects with the first compiler or validation
   * message, so that a model can fall back before it runs anything; runs later reuse the pipelines.
   */
  async compile(): Promise<void> {
    const requests = new Map<string, PipelineRequest>();
    for (const chunk of new Set([1, this.maxChunk])) {
      for (const { lowered } of this.resident.values()) {
        for (const r of lowered.pipelines(chunk)) requests.set(pipelineKey(r.shader, r.constants), r);
      }
    }
    await Promise.all([...requests.values()].map((r) => compilePipeline(this.gpu, r)));
  }

  private bind(request: RunRequest, chunk: number): Bound {
    const key = `${request.from}:${[...request.want].sort().join(',')}:${chunk}`;
    const cached = this.bound.get(key);
    if (cached) return cached;
    const { plan, gpu } = this;
    const nodes = segmentOf(plan, request);
    const source = request.from === 'image' ? plan.io.image : plan.io.latent;
    const pinned = new Set<number>([source, ...request.want.map((e) => plan.io[e])]);
    const { slotOf, slotSizes } = assignSlots(plan, nodes, pinned, this.valueBytes);
    const slots = slotSizes.map((bytes, i) => gpu.createBuffer(bytes * chunk, 'storage', `activations.${i}`));
    const buffers = new Map<number, GPUBuffer>([...slotOf].map(([v, s]) => [v, slots[s]]));
    const value = (v: number) => buffers.get(v)!;
    const dispatches = nodes.map((node) => {
      const { lowered, weight, bias } = this.resident.get(node)!;
      return lowered.bind(chunk, { value, weight, bias });
    });
    const destroy = () => [...dispatches, ...slots].forEach((d) => d.destroy());
    this.bound.set(key, { buffers, dispatches, destroy });
    return this.bound.get(key)!;
  }

  /** FLOPs per sample of what `request` computes. */
  flopsPerSample(request: RunRequest): number {
    return planFlops(this.plan, segmentOf(this.plan, request));
  }

  async run(input: Float32Array, batch: number, request: RunRequest): Promise<RunResult> {
    const { plan, gpu } = this;
    const source = request.from === 'image' ? plan.io.image : plan.io.latent;
    const perSampleIn = valueSize(plan.values[source]);
    if (input.length !== batch * perSampleIn) throw new UsageError(`input holds ${input.length} values, expected ${batch} x ${perSampleIn}`);
    const out: RunResult = {};
    for (const e of request.want) out[e] = new Float32Array(batch * valueSize(plan.values[plan.io[e]]));
    for (let start = 0; start < batch; start += this.maxChunk) {
      const chunk = Math.min(this.maxChunk, batch - start);
      const bound = this.bind(request, chunk);
      await gpu.checked(`running ${chunk} samples`, async () => {
        gpu.write(bound.buffers.get(source)!, input.subarray(start * perSampleIn, (start + chunk) * perSampleIn));
        this.encode(bound);
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
      this.encode(bound);
      await this.gpu.onSubmittedWorkDone();
    });
  }

  /**
   * Per-node GPU time of one forward pass, from timestamp queries around each dispatch (each in its
   * own compute pass). Needs the 'timestamp-query' feature.
   */
  async profile(batch: number, request: RunRequest): Promise<{ name: string; shape: string; kernel: string; flops: number; ms: number }[]> {
    const { gpu } = this;
    if (!gpu.features.has('timestamp-query')) throw new GpuError('per-layer profiling needs the timestamp-query feature, which this adapter lacks');
    const bound = this.bind(request, this.checkChunk(batch));
    const nodes = segmentOf(this.plan, request);
    const timestamps = new PassTimestamps(gpu, bound.dispatches.length);
    try {
      const ms = await gpu.checked(`profiling ${batch} samples`, async () => {
        this.encode(bound, timestamps);
        return timestamps.durationsMs();
      });
      return nodes.map((node, i) => ({
        name: node.name,
        shape: `${batch}x${this.plan.values[node.output].shape.join('x')}`,
        kernel: this.kernelOf(node, batch),
        flops: batch * this.resident.get(node)!.lowered.flops,
        ms: ms[i],
      }));
    } finally {
      timestamps.destroy();
    }
  }

  /** What runs a node at `chunk` samples: the variant, and for GEMM layers the tile and its source. */
  kernelOf(node: Node, chunk: number): string {
    return this.resident.get(node)!.lowered.describe(chunk);
  }

  /**
   * Records the bound dispatches into one command buffer: one compute pass, or with `timestamps`
   * one pass per dispatch between timestamp writes.
   */
  private encode(bound: Bound, timestamps?: PassTimestamps): void {
    this.gpu.submit((encoder) => {
      const shared = timestamps ? undefined : encoder.beginComputePass({ label: 'forward' });
      bound.dispatches.forEach((d, i) => {
        const own = timestamps && encoder.beginComputePass({ label: d.label, timestampWrites: timestamps.writes(i) });
        d.encode(own ?? shared!);
        own?.end();
      });
      shared?.end();
      timestamps?.resolve(encoder);
    });
  }

  private checkChunk(batch: number): number {
    if (!Number.isInteger(batch) || batch < 1 || batch > this.maxChunk) throw new UsageError(`batch ${batch} must be within 1..${this.maxChunk} (the largest chunk this device holds)`);
    return batch;
  }

  destroy(): void {
    this.bound.forEach((b) => b.destroy());
    this.bound.clear();
    for (const r of this.resident.values()) {
      r.weight?.destroy();
      r.bias?.destroy();
    }
  }
}
