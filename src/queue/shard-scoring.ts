// Scores one shard: reads each of its samples through the reader `rcae detect` uses
// (node/input-reader.ts), runs them through the model a batch at a time, and records per sample
// either the error or why it could not be read (an unreadable image fails its own row, never the
// shard). The next batch is read while the current one is on the GPU.

import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { archiveImages, readImage, readNpySamples, type Samples, type SampleShape } from '../node/input-reader.js';
import { InputError, InternalError } from '../errors.js';
import type { Shard, ShardRun } from './manifest.js';

/** Loads one sample; rejects with the reason it cannot be read. */
type SampleLoader = () => Promise<Float32Array>;

export interface ShardScores {
  /** As ShardResult's: a number, 'NaN'/'Infinity'/'-Infinity' as text, or null when unreadable. */
  errors: (number | string | null)[];
  reasons: Record<number, string>;
}

/**
 * The most recent .npy a worker read, kept because consecutive shards usually take rows of the same
 * file; keyed by size and mtime too, so a rewritten file is read again.
 */
export class NpyCache {
  private key = '';
  private value: Samples | Error | undefined;

  rows(path: string, shape: SampleShape): Samples {
    let key: string;
    try {
      const st = statSync(path);
      key = `${path}\0${st.size}\0${st.mtimeMs}`;
    } catch (err) {
      throw new InputError(`${path}: cannot read: ${(err as Error).message}`, { subject: path });
    }
    if (key !== this.key) {
      this.key = key;
      try {
        this.value = readNpySamples(path, shape);
      } catch (err) {
        this.value = err as Error;
      }
    }
    if (this.value instanceof Error) throw this.value;
    return this.value!;
  }
}

const failed = (reason: unknown): SampleLoader => () => Promise.reject(reason instanceof Error ? reason : new InternalError(String(reason)));

async function archiveLoaders(run: Extract<ShardRun, { kind: 'archive' }>, path: string, shape: SampleShape): Promise<SampleLoader[]> {
  const found: SampleLoader[] = [];
  const end = run.first + run.members.length;
  let ordinal = 0;
  // Image members are counted in archive order, as at submit; only this run's are held in memory.
  const wanted = () => {
    const o = ordinal++;
    return o >= run.first && o < end;
  };
  let failure: unknown;
  try {
    for await (const member of archiveImages(path, shape, wanted)) {
      const expected = run.members[found.length];
      if (member.name !== expected) throw new InputError(`${run.path}: image member ${run.first + found.length} is ${member.name}, expected ${expected} (the archive changed since submit)`, { subject: run.path });
      found.push(async () => (await member.read()).tensor);
      if (found.length === run.members.length) break;
    }
  } catch (err) {
    failure = err;
  }
  return run.members.map((member, i) => found[i] ?? failed(failure ?? `${run.path}#${member}: not in the archive any more (it changed since submit)`));
}

async function runLoaders(run: ShardRun, cwd: string, shape: SampleShape, npy: NpyCache): Promise<SampleLoader[]> {
  const per = shape.channels * shape.size * shape.size;
  if (run.kind === 'images') return run.paths.map((p) => async () => (await readImage(resolve(cwd, p), shape, p)).tensor);
  if (run.kind === 'archive') return archiveLoaders(run, resolve(cwd, run.path), shape);
  let rows: Samples;
  try {
    rows = npy.rows(resolve(cwd, run.path), shape);
  } catch (err) {
    return new Array<SampleLoader>(run.count).fill(failed(err));
  }
  return Array.from({ length: run.count }, (_, i) => {
    const row = run.start + i;
    if (row >= rows.count) return failed(`${run.path}: row ${row} is past its ${rows.count} rows (the file changed since submit)`);
    return () => Promise.resolve(rows.data.subarray(row * per, (row + 1) * per));
  });
}

export async function scoreShard(
  shard: Shard,
  cwd: string,
  shape: SampleShape,
  batch: number,
  score: (samples: Float32Array) => Promise<Float32Array>,
  npy: NpyCache,
): Promise<ShardScores> {
  const loaders = (await Promise.all(shard.runs.map((run) => runLoaders(run, cwd, shape, npy)))).flat();
  if (loaders.length !== shard.count) throw new InternalError(`shard ${shard.index}: ${loaders.length} samples found, ${shard.count} expected`);
  const per = shape.channels * shape.size * shape.size;
  const errors: (number | string | null)[] = new Array(shard.count).fill(null);
  const reasons: Record<number, string> = {};
  const load = (start: number) => Promise.allSettled(loaders.slice(start, start + batch).map((f) => f()));
  let next = load(0);
  for (let start = 0; start < loaders.length; start += batch) {
    const settled = await next;
    next = load(start + batch);
    const ok: number[] = [];
    settled.forEach((s, i) => {
      if (s.status === 'fulfilled') ok.push(i);
      else reasons[start + i] = (s.reason as Error).message ?? String(s.reason);
    });
    if (ok.length === 0) continue;
    const data = new Float32Array(ok.length * per);
    ok.forEach((i, j) => data.set((settled[i] as PromiseFulfilledResult<Float32Array>).value, j * per));
    const scored = await score(data);
    // JSON has no NaN or Infinity (both would become null, "unreadable"): keep them as text.
    ok.forEach((i, j) => (errors[start + i] = Number.isFinite(scored[j]) ? scored[j] : String(scored[j])));
  }
  await next;
  return { errors, reasons };
}
