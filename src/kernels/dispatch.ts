// The unit the graph records into a compute pass: everything is bound already, so encoding is
// just setPipeline/setBindGroup/dispatch. A dispatch owns the buffers made for it (its uniforms, any
// scratch) and frees them in destroy(), so re-binding in a long-lived process does not leak.
import { GpuError, type Gpu } from '../gpu/device.js';
import type { KernelBinding } from '../gpu/shader.js';

export interface BoundDispatch {
  label: string;
  encode(pass: GPUComputePassEncoder): void;
  /** Floating-point operations this dispatch performs (2 per multiply-add), for throughput reports. */
  flops: number;
  /** Frees the GPU buffers this dispatch owns; the bound input and output buffers stay. */
  destroy(): void;
}

export type Workgroups = readonly [number, number, number];

/** One pipeline over one bind group. */
export interface DispatchStep {
  pipeline: GPUComputePipeline;
  binding: KernelBinding;
  workgroups: Workgroups;
}

/**
 * Throws unless each bound buffer holds its count of `bytesPerValue`-byte values (default 4: f32);
 * optional buffers left undefined are not checked. A short buffer would read or write out of
 * bounds, which WebGPU clamps silently.
 */
export function requireBufferSizes(label: string, need: readonly (readonly [what: string, buffer: GPUBuffer | undefined, values: number])[], bytesPerValue = 4): void {
  for (const [what, buffer, values] of need) {
    if (buffer && buffer.size < values * bytesPerValue) throw new GpuError(`${label}: ${what} buffer ${buffer.label} holds ${buffer.size} bytes, needs ${values * bytesPerValue}`);
  }
}

function checkGrid(gpu: Gpu, label: string, workgroups: Workgroups): void {
  const max = gpu.limits.maxComputeWorkgroupsPerDimension;
  if (workgroups.some((n) => !Number.isInteger(n) || n < 0 || n > max)) {
    throw new GpuError(`${label}: dispatch grid ${workgroups.join('x')} exceeds ${max} workgroups per dimension`);
  }
}

/**
 * Steps recorded in order into the same pass (WebGPU orders dispatches of a pass, so a later step
 * sees an earlier one's writes); `scratch` are buffers the steps share and the dispatch owns.
 */
export function dispatchSequence(gpu: Gpu, label: string, steps: readonly DispatchStep[], flops: number, scratch: readonly GPUBuffer[] = []): BoundDispatch {
  for (const step of steps) checkGrid(gpu, label, step.workgroups);
  return {
    label,
    flops,
    encode(pass) {
      for (const { pipeline, binding, workgroups: [x, y, z] } of steps) {
        if (x === 0 || y === 0 || z === 0) continue;
        pass.setPipeline(pipeline);
        pass.setBindGroup(0, binding.group);
        pass.dispatchWorkgroups(x, y, z);
      }
    },
    destroy() {
      for (const step of steps) step.binding.uniforms.destroy();
      for (const buffer of scratch) buffer.destroy();
    },
  };
}

export function boundDispatch(gpu: Gpu, label: string, pipeline: GPUComputePipeline, binding: KernelBinding, workgroups: Workgroups, flops: number): BoundDispatch {
  return dispatchSequence(gpu, label, [{ pipeline, binding, workgroups }], flops);
}
