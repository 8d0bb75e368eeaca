// Reads the result folder of bench/gpu/run-on-gpu.sh for summary.ts: the step log (steps.tsv), `rcae
// info --json`, every `rcae bench --json`, `rcae tune --json` and torch_baseline.py --json file, and
// nvidia-smi's text. Any of them may be missing, cut short or unreadable after a failed or timed-out
// step; each problem becomes a line in `problems` and the rest is still read.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchResult } from '../harness.js';
import type { Fallback } from '../../src/model.js';

/** Larger files are not read (every file the protocol writes is far smaller). */
const MAX_FILE_BYTES = 16 * 2 ** 20;

export interface StepRecord {
  name: string;
  status: 'ok' | 'failed' | 'timed out' | 'skipped';
  seconds: number;
  limit: number;
  note: string;
}

/** `rcae bench --json`; `fallbacks` is absent from files written before it existed. */
export type BenchFile = Omit<BenchResult, 'fallbacks'> & { fallbacks?: Fallback[] };

export interface TorchRun {
  variant: string;
  batch: number;
  samples_per_s: number;
}

export interface TorchFile {
  device: string;
  device_type: string;
  torch: string;
  cuda: string | null;
  cudnn: number | null;
  runs: TorchRun[];
  skipped: { variant: string; batch: number | null; reason: string }[];
}

export interface TuneFile {
  precision: string;
  batch: number;
  timing?: { method: string; floor_ms: number; samples: number; timestamp_quantization?: string };
  layers: { layer: string; ms: number; heuristic: { ms: number } }[];
  untuned?: string[];
  total_ms: number;
  heuristic_total_ms: number;
  fallbacks?: Fallback[];
}

export interface AdapterInfo {
  vendor?: string;
  device?: string;
  description?: string;
  backend?: string;
}

export interface RunResults {
  steps: StepRecord[];
  /** `rcae info --json`: the adapter, its toggles and subgroup-matrix fragment. */
  info: { adapter?: AdapterInfo; toggles?: string[]; fragment?: { m: number; n: number; k: number } | null } | null;
  driver: string | null;
  gpuName: string | null;
  benches: { file: string; result: BenchFile }[];
  torch: TorchFile | null;
  tunes: { file: string; result: TuneFile }[];
  problems: string[];
}

const STATUSES: readonly StepRecord['status'][] = ['ok', 'failed', 'timed out', 'skipped'];

function readText(dir: string, name: string, problems: string[]): string | null {
  const path = join(dir, name);
  if (!existsSync(path)) return null;
  const size = statSync(path).size;
  if (size > MAX_FILE_BYTES) {
    problems.push(`${name}: ${size} bytes, over the ${MAX_FILE_BYTES}-byte limit; not read`);
    return null;
  }
  return readFileSync(path, 'utf8');
}

function readJson<T>(dir: string, name: string, problems: string[], valid: (v: unknown) => boolean): T | null {
  const text = readText(dir, name, problems);
  if (text === null) return null;
  try {
    const value: unknown = JSON.parse(text);
    if (valid(value)) return value as T;
    problems.push(`${name}: not the expected document`);
  } catch (err) {
    problems.push(`${name}: unreadable JSON (${(err as Error).message.split('\n')[0]})`);
  }
  return null;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** steps.tsv: name, status, seconds, limit, note; one step per line, tab-separated. */
export function parseSteps(text: string, problems: string[]): StepRecord[] {
  const steps: StepRecord[] = [];
  for (const [i, line] of text.split('\n').entries()) {
    if (line.trim() === '') continue;
    const [name, status, seconds, limit, note = ''] = line.split('\t');
    if (!STATUSES.includes(status as StepRecord['status']) || !Number.isFinite(Number(seconds)) || !Number.isFinite(Number(limit))) {
      problems.push(`steps.tsv line ${i + 1}: cannot read '${line.slice(0, 120)}'`);
      continue;
    }
    steps.push({ name, status: status as StepRecord['status'], seconds: Number(seconds), limit: Number(limit), note });
  }
  return steps;
}

export function readResults(dir: string): RunResults {
  const problems: string[] = [];
  const names = existsSync(dir) ? readdirSync(dir).sort() : [];
  if (names.length === 0) problems.push(`${dir}: no results`);
  const stepsText = readText(dir, 'steps.tsv', problems);
  const smi = readText(dir, 'nvidia-smi.txt', problems) ?? '';
  const benches = names
    .filter((n) => /^rcae-bench-.*\.json$/.test(n))
    .flatMap((file) => {
      const result = readJson<BenchFile>(dir, file, problems, (v) => isObject(v) && isObject(v.model) && Array.isArray(v.runs) && isObject(v.chunking));
      return result ? [{ file, result }] : [];
    });
  const tunes = names
    .filter((n) => /^tune-.*\.json$/.test(n))
    .flatMap((file) => {
      const result = readJson<TuneFile>(dir, file, problems, (v) => isObject(v) && Array.isArray(v.layers) && typeof v.precision === 'string');
      return result ? [{ file, result }] : [];
    });
  return {
    steps: stepsText === null ? [] : parseSteps(stepsText, problems),
    info: readJson(dir, 'rcae-info.json', problems, isObject),
    driver: /Driver Version:\s*([\d.]+)/.exec(smi)?.[1] ?? null,
    gpuName: /^GPU \d+: (.+?) \(UUID/m.exec(smi)?.[1] ?? null,
    benches,
    torch: readJson<TorchFile>(dir, 'torch-baseline.json', problems, (v) => isObject(v) && Array.isArray(v.runs) && Array.isArray(v.skipped)),
    tunes,
    problems,
  };
}
