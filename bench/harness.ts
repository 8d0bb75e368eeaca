// `rcae bench`: throughput of the engine per batch size (GPU-only and end-to-end), the adapter's
// measured attainable peak, a per-layer profile, and optionally peers on the same model, weights and
// input. Every figure lands in one JSON document; a markdown summary is rendered from it.

import { execFileSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { Bench } from 'tinybench';
import { Gpu } from '../src/gpu/device.js';
import { probeTimestampQuantization } from '../src/gpu/timestamps.js';
import '../src/node/node-platform.js';
import { referenceArchitecture } from '../src/graph/architecture.js';
import { buildPlan } from '../src/graph/plan.js';
import { randomImages, randomParams } from '../src/graph/random-params.js';
import { referenceForward } from '../src/graph/reference.js';
import type { Chunking } from '../src/graph/chunking.js';
import type { TileTable } from '../src/kernels/variants.js';
import type { Precision } from '../src/kernels/conv2d/gemm.js';
import type { KernelVariant } from '../src/kernels/variants.js';
import { type Fallback, Model, resolveWeights, type ResolvedWeights } from '../src/model.js';
import { version } from '../src/node/version.js';
import { measurePeakGflops } from './peak.js';
import { PEER_ENGINES, preparePeerModel, runPeer } from './peers/index.js';

/** Outputs agree when every value is within this of the other engine's (fp32, different sum orders). */
export const OUTPUT_TOLERANCE = 1e-4;
/**
 * The same for f16 storage: every layer's output is rounded to 11 significant bits, and 28 layers
 * compound it (measured on the w=64 random model: see bench/NOTES.md).
 */
export const F16_OUTPUT_TOLERANCE = 2e-2;

export interface BenchConfig {
  /** Checkpoint to run; default: the full-width reference with seeded random weights. */
  model?: string;
  width: number;
  seed: number;
  batches: number[];
  /** Time budget per measured task, in ms (tinybench keeps iterating until both limits are met). */
  timeMs: number;
  minIterations: number;
  profile: boolean;
  peers: boolean;
  adapter?: string;
  precision?: Precision;
  variant?: KernelVariant;
  fastUnsafe?: boolean;
  /** Tuned tiles for the device (from `rcae tune`'s cache). */
  tuning?: (gpu: Gpu) => TileTable;
  /** Samples per command buffer in place of the activation budget (the binding limit still caps it). */
  maxChunk?: number;
  /** Called with progress lines (stderr). */
  log: (line: string) => void;
}

export interface RunFigures {
  engine: string;
  batch: number;
  /** 'end-to-end': upload + forward + readback of the reconstruction; 'gpu': forward only, data resident. */
  timing: 'end-to-end' | 'gpu';
  samples_per_s: number;
  samples_per_s_min: number;
  samples_per_s_max: number;
  ms_per_batch: number;
  iterations: number;
  gflops: number;
  pct_of_peak: number;
  outputs_match: boolean | null;
  max_abs_diff?: number;
  /** Command buffers the batch ran in (rcae rows; > 1 when the batch is over the chunk size). */
  chunks?: number;
  note?: string;
}

export interface LayerFigures {
  name: string;
  shape: string;
  /** The variant, precision and (GEMM) tile that ran the layer, and whether the tile was tuned. */
  kernel: string;
  gflop: number;
  ms: number;
  gflops: number;
  pct_of_total: number;
}

export interface BenchResult {
  date: string;
  machine: { cpu: string; cores: number; memory_gib: number; platform: string };
  adapter: Record<string, unknown>;
  versions: Record<string, string>;
  commit: string | null;
  model: { source: string; base_width: number; parameters: number; gflop_per_sample: number; precision: Precision; variant: KernelVariant; tuned_layers: number };
  peak_gflops: number;
  peak_method: string;
  /** Samples per command buffer and what set it (see src/graph/chunking.ts). */
  chunking: { max_chunk: number; limited_by: Chunking['limitedBy']; reason: string; per_sample_bytes: number; largest_value_bytes: number; binding_limit_bytes: number; budget_bytes: number | null };
  /** Kernel families that did not compile on the adapter and what ran instead (Model.fallbacks). */
  fallbacks: Fallback[];
  runs: RunFigures[];
  layers: { batch: number; method: string; rows: LayerFigures[] } | null;
}

function gitCommit(): string | null {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

async function loadBenchModel(config: BenchConfig, gpu: Gpu): Promise<{ model: Model; source: string; resolved: ResolvedWeights }> {
  const options = { gpu, precision: config.precision, variant: config.variant, tuning: config.tuning, maxChunk: config.maxChunk, onWarning: config.log };
  if (config.model) {
    const resolved = await resolveWeights(config.model);
    return { model: await Model.create(resolved, options), source: config.model, resolved };
  }
  const arch = referenceArchitecture(config.width);
  const source = `reference w=${config.width}, seeded random weights (seed ${config.seed})`;
  const resolved: ResolvedWeights = {
    path: source,
    format: 'random',
    arch,
    params: randomParams(arch, config.seed),
    architectureSource: ['reference architecture'],
    report: { summary: 'seeded random weights', entries: [], ignored: [], notes: [] },
    skipped: [],
    metadata: {},
  };
  return { model: await Model.create(resolved, options), source, resolved };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>, count: number): number {
  let m = 0;
  for (let i = 0; i < count; i++) {
    const d = Math.abs(a[i] - b[i]);
    m = Number.isNaN(d) ? Infinity : Math.max(m, d);
  }
  return m;
}

/** Runs `fn` under tinybench and returns per-iteration latency statistics in ms. */
async function measure(name: string, fn: () => Promise<unknown>, config: BenchConfig) {
  const bench = new Bench({ time: config.timeMs, iterations: config.minIterations, warmupIterations: 1, warmupTime: 0 });
  bench.add(name, fn);
  await bench.run();
  const result = bench.tasks[0].result;
  if (result.state !== 'completed') throw new Error(`${name}: benchmark ${result.state}${'error' in result ? `: ${String(result.error)}` : ''}`);
  const { latency } = result;
  return { median: latency.p50, min: latency.min, max: latency.max, iterations: latency.samplesCount };
}

export async function runBench(config: BenchConfig): Promise<BenchResult> {
  const gpu = await Gpu.open({ adapter: config.adapter, fastUnsafe: config.fastUnsafe, exactTimestamps: true });
  try {
    config.log(`adapter: ${gpu.adapter.vendor} ${gpu.adapter.device || gpu.adapter.description} (${gpu.adapter.backend})`);
    const quantization = await probeTimestampQuantization(gpu);
    config.log(`timestamp quantization: ${quantization}`);
    const peak = await measurePeakGflops(gpu);
    config.log(`attainable peak: ${peak.gflops.toFixed(1)} GFLOP/s (${peak.method})`);
    const { model, source, resolved } = await loadBenchModel(config, gpu);
    config.log(`kernels: ${model.variant} ${model.precision}${gpu.toggles.length ? `, toggles ${gpu.toggles.join(',')}` : ''}`);
    const { chunking } = model;
    config.log(`chunks of at most ${chunking.maxChunk} samples: ${chunking.reason}`);
    const tolerance = model.precision === 'f16' ? F16_OUTPUT_TOLERANCE : OUTPUT_TOLERANCE;
    const runs: RunFigures[] = [];
    let layers: BenchResult['layers'] = null;
    try {
      const flops = model.flopsPerSample;
      // Every batch takes the first `batch` images of one pool, so sample 0 is the same everywhere
      // and one float64 reference of it checks every engine at every batch size.
      const pool = randomImages(Math.max(...config.batches), model.imageSize, config.seed + 1);
      config.log('float64 CPU reference of sample 0 (output check)...');
      const plan = buildPlan(model.arch);
      const reference = referenceForward(plan, resolved.params, pool.subarray(0, model.imageSize), 1).reconstruction;
      const peerModel = config.peers ? await preparePeerModel(model.arch, resolved.params) : undefined;
      for (const batch of config.batches) {
        const images = pool.subarray(0, batch * model.imageSize);
        const output = await model.reconstruct(images);
        const e2e = await measure(`rcae e2e b${batch}`, () => model.reconstruct(images), config);
        const rcaeRow = figures('rcae', batch, 'end-to-end', e2e, flops, peak.gflops);
        rcaeRow.max_abs_diff = maxAbsDiff(output, reference, model.imageSize);
        rcaeRow.outputs_match = rcaeRow.max_abs_diff <= tolerance;
        rcaeRow.chunks = Math.ceil(batch / chunking.maxChunk);
        rcaeRow.note = 'sample 0 vs float64 CPU reference';
        if (rcaeRow.chunks > 1) rcaeRow.note += `; ${rcaeRow.chunks} chunks of <= ${chunking.maxChunk} samples (${chunking.limitedBy}), so no GPU-only row`;
        runs.push(rcaeRow);
        if (batch <= chunking.maxChunk) {
          const gpuOnly = await measure(`rcae gpu b${batch}`, () => model.forwardResident(batch), config);
          runs.push({ ...figures('rcae', batch, 'gpu', gpuOnly, flops, peak.gflops), chunks: 1 });
        }
        const last = runs[runs.length - 1];
        config.log(`rcae batch ${batch}: ${last.samples_per_s.toFixed(2)} samples/s (${last.timing}), ${last.gflops.toFixed(1)} GFLOP/s`);
        for (const engine of peerModel ? PEER_ENGINES : []) {
          config.log(`${engine} batch ${batch}...`);
          const r = await runPeer(engine, { model: peerModel!, batch, iterations: config.minIterations, warmup: 1, input: images });
          if (r.samplesPerS === null || r.msMedian === null || !r.output) {
            runs.push({ ...emptyFigures(engine, batch), note: `${r.skipped ? 'skipped' : 'failed'}: ${r.error ?? 'no result'}` });
            continue;
          }
          const ms = { median: r.msMedian, min: Math.min(...r.ms), max: Math.max(...r.ms), iterations: r.ms.length };
          const row = figures(engine, batch, 'end-to-end', ms, flops, peak.gflops);
          row.max_abs_diff = maxAbsDiff(r.output, output, output.length);
          row.outputs_match = row.max_abs_diff <= tolerance;
          row.note = `vs rcae, whole batch${r.backend ? `; ${r.backend}` : ''}`;
          runs.push(row);
        }
      }
      if (config.profile) layers = await profileLayers(model, config, gpu);
    } finally {
      model.dispose();
    }
    const tunedLayers = model.kernels(Math.min(Math.max(...config.batches), model.maxChunk)).filter((k) => k.kernel.endsWith('(tuned)')).length;
    return {
      date: new Date().toISOString(),
      machine: { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, memory_gib: Math.round(totalmem() / 2 ** 30), platform: `${process.platform}-${process.arch}` },
      adapter: { ...gpu.adapter, features: [...gpu.features].sort(), toggles: gpu.toggles, disabled_toggles: gpu.disabledToggles, timestamp_quantization: quantization, fragment: gpu.fragment ?? null },
      versions: { rcae: version(), node: process.version },
      commit: gitCommit(),
      model: { source, base_width: model.arch.baseWidth, parameters: model.parameterCount, gflop_per_sample: model.flopsPerSample / 1e9, precision: model.precision, variant: model.variant, tuned_layers: tunedLayers },
      peak_gflops: peak.gflops,
      peak_method: peak.method,
      chunking: {
        max_chunk: chunking.maxChunk, limited_by: chunking.limitedBy, reason: chunking.reason, per_sample_bytes: chunking.perSampleBytes,
        largest_value_bytes: chunking.largestValueBytes, binding_limit_bytes: chunking.bindingLimitBytes, budget_bytes: chunking.budgetBytes,
      },
      fallbacks: [...model.fallbacks],
      runs,
      layers,
    };
  } finally {
    gpu.destroy();
  }
}

function figures(engine: string, batch: number, timing: RunFigures['timing'], ms: { median: number; min: number; max: number; iterations: number }, flopsPerSample: number, peak: number): RunFigures {
  const samplesPerS = (batch * 1000) / ms.median;
  const gflops = (samplesPerS * flopsPerSample) / 1e9;
  return {
    engine,
    batch,
    timing,
    samples_per_s: samplesPerS,
    samples_per_s_min: (batch * 1000) / ms.max,
    samples_per_s_max: (batch * 1000) / ms.min,
    ms_per_batch: ms.median,
    iterations: ms.iterations,
    gflops,
    pct_of_peak: (100 * gflops) / peak,
    outputs_match: null,
  };
}

function emptyFigures(engine: string, batch: number): RunFigures {
  return { engine, batch, timing: 'end-to-end', samples_per_s: NaN, samples_per_s_min: NaN, samples_per_s_max: NaN, ms_per_batch: NaN, iterations: 0, gflops: NaN, pct_of_peak: NaN, outputs_match: null };
}

async function profileLayers(model: Model, config: BenchConfig, gpu: Gpu): Promise<BenchResult['layers']> {
  const batch = Math.min(Math.max(...config.batches), model.maxChunk);
  const method = gpu.features.has('timestamp-query') ? 'timestamp queries around each dispatch' : 'unavailable: adapter lacks timestamp-query';
  if (!gpu.features.has('timestamp-query')) return { batch, method, rows: [] };
  const profile = await model.profileLayers(batch);
  const total = profile.reduce((s, l) => s + (Number.isFinite(l.ms) ? l.ms : 0), 0);
  const rows = profile
    .map((l) => ({ name: l.name, shape: l.shape, kernel: l.kernel, gflop: l.flops / 1e9, ms: l.ms, gflops: l.ms > 0 ? l.flops / 1e6 / l.ms : 0, pct_of_total: (100 * l.ms) / total }))
    .sort((a, b) => b.ms - a.ms);
  return { batch, method, rows };
}

function fixed(v: number, digits: number): string {
  return Number.isFinite(v) ? v.toFixed(digits) : '-';
}

export function markdownSummary(r: BenchResult): string {
  const lines: string[] = [];
  const a = r.adapter as { vendor?: string; device?: string; description?: string; backend?: string };
  lines.push(`## rcae bench — ${r.model.source}`, '');
  lines.push(`Adapter: ${a.vendor ?? ''} ${a.device || a.description || ''} (${a.backend ?? ''}); machine: ${r.machine.cpu}, ${r.machine.cores} cores; commit ${r.commit ?? 'unknown'}; ${r.date}`);
  lines.push(`Model: ${r.model.parameters.toLocaleString('en-US')} parameters, ${fixed(r.model.gflop_per_sample, 3)} GFLOP/sample; kernels ${r.model.variant} ${r.model.precision} (${r.model.tuned_layers} layers tuned). Attainable peak: ${fixed(r.peak_gflops, 1)} GFLOP/s (${r.peak_method}).`);
  lines.push(`Chunks of at most ${r.chunking.max_chunk} samples per command buffer: ${r.chunking.reason}. Timestamp quantization: ${String((r.adapter as { timestamp_quantization?: string }).timestamp_quantization ?? 'unknown')}.`);
  for (const f of r.fallbacks) lines.push(`Fallback: the ${f.variant} kernels did not compile here (${f.reason}); ${f.to} ran instead.`);
  lines.push('');
  const rcae = new Map(r.runs.filter((x) => x.engine === 'rcae' && x.timing === 'end-to-end').map((x) => [x.batch, x.samples_per_s]));
  lines.push('| engine | timing | batch | chunks | samples/s (median) | min–max | ms/batch | GFLOP/s | % of peak | vs rcae | outputs match |');
  lines.push('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
  for (const x of r.runs) {
    const ratio = x.engine === 'rcae' ? '' : rcae.has(x.batch) ? `${fixed(x.samples_per_s / rcae.get(x.batch)!, 2)}x` : '';
    const match = x.outputs_match === null ? 'n/a' : x.outputs_match ? `yes (${x.max_abs_diff?.toExponential(1) ?? ''})` : `NO (${x.max_abs_diff?.toExponential(1) ?? x.note ?? ''})`;
    lines.push(`| ${x.engine} | ${x.timing} | ${x.batch} | ${x.chunks ?? ''} | ${fixed(x.samples_per_s, 2)} | ${fixed(x.samples_per_s_min, 2)}–${fixed(x.samples_per_s_max, 2)} | ${fixed(x.ms_per_batch, 1)} | ${fixed(x.gflops, 1)} | ${fixed(x.pct_of_peak, 1)} | ${ratio} | ${match}${x.note ? ` — ${x.note}` : ''} |`);
  }
  if (r.layers && r.layers.rows.length > 0) {
    lines.push('', `### Per-layer profile (batch ${r.layers.batch}, ${r.layers.method})`, '');
    lines.push('| layer | output shape | kernel | GFLOP | ms | GFLOP/s | % of total |', '| --- | --- | --- | ---: | ---: | ---: | ---: |');
    for (const l of r.layers.rows) lines.push(`| ${l.name} | ${l.shape} | ${l.kernel} | ${fixed(l.gflop, 3)} | ${fixed(l.ms, 2)} | ${fixed(l.gflops, 1)} | ${fixed(l.pct_of_total, 1)} |`);
  }
  return lines.join('\n') + '\n';
}
