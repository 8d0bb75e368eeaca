// Looking after submitted jobs: progress, the rows of a finished job in input order, cancelling,
// and removing a job's keys once it is no longer needed. Nothing here parses another job's data:
// a damaged job breaks only itself, and a damaged shard only its own rows.

import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { labelFor, type Label } from '../detect/label.js';
import { QueueError } from './connection.js';
import { shardInputs } from './manifest.js';
import { CHUNK, JobStore, QUEUE_NAME, readBounded, shardJobId, type JobSpec } from './store.js';
import { LIMITS, shardCountOf, StoredDataError, storedReason } from './stored.js';

/** A job that still has shards queued or in progress. */
export class JobPendingError extends QueueError {}

export interface JobStatus {
  name: string;
  state: 'queued' | 'running' | 'finished' | 'cancelled';
  shards: { total: number; done: number; active: number; failed: number; waiting: number };
  /** `done` counts inputs of shards done; `failed`, those that could not be scored (unreadable, or in a failed shard). */
  inputs: { total: number; done: number; failed: number };
  /** Inputs per second since the first shard started; undefined before any shard is done. */
  inputsPerSecond?: number;
  etaSeconds?: number;
  model: string;
  level: string;
  threshold: number;
  createdAt: string;
}

export interface CollectedRow {
  input: string;
  index: number;
  /** Absent when the input could not be scored. */
  error?: number;
  threshold: number;
  label: Label | 'FAILED';
  reason?: string;
}

/** Where to look when a job's stored data is damaged. */
const DAMAGED_HINT = 'rcae queue doctor lists damaged entries; rcae queue clean --broken removes them';

export async function specOrThrow(store: JobStore, name: string): Promise<JobSpec> {
  let spec: JobSpec | undefined;
  try {
    spec = await store.spec(name);
  } catch (err) {
    if (err instanceof StoredDataError) throw new StoredDataError(`${err.message} (${DAMAGED_HINT})`);
    throw err;
  }
  if (!spec) throw new QueueError(`no job named ${name} in this Redis (never submitted, or removed)`);
  return spec;
}

function withQueue<T>(redis: Redis, use: (queue: Queue) => Promise<T>): Promise<T> {
  const queue = new Queue(QUEUE_NAME, { connection: redis });
  return use(queue).finally(() => queue.close());
}

// Counts the entries of a list whose id starts with ARGV[1], in Redis: no entry is sent or parsed.
const COUNT_PREFIXED = `
local n, prefix = 0, ARGV[1]
for _, id in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  if string.sub(id, 1, #prefix) == prefix then n = n + 1 end
end
return n`;

/** Shards of the job in progress on some worker (BullMQ's active list, read by id only). */
async function activeShards(redis: Redis, queue: Queue, name: string): Promise<number> {
  return (await redis.eval(COUNT_PREFIXED, 1, queue.toKey('active'), `${name}.`)) as number;
}

/**
 * The reason BullMQ recorded for a shard it failed without the worker's knowledge (a shard whose
 * workers kept dying is failed by the stalled check, a forged entry by the worker), or undefined
 * while the shard is still queued or in progress.
 */
async function bullFailure(redis: Redis, queue: Queue, name: string, index: number): Promise<string | undefined> {
  const id = shardJobId(name, index);
  const state = await queue.getJobState(id);
  if (state !== 'failed' && state !== 'unknown') return undefined;
  if (state === 'unknown') return 'no result, and no longer on the queue (removed by hand?)';
  const [reason] = await readBounded(redis, queue.toKey(id), ['failedReason'], 4 * LIMITS.reasonLength);
  return typeof reason === 'string' && reason ? storedReason(reason) : 'failed';
}

export async function jobStatus(redis: Redis, name: string): Promise<JobStatus> {
  const store = new JobStore(redis);
  const spec = await specOrThrow(store, name);
  const counters = await store.counters(spec);
  const settled = await store.settledCounts(name);
  const done = Math.min(settled.done, spec.shardCount);
  const failed = Math.min(settled.failed, spec.shardCount - done);
  const active = Math.min(await withQueue(redis, (queue) => activeShards(redis, queue, name)), spec.shardCount - done - failed);
  const waiting = spec.shardCount - done - failed - active;
  const finished = done + failed >= spec.shardCount;
  const elapsed = counters.startedAt !== undefined && counters.lastDoneAt !== undefined ? (counters.lastDoneAt - counters.startedAt) / 1000 : 0;
  const rate = elapsed > 0 ? counters.doneInputs / elapsed : undefined;
  const failedInputs = finished ? spec.inputCount - counters.doneInputs : 0;
  return {
    name,
    state: counters.state === 'cancelled' ? 'cancelled' : finished ? 'finished' : done + active > 0 ? 'running' : 'queued',
    shards: { total: spec.shardCount, done, active, failed, waiting },
    inputs: { total: spec.inputCount, done: counters.doneInputs, failed: Math.min(spec.inputCount, counters.rowFailures + failedInputs) },
    inputsPerSecond: rate,
    etaSeconds: rate && !finished ? (spec.inputCount - counters.doneInputs) / rate : undefined,
    model: spec.model,
    level: spec.level,
    threshold: spec.threshold,
    createdAt: new Date(spec.createdAt).toISOString(),
  };
}

/**
 * Checks that every shard has a result or a final failure (its own, or BullMQ's); throws naming how
 * much is left otherwise. Reads a chunk of shards at a time, whatever the job's size.
 */
export async function checkFinished(redis: Redis, name: string): Promise<JobSpec> {
  const store = new JobStore(redis);
  const spec = await specOrThrow(store, name);
  if (await store.isCancelled(name)) throw new QueueError(`job ${name} was cancelled`);
  let done = 0;
  let pending = 0;
  await withQueue(redis, async (queue) => {
    for (let start = 0; start < spec.shardCount; start += CHUNK) {
      const count = Math.min(CHUNK, spec.shardCount - start);
      const settled = await store.settled(spec, start, count);
      for (let k = 0; k < count; k++) {
        if (settled.done[k]) done++;
        else if (!settled.failed[k] && (await bullFailure(redis, queue, name, start + k)) === undefined) pending++;
      }
    }
  });
  if (pending > 0) throw new JobPendingError(`job ${name} is not finished: ${done} of ${spec.shardCount} shards done, ${pending} still queued or in progress (see rcae queue status ${name})`);
  return spec;
}

/**
 * Every input's row, in input order, exactly one per input, for a finished job (see checkFinished).
 * A shard whose stored data is damaged gives FAILED rows (its inputs' names unknown when the shard
 * itself is damaged) and is reported through `onDamaged`; every other shard's rows are unaffected.
 */
export async function* collectRows(redis: Redis, spec: JobSpec, onDamaged: (message: string) => void): AsyncGenerator<CollectedRow> {
  const store = new JobStore(redis);
  const { name, threshold } = spec;
  const queue = new Queue(QUEUE_NAME, { connection: redis });
  try {
    for (let start = 0; start < spec.shardCount; start += CHUNK) {
      const count = Math.min(CHUNK, spec.shardCount - start);
      const [shards, results, failures] = await Promise.all([store.shards(spec, start, count), store.results(spec, start, count), store.failures(spec, start, count)]);
      for (let k = 0; k < count; k++) {
        const index = start + k;
        const offset = index * spec.shardSize;
        const shard = shards[k];
        let result = results[k];
        if (result instanceof StoredDataError) {
          onDamaged(result.message);
          result = undefined;
        }
        if (shard instanceof StoredDataError) {
          onDamaged(shard.message);
          const reason = `${shard.message} (${DAMAGED_HINT})`;
          for (let i = 0; i < shardCountOf(spec, index); i++) yield { input: '', index: offset + i, threshold, label: 'FAILED', reason };
          continue;
        }
        const why = result ? undefined : `shard ${index} failed: ${failures[k] ?? (await bullFailure(redis, queue, name, index)) ?? 'no result'}`;
        for (const [i, input] of shardInputs(shard).entries()) {
          const error = result?.errors[i];
          if (typeof error === 'number' || typeof error === 'string') {
            const value = Number(error);
            yield { input, index: offset + i, error: value, threshold, ...labelFor(value, threshold) };
          } else {
            yield { input, index: offset + i, threshold, label: 'FAILED', reason: why ?? result?.reasons[i] ?? 'not scored' };
          }
        }
      }
    }
  } finally {
    await queue.close();
  }
}

/** Stops a job: queued shards are taken off the queue; a shard in progress finishes and is ignored. */
export async function cancelJob(redis: Redis, name: string): Promise<{ removed: number }> {
  const store = new JobStore(redis);
  const spec = await specOrThrow(store, name);
  await store.cancel(name);
  return { removed: await removeShardJobs(redis, name, spec.shardCount) };
}

/**
 * Removes everything the job keeps in Redis. Refuses while shards are pending, unless cancelled or
 * forced; a job whose spec is damaged is removed whatever its state (its queue entries by scanning).
 */
export async function cleanJob(redis: Redis, name: string, force: boolean): Promise<void> {
  const store = new JobStore(redis);
  let spec: JobSpec | undefined;
  try {
    spec = await specOrThrow(store, name);
  } catch (err) {
    if (!(err instanceof StoredDataError)) throw err;
  }
  if (spec && !force && !(await store.isCancelled(name))) await checkFinished(redis, name);
  await removeShardJobs(redis, name, spec?.shardCount);
  await store.remove(name);
}

/** Takes the job's shards off the queue: `shardCount` of them, or every entry named NAME.* when it is unknown. */
export async function removeShardJobs(redis: Redis, name: string, shardCount: number | undefined): Promise<number> {
  return withQueue(redis, async (queue) => {
    let removed = 0;
    const remove = async (ids: string[]) => {
      // A shard in progress is locked and stays; its worker finds the job cancelled or gone.
      const codes = await Promise.all(ids.map((id) => queue.remove(id).catch(() => 0)));
      removed += codes.filter((c) => c === 1).length;
    };
    if (shardCount !== undefined) {
      for (let i = 0; i < shardCount; i += 100) await remove(Array.from({ length: Math.min(100, shardCount - i) }, (_, k) => shardJobId(name, i + k)));
      return removed;
    }
    // Job names hold no glob characters (checkJobName), so the pattern matches this job's entries only.
    const prefix = queue.toKey('');
    let cursor = '0';
    do {
      const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}${name}.*`, 'COUNT', 1000);
      cursor = next;
      await remove(found.map((key) => key.slice(prefix.length)).filter((id) => /^\d+$/.test(id.slice(name.length + 1))));
    } while (cursor !== '0');
    return removed;
  });
}
