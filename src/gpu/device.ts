// The device wrapper every kernel runs through, and the seam where adapters come from (Dawn in
// Node, navigator.gpu in a browser). Nothing here knows about models or kernels, or about the
// platform: it allocates buffers, moves bytes, submits work and turns WebGPU errors into GpuError
// with a message that says which step failed.

// The WebGPU types (GPUDevice, GPUBuffer, ...) are globals from @webgpu/types; preserved in the
// emitted .d.ts so a package consumer's strict tsc finds them without configuring anything.
/// <reference types="@webgpu/types" preserve="true" />

import { RcaeError } from '../errors.js';

export interface AdapterSummary {
  index: number;
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  backend: string;
  isFallback: boolean;
  isSoftware: boolean;
}

export interface OpenOptions {
  /**
   * Adapter index from listAdapters(), or a case-insensitive substring of its vendor/device/description
   * (Node; RCAE_ADAPTER when absent). A browser offers one adapter and ignores it.
   */
  adapter?: string;
  /**
   * Drop Dawn's safety nets for speed: bounds clamping on every buffer access (disable_robustness)
   * and the polyfills that make integer division by zero defined. A kernel bug then reads or writes
   * out of bounds instead of being clamped. Off by default; never used by the tests. Dawn (Node) only.
   */
  fastUnsafe?: boolean;
  /**
   * Open with the Dawn toggles a real GPU gets (allow_unsafe_apis, vulkan_enable_f16_on_nvidia) even
   * on a software adapter, so that path is exercised without a GPU. Dawn (Node) only.
   */
  gpuToggles?: boolean;
  /**
   * 'null': Dawn's null backend, which offers every feature and compiles shaders but runs nothing
   * (the kernel compile gate). Dawn (Node) only.
   */
  backend?: 'null';
  /**
   * Turn off Dawn's timestamp quantization (the `timestamp_quantization` toggle), which rounds every
   * timestamp query down to ~65 us so that pages cannot time each other. For benchmarks, per-layer
   * profiles and tuning, whose small dispatches it would read as 0 or 65 us. Dawn (Node) only.
   */
  exactTimestamps?: boolean;
}

/** A subgroup-matrix shape the device offers for f16 operands and f32 results. */
export interface FragmentShape {
  m: number;
  n: number;
  k: number;
  /** Invocations per subgroup (fixed on the adapter) that share a fragment. */
  subgroup: number;
}

export class GpuError extends RcaeError {
  readonly kind = 'device';
}

/** An adapter, and the Dawn toggles it was opened with (none in a browser). */
export interface FoundAdapter {
  summary: AdapterSummary;
  adapter: GPUAdapter;
  toggles: string[];
  /** Dawn toggles turned off (disable-dawn-features). */
  disabledToggles: string[];
}

/** Where adapters come from: Dawn in Node (src/node/dawn.ts), navigator.gpu in a browser. */
export interface GpuProvider {
  requestAdapter(options: OpenOptions): Promise<FoundAdapter>;
}

const softwarePattern = /llvmpipe|lavapipe|swiftshader|software|warp|basic render/i;

export function summarizeAdapter(index: number, backend: string, adapter: GPUAdapter): AdapterSummary {
  const info = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  const isFallback = Boolean(info.isFallbackAdapter ?? (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter);
  const text = `${info.vendor} ${info.architecture} ${info.device} ${info.description}`;
  return {
    index,
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    description: info.description,
    backend,
    isFallback,
    isSoftware: isFallback || softwarePattern.test(text),
  };
}

/** The standard entry point, present in browsers that support WebGPU. */
export const navigatorGpuProvider: GpuProvider = {
  async requestAdapter() {
    const gpu = (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
    if (!gpu) throw new GpuError('WebGPU is not available here (no navigator.gpu): use a browser with WebGPU enabled, or Node with the rcae-webgpu package');
    const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) throw new GpuError('WebGPU is present but offers no adapter: it is disabled for this GPU or this browser (in Chrome, chrome://gpu says why)');
    return { summary: summarizeAdapter(0, 'browser', adapter), adapter, toggles: [], disabledToggles: [] };
  },
};

let provider: GpuProvider = navigatorGpuProvider;

export function setGpuProvider(next: GpuProvider): void {
  provider = next;
}

const wantedFeatures = ['shader-f16', 'subgroups', 'timestamp-query', 'chromium-experimental-subgroup-matrix'] as GPUFeatureName[];

/** Every numeric limit of a limits object (adapter or device), by name. */
function numericLimits(limits: GPUSupportedLimits): Record<string, number> {
  const out: Record<string, number> = {};
  for (const key in limits) {
    const value = (limits as unknown as Record<string, unknown>)[key];
    if (typeof value === 'number') out[key] = value;
  }
  return out;
}

interface MatrixConfig { componentType: string; resultComponentType: string; M: number; N: number; K: number }

function subgroupMatrixConfigs(adapter: GPUAdapter): MatrixConfig[] {
  const info = adapter.info as GPUAdapterInfo & { subgroupMatrixConfigs?: MatrixConfig[] };
  return [...(info.subgroupMatrixConfigs ?? [])].map((c) => ({ componentType: c.componentType, resultComponentType: c.resultComponentType, M: c.M, N: c.N, K: c.K }));
}

// The f16 -> f32 shape to use: 16x16x16 where offered (NVIDIA), else the largest. The kernels map a
// subgroup's invocations by index, so the subgroup size must be fixed on the adapter.
function pickFragment(configs: MatrixConfig[], subgroupMin: number, subgroupMax: number): FragmentShape | undefined {
  if (subgroupMin === 0 || subgroupMin !== subgroupMax) return undefined;
  const usable = configs.filter((c) => c.componentType === 'f16' && c.resultComponentType === 'f32' && (c.M * c.N) % subgroupMin === 0);
  const best = usable.find((c) => c.M === 16 && c.N === 16 && c.K === 16) ?? usable.sort((a, b) => b.M * b.N * b.K - a.M * a.N * a.K)[0];
  return best && { m: best.M, n: best.N, k: best.K, subgroup: subgroupMin };
}

export type BufferKind = 'storage' | 'uniform' | 'readback';

// Read when a buffer is made, not at import: in Node the GPUBufferUsage global appears only once the
// Dawn provider is loaded.
const bufferUsage = (kind: BufferKind): number =>
  ({
    storage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    uniform: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    readback: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  })[kind];

const roundUp = (n: number, to: number): number => Math.ceil(n / to) * to;

export class Gpu {
  readonly device: GPUDevice;
  readonly adapter: AdapterSummary;
  readonly features: ReadonlySet<string>;
  readonly limits: GPUSupportedLimits;
  /** Smallest subgroup the adapter may run; 0 when the device has no 'subgroups' feature. */
  readonly subgroupMinSize: number;
  readonly subgroupMaxSize: number;
  /** The subgroup-matrix shape kernels may use (tensor cores); undefined when the device has none. */
  readonly fragment: FragmentShape | undefined;
  /** What the adapter reports in subgroupMatrixConfigs (for `rcae info`). */
  readonly subgroupMatrixConfigs: readonly MatrixConfig[];
  /** Dawn toggles the device was made with. */
  readonly toggles: readonly string[];
  /** Dawn toggles turned off for it (timestamp_quantization for exactTimestamps). */
  readonly disabledToggles: readonly string[];
  private lostReason: string | undefined;
  private uncaptured: string | undefined;
  private destroyed = false;
  private live = 0;

  private constructor(device: GPUDevice, adapter: AdapterSummary, subgroups: { min: number; max: number }, configs: MatrixConfig[], toggles: { enabled: string[]; disabled: string[] }) {
    this.device = device;
    this.adapter = adapter;
    this.features = new Set(device.features);
    this.limits = device.limits;
    this.subgroupMinSize = this.features.has('subgroups') ? subgroups.min : 0;
    this.subgroupMaxSize = this.features.has('subgroups') ? subgroups.max : 0;
    this.subgroupMatrixConfigs = configs;
    this.fragment = this.features.has('chromium-experimental-subgroup-matrix') && this.features.has('shader-f16') ? pickFragment(configs, this.subgroupMinSize, this.subgroupMaxSize) : undefined;
    this.toggles = toggles.enabled;
    this.disabledToggles = toggles.disabled;
    void device.lost.then((info) => {
      if (!this.destroyed) this.lostReason = `${info.reason}: ${info.message}`;
    });
    // Errors outside checked() would otherwise only be printed by Dawn; keep the first so the next
    // call fails loudly instead of returning results computed by a pipeline that never ran.
    device.onuncapturederror = (event) => {
      this.uncaptured ??= event.error.message;
    };
  }

  static async open(opts: OpenOptions = {}): Promise<Gpu> {
    const { adapter, summary, toggles, disabledToggles } = await provider.requestAdapter(opts);
    const requiredFeatures = wantedFeatures.filter((f) => adapter.features.has(f));
    let device: GPUDevice;
    try {
      device = await adapter.requestDevice({ requiredFeatures, requiredLimits: numericLimits(adapter.limits), label: 'rcae' });
    } catch (err) {
      throw new GpuError(`cannot create a device on ${summary.description || summary.device}: ${(err as Error).message}`);
    }
    const info = adapter.info as GPUAdapterInfo & { subgroupMinSize?: number; subgroupMaxSize?: number };
    return new Gpu(device, summary, { min: info.subgroupMinSize ?? 0, max: info.subgroupMaxSize ?? 0 }, subgroupMatrixConfigs(adapter), { enabled: toggles, disabled: disabledToggles });
  }

  private ensureUsable(what: string): void {
    if (this.destroyed) throw new GpuError(`${what}: the GPU device was already destroyed`);
    if (this.lostReason) throw new GpuError(`${what}: the GPU device was lost (${this.lostReason})`);
    if (this.uncaptured) {
      const message = this.uncaptured;
      this.uncaptured = undefined;
      throw new GpuError(`${what}: an earlier GPU operation failed: ${message}`);
    }
  }

  createBuffer(byteLength: number, usage: BufferKind, label: string): GPUBuffer {
    this.ensureUsable(`create buffer ${label}`);
    if (!Number.isSafeInteger(byteLength) || byteLength < 0) throw new GpuError(`create buffer ${label}: bad size ${byteLength}`);
    // Copies and bindings want 4-byte (uniforms: 16-byte) multiples and non-empty buffers.
    const size = Math.max(usage === 'uniform' ? 16 : 4, roundUp(byteLength, usage === 'uniform' ? 16 : 4));
    const limit = usage === 'storage' ? Math.min(this.limits.maxBufferSize, this.limits.maxStorageBufferBindingSize) : this.limits.maxBufferSize;
    if (size > limit) throw new GpuError(`create buffer ${label}: ${size} bytes exceeds this adapter's limit of ${limit}`);
    const buffer = this.device.createBuffer({ size, usage: bufferUsage(usage), label });
    // Counted so that a long-running process can prove it frees what it allocates.
    this.live++;
    const destroy = buffer.destroy.bind(buffer);
    let freed = false;
    buffer.destroy = () => {
      if (!freed) this.live--;
      freed = true;
      destroy();
    };
    return buffer;
  }

  /** Buffers made through createBuffer/upload and not yet destroyed. */
  get liveBuffers(): number {
    return this.live;
  }

  upload(data: Float32Array | Uint32Array | Uint16Array, label: string): GPUBuffer {
    const buffer = this.createBuffer(data.byteLength, 'storage', label);
    this.write(buffer, data);
    return buffer;
  }

  write(buffer: GPUBuffer, data: Float32Array | Uint32Array | Uint16Array, byteOffset = 0): void {
    this.ensureUsable(`write ${buffer.label}`);
    this.device.queue.writeBuffer(buffer, byteOffset, data.buffer, data.byteOffset, data.byteLength);
  }

  async read(buffer: GPUBuffer, byteLength: number, byteOffset = 0): Promise<Float32Array> {
    this.ensureUsable(`read ${buffer.label}`);
    if (byteLength % 4 !== 0 || byteOffset % 4 !== 0) throw new GpuError(`read ${buffer.label}: offset and length must be multiples of 4`);
    if (byteOffset + byteLength > buffer.size) throw new GpuError(`read ${buffer.label}: ${byteOffset}+${byteLength} bytes is past its size ${buffer.size}`);
    const staging = this.createBuffer(byteLength, 'readback', `${buffer.label} (readback)`);
    try {
      this.submit((encoder) => encoder.copyBufferToBuffer(buffer, byteOffset, staging, 0, byteLength));
      await staging.mapAsync(GPUMapMode.READ, 0, byteLength).catch((err: Error) => {
        throw new GpuError(`read ${buffer.label}: ${err.message}`);
      });
      const out = new Float32Array(byteLength / 4);
      out.set(new Float32Array(staging.getMappedRange(0, byteLength)));
      staging.unmap();
      this.ensureUsable(`read ${buffer.label}`);
      return out;
    } finally {
      staging.destroy();
    }
  }

  async checked<T>(what: string, fn: () => T | Promise<T>): Promise<T> {
    this.ensureUsable(what);
    const device = this.device;
    device.pushErrorScope('internal');
    device.pushErrorScope('out-of-memory');
    device.pushErrorScope('validation');
    let result: T | undefined;
    let thrown: unknown;
    try {
      result = await fn();
    } catch (err) {
      thrown = err;
    }
    const errors = [await device.popErrorScope(), await device.popErrorScope(), await device.popErrorScope()];
    const first = errors.find((e) => e !== null);
    if (first) throw new GpuError(`${what}: ${first.message.trim()}`);
    if (thrown !== undefined) throw thrown;
    return result as T;
  }

  submit(encode: (encoder: GPUCommandEncoder) => void): void {
    this.ensureUsable('submit');
    const encoder = this.device.createCommandEncoder();
    encode(encoder);
    this.device.queue.submit([encoder.finish()]);
  }

  async onSubmittedWorkDone(): Promise<void> {
    this.ensureUsable('wait for GPU work');
    await this.device.queue.onSubmittedWorkDone();
    this.ensureUsable('wait for GPU work');
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.device.destroy();
  }
}

export function gpuInfo(gpu: Gpu): object {
  return {
    adapter: gpu.adapter,
    backend: gpu.adapter.backend,
    toggles: gpu.toggles,
    disabledToggles: gpu.disabledToggles,
    features: [...gpu.features].sort(),
    subgroupMinSize: gpu.subgroupMinSize,
    subgroupMaxSize: gpu.subgroupMaxSize,
    subgroupMatrixConfigs: gpu.subgroupMatrixConfigs,
    fragment: gpu.fragment ?? null,
    limits: numericLimits(gpu.limits),
  };
}
