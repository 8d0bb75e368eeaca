// What the element-wise backward kernels share: one element per invocation over a flat f32 range,
// tiles laid on the grid by gridFor, and the checks every one of them makes on its count and buffers.
import { GpuError, type Gpu } from '../../gpu/device.js';
import { requireBufferSizes, type Workgroups } from '../dispatch.js';
import { gridFor } from '../grid.js';

/** Invocations per workgroup of every kernel in this folder. */
export const WG = 256;

/**
 * The grid for `count` elements, after checking the count fits a u32, each buffer holds `count`
 * f32 values and no two are the same buffer (WebGPU refuses one buffer bound both read and written,
 * and a gradient written over its own input would be a bug anyway).
 */
export function flatGrid(gpu: Gpu, label: string, count: number, buffers: readonly (readonly [what: string, buffer: GPUBuffer])[]): { tilesX: number; workgroups: Workgroups } {
  if (!Number.isSafeInteger(count) || count < 1 || count > 0xffffffff) throw new GpuError(`${label}: the element count ${count} must be positive and fit a u32`);
  requireBufferSizes(label, buffers.map(([what, buffer]) => [what, buffer, count] as const));
  if (new Set(buffers.map(([, b]) => b)).size !== buffers.length) throw new GpuError(`${label}: ${buffers.map(([what]) => what).join(', ')} must be different buffers`);
  return gridFor(gpu, label, Math.ceil(count / WG), 1);
}
