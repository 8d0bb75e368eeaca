// The public model API: load a checkpoint (PyTorch zip or safetensors) from a path, URL, bytes or
// Blob, resolve its architecture and tensors, and run it on the GPU. Platform-neutral: paths and
// the default model go through src/platform.ts, adapters through Gpu.open's provider.

import { FormatError, InputError, UsageError } from './errors.js';
import { Gpu, GpuError, type OpenOptions } from './gpu/device.js';
import { type Architecture, parameterCount, validateArchitecture } from './graph/architecture.js';
import type { Chunking } from './graph/chunking.js';
import { type Endpoint, Executor, type ParamStore, type RunRequest, type RunResult } from './graph/executor.js';
import type { Precision } from './kernels/conv2d/gemm.js';
import { type Fallback, type KernelVariant, type TileTable, chooseVariant, fallbackOf, fallbackWarning } from './kernels/variants.js';
import { buildPlan, valueSize } from './graph/plan.js';
import { platform } from './platform.js';
import { type Checkpoint, parseCheckpoint } from './weights/checkpoint.js';
import { type MatchReport, inferArchitecture, mapStateDict } from './weights/mapping.js';
import { type ModelSource, readModelSource } from './weights/source.js';

export type { ModelSource };

/** Metadata key under which `rcae convert` stores the architecture JSON in a safetensors file. */
export const ARCHITECTURE_METADATA_KEY = 'rcae.architecture';

export interface ResolvedWeights {
  path: string;
  format: string;
  arch: Architecture;
  params: ParamStore;
  /** How the architecture was found: from file metadata, or inferred (with the evidence). */
  architectureSource: string[];
  report: MatchReport;
  /** Top-level checkpoint entries that were not weights (optimizer state, config, ...). */
  skipped: string[];
  metadata: Record<string, string>;
}

function architectureOf(path: string, tensors: Checkpoint['tensors'], metadata: Record<string, string>, given?: Architecture): { arch: Architecture; architectureSource: string[] } {
  if (given) return { arch: given, architectureSource: ['given by the caller'] };
  const stored = metadata[ARCHITECTURE_METADATA_KEY];
  if (stored === undefined) {
    const inferred = inferArchitecture(tensors, path);
    return { arch: inferred.arch, architectureSource: inferred.evidence };
  }
  let json: unknown;
  try {
    json = JSON.parse(stored);
  } catch {
    throw new FormatError(`${path}: metadata ${ARCHITECTURE_METADATA_KEY} is not valid JSON`);
  }
  return { arch: validateArchitecture(json, `${path} (metadata ${ARCHITECTURE_METADATA_KEY})`), architectureSource: [`read from metadata ${ARCHITECTURE_METADATA_KEY}`] };
}

/**
 * Reads a checkpoint or safetensors file (see loadModel for the sources) and maps its tensors onto
 * the architecture (CPU only).
 */
export async function resolveWeights(source?: ModelSource, architecture?: Architecture): Promise<ResolvedWeights> {
  const { bytes, name } = await readModelSource(source);
  return resolveCheckpoint(parseCheckpoint(bytes, name), architecture);
}

/** Maps an already-read checkpoint onto its architecture (given, stored in metadata, or inferred). */
export function resolveCheckpoint(ckpt: Checkpoint, architecture?: Architecture): ResolvedWeights {
  const { path } = ckpt;
  const { arch, architectureSource } = architectureOf(path, ckpt.tensors, ckpt.metadata, architecture);
  const { params, report } = mapStateDict(arch, ckpt.tensors, path);
  return { path, format: ckpt.format, arch, params, architectureSource, report, skipped: ckpt.skipped, metadata: ckpt.metadata };
}

/** Options of loadModel; more may be added, so pass an object literal. */
export interface LoadOptions extends OpenOptions {
  /** Run on this device instead of opening one (the caller keeps ownership). */
  gpu?: Gpu;
  /** Override the architecture instead of reading or inferring it. */
  architecture?: Architecture;
  /**
   * Samples per command buffer, in place of the activation budget (1 GiB on a software adapter, twice
   * the largest storage binding on a GPU); the binding limit still caps it. Default: what both allow.
   */
  maxChunk?: number;
  /** Called after each chunk with samples done and total. */
  onProgress?: (done: number, total: number) => void;
  /**
   * Storage precision: 'f32' (default; parity with PyTorch within 1e-4) or 'f16' (weights and
   * activations stored as f16, f32 accumulation and MSE; needs the adapter's shader-f16).
   */
  precision?: Precision;
  /** Force a convolution kernel variant; default $RCAE_CONV_VARIANT, else the device's default. */
  variant?: KernelVariant;
  /**
   * Tuned GEMM tiles for the device the model opens (see `rcae tune`); layers without an entry use
   * the built-in heuristic.
   */
  tuning?: (gpu: Gpu) => TileTable;
  /**
   * Told, in one line, when the kernels asked for do not compile on the device and the model falls
   * back (see Model.fallbacks). Default: console.warn.
   */
  onWarning?: (message: string) => void;
}

export type { Fallback };

/** A loaded model. Inputs are float32 NCHW images normalised to [-1, 1] ([n, 3, 128, 128] for the reference). */
export class Model {
  readonly arch: Architecture;
  readonly parameterCount: number;
  /** Values per sample of an image and of a latent. */
  readonly imageSize: number;
  readonly latentSize: number;

  private constructor(
    readonly gpu: Gpu,
    private readonly ownsGpu: boolean,
    private readonly executor: Executor,
    readonly weights: Omit<ResolvedWeights, 'params'>,
    /** The kernel families that did not compile here, in the order they were tried (usually none). */
    readonly fallbacks: readonly Fallback[],
  ) {
    this.arch = executor.plan.arch;
    this.parameterCount = parameterCount(this.arch);
    const { values, io } = executor.plan;
    this.imageSize = valueSize(values[io.image]);
    this.latentSize = valueSize(values[io.latent]);
  }

  static async create(resolved: ResolvedWeights, options: LoadOptions = {}): Promise<Model> {
    const gpu = options.gpu ?? (await Gpu.open(options));
    try {
      const precision = options.precision ?? 'f32';
      let choice = { variant: chooseVariant(gpu, precision, options.variant, platform().env('RCAE_CONV_VARIANT')), precision };
      const plan = buildPlan(resolved.arch);
      const tiles = options.tuning?.(gpu);
      const fallbacks: Fallback[] = [];
      const { params: _params, ...weights } = resolved;
      for (;;) {
        const executor = await gpu.checked(`${resolved.path}: building the model on the GPU`, () =>
          new Executor(gpu, plan, resolved.params, { maxChunk: options.maxChunk, onProgress: options.onProgress, tiles, ...choice }));
        try {
          await executor.compile();
          return new Model(gpu, !options.gpu, executor, weights, fallbacks);
        } catch (err) {
          executor.destroy();
          const next = fallbackOf(choice.variant, choice.precision);
          if (!next || !(err instanceof GpuError)) throw err;
          const fallback = { variant: `${choice.variant} ${choice.precision}`, to: `${next.variant} ${next.precision}`, reason: err.message };
          (options.onWarning ?? console.warn)(fallbackWarning(gpu, fallback));
          fallbacks.push(fallback);
          choice = next;
        }
      }
    } catch (err) {
      if (!options.gpu) gpu.destroy();
      throw err;
    }
  }

  /** Storage precision and convolution variant the model runs with. */
  get precision(): Precision {
    return this.executor.precision;
  }

  get variant(): KernelVariant {
    return this.executor.variant;
  }

  /** What runs each layer at `batch` samples per chunk: variant, precision, tile and its source. */
  kernels(batch: number): { name: string; kernel: string }[] {
    return this.executor.plan.nodes.map((node) => ({ name: node.name, kernel: this.executor.kernelOf(node, batch) }));
  }

  /** GFLOP per sample of a full forward pass (reconstruction). */
  get flopsPerSample(): number {
    return this.executor.flopsPerSample({ from: 'image', want: ['reconstruction'] });
  }

  private batchOf(data: Float32Array, perSample: number, what: string): number {
    if (data.length === 0 || data.length % perSample !== 0) {
      throw new InputError(`${what}: expected a multiple of ${perSample} values per sample, got ${data.length}`);
    }
    return data.length / perSample;
  }

  private async run(data: Float32Array, request: RunRequest) {
    const perSample = request.from === 'image' ? this.imageSize : this.latentSize;
    return this.executor.run(data, this.batchOf(data, perSample, request.from === 'image' ? 'images' : 'latents'), request);
  }

  /** Reconstructions, same shape as the input. */
  async reconstruct(images: Float32Array): Promise<Float32Array> {
    return (await this.run(images, { from: 'image', want: ['reconstruction'] })).reconstruction!;
  }

  /** Per-sample mean squared error between each image and its reconstruction: [n]. */
  async reconstructionError(images: Float32Array): Promise<Float32Array> {
    return (await this.run(images, { from: 'image', want: ['mse'] })).mse!;
  }

  /** Reconstructions and per-sample errors from one pass. */
  async reconstructWithError(images: Float32Array): Promise<{ reconstruction: Float32Array; error: Float32Array }> {
    const r = await this.run(images, { from: 'image', want: ['reconstruction', 'mse'] });
    return { reconstruction: r.reconstruction!, error: r.mse! };
  }

  /**
   * Several outputs of one forward pass (one command buffer per chunk): any of 'latent' [n, latentDim],
   * 'reconstruction', and the per-sample statistics 'mse', 'hf' (mean square over the interior
   * pixels of the 3x3 Laplacian of the channel mean of input minus reconstruction) and 'ssim' (mean SSIM, a similarity), each [n], computed on the GPU.
   */
  async measure(images: Float32Array, want: readonly Endpoint[]): Promise<RunResult> {
    if (want.length === 0) throw new UsageError('measure: ask for at least one output');
    return this.run(images, { from: 'image', want });
  }

  /** Latent vectors: [n, latentDim]. */
  async encode(images: Float32Array): Promise<Float32Array> {
    return (await this.run(images, { from: 'image', want: ['latent'] })).latent!;
  }

  /** Images decoded from latents: [n, C, H, W]. */
  async decode(latents: Float32Array): Promise<Float32Array> {
    return (await this.run(latents, { from: 'latent', want: ['reconstruction'] })).reconstruction!;
  }

  /** Largest number of samples run in one command buffer; larger batches are split. */
  get maxChunk(): number {
    return this.executor.maxChunk;
  }

  /** maxChunk and what set it: the binding limit, the activation budget or the maxChunk option. */
  get chunking(): Chunking {
    return this.executor.chunking;
  }

  /** One forward pass over `batch` (<= maxChunk) samples already on the GPU: GPU time only, for benchmarks. */
  forwardResident(batch: number): Promise<void> {
    return this.executor.runResident(batch, { from: 'image', want: ['reconstruction'] });
  }

  /**
   * GPU time per layer of one forward pass over `batch` (<= maxChunk) samples (needs timestamp-query);
   * `want` adds the statistics' kernels ('mse', 'hf', 'ssim') after the decoder.
   */
  profileLayers(batch: number, want: readonly Endpoint[] = ['reconstruction']) {
    return this.executor.profile(batch, { from: 'image', want });
  }

  /** Releases GPU memory; also destroys the device when the model opened it. */
  dispose(): void {
    this.executor.destroy();
    if (this.ownsGpu) this.gpu.destroy();
  }
}

/**
 * Loads a PyTorch checkpoint (.ckpt/.pt/.pth) or safetensors file and prepares it on the GPU. The
 * source is a file path (Node), a URL, an ArrayBuffer or typed array (a Node Buffer too), or a
 * File/Blob; without one, the bundled default model (its thresholds: defaultThresholds()).
 */
export async function loadModel(source?: ModelSource, options: LoadOptions = {}): Promise<Model> {
  return Model.create(await resolveWeights(source, options.architecture), options);
}
