// What the per-sample statistics kernels bind: two batches of [C, H, W] float32 images (the input
// and its reconstruction) and one float32 per sample out. The checks are the same for each kernel.
import { GpuError } from '../../gpu/device.js';
import type { ImageShape } from './reference.js';

export interface ImagePairBindArgs extends ImageShape {
  batch: number;
  a: GPUBuffer;
  b: GPUBuffer;
  /** [batch] f32 */
  output: GPUBuffer;
}

/** Throws naming the kernel when the shape is unusable or a buffer is too small or aliased. */
export function checkImagePair(label: string, args: ImagePairBindArgs, minSide: number): void {
  const { batch, channels, height, width } = args;
  const counts = [batch, channels, height, width];
  if (counts.some((n) => !Number.isSafeInteger(n) || n < 1) || batch * channels * height * width > 0xffffffff) {
    throw new GpuError(`${label}: batch, channels, height and width must be positive and index a u32 range`);
  }
  if (height < minSide || width < minSide) throw new GpuError(`${label}: images must be at least ${minSide}x${minSide}`);
  const floats = batch * channels * height * width;
  const need: [string, GPUBuffer, number][] = [['a', args.a, floats], ['b', args.b, floats], ['output', args.output, batch]];
  for (const [what, buffer, n] of need) {
    if (buffer.size < n * 4) throw new GpuError(`${label}: ${what} buffer ${buffer.label} holds ${buffer.size} bytes, needs ${n * 4}`);
  }
  if (args.output === args.a || args.output === args.b) throw new GpuError(`${label}: the output buffer must not also be an input`);
}
