// What the per-sample statistics kernels over image pairs (hf, ssim) share: they bind two batches of
// [C, H, W] float32 images (the input and its reconstruction) and one float32 per sample out, with
// the same uniforms, checks and one-workgroup-per-sample grid; each brings its WGSL, its smallest
// side and its FLOP count.
import { GpuError, type Gpu } from '../../gpu/device.js';
import { bindKernel, computePipeline, kernelShader, type PipelineRequest, type WgslSource } from '../../gpu/shader.js';
import { uniformStruct } from '../../gpu/uniforms.js';
import { boundDispatch, type BoundDispatch } from '../dispatch.js';
import { gridFor } from '../grid.js';
import { sampleMeanInclude } from '../sample-mean.js';
import type { ImageShape } from './definitions.js';

const imagePairUniforms = uniformStruct('ImagePairParams', { batch: 'u32', channels: 'u32', height: 'u32', width: 'u32', tilesX: 'u32' });

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

/** The shader of an image-pair statistic; declared once per kernel, at module scope like every shader. */
export function imagePairShader(name: string, source: WgslSource, prelude?: string) {
  return kernelShader({ id: `stats-${name}`, source, prelude, includes: [sampleMeanInclude], uniforms: imagePairUniforms, storage: ['read', 'read', 'read_write'] });
}

export interface ImagePairKernelSpec {
  /** Names the kernel in labels and errors. */
  name: string;
  shader: ReturnType<typeof imagePairShader>;
  /** Workgroup size: the tree needs a power of two. */
  wg: number;
  /** Smallest height and width the statistic is defined for. */
  minSide: number;
  flops(args: ImagePairBindArgs): number;
}

export function imagePairPipeline(spec: ImagePairKernelSpec): PipelineRequest {
  return { shader: spec.shader, constants: { WG: spec.wg } };
}

export class ImagePairKernel {
  private readonly pipeline: GPUComputePipeline;
  readonly pipelineRequest: PipelineRequest;

  constructor(
    private readonly gpu: Gpu,
    private readonly spec: ImagePairKernelSpec,
  ) {
    this.pipelineRequest = imagePairPipeline(spec);
    this.pipeline = computePipeline(gpu, this.pipelineRequest.shader, this.pipelineRequest.constants);
  }

  bind(args: ImagePairBindArgs): BoundDispatch {
    const { gpu, spec } = this;
    const { batch, channels, height, width } = args;
    const label = `${spec.name} ${batch} x ${channels}x${height}x${width}`;
    checkImagePair(label, args, spec.minSide);
    const grid = gridFor(gpu, label, batch, 1);
    const binding = bindKernel(gpu, spec.shader, label, { batch, channels, height, width, tilesX: grid.tilesX }, [args.a, args.b, args.output]);
    return boundDispatch(gpu, label, this.pipeline, binding, grid.workgroups, spec.flops(args));
  }
}
