// Parent side of the benchmark peers: `rcae bench --peers` prepares the model files once
// (preparePeerModel or peerModelForFile), then calls runPeer per engine and batch size. Each peer
// runs in its own child process so that its WebGPU device, WebAssembly heap and thread pools
// cannot disturb rcae's measurements or each other, and a hung peer can be killed.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PeerModel } from './model-files.js';
import { ORT_WEBGPU_NODE_FLAGS } from './ort-webgpu.js';
import { type PeerEngine, childArgv, parseChildResult } from './protocol.js';

export { ensureOnnx, peerModelForFile, preparePeerModel, type CacheOptions, type PeerModel } from './model-files.js';
export { PEER_ENGINES, type PeerEngine } from './protocol.js';

export interface PeerRunOptions {
  model: PeerModel;
  batch: number;
  /** Timed iterations (each one batch, host to host). */
  iterations: number;
  /** Untimed iterations first (shader compilation, autotuning, allocator warm-up). */
  warmup: number;
  /** `batch` NCHW images, float32. */
  input: Float32Array;
  /** Whole child, start to exit (default 10 minutes). */
  timeoutMs?: number;
  /**
   * Interpreter for torch-cpu. Default: $RCAE_PYTHON, else the first of python3 (PATH) and
   * /usr/bin/python3 (where Debian's python3-torch lives) that can import torch.
   */
  python?: string;
}

export interface PeerRunResult {
  engine: PeerEngine;
  batch: number;
  /** Batch / median iteration time; null when the peer did not run. */
  samplesPerS: number | null;
  msMedian: number | null;
  /** Every timed iteration, ms. */
  ms: number[];
  /** The reconstruction of `input` (first iteration); null when the peer did not run. */
  output: Float32Array | null;
  /** What ran (library version, backend, adapter). */
  backend?: string;
  /** Why the peer did not run or failed, one line. */
  error?: string;
  /** True when the peer cannot run on this machine at all (missing package, adapter or Python). */
  skipped?: boolean;
}

const DEFAULT_TIMEOUT_MS = 10 * 60 * 1000;
const here = dirname(fileURLToPath(import.meta.url));
// torch-cpu.py is not compiled: it lives beside this module's source (dist/bench/peers -> bench/peers).
const TORCH_CHILD = join(here, '..', '..', '..', 'bench', 'peers', 'torch-cpu.py');
const NODE_CHILD = join(here, 'run.js');
const STDERR_TAIL = 4000;
const DEBIAN_PYTHON = '/usr/bin/python3';

function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function commands(engine: PeerEngine, options: PeerRunOptions): { file: string; args: string[] }[] {
  if (engine === 'torch-cpu') {
    const chosen = options.python ?? process.env.RCAE_PYTHON;
    const pythons = chosen ? [chosen] : ['python3', ...(existsSync(DEBIAN_PYTHON) ? [DEBIAN_PYTHON] : [])];
    return pythons.map((file) => ({ file, args: [TORCH_CHILD] }));
  }
  const flags = engine === 'ort-webgpu' ? ORT_WEBGPU_NODE_FLAGS : [];
  return [{ file: process.execPath, args: [...flags, NODE_CHILD] }];
}

interface ChildExit {
  stdout: string;
  stderr: string;
  code: number | null;
  spawnError?: NodeJS.ErrnoException;
  timedOut: boolean;
}

function runChild(file: string, args: string[], timeoutMs: number): Promise<ChildExit> {
  return new Promise((resolve) => {
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { XDG_RUNTIME_DIR: '/tmp', ...process.env } });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr = (stderr + s).slice(-STDERR_TAIL)));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (spawnError: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve({ stdout, stderr, code: null, spawnError, timedOut });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ stdout, stderr, code, timedOut });
    });
  });
}

function lastLine(text: string): string {
  return text.trim().split('\n').filter((l) => l.trim() !== '').pop() ?? '';
}

type Attempt = { ok: true; ms: number[]; backend: string } | { ok: false; error: string; skipped: boolean };

async function attempt(file: string, args: string[], timeoutMs: number): Promise<Attempt> {
  const exit = await runChild(file, args, timeoutMs);
  if (exit.spawnError) {
    const missing = exit.spawnError.code === 'ENOENT';
    return { ok: false, error: missing ? `${file} not found` : `cannot start ${file}: ${exit.spawnError.message}`, skipped: missing };
  }
  if (exit.timedOut) return { ok: false, error: `timed out after ${Math.round(timeoutMs / 1000)} s`, skipped: false };
  const result = parseChildResult(exit.stdout);
  if (!result) return { ok: false, error: `child exited with code ${exit.code} and no result: ${lastLine(exit.stderr) || lastLine(exit.stdout) || 'no output'}`, skipped: false };
  return result.ok ? { ok: true, ms: result.ms, backend: result.backend } : { ok: false, error: result.error, skipped: result.skipped };
}

/** Runs one peer on one batch in a child process; a peer's own failure is reported, not thrown. */
export async function runPeer(engine: PeerEngine, options: PeerRunOptions): Promise<PeerRunResult> {
  const { model, batch } = options;
  const perSample = model.arch.inChannels * model.arch.imageSize * model.arch.imageSize;
  if (options.input.length !== batch * perSample) throw new RangeError(`runPeer: input has ${options.input.length} values, batch ${batch} needs ${batch * perSample}`);
  const failed = (error: string, skipped: boolean): PeerRunResult => ({ engine, batch, samplesPerS: null, msMedian: null, ms: [], output: null, error, skipped });

  const dir = await mkdtemp(join(tmpdir(), `rcae-peer-${engine}-`));
  try {
    const inputPath = join(dir, 'input.bin');
    const outputPath = join(dir, 'output.bin');
    await writeFile(inputPath, new Uint8Array(options.input.buffer, options.input.byteOffset, options.input.byteLength));
    const argv = childArgv({
      engine,
      weightsPath: model.weightsPath,
      archPath: model.archPath,
      onnxPath: model.onnxPath,
      batch,
      iterations: options.iterations,
      warmup: options.warmup,
      inputPath,
      outputPath,
    });
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    let outcome: Attempt = { ok: false, error: 'nothing to run', skipped: true };
    // A later candidate (another interpreter) is tried only when the earlier one cannot run the peer at all.
    for (const { file, args } of commands(engine, options)) {
      outcome = await attempt(file, [...args, ...argv], timeoutMs);
      if (outcome.ok || !outcome.skipped) break;
    }
    if (!outcome.ok) return failed(outcome.error, outcome.skipped);
    const bytes = await readFile(outputPath);
    if (bytes.length !== options.input.byteLength) return failed(`child wrote ${bytes.length} output bytes, expected ${options.input.byteLength}`, false);
    const output = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
    const msMedian = median(outcome.ms);
    return { engine, batch, samplesPerS: (batch * 1000) / msMedian, msMedian, ms: outcome.ms, output, backend: outcome.backend };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
