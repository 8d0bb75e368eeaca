// The kernel compile gate: every compute pipeline the engine can create for the reference
// architectures, built on one device. Every shader module is compiled (its compiler messages read);
// every pipeline that fits the device's limits is created and waited for; the rest are listed as
// skipped with the reason. A device without a feature a kernel needs skips that kernel's modules.
// On Dawn's null backend (every feature, nothing runs) this checks in CI the code only a GPU would
// otherwise compile: the tensor-core kernels, for fragment shapes the gate names itself because the
// null backend reports none.
import type { FragmentShape, Gpu } from '../gpu/device.js';
import { compilePipeline, pipelineKey, shaderErrors, type PipelineRequest } from '../gpu/shader.js';
import { referenceArchitecture, type Architecture } from './architecture.js';
import { type ConvLayer, convLayers, nchwCases } from './lower.js';
import { buildPlan, type Plan } from './plan.js';
import { fragmentOf, gemmPipelines, tileKey, tileProblem, type GemmBackend, type GemmDevice, type Precision } from '../kernels/conv2d/gemm.js';
import { MSE_PIPELINE } from '../kernels/mse/mse.js';
import { HF_KERNEL } from '../kernels/stats/hf.js';
import { imagePairPipeline } from '../kernels/stats/image-pair.js';
import { SSIM_KERNEL } from '../kernels/stats/ssim.js';
import { TANH_PIPELINE } from '../kernels/elementwise/tanh.js';
import { ADAMW_PIPELINE } from '../kernels/optim/adamw.js';
import { GRAD_NORM_PIPELINES } from '../kernels/optim/grad-norm.js';
import { DROPOUT_MASK_PIPELINE } from '../kernels/random/dropout-mask.js';
import { activationBackwardPipeline, BACKWARD_ACTIVATIONS } from '../kernels/backward/activation-backward.js';
import { MSE_BACKWARD_PIPELINE } from '../kernels/backward/mse-backward.js';
import { ACCUMULATE_PIPELINE } from '../kernels/backward/accumulate.js';
import { DROPOUT_BACKWARD_PIPELINE } from '../kernels/backward/dropout-backward.js';
import { BATCHNORM_BACKWARD_PIPELINES, BATCHNORM_FORWARD_PIPELINES } from '../kernels/batchnorm/batchnorm.js';
import { candidateTiles } from '../kernels/variants.js';

/**
 * Fragment shapes (f16 -> f32) adapters report in subgroupMatrixConfigs, with their fixed subgroup
 * size: NVIDIA through VK_KHR_cooperative_matrix (16x16x16, 16x8x16, 16x8x8 on 32 lanes), Apple's
 * simdgroup matrices (8x8x8 on 32) and Intel Xe (8x16x16 on 16).
 */
export const GATE_FRAGMENTS: readonly FragmentShape[] = [
  { m: 16, n: 16, k: 16, subgroup: 32 },
  { m: 16, n: 8, k: 16, subgroup: 32 },
  { m: 16, n: 8, k: 8, subgroup: 32 },
  { m: 8, n: 8, k: 8, subgroup: 32 },
  { m: 8, n: 16, k: 16, subgroup: 16 },
];

/** The architectures the gate covers: the bundled model's width (8) and the reference's (64), both placements, both activations. */
function gateArchitectures(): Architecture[] {
  const out: Architecture[] = [];
  for (const width of [8, 64]) {
    out.push(referenceArchitecture(width), referenceArchitecture(width, 'enc4-res'), { ...referenceArchitecture(width), activation: 'leaky_relu' });
  }
  return out;
}

// Batches whose tiles differ: one sample (split-K, small NCHW tilings) and a GPU-sized batch.
const GATE_BATCHES = [1, 256];

/** Limits no current adapter exceeds and the features the kernels use, so that tiles any GPU may pick are compiled too. */
const GPU_CLASS_LIMITS = { maxComputeInvocationsPerWorkgroup: 1024, maxComputeWorkgroupStorageSize: 65536 };
const GPU_CLASS_FEATURES: ReadonlySet<string> = new Set(['shader-f16', 'subgroups', 'chromium-experimental-subgroup-matrix']);

/** One pipeline the engine can create, where it comes from, and why it cannot be made here (if so). */
export interface GateCase {
  /** The kernel: a convolution variant (as --variant names it), or linear, mse, hf, ssim, tanh, adamw, grad-norm, dropout-mask,
   * activation-backward, mse-backward, accumulate, dropout-backward, batchnorm-forward, batchnorm-backward. */
  kernel: string;
  /** The variant, precision, layer and tile it serves (the first of those that share the pipeline). */
  what: string;
  request: PipelineRequest;
  /** The subgroup-matrix shape of a 'matrix' case: '16x16x16/32'. */
  fragment?: string;
  /** A feature the device lacks: the module is not compiled. */
  missing?: string;
  /** A limit the device has too little of: the module is compiled, the pipeline not made. */
  exceeds?: string;
}

export interface GateFailure {
  kernel: string;
  what: string;
  message: string;
}

export interface GateReport {
  device: string;
  modules: { compiled: number; failed: number; skipped: number };
  pipelines: { created: number; failed: number; skipped: number };
  /** Distinct reasons a module or pipeline was skipped, with how many each. */
  skipped: { reason: string; count: number }[];
  /** Pipelines created per kernel ('matrix' per fragment shape: 'matrix 16x16x16/32'). */
  created: Record<string, number>;
  failures: GateFailure[];
  fragments: FragmentShape[];
}

/**
 * The fragment shapes the tensor-core kernels are gated with on `gpu`, and why they cannot be
 * compiled there, if so: the shape the engine picked on a real adapter; on the null backend, which
 * reports none, every shape in GATE_FRAGMENTS.
 */
export function gateFragments(gpu: Gpu): { shapes: FragmentShape[]; missing?: string } {
  const lacking = ['chromium-experimental-subgroup-matrix', 'shader-f16', 'subgroups'].find((f) => !gpu.features.has(f));
  if (lacking) return { shapes: [...GATE_FRAGMENTS], missing: `the device lacks ${lacking}` };
  if (gpu.fragment) return { shapes: [gpu.fragment] };
  if (gpu.subgroupMatrixConfigs.length === 0) return { shapes: [...GATE_FRAGMENTS] };
  return { shapes: [...GATE_FRAGMENTS], missing: 'the device reports no f16 -> f32 fragment shape on a fixed subgroup size' };
}

function featureProblem(gpu: Gpu, precision: Precision, extra: readonly string[] = []): string | undefined {
  const needs = [...(precision === 'f16' ? ['shader-f16'] : []), ...extra];
  const lacking = needs.find((f) => !gpu.features.has(f));
  return lacking && `the device lacks ${lacking}`;
}

type AddCase = (kernel: string, what: string, request: PipelineRequest, extra?: { missing?: string; exceeds?: string; fragment?: string }) => void;

interface GemmFamily {
  variant: string;
  backend: GemmBackend;
  precisions: Precision[];
  /** undefined: the backend's own (emulated) shape. */
  fragments: (FragmentShape | undefined)[];
  missing?: string;
}

/** Every tile `rcae tune` can try for one layer in one GEMM family, on any adapter that has its fragment. */
function gemmCases(gpu: Gpu, family: GemmFamily, plan: Plan, layerAt: (precision: Precision) => ConvLayer, add: AddCase): void {
  const { variant, backend } = family;
  for (const precision of family.precisions) {
    const { node, spec, inH, inW, input, output } = layerAt(precision);
    const missing = family.missing ?? featureProblem(gpu, precision);
    const options = { precision, input, output };
    for (const given of family.fragments) {
      const fragment = fragmentOf(gpu, backend, given);
      // What an adapter reporting this fragment would choose from: its subgroup size, GPU-class limits.
      const sizes = backend === 'matrix' ? { subgroupMinSize: fragment.subgroup, subgroupMaxSize: fragment.subgroup } : gpu;
      const adapter: GemmDevice = { features: GPU_CLASS_FEATURES, fragment, subgroupMinSize: sizes.subgroupMinSize, subgroupMaxSize: sizes.subgroupMaxSize, limits: GPU_CLASS_LIMITS };
      const shape = backend === 'matrix' ? `${fragment.m}x${fragment.n}x${fragment.k}/${fragment.subgroup}` : undefined;
      for (const batch of GATE_BATCHES) {
        // The candidates hold the heuristic's shape at every K step, so the device's own choice too.
        for (const tile of candidateTiles(adapter, spec, batch, inH, inW, precision, backend, fragment)) {
          const exceeds = missing ? undefined : (tileProblem(gpu, tile, precision, fragment) ?? undefined);
          const matrix = tile.backend === 'matrix' ? shape : undefined;
          const what = `${variant} ${precision} ${tileKey(tile)}${matrix ? ` frag ${matrix}` : ''} (${node.name}, w=${plan.arch.baseWidth})`;
          for (const request of gemmPipelines(spec, options, tile, fragment)) add(variant, what, request, { missing, exceeds, fragment: matrix });
        }
      }
    }
  }
}

/** Every pipeline the engine can create on `gpu` (or could, where a feature or limit is missing). */
export function gateCases(gpu: Gpu): GateCase[] {
  const cases = new Map<string, GateCase>();
  const add: AddCase = (kernel, what, request, extra = {}) => {
    const key = pipelineKey(request.shader, request.constants);
    if (!cases.has(key)) cases.set(key, { kernel, what, request, ...extra });
  };
  const matrix = gateFragments(gpu);
  const families: GemmFamily[] = [
    { variant: 'fma', backend: 'fma', precisions: ['f32', 'f16'], fragments: [undefined] },
    { variant: 'matrix-emulated', backend: 'matrix-emulated', precisions: ['f16'], fragments: [undefined] },
    { variant: 'matrix', backend: 'matrix', precisions: ['f16'], fragments: matrix.shapes, missing: matrix.missing },
  ];
  for (const arch of gateArchitectures()) {
    const plan = buildPlan(arch);
    const layers = { f32: convLayers(plan, 'f32'), f16: convLayers(plan, 'f16') };
    layers.f32.forEach(({ node }, i) => {
      for (const family of families) gemmCases(gpu, family, plan, (precision) => layers[precision][i], add);
      // The NCHW family: the float32 convolutions, and the linear kernel for the fully connected layers.
      for (const batch of GATE_BATCHES) {
        for (const c of nchwCases(plan, node, batch)) add(c.kernel, c.what, c.request, { missing: featureProblem(gpu, 'f32', c.kernel === 'subgroup' ? ['subgroups'] : []) });
      }
    });
  }
  add('mse', 'mse', MSE_PIPELINE);
  add('hf', 'hf', imagePairPipeline(HF_KERNEL));
  add('ssim', 'ssim', imagePairPipeline(SSIM_KERNEL));
  add('tanh', 'tanh', TANH_PIPELINE);
  add('adamw', 'adamw', ADAMW_PIPELINE);
  for (const request of GRAD_NORM_PIPELINES) add('grad-norm', `grad-norm FINAL=${request.constants.FINAL}`, request);
  add('dropout-mask', 'dropout-mask', DROPOUT_MASK_PIPELINE);
  for (const activation of BACKWARD_ACTIVATIONS) add('activation-backward', `activation-backward ${activation}`, activationBackwardPipeline(activation));
  add('mse-backward', 'mse-backward', MSE_BACKWARD_PIPELINE);
  add('accumulate', 'accumulate', ACCUMULATE_PIPELINE);
  add('dropout-backward', 'dropout-backward', DROPOUT_BACKWARD_PIPELINE);
  for (const request of BATCHNORM_FORWARD_PIPELINES) add('batchnorm-forward', pipelineKey(request.shader, request.constants), request);
  for (const request of BATCHNORM_BACKWARD_PIPELINES) add('batchnorm-backward', pipelineKey(request.shader, request.constants), request);
  return [...cases.values()];
}

// Skips grouped by the limit, not by each tile's own count.
function limitReason(problem: string): string {
  const limit = /exceed the adapter's (\d+)$/.exec(problem)?.[1];
  if (limit) return /workgroup memory/.test(problem) ? `more workgroup memory than the device's ${limit} bytes` : `more invocations than the device's ${limit}`;
  const subgroup = /largest subgroup \((\d+)\)$/.exec(problem)?.[1];
  if (subgroup) return `subgroup-matrix workgroups not a multiple of the device's largest subgroup (${subgroup})`;
  return problem;
}

export interface GateOptions {
  /**
   * Make pipelines only of these kernels (the rest: modules compiled, pipelines skipped). For
   * adapters whose pipeline compiler is too slow for every tile: in Chromium, SwiftShader's GPU
   * process is stopped by the browser's watchdog while compiling the large GEMM tiles.
   */
  pipelinesOf?: ReadonlySet<string>;
  /** Called after each case, for progress on long runs. */
  onCase?: (done: number, total: number) => void;
}

/** Compiles every module and creates every pipeline of `cases` on `gpu`. */
export async function runGate(gpu: Gpu, cases: readonly GateCase[], options: GateOptions = {}): Promise<GateReport> {
  const matrix = gateFragments(gpu);
  const report: GateReport = {
    device: gpu.adapter.description || [gpu.adapter.vendor, gpu.adapter.architecture, gpu.adapter.device].filter(Boolean).join(' ') || gpu.adapter.backend,
    modules: { compiled: 0, failed: 0, skipped: 0 },
    pipelines: { created: 0, failed: 0, skipped: 0 },
    skipped: [],
    created: {},
    failures: [],
    fragments: matrix.missing ? [] : matrix.shapes,
  };
  const reasons = new Map<string, number>();
  const skip = (reason: string) => reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
  const moduleVerdict = new Map<string, string[] | 'skipped'>();
  for (const [i, c] of cases.entries()) {
    const id = c.request.shader.id;
    if (!moduleVerdict.has(id)) {
      if (c.missing) {
        moduleVerdict.set(id, 'skipped');
        report.modules.skipped++;
      } else {
        const errors = await shaderErrors(gpu, c.request.shader);
        moduleVerdict.set(id, errors);
        if (errors.length === 0) report.modules.compiled++;
        else {
          report.modules.failed++;
          report.failures.push({ kernel: c.kernel, what: c.what, message: `${id}: ${errors[0]}${errors.length > 1 ? ` (and ${errors.length - 1} more)` : ''}` });
        }
      }
    }
    const verdict = moduleVerdict.get(id)!;
    const notMade = options.pipelinesOf && !options.pipelinesOf.has(c.kernel) ? `pipelines of ${c.kernel} not made on request` : undefined;
    if (c.missing || c.exceeds || notMade) {
      report.pipelines.skipped++;
      skip(c.missing ?? notMade ?? limitReason(c.exceeds!));
    } else if (verdict !== 'skipped' && verdict.length === 0) {
      try {
        await compilePipeline(gpu, c.request);
        report.pipelines.created++;
        const kernel = c.fragment ? `${c.kernel} ${c.fragment}` : c.kernel;
        report.created[kernel] = (report.created[kernel] ?? 0) + 1;
      } catch (err) {
        report.pipelines.failed++;
        report.failures.push({ kernel: c.kernel, what: c.what, message: (err as Error).message });
      }
    } else {
      // Its module failed, which is already reported once.
      report.pipelines.failed++;
    }
    options.onCase?.(i + 1, cases.length);
  }
  report.skipped = [...reasons].map(([reason, count]) => ({ reason, count })).sort((a, b) => b.count - a.count);
  return report;
}
