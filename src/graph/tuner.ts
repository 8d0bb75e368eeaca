// Autotuning: times candidate kernels for every distinct layer of a model on this device and keeps
// the fastest. Within the GEMM family it searches tile shapes, K steps and split-K factors per layer;
// lowering (graph/lower.ts) gives the distinct layers and each one's heuristic and candidate tiles
// (kernels/variants.ts), so the tuner times exactly what a model would choose from. Each candidate is timed by DispatchTimer (dispatch-timing.ts): timestamp
// queries where the device has them, repeated until a sample lasts at least 2 ms. What it returns is
// stored by the Node layer (node/tune-cache.ts) keyed by adapter, driver, Dawn version, precision and
// layer, and handed back to loadModel as `tiles`.
import { GpuError, type Gpu } from '../gpu/device.js';
import { compilePipeline } from '../gpu/shader.js';
import { toFloat16 } from '../gpu/f16.js';
import type { Architecture } from './architecture.js';
import { type ConvLayer, distinctConvLayers, tileCandidates } from './lower.js';
import { buildPlan } from './plan.js';
import { packConvWeights } from '../kernels/conv2d/conv-spec.js';
import { GemmConvKernel, fragmentOf, gemmPipelines, tileKey, type GemmBackend, type GemmTile, type Precision, type TensorFormat } from '../kernels/conv2d/gemm.js';
import { type Fallback, type GemmVariant, defaultGemmVariant, fallbackOf, fallbackWarning, isGemmVariant, variantProblem } from '../kernels/variants.js';
import { DispatchTimer, type TimingMethod } from './dispatch-timing.js';

/** A tile's time per dispatch, the dispatches per sample, and the shortest sample (ms). */
export interface TileTiming {
  tile: GemmTile;
  ms: number;
  repeat: number;
  min_sample_ms: number;
}

export interface LayerTuning extends TileTiming {
  layer: string;
  batch: number;
  /** The built-in heuristic's tile and time, for the report. */
  heuristic: TileTiming;
  /** Candidates timed besides the heuristic's tile. */
  candidates: number;
}

export interface TuneResult {
  precision: Precision;
  batch: number;
  /** The GEMM backend tuned (the model's family at this precision on this device). */
  backend: GemmBackend;
  /** How candidates were timed: the clock, the shortest sample allowed, samples per candidate. */
  timing: { method: TimingMethod; floor_ms: number; samples: number };
  layers: LayerTuning[];
  /** Layers left on the heuristic because the time budget (maxSeconds) ran out first. */
  untuned: string[];
  /** The variant asked for did not compile here, so these ran instead (the result's precision is the last one's). */
  fallbacks: Fallback[];
  /** Candidate tiles that did not compile (skipped, not timed), with the compiler's message. */
  failed: { layer: string; tile: string; reason: string }[];
}

export interface TuneOptions {
  precision: Precision;
  batch: number;
  /** The GEMM variant to tune (default: the device's GEMM default at this precision). */
  variant?: GemmVariant;
  /** Time at most this many candidates per layer besides the heuristic's (default: all). */
  maxCandidates?: number;
  /** Shortest timing sample in ms (repeats are added until every sample lasts this long; default 2). */
  floorMs?: number;
  /** Samples per candidate (default 3). */
  samples?: number;
  /**
   * Stop timing after this many seconds: the layer in progress keeps the best tile timed so far, later
   * layers the heuristic (listed in `untuned`). Default: no limit.
   */
  maxSeconds?: number;
  /** Called per layer as it finishes (progress on long runs). */
  onLayer?: (done: number, total: number, result: LayerTuning) => void;
  /** Told, in one line, of a fallback (see TuneResult.fallbacks). */
  onWarning?: (message: string) => void;
}

/** Null when every layer's heuristic tile compiles in `variant` at `precision`, else the first message. */
async function compileProblem(gpu: Gpu, layers: readonly ConvLayer[], variant: GemmVariant, precision: Precision, batch: number): Promise<string | null> {
  try {
    for (const layer of layers) {
      const { heuristic } = tileCandidates(gpu, layer, variant, precision, batch);
      const options = { precision, input: layer.input, output: layer.output };
      await Promise.all(gemmPipelines(layer.spec, options, heuristic, fragmentOf(gpu, heuristic.backend)).map((r) => compilePipeline(gpu, r)));
    }
    return null;
  } catch (err) {
    if (err instanceof GpuError) return err.message;
    throw err;
  }
}

/**
 * Times the candidate tiles of every distinct GEMM layer of `arch` at `batch`; random data. When the
 * variant's kernels do not compile here it tunes what a model would fall back to, and says so.
 */
export async function tuneLayers(gpu: Gpu, arch: Architecture, options: TuneOptions): Promise<TuneResult> {
  const { batch } = options;
  let variant: GemmVariant = options.variant ?? defaultGemmVariant(gpu, options.precision);
  let precision = options.precision;
  const problem = variantProblem(gpu, variant, precision);
  if (problem) throw new GpuError(`cannot tune ${variant} ${precision} here: ${problem}`);
  const plan = buildPlan(arch);
  const fallbacks: Fallback[] = [];
  for (;;) {
    const reason = await compileProblem(gpu, distinctConvLayers(plan, precision), variant, precision, batch);
    if (reason === null) break;
    const next = fallbackOf(variant, precision);
    if (!next || !isGemmVariant(next.variant)) throw new GpuError(`cannot tune ${variant} ${precision} here: ${reason}`);
    const fallback = { variant: `${variant} ${precision}`, to: `${next.variant} ${next.precision}`, reason };
    fallbacks.push(fallback);
    options.onWarning?.(fallbackWarning(gpu, fallback));
    variant = next.variant;
    precision = next.precision;
  }
  const layers = distinctConvLayers(plan, precision);
  const failed: TuneResult['failed'] = [];
  const results: LayerTuning[] = [];
  const untuned: string[] = [];
  const deadline = options.maxSeconds === undefined ? Infinity : performance.now() + options.maxSeconds * 1000;
  const timer = new DispatchTimer(gpu, { floorMs: options.floorMs, samples: options.samples });
  try {
    for (const layer of layers) {
      const { key, spec, inH, inW, input, output } = layer;
      if (performance.now() >= deadline) {
        untuned.push(key);
        continue;
      }
      const bytes = (f: TensorFormat) => (f.type === 'f16' ? 2 : 4);
      const [, outH, outW] = plan.values[layer.node.output].shape;
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
        const kernel = new GemmConvKernel(gpu, spec, { precision, input, output });
        const time = async (tile: GemmTile): Promise<TileTiming> => {
          const dispatch = kernel.bind({ batch, inH, inW, ...buffers, tile });
          try {
            const t = await timer.time(dispatch);
            return { tile, ms: t.ms, repeat: t.repeat, min_sample_ms: t.minSampleMs };
          } finally {
            dispatch.destroy();
          }
        };
        const choice = tileCandidates(gpu, layer, variant, precision, batch);
        const heuristic = await time(choice.heuristic);
        let best = heuristic;
        const candidates = choice.candidates
          .filter((t) => tileKey(t) !== tileKey(heuristic.tile))
          .slice(0, options.maxCandidates ?? Infinity);
        let timed = 0;
        for (const tile of candidates) {
          if (performance.now() >= deadline) break;
          // A candidate that does not compile is reported and passed over, never timed.
          const reason = await Promise.all(kernel.pipelinesAt(batch, inH, inW, tile).map((r) => compilePipeline(gpu, r))).then(
            () => null,
            (err: Error) => err.message,
          );
          if (reason !== null) {
            failed.push({ layer: key, tile: tileKey(tile), reason });
            continue;
          }
          const t = await time(tile);
          timed++;
          if (t.ms < best.ms) best = t;
        }
        const result: LayerTuning = { layer: key, batch, ...best, heuristic, candidates: timed };
        results.push(result);
        options.onLayer?.(results.length, layers.length, result);
      } finally {
        Object.values(buffers).forEach((b) => b?.destroy());
      }
    }
  } finally {
    timer.destroy();
  }
  return { precision, batch, backend: variant, timing: { method: timer.method, floor_ms: timer.floorMs, samples: timer.samples }, layers: results, untuned, fallbacks, failed };
}
