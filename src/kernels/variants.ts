// The kernel choice, all of it: which convolution kernels exist, which one a device gets, what it
// falls back to, which GEMM tile a layer runs with and which shape the linear kernel takes. Graph
// lowering (graph/lower.ts) asks here and nowhere else; the kernels themselves choose nothing.
// Two families: the NCHW float32 kernels of conv2d.ts ('register', 'subgroup': the fast ones on
// CPU-emulated adapters) and the NHWC GEMM kernels of gemm.ts, named by their backend: 'fma' (f32
// or f16 tiles of FMAs), 'matrix' (subgroup-matrix fragments on tensor cores, f16) and
// 'matrix-emulated' (the same fragments in plain WGSL: the tensor-core tiling tested on any
// adapter). A model runs all its layers in one family.
import type { Gpu } from '../gpu/device.js';
import type { ConvVariant } from './conv2d/conv2d.js';
import { convGeometry, layerKey, type ConvSpec } from './conv2d/conv-spec.js';
import { fragmentOf, gemmHeuristic, tileKey, tileProblem, type GemmBackend, type GemmDevice, type GemmTile, type Precision } from './conv2d/gemm.js';
import type { LinearShape } from './linear/linear.js';

export const KERNEL_VARIANTS = ['register', 'subgroup', 'fma', 'matrix', 'matrix-emulated'] as const;
export type KernelVariant = (typeof KERNEL_VARIANTS)[number];

/** A GEMM variant is named by its backend (gemm.ts), so `--variant` and `rcae bench` use one name. */
export type GemmVariant = GemmBackend;

export function isGemmVariant(v: KernelVariant): v is GemmVariant {
  return v === 'fma' || v === 'matrix' || v === 'matrix-emulated';
}

export const NCHW_VARIANTS: readonly ConvVariant[] = ['register', 'subgroup'];

export function nchwVariantOf(v: KernelVariant): ConvVariant | undefined {
  return v === 'register' || v === 'subgroup' ? v : undefined;
}

export function parseVariant(text: string, what: string): KernelVariant {
  if ((KERNEL_VARIANTS as readonly string[]).includes(text)) return text as KernelVariant;
  throw new RangeError(`${what}: unknown kernel variant "${text}" (one of ${KERNEL_VARIANTS.join(', ')})`);
}

/**
 * The variant a device runs without being told: tensor-core fragments for f16 where the device has
 * them, else the GEMM FMA kernel; for f32 the GEMM FMA kernel on GPUs, and on CPU-emulated
 * adapters the register kernels measured fastest there (bench/NOTES.md).
 */
export function defaultVariant(gpu: Gpu, precision: Precision): KernelVariant {
  if (precision === 'f16' || !gpu.adapter.isSoftware) return defaultGemmVariant(gpu, precision);
  return gpu.subgroupMinSize >= 8 ? 'subgroup' : 'register';
}

/** The GEMM variant a device runs at `precision`: tensor cores for f16 where it has them, else FMA tiles. */
export function defaultGemmVariant(gpu: Pick<GemmDevice, 'fragment'>, precision: Precision): 'fma' | 'matrix' {
  return precision === 'f16' && gpu.fragment ? 'matrix' : 'fma';
}

/**
 * The variant a model runs: the one asked for (the caller's option, else `fromEnvironment`, the
 * text of RCAE_CONV_VARIANT), else the device's default.
 */
export function chooseVariant(gpu: Gpu, precision: Precision, asked?: KernelVariant, fromEnvironment?: string): KernelVariant {
  return asked ?? (fromEnvironment ? parseVariant(fromEnvironment, 'RCAE_CONV_VARIANT') : defaultVariant(gpu, precision));
}

/** The linear kernel's shape: few wide lanes for a CPU's threads, many narrow ones for a GPU (linear.ts). */
export function linearShapeFor(gpu: Gpu): LinearShape {
  return gpu.adapter.isSoftware ? 'narrow' : 'wide';
}

/** Where a layer's GEMM tile came from. */
export type TileSource = 'tuned' | 'heuristic';

/**
 * Tuned GEMM tiles: given a layer's key (layerKey) and batch, the tile to use, or undefined for the
 * built-in heuristic. Filled from `rcae tune`'s cache by the model layer.
 */
export type TileTable = (layer: string, batch: number) => GemmTile | undefined;

/** The tile a GEMM layer of `variant` runs with at `batch`: the tuned one of its backend, else the heuristic's. */
export function chooseTile(gpu: GemmDevice, variant: GemmVariant, precision: Precision, spec: ConvSpec, batch: number, inH: number, inW: number, tiles?: TileTable): { tile: GemmTile; source: TileSource } {
  const tuned = tiles?.(layerKey(spec, inH, inW), batch);
  if (tuned && tuned.backend === variant) return { tile: tuned, source: 'tuned' };
  return { tile: gemmHeuristic(gpu, spec, batch, inH, inW, precision, variant), source: 'heuristic' };
}

/** Tile shapes worth timing for a layer: around the heuristic, the usual GPU shapes, split-K. */
export function candidateTiles(gpu: GemmDevice, spec: ConvSpec, batch: number, inH: number, inW: number, precision: Precision, backend: GemmBackend, fragment = fragmentOf(gpu, backend)): GemmTile[] {
  const base = gemmHeuristic(gpu, spec, batch, inH, inW, precision, backend, fragment);
  const shapes: GemmTile[] = [base];
  if (backend === 'fma') {
    for (const [bp, bc, tp, tc] of [[128, 128, 8, 8], [128, 64, 8, 4], [64, 64, 4, 4], [64, 128, 4, 8], [256, 4, 4, 4], [128, 16, 8, 4]]) {
      for (const bk of [8, 16, 32]) shapes.push({ backend, bp, bc, bk, tp, tc, splitK: 1 });
    }
  } else {
    for (const [sgp, sgc, fm, fn] of [[2, 2, 2, 2], [2, 1, 2, 2], [4, 2, 2, 2], [2, 2, 4, 2], [1, 1, 2, 2]]) {
      for (const bk of [16, 32]) shapes.push({ backend, bp: sgp * fm * fragment.m, bc: sgc * fn * fragment.n, bk, sgp, sgc, fm, fn, splitK: 1 });
    }
  }
  const { kTotal } = convGeometry(spec, batch, inH, inW);
  const out: GemmTile[] = [];
  const seen = new Set<string>();
  for (const shape of shapes) {
    // Channel tiles far wider than the layer only waste work.
    if (shape.bc >= 4 * Math.max(16, spec.outChannels)) continue;
    for (const splitK of new Set([shape.splitK, 1, 2, 4, 8].filter((s) => s === shape.splitK || kTotal >= s * 4 * shape.bk))) {
      const tile = { ...shape, splitK };
      const key = tileKey(tile);
      if (seen.has(key) || tileProblem(gpu, tile, precision, fragment) !== null) continue;
      seen.add(key);
      out.push(tile);
    }
  }
  return out;
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
  if (variant === 'matrix' || variant === 'matrix-emulated') return { variant: 'fma', precision: 'f16' };
  if (variant === 'fma' && precision === 'f16') return { variant: 'fma', precision: 'f32' };
  return undefined;
}

/** Why `variant` cannot run on this device at this precision, or null. */
export function variantProblem(gpu: Gpu, variant: KernelVariant, precision: Precision): string | null {
  if (precision === 'f16' && !gpu.features.has('shader-f16')) return "f16 needs the adapter's shader-f16 feature";
  if (precision === 'f16' && !isGemmVariant(variant)) return `variant '${variant}' is float32 NCHW only; f16 runs on fma, matrix or matrix-emulated`;
  if (variant === 'matrix' && !gpu.fragment) return "variant 'matrix' needs subgroup matrices (chromium-experimental-subgroup-matrix with an f16 -> f32 shape), which this device lacks";
  if (variant === 'matrix' || variant === 'matrix-emulated') {
    if (precision !== 'f16') return `variant '${variant}' multiplies f16 fragments; use --precision f16`;
  }
  if (variant === 'subgroup' && gpu.subgroupMinSize < 8) return `variant 'subgroup' needs subgroups of at least 8 invocations; this adapter has ${gpu.subgroupMinSize || 'none'}`;
  return null;
}
