// Autotuning: times candidate kernels for every distinct layer of a model on this device and keeps
// the fastest. Within the GEMM family it searches tile shapes, K steps and split-K factors per layer;
// it also times the whole model in each variant the device can run at this precision, so the
// variant is measured too. What it returns is stored by the Node layer (node/tune-cache.ts) keyed
// by adapter, driver, Dawn version, precision and layer, and handed back to loadModel as `tiles`.
import type { Gpu } from '../gpu/device.js';
import { toFloat16 } from '../gpu/f16.js';
import type { Architecture } from '../graph/architecture.js';
import { convSpecOf, layerKey } from '../graph/executor.js';
import { buildPlan, type Node } from '../graph/plan.js';
import { packConvWeights, type ConvSpec } from '../kernels/conv2d/conv2d.js';
import { EMULATED_FRAGMENT, GemmConvKernel, gemmHeuristic, gemmShape, tileKey, tileProblem, type GemmBackend, type GemmTile, type Precision, type TensorFormat, type TileTarget } from '../kernels/conv2d/gemm.js';
import type { BoundDispatch } from '../kernels/dispatch.js';
import { type KernelVariant, KERNEL_VARIANTS, gemmBackendOf, isGemmVariant, variantProblem } from '../kernels/variants.js';

export interface LayerTuning {
  layer: string;
  batch: number;
  tile: GemmTile;
  ms: number;
  /** The built-in heuristic's tile and time, for the report. */
  heuristic: { tile: GemmTile; ms: number };
  candidates: number;
}

export interface TuneResult {
  precision: Precision;
  batch: number;
  /** The GEMM backend tuned (the model's family at this precision on this device). */
  backend: GemmBackend;
  layers: LayerTuning[];
}

/** Tile shapes worth timing for a layer: around the heuristic, the usual GPU shapes, split-K. */
export function candidateTiles(gpu: TileTarget, spec: ConvSpec, batch: number, inH: number, inW: number, precision: Precision, backend: GemmBackend): GemmTile[] {
  const fragment = gpu.fragment ?? EMULATED_FRAGMENT;
  const base = gemmHeuristic(gpu, spec, batch, inH, inW, precision, backend);
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
  const { kTotal } = gemmShape(spec, batch, inH, inW);
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

/** Median milliseconds per dispatch of `dispatch`, each sample `repeat` dispatches in one submission. */
async function timeDispatch(gpu: Gpu, dispatch: BoundDispatch, repeat: number, samples: number): Promise<number> {
  const once = async () => {
    const start = performance.now();
    await gpu.checked(`timing ${dispatch.label}`, async () => {
      gpu.submit((encoder) => {
        const pass = encoder.beginComputePass();
        for (let i = 0; i < repeat; i++) dispatch.encode(pass);
        pass.end();
      });
      await gpu.onSubmittedWorkDone();
    });
    return (performance.now() - start) / repeat;
  };
  await once(); // compile, first-touch
  const times: number[] = [];
  for (let i = 0; i < samples; i++) times.push(await once());
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

export interface TuneOptions {
  precision: Precision;
  batch: number;
  /** The GEMM variant to tune (default: the device's GEMM default at this precision). */
  variant?: 'tile' | 'matrix' | 'matrix-emulated';
  /** Time at most this many candidates per layer besides the heuristic's (default: all). */
  maxCandidates?: number;
  /** Dispatches per timing sample and samples per candidate. */
  repeat?: number;
  samples?: number;
  /** Called per layer as it finishes (progress on long runs). */
  onLayer?: (done: number, total: number, result: LayerTuning) => void;
}

/** The GEMM variant a device would run at this precision. */
export function gemmVariantFor(gpu: Gpu, precision: Precision): 'tile' | 'matrix' {
  return precision === 'f16' && gpu.fragment ? 'matrix' : 'tile';
}

/** Times the candidate tiles of every distinct GEMM layer of `arch` at `batch`; random data. */
export async function tuneLayers(gpu: Gpu, arch: Architecture, options: TuneOptions): Promise<TuneResult> {
  const { precision, batch } = options;
  const variant = options.variant ?? gemmVariantFor(gpu, precision);
  const problem = variantProblem(gpu, variant, precision);
  if (problem) throw new Error(`cannot tune ${variant} ${precision} here: ${problem}`);
  const backend = gemmBackendOf(variant);
  const plan = buildPlan(arch);
  const { io } = plan;
  const format = (v: number): TensorFormat => (v === io.image || v === io.reconstruction || v === io.latent ? { layout: 'nchw', type: 'f32' } : { layout: 'nhwc', type: precision });
  const layers = new Map<string, Exclude<Node, { kind: 'stat' }>>();
  for (const node of plan.nodes) {
    if (node.kind === 'stat') continue;
    const { spec, inH, inW } = convSpecOf(plan, node);
    const key = layerKey(spec, inH, inW);
    if (!layers.has(key)) layers.set(key, node);
  }
  const results: LayerTuning[] = [];
  for (const [key, node] of layers) {
    const { spec, inH, inW } = convSpecOf(plan, node);
    const input = format(node.input);
    const output = format(node.output);
    const bytes = (f: TensorFormat) => (f.type === 'f16' ? 2 : 4);
    const [, outH, outW] = plan.values[node.output].shape;
    const inCount = batch * spec.inChannels * inH * inW;
    const outCount = batch * spec.outChannels * outH * outW;
    const packed = packConvWeights(spec, new Float32Array(spec.inChannels * spec.outChannels * spec.kernel * spec.kernel).fill(0.01), new Float32Array(spec.outChannels));
    const buffers = {
      input: gpu.createBuffer(inCount * bytes(input), 'storage', 'tune input'),
      output: gpu.createBuffer(outCount * bytes(output), 'storage', 'tune output'),
      residual: spec.residual ? gpu.createBuffer(outCount * bytes(output), 'storage', 'tune residual') : undefined,
      weight: precision === 'f16' ? gpu.upload(toFloat16(packed.weight), 'tune weight') : gpu.upload(packed.weight, 'tune weight'),
      bias: gpu.upload(packed.bias, 'tune bias'),
    };
    try {
      const time = async (tile: GemmTile) => {
        const dispatch = new GemmConvKernel(gpu, spec, { precision, input, output, tile }).bind({ batch, inH, inW, ...buffers });
        try {
          return await timeDispatch(gpu, dispatch, options.repeat ?? 3, options.samples ?? 3);
        } finally {
          dispatch.destroy();
        }
      };
      const heuristicTile = gemmHeuristic(gpu, spec, batch, inH, inW, precision, backend);
      const heuristicMs = await time(heuristicTile);
      let best = { tile: heuristicTile, ms: heuristicMs };
      const candidates = candidateTiles(gpu, spec, batch, inH, inW, precision, backend)
        .filter((t) => tileKey(t) !== tileKey(heuristicTile))
        .slice(0, options.maxCandidates ?? Infinity);
      for (const tile of candidates) {
        const ms = await time(tile);
        if (ms < best.ms) best = { tile, ms };
      }
      const result: LayerTuning = { layer: key, batch, tile: best.tile, ms: best.ms, heuristic: { tile: heuristicTile, ms: heuristicMs }, candidates: candidates.length };
      results.push(result);
      options.onLayer?.(results.length, layers.size, result);
    } finally {
      Object.values(buffers).forEach((b) => b?.destroy());
    }
  }
  return { precision, batch, backend, layers: results };
}

/** The variants a device can run at `precision`, for whole-model comparisons. */
export function runnableVariants(gpu: Gpu, precision: Precision): KernelVariant[] {
  return KERNEL_VARIANTS.filter((v) => variantProblem(gpu, v, precision) === null && (v !== 'matrix-emulated' || !gpu.fragment) && (isGemmVariant(v) || precision === 'f32'));
}
