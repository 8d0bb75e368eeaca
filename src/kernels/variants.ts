// Which convolution kernels exist and which one a device gets. Two families: the NCHW float32
// kernels of conv2d.ts ('register', 'subgroup': the fast ones on CPU-emulated adapters; 'shared':
// the first GPU kernel, kept for comparison) and the NHWC GEMM kernels of gemm.ts ('tile': f32 or
// f16 FMA tiles; 'matrix': subgroup-matrix fragments on tensor cores, f16; 'matrix-emulated': the
// same fragments in plain WGSL, for testing anywhere). A model runs all its layers in one family.
import type { Gpu } from '../gpu/device.js';
import type { ConvVariant } from './conv2d/conv2d.js';
import type { GemmBackend, Precision } from './conv2d/gemm.js';

export const KERNEL_VARIANTS = ['register', 'subgroup', 'shared', 'tile', 'matrix', 'matrix-emulated'] as const;
export type KernelVariant = (typeof KERNEL_VARIANTS)[number];

export function isGemmVariant(v: KernelVariant): v is 'tile' | 'matrix' | 'matrix-emulated' {
  return v === 'tile' || v === 'matrix' || v === 'matrix-emulated';
}

export function gemmBackendOf(v: 'tile' | 'matrix' | 'matrix-emulated'): GemmBackend {
  return v === 'tile' ? 'fma' : v;
}

export function nchwVariantOf(v: KernelVariant): ConvVariant | undefined {
  return v === 'register' || v === 'subgroup' || v === 'shared' ? v : undefined;
}

export function parseVariant(text: string, what: string): KernelVariant {
  if ((KERNEL_VARIANTS as readonly string[]).includes(text)) return text as KernelVariant;
  throw new RangeError(`${what}: unknown kernel variant "${text}" (one of ${KERNEL_VARIANTS.join(', ')})`);
}

/**
 * The variant a device runs without being told: tensor-core fragments for f16 where the device has
 * them, else the GEMM tile kernel; for f32 the GEMM tile kernel on GPUs, and on CPU-emulated
 * adapters the register kernels measured fastest there (bench/NOTES.md).
 */
export function defaultVariant(gpu: Gpu, precision: Precision): KernelVariant {
  if (precision === 'f16') return gpu.fragment ? 'matrix' : 'tile';
  if (!gpu.adapter.isSoftware) return 'tile';
  return gpu.subgroupMinSize >= 8 ? 'subgroup' : 'register';
}

/** A kernel family that did not compile on the device, what ran instead, and the compiler's message. */
export interface Fallback {
  /** Variant and precision, as `rcae bench` prints them: 'matrix f16'. */
  variant: string;
  to: string;
  reason: string;
}

/** The one-line warning a fallback prints. */
export function fallbackWarning(gpu: Gpu, f: Fallback): string {
  return `warning: ${gpu.adapter.description || gpu.adapter.device}: the ${f.variant} kernels do not compile (${f.reason}); running ${f.to} instead`;
}

/**
 * What a model runs instead when `variant` at `precision` does not compile on the device: tensor
 * cores (or their emulation) -> f16 FMA tiles -> f32 FMA tiles; nothing after that.
 */
export function fallbackOf(variant: KernelVariant, precision: Precision): { variant: KernelVariant; precision: Precision } | undefined {
  if (variant === 'matrix' || variant === 'matrix-emulated') return { variant: 'tile', precision: 'f16' };
  if (variant === 'tile' && precision === 'f16') return { variant: 'tile', precision: 'f32' };
  return undefined;
}

/** Why `variant` cannot run on this device at this precision, or null. */
export function variantProblem(gpu: Gpu, variant: KernelVariant, precision: Precision): string | null {
  if (precision === 'f16' && !gpu.features.has('shader-f16')) return "f16 needs the adapter's shader-f16 feature";
  if (precision === 'f16' && !isGemmVariant(variant)) return `variant '${variant}' is float32 NCHW only; f16 runs on tile, matrix or matrix-emulated`;
  if (variant === 'matrix' && !gpu.fragment) return "variant 'matrix' needs subgroup matrices (chromium-experimental-subgroup-matrix with an f16 -> f32 shape), which this device lacks";
  if (variant === 'matrix' || variant === 'matrix-emulated') {
    if (precision !== 'f16') return `variant '${variant}' multiplies f16 fragments; use --precision f16`;
  }
  if (variant === 'subgroup' && gpu.subgroupMinSize < 8) return `variant 'subgroup' needs subgroups of at least 8 invocations; this adapter has ${gpu.subgroupMinSize || 'none'}`;
  return null;
}
