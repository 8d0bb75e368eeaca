// Adapters in Node, through Dawn's Node binding (npm `webgpu`): lists every adapter Dawn sees, picks
// one by index or name, and opens it with the Dawn toggles rcae wants. Loading this module installs
// the WebGPU globals (GPUBufferUsage, ...) and makes Dawn the provider behind Gpu.open().
import { create, globals } from 'webgpu';
import { GpuError, setGpuProvider, summarizeAdapter, type AdapterSummary, type FoundAdapter, type OpenOptions } from '../gpu/device.js';

Object.assign(globalThis, globals);

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

interface DawnAdapter { summary: AdapterSummary; adapter: GPUAdapter; flags: string[] }

async function findAdapters(): Promise<DawnAdapter[]> {
  const found: DawnAdapter[] = [];
  for (const entry of await dawnAdapterEntries()) {
    const flags = [`backend=${entry.backend}`, `adapter=${entry.name}`];
    const adapter = await dawnInstance(flags).requestAdapter({ powerPreference: 'high-performance' }).catch(() => null);
    if (adapter) found.push({ summary: summarizeAdapter(found.length, entry.backend, adapter), adapter, flags });
  }
  if (found.length > 0) return found;
  // The listing format is Dawn-internal; if it ever changes, fall back to what the standard API offers.
  for (const options of [{ powerPreference: 'high-performance' }, { forceFallbackAdapter: true }] as const) {
    const adapter = await dawnInstance([]).requestAdapter(options).catch(() => null);
    if (!adapter) continue;
    const summary = summarizeAdapter(found.length, 'default', adapter);
    if (!found.some((f) => f.summary.description === summary.description)) found.push({ summary, adapter, flags: [] });
  }
  return found;
}

export async function listAdapters(): Promise<AdapterSummary[]> {
  return (await findAdapters()).map((f) => f.summary);
}

function pickAdapter(found: DawnAdapter[], wanted: string | undefined): DawnAdapter {
  if (found.length === 0) throw new GpuError('no WebGPU adapter found (Dawn sees no Vulkan/Metal/D3D12 device); `rcae doctor` (npx rcae doctor) says what is missing and how to install it');
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

// On real GPUs: allow_unsafe_apis exposes the experimental subgroup-matrix feature (tensor cores),
// and Dawn hides shader-f16 on NVIDIA's Vulkan driver unless vulkan_enable_f16_on_nvidia is set.
const GPU_TOGGLES = ['allow_unsafe_apis', 'vulkan_enable_f16_on_nvidia'];
const FAST_UNSAFE_TOGGLES = ['disable_robustness', 'disable_polyfills_on_integer_div_and_mod'];

// Dawn's null backend is never listed among the adapters: it is asked for by name.
async function nullAdapter(toggles: string[]): Promise<FoundAdapter> {
  const adapter = await dawnInstance(['backend=null', `enable-dawn-features=${toggles.join(',')}`]).requestAdapter();
  if (!adapter) throw new GpuError('this Dawn build has no null backend');
  return { summary: { ...summarizeAdapter(0, 'null', adapter), description: "Dawn's null backend (compiles shaders, runs nothing)" }, adapter, toggles, disabledToggles: [] };
}

async function requestDawnAdapter(opts: OpenOptions): Promise<FoundAdapter> {
  const extra = opts.fastUnsafe ? FAST_UNSAFE_TOGGLES : [];
  if (opts.backend === 'null') return nullAdapter([...GPU_TOGGLES, ...extra]);
  const picked = pickAdapter(await findAdapters(), opts.adapter ?? process.env.RCAE_ADAPTER);
  const { summary } = picked;
  const toggles = [...(summary.isSoftware && !opts.gpuToggles ? [] : GPU_TOGGLES), ...extra];
  const disabledToggles = opts.exactTimestamps ? ['timestamp_quantization'] : [];
  if (toggles.length === 0 && disabledToggles.length === 0) return { summary, adapter: picked.adapter, toggles, disabledToggles };
  // Toggles are per Dawn instance: ask again for the same adapter through an instance that has them.
  const flags = [...picked.flags];
  if (toggles.length > 0) flags.push(`enable-dawn-features=${toggles.join(',')}`);
  if (disabledToggles.length > 0) flags.push(`disable-dawn-features=${disabledToggles.join(',')}`);
  const again = await dawnInstance(flags).requestAdapter({ powerPreference: 'high-performance' }).catch(() => null);
  if (!again) throw new GpuError(`cannot reopen ${summary.description || summary.device} with the Dawn toggles ${flags.slice(picked.flags.length).join(' ')}`);
  return { summary, adapter: again, toggles, disabledToggles };
}

setGpuProvider({ requestAdapter: requestDawnAdapter });
