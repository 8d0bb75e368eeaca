// A kernel's WGSL source, its uniform block and its binding list, declared together. Pipelines are
// made from a shader plus override constants and cached per device under a key derived from both,
// so a variant can never be served by a pipeline compiled for another. WGSL comes as strings: every
// .wgsl file under src/ is bundled at build time into wgsl-bundle.ts (tools/build.mjs), so nothing
// is read from disk at run time and the same code runs in a browser.
import { Gpu, GpuError } from './device.js';
import type { UniformFields, UniformStruct, UniformValues } from './uniforms.js';
import { WGSL_SOURCES } from './wgsl-bundle.js';

/** Binding 0 is always the uniform block; the rest follow in the order listed here. */
export type StorageAccess = 'read' | 'read_write';
export type OverrideConstants = Readonly<Record<string, number>>;
export type WgslExtension = 'subgroups' | 'f16' | 'chromium_experimental_subgroup_matrix';

/**
 * A bundled .wgsl file by its path under src/ ('kernels/mse/mse.wgsl'), or WGSL text with a name
 * for shaders outside src/ (benchmarks, tests).
 */
export type WgslSource = string | { name: string; code: string };

export interface KernelShaderSpec<F extends UniformFields> {
  /** Unique name, part of every pipeline cache key. */
  id: string;
  /** The kernel's WGSL; it must not declare the uniform struct itself (it is injected from `uniforms`). */
  source: WgslSource;
  /** Shared WGSL snippets (helper functions, their overrides) placed before the source. */
  includes?: readonly WgslSource[];
  /** Generated declarations (type aliases, tile constants) placed before the includes. */
  prelude?: string;
  /** WGSL extensions the source uses (emitted as `enable` directives, which must precede everything). */
  enables?: readonly WgslExtension[];
  uniforms: UniformStruct<F>;
  storage: readonly StorageAccess[];
}

export class KernelShader<F extends UniformFields> {
  readonly id: string;
  readonly code: string;
  readonly uniforms: UniformStruct<F>;
  readonly storage: readonly StorageAccess[];
  readonly enables: readonly WgslExtension[];

  constructor(spec: KernelShaderSpec<F>) {
    this.id = spec.id;
    this.uniforms = spec.uniforms;
    this.storage = spec.storage;
    this.enables = spec.enables ?? [];
    const directives = this.enables.map((e) => `enable ${e};\n`).join('');
    const parts = [...(spec.includes ?? []), spec.source].map(wgslText);
    this.code = [directives + spec.uniforms.wgsl, spec.prelude ?? '', ...parts].join('\n');
  }
}

function wgslText(source: WgslSource): string {
  if (typeof source !== 'string') return source.code;
  const code = WGSL_SOURCES.get(source);
  if (code === undefined) throw new GpuError(`${source}: no such WGSL file bundled from src/ (rebuild with tools/build.mjs?)`);
  return code;
}

const declaredIds = new Set<string>();
export function kernelShader<F extends UniformFields>(spec: KernelShaderSpec<F>): KernelShader<F> {
  if (declaredIds.has(spec.id)) throw new GpuError(`kernel shader id "${spec.id}" is declared twice`);
  declaredIds.add(spec.id);
  return new KernelShader(spec);
}

export function pipelineKey(shader: KernelShader<UniformFields>, constants: OverrideConstants): string {
  const parts = Object.keys(constants).sort().map((k) => `${k}=${constants[k]}`);
  return `${shader.id}|${parts.join(',')}`;
}

interface DeviceCache {
  modules: Map<string, GPUShaderModule>;
  layouts: Map<string, { group: GPUBindGroupLayout; pipeline: GPUPipelineLayout }>;
  pipelines: Map<string, GPUComputePipeline>;
}
const caches = new WeakMap<Gpu, DeviceCache>();
function cacheOf(gpu: Gpu): DeviceCache {
  let cache = caches.get(gpu);
  if (!cache) {
    cache = { modules: new Map(), layouts: new Map(), pipelines: new Map() };
    caches.set(gpu, cache);
  }
  return cache;
}

function layoutsOf(gpu: Gpu, shader: KernelShader<UniformFields>): { group: GPUBindGroupLayout; pipeline: GPUPipelineLayout } {
  const cache = cacheOf(gpu);
  let layouts = cache.layouts.get(shader.id);
  if (!layouts) {
    // Explicit layouts (not 'auto') keep every declared binding even when a variant never reads it.
    const entries: GPUBindGroupLayoutEntry[] = [
      { binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform' } },
      ...shader.storage.map((access, i) => ({
        binding: i + 1,
        visibility: GPUShaderStage.COMPUTE,
        buffer: { type: access === 'read' ? ('read-only-storage' as const) : ('storage' as const) },
      })),
    ];
    const group = gpu.device.createBindGroupLayout({ label: shader.id, entries });
    layouts = { group, pipeline: gpu.device.createPipelineLayout({ label: shader.id, bindGroupLayouts: [group] }) };
    cache.layouts.set(shader.id, layouts);
  }
  return layouts;
}

/** A shader and the override constants of one pipeline made from it. */
export interface PipelineRequest<F extends UniformFields = UniformFields> {
  shader: KernelShader<F>;
  constants: OverrideConstants;
}

function moduleOf(gpu: Gpu, shader: KernelShader<UniformFields>): GPUShaderModule {
  const cache = cacheOf(gpu);
  let module = cache.modules.get(shader.id);
  if (!module) {
    module = gpu.device.createShaderModule({ label: shader.id, code: shader.code });
    cache.modules.set(shader.id, module);
  }
  return module;
}

function pipelineDescriptor(gpu: Gpu, shader: KernelShader<UniformFields>, constants: OverrideConstants): GPUComputePipelineDescriptor {
  return { label: pipelineKey(shader, constants), layout: layoutsOf(gpu, shader).pipeline, compute: { module: moduleOf(gpu, shader), entryPoint: 'main', constants: { ...constants } } };
}

export function computePipeline(gpu: Gpu, shader: KernelShader<UniformFields>, constants: OverrideConstants): GPUComputePipeline {
  const cache = cacheOf(gpu);
  const key = pipelineKey(shader, constants);
  let pipeline = cache.pipelines.get(key);
  if (!pipeline) {
    pipeline = gpu.device.createComputePipeline(pipelineDescriptor(gpu, shader, constants));
    cache.pipelines.set(key, pipeline);
  }
  return pipeline;
}

/** The compiler's errors for a shader's module on this device, one line each ([] when it compiles). */
export async function shaderErrors(gpu: Gpu, shader: KernelShader<UniformFields>): Promise<string[]> {
  // A module that does not compile also raises a validation error; its messages are read below, and
  // caught here it cannot fail the next unrelated GPU call.
  gpu.device.pushErrorScope('validation');
  const module = moduleOf(gpu, shader);
  await gpu.device.popErrorScope();
  const info = await module.getCompilationInfo();
  return info.messages.filter((m) => m.type === 'error').map((m) => `${m.lineNum}:${m.linePos} ${m.message.replace(/\s+/g, ' ').trim()}`);
}

/**
 * Creates a pipeline and waits for the device's verdict: resolves once it is compiled and cached
 * (later computePipeline calls reuse it), rejects with the compiler's or validator's message.
 */
export async function compilePipeline(gpu: Gpu, request: PipelineRequest): Promise<void> {
  const cache = cacheOf(gpu);
  const key = pipelineKey(request.shader, request.constants);
  if (cache.pipelines.has(key)) return;
  const errors = await shaderErrors(gpu, request.shader);
  if (errors.length > 0) throw new GpuError(`${request.shader.id}: ${errors[0]}${errors.length > 1 ? ` (and ${errors.length - 1} more)` : ''}`);
  try {
    cache.pipelines.set(key, await gpu.device.createComputePipelineAsync(pipelineDescriptor(gpu, request.shader, request.constants)));
  } catch (err) {
    throw new GpuError(`${key}: ${(err as Error).message.replace(/\s+/g, ' ').trim()}`);
  }
}

/** Number of distinct pipelines compiled on this device (for tests and diagnostics). */
export function pipelineCount(gpu: Gpu): number {
  return cacheOf(gpu).pipelines.size;
}

/** A bind group and the uniform buffer it owns (freed with the dispatch that uses it). */
export interface KernelBinding {
  group: GPUBindGroup;
  uniforms: GPUBuffer;
}

/** Uploads the uniform values and binds them with the storage buffers, in the shader's declared order. */
export function bindKernel<F extends UniformFields>(
  gpu: Gpu,
  shader: KernelShader<F>,
  label: string,
  values: UniformValues<F>,
  storage: readonly GPUBuffer[],
): KernelBinding {
  if (storage.length !== shader.storage.length) {
    throw new GpuError(`${label}: ${shader.id} takes ${shader.storage.length} storage buffers, got ${storage.length}`);
  }
  const uniforms = gpu.createBuffer(shader.uniforms.byteSize, 'uniform', `${label} uniforms`);
  gpu.write(uniforms, shader.uniforms.pack(values));
  const group = gpu.device.createBindGroup({
    label,
    layout: layoutsOf(gpu, shader as unknown as KernelShader<UniformFields>).group,
    entries: [uniforms, ...storage].map((buffer, binding) => ({ binding, resource: { buffer } })),
  });
  return { group, uniforms };
}
