// Submitting a job: enumerate the inputs into shards, store the job, enqueue one BullMQ job per
// shard under a stable id. Submitting the same content again (same inputs, model, threshold and
// shard size from the same directory) finds the existing job and enqueues only what is missing;
// the same name with different content is refused.

import { createHash } from 'node:crypto';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { SampleShape } from '../node/input-reader.js';
import { QueueError } from './connection.js';
import { enumerateShards, type Shard } from './manifest.js';
import { CHUNK, JobStore, QUEUE_NAME, shardJobId, type JobSpec } from './store.js';
import { checkJobName, checkSubmittable } from './stored.js';

export interface SubmitRequest {
  name?: string;
  inputs: readonly string[];
  cwd: string;
  /** Absolute path of the model file, and its SHA-256 (workers check theirs against it). */
  model: string;
  modelSha256: string;
  shape: SampleShape;
  level: string;
  threshold: number;
  shardSize: number;
  batch: number;
  attempts: number;
  /** First retry delay; doubles with each attempt. */
  backoffMs: number;
}

export interface SubmitOutcome {
  spec: JobSpec;
  /** False when an identical job was already there. */
  created: boolean;
  /** Shards offered to the queue by this call (on a resubmission: those without a result). */
  enqueued: number;
}

function fingerprintOf(cwd: string, modelSha256: string, threshold: number, shards: readonly Shard[]): string {
  const hash = createHash('sha256');
  hash.update(JSON.stringify({ cwd, modelSha256, threshold }));
  for (const s of shards) hash.update(JSON.stringify(s.runs));
  return hash.digest('hex');
}

async function enqueue(redis: Redis, spec: JobSpec, backoffMs: number, indices: readonly number[]): Promise<void> {
  const queue = new Queue(QUEUE_NAME, { connection: redis });
  try {
    for (let i = 0; i < indices.length; i += 500) {
      await queue.addBulk(indices.slice(i, i + 500).map((shard) => ({
        name: spec.name,
        data: { job: spec.name, shard },
        opts: {
          jobId: shardJobId(spec.name, shard),
          attempts: spec.attempts,
          backoff: { type: 'exponential', delay: backoffMs },
          // The result lives in the job's own hash; a failed shard stays for its reason.
          removeOnComplete: true,
          removeOnFail: false,
        },
      })));
    }
  } finally {
    await queue.close();
  }
}

export async function submitJob(redis: Redis, request: SubmitRequest): Promise<SubmitOutcome> {
  const shards = await enumerateShards(request.inputs, request.shape, request.shardSize);
  const { modelSha256 } = request;
  const fingerprint = fingerprintOf(request.cwd, modelSha256, request.threshold, shards);
  const name = checkJobName(request.name ?? `rcae-${fingerprint.slice(0, 12)}`);
  const spec: JobSpec = {
    name,
    cwd: request.cwd,
    model: request.model,
    modelSha256,
    level: request.level,
    threshold: request.threshold,
    batch: request.batch,
    shardSize: request.shardSize,
    shardCount: shards.length,
    inputCount: shards.reduce((n, s) => n + s.count, 0),
    attempts: request.attempts,
    fingerprint,
    createdAt: Date.now(),
  };
  checkSubmittable(spec, shards);
  const store = new JobStore(redis);
  const existing = await store.create(spec, shards);
  if (!existing) {
    await enqueue(redis, spec, request.backoffMs, shards.map((s) => s.index));
    return { spec, created: true, enqueued: shards.length };
  }
  if (existing.fingerprint !== fingerprint) {
    throw new QueueError(`job ${name} already exists with other inputs, model or threshold; pick another --name, or remove it with rcae queue clean ${name}`);
  }
  if (await store.isCancelled(name)) throw new QueueError(`job ${name} was cancelled; remove it with rcae queue clean ${name} before submitting it again`);
  // A resubmission (perhaps after an interrupted submit): enqueue the shards that have no result.
  // Shards still on the queue keep their BullMQ job, since adding an existing id changes nothing.
  const missing: number[] = [];
  for (let start = 0; start < existing.shardCount; start += CHUNK) {
    const { done } = await store.settled(existing, start, Math.min(CHUNK, existing.shardCount - start));
    done.forEach((d, k) => d || missing.push(start + k));
  }
  await enqueue(redis, existing, request.backoffMs, missing);
  return { spec: existing, created: false, enqueued: missing.length };
}
