// Lays a 1-D count of tiles onto a dispatch grid that respects maxComputeWorkgroupsPerDimension:
// x takes up to the limit and z counts the rows of x; shaders recover tile = z * tilesX + x and
// skip tiles past the end. y is left to the caller (channel blocks, phases).
import { GpuError, type Gpu } from '../gpu/device.js';
import type { Workgroups } from './dispatch.js';

export function gridFor(gpu: Gpu, label: string, tiles: number, y: number, xCap = Infinity): { tilesX: number; workgroups: Workgroups } {
  const max = gpu.limits.maxComputeWorkgroupsPerDimension;
  const tilesX = Math.max(1, Math.min(tiles, max, xCap));
  const z = Math.ceil(tiles / tilesX);
  if (y > max || z > max) throw new GpuError(`${label}: ${tiles} x ${y} workgroups do not fit a ${max}^3 dispatch grid`);
  return { tilesX, workgroups: [tilesX, y, z] };
}
