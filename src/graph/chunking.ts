// How many samples of a batch one command buffer holds. Activations live in liveness-planned slots
// (plan.ts assignSlots) whose size grows with the chunk; two things bound it: the adapter's largest
// storage binding, which every slot must fit, and an activation budget for all slots together, since
// WebGPU does not say how much memory a device has. The answer carries its reason, for `rcae bench`.
import { UsageError } from '../errors.js';
import type { Precision } from '../kernels/conv2d/gemm.js';
import { assignSlots, type Plan, type Value, valueSize } from './plan.js';

const GiB = 2 ** 30;

/** Bytes of activations per sample: the largest single value, and every liveness slot together. */
export interface ActivationFootprint {
  largestValueBytes: number;
  perSampleBytes: number;
}

/** How many samples one command buffer holds, and what set that number. */
export interface Chunking extends ActivationFootprint {
  maxChunk: number;
  /** What set maxChunk: the adapter's storage-binding limit, the activation budget, or the caller's maxChunk. */
  limitedBy: 'binding limit' | 'activation budget' | 'max-chunk';
  /** One line that says why, with the figures. */
  reason: string;
  bindingLimitBytes: number;
  /** The activation budget, or null where the caller's maxChunk replaced it. */
  budgetBytes: number | null;
}

/** Bytes per sample of each value at a storage precision: f16 tensors take 2 per element, the graph's endpoints always 4. */
export function valueBytes(plan: Plan, precision: Precision): (v: Value) => number {
  const io = new Set(Object.values(plan.io));
  return (v) => valueSize(v) * (io.has(v.id) || precision === 'f32' ? 4 : 2);
}

/** Per-sample activation bytes of a plan at a storage precision. */
export function activationFootprint(plan: Plan, precision: Precision): ActivationFootprint {
  const io = new Set(Object.values(plan.io));
  const bytesOf = valueBytes(plan, precision);
  return {
    largestValueBytes: Math.max(...plan.values.map(bytesOf)),
    perSampleBytes: assignSlots(plan, plan.nodes, io, bytesOf).slotSizes.reduce((a, b) => a + b, 0),
  };
}

/** What chunking needs to know of a device. */
export interface ChunkTarget {
  limits: Pick<GPUSupportedLimits, 'maxStorageBufferBindingSize' | 'maxBufferSize'>;
  adapter: { isSoftware: boolean };
}

/**
 * Bytes of activations a chunk may take. WebGPU does not say how much memory a device has. A software
 * adapter shares the host's memory with everything else: 1 GiB. On a GPU the largest binding is the
 * best hint there is: twice it, at least 1 GiB (4 GiB on NVIDIA's 2 GiB binding, where the w=64 model
 * then runs batch 1024 in one chunk: 3.4 MiB per sample in f32, 1.9 MiB in f16).
 */
export function activationBudget(device: ChunkTarget): number {
  if (device.adapter.isSoftware) return GiB;
  return Math.max(GiB, 2 * Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize));
}

const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(bytes < 2 ** 20 ? 3 : 1)} MiB`;

/** The samples per chunk on `device` for `footprint`, and why; `maxChunk` replaces the budget. */
export function chunkingFor(device: ChunkTarget, footprint: ActivationFootprint, maxChunk?: number): Chunking {
  const bindingLimitBytes = Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize);
  const byBinding = Math.max(1, Math.floor(bindingLimitBytes / footprint.largestValueBytes));
  if (maxChunk !== undefined && !(Number.isInteger(maxChunk) && maxChunk >= 1)) throw new UsageError(`maxChunk must be an integer >= 1, got ${maxChunk}`);
  const budgetBytes = maxChunk === undefined ? activationBudget(device) : null;
  const wanted = budgetBytes === null ? maxChunk! : Math.max(1, Math.floor(budgetBytes / footprint.perSampleBytes));
  const base = { ...footprint, bindingLimitBytes, budgetBytes };
  if (byBinding < wanted) {
    return { ...base, maxChunk: byBinding, limitedBy: 'binding limit', reason: `the adapter's ${mib(bindingLimitBytes)} storage-binding limit holds ${byBinding} samples of the largest activation (${mib(footprint.largestValueBytes)} each)` };
  }
  if (budgetBytes === null) return { ...base, maxChunk: wanted, limitedBy: 'max-chunk', reason: `maxChunk ${wanted} (--max-chunk), in place of the activation budget` };
  const kind = device.adapter.isSoftware ? 'software adapter: host memory' : budgetBytes > 2 * bindingLimitBytes ? 'GPU: the 1 GiB floor' : 'GPU: twice the binding limit';
  return { ...base, maxChunk: wanted, limitedBy: 'activation budget', reason: `the ${mib(budgetBytes)} activation budget (${kind}) holds ${wanted} samples of ${mib(footprint.perSampleBytes)}` };
}
