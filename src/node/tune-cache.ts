// Where `rcae tune` keeps its winners: a JSON file under $XDG_CACHE_HOME/rcae (or $RCAE_TUNE_CACHE),
// entries keyed by the adapter (vendor, architecture, device, driver description), the Dawn
// version, the precision, the layer shape and the batch. Measured defaults for adapters the project
// could measure ship in models/tuned-tiles.json and are used when the user's cache has no entry.
import { existsSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Gpu } from '../gpu/device.js';
import type { TileTable } from '../kernels/variants.js';
import type { GemmTile, Precision } from '../kernels/conv2d/gemm.js';
import { writeFileAtomically } from './atomic.js';
import type { TuneResult } from '../graph/tuner.js';
import { FormatError, LimitError } from '../errors.js';

export interface CachedTile {
  tile: GemmTile;
  ms: number;
  heuristicMs: number;
  measured: string;
}

interface DeviceEntry {
  adapter: { vendor: string; architecture: string; device: string; description: string; backend: string };
  dawn: string;
  tiles: Record<string, CachedTile>;
}

export interface TuneCache {
  format: 'rcae-tune-cache';
  version: 1;
  devices: Record<string, DeviceEntry>;
}

export const SHIPPED_TUNING_PATH = fileURLToPath(new URL('../../../models/tuned-tiles.json', import.meta.url));
const MAX_CACHE_BYTES = 16 << 20;

export function defaultCachePath(): string {
  if (process.env.RCAE_TUNE_CACHE) return process.env.RCAE_TUNE_CACHE;
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'rcae', 'tune.json');
}

/** The webgpu package's version: Dawn's build, which decides how kernels compile. */
export function dawnVersion(): string {
  // Resolved like an import: in an installed package, webgpu sits beside rcae-webgpu, not inside it.
  const pkg = JSON.parse(readFileSync(createRequire(import.meta.url).resolve('webgpu/package.json'), 'utf8')) as { version: string };
  return `webgpu ${pkg.version}`;
}

export function deviceKey(gpu: Gpu, dawn = dawnVersion()): string {
  const a = gpu.adapter;
  return [a.vendor, a.architecture, a.device, a.description, a.backend, dawn].join(' | ');
}

export function tileEntryKey(precision: Precision, layer: string, batch: number): string {
  return `${precision} ${layer} @${batch}`;
}

const emptyCache = (): TuneCache => ({ format: 'rcae-tune-cache', version: 1, devices: {} });

function isTile(t: unknown): t is GemmTile {
  if (typeof t !== 'object' || t === null) return false;
  const o = t as Record<string, unknown>;
  const ints = ['bp', 'bc', 'bk', 'splitK'].every((k) => Number.isInteger(o[k]) && (o[k] as number) >= 1 && (o[k] as number) <= 4096);
  return ints && (o.backend === 'fma' || o.backend === 'matrix' || o.backend === 'matrix-emulated');
}

/** Reads a cache file; a missing file is an empty cache, a malformed one an error naming it. */
export function readTuneCache(path: string): TuneCache {
  if (!existsSync(path)) return emptyCache();
  const text = readFileSync(path);
  if (text.length > MAX_CACHE_BYTES) throw new LimitError(`${path}: tuning cache of ${text.length} bytes exceeds ${MAX_CACHE_BYTES}`);
  let doc: unknown;
  try {
    doc = JSON.parse(text.toString('utf8'));
  } catch (err) {
    throw new FormatError(`${path}: tuning cache is not valid JSON (${(err as Error).message})`);
  }
  const cache = doc as TuneCache;
  if (cache?.format !== 'rcae-tune-cache' || cache.version !== 1 || typeof cache.devices !== 'object' || cache.devices === null) {
    throw new FormatError(`${path}: not an rcae tuning cache (format rcae-tune-cache, version 1)`);
  }
  for (const [key, device] of Object.entries(cache.devices)) {
    for (const [entry, cached] of Object.entries(device?.tiles ?? {})) {
      if (!isTile(cached?.tile)) throw new FormatError(`${path}: device "${key}" entry "${entry}" has no valid tile`);
    }
  }
  return cache;
}

export async function storeTuning(path: string, gpu: Gpu, result: TuneResult): Promise<void> {
  const cache = readTuneCache(path);
  const key = deviceKey(gpu);
  const a = gpu.adapter;
  const device = (cache.devices[key] ??= { adapter: { vendor: a.vendor, architecture: a.architecture, device: a.device, description: a.description, backend: a.backend }, dawn: dawnVersion(), tiles: {} });
  const measured = new Date().toISOString();
  for (const l of result.layers) device.tiles[tileEntryKey(result.precision, l.layer, l.batch)] = { tile: l.tile, ms: l.ms, heuristicMs: l.heuristic.ms, measured };
  await mkdir(dirname(path), { recursive: true });
  await writeFileAtomically(path, JSON.stringify(cache, null, 1) + '\n');
}

/**
 * The tiles for this device and precision: the user's cache first, then the shipped defaults. A
 * layer tuned at another batch gets the entry of the nearest tuned batch.
 */
export function tuningTable(gpu: Gpu, precision: Precision, paths: readonly string[] = [defaultCachePath(), SHIPPED_TUNING_PATH]): { table: TileTable; entries: number } {
  const key = deviceKey(gpu);
  const byLayer = new Map<string, { batch: number; tile: GemmTile }[]>();
  let entries = 0;
  for (const path of paths) {
    const device = readTuneCache(path).devices[key];
    for (const [entry, cached] of Object.entries(device?.tiles ?? {})) {
      const m = /^(f32|f16) (.*) @(\d+)$/.exec(entry);
      if (!m || m[1] !== precision) continue;
      const list = byLayer.get(m[2]) ?? [];
      if (list.some((e) => e.batch === Number(m[3]))) continue; // the earlier file wins
      list.push({ batch: Number(m[3]), tile: cached.tile });
      byLayer.set(m[2], list);
      entries++;
    }
  }
  const table: TileTable = (layer, batch) => {
    const list = byLayer.get(layer);
    if (!list) return undefined;
    return list.reduce((best, e) => (Math.abs(Math.log(e.batch / batch)) < Math.abs(Math.log(best.batch / batch)) ? e : best)).tile;
  };
  return { table, entries };
}
