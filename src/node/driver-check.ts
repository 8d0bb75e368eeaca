// What `rcae doctor` reports: the adapters Dawn sees, and on Linux the Vulkan loader and driver
// (ICD) files behind them, signs of GPU hardware, what is missing, and the one command that
// installs a WebGPU-capable driver on this OS. Only reads: nothing is installed or changed.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import type { AdapterSummary } from '../gpu/device.js';
import { listAdapters } from './dawn.js';
import { dawnVersion } from './tune-cache.js';

export interface VulkanDriverFile {
  file: string;
  /** The driver library the file names, as written. */
  library: string;
  /** Whether that library exists (absolute paths), or null when the loader searches for it by name. */
  libraryFound: boolean | null;
  /** Lavapipe/llvmpipe or SwiftShader: runs on the CPU. */
  software: boolean;
  /** Why the file could not be used, when it could not. */
  problem?: string;
}

export interface Diagnosis {
  platform: string;
  os: string;
  node: string;
  dawn: string;
  adapters: AdapterSummary[];
  /** The adapter a command uses without --adapter (the first that is not software, else the first). */
  chosen: AdapterSummary | null;
  /** Linux: the Vulkan loader library, or null when none was found. */
  vulkanLoader?: string | null;
  /** Linux: where driver files were looked for (VK_DRIVER_FILES / VK_ICD_FILENAMES, else the loader's folders). */
  vulkanDriverSearch?: string[];
  vulkanDrivers?: VulkanDriverFile[];
  /** Signs of a GPU on this machine (device nodes, a loaded NVIDIA kernel driver). */
  gpuHardware: string[];
  inContainer: boolean;
  problems: string[];
  /** What to run or do about the problems; absent when there are none. */
  fix?: string;
}

// A driver file names its library in a few hundred bytes; anything larger is not one.
const MAX_DRIVER_FILE_BYTES = 64 << 10;
const SOFTWARE_DRIVER = /lvp|lavapipe|llvmpipe|swiftshader/i;
const LIBRARY_DIRS = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/lib/x86_64-linux-gnu', '/lib/aarch64-linux-gnu', '/lib64', '/lib', '/usr/local/lib'];

function osRelease(): Record<string, string> {
  try {
    const text = readFileSync('/etc/os-release', 'utf8').slice(0, MAX_DRIVER_FILE_BYTES);
    return Object.fromEntries([...text.matchAll(/^(\w+)=("?)(.*)\2$/gm)].map((m) => [m[1], m[3]]));
  } catch {
    return {};
  }
}

/** The folders the Vulkan loader reads driver files from, in its order (its Linux defaults). */
function driverSearch(): string[] {
  const override = process.env.VK_DRIVER_FILES || process.env.VK_ICD_FILENAMES;
  if (override) return override.split(':').filter((p) => p !== '');
  const config = process.env.XDG_CONFIG_HOME || join(homedir(), '.config');
  const data = process.env.XDG_DATA_HOME || join(homedir(), '.local', 'share');
  return [join(config, 'vulkan', 'icd.d'), '/etc/xdg/vulkan/icd.d', '/etc/vulkan/icd.d', join(data, 'vulkan', 'icd.d'), '/usr/local/share/vulkan/icd.d', '/usr/share/vulkan/icd.d'];
}

function readDriverFile(file: string): VulkanDriverFile {
  const entry = (problem: string, library = ''): VulkanDriverFile => ({ file, library, libraryFound: null, software: SOFTWARE_DRIVER.test(file), problem });
  let library: unknown;
  try {
    if (statSync(file).size > MAX_DRIVER_FILE_BYTES) return entry(`larger than ${MAX_DRIVER_FILE_BYTES} bytes, not a driver file`);
    library = (JSON.parse(readFileSync(file, 'utf8')) as { ICD?: { library_path?: unknown } }).ICD?.library_path;
  } catch (err) {
    return entry((err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : `unreadable: ${(err as Error).message.split('\n')[0]}`);
  }
  if (typeof library !== 'string' || library === '') return entry('names no ICD.library_path');
  const found = isAbsolute(library) ? existsSync(library) : library.includes('/') ? null : LIBRARY_DIRS.some((d) => existsSync(join(d, library)));
  return { file, library, libraryFound: found, software: SOFTWARE_DRIVER.test(`${file} ${library}`), ...(found === false ? { problem: `its library ${library} is missing` } : {}) };
}

function vulkanDrivers(search: string[]): VulkanDriverFile[] {
  const files = search.flatMap((p) => {
    if (p.endsWith('.json')) return [p];
    try {
      return readdirSync(p).filter((n) => n.endsWith('.json')).sort().map((n) => join(p, n));
    } catch {
      return [];
    }
  });
  return files.map(readDriverFile);
}

function gpuHardware(): string[] {
  const seen: string[] = [];
  if (existsSync('/proc/driver/nvidia/version')) seen.push('NVIDIA kernel driver loaded (/proc/driver/nvidia/version)');
  for (const dir of ['/dev', '/dev/dri']) {
    try {
      for (const name of readdirSync(dir).sort()) if (/^(nvidia\d+|renderD\d+)$/.test(name)) seen.push(join(dir, name));
    } catch {
      // no such folder: nothing seen there
    }
  }
  return seen;
}

/** The command that installs a WebGPU-capable software Vulkan driver (lavapipe) and the loader. */
function linuxInstallCommand(os: Record<string, string>): string {
  const ids = `${os.ID ?? ''} ${os.ID_LIKE ?? ''}`;
  // Debian 12's own Mesa (22.3) is too old for Dawn; its backports carry Mesa 25.
  if (os.ID === 'debian' && Number(os.VERSION_ID) <= 12) {
    return `sudo apt-get install -t ${os.VERSION_CODENAME || 'bookworm'}-backports mesa-vulkan-drivers libvulkan1   (with ${os.VERSION_CODENAME || 'bookworm'}-backports in the apt sources)`;
  }
  if (/\b(debian|ubuntu)\b/.test(ids)) return 'sudo apt-get install mesa-vulkan-drivers libvulkan1';
  if (/\b(fedora|rhel|centos)\b/.test(ids)) return 'sudo dnf install mesa-vulkan-drivers vulkan-loader';
  if (/\barch\b/.test(ids)) return 'sudo pacman -S vulkan-swrast vulkan-icd-loader';
  if (/\balpine\b/.test(ids)) return 'sudo apk add mesa-vulkan-swrast vulkan-loader';
  if (/\b(suse|opensuse)\b/.test(ids)) return 'sudo zypper install libvulkan_lvp libvulkan1';
  return 'install Mesa 23 or later with lavapipe (the package holding lvp_icd.json) and the Vulkan loader (libvulkan.so.1), or your GPU vendor\'s Vulkan driver';
}

function findLoader(): string | null {
  return LIBRARY_DIRS.map((d) => join(d, 'libvulkan.so.1')).find((p) => existsSync(p)) ?? null;
}

export async function diagnose(): Promise<Diagnosis> {
  const os = process.platform === 'linux' ? osRelease() : {};
  const adapters = await listAdapters().catch(() => [] as AdapterSummary[]);
  const chosen = adapters.find((a) => !a.isSoftware) ?? adapters[0] ?? null;
  const hardware = process.platform === 'linux' ? gpuHardware() : [];
  const inContainer = existsSync('/.dockerenv') || existsSync('/run/.containerenv');
  const d: Diagnosis = {
    platform: `${process.platform} ${process.arch}`,
    os: os.PRETTY_NAME ?? process.platform,
    node: process.version,
    dawn: dawnVersion(),
    adapters,
    chosen,
    gpuHardware: hardware,
    inContainer,
    problems: [],
  };
  const fixes: string[] = [];
  if (process.platform === 'linux') {
    d.vulkanLoader = findLoader();
    d.vulkanDriverSearch = driverSearch();
    d.vulkanDrivers = vulkanDrivers(d.vulkanDriverSearch);
    const usable = d.vulkanDrivers.filter((f) => !f.problem);
    if (!d.vulkanLoader) d.problems.push('no Vulkan loader (libvulkan.so.1) found');
    if (usable.length === 0) d.problems.push(`no usable Vulkan driver file in ${d.vulkanDriverSearch.join(', ')}`);
    const nvidia = hardware.some((h) => /nvidia/i.test(h));
    if (nvidia && !usable.some((f) => /nvidia/i.test(`${f.file} ${f.library}`))) {
      d.problems.push('an NVIDIA GPU is present but no NVIDIA Vulkan driver file (nvidia_icd.json) is');
      fixes.push(inContainer
        ? 'run the container with the NVIDIA runtime and the graphics capability: docker run --gpus all -e NVIDIA_DRIVER_CAPABILITIES=compute,utility,graphics ...'
        : 'install the Vulkan part of the NVIDIA driver (Debian: nvidia-vulkan-icd; Ubuntu: libnvidia-gl-<driver version>)');
    }
    // Mesa's package holds the AMD and Intel Vulkan drivers as well as lavapipe.
    const unusedRenderNode = Boolean(chosen?.isSoftware) && hardware.some((h) => h.includes('renderD'));
    if (adapters.length === 0 || !d.vulkanLoader || usable.length === 0 || unusedRenderNode) fixes.push(linuxInstallCommand(os));
  } else if (adapters.length === 0) {
    fixes.push(process.platform === 'darwin'
      ? 'Dawn uses Metal, which macOS has built in: update macOS (11 or later) and check that this is not a virtual machine without Metal'
      : process.platform === 'win32'
        ? 'Dawn uses Direct3D 12: install or update the GPU vendor\'s driver (Windows 10 or later)'
        : `Dawn has no backend for ${process.platform}`);
  }
  if (adapters.length === 0) d.problems.unshift('Dawn sees no WebGPU adapter: no rcae command can run');
  if (chosen?.isSoftware && hardware.length > 0) {
    d.problems.push(`a GPU seems present (${hardware.join(', ')}) but Dawn offers only software adapters, so rcae runs on the CPU, slowly; its Vulkan driver is missing or failed to load`);
  }
  if (fixes.length > 0) d.fix = [...new Set(fixes)].join('\n');
  return d;
}
