// Runs a Plan on the GPU: uploads packed weights once, binds every node's kernel to liveness-planned
// activation buffers per chunk size, and records one command buffer per chunk of the batch.

import type { Gpu } from '../gpu/device.js';
import { ConvKernel, packConvWeights, type ConvSpec } from '../kernels/conv2d/conv2d.js';
import type { BoundDispatch } from '../kernels/dispatch.js';
import { LinearKernel, packLinearWeights, type LinearSpec } from '../kernels/linear/linear.js';
import { MseKernel } from '../kernels/mse/mse.js';
import { foldBatchNorm } from './fold.js';
import { type Node, type Plan, assignSlots, planFlops, valueSize } from './plan.js';

/** Canonical state-dict name -> float32 data (BN running stats included; see parameterList). */
export type ParamStore = ReadonlyMap<string, Float32Array>;

export type Endpoint = 'latent' | 'reconstruction' | 'error';

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
  linear?: LinearKernel;
  mse?: MseKernel;
}

interface Bound {
  chunk: number;
  buffers: Map<number, GPUBuffer>;
  dispatches: BoundDispatch[];
  destroy(): void;
}

export interface ExecutorOptions {
  /** Largest number of samples per command buffer; default: what fits the device limits and ~1 GiB. */
  maxChunk?: number;
  /** Called after each chunk with the number of samples done so far. */
  onProgress?: (done: number, total: number) => void;
}

const DEFAULT_ACTIVATION_BUDGET = 1 << 30;

function required(params: ParamStore, name: string): Float32Array {
  const t = params.get(name);
  if (!t) throw new Error(`missing parameter ${name}`);
  return t;
}

export class Executor {
  private readonly resources: Map<Node, NodeResources>;
  private readonly bound = new Map<string, Bound>();
  readonly maxChunk: number;

  constructor(
    private readonly gpu: Gpu,
    readonly plan: Plan,
    params: ParamStore,
    private readonly options: ExecutorOptions = {},
  ) {
    this.resources = new Map(plan.nodes.map((node) => [node, this.prepare(node, params)]));
    const largest = Math.max(...plan.values.map(valueSize)) * 4;
    const perSample = assignSlots(plan, plan.nodes, new Set(Object.values(plan.io))).slotSizes.reduce((a, b) => a + b, 0) * 4;
    const byBinding = Math.floor(Math.min(gpu.limits.maxStorageBufferBindingSize, gpu.limits.maxBufferSize) / largest);
    const byBudget = Math.floor(DEFAULT_ACTIVATION_BUDGET / perSample);
    this.maxChunk = Math.max(1, Math.min(options.maxChunk ?? Infinity, byBinding, byBudget));
  }

  private prepare(node: Node, params: ParamStore): NodeResources {
    const { arch } = this.plan;
    if (node.kind === 'mse') return { node, mse: new MseKernel(this.gpu) };
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
    return { node, conv: new ConvKernel(this.gpu, spec), weight: this.gpu.upload(packed.weight, `${node.name}.weight`), bias: this.gpu.upload(packed.bias, `${node.name}.bias`) };
  }

  private segment(request: RunRequest): Node[] {
    const { nodes, decodeStart } = this.plan;
    if (request.from === 'latent') {
      if (request.want.some((e) => e !== 'reconstruction')) throw new Error('from latents only the reconstruction can be computed');
      return nodes.slice(decodeStart, nodes.length - 1);
    }
    const needsDecoder = request.want.some((e) => e !== 'latent');
    if (!needsDecoder) return nodes.slice(0, decodeStart);
    return request.want.includes('error') ? nodes : nodes.slice(0, nodes.length - 1);
  }

  private bind(request: RunRequest, chunk: number): Bound {
    const key = `${request.from}:${[...request.want].sort().join(',')}:${chunk}`;
    const cached = this.bound.get(key);
    if (cached) return cached;
    const { plan, gpu } = this;
    const nodes = this.segment(request);
    const source = request.from === 'image' ? plan.io.image : plan.io.latent;
    const pinned = new Set<number>([source, ...request.want.map((e) => plan.io[e])]);
    const { slotOf, slotSizes } = assignSlots(plan, nodes, pinned);
    const slots = slotSizes.map((size, i) => gpu.createBuffer(size * chunk * 4, 'storage', `activations.${i}`));
    const buffers = new Map<number, GPUBuffer>([...slotOf].map(([v, s]) => [v, slots[s]]));
    const at = (v: number) => buffers.get(v)!;
    const dispatches = nodes.map((node) => {
      const r = this.resources.get(node)!;
      if (node.kind === 'mse') {
        return r.mse!.bind({ batch: chunk, perSample: valueSize(plan.values[node.a]), a: at(node.a), b: at(node.b), output: at(node.output) });
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
  async profile(batch: number, request: RunRequest): Promise<{ name: string; shape: string; flops: number; ms: number }[]> {
    const { gpu } = this;
    if (!gpu.features.has('timestamp-query')) throw new Error('per-layer profiling needs the timestamp-query feature, which this adapter lacks');
    const bound = this.bind(request, this.checkChunk(batch));
    const nodes = this.segment(request);
    const count = bound.dispatches.length * 2;
    const querySet = gpu.device.createQuerySet({ type: 'timestamp', count });
    const resolved = gpu.device.createBuffer({ size: count * 8, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    const readback = gpu.device.createBuffer({ size: count * 8, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    try {
      const ticks = await gpu.checked(`profiling ${batch} samples`, async () => {
        gpu.submit((encoder) => {
          bound.dispatches.forEach((d, i) => {
            const pass = encoder.beginComputePass({ label: d.label, timestampWrites: { querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 } });
            d.encode(pass);
            pass.end();
          });
          encoder.resolveQuerySet(querySet, 0, count, resolved, 0);
          encoder.copyBufferToBuffer(resolved, 0, readback, 0, count * 8);
        });
        await readback.mapAsync(GPUMapMode.READ);
        const copy = new BigUint64Array(readback.getMappedRange().slice(0));
        readback.unmap();
        return copy;
      });
      return nodes.map((node, i) => ({
        name: node.name,
        shape: `${batch}x${this.plan.values[node.output].shape.join('x')}`,
        flops: batch * planFlops(this.plan, [node]),
        ms: Number(ticks[2 * i + 1] - ticks[2 * i]) / 1e6,
      }));
    } finally {
      querySet.destroy();
      resolved.destroy();
      readback.destroy();
    }
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
