// The unit the graph records into a compute pass: everything is bound already, so encoding is
// just setPipeline/setBindGroup/dispatch.
import { GpuError, type Gpu } from '../gpu/device.js';

export interface BoundDispatch {
  label: string;
  encode(pass: GPUComputePassEncoder): void;
  /** Floating-point operations this dispatch performs (2 per multiply-add), for throughput reports. */
  flops: number;
}

export type Workgroups = readonly [number, number, number];

export function boundDispatch(
  gpu: Gpu,
  label: string,
  pipeline: GPUComputePipeline,
  group: GPUBindGroup,
  workgroups: Workgroups,
  flops: number,
): BoundDispatch {
  const max = gpu.limits.maxComputeWorkgroupsPerDimension;
  if (workgroups.some((n) => !Number.isInteger(n) || n < 0 || n > max)) {
    throw new GpuError(`${label}: dispatch grid ${workgroups.join('x')} exceeds ${max} workgroups per dimension`);
  }
  const [x, y, z] = workgroups;
  return {
    label,
    flops,
    encode(pass) {
      if (x === 0 || y === 0 || z === 0) return;
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, group);
      pass.dispatchWorkgroups(x, y, z);
    },
  };
}
