// Adapter discovery and the device wrapper every kernel runs through. Nothing here knows about
// models or kernels: it allocates buffers, moves bytes, submits work and turns WebGPU errors into
// GpuError with a message that says which step failed.
import { create, globals } from 'webgpu';

Object.assign(globalThis, globals);

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
  /** Adapter index from listAdapters(), or a case-insensitive substring of its vendor/device/description. */
  adapter?: string;
}

export class GpuError extends Error {
  override name = 'GpuError';
}

type DawnInstance = ReturnType<typeof create>;

// Dawn instances must outlive every adapter and device made from them, so they are created once
// per flag set and held for the life of the process.
const instances = new Map<string, DawnInstance>();
function dawnInstance(flags: string[]): DawnInstance {
  const key = flags.join('\n');
  let instance = instances.get(key);
  if (!instance) {
    instance = create(flags);
    instances.set(key, instance);
  }
  return instance;
}

interface DawnAdapterEntry { backend: string; name: string }

// Dawn's Node binding has no enumeration call; asking for an adapter that cannot exist makes it
// list every adapter it sees in the rejection message, which is the only complete inventory.
async function dawnAdapterEntries(): Promise<DawnAdapterEntry[]> {
  const impossible = 'rcae-no-such-adapter-\u0000';
  try {
    await dawnInstance([`adapter=${impossible}`]).requestAdapter();
  } catch (err) {
    const text = err instanceof Error ? err.message : String(err);
    return [...text.matchAll(/^\s*\*\s*backend:\s*'([^']*)',\s*name:\s*'(.*)'\s*$/gm)].map((m) => ({ backend: m[1], name: m[2] }));
  }
  return [];
}

const softwarePattern = /llvmpipe|lavapipe|swiftshader|software|warp|basic render/i;

function summarize(index: number, backend: string, adapter: GPUAdapter): AdapterSummary {
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

interface FoundAdapter { summary: AdapterSummary; adapter: GPUAdapter }

async function findAdapters(): Promise<FoundAdapter[]> {
  const found: FoundAdapter[] = [];
  for (const entry of await dawnAdapterEntries()) {
    const instance = dawnInstance([`backend=${entry.backend}`, `adapter=${entry.name}`]);
    const adapter = await instance.requestAdapter({ powerPreference: 'high-performance' }).catch(() => null);
    if (adapter) found.push({ summary: summarize(found.length, entry.backend, adapter), adapter });
  }
  if (found.length > 0) return found;
  // The listing format is Dawn-internal; if it ever changes, fall back to what the standard API offers.
  for (const options of [{ powerPreference: 'high-performance' }, { forceFallbackAdapter: true }] as const) {
    const adapter = await dawnInstance([]).requestAdapter(options).catch(() => null);
    if (!adapter) continue;
    const summary = summarize(found.length, 'default', adapter);
    if (!found.some((f) => f.summary.description === summary.description)) found.push({ summary, adapter });
  }
  return found;
}

export async function listAdapters(): Promise<AdapterSummary[]> {
  return (await findAdapters()).map((f) => f.summary);
}

function pickAdapter(found: FoundAdapter[], wanted: string | undefined): FoundAdapter {
  if (found.length === 0) throw new GpuError('no WebGPU adapter found (Dawn sees no Vulkan/Metal/D3D device)');
  const names = found.map((f) => `${f.summary.index}: ${f.summary.description || f.summary.device} [${f.summary.backend}]`).join('; ');
  if (wanted === undefined || wanted.trim() === '') {
    return found.find((f) => !f.summary.isSoftware) ?? found[0];
  }
  if (/^\d+$/.test(wanted.trim())) {
    const hit = found[Number(wanted.trim())];
    if (!hit) throw new GpuError(`adapter index ${wanted} out of range; available: ${names}`);
    return hit;
  }
  const needle = wanted.toLowerCase();
  const hit = found.find(({ summary: s }) => [s.vendor, s.device, s.description].some((t) => t.toLowerCase().includes(needle)));
  if (!hit) throw new GpuError(`no adapter matches "${wanted}"; available: ${names}`);
  return hit;
}

const wantedFeatures: GPUFeatureName[] = ['shader-f16', 'subgroups', 'timestamp-query'];

function maximumLimits(adapter: GPUAdapter): Record<string, number> {
  const limits: Record<string, number> = {};
  for (const key in adapter.limits) {
    const value = (adapter.limits as unknown as Record<string, unknown>)[key];
    if (typeof value === 'number') limits[key] = value;
  }
  return limits;
}

export type BufferKind = 'storage' | 'uniform' | 'readback';

const bufferUsage: Record<BufferKind, number> = {
  storage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
  uniform: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
  readback: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
};

const roundUp = (n: number, to: number): number => Math.ceil(n / to) * to;

export class Gpu {
  readonly device: GPUDevice;
  readonly adapter: AdapterSummary;
  readonly features: ReadonlySet<string>;
  readonly limits: GPUSupportedLimits;
  /** Smallest subgroup the adapter may run; 0 when the device has no 'subgroups' feature. */
  readonly subgroupMinSize: number;
  private lostReason: string | undefined;
  private uncaptured: string | undefined;
  private destroyed = false;
  private live = 0;

  private constructor(device: GPUDevice, adapter: AdapterSummary, subgroupMinSize: number) {
    this.device = device;
    this.adapter = adapter;
    this.features = new Set(device.features);
    this.limits = device.limits;
    this.subgroupMinSize = this.features.has('subgroups') ? subgroupMinSize : 0;
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
    const found = await findAdapters();
    const { adapter, summary } = pickAdapter(found, opts.adapter ?? process.env.RCAE_ADAPTER);
    const requiredFeatures = wantedFeatures.filter((f) => adapter.features.has(f));
    let device: GPUDevice;
    try {
      device = await adapter.requestDevice({ requiredFeatures, requiredLimits: maximumLimits(adapter), label: 'rcae' });
    } catch (err) {
      throw new GpuError(`cannot create a device on ${summary.description || summary.device}: ${(err as Error).message}`);
    }
    const info = adapter.info as GPUAdapterInfo & { subgroupMinSize?: number };
    return new Gpu(device, summary, info.subgroupMinSize ?? 0);
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
    const buffer = this.device.createBuffer({ size, usage: bufferUsage[usage], label });
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

  upload(data: Float32Array | Uint32Array, label: string): GPUBuffer {
    const buffer = this.createBuffer(data.byteLength, 'storage', label);
    this.write(buffer, data);
    return buffer;
  }

  write(buffer: GPUBuffer, data: Float32Array | Uint32Array, byteOffset = 0): void {
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
  const limits: Record<string, number> = {};
  for (const key in gpu.limits) {
    const value = (gpu.limits as unknown as Record<string, unknown>)[key];
    if (typeof value === 'number') limits[key] = value;
  }
  return {
    adapter: gpu.adapter,
    backend: gpu.adapter.backend,
    features: [...gpu.features].sort(),
    subgroupMinSize: gpu.subgroupMinSize,
    limits,
  };
}
