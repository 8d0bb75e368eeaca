// Looking after submitted jobs: progress, the rows of a finished job in input order, cancelling,
// and removing a job's keys once it is no longer needed.

import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { labelFor, type Label } from '../detect/label.js';
import { QueueError } from './connection.js';
import { shardInputs } from './manifest.js';
import { inChunks, JobStore, QUEUE_NAME, shardJobId, type JobSpec } from './store.js';

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

async function specOrThrow(store: JobStore, name: string): Promise<JobSpec> {
  const spec = await store.spec(name);
  if (!spec) throw new QueueError(`no job named ${name} in this Redis (never submitted, or removed)`);
  return spec;
}

function withQueue<T>(redis: Redis, use: (queue: Queue) => Promise<T>): Promise<T> {
  const queue = new Queue(QUEUE_NAME, { connection: redis });
  return use(queue).finally(() => queue.close());
}

/**
 * Final failures BullMQ recorded without the worker's knowledge (a shard whose workers kept dying
 * is failed by the stalled check), for the shards that have neither a result nor a stored failure.
 */
async function bullFailures(queue: Queue, name: string, shards: Iterable<number>): Promise<{ failed: Map<number, string>; pending: number }> {
  const failed = new Map<number, string>();
  let pending = 0;
  for (const index of shards) {
    const job = await queue.getJob(shardJobId(name, index));
    if (job && (await job.getState()) === 'failed') failed.set(index, job.failedReason || 'failed');
    else pending++;
  }
  return { failed, pending };
}

export async function jobStatus(redis: Redis, name: string): Promise<JobStatus> {
  const store = new JobStore(redis);
  const spec = await specOrThrow(store, name);
  const counters = await store.counters(name);
  const done = await store.doneShards(name);
  const failed = (await store.failures(name)).size;
  const active = await withQueue(redis, async (queue) => (await queue.getActive()).filter((j) => j.name === name).length);
  const waiting = Math.max(0, spec.shardCount - done - failed - active);
  const finished = done + failed >= spec.shardCount;
  const elapsed = counters.startedAt !== undefined && counters.lastDoneAt !== undefined ? (counters.lastDoneAt - counters.startedAt) / 1000 : 0;
  const rate = elapsed > 0 ? counters.doneInputs / elapsed : undefined;
  const failedInputs = finished ? spec.inputCount - counters.doneInputs : 0;
  return {
    name,
    state: counters.state === 'cancelled' ? 'cancelled' : finished ? 'finished' : done + active > 0 ? 'running' : 'queued',
    shards: { total: spec.shardCount, done, active, failed, waiting },
    inputs: { total: spec.inputCount, done: counters.doneInputs, failed: counters.rowFailures + failedInputs },
    inputsPerSecond: rate,
    etaSeconds: rate && !finished ? (spec.inputCount - counters.doneInputs) / rate : undefined,
    model: spec.model,
    level: spec.level,
    threshold: spec.threshold,
    createdAt: new Date(spec.createdAt).toISOString(),
  };
}

/**
 * Checks that every shard has a result or a final failure and returns the failures' reasons;
 * throws naming how much is left otherwise.
 */
export async function finishedFailures(redis: Redis, name: string): Promise<Map<number, string>> {
  const store = new JobStore(redis);
  const spec = await specOrThrow(store, name);
  if (await store.isCancelled(name)) throw new QueueError(`job ${name} was cancelled`);
  const failures = await store.failures(name);
  const done = await store.doneShardIndices(name);
  const open = Array.from({ length: spec.shardCount }, (_, i) => i).filter((i) => !done.has(i) && !failures.has(i));
  if (open.length === 0) return failures;
  const { failed, pending } = await withQueue(redis, (queue) => bullFailures(queue, name, open));
  if (pending > 0) throw new JobPendingError(`job ${name} is not finished: ${done.size} of ${spec.shardCount} shards done, ${pending} still queued or in progress (see rcae queue status ${name})`);
  for (const [i, reason] of failed) failures.set(i, reason);
  return failures;
}

/** Every input's row, in input order, exactly one per input. The job must be finished. */
export async function* collectRows(redis: Redis, name: string, failures: Map<number, string>): AsyncGenerator<CollectedRow> {
  const store = new JobStore(redis);
  const spec = await specOrThrow(store, name);
  const threshold = spec.threshold;
  let index = 0;
  for await (const { start, items: shards } of inChunks(spec.shardCount, (s, n) => store.shards(name, s, n))) {
    const results = await store.results(name, start, shards.length);
    for (const [k, shard] of shards.entries()) {
      if (shard.offset !== index) throw new QueueError(`job ${name}: shard ${shard.index} starts at input ${shard.offset}, expected ${index}`);
      const inputs = shardInputs(shard);
      const result = results[k];
      for (const [i, input] of inputs.entries()) {
        const error = result?.errors[i];
        if (result && (typeof error === 'number' || typeof error === 'string')) {
          const value = Number(error);
          yield { input, index, error: value, threshold, ...labelFor(value, threshold) };
        } else {
          const reason = result ? result.reasons[i] ?? 'not scored' : `shard ${shard.index} failed: ${failures.get(shard.index) ?? 'no result'}`;
          yield { input, index, threshold, label: 'FAILED', reason };
        }
        index++;
      }
    }
  }
  if (index !== spec.inputCount) throw new QueueError(`job ${name}: ${index} rows for ${spec.inputCount} inputs`);
}

/** Stops a job: queued shards are taken off the queue; a shard in progress finishes and is ignored. */
export async function cancelJob(redis: Redis, name: string): Promise<{ removed: number }> {
  const store = new JobStore(redis);
  const spec = await specOrThrow(store, name);
  await store.cancel(name);
  return { removed: await removeShardJobs(redis, spec) };
}

/** Removes everything the job keeps in Redis. Refuses while shards are pending, unless cancelled or forced. */
export async function cleanJob(redis: Redis, name: string, force: boolean): Promise<void> {
  const store = new JobStore(redis);
  const spec = await specOrThrow(store, name);
  if (!force && !(await store.isCancelled(name))) await finishedFailures(redis, name);
  await removeShardJobs(redis, spec);
  await store.remove(name);
}

async function removeShardJobs(redis: Redis, spec: JobSpec): Promise<number> {
  return withQueue(redis, async (queue) => {
    let removed = 0;
    for (let i = 0; i < spec.shardCount; i += 100) {
      const ids = Array.from({ length: Math.min(100, spec.shardCount - i) }, (_, k) => shardJobId(spec.name, i + k));
      // A shard in progress is locked and stays; its worker finds the job cancelled or gone.
      const codes = await Promise.all(ids.map((id) => queue.remove(id).catch(() => 0)));
      removed += codes.filter((c) => c === 1).length;
    }
    return removed;
  });
}
